"""Data formats: .bin verification sets, image folders, RecordIO, pair lists."""

from clusterface.data.bin_set import BinFormatError, VerificationBin, load_bin, loads_bin, save_bin
from clusterface.data.convert import convert_dataset, folder_to_recordio, recordio_to_folder
from clusterface.data.decode import (
    IMAGE_EXTENSIONS,
    IMAGE_SIZE,
    ImageDecodeError,
    decode_face,
    decode_image,
    is_image_file,
    read_face,
)
from clusterface.data.face_dataset import BadFilePolicy, FaceDataset, TooManyBadFilesError
from clusterface.data.image_folder import (
    FolderIndex,
    ImageFolderDataset,
    LabelMapError,
    index_image_folder,
    load_label_map,
    save_label_map,
)
from clusterface.data.pairs import (
    Pair,
    PairList,
    PairsFormatError,
    load_verification_set,
    pairs_to_bin,
    read_pairs,
)
from clusterface.data.recordio import (
    IndexedRecordIO,
    RecordHeader,
    RecordIOError,
    RecordIOWriter,
    pack_record,
    read_index,
    unpack_record,
)
from clusterface.data.recordio_dataset import RecordIODataset, detect_layout
from clusterface.data.scan import ScanReport, scan_path

__all__ = [
    "IMAGE_EXTENSIONS",
    "IMAGE_SIZE",
    "BadFilePolicy",
    "BinFormatError",
    "FaceDataset",
    "FolderIndex",
    "ImageDecodeError",
    "ImageFolderDataset",
    "IndexedRecordIO",
    "LabelMapError",
    "Pair",
    "PairList",
    "PairsFormatError",
    "RecordHeader",
    "RecordIODataset",
    "RecordIOError",
    "RecordIOWriter",
    "ScanReport",
    "TooManyBadFilesError",
    "VerificationBin",
    "convert_dataset",
    "decode_face",
    "decode_image",
    "detect_layout",
    "folder_to_recordio",
    "index_image_folder",
    "is_image_file",
    "load_bin",
    "load_label_map",
    "load_verification_set",
    "loads_bin",
    "pack_record",
    "pairs_to_bin",
    "read_face",
    "read_index",
    "read_pairs",
    "recordio_to_folder",
    "save_bin",
    "save_label_map",
    "scan_path",
    "unpack_record",
]
