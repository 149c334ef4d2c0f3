"""``tdrl synth``: problems in, problems with synthesised tests out; resumable; a quality report.

Problems run concurrently (each issues several sandbox runs). Each finished problem is one
line of ``--out``; each dropped one is a line of ``<out>.dropped.jsonl`` with the reason.
A rerun skips both, so a killed run loses nothing and duplicates nothing. With
``--report DIR``: ``quality.json`` (per problem: tests, distinct outputs, mutation score)
and ``mutation_scores.png``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tdrl.errors import ConfigError
from tdrl.execution import Verifier
from tdrl.execution.calibration import annotate
from tdrl.io import ResumableWriter, iter_jsonl, read_usable_problems
from tdrl.records import RecordError
from tdrl.runner import Executor, Local, Stage, Work, run_stage
from tdrl.synthesis.reference import SynthConfig, SynthOutcome, synthesize_reference


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


def record_outcome(out, dropped, summary: SynthSummary, item_id: str, outcome: SynthOutcome, index) -> None:
    """Write one problem's (or seed's) outcome: the problem when kept and not contaminated, else a
    dropped record with the reason (and, for the LLM methods, ``attempt_errors``); count it."""
    problem, reason = outcome.problem, outcome.reason
    overlap = _contaminated(problem, index) if problem is not None else []
    if overlap:
        problem, reason = None, f"overlaps benchmark prompts: {', '.join(overlap[:5])}"
    if problem is not None and reason is None:
        out.write(problem)
        summary.kept += 1
        summary.tests += len(problem.tests)
        return
    record = {"id": item_id, "reason": reason, "stats": outcome.stats}
    if outcome.errors is not None:
        record["attempt_errors"] = outcome.errors
    dropped.write(record)
    key = reason if outcome.errors is None else reason.split(":")[0]
    summary.dropped[key] = summary.dropped.get(key, 0) + 1


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
    solutions: str | Path | None = None  # samples JSONL from a strong model, trusted when a seed has no solution
    max_disagreement: float = 0.0  # oracle: largest share of inputs where brute force and solution may differ


METHODS = ("reference", "llm", "llm+reference", "oracle")


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
    executor: Executor | None = None,
    batch_size: int = 8,
) -> SynthSummary:
    """Synthesize tests for every problem (or, for the llm methods, every seed) of ``problems_path``.

    The LLM methods handle seeds on a thread pool as wide as the backend's useful
    concurrency, so with an OpenAI-compatible server up to ``llm.concurrency`` requests are
    in flight while earlier answers run in the sandbox. Output is written as each item
    finishes, in input order. On a Ray ``executor`` (:mod:`tdrl.scale.ray_synth`) each node
    runs the same work on ``batch_size`` items at a time; ``workers`` is per node.
    """
    import time

    from tdrl.synthesis.decontaminate import BenchmarkIndex

    opts = llm or LLMOptions()
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r} (reference, llm, llm+reference, oracle)")
    if method != "reference" and opts.backend != "openai":
        (executor or Local()).require_local(f"--ray with --method {method} needs --backend openai (local models are not sharded)")
    index = BenchmarkIndex(decontaminate, ngram) if decontaminate else None
    out_path = Path(out_path)
    dropped_path = out_path.with_name(out_path.name + ".dropped.jsonl")
    unusable: dict[str, str] = {}
    if method == "reference":
        problems, unusable = read_usable_problems(problems_path)
        items: list = problems
    else:
        from tdrl.synthesis.llm import read_seeds

        seeds = read_seeds(problems_path)
        solutions = read_solutions(opts.solutions, {s.id for s in seeds}) if opts.solutions else {}
        items = [(seed, solutions.get(seed.id, [])) for seed in seeds]
    summary = SynthSummary(problems=len(items) + len(unusable))
    t0 = time.monotonic()
    with ResumableWriter(out_path, key=lambda d: d["id"]) as out, ResumableWriter(dropped_path, key=lambda d: d["id"]) as dropped:
        for pid, reason in unusable.items():  # test values that do not read back: dropped, the run goes on
            if pid not in dropped.done:
                dropped.write({"id": pid, "reason": reason, "stats": {}})
                key = "test values do not read back"
                summary.dropped[key] = summary.dropped.get(key, 0) + 1
        item_id = (lambda p: p.id) if method == "reference" else (lambda item: item[0].id)
        stage = Stage(
            items=items,
            work=SynthWork,
            args={"cfg": cfg, "method": method, "opts": opts, "sandbox": sandbox},
            per_node=lambda node: {"workers": workers or (node.cpus if node else None)},
            write=lambda item, outcome: record_outcome(out, dropped, summary, item_id(item), outcome, index),
            done=lambda item: item_id(item) in out.done or item_id(item) in dropped.done,
            label="synth",
            unit="problems" if method == "reference" else "seeds",
            poisoned=lambda item, reason: SynthOutcome(None, f"infra_error: {reason}", {}, None if method == "reference" else []),
            batch_size=batch_size,
            skip_empty=method != "reference",  # no model loaded for nothing
        )
        summary.skipped = run_stage(stage, executor, progress).skipped
    summary.seconds = time.monotonic() - t0
    if report_dir:
        quality_report(out_path, Path(report_dir))
    return summary


class SynthWork(Work):
    """A :class:`~tdrl.execution.Verifier` (and, for the LLM methods, a :class:`~tdrl.llm.chat.Chat`) and one item's synthesis."""

    def __init__(self, cfg: SynthConfig, method: str, opts: LLMOptions, workers: int | None, sandbox: str):
        self.cfg, self.method, self.opts = cfg, method, opts
        self.chat = None
        if method != "reference":
            from tdrl.llm.chat import Chat

            o = opts
            self.chat = Chat(o.model, o.backend, o.base_url, o.concurrency, o.cache_dir, o.max_tokens, o.temperature)
        self.verifier = Verifier(workers=workers, sandbox=sandbox)
        # each problem issues several sandbox runs: twice the sandboxes keeps them busy; a chat as many as it serves
        self.threads = 2 * self.verifier.n_workers if self.chat is None else max(self.chat.parallel, 1)

    def one(self, item) -> SynthOutcome:
        """A problem's outcome (reference), or a ``(seed, solutions)`` item's (the LLM methods)."""
        if self.chat is None:
            return timed(_synthesize_one(item, self.verifier, self.cfg), self.verifier)
        seed, samples = item
        one = oracle_seed if self.method == "oracle" else llm_seed
        return _guarded(one, seed, self.chat, self.verifier, self.cfg, self.method, self.opts, samples)

    def close(self) -> None:
        self.verifier.close()
        if self.chat is not None:
            self.chat.close()


