"""One writer per output: a lock file next to a run directory, dataset folder or ``.rec``.

``clusterface train`` / ``synth`` / ``data convert`` hold ``<parent>/.<name>.lock`` while they
write ``<parent>/<name>``. The lock is an exclusive ``flock`` on that file, which the kernel drops
when the holder dies (also on SIGKILL), so a lock left behind by a dead process on this machine is
taken over silently and a reused pid cannot fool it. The file also records who holds it
(``{"pid", "host", "command", "started"}``), for the refusal message. A lock recorded by another
host is refused even when it can be taken: a network file system may not share ``flock``
between machines, and whether that process still runs cannot be checked from here; the message
says which file to delete once it is known to be gone.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType


class OutputLockedError(FileExistsError):
    """Another process writes the same output; the message names it (pid, host) and the lock file."""


def lock_path_for(target: str | Path) -> Path:
    """``runs/a`` -> ``runs/.a.lock``; ``data/train.rec`` -> ``data/.train.rec.lock`` (outside the
    output itself, so replacing or renaming the output never touches the lock)."""
    target = Path(target).absolute()
    return target.parent / f".{target.name}.lock"


class OutputLock:
    """Context manager: exclusive ownership of ``target`` by this process (see module docstring)."""

    def __init__(self, target: str | Path, command: str) -> None:
        self.target = Path(target)
        self.path = lock_path_for(target)
        self.command = command
        self._fd: int | None = None

    def _holder(self) -> dict[str, object]:
        try:
            info = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return {}
        return info if isinstance(info, dict) else {}

    def _refuse(self, info: dict[str, object], why: str) -> OutputLockedError:
        who = f"process {info.get('pid', '?')} on host {info.get('host', '?')} ({info.get('command', '?')})"
        return OutputLockedError(
            f"{self.target} is being written by {who} since {info.get('started', '?')}: {why}; wait for it to "
            f"finish or choose another output (lock file {self.path})"
        )

    def acquire(self) -> OutputLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        host = socket.gethostname()
        for _ in range(10):  # retried only when the file is replaced between open and flock
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise self._refuse(self._holder(), "it holds the lock") from None
            try:
                same_file = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:  # the holder released (unlinked) it meanwhile
                same_file = False
            if not same_file:
                os.close(fd)
                continue
            info = self._holder()
            if info and info.get("host") not in (None, host):
                os.close(fd)
                raise self._refuse(
                    info,
                    "that host's processes cannot be checked from here; delete the lock file if that process is gone",
                )
            record = {"pid": os.getpid(), "host": host, "command": self.command, "started": time.strftime("%FT%T%z")}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(record).encode(), 0)
            self._fd = fd
            return self
        raise OutputLockedError(f"{self.path}: the lock file keeps being replaced; is another process starting?")

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # unlinked while still locked: nobody takes a dying lock
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
