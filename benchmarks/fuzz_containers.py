"""Seeded mutation fuzzer for the container readers: RecordIO ``.rec`` / ``.idx`` and ``.bin`` sets.

Each input is a small valid file (an insightface-layout ``.rec`` whose payloads hold the RecordIO
magic, so records are split into continuation chunks; a ``.bin`` pickled with protocols 2 and 4)
mutated by a few seeded operations: flipped bits and bytes, truncation, wrong magic, chunk
lengths past the end of the file or near 2^29, continuation flags rewritten (so chunks claim to
continue forever or start mid-record), ``.idx`` offsets and keys rewritten, huge or negative
numbers, garbage lines, pickle opcodes with huge declared lengths. Every reader entry point then
runs on it (``IndexedRecordIO`` iteration, ``unpack_record``, ``scalar_labels``, ``detect_layout``,
``read_record_labels``, ``scan_offsets``, ``RecordIODataset``; ``load_bin``).

The only acceptable outcomes are success or one of the project's own errors
(``RecordIOError``, ``BinFormatError``) whose message names the file; anything else (another
exception type, a message without the file name, a hang past ``--timeout`` seconds, an
interpreter crash, or memory beyond ``--memory-mb``: the worker runs under ``RLIMIT_AS``) is a
failure, printed with the seed that reproduces it.

    PYTHONPATH=src .venv/bin/python benchmarks/fuzz_containers.py --seconds 180 --seed 0

The suite runs :func:`fuzz` on a few hundred inputs (tests/data/test_reliability_fuzz.py).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import pickle
import re
import resource
import signal
import struct
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from clusterface.data.bin_set import BinFormatError, load_bin
from clusterface.data.recordio import (
    _MAGIC_BYTES,
    IndexedRecordIO,
    RecordIOError,
    encode_record,
    pack_record,
    scan_offsets,
    unpack_record,
)
from clusterface.data.recordio_dataset import RecordIODataset, detect_layout, read_record_labels

PROJECT_ERRORS = (RecordIOError, BinFormatError)


def seed_recordio() -> tuple[bytes, bytes]:
    """A valid insightface-layout ``.rec`` + ``.idx``: 6 images of 3 identities, some split records."""
    payloads: dict[int, bytes] = {}
    labels = [0, 0, 1, 1, 2, 2]
    for i, label in enumerate(labels, start=1):
        # image bytes with the magic word at aligned and unaligned positions -> continuation chunks
        image = b"\xff\xd8\xff" + bytes(range(i, i + 9)) + _MAGIC_BYTES * (i % 3) + b"ab" + _MAGIC_BYTES + b"\xff\xd9"
        payloads[i] = pack_record(float(label), image, id=i)
    n = len(labels)
    payloads[0] = pack_record([n + 1, n + 1 + 3], b"")
    for k in range(3):
        payloads[n + 1 + k] = pack_record([1 + 2 * k, 3 + 2 * k], b"")
    rec = bytearray()
    idx_lines = []
    for key in sorted(payloads):
        idx_lines.append(f"{key}\t{len(rec)}\n")
        rec += encode_record(payloads[key])
    return bytes(rec), "".join(idx_lines).encode()


def seed_bins() -> list[bytes]:
    """Valid ``.bin`` pickles: protocol 4 (Python 3) and protocol 2 (bytes via ``_codecs.encode``)."""
    images = [b"\xff\xd8\xff" + bytes([i]) * 7 for i in range(4)]
    issame = [True, False]
    return [pickle.dumps((images, issame), protocol=4), pickle.dumps((images, issame), protocol=2)]


# ------------------------------------------------------------------------------------------ mutations


def _chunk_positions(rec: bytes) -> list[int]:
    return [m.start() for m in re.finditer(re.escape(_MAGIC_BYTES), rec) if m.start() % 4 == 0]


def mutate_rec(rec: bytes, rng: np.random.Generator) -> bytes:
    data = bytearray(rec)
    op = int(rng.integers(10))
    chunks = _chunk_positions(rec) or [0]
    at = int(rng.choice(chunks))
    if op == 0 and data:  # flip one bit
        i = int(rng.integers(len(data)))
        data[i] ^= 1 << int(rng.integers(8))
    elif op == 1 and data:  # random bytes
        for _ in range(int(rng.integers(1, 8))):
            data[int(rng.integers(len(data)))] = int(rng.integers(256))
    elif op == 2:  # truncate
        del data[int(rng.integers(len(data) + 1)) :]
    elif op == 3 and at + 4 <= len(data):  # wrong magic
        data[at : at + 4] = rng.bytes(4)
    elif op in (4, 5) and at + 8 <= len(data):  # length past the end / huge, flags kept
        lrec = struct.unpack_from("<I", data, at + 4)[0]
        length = len(data) + int(rng.integers(1, 64)) if op == 4 else (1 << 29) - 1 - int(rng.integers(16))
        struct.pack_into("<I", data, at + 4, (lrec & ~((1 << 29) - 1)) | length)
    elif op == 6 and at + 8 <= len(data):  # continuation flag rewritten (cycles, starts mid-record)
        lrec = struct.unpack_from("<I", data, at + 4)[0]
        struct.pack_into("<I", data, at + 4, (int(rng.integers(8)) << 29) | (lrec & ((1 << 29) - 1)))
    elif op == 7 and at + 8 <= len(data):  # duplicate a chunk header somewhere else
        j = int(rng.integers(len(data) // 4 + 1)) * 4
        data[j:j] = data[at : at + 8]
    elif op == 8:  # every chunk says "middle of a record"
        for c in chunks:
            if c + 8 <= len(data):
                lrec = struct.unpack_from("<I", data, c + 4)[0]
                struct.pack_into("<I", data, c + 4, (2 << 29) | (lrec & ((1 << 29) - 1)))
    elif op == 9 and at + 40 <= len(data):  # a label (scalar, or first / second of an array) rewritten
        value = [1e30, 2.0**24, 2.0**31, float("nan"), -1.0, 1e9, 7.5, 3.0][int(rng.integers(8))]
        struct.pack_into("<f", data, at + [12, 32, 36][int(rng.integers(3))] - (4 if rng.random() < 0.3 else 0), value)
    return bytes(data)


def mutate_idx(idx: bytes, rec_size: int, rng: np.random.Generator) -> bytes:
    lines = idx.decode("latin1").splitlines(keepends=True)
    op = int(rng.integers(8))
    i = int(rng.integers(len(lines))) if lines else 0
    if op == 0 and lines:  # offset anywhere (unaligned, past the end)
        lines[i] = f"{lines[i].split(chr(9))[0]}\t{int(rng.integers(rec_size + 64))}\n"
    elif op == 1 and lines:  # huge / negative numbers
        key, _, off = lines[i].partition("\t")
        big = [2**31, 2**63 - 1, 2**64, 10**30, -1, -(2**63)][int(rng.integers(6))]
        lines[i] = f"{key}\t{big}\n" if rng.random() < 0.5 else f"{big}\t{off}"
    elif op == 2 and lines:  # duplicate or drop a line
        if rng.random() < 0.5:
            lines.insert(i, lines[i])
        else:
            del lines[i]
    elif op == 3:  # garbage line
        lines.insert(i, rng.bytes(int(rng.integers(1, 12))).decode("latin1") + "\n")
    elif op == 4:  # truncate the text
        text = "".join(lines)
        return text[: int(rng.integers(len(text) + 1))].encode("latin1")
    elif op == 5 and lines:  # a huge key (sparse lookup) or a key far from the rest
        off = lines[i].partition("\t")[2]
        lines[i] = f"{[2**40, 10**9, 7 * 10**6][int(rng.integers(3))]}\t{off}"
    elif op == 6:  # CRLF / spaces (slow parser path)
        return "".join(lines).replace("\t", " ").replace("\n", "\r\n").encode("latin1")
    elif op == 7:  # flip a byte
        raw = bytearray("".join(lines).encode("latin1"))
        if raw:
            raw[int(rng.integers(len(raw)))] = int(rng.integers(256))
        return bytes(raw)
    return "".join(lines).encode("latin1")


_PICKLE_HUGE = [
    b"B\xff\xff\xff\x7f",  # BINBYTES 2 GiB
    b"\x8e" + struct.pack("<Q", 1 << 40),  # BINBYTES8 1 TiB
    b"\x8d" + struct.pack("<Q", 1 << 40),  # BINUNICODE8
    b"X\xff\xff\xff\xff",  # BINUNICODE 4 GiB
    b"\x96" + struct.pack("<Q", 1 << 40),  # BYTEARRAY8
    b"\x95" + struct.pack("<Q", 1 << 40),  # FRAME 1 TiB
    b"T\xff\xff\xff\xff",  # BINSTRING
    b"r" + struct.pack("<I", 0xFFFFFFF0),  # LONG_BINPUT: a memo index of 4 billion
    b"j" + struct.pack("<I", 0x7FFFFFFF),  # LONG_BINGET of an index never stored
]


def mutate_bin(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    op = int(rng.integers(5))
    i = int(rng.integers(len(out) + 1))
    if op == 0 and out:
        out[min(i, len(out) - 1)] ^= 1 << int(rng.integers(8))
    elif op == 1:
        del out[i:]
    elif op == 2:  # an opcode with a huge declared length
        out[i:i] = _PICKLE_HUGE[int(rng.integers(len(_PICKLE_HUGE)))]
    elif op == 3 and out:
        for _ in range(int(rng.integers(1, 6))):
            out[int(rng.integers(len(out)))] = int(rng.integers(256))
    elif op == 4:  # random opcode bytes spliced in
        out[i:i] = rng.bytes(int(rng.integers(1, 10)))
    return bytes(out)


# ------------------------------------------------------------------------------------------ running


def exercise_recordio(rec_path: Path, idx_path: Path) -> None:
    """Every reader entry point on one pair; raises whatever they raise."""
    try:
        scan_offsets(rec_path)
    except RecordIOError:
        pass
    reader = IndexedRecordIO(rec_path, idx_path)
    try:
        for key, payload in reader:
            try:
                unpack_record(payload, f"{rec_path}: record {key}")
            except RecordIOError:
                pass
        reader.scalar_labels(reader.keys)
        layout = detect_layout(reader)
        read_record_labels(reader, layout)
        RecordIODataset(rec_path, idx_path)
    finally:
        reader.close()


@dataclass
class FuzzResult:
    inputs: int = 0
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # normalised project error messages
    failures: list[str] = field(default_factory=list)  # anything else, with the seed

    @property
    def distinct_errors(self) -> int:
        return len(self.errors)

    def add(self, outcome: str, detail: str) -> None:
        """Count one input's outcome ("ok", "error" with its normalised message, or a failure)."""
        self.inputs += 1
        if outcome == "ok":
            self.ok += 1
        elif outcome == "error":
            self.errors[detail] += 1
        else:
            self.failures.append(detail)


