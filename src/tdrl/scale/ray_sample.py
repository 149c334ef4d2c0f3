"""``tdrl sample --ray``: OpenAI-compatible sampling sharded over one actor per node.

Each actor sends its batch of problems to the server with at most ``concurrency``
requests in flight (so the cluster has ``nodes x concurrency``), through the same backend,
prompt builder and per-problem seeds as the local path; the driver writes the records with
the local path's own writer function, in problem order. Records equal a local run's (they
carry no timings). Local (``hf``) models are not sharded: that needs GPU placement, which
this module does not do. Sampling runs no untrusted code, so a problem whose actor dies
on every attempt stops the run with an error instead of being recorded.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tdrl.io import ResumableWriter, read_problems
from tdrl.records import Problem
from tdrl.sampling.sample import SampleParams, SampleSummary, _write, generate_openai
from tdrl.scale.cluster import connect, place_on
from tdrl.scale.shard import run_sharded


class SampleActor:
    """One node's client of the model server (wrapped by ``ray.remote`` at run time)."""

    def __init__(self, model: str, params: SampleParams, fmt: str, base_url: str | None, concurrency: int, cache_dir):
        self.model, self.params, self.fmt = model, params, fmt
        self.base_url, self.concurrency, self.cache_dir = base_url, concurrency, cache_dir

    async def run(self, problems: list[Problem]) -> list:
        """The ``params.n`` generations of each problem, in the batch's order."""
        from tdrl.llm.openai_backend import OpenAIBackend

        # an async actor; each batch gets its own client, and so its own ``concurrency`` bound
        backend = OpenAIBackend(self.model, base_url=self.base_url, concurrency=self.concurrency, cache_dir=self.cache_dir)
        return list(await asyncio.gather(*(generate_openai(backend, p, self.params, self.fmt) for p in problems)))


def ray_sample_files(
    problems_path: str | Path,
    out_path: str | Path,
    model: str,
    params: SampleParams,
    base_url: str | None = None,
    concurrency: int = 8,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    address: str | None = "local",
    batch_size: int | None = None,
    in_flight: int = 2,
    max_retries: int = 2,
) -> SampleSummary:
    """:func:`~tdrl.sampling.sample.sample_files` with ``backend="openai"`` on a Ray cluster."""
    connect(address)
    import ray

    from tdrl.execution.run import ProgressBar

    problems = read_problems(problems_path)
    summary = SampleSummary(problems=len(problems))
    fmt = "instruct" if params.prompt_format == "auto" else params.prompt_format
    remote_cls = ray.remote(num_cpus=1, max_restarts=0, max_concurrency=in_flight)(SampleActor)

    def make_actor(node):
        return remote_cls.options(scheduling_strategy=place_on(node.node_id)).remote(
            model, params, fmt, base_url, concurrency, str(cache_dir) if cache_dir else None
        )

    def poisoned(problem: Problem, reason: str):
        raise RuntimeError(f"sampling problem {problem.id!r} failed: {reason}")

    with ResumableWriter(out_path, key=lambda d: (d["problem_id"], str(d["sample_id"]))) as writer:
        todo = [p for p in problems if any((p.id, str(i)) not in writer.done for i in range(params.n))]
        summary.skipped = len(problems) - len(todo)
        t0 = time.monotonic()
        if todo:
            with ProgressBar(progress, len(todo), "sample", "problems") as advance:
                generations = run_sharded(
                    todo,
                    make_actor,
                    poisoned,
                    batch_size=batch_size or 4 * concurrency,
                    in_flight=in_flight,
                    max_retries=max_retries,
                )
                for problem, gens in zip(todo, generations):
                    _write(writer, summary, problem, gens, model, "openai", params, fmt)
                    advance()
        summary.seconds = time.monotonic() - t0
    return summary
