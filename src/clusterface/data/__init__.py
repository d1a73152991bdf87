"""Data formats: .bin verification sets, image folders, RecordIO, pair lists."""

from clusterface.data.bin_set import BinFormatError, VerificationBin, load_bin, loads_bin, save_bin
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
    "RecordHeader",
    "RecordIODataset",
    "RecordIOError",
    "RecordIOWriter",
    "TooManyBadFilesError",
    "VerificationBin",
    "decode_face",
    "decode_image",
    "detect_layout",
    "index_image_folder",
    "is_image_file",
    "load_bin",
    "load_label_map",
    "loads_bin",
    "pack_record",
    "read_face",
    "read_index",
    "save_bin",
    "save_label_map",
    "unpack_record",
]
