"""Data formats: .bin verification sets, image folders, RecordIO, pair lists."""

from clusterface.data.bin_set import BinFormatError, VerificationBin, load_bin, loads_bin, save_bin

__all__ = ["BinFormatError", "VerificationBin", "load_bin", "loads_bin", "save_bin"]