def _synthesize_one(problem, verifier, cfg: SynthConfig) -> SynthOutcome:
    """:func:`synthesize_reference`, with a failure on this problem's data (a value Python cannot
    write, a malformed test) turned into a dropped problem instead of the end of the run."""
    try:
        return synthesize_reference(problem, verifier, cfg)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError, RecordError) as exc:
        return SynthOutcome(None, f"synthesis failed: {type(exc).__name__}: {str(exc)[:200]}", {"method": "reference"})


def timed(outcome: SynthOutcome, verifier) -> SynthOutcome:
    """Store the reference's per-test times in a kept problem (``meta.time_limits``), so verify need not rerun it."""
    if outcome.problem is not None and outcome.reason is None:
        annotate(outcome.problem, verifier)
    return outcome


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


def read_solutions(path, seed_ids: set[str]) -> dict[str, list]:
    """Samples JSONL (``tdrl sample`` output) from a strong model, grouped by seed id."""
    from tdrl.io import read_samples

    grouped: dict[str, list] = {}
    for sample in read_samples(path, seed_ids):
        grouped.setdefault(sample.problem_id, []).append(sample)
    return grouped


def _ask(seed, chat, cfg: SynthConfig, opts: LLMOptions, messages, parse):
    """Ask until ``parse`` accepts an answer: ``(parsed or None, errors, completion tokens)``."""
    from tdrl.llm.hf import stable_seed
    from tdrl.synthesis.llm import ParseError

    errors, tokens = [], 0
    for attempt in range(opts.retries + 1):
        gen = chat(messages, stable_seed(cfg.seed + attempt, seed.id))
        tokens += gen.completion_tokens
        try:
            return parse(gen.text), errors, tokens
        except ParseError as exc:
            errors.append(str(exc))
    return None, errors, tokens


