"""Data formats: .bin verification sets, image folders, RecordIO, pair lists.

Names are imported lazily (PEP 562): ``from clusterface.data.bin_set import save_bin`` or
``clusterface.data.load_bin`` does not import torch, which only the dataset classes need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clusterface.data.bin_set import BinFormatError, VerificationBin, load_bin, loads_bin, save_bin
    from clusterface.data.convert import convert_dataset, folder_to_recordio, recordio_to_folder
    from clusterface.data.decode import (
        IMAGE_EXTENSIONS,
        IMAGE_SIZE,
        ImageDecodeError,
        decode_face,
        decode_faces,
        decode_image,
        is_image_file,
        read_face,
        read_faces,
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
    from clusterface.data.pairs import Pair, PairList, PairsFormatError, load_verification_set, pairs_to_bin, read_pairs
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

_WHERE = {
    "IMAGE_EXTENSIONS": "decode",
    "IMAGE_SIZE": "decode",
    "BadFilePolicy": "face_dataset",
    "BinFormatError": "bin_set",
    "FaceDataset": "face_dataset",
    "FolderIndex": "image_folder",
    "ImageDecodeError": "decode",
    "ImageFolderDataset": "image_folder",
    "IndexedRecordIO": "recordio",
    "LabelMapError": "image_folder",
    "Pair": "pairs",
    "PairList": "pairs",
    "PairsFormatError": "pairs",
    "RecordHeader": "recordio",
    "RecordIODataset": "recordio_dataset",
    "RecordIOError": "recordio",
    "RecordIOWriter": "recordio",
    "ScanReport": "scan",
    "TooManyBadFilesError": "face_dataset",
    "VerificationBin": "bin_set",
    "convert_dataset": "convert",
    "decode_face": "decode",
    "decode_faces": "decode",
    "decode_image": "decode",
    "detect_layout": "recordio_dataset",
    "folder_to_recordio": "convert",
    "index_image_folder": "image_folder",
    "is_image_file": "decode",
    "load_bin": "bin_set",
    "load_label_map": "image_folder",
    "load_verification_set": "pairs",
    "loads_bin": "bin_set",
    "pack_record": "recordio",
    "pairs_to_bin": "pairs",
    "read_face": "decode",
    "read_faces": "decode",
    "read_index": "recordio",
    "read_pairs": "pairs",
    "recordio_to_folder": "convert",
    "save_bin": "bin_set",
    "save_label_map": "image_folder",
    "scan_path": "scan",
    "unpack_record": "recordio",
}

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
    "decode_faces",
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
    "read_faces",
    "read_index",
    "read_pairs",
    "recordio_to_folder",
    "save_bin",
    "save_label_map",
    "scan_path",
    "unpack_record",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"clusterface.data.{module}"), name)
