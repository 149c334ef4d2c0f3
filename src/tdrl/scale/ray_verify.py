"""``tdrl verify --ray`` and ``tdrl eval --ray``: verification on a pool of per-node actors.

The stage is :func:`tdrl.execution.run.verify_files`; this module names its Ray executor's
pieces. Each node runs one :class:`VerifyActor` (the stage's own
:class:`~tdrl.execution.run.VerifyWork`) holding an ordinary :class:`~tdrl.execution.Verifier`
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

from collections.abc import Iterator
from pathlib import Path

from tdrl.execution.run import VerifySummary, VerifyWork, infra_error_result, verify_files
from tdrl.records import Sample
from tdrl.runner import Ray

VerifyActor = VerifyWork  # what runs on each node
RayVerifySummary = VerifySummary  # with ``cluster`` set and the cluster's counts filled in

__all__ = ["RayVerifySummary", "VerifyActor", "infra_error_result", "ray_verify_files", "read_sample_shards"]


def read_sample_shards(
    path: str | Path, problem_ids: set[str], skip_unknown: bool = False, skipped: dict[str, int] | None = None
) -> Iterator[Sample]:
    """Samples from a folder of JSONL or parquet shards, streamed by Ray Data in file order; with ``skip_unknown``
    those of unknown problems are left out and counted per problem in ``skipped``."""
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
                if skipped is not None:
                    skipped[sample.problem_id] = skipped.get(sample.problem_id, 0) + 1
                continue
            raise InputError(path, i, "problem_id", f"unknown problem {sample.problem_id!r} (--skip-unknown leaves it out)")
        yield sample


def ray_verify_files(
    problems_path: str | Path,
    samples_path: str | Path,
    out_path: str | Path,
    *,
    address: str | None = "local",
    batch_size: int | None = None,
    in_flight: int = 2,
    max_retries: int = 2,
    actor_cls: type = VerifyActor,
    **options,
) -> VerifySummary:
    """:func:`~tdrl.execution.run.verify_files` on a Ray cluster (see the module doc); ``options`` are its keywords.

    ``workers`` is per node (default: the node's CPUs). ``batch_size`` defaults to four times
    the widest node's sandboxes (at least 32): enough to keep every sandbox busy, few
    enough round trips (each costs milliseconds). ``actor_cls`` may be a subclass of :class:`VerifyActor` (the fault tests use one
    that dies on a marked sample).
    """
    executor = Ray(address, batch_size=batch_size, in_flight=in_flight, max_retries=max_retries, actor_cls=actor_cls)
    return verify_files(problems_path, samples_path, out_path, executor=executor, **options)
