"""Confidence intervals over seeds: Student-t interval of a mean, paired difference to a baseline.

An ablation study repeats each row over a few seeds. With so few samples the interval of the
mean uses Student's t with ``n − 1`` degrees of freedom (``scipy.stats.t``), and rows are
compared *paired by seed* (every row of a seed sees the same data order and initial weights), so
the seed-to-seed spread that all rows share cancels in the difference.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

#: The verdict where the paired interval contains 0 (the text never says "better" there).
NO_DIFFERENCE = "no detectable difference"


@dataclass(frozen=True)
class Interval:
    """Mean of ``n`` values with its two-sided confidence interval [low, high] (NaN when n < 2)."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float = 0.95

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2.0

    def contains(self, value: float) -> bool:
        """True when ``value`` lies in the interval (also when the interval is undefined)."""
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return True
        return self.low <= value <= self.high

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def t_interval(values: Sequence[float] | np.ndarray, confidence: float = 0.95) -> Interval:
    """Mean ± t_{(1+c)/2, n−1} · s/√n of the finite ``values`` (s: sample standard deviation, ddof=1).

    Non-finite values (a metric a cell could not measure) are left out; with fewer than two values
    the bounds are NaN.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, confidence)
    mean = float(x.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, n, confidence)
    sem = float(x.std(ddof=1)) / math.sqrt(n)
    half = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1)) * sem
    return Interval(mean, mean - half, mean + half, n, confidence)


@dataclass(frozen=True)
class PairedDifference:
    """row − baseline over the seeds both have: interval of the mean difference, seeds won / lost."""

    interval: Interval
    wins: int
    losses: int
    seeds: tuple[int, ...]

    @property
    def verdict(self) -> str:
        """'wins' / 'loses' when the interval excludes 0, else 'no detectable difference'."""
        return verdict(self.interval)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.interval.to_dict(),
            "wins": self.wins,
            "losses": self.losses,
            "seeds": list(self.seeds),
            "verdict": self.verdict,
        }


def paired_difference(
    row: Mapping[int, float], baseline: Mapping[int, float], confidence: float = 0.95
) -> PairedDifference:
    """Per seed ``row[s] − baseline[s]`` over the seeds where both are finite; its t interval and win count."""
    seeds = tuple(
        sorted(s for s in row if s in baseline and math.isfinite(float(row[s])) and math.isfinite(float(baseline[s])))
    )
    diffs = np.array([float(row[s]) - float(baseline[s]) for s in seeds], dtype=np.float64)
    return PairedDifference(
        interval=t_interval(diffs, confidence),
        wins=int((diffs > 0).sum()),
        losses=int((diffs < 0).sum()),
        seeds=seeds,
    )


def verdict(diff: Interval) -> str:
    """Plain wording of a difference interval (higher is better): wins / loses / no detectable difference."""
    if diff.n < 2:
        return f"{NO_DIFFERENCE} (fewer than 2 paired seeds)" if diff.n else "not measured"
    if diff.low > 0:
        return "wins"
    if diff.high < 0:
        return "loses"
    return NO_DIFFERENCE
