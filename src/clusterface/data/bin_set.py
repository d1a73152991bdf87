"""insightface ``.bin`` verification sets: ``pickle.dump((list_of_encoded_images, issame_list))``.

Images 2i and 2i+1 form pair i; ``issame[i]`` says whether they show the same identity.
A ``.bin`` file is a pickle from an untrusted source. Before anything is unpickled, its opcodes
are walked without executing them: any opcode that builds objects (``INST``, ``OBJ``,
``NEWOBJ``, ``BUILD``, extensions, persistent ids), any global other than bytes / bytearray /
``_codecs.encode`` (how a malicious pickle reaches ``os.system``) and any declared length
longer than the file are refused, naming the file and the byte. The restricted unpickler then
maps the few allowed globals to stand-ins that accept only the arguments a real ``.bin`` uses
(``bytes(10**12)`` or a non-latin-1 codec is refused).
Files written by Python 2 (insightface's originals) are read with ``encoding="bytes"``.
"""

from __future__ import annotations

import io
import os
import pickle
import pickletools
from dataclasses import dataclass
from pathlib import Path


class BinFormatError(ValueError):
    """A ``.bin`` file that is not a valid verification set; the message names the file."""


def _bytes(*args: object) -> bytes:
    """``bytes`` as a pickle may call it: from bytes (or nothing), never from a size (``bytes(10**12)``
    would allocate whatever the file declares)."""
    if not args:
        return b""
    if len(args) == 1 and isinstance(args[0], bytes | bytearray):
        return bytes(args[0])
    if len(args) == 2 and isinstance(args[0], str) and args[1] in _LATIN1:  # Python 2 style bytearray(str, enc)
        return args[0].encode("latin1")
    raise pickle.UnpicklingError(f"refusing bytes/bytearray({', '.join(type(a).__name__ for a in args)})")


def _bytearray(*args: object) -> bytearray:
    return bytearray(_bytes(*args))


