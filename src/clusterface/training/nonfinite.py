"""Non-finite loss handling: skip the step, count it, abort after too many in a row."""

from __future__ import annotations


class NonFiniteLossError(RuntimeError):
    """Raised after ``max_consecutive`` non-finite steps in a row; the message names the step."""


class NonFiniteGuard:
    """Counts skipped steps. ``record(finite, step)`` returns ``finite``; raises after the limit."""

    def __init__(self, max_consecutive: int):
        self.max_consecutive = max_consecutive
        self.consecutive = 0
        self.total = 0

    def record(self, finite: bool, step: int) -> bool:
        if finite:
            self.consecutive = 0
            return True
        self.consecutive += 1
        self.total += 1
        if self.consecutive >= self.max_consecutive:
            raise NonFiniteLossError(
                f"non-finite loss or gradient at step {step}: {self.consecutive} consecutive non-finite steps "
                f"(runtime.max_consecutive_nonfinite={self.max_consecutive}); lower optim.lr, enable "
                f"optim.grad_clip, or check the data; no weights were updated by those steps"
            )
        return False

    def state_dict(self) -> dict[str, int]:
        return {"consecutive": self.consecutive, "total": self.total}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.consecutive, self.total = int(state["consecutive"]), int(state["total"])
