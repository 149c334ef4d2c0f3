"""``tdrl verify --ray`` and ``tdrl eval --ray``: verification on a pool of per-node actors.

Each node runs one :class:`VerifyActor` holding an ordinary :class:`~tdrl.execution.Verifier`
whose sandbox pool is as wide as the node's CPUs (or ``workers``). The actor calibrates
each problem's time limits on first sight, exactly as the local path does before it
starts, and returns the verifier's own :class:`~tdrl.records.Result` objects, so a record
written here differs from a local one only in its timing fields (``time_ms`` of the result
and of each test) and, where a limit is borderline, in what those timings decide.

Order: results are written in the input order of the samples this run verifies (the local
path writes in completion order); rerunning skips every (problem_id, sample_id) already in
``out``, like the local path. ``samples`` may be a folder of ``.jsonl``/``.parquet`` shards,
read by Ray Data as a stream in file order.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tdrl.execution.run import ProgressBar, VerifySummary
from tdrl.execution.verifier import TimePolicy
from tdrl.execution.worker import Limits
from tdrl.io import ResumableWriter, read_problems, read_samples
from tdrl.records import Problem, Result, Sample
from tdrl.scale.cluster import connect, cpu_nodes, place_on
from tdrl.scale.shard import ShardStats, run_sharded


class VerifyActor:
    """One node's verifier (wrapped by ``ray.remote`` at run time, so Ray stays optional)."""

    def __init__(self, problems: dict[str, Problem], workers: int, options: dict, calibrate: bool):
        from tdrl.execution.verifier import Verifier

        self.problems = problems
        self.verifier = Verifier(workers=workers, **options)
        self.calibrate = calibrate
        self.calibrated: set[str] = set()
        self.lock = threading.Lock()  # batches run on several threads; each problem is calibrated once

    def run(self, samples: list[Sample]) -> list[Result]:
        """Verify a batch; one result per sample, in the batch's order."""
        if self.calibrate:
            with self.lock:
                for pid in sorted({s.problem_id for s in samples} - self.calibrated):
                    self.verifier.calibrate(self.problems[pid])
                    self.calibrated.add(pid)
        futures = [self.verifier.submit(self.problems[s.problem_id], s) for s in samples]
        return [f.result() for f in futures]


@dataclass
class RayVerifySummary(VerifySummary):
    """:class:`~tdrl.execution.run.VerifySummary` plus what the cluster did."""

    nodes: int = 0
    batches: int = 0
    actor_deaths: int = 0
    poisoned: int = 0


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


def read_sample_shards(path: str | Path, problem_ids: set[str], skip_unknown: bool = False) -> Iterator[Sample]:
    """Samples from a folder of JSONL or parquet shards, streamed by Ray Data in file order."""
    import ray.data

    from tdrl.io import InputError
    from tdrl.records import RecordError

    files = sorted(p for p in Path(path).iterdir() if p.name.endswith((".jsonl", ".jsonl.gz", ".parquet")))
    if not files:
        raise InputError(path, 0, None, "no .jsonl or .parquet shards in this folder")
    ray.data.DataContext.get_current().execution_options.preserve_order = True
    parquet = files[0].name.endswith(".parquet")
    reader = ray.data.read_parquet if parquet else ray.data.read_json
    dataset = reader([str(f) for f in files], **({} if parquet else {"lines": True}))
    for i, row in enumerate(dataset.iter_rows(), 1):
        row = {k: v for k, v in dict(row).items() if v is not None}  # shards' schemas are unified with nulls
        try:
            sample = Sample.from_dict(row)
        except RecordError as exc:
            raise InputError(path, i, exc.field, exc.message) from None
        if sample.problem_id not in problem_ids:
            if skip_unknown:
                continue
            raise InputError(path, i, "problem_id", f"unknown problem {sample.problem_id!r} (--skip-unknown leaves it out)")
        yield sample


def ray_verify_files(
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
    address: str | None = "local",
    batch_size: int | None = None,
    in_flight: int = 2,
    max_retries: int = 2,
    actor_cls: type = VerifyActor,
    skip_unknown: bool = False,
) -> RayVerifySummary:
    """:func:`~tdrl.execution.run.verify_files` on a Ray cluster (see the module doc).

    ``workers`` is per node (default: the node's CPUs). ``batch_size`` defaults to four times
    the widest node's sandboxes (at least 32): enough to keep every sandbox busy, few
    enough round trips (each costs milliseconds). ``actor_cls`` may be a subclass of :class:`VerifyActor` (the fault tests use one
    that dies on a marked sample).
    """
    connect(address)
    import ray

    problems = {p.id: p for p in read_problems(problems_path)}
    shards = Path(samples_path).is_dir()
    skipped: dict[str, int] = {}
    samples = (
        read_sample_shards(samples_path, set(problems), skip_unknown)
        if shards
        else list(read_samples(samples_path, set(problems), skip_unknown, skipped))
    )
    summary = RayVerifySummary()
    summary.unknown = sum(skipped.values())
    stats = ShardStats()
    options = {
        "sandbox": sandbox,
        "time_policy": time_policy,
        "limits": limits,
        "stop_on_first_failure": stop_on_first_failure,
    }
    problems_ref = ray.put(problems)
    remote_cls = ray.remote(num_cpus=1, max_restarts=0, max_concurrency=in_flight)(actor_cls)
    batch_size = batch_size or max(32, 4 * (workers or max(n.cpus for n in cpu_nodes())))

    def make_actor(node):
        name = f"tdrl-verify-{uuid.uuid4().hex[:12]}"  # named, to be found in the dashboard and by tests
        return remote_cls.options(name=name, scheduling_strategy=place_on(node.node_id)).remote(
            problems_ref, workers or node.cpus, options, calibrate
        )

    with ResumableWriter(out_path, key=lambda d: (d["problem_id"], str(d["sample_id"]))) as writer:
        total = None if shards else sum(s.key not in writer.done for s in samples)

        def todo() -> Iterator[Sample]:
            for sample in samples:
                if sample.key in writer.done:
                    summary.skipped += 1
                else:
                    yield sample

        def poisoned(sample: Sample, reason: str) -> Result:
            return infra_error_result(problems[sample.problem_id], sample, reason, summary.isolation)

        with ProgressBar(progress, total) as advance:
            results = run_sharded(
                todo(), make_actor, poisoned, batch_size=batch_size, in_flight=in_flight, max_retries=max_retries, stats=stats
            )
            for result in results:
                writer.write(result)
                summary.add(result)
                summary.isolation = result.sandbox or summary.isolation
                advance()
    summary.nodes, summary.batches, summary.actor_deaths, summary.poisoned = (
        stats.nodes,
        stats.batches,
        stats.actor_deaths,
        stats.poisoned,
    )
    return summary
