"""File-to-file verification: problems + samples JSONL in, results JSONL out, resumable.

This is what ``tdrl verify`` calls. Results are appended in completion order, one flushed
line each; rerunning with the same ``--out`` skips every (problem_id, sample_id) already
there and cuts off a line torn by a crash, so nothing is lost or duplicated.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from pathlib import Path

from tdrl.execution.verifier import TimePolicy, Verifier
from tdrl.execution.worker import Limits
from tdrl.io import ResumableWriter, read_problems, read_samples
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
    unknown: int = 0  # samples of problems not in the problems file, left out (skip_unknown)

    def add(self, r: Result) -> None:
        self.samples += 1
        self.statuses[r.status] += 1
        self.pass_rate_sum += r.pass_rate
        for t in r.tests:
            self.test_statuses[t.status] += 1

    @property
    def mean_pass_rate(self) -> float:
        return self.pass_rate_sum / self.samples if self.samples else 0.0


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
    skip_unknown: bool = False,
) -> VerifySummary:
    """Verify every sample of ``samples_path``; see the module doc for resume behaviour.

    With ``skip_unknown``, samples of problems missing from ``problems_path`` are left out
    (counted in ``unknown``) instead of failing the run.
    """
    problems = {p.id: p for p in read_problems(problems_path)}
    skipped: dict[str, int] = {}
    samples = list(read_samples(samples_path, set(problems), skip_unknown, skipped))
    summary = VerifySummary(unknown=sum(skipped.values()))
    with ResumableWriter(out_path, key=lambda d: (d["problem_id"], str(d["sample_id"]))) as writer:
        todo = [s for s in samples if s.key not in writer.done]
        summary.skipped = len(samples) - len(todo)
        with Verifier(
            workers=workers, sandbox=sandbox, time_policy=time_policy, limits=limits, stop_on_first_failure=stop_on_first_failure
        ) as verifier:
            if calibrate:
                for pid in sorted({s.problem_id for s in todo}):
                    verifier.calibrate(problems[pid])
            with ProgressBar(progress, len(todo)) as advance:
                for result in verifier.map(problems, todo):
                    writer.write(result)
                    summary.add(result)
                    advance()
            summary.isolation = verifier.isolation
    return summary


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