def _codecs_encode(obj: object, encoding: object = "utf-8", errors: object = "strict") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles of bytes call it: a str to latin-1, nothing else
    (other codecs would let a file pick arbitrary transformations)."""
    if isinstance(obj, str) and encoding in _LATIN1 and errors == "strict":
        return obj.encode("latin1")
    raise pickle.UnpicklingError(f"refusing _codecs.encode({type(obj).__name__}, {encoding!r})")


_LATIN1 = ("latin1", "latin-1", "iso-8859-1")

# Globals a legitimate .bin may reference (protocol-2 pickles from Python 3 spell bytes as
# _codecs.encode(str, "latin1")), each mapped to a stand-in that accepts only those arguments.
_ALLOWED_GLOBALS: dict[tuple[str, str], object] = {
    ("_codecs", "encode"): _codecs_encode,
    ("builtins", "bytes"): _bytes,
    ("builtins", "bytearray"): _bytearray,
    ("__builtin__", "bytes"): _bytes,
    ("__builtin__", "bytearray"): _bytearray,
}

# Opcodes a .bin needs: protocol / framing, memo, lists, tuples, bools, ints, bytes and strings,
# and GLOBAL + REDUCE for the constructors above. Everything that builds arbitrary objects
# (INST, OBJ, NEWOBJ, BUILD, EXT*, persistent ids, out-of-band buffers) or containers a .bin
# never holds (dicts, sets) is refused before the unpickler runs.
_ALLOWED_OPCODES = frozenset(
    """PROTO FRAME STOP MARK POP POP_MARK DUP PUT BINPUT LONG_BINPUT MEMOIZE GET BINGET LONG_BINGET
    EMPTY_LIST LIST APPEND APPENDS EMPTY_TUPLE TUPLE TUPLE1 TUPLE2 TUPLE3 NONE NEWTRUE NEWFALSE
    INT BININT BININT1 BININT2 LONG LONG1 LONG4 FLOAT BINFLOAT
    STRING BINSTRING SHORT_BINSTRING BINBYTES SHORT_BINBYTES BINBYTES8 BYTEARRAY8
    UNICODE BINUNICODE SHORT_BINUNICODE BINUNICODE8 GLOBAL STACK_GLOBAL REDUCE""".split()
)


def _prescan(data: bytes) -> None:
    """Walk the opcodes without executing any (``pickletools.genops``): refuse opcodes outside
    :data:`_ALLOWED_OPCODES`, globals outside :data:`_ALLOWED_GLOBALS`, memo indices larger than
    the file or read before they are stored, and declared lengths (frames, bytes, strings) longer
    than the file, so nothing is allocated from a declared size."""
    memo: set[int] = set()
    try:
        for opcode, arg, pos in pickletools.genops(io.BytesIO(data)):
            if opcode.name not in _ALLOWED_OPCODES:
                raise pickle.UnpicklingError(f"refusing opcode {opcode.name} at byte {pos}: a .bin holds no objects")
            if opcode.name == "GLOBAL":
                module, _, name = str(arg).partition(" ")
                if (module, name) not in _ALLOWED_GLOBALS:
                    raise pickle.UnpicklingError(
                        f"refusing global {module}.{name} at byte {pos}: "
                        "a .bin verification set may only hold bytes, lists and bools"
                    )
            if opcode.name in ("PUT", "BINPUT", "LONG_BINPUT"):
                # the C unpickler sizes its memo table by the largest index: an index past the
                # file's length would allocate gigabytes from four bytes
                if not isinstance(arg, int) or not 0 <= arg <= len(data):
                    raise pickle.UnpicklingError(f"memo index {arg} at byte {pos} is larger than the file")
                memo.add(arg)
            elif opcode.name == "MEMOIZE":
                memo.add(len(memo))
            elif opcode.name in ("GET", "BINGET", "LONG_BINGET") and arg not in memo:
                raise pickle.UnpicklingError(f"memo index {arg} at byte {pos} was never stored")
            if opcode.name == "FRAME" and isinstance(arg, int) and arg > len(data) - (pos or 0):
                raise pickle.UnpicklingError(f"frame at byte {pos} declares {arg} bytes; the file has {len(data)}")
    except (ValueError, TypeError, OverflowError) as err:  # genops: truncated data, bad arguments
        raise pickle.UnpicklingError(str(err)) from err


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) in _ALLOWED_GLOBALS:
            return _ALLOWED_GLOBALS[(module, name)]
        raise pickle.UnpicklingError(
            f"refusing to load global {module}.{name}: a .bin verification set may only hold bytes, lists and bools"
        )

    def persistent_load(self, pid: object) -> object:
        raise pickle.UnpicklingError("refusing a persistent id: a .bin holds no external references")


def _unpickle(data: bytes, name: str | Path) -> object:
    """Pre-scan, then unpickle with the restricted unpickler; every failure is a BinFormatError."""
    try:
        _prescan(data)
        return _RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as err:
        raise BinFormatError(f"{name}: not a valid .bin verification set ({type(err).__name__}: {err})") from err


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
        data = path.read_bytes()
    except OSError as err:
        raise BinFormatError(f"{path}: cannot read ({err.strerror or err})") from err
    return _validate(_unpickle(data, path), path)


def loads_bin(data: bytes, name: str = "<bytes>") -> VerificationBin:
    """Like :func:`load_bin` for an in-memory file."""
    return _validate(_unpickle(bytes(data), name), Path(name))


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
        if not isinstance(s, bool | int) or int(s) not in (0, 1):  # type name only: repr of a nested list recurses
            shown = repr(s) if isinstance(s, int) else type(s).__name__
            raise BinFormatError(f"{path}: issame[{i}] is {shown[:40]}, expected a bool")
        out_same.append(bool(s))
    return VerificationBin(out_images, out_same)


def save_bin(path: str | Path, images: list[bytes], issame: list[bool]) -> Path:
    """Write a ``.bin`` set atomically (temporary file, fsync, rename)."""
    path = Path(path)
    if len(images) != 2 * len(issame):
        raise BinFormatError(f"{path}: {len(images)} images for {len(issame)} pairs; need 2 per pair")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("wb") as f:
            pickle.dump(([bytes(b) for b in images], [bool(s) for s in issame]), f, protocol=4)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # a failed write (full disk) leaves nothing behind
    return path
