"""``tdrl sample --ray``: OpenAI-compatible sampling sharded over one actor per node.

The stage is :func:`tdrl.sampling.sample.sample_files` on a :class:`~tdrl.runner.Ray`
executor. Each actor (the stage's own :class:`~tdrl.sampling.sample.OpenAISampling`) sends
its batch of problems to the server with at most ``concurrency`` requests in flight (so the
cluster has ``nodes x concurrency``), through the same backend, prompt builder and
per-problem seeds as the local path; the driver writes the records in problem order.
Records equal a local run's (they carry no timings). Local (``hf``) models are not sharded:
that needs GPU placement, which this module does not do. Sampling runs no untrusted code,
so a problem whose actor dies on every attempt stops the run with an error instead of
being recorded.
"""

from __future__ import annotations

from pathlib import Path

from tdrl.runner import Ray
from tdrl.sampling.sample import SampleParams, SampleSummary, sample_files


def ray_sample_files(
    problems_path: str | Path,
    out_path: str | Path,
    model: str,
    params: SampleParams,
    *,
    address: str | None = "local",
    batch_size: int | None = None,
    in_flight: int = 2,
    max_retries: int = 2,
    **options,
) -> SampleSummary:
    """:func:`~tdrl.sampling.sample.sample_files` with ``backend="openai"`` on a Ray cluster; ``options`` are its keywords."""
    executor = Ray(address, batch_size=batch_size, in_flight=in_flight, max_retries=max_retries)
    return sample_files(problems_path, out_path, model, params, backend="openai", executor=executor, **options)
