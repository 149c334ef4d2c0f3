"""Confidence intervals over problems: the percentile bootstrap of a mean and of a paired difference.

A benchmark score is a mean over problems, and the problems are the main source of
uncertainty (a different draw of problems gives a different score), so the intervals here
resample problems with replacement. A difference between two models on the same problems
is resampled in pairs, which is much tighter than comparing two separate intervals.
"""

from __future__ import annotations

import random


def bootstrap_mean(values: list[float], resamples: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """``{"mean", "low", "high", "n"}``: the mean of ``values`` and its percentile-bootstrap interval."""
    if not values:
        return {"mean": None, "low": None, "high": None, "n": 0}
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    tail = (1 - level) / 2
    low = means[int(tail * (resamples - 1))]
    high = means[int(round((1 - tail) * (resamples - 1)))]
    return {"mean": round(sum(values) / n, 6), "low": round(low, 6), "high": round(high, 6), "n": n}


def bootstrap_difference(after: list[float], before: list[float], **kwargs) -> dict:
    """The mean of ``after[i] - before[i]`` over paired problems, with its bootstrap interval."""
    if len(after) != len(before):
        raise ValueError(f"paired values differ in length: {len(after)} vs {len(before)}")
    return bootstrap_mean([a - b for a, b in zip(after, before)], **kwargs)


def excludes_zero(interval: dict) -> bool:
    """True when the interval lies entirely above or entirely below 0."""
    return interval["low"] is not None and (interval["low"] > 0 or interval["high"] < 0)
