"""Progress and metrics on rank 0: a tqdm bar (plain lines when stdout is not a terminal), TensorBoard, metrics.json."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm


def _fmt(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else str(value)


class TrainLogger:
    """Shows progress and records scalars; a no-op on ranks other than 0 (``enabled=False``).

    ``step(...)`` takes the step's scalars (loss parts, lr, throughput, ...); every scalar goes to
    TensorBoard every ``log_every`` steps under ``train/<name>``; the bar (or a plain line) shows a
    short selection. ``metrics.json`` holds the history of the logged scalars and evaluations.
    """

    SHOWN = ("loss", "cls", "scc", "align", "lr", "img_per_s", "data_wait")

    def __init__(
        self,
        out_dir: Path | None,
        total_steps: int,
        *,
        start_step: int = 0,
        enabled: bool = True,
        progress: bool = True,
        log_every: int = 20,
        stream: TextIO | None = None,
    ):
        self.enabled, self.log_every = enabled, log_every
        self.stream = stream or sys.stdout
        self.out_dir = out_dir
        self.history: list[dict[str, Any]] = []
        self.evaluations: list[dict[str, Any]] = []
        self.summary: dict[str, Any] = {}
        self._writer: Any = None
        self._bar: tqdm | None = None
        self._plain = progress and not (hasattr(self.stream, "isatty") and self.stream.isatty())
        if not enabled:
            return
        if out_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(out_dir / "tb"))
        if progress and not self._plain:
            self._bar = tqdm(total=total_steps, initial=start_step, desc="train", dynamic_ncols=True, file=self.stream)

    def step(self, step: int, scalars: dict[str, float], epoch: float) -> None:
        """Record the scalars of finished global step ``step`` (1-based)."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(step - self._bar.n)
            if step % max(1, self.log_every // 4) == 0:
                self._bar.set_postfix_str(self._short(scalars), refresh=False)
        if step % self.log_every == 0:
            self.history.append({"step": step, "epoch": round(epoch, 4), **scalars})
            if self._writer is not None:
                for name, value in scalars.items():
                    self._writer.add_scalar(f"train/{name}", value, step)
            if self._plain:
                print(f"step {step} epoch {epoch:.2f} {self._short(scalars)}", file=self.stream, flush=True)

    def evaluation(self, step: int, epoch: float, results: dict[str, float]) -> None:
        if not self.enabled:
            return
        self.evaluations.append({"step": step, "epoch": round(epoch, 4), **results})
        if self._writer is not None:
            for name, value in results.items():
                if isinstance(value, int | float):
                    self._writer.add_scalar(f"eval/{name}", value, step)
        text = " ".join(f"{k}={_fmt(float(v))}" for k, v in results.items() if isinstance(v, int | float))
        self.message(f"eval step {step} epoch {epoch:.2f}: {text}")

    def message(self, text: str) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def _short(self, scalars: dict[str, float]) -> str:
        return " ".join(f"{k}={_fmt(scalars[k])}" for k in self.SHOWN if k in scalars)

    def write_metrics(self) -> None:
        """Write ``metrics.json`` atomically (history, evaluations, summary)."""
        if not self.enabled or self.out_dir is None:
            return
        path = self.out_dir / "metrics.json"
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        data = {"summary": self.summary, "evaluations": self.evaluations, "history": self.history}
        tmp.write_text(json.dumps(data, indent=1, default=float, allow_nan=True))
        os.replace(tmp, path)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