def _trust(problem, samples, verifier, stats: dict):
    """Filter the tests by the seed's solution, else by a strong model's samples."""
    from tdrl.execution.extract import extract_code
    from tdrl.synthesis.llm import filter_by_reference, filter_by_samples

    if problem.reference:
        problem, removed = filter_by_reference(problem, verifier)
        stats.update(failed_reference=removed, verified=True)
        return problem
    codes = [extract_code(s.completion, problem.prompt, problem.entry_point)[0] for s in samples]
    before = len(problem.tests)
    problem, info = filter_by_samples(problem, codes, verifier)
    stats.update(info, failed_reference=before - len(problem.tests), verified=bool(problem.reference))
    return problem


def _guarded(one, seed, *args):
    """One seed's LLM synthesis; a failure on this seed's data drops the seed, not the run."""
    try:
        return one(seed, *args)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError, RecordError) as exc:
        reason = f"synthesis failed: {type(exc).__name__}: {str(exc)[:200]}"
        return SynthOutcome(None, reason, {"method": args[3]}, [reason])


def llm_seed(seed, chat, verifier, cfg: SynthConfig, method: str, opts: LLMOptions, samples):
    """AceCoder-style: a problem and asserts from the model, kept when a trusted solution passes them."""
    from tdrl.synthesis.llm import build_prompt, problem_from_answer

    problem, errors, tokens = _ask(seed, chat, cfg, opts, build_prompt(seed, opts.tests), lambda t: problem_from_answer(seed, t))
    stats = {"method": method, "attempts": len(errors) + (problem is not None), "completion_tokens": tokens}
    if problem is None:
        return SynthOutcome(None, f"model answer unusable after {len(errors)} attempts: {errors[-1]}", stats, errors)
    stats.update(problem.meta.get("synth", {}), method=method)
    problem = _trust(problem, samples, verifier, stats)
    if method == "llm+reference" and problem.reference and problem.tests:
        extra = synthesize_reference(problem, verifier, cfg)
        if extra.problem is not None:
            problem = extra.problem
            stats["reference_stats"] = extra.stats
    problem.meta = {**problem.meta, "synth": stats}
    reason = None
    if not problem.reference and not opts.keep_unverified:
        reason = "no solution to check the tests against (give --solutions, or keep them with --keep-unverified)"
    elif len(problem.tests) < cfg.min_tests:
        reason = f"only {len(problem.tests)} tests survived (min {cfg.min_tests})"
    if reason is None:
        annotate(problem, verifier)
    return SynthOutcome(problem, reason, stats, errors)


def oracle_seed(seed, chat, verifier, cfg: SynthConfig, method: str, opts: LLMOptions, samples):
    """Differential testing: a brute force and an input generator from the model (see :mod:`.oracle`)."""
    from tdrl.synthesis.oracle import build_prompt, entry_of, parse_oracle_answer, synthesize_oracle

    n_inputs = cfg.candidates or 3 * cfg.tests_per_problem
    entry = entry_of(seed)
    answer, errors, tokens = _ask(seed, chat, cfg, opts, build_prompt(seed, n_inputs), lambda t: parse_oracle_answer(t, entry))
    stats = {"method": "oracle", "attempts": len(errors) + (answer is not None), "completion_tokens": tokens}
    if answer is None:
        return SynthOutcome(None, f"model answer unusable after {len(errors)} attempts: {errors[-1]}", stats, errors)
    outcome = synthesize_oracle(seed, answer, verifier, cfg, opts.max_disagreement)
    stats.update(outcome.stats)
    if outcome.problem is not None:
        outcome.problem.meta["synth"] = stats
    outcome.stats, outcome.errors = stats, errors
    return timed(outcome, verifier)
