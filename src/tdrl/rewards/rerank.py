"""Best-of-N (``tdrl rerank``): pick one of N samples per problem and measure how often the pick passes.

Methods, each a rule for picking one sample of a set:

* ``reward_model``: the highest score of a trained reward model;
* ``agreement`` (CodeT / MBR-exec style, no reward model): every sample runs in the sandbox
  on generated inputs (mutations of the problem's test inputs, or inputs from its type
  hints; never the expected outputs); samples with identical outputs form a cluster, and
  the first sample of the largest cluster is picked (samples that fail on every input
  never win while any other sample exists);
* ``random``: the expected pass rate of a uniformly random pick (exact, not sampled);
* ``greedy``: the greedy (temperature 0) sample, when one is given; independent of N;
* ``oracle``: whether any sample passes (the upper bound of every picker).

For each N in 1, 2, 4, ... up to the samples per problem, the reward-model and agreement
picks are made on ``subsets`` random subsets of size N (one, the whole set, at the largest
N) and averaged; ``random`` and ``oracle`` are exact expectations over all subsets
(``oracle`` at N is the unbiased pass@N). At N=1 every method picks the only sample, so
all of them equal ``random`` by construction; that column is reported exactly so, not as
a noisy estimate.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from tdrl.errors import ConfigError, NoData
from tdrl.evaluation.passk import pass_at_k
from tdrl.records import Problem, Sample, Test
from tdrl.synthesis.inputs import grow_inputs, grow_stdin, seeds_from_hints
from tdrl.synthesis.reference import exact_literal, output_signature, seed_inputs

METHODS = ("greedy", "random", "reward_model", "agreement", "oracle")


@dataclass
class Candidate:
    """One sample of a problem: whether it passes, and what the pickers know about it."""

    sample_id: str
    passed: bool
    score: float | None = None  # reward model
    signature: tuple | None = None  # outputs on the generated inputs


@dataclass
class ProblemCandidates:
    problem_id: str
    candidates: list[Candidate] = field(default_factory=list)
    greedy_passed: bool | None = None


def agreement_probe(problem: Problem, n_inputs: int, seed: int = 0) -> Problem | None:
    """A problem whose tests are generated inputs without expected outputs (None when no inputs can be made)."""
    rng = random.Random(f"{seed}:{problem.id}:agreement")
    if problem.tests and problem.tests[0].type == "stdio":
        stdins = grow_stdin([t.stdin or "" for t in problem.tests], n_inputs, rng)
        return Problem(problem.id, [Test("stdio", stdin=s, stdout="") for s in stdins]) if stdins else None
    if not problem.entry_point:
        return None
    seeds = seed_inputs(problem) + seeds_from_hints(problem.prompt or "", problem.entry_point)
    if not seeds:
        return None
    texts = [t for t in (exact_literal(list(c)) for c in grow_inputs(seeds, n_inputs, rng)) if t is not None]
    if not texts:
        return None
    return Problem(
        problem.id, [Test("call", input=t, output="None") for t in texts], entry_point=problem.entry_point, prompt=problem.prompt
    )


def signatures(probe: Problem, codes: list[str], verifier, timeout: float = 1.0, budget: float = 10.0) -> list[tuple]:
    """Each program's outputs on the probe's inputs, as comparable keys (errors included)."""
    futures = [verifier.submit_values(probe, code, timeout, budget) for code in codes]
    stdio = probe.tests and probe.tests[0].type == "stdio"
    out = []
    for fut in futures:
        values = fut.result()
        if stdio:
            out.append(tuple(" ".join(v.split()) if s == "ok" and isinstance(v, str) else f"!{s}" for s, v in values))
        else:
            out.append(tuple(output_signature(sv) for sv in values))
    return out


def _all_errors(sig: tuple | None) -> bool:
    return sig is None or all(isinstance(x, str) and x.startswith("!") for x in sig)


def pick(method: str, cands: list[Candidate]) -> float:
    """Pass (1.0) or not of the pick of ``method`` among ``cands``; ``random`` gives the expectation."""
    if method == "oracle":
        return float(any(c.passed for c in cands))
    if method == "random":
        return sum(c.passed for c in cands) / len(cands)
    if method == "reward_model":
        best = max(range(len(cands)), key=lambda i: (cands[i].score if cands[i].score is not None else float("-inf"), -i))
        return float(cands[best].passed)
    if method == "agreement":
        usable = [c for c in cands if not _all_errors(c.signature)] or cands
        sizes: dict = {}
        for c in usable:
            sizes[c.signature] = sizes.get(c.signature, 0) + 1
        best = max(sizes.values())
        return float(next(c for c in usable if sizes[c.signature] == best).passed)
    raise ConfigError(f"unknown method {method!r}")


def best_of_n(problems: list[ProblemCandidates], methods: list[str], subsets: int = 32, seed: int = 0) -> dict:
    """``{"n": [...], "methods": {method: [pass rate of the pick at each n]}, "problems": count}``."""
    n_max = min(len(p.candidates) for p in problems)
    ns = [1]
    while ns[-1] * 2 < n_max:
        ns.append(ns[-1] * 2)
    if ns[-1] != n_max:
        ns.append(n_max)
    curves: dict[str, list[float]] = {m: [] for m in methods}
    for n in ns:
        totals = dict.fromkeys(methods, 0.0)
        if n == 1:  # one sample, one pick: every method's expectation is the random pick's, exactly
            exact = sum(sum(x.passed for x in p.candidates) / len(p.candidates) for p in problems) / len(problems)
            for m in methods:
                exact_m = sum(float(bool(p.greedy_passed)) for p in problems) / len(problems) if m == "greedy" else exact
                curves[m].append(round(exact_m, 6))
            continue
        for p in problems:
            rng = random.Random(f"{seed}:{p.problem_id}:{n}")
            draws = [p.candidates[:n]] if n == len(p.candidates) else [rng.sample(p.candidates, n) for _ in range(subsets)]
            for m in methods:
                if m == "greedy":
                    totals[m] += float(bool(p.greedy_passed))
                elif m in ("oracle", "random"):  # exact expectations over all subsets of size n
                    c = sum(x.passed for x in p.candidates)
                    total = len(p.candidates)
                    totals[m] += pass_at_k(total, c, n) if m == "oracle" else c / total
                else:
                    totals[m] += sum(pick(m, d) for d in draws) / len(draws)
        for m in methods:
            curves[m].append(round(totals[m] / len(problems), 6))
    return {"n": ns, "methods": curves, "problems": len(problems)}


def collect(
    problems: dict[str, Problem],
    scored: list[tuple[Sample, dict]],
    verifier=None,
    scorer=None,
    greedy: dict[str, bool] | None = None,
    n_inputs: int = 20,
    seed: int = 0,
    progress: bool = False,
) -> tuple[list[ProblemCandidates], dict]:
    """Group samples by problem, score them with the reward model, run them for agreement."""
    from tdrl.execution.run import ProgressBar

    by_problem: dict[str, list[tuple[Sample, dict]]] = {}
    for sample, result in scored:
        if result.get("status") != "infra_error":
            by_problem.setdefault(sample.problem_id, []).append((sample, result))
    out, info = [], {"agreement_without_inputs": 0}
    with ProgressBar(progress, len(by_problem), "rerank", "problems") as advance:
        for pid, items in by_problem.items():
            problem = problems[pid]
            cands = [Candidate(s.sample_id, r.get("status") == "pass") for s, r in items]
            if scorer is not None:
                prompts = [_prompt(problem, s) for s, _ in items]
                for c, score in zip(cands, scorer(prompts, [s.completion for s, _ in items])):
                    c.score = score
            if verifier is not None:
                probe = agreement_probe(problem, n_inputs, seed)
                if probe is None:
                    info["agreement_without_inputs"] += 1
                else:
                    codes = [r.get("code") or s.completion for s, r in items]
                    for c, sig in zip(cands, signatures(probe, codes, verifier)):
                        c.signature = sig
            out.append(ProblemCandidates(pid, cands, (greedy or {}).get(pid)))
            advance()
    return out, info


def _prompt(problem: Problem, sample: Sample):
    from tdrl.rewards.pairs import prompt_of

    return prompt_of(problem, sample, conversational=False)


@dataclass
class RerankOptions:
    """What ``tdrl rerank`` compares and how it verifies (its flags)."""

    results: str | Path | None = None  # results JSONL of ``tdrl verify`` (default: verify here)
    reward_model: str | Path | None = None  # a ``tdrl train-rm`` folder
    greedy: str | Path | None = None  # greedy samples JSONL, one per problem
    agreement: bool = True  # rank by agreement of outputs on generated inputs
    n_inputs: int = 20  # generated inputs per problem for agreement
    subsets: int = 32  # random subsets averaged for each N below the full set
    seed: int = 0
    workers: int | None = None
    sandbox: str = "auto"
    progress: bool = True
    skip_unknown: bool = False


def rerank_files(problems_path, samples_path, report_dir, options: RerankOptions | None = None) -> dict:
    """``tdrl rerank``: ``best_of_n.json``, ``best_of_n.png`` and a printed table in ``report_dir``.

    The report's ``warnings`` say when a comparison carries no signal (one sample per
    problem, a reward model that scores every sample alike).
    """
    import json

    from tdrl.execution import Verifier
    from tdrl.io import read_problems, read_samples, warn
    from tdrl.rewards.pairs import score_samples

    o = options or RerankOptions()
    results_path, reward_model, greedy_path, skip_unknown = o.results, o.reward_model, o.greedy, o.skip_unknown
    workers, sandbox, agreement, seed = o.workers, o.sandbox, o.agreement, o.seed
    problems = {p.id: p for p in read_problems(problems_path)}
    skipped: dict[str, int] = {}
    samples = list(read_samples(samples_path, set(problems), skip_unknown, skipped))
    if not samples:
        raise NoData(
            f"{samples_path}: no samples" + (f" of known problems ({sum(skipped.values())} left out)" if skipped else "")
        )
    if reward_model is not None and not Path(reward_model).is_dir():  # before any verification
        raise FileNotFoundError(f"reward model {reward_model}: not a model folder (train one with `tdrl train-rm`)")
    greedy = None
    if greedy_path is not None:
        greedy_samples = list(read_samples(greedy_path, set(problems), skip_unknown))
        greedy = {
            s.problem_id: r.get("status") == "pass" for s, r in score_samples(problems, greedy_samples, None, workers, sandbox)
        }
    scored = score_samples(problems, samples, results_path, workers, sandbox)
    scorer = None
    conversational = False
    if reward_model is not None:
        from tdrl.rewards.model import RewardModelScorer

        scorer = RewardModelScorer(str(reward_model))
        meta = Path(reward_model) / "metrics.json"
        conversational = meta.exists() and json.loads(meta.read_text()).get("format") == "conversational"
    with Verifier(workers=workers, sandbox=sandbox) if agreement else _Nothing() as verifier:
        cands, info = collect(
            problems,
            scored,
            verifier,
            _Conversational(scorer) if conversational and scorer else scorer,
            greedy,
            o.n_inputs,
            seed,
            o.progress,
        )
    methods = [
        m for m in METHODS if (m != "greedy" or greedy) and (m != "reward_model" or scorer) and (m != "agreement" or agreement)
    ]
    report = best_of_n(cands, methods, o.subsets, seed)
    report.update(info, samples=len(samples), reward_model=str(reward_model) if reward_model else None)
    report["notes"] = ["N=1: every method picks the only sample, so all equal the random pick by construction"]
    if skipped:
        report["skipped_unknown"] = sum(skipped.values())
    report["warnings"] = []
    if report["n"][-1] == 1:
        report["warnings"].append(
            warn(
                f"every problem has 1 sample (of {len(samples)}): best-of-N compares nothing at N=1; "
                "sample several per problem (`tdrl sample -n 8`)"
            )
        )
    scores = [c.score for p in cands for c in p.candidates if c.score is not None]
    if scores and max(scores) - min(scores) < 1e-9:
        report["warnings"].append(
            warn(
                f"the reward model gave all {len(scores)} samples the same score ({scores[0]:.4g}): its picks are the first sample's"
            )
        )
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "best_of_n.json").write_text(json.dumps(report, indent=1) + "\n")
    plot_best_of_n(report, report_dir / "best_of_n.png")
    return report


class _Nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return None


class _Conversational:
    """Feeds a scorer trained on conversational pairs the prompt as one user message."""

    def __init__(self, scorer):
        self.scorer = scorer

    def __call__(self, prompts, completions):
        return self.scorer([[{"role": "user", "content": p}] for p in prompts], completions)


def format_table(report: dict) -> str:
    """Pass rate of the pick per method (rows) and N (columns), as plain text."""
    head = f"{'method':<14}" + "".join(f"{'N=' + str(n):>9}" for n in report["n"])
    rows = [f"{m:<14}" + "".join(f"{v:>9.3f}" for v in vals) for m, vals in report["methods"].items()]
    return "\n".join([head, *rows, "(N=1: every method picks the only sample, equal to random by construction)"])


def plot_best_of_n(report: dict, path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for method, values in report["methods"].items():
        style = {"linestyle": "--"} if method in ("oracle", "random", "greedy") else {"marker": "o"}
        ax.plot(report["n"], values, label=method, **style)
    ax.set_xscale("log", base=2)
    ax.set_xticks(report["n"], [str(n) for n in report["n"]])
    ax.set_xlabel("N (samples per problem)")
    ax.set_ylabel("pass rate of the picked sample")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"best-of-N over {report['problems']} problems")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
