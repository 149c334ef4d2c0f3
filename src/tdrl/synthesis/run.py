"""``tdrl synth``: problems in, problems with synthesised tests out; resumable; a quality report.

Problems run concurrently (each issues several sandbox runs). Each finished problem is one
line of ``--out``; each dropped one is a line of ``<out>.dropped.jsonl`` with the reason.
A rerun skips both, so a killed run loses nothing and duplicates nothing. With
``--report DIR``: ``quality.json`` (per problem: tests, distinct outputs, mutation score)
and ``mutation_scores.png``.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tdrl.execution import Verifier
from tdrl.execution.run import ProgressBar
from tdrl.io import ResumableWriter, iter_jsonl, read_problems
from tdrl.synthesis.reference import SynthConfig, synthesize_reference


@dataclass
class SynthSummary:
    problems: int = 0
    skipped: int = 0
    kept: int = 0
    dropped: dict = field(default_factory=dict)
    tests: int = 0
    seconds: float = 0.0


def _contaminated(problem, index) -> list[str]:
    return index.overlap(problem.prompt or "") if index is not None else []


@dataclass
class LLMOptions:
    """How ``--method llm`` reaches its model (see :mod:`tdrl.synthesis.llm`)."""

    model: str = "embedded"
    backend: str = "hf"
    base_url: str | None = None
    tests: int = 20
    retries: int = 2
    temperature: float = 0.7
    max_tokens: int = 1024
    concurrency: int = 8
    cache_dir: str | Path | None = None
    keep_unverified: bool = False  # keep seeds without a solution (their tests were never run)


def synth_files(
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
) -> SynthSummary:
    """Synthesize tests for every problem (or, for the llm methods, every seed) of ``problems_path``."""
    import time

    from tdrl.synthesis.decontaminate import BenchmarkIndex

    index = BenchmarkIndex(decontaminate, ngram) if decontaminate else None
    if method in ("llm", "llm+reference"):
        return _synth_llm(
            problems_path, Path(out_path), cfg, method, llm or LLMOptions(), workers, sandbox, report_dir, progress, index
        )
    if method != "reference":
        raise ValueError(f"unknown or not yet available method {method!r} (available: reference, llm, llm+reference)")
    problems = read_problems(problems_path)
    out_path = Path(out_path)
    dropped_path = out_path.with_name(out_path.name + ".dropped.jsonl")
    summary = SynthSummary(problems=len(problems))
    t0 = time.monotonic()
    with ResumableWriter(out_path, key=lambda d: d["id"]) as out, ResumableWriter(dropped_path, key=lambda d: d["id"]) as dropped:
        todo = [p for p in problems if p.id not in out.done and p.id not in dropped.done]
        summary.skipped = len(problems) - len(todo)
        with (
            Verifier(workers=workers, sandbox=sandbox) as verifier,
            ThreadPoolExecutor(max_workers=2 * verifier.n_workers) as pool,
        ):
            with ProgressBar(progress, len(todo), "synth", "problems") as advance:
                for problem, outcome in zip(todo, pool.map(lambda p: synthesize_reference(p, verifier, cfg), todo)):
                    overlap = _contaminated(problem, index)
                    if overlap and outcome.problem is not None:
                        outcome.problem, outcome.reason = None, f"overlaps benchmark prompts: {', '.join(overlap[:5])}"
                    if outcome.problem is not None:
                        out.write(outcome.problem)
                        summary.kept += 1
                        summary.tests += len(outcome.problem.tests)
                    else:
                        dropped.write({"id": problem.id, "reason": outcome.reason, "stats": outcome.stats})
                        summary.dropped[outcome.reason] = summary.dropped.get(outcome.reason, 0) + 1
                    advance()
    summary.seconds = time.monotonic() - t0
    if report_dir:
        quality_report(out_path, Path(report_dir))
    return summary


def quality_report(synth_path: Path, report_dir: Path) -> dict:
    """Per-problem and overall test quality from the synthesis stats; plus a histogram."""
    report_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for _, d in iter_jsonl(synth_path):
        st = (d.get("meta") or {}).get("synth", {})
        rows.append(
            {
                "id": d["id"],
                "tests": len(d["tests"]),
                "distinct_outputs": st.get("distinct_outputs"),
                "mutants": st.get("mutants"),
                "mutants_killable": st.get("mutants_killable"),
                "mutation_score": st.get("mutation_score"),
            }
        )
    scores = [r["mutation_score"] for r in rows if r["mutation_score"] is not None]
    overall = {
        "problems": len(rows),
        "tests": sum(r["tests"] for r in rows),
        "mean_mutation_score": round(sum(scores) / len(scores), 4) if scores else None,
        "killed": sum((r["mutation_score"] or 0) * (r["mutants_killable"] or 0) for r in rows),
        "killable": sum(r["mutants_killable"] or 0 for r in rows),
    }
    result = {"overall": overall, "problems": rows}
    (report_dir / "quality.json").write_text(json.dumps(result, indent=2) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        ax.hist(scores, bins=20, range=(0, 1))
        ax.set_xlabel("mutation score (share of killable mutants caught)")
        ax.set_ylabel("problems")
        ax.set_title("test quality")
        fig.tight_layout()
        fig.savefig(report_dir / "mutation_scores.png", dpi=100)
        plt.close(fig)
    except ImportError:
        pass
    return result


def _synth_llm(
    seeds_path,
    out_path: Path,
    cfg: SynthConfig,
    method: str,
    opts: LLMOptions,
    workers,
    sandbox,
    report_dir,
    progress,
    index=None,
) -> SynthSummary:
    """AceCoder-style: ask the model for a problem and asserts per seed, parse, filter, write."""
    import asyncio
    import time

    from tdrl.llm.hf import stable_seed
    from tdrl.synthesis.llm import ParseError, build_prompt, filter_by_reference, problem_from_answer, read_seeds

    seeds = read_seeds(seeds_path)
    dropped_path = out_path.with_name(out_path.name + ".dropped.jsonl")
    summary = SynthSummary(problems=len(seeds))
    t0 = time.monotonic()

    if opts.backend == "openai":
        from tdrl.llm.openai_backend import OpenAIBackend

        backend = OpenAIBackend(opts.model, base_url=opts.base_url, concurrency=opts.concurrency, cache_dir=opts.cache_dir)

        def generate(messages, seed):
            return asyncio.run(
                backend.generate(messages=messages, n=1, max_tokens=opts.max_tokens, temperature=opts.temperature, seed=seed)
            )[0]
    elif opts.backend == "hf":
        from tdrl.llm.embedded import resolve_model
        from tdrl.llm.hf import HFModel

        model = HFModel(resolve_model(opts.model))

        def generate(messages, seed):
            return model.generate(
                model.chat_prompt(messages), n=1, max_new_tokens=opts.max_tokens, temperature=opts.temperature, seed=seed
            )[0]
    else:
        raise ValueError(f"unknown backend {opts.backend!r} (hf, openai)")

    with (
        ResumableWriter(out_path, key=lambda d: d["id"]) as out,
        ResumableWriter(dropped_path, key=lambda d: d["id"]) as dropped,
        Verifier(workers=workers, sandbox=sandbox) as verifier,
    ):
        todo = [s for s in seeds if s.id not in out.done and s.id not in dropped.done]
        summary.skipped = len(seeds) - len(todo)
        with ProgressBar(progress, len(todo), "synth", "seeds") as advance:
            for seed in todo:
                messages = build_prompt(seed, opts.tests)
                problem, reasons, tokens = None, [], 0
                for attempt in range(opts.retries + 1):
                    gen = generate(messages, stable_seed(cfg.seed + attempt, seed.id))
                    tokens += gen.completion_tokens
                    try:
                        problem = problem_from_answer(seed, gen.text)
                        break
                    except ParseError as exc:
                        reasons.append(str(exc))
                stats = {"method": method, "attempts": len(reasons) + (problem is not None), "completion_tokens": tokens}
                reason = None
                if problem is None:
                    reason = f"model answer unusable after {len(reasons)} attempts: {reasons[-1]}"
                else:
                    problem, removed = filter_by_reference(problem, verifier)
                    stats.update(
                        problem.meta.get("synth", {}), method=method, failed_reference=removed, verified=bool(problem.reference)
                    )
                    if method == "llm+reference" and problem.reference and problem.tests:
                        extra = synthesize_reference(problem, verifier, cfg)
                        if extra.problem is not None:
                            problem = extra.problem
                            stats["reference_stats"] = extra.stats
                    problem.meta = {**problem.meta, "synth": stats}
                    overlap = _contaminated(problem, index)
                    if overlap:
                        reason = f"overlaps benchmark prompts: {', '.join(overlap[:5])}"
                    elif not problem.reference and not opts.keep_unverified:
                        reason = "no solution to check the tests against (keep them with --keep-unverified)"
                    elif len(problem.tests) < cfg.min_tests:
                        reason = f"only {len(problem.tests)} tests survived (min {cfg.min_tests})"
                if reason is None:
                    out.write(problem)
                    summary.kept += 1
                    summary.tests += len(problem.tests)
                else:
                    dropped.write({"id": seed.id, "reason": reason, "stats": stats, "attempt_errors": reasons})
                    key = reason.split(":")[0]
                    summary.dropped[key] = summary.dropped.get(key, 0) + 1
                advance()
    summary.seconds = time.monotonic() - t0
    if report_dir:
        quality_report(out_path, Path(report_dir))
    return summary
