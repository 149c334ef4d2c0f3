"""File-to-file verification: problems + samples JSONL in, results JSONL out, resumable.

This is what ``tdrl verify`` calls. Results are appended in completion order, one flushed
line each; rerunning with the same ``--out`` skips every (problem_id, sample_id) already
there and cuts off a line torn by a crash, so nothing is lost or duplicated.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass, field
from pathlib import Path

from tdrl.execution.calibration import CalibrationCache, calibrate_all
from tdrl.execution.verifier import TimePolicy, Verifier
from tdrl.execution.worker import Limits
from tdrl.io import ResumableWriter, read_samples, read_usable_problems
from tdrl.records import Result


@dataclass
class VerifySummary:
    """Counts over one run (new results only) plus the skipped, already-done ones."""

    statuses: collections.Counter = field(default_factory=collections.Counter)
    test_statuses: collections.Counter = field(default_factory=collections.Counter)
    skipped: int = 0
    samples: int = 0
    pass_rate_sum: float = 0.0
    isolation: str = ""
    dropped: int = 0  # samples of problems whose tests could not be compiled (<out>.dropped.jsonl)
    sample_ms: list[float] = field(default_factory=list)  # each new result's wall time in the sandbox
    lower_bounds: int = 0  # results whose pass rate is a lower bound (tests left not_run)
    unknown: int = 0  # samples of problems not in the problems file, left out (skip_unknown)

    def add(self, r: Result) -> None:
        self.samples += 1
        self.statuses[r.status] += 1
        self.pass_rate_sum += r.pass_rate
        self.sample_ms.append(r.time_ms)
        self.lower_bounds += r.pass_rate_lower_bound
        for t in r.tests:
            self.test_statuses[t.status] += 1

    @property
    def mean_pass_rate(self) -> float:
        return self.pass_rate_sum / self.samples if self.samples else 0.0

    def latency_ms(self) -> dict[str, float]:
        """p50, p95 and max of the per-sample wall time (nearest-rank percentiles)."""
        return latency_summary(self.sample_ms)


def latency_summary(ms: list[float]) -> dict[str, float]:
    """p50, p95 and max of ``ms`` (nearest-rank percentiles; zeros when empty)."""
    if not ms:
        return {"p50": 0.0, "p95": 0.0, "max": 0.0}
    xs = sorted(ms)
    return {"p50": xs[math.ceil(0.50 * len(xs)) - 1], "p95": xs[math.ceil(0.95 * len(xs)) - 1], "max": xs[-1]}


def verify_files(
    problems_path: str | Path,
    samples_path: str | Path,
    out_path: str | Path,
    workers: int | None = None,
    time_policy: TimePolicy | None = None,
    limits: Limits | None = None,
    sandbox: str = "auto",
    calibrate: bool = True,
    stop_on_first_failure: bool = False,
    progress: bool = True,
    calibration_cache: str | Path | None = None,
    skip_unknown: bool = False,
) -> VerifySummary:
    """Verify every sample of ``samples_path``; see the module doc for resume behaviour.

    Calibration reuses ``meta.time_limits`` and the on-disk cache (``calibration.py``;
    ``calibration_cache`` names its folder), so references run once per problem content. With ``skip_unknown``, samples of problems
    missing from ``problems_path`` are left out (counted in ``unknown``) instead of failing the run.
    """
    problems, unusable = read_usable_problems(problems_path)
    problems = {p.id: p for p in problems}
    skipped: dict[str, int] = {}
    samples = list(read_samples(samples_path, set(problems) | set(unusable), skip_unknown, skipped))
    summary = VerifySummary(unknown=sum(skipped.values()))
    unusable.update(_uncompilable(problems, {s.problem_id for s in samples if s.problem_id in problems}))
    if unusable:
        dropped_path = Path(out_path).with_name(Path(out_path).name + ".dropped.jsonl")
        with ResumableWriter(dropped_path, key=lambda d: (d["problem_id"], str(d["sample_id"]))) as dropped:
            for s in samples:
                if s.problem_id in unusable and s.key not in dropped.done:
                    dropped.write({"problem_id": s.problem_id, "sample_id": s.sample_id, "reason": unusable[s.problem_id]})
                summary.dropped += s.problem_id in unusable
    with ResumableWriter(out_path, key=lambda d: (d["problem_id"], str(d["sample_id"]))) as writer:
        todo = [s for s in samples if s.key not in writer.done and s.problem_id not in unusable]
        summary.skipped = len(samples) - len(todo) - sum(s.problem_id in unusable for s in samples)
        with Verifier(
            workers=workers, sandbox=sandbox, time_policy=time_policy, limits=limits, stop_on_first_failure=stop_on_first_failure
        ) as verifier:
            if calibrate:
                cache = CalibrationCache(calibration_cache)
                calibrate_all([problems[pid] for pid in sorted({s.problem_id for s in todo})], verifier, cache)
            with ProgressBar(progress, len(todo)) as advance:
                for result in verifier.map(problems, todo):
                    writer.write(result)
                    summary.add(result)
                    advance()
            summary.isolation = verifier.isolation
    return summary


def _uncompilable(problems: dict, used: set[str]) -> dict[str, str]:
    """Problems whose tests cannot be compiled for the sandbox, with the reason (dropped like
    the unreadable ones of :func:`tdrl.io.read_usable_problems`)."""
    from tdrl.execution.plan import compile_problem

    bad = {}
    for pid in sorted(used):
        try:
            compile_problem(problems[pid])
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError) as exc:
            bad[pid] = f"tests cannot be compiled: {type(exc).__name__}: {str(exc)[:200]}"
    return bad


class ProgressBar:
    """A rich progress bar with rate and ETA, or nothing."""

    def __init__(self, enabled: bool, total: int, label: str = "verify", unit: str = "samples"):
        self.enabled, self.total, self.label, self.unit = enabled, total, label, unit

    def __enter__(self):
        if not self.enabled:
            return lambda: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
        from rich.text import Text

        unit = self.unit

        class Rate(ProgressColumn):
            # items done over time since the start: rich's own speed is over its last few updates, which
            # reads as thousands per second when a batch of items lands at once
            def render(self, task):  # type: ignore[override]
                elapsed = task.elapsed or 0.0
                return Text(f"{task.completed / elapsed:.2f} {unit}/s" if elapsed > 0 and task.completed else f"- {unit}/s")

        self.bar = Progress(TextColumn(self.label), BarColumn(), MofNCompleteColumn(), Rate(), TimeRemainingColumn())
        self.bar.start()
        task = self.bar.add_task(self.label, total=self.total)
        return lambda: self.bar.advance(task)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.bar.stop()
