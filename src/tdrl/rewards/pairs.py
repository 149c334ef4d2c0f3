"""Preference pairs from verified samples (``tdrl pairs``), AceCoder's rule by default.

For each problem and each policy model, samples are deduplicated by their extracted
program, then every (chosen, rejected) pair is formed with

* ``chosen`` pass rate >= ``min_chosen`` (0.8),
* ``chosen - rejected`` >= ``min_gap`` (0.4),
* ``rejected`` pass rate > ``min_rejected`` (0: programs that pass nothing are mostly
  syntax or import failures, which teach a reward model little),

at most ``max_per_problem`` of them (a seeded random choice, so no problem dominates).
``infra_error`` results are never paired. A pair is TRL's preference format, standard
(``prompt``/``chosen``/``rejected`` strings) or conversational (lists of messages), plus
provenance fields (problem, sample ids, pass rates).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from itertools import product

from tdrl.errors import NoData
from tdrl.io import read_results  # noqa: F401  (its home was here; old imports keep working)
from tdrl.records import Problem, Sample
from tdrl.sampling.prompts import instruction


@dataclass
class PairRule:
    min_chosen: float = 0.8
    min_gap: float = 0.4
    min_rejected: float = 0.0  # rejected pass rate must be above this
    max_per_problem: int | None = None
    seed: int = 0


@dataclass
class PairStats:
    """Per problem and model: samples seen, distinct programs, candidates on each side, pairs."""

    problems: dict[str, dict] = field(default_factory=dict)

    def add(self, problem_id: str, model: str, **counts) -> None:
        self.problems.setdefault(problem_id, {})[model] = counts

    def totals(self) -> dict:
        rows = [c for per_model in self.problems.values() for c in per_model.values()]
        total = {k: sum(r[k] for r in rows) for k in ("samples", "distinct", "chosen", "rejected", "pairs")}
        total["problems"] = len(self.problems)
        total["problems_with_pairs"] = sum(any(c["pairs"] for c in m.values()) for m in self.problems.values())
        return total


def prompt_of(problem: Problem, sample: Sample, conversational: bool):
    """What the policy was shown: the instruct message or the raw prompt, as TRL expects it."""
    fmt = sample.extra.get("prompt_format", "instruct")
    text = instruction(problem) if fmt == "instruct" else (problem.prompt or "")
    return [{"role": "user", "content": text}] if conversational else text


def _response(sample: Sample, conversational: bool):
    return [{"role": "assistant", "content": sample.completion}] if conversational else sample.completion


def build_pairs(
    problems: dict[str, Problem],
    scored: list[tuple[Sample, dict]],
    rule: PairRule | None = None,
    conversational: bool = False,
) -> tuple[list[dict], PairStats]:
    """Pairs from ``(sample, result)`` tuples (``result`` as written by ``tdrl verify``)."""
    rule = rule or PairRule()
    groups: dict[tuple[str, str], list[tuple[Sample, dict]]] = {}
    for sample, result in scored:
        if result.get("status") == "infra_error":
            continue
        groups.setdefault((sample.problem_id, str(sample.extra.get("model", ""))), []).append((sample, result))
    pairs: list[dict] = []
    stats = PairStats()
    for (pid, model), items in sorted(groups.items()):
        distinct, seen = [], set()
        for sample, result in items:
            key = " ".join((result.get("code") or sample.completion).split())
            if key not in seen:
                seen.add(key)
                distinct.append((sample, float(result["pass_rate"])))
        chosen = [(s, r) for s, r in distinct if r >= rule.min_chosen]
        rejected = [(s, r) for s, r in distinct if r > rule.min_rejected]
        combos = [(c, r) for c, r in product(chosen, rejected) if c[1] - r[1] >= rule.min_gap - 1e-9]
        n_rejected = len({r[0].sample_id for _, r in combos})
        if rule.max_per_problem is not None and len(combos) > rule.max_per_problem:
            combos = random.Random(f"{rule.seed}:{pid}:{model}").sample(combos, rule.max_per_problem)
        problem = problems[pid]
        for (cs, cr), (rs, rr) in combos:
            pairs.append(
                {
                    "prompt": prompt_of(problem, cs, conversational),
                    "chosen": _response(cs, conversational),
                    "rejected": _response(rs, conversational),
                    "problem_id": pid,
                    "chosen_id": cs.sample_id,
                    "rejected_id": rs.sample_id,
                    "chosen_pass_rate": cr,
                    "rejected_pass_rate": rr,
                    "pass_rate_gap": round(cr - rr, 6),
                    "model": model,
                }
            )
        stats.add(
            pid,
            model,
            samples=len(items),
            distinct=len(distinct),
            chosen=len(chosen),
            rejected=n_rejected,
            pairs=len(combos),
        )
    return pairs, stats


def no_pairs_warning(scored: list[tuple[Sample, dict]], rule: PairRule, stats: PairStats, prefix: str = "--") -> str | None:
    """Why the rule found no pairs (or pairs from one problem only), with the numbers and the settings to change."""
    totals = stats.totals()
    if totals["problems_with_pairs"] >= 2:
        return None
    usable = [float(r["pass_rate"]) for _, r in scored if r.get("status") != "infra_error"]
    chosen = sum(x >= rule.min_chosen for x in usable)
    rejectable = sum(x > rule.min_rejected for x in usable)
    zero = sum(x == 0 for x in usable)
    opt = (lambda name: f"{prefix}{name.replace('_', '-')}") if prefix == "--" else (lambda name: f"{prefix}{name}")
    head = (
        f"{stats.totals()['pairs']} pairs from {totals['problems_with_pairs']} of {totals['problems']} problems "
        f"({len(usable)} verified samples: {chosen} pass >= {opt('min_chosen')} {rule.min_chosen}, "
        f"{rejectable} pass > {opt('min_rejected')} {rule.min_rejected}, {zero} pass no test)"
    )
    if totals["pairs"] and totals["problems_with_pairs"] == 1:
        return (
            head
            + "; a reward model's held-out split needs pairs from 2 problems or more: sample more per problem or loosen the rule"
        )
    advice = []
    if rejectable < len(usable) and zero:
        advice.append(f"{opt('min_rejected')} -1 also pairs programs that pass no test")
    if chosen == 0:
        advice.append(f"lower {opt('min_chosen')} (no sample reaches it)")
    advice.append(f"lower {opt('min_gap')} (now {rule.min_gap}) or sample more programs per problem")
    return head + "; " + "; ".join(advice)


def score_samples(problems: dict[str, Problem], samples: list[Sample], results_path=None, workers=None, sandbox="auto"):
    """``(sample, result dict)`` for every sample: from ``results_path``, or verified here when it is None."""
    if results_path is not None:
        results = read_results(results_path)
        missing = [s.key for s in samples if s.key not in results]
        if missing:
            raise NoData(f"{results_path}: no result for {len(missing)} samples, e.g. {missing[0]} (run tdrl verify)")
        return [(s, results[s.key]) for s in samples]
    from tdrl.execution import Verifier

    with Verifier(workers=workers, sandbox=sandbox) as verifier:
        results = {(r.problem_id, r.sample_id): r.to_dict() for r in verifier.map(problems, samples)}
    return [(s, results[s.key]) for s in samples]


def pairs_files(
    problems_path,
    samples_path,
    out_path,
    results_path=None,
    rule: PairRule | None = None,
    conversational: bool = False,
    dataset_dir=None,
    workers: int | None = None,
    sandbox: str = "auto",
    skip_unknown: bool = False,
) -> tuple[int, dict]:
    """``tdrl pairs``: write the pairs (JSONL, optionally a ``datasets`` folder) and ``<out>.stats.json``."""
    import json
    from pathlib import Path

    from tdrl.io import read_problems, read_samples, warn, write_jsonl

    problems = {p.id: p for p in read_problems(problems_path)}
    skipped: dict[str, int] = {}
    samples = list(read_samples(samples_path, set(problems), skip_unknown, skipped))
    scored = score_samples(problems, samples, results_path, workers, sandbox)
    rule = rule or PairRule()
    pairs, stats = build_pairs(problems, scored, rule, conversational)
    out_path = Path(out_path)
    write_jsonl(out_path, pairs)
    totals = stats.totals()
    if skipped:
        totals["skipped_unknown"] = sum(skipped.values())
    message = no_pairs_warning(scored, rule, stats)
    stats_path = out_path.with_name(out_path.name + ".stats.json")
    report = {"totals": totals, "problems": stats.problems, "warnings": [warn(message)] if message else []}
    stats_path.write_text(json.dumps(report, indent=1) + "\n")
    if dataset_dir is not None:
        from datasets import Dataset

        Dataset.from_list(pairs).save_to_disk(str(dataset_dir))
    return len(pairs), totals


def mine_hard_negatives(
    problems: dict[str, Problem],
    scored: list[tuple[Sample, dict]],
    scorer,
    top_fraction: float = 0.5,
    conversational: bool = False,
) -> list[dict]:
    """Pairs that correct the reward model's mistakes (RewardRanker's hard negatives).

    Per problem, the wrong programs (not passing every test; infrastructure failures left
    out) are ranked by the reward model's score, and the top ``top_fraction`` of them (the
    wrong programs it likes best) are each paired against the correct program it likes
    least, so every pair is one the model currently gets wrong or nearly wrong. Problems
    without a correct program give no pairs.
    """
    by_problem: dict[str, list[tuple[Sample, dict]]] = {}
    for sample, result in scored:
        if result.get("status") != "infra_error":
            by_problem.setdefault(sample.problem_id, []).append((sample, result))
    pairs = []
    for pid, items in sorted(by_problem.items()):
        problem = problems[pid]
        scores = scorer([prompt_of(problem, s, False) for s, _ in items], [s.completion for s, _ in items])
        right = [(score, s, r) for score, (s, r) in zip(scores, items) if r["status"] == "pass"]
        wrong = [(score, s, r) for score, (s, r) in zip(scores, items) if r["status"] != "pass"]
        if not right or not wrong:
            continue
        wrong.sort(key=lambda x: -x[0])
        keep = wrong[: max(1, round(len(wrong) * top_fraction))]
        c_score, cs, cr = min(right, key=lambda x: x[0])
        for w_score, ws, wr in keep:
            pairs.append(
                {
                    "prompt": prompt_of(problem, cs, conversational),
                    "chosen": _response(cs, conversational),
                    "rejected": _response(ws, conversational),
                    "problem_id": pid,
                    "chosen_id": cs.sample_id,
                    "rejected_id": ws.sample_id,
                    "chosen_pass_rate": float(cr["pass_rate"]),
                    "rejected_pass_rate": float(wr["pass_rate"]),
                    "pass_rate_gap": round(float(cr["pass_rate"]) - float(wr["pass_rate"]), 6),
                    "model": str(cs.extra.get("model", "")),
                    "source": "hard_negative",
                    "score_gap": round(c_score - w_score, 6),  # negative: the model ranks the wrong one higher
                }
            )
    return pairs