def _normalise(message: str, folder: str) -> str:
    message = message.replace(folder, "<dir>")
    return re.sub(r"0x[0-9a-f]+|-?\d+(\.\d+)?(e[+-]?\d+)?", "N", message)[:160]


def run_one(kind: str, seed: int, folder: Path) -> tuple[str, str]:
    """Build input ``seed`` of ``kind`` ("rec" / "bin") in ``folder`` and run it.

    Returns ("ok", "") / ("error", normalised message) / ("failure", description)."""
    rng = np.random.default_rng([seed, 0 if kind == "rec" else 1])
    named = (str(folder / "f.rec"), str(folder / "f.idx"), str(folder / "f.bin"))
    try:
        if kind == "rec":
            rec, idx = seed_recordio()
            for _ in range(int(rng.integers(1, 4))):
                if rng.random() < 0.6:
                    rec = mutate_rec(rec, rng)
                else:
                    idx = mutate_idx(idx, len(rec), rng)
            rec_path, idx_path = folder / "f.rec", folder / "f.idx"
            rec_path.write_bytes(rec)
            idx_path.write_bytes(idx)
            exercise_recordio(rec_path, idx_path)
        else:
            seeds = seed_bins()
            data = seeds[int(rng.integers(len(seeds)))]
            for _ in range(int(rng.integers(1, 4))):
                data = mutate_bin(data, rng)
            bin_path = folder / "f.bin"
            bin_path.write_bytes(data)
            load_bin(bin_path)
    except PROJECT_ERRORS as err:
        if not any(n in str(err) for n in named):
            return "failure", f"{kind} seed {seed}: {type(err).__name__} without the file name: {err}"
        return "error", f"{type(err).__name__}: {_normalise(str(err), str(folder))}"
    except Exception as err:
        return "failure", f"{kind} seed {seed}: {type(err).__name__}: {str(err)[:300]}"
    return "ok", ""


