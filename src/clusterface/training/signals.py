"""Graceful SIGINT/SIGTERM: note the signal, let the current step finish, checkpoint, then exit."""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType

#: Exit codes of ``clusterface train`` when stopped by a signal after checkpointing (128 + signal).
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class GracefulInterrupt:
    """Context manager that records SIGINT/SIGTERM instead of raising; restores the old handlers on exit.

    A second SIGINT while one is pending raises ``KeyboardInterrupt`` (the user insists). Outside
    the main thread signal handlers cannot be installed; the manager then does nothing.
    """

    def __init__(self, signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)):
        self.signals = signals
        self.received: signal.Signals | None = None
        self._old: dict[signal.Signals, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signal.Signals(signum)

    def __enter__(self) -> GracefulInterrupt:
        if threading.current_thread() is threading.main_thread():
            for s in self.signals:
                self._old[s] = signal.signal(s, self._handle)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for s, handler in self._old.items():
            signal.signal(s, handler)  # type: ignore[arg-type]
        self._old.clear()
