"""``tdrl synth --ray``: test synthesis sharded over one actor per node.

Each actor holds a :class:`~tdrl.execution.Verifier` as wide as its node (and, for the
``llm``, ``llm+reference`` and ``oracle`` methods, a :class:`~tdrl.llm.chat.Chat` on an
OpenAI-compatible server) and runs the local path's own per-problem functions
(``synthesize_reference``, and ``_llm_seed`` / ``_oracle_seed`` of
:mod:`tdrl.synthesis.run`) on its batch. The driver decontaminates and writes exactly as
the local path does, in input order (the local path's order too), to ``out`` and
``<out>.dropped.jsonl``, so a rerun skips finished and dropped problems alike. A problem
whose actor dies on every attempt is written as dropped with an ``infra_error:`` reason.
Local (``hf``) models are not sharded.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tdrl.errors import ConfigError
from tdrl.io import ResumableWriter, read_problems
from tdrl.scale.cluster import connect, place_on
from tdrl.scale.shard import run_sharded
from tdrl.synthesis.reference import SynthConfig
from tdrl.synthesis.run import LLMOptions, SynthSummary, quality_report, record_outcome


class SynthActor:
    """One node's synthesis worker (wrapped by ``ray.remote`` at run time)."""

    def __init__(self, cfg: SynthConfig, method: str, opts: LLMOptions, workers: int, sandbox: str):
        from tdrl.execution import Verifier

        self.cfg, self.method, self.opts = cfg, method, opts
        self.verifier = Verifier(workers=workers, sandbox=sandbox)
        self.chat = None
        if method != "reference":
            from tdrl.llm.chat import Chat

            o = opts
            self.chat = Chat(o.model, o.backend, o.base_url, o.concurrency, o.cache_dir, o.max_tokens, o.temperature)

    def run(self, batch: list) -> list[tuple]:
        """``(problem or None, reason, stats, attempt errors)`` per problem or ``(seed, solutions)`` item."""
        from tdrl.synthesis.reference import synthesize_reference
        from tdrl.synthesis.run import _llm_seed, _oracle_seed, _timed

        if self.chat is None:
            with ThreadPoolExecutor(max_workers=2 * self.verifier.n_workers) as pool:
                outcomes = pool.map(lambda p: _timed(synthesize_reference(p, self.verifier, self.cfg), self.verifier), batch)
                return [(o.problem, o.reason, o.stats, None) for o in outcomes]
        one = _oracle_seed if self.method == "oracle" else _llm_seed
        with ThreadPoolExecutor(max_workers=max(self.chat.parallel, 1)) as pool:
            return list(
                pool.map(lambda item: one(item[0], self.chat, self.verifier, self.cfg, self.method, self.opts, item[1]), batch)
            )


def ray_synth_files(
    problems_path: str | Path,
    out_path: str | Path,
    cfg: SynthConfig,
    method: str = "reference",
    workers: int | None = None,
    sandbox: str = "auto",
    report_dir: str | Path | None = None,
    progress: bool = True,
    llm: LLMOptions | None = None,
    decontaminate: list[str | Path] | None = None,
    ngram: int = 13,
    address: str | None = "local",
    batch_size: int = 8,
    in_flight: int = 2,
    max_retries: int = 2,
) -> SynthSummary:
    """:func:`~tdrl.synthesis.run.synth_files` on a Ray cluster; ``workers`` is per node."""
    from tdrl.execution.run import ProgressBar
    from tdrl.synthesis.decontaminate import BenchmarkIndex

    opts = llm or LLMOptions()
    if method not in ("reference", "llm", "llm+reference", "oracle"):
        raise ConfigError(f"unknown method {method!r} (reference, llm, llm+reference, oracle)")
    if method != "reference" and opts.backend != "openai":
        raise ConfigError(f"--ray with --method {method} needs --backend openai (local models are not sharded)")
    connect(address)
    import ray

    index = BenchmarkIndex(decontaminate, ngram) if decontaminate else None
    if method == "reference":
        inputs = read_problems(problems_path)
        items = inputs
    else:
        from tdrl.synthesis.llm import read_seeds
        from tdrl.synthesis.run import _read_solutions

        inputs = read_seeds(problems_path)
        solutions = _read_solutions(opts.solutions, {s.id for s in inputs}) if opts.solutions else {}
        items = [(seed, solutions.get(seed.id, [])) for seed in inputs]
    out_path = Path(out_path)
    dropped_path = out_path.with_name(out_path.name + ".dropped.jsonl")
    summary = SynthSummary(problems=len(inputs))
    remote_cls = ray.remote(num_cpus=1, max_restarts=0, max_concurrency=in_flight)(SynthActor)

    def make_actor(node):
        return remote_cls.options(scheduling_strategy=place_on(node.node_id)).remote(
            cfg, method, opts, workers or node.cpus, sandbox
        )

    def poisoned(item, reason: str) -> tuple:
        return None, f"infra_error: {reason}", {}, None if method == "reference" else []

    t0 = time.monotonic()
    with ResumableWriter(out_path, key=lambda d: d["id"]) as out, ResumableWriter(dropped_path, key=lambda d: d["id"]) as dropped:
        todo = [(x, item) for x, item in zip(inputs, items) if x.id not in out.done and x.id not in dropped.done]
        summary.skipped = len(inputs) - len(todo)
        with ProgressBar(progress, len(todo), "synth", "problems" if method == "reference" else "seeds") as advance:
            results = run_sharded(
                [item for _, item in todo],
                make_actor,
                poisoned,
                batch_size=batch_size,
                in_flight=in_flight,
                max_retries=max_retries,
            )
            for (x, _), (problem, reason, stats, errors) in zip(todo, results):
                record_outcome(out, dropped, summary, x.id, problem, reason, stats, index, errors)
                advance()
    summary.seconds = time.monotonic() - t0
    if report_dir:
        quality_report(out_path, Path(report_dir))
    return summary