def fuzz(kind: str, seeds: range, folder: Path) -> FuzzResult:
    """Run ``run_one`` for every seed in this process (the suite's quick version)."""
    result = FuzzResult()
    for seed in seeds:
        result.add(*run_one(kind, seed, folder))
    return result


# ------------------------------------------------------------------------------ long run (script)


def _on_alarm(signum: int, frame: object) -> None:
    raise TimeoutError("hang")


def _worker(kind: str, start: int, step: int, memory_mb: int, timeout: float, queue: mp.Queue) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
    signal.signal(signal.SIGALRM, _on_alarm)
    with tempfile.TemporaryDirectory() as tmp:
        seed = start
        while True:
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                outcome, detail = run_one(kind, seed, Path(tmp))
            except TimeoutError:
                outcome, detail = "failure", f"{kind} seed {seed}: hang (> {timeout} s)"
            except MemoryError:
                outcome, detail = "failure", f"{kind} seed {seed}: MemoryError under {memory_mb} MB"
            signal.setitimer(signal.ITIMER_REAL, 0)
            queue.put((seed, outcome, detail))
            seed += step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="wall-clock budget, split between .rec and .bin")
    parser.add_argument("--seed", type=int, default=0, help="first input seed")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds one input may take")
    parser.add_argument("--memory-mb", type=int, default=2048, help="address-space limit of a worker")
    args = parser.parse_args(argv)
    ctx = mp.get_context("fork")
    total_failures = 0
    for kind in ("rec", "bin"):
        queue: mp.Queue = ctx.Queue()
        procs = [
            ctx.Process(target=_worker, args=(kind, args.seed + w, args.workers, args.memory_mb, args.timeout, queue))
            for w in range(args.workers)
        ]
        for p in procs:
            p.start()
        result = FuzzResult()
        deadline = time.monotonic() + args.seconds / 2
        while time.monotonic() < deadline:
            try:
                _, outcome, detail = queue.get(timeout=max(args.timeout * 2, 1.0))
            except Exception:
                dead = [p for p in procs if not p.is_alive()]
                if dead:
                    result.failures.append(f"{kind}: worker died with exit code {dead[0].exitcode}")
                    break
                continue
            result.add(outcome, detail)
        for p in procs:
            if p.is_alive():
                p.kill()
            p.join()
            if p.exitcode not in (0, -signal.SIGKILL):
                result.failures.append(f"{kind}: worker exit code {p.exitcode} (interpreter crash)")
        total_failures += len(result.failures)
        print(
            f"{kind}: {result.inputs} inputs, {result.ok} read without error, "
            f"{result.inputs - result.ok - len(result.failures)} refused with a project error "
            f"({result.distinct_errors} distinct messages), {len(result.failures)} failures"
        )
        for message, count in result.errors.most_common(8):
            print(f"  {count:6d}  {message}")
        for failure in result.failures[:20]:
            print(f"  FAILURE {failure}")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, pid {os.getpid()}")
    return 1 if total_failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
