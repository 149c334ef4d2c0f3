"""File-to-file verification: problems + samples JSONL in, results JSONL out, resumable.

This is what ``tdrl verify`` and ``tdrl eval`` call, through :mod:`tdrl.runner` (locally, or
with ``--ray`` on a cluster: :mod:`tdrl.scale.ray_verify`). Results are appended in completion
order (on Ray, in input order), one flushed line each; rerunning with the same ``--out`` skips every (problem_id, sample_id) already
there and cuts off a line torn by a crash, so nothing is lost or duplicated.
"""

from __future__ import annotations

import collections
import contextlib
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tdrl.execution.calibration import CalibrationCache, calibrate_all
from tdrl.execution.verifier import TimePolicy, Verifier
from tdrl.execution.worker import Limits
from tdrl.io import ResumableWriter, read_samples, read_usable_problems
from tdrl.records import Problem, Result, Sample
from tdrl.runner import Executor, ProgressBar, Ray, Stage, Work, run_stage

__all__ = ["ProgressBar", "VerifySummary", "VerifyWork", "infra_error_result", "latency_summary", "verify_files"]


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
    cluster: bool = False  # run on Ray; then what the cluster did:
    nodes: int = 0
    batches: int = 0
    actor_deaths: int = 0
    poisoned: int = 0

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
    executor: Executor | None = None,
) -> VerifySummary:
    """Verify every sample of ``samples_path``; see the module doc for resume behaviour.

    Calibration reuses ``meta.time_limits`` and the on-disk cache (``calibration.py``;
    ``calibration_cache`` names its folder), so references run once per problem content. With ``skip_unknown``, samples of problems
    missing from ``problems_path`` are left out (counted in ``unknown``) instead of failing the run.
    ``executor`` is where the sandboxes run (:mod:`tdrl.runner`; default here, with
    ``workers`` sandboxes; on Ray ``workers`` is per node and ``samples_path`` may be a folder
    of ``.jsonl``/``.parquet`` shards).
    """
    problems, unusable = read_usable_problems(problems_path)
    problems = {p.id: p for p in problems}
    skipped: dict[str, int] = {}
    if Path(samples_path).is_dir():
        from tdrl.scale.ray_verify import read_sample_shards

        samples = read_sample_shards(samples_path, set(problems) | set(unusable), skip_unknown, skipped)
        unusable.update(_uncompilable(problems, set(problems)))  # streamed: which problems it uses is not known yet
    else:
        samples = list(read_samples(samples_path, set(problems) | set(unusable), skip_unknown, skipped))
        unusable.update(_uncompilable(problems, {s.problem_id for s in samples if s.problem_id in problems}))
    summary = VerifySummary(unknown=sum(skipped.values()), cluster=isinstance(executor, Ray))
    key = lambda d: (d["problem_id"], str(d["sample_id"]))  # noqa: E731
    dropped_path = Path(out_path).with_name(Path(out_path).name + ".dropped.jsonl")
    with (
        ResumableWriter(out_path, key=key) as writer,
        ResumableWriter(dropped_path, key=key) if unusable else contextlib.nullcontext() as dropped,
    ):

        def usable(samples) -> Iterator[Sample]:  # samples of unusable problems go to <out>.dropped.jsonl
            for s in samples:
                if s.problem_id not in unusable:
                    yield s
                    continue
                if s.key not in dropped.done:
                    dropped.write({"problem_id": s.problem_id, "sample_id": s.sample_id, "reason": unusable[s.problem_id]})
                summary.dropped += 1

        def write(sample: Sample, result: Result) -> None:
            writer.write(result)
            summary.add(result)
            summary.isolation = result.sandbox or summary.isolation

        options = {
            "sandbox": sandbox,
            "time_policy": time_policy,
            "limits": limits,
            "stop_on_first_failure": stop_on_first_failure,
        }
        stage = Stage(
            items=list(usable(samples)) if isinstance(samples, list) else usable(samples),
            work=VerifyWork,
            args={"problems": problems, "options": options, "calibrate": calibrate, "calibration_cache": calibration_cache},
            per_node=lambda node: {"workers": workers or (node.cpus if node else None)},
            write=write,
            done=lambda s: s.key in writer.done,
            label="verify",
            unit="samples",
            ordered=False,
            poisoned=lambda s, reason: infra_error_result(problems[s.problem_id], s, reason, summary.isolation),
            batch_size=lambda nodes: max(32, 4 * (workers or max(n.cpus for n in nodes))),
        )
        run = run_stage(stage, executor, progress)
    summary.unknown = sum(skipped.values())  # streamed shards are counted as they are read
    summary.skipped = run.skipped
    if run.work is not None:
        summary.isolation = run.work.verifier.isolation
    if run.stats is not None:
        summary.nodes, summary.batches = run.stats.nodes, run.stats.batches
        summary.actor_deaths, summary.poisoned = run.stats.actor_deaths, run.stats.poisoned
    return summary


class VerifyWork(Work):
    """A :class:`~tdrl.execution.Verifier` with ``workers`` sandboxes; each problem is calibrated before its first sample."""

    def __init__(self, problems: dict[str, Problem], workers: int | None, options: dict, calibrate: bool, calibration_cache=None):
        self.problems = problems
        self.verifier = Verifier(workers=workers, **options)
        self.calibrate, self.cache = calibrate, calibration_cache
        self.calibrated: set[str] = set()
        self.lock = threading.Lock()  # on Ray, batches run on several threads; each problem is calibrated once

    def start(self, items: list) -> None:
        """Calibrate every problem to be verified at once, on the whole pool, through the on-disk cache."""
        if self.calibrate:
            pids = sorted({s.problem_id for s in items})
            calibrate_all([self.problems[pid] for pid in pids], self.verifier, CalibrationCache(self.cache))
            self.calibrated.update(pids)

    def map(self, items, emit, ordered: bool = True) -> None:
        """Results as they complete (``verifier.map``), or in input order."""
        if ordered:
            items = list(items)
            if self.calibrate:
                with self.lock:
                    for pid in sorted({s.problem_id for s in items} - self.calibrated):
                        self.verifier.calibrate(self.problems[pid])
                        self.calibrated.add(pid)
            futures = [self.verifier.submit(self.problems[s.problem_id], s) for s in items]
            for sample, future in zip(items, futures):
                emit(sample, future.result())
            return
        for result in self.verifier.map(self.problems, items):
            emit(None, result)

    def close(self) -> None:
        self.verifier.close()


def infra_error_result(problem: Problem, sample: Sample, reason: str, sandbox: str = "") -> Result:
    """The record of a sample the cluster could not verify: ``infra_error`` on every test."""
    from tdrl.execution.extract import extract_code
    from tdrl.execution.plan import compile_problem

    plan = compile_problem(problem)
    code, rule = extract_code(sample.completion, problem.prompt, None if plan.mode == "stdio" else problem.entry_point)
    return Result.infra_error(
        problem.id,
        sample.sample_id,
        len(plan.checks),
        reason[:500],
        code=code,
        extraction=rule,
        sandbox=sandbox,
        test_error=reason[:300],
    )


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
