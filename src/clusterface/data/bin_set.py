"""insightface ``.bin`` verification sets: ``pickle.dump((list_of_encoded_images, issame_list))``.

Images 2i and 2i+1 form pair i; ``issame[i]`` says whether they show the same identity.
A ``.bin`` file is a pickle from an untrusted source, so it is read with a restricted
unpickler that can build only bytes, lists, tuples and bools: a file that asks for any
other class (the way a malicious pickle runs code) is rejected with an error naming it.
Files written by Python 2 (insightface's originals) are read with ``encoding="bytes"``.
"""

from __future__ import annotations

import io
import os
import pickle
from dataclasses import dataclass
from pathlib import Path


class BinFormatError(ValueError):
    """A ``.bin`` file that is not a valid verification set; the message names the file."""


# Globals a legitimate .bin may reference: protocol-2 pickles from Python 3 spell bytes as
# _codecs.encode(str, "latin1"); nothing here can run code or touch the filesystem.
_ALLOWED_GLOBALS = {
    ("_codecs", "encode"),
    ("builtins", "bytes"),
    ("builtins", "bytearray"),
    ("__builtin__", "bytes"),
    ("__builtin__", "bytearray"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to load global {module}.{name}: a .bin verification set may only hold bytes, lists and bools"
        )


@dataclass(frozen=True)
class VerificationBin:
    """A verification set: encoded images (2 per pair) and one same/different label per pair."""

    images: list[bytes]
    issame: list[bool]

    def __len__(self) -> int:
        return len(self.issame)


def load_bin(path: str | Path) -> VerificationBin:
    """Read and validate a ``.bin`` verification set."""
    path = Path(path)
    if not path.is_file():
        raise BinFormatError(f"{path}: no such .bin file")
    try:
        with path.open("rb") as f:
            obj = _RestrictedUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as err:
        raise BinFormatError(f"{path}: not a valid .bin verification set ({err})") from err
    return _validate(obj, path)


def loads_bin(data: bytes, name: str = "<bytes>") -> VerificationBin:
    """Like :func:`load_bin` for an in-memory file."""
    try:
        obj = _RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as err:
        raise BinFormatError(f"{name}: not a valid .bin verification set ({err})") from err
    return _validate(obj, Path(name))


def _validate(obj: object, path: Path) -> VerificationBin:
    if not (isinstance(obj, tuple | list) and len(obj) == 2):
        raise BinFormatError(f"{path}: expected a pair (images, issame), got {type(obj).__name__}")
    images, issame = obj
    if not isinstance(images, list | tuple) or not isinstance(issame, list | tuple):
        raise BinFormatError(f"{path}: images and issame must be lists")
    if len(images) != 2 * len(issame):
        raise BinFormatError(
            f"{path}: {len(images)} images for {len(issame)} pairs; a .bin needs exactly 2 images per pair"
        )
    out_images: list[bytes] = []
    for i, img in enumerate(images):
        if isinstance(img, bytearray):
            img = bytes(img)
        if not isinstance(img, bytes):
            raise BinFormatError(f"{path}: image {i} is {type(img).__name__}, expected encoded bytes")
        out_images.append(img)
    out_same: list[bool] = []
    for i, s in enumerate(issame):
        if not isinstance(s, bool | int) or int(s) not in (0, 1):
            raise BinFormatError(f"{path}: issame[{i}] is {s!r}, expected a bool")
        out_same.append(bool(s))
    return VerificationBin(out_images, out_same)


def save_bin(path: str | Path, images: list[bytes], issame: list[bool]) -> Path:
    """Write a ``.bin`` set atomically (temporary file, fsync, rename)."""
    path = Path(path)
    if len(images) != 2 * len(issame):
        raise BinFormatError(f"{path}: {len(images)} images for {len(issame)} pairs; need 2 per pair")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        pickle.dump(([bytes(b) for b in images], [bool(s) for s in issame]), f, protocol=4)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path
