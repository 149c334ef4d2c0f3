"""``--method reference``: tests from a reference solution, no LLM.

For each problem with a ``reference``: collect seed inputs (its call tests, asserts of the
form ``f(literals) == literal``, type hints), grow candidates by type-aware mutation, run
the reference on them in the sandbox (it may be model-written), drop inputs on which it
raises, times out or answers differently on a second run, and keep up to
``tests_per_problem`` inputs: first those that catch the most mutants of the reference
(greedy set cover), then inputs with outputs not yet covered, then a random sample of the rest.
"""

from __future__ import annotations

import ast
import random
from dataclasses import dataclass, field

from tdrl.execution.asserts import CallPlan, Unsupported, compile_assert
from tdrl.execution.values import encode, to_literal
from tdrl.records import Problem, Test
from tdrl.synthesis.inputs import grow_inputs, grow_stdin, seeds_from_hints
from tdrl.synthesis.mutants import make_mutants


@dataclass
class SynthConfig:
    tests_per_problem: int = 50
    candidates: int = 0  # 0: 3 x tests_per_problem
    min_tests: int = 5
    mutants: int = 16
    seed: int = 0
    keep_seed_tests: bool = True
    reference_timeout: float = 2.0  # per input, for the reference
    mutant_timeout: float = 0.05  # per input, for mutants (some loop forever)
    mutant_budget: float = 1.0  # whole run of one mutant over all candidates


@dataclass
class SynthOutcome:
    """The synthesised problem, or None with ``reason`` when the problem was dropped."""

    problem: Problem | None
    reason: str | None = None
    stats: dict = field(default_factory=dict)
    errors: list[str] | None = None  # the LLM methods: why each unusable answer was refused


def exact_literal(value) -> str | None:
    """``value`` as a Python literal that reads back equal (ints of any size), else None."""
    try:
        text = to_literal(value)
        return text if ast.literal_eval(text) == value or value != value else None
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None


def seed_inputs(problem: Problem) -> list[list]:
    """Argument lists from the problem's call tests, simple asserts and the reference's type hints."""
    seeds: list[list] = []
    for t in problem.tests:
        if t.type == "call":
            seeds.append(list(ast.literal_eval(t.input or "[]")))
        elif t.type == "assert":
            try:
                plan = compile_assert(t.code or "")
            except Unsupported:
                continue
            if isinstance(plan, CallPlan) and plan.fn == problem.entry_point:
                seeds.append(list(ast.literal_eval(plan.args)))
    if problem.reference and problem.entry_point:
        seeds += seeds_from_hints(problem.reference, problem.entry_point)
    return seeds


def output_signature(status_value: tuple[str, object]) -> str:
    """A run's (status, value) as a comparable text: ``!status`` for a failure, else the encoded value."""
    status, value = status_value
    if status != "ok":
        return f"!{status}"
    try:
        return repr(encode(value))
    except TypeError:
        return f"?{type(value).__name__}"


def synthesize_reference(problem: Problem, verifier, cfg: SynthConfig) -> SynthOutcome:
    """Synthesize call tests for one problem (see the module doc)."""
    stats: dict = {"method": "reference"}
    if not problem.reference:
        return SynthOutcome(None, "no reference solution", stats)
    if problem.tests and problem.tests[0].type == "stdio":
        return _synthesize_stdio(problem, verifier, cfg, stats)
    if not problem.entry_point:
        return SynthOutcome(None, "no entry_point: function tests need one", stats)
    seeds = seed_inputs(problem)
    if not seeds:
        return SynthOutcome(
            None, "no seed inputs (no call tests, no f(literals) == literal asserts, no usable type hints)", stats
        )
    rng = random.Random(f"{cfg.seed}:{problem.id}")
    candidates = grow_inputs(seeds, cfg.candidates or 3 * cfg.tests_per_problem, rng)
    texts = [t for t in (exact_literal(list(c)) for c in candidates) if t is not None]
    probe = Problem(
        problem.id, [Test("call", input=t, output="None") for t in texts], entry_point=problem.entry_point, prompt=problem.prompt
    )
    first = verifier.run_values(probe, problem.reference, timeout=cfg.reference_timeout, max_sample=30.0)
    ok = [i for i, (s, _) in enumerate(first) if s == "ok"]
    stats.update(seeds=len(seeds), candidates=len(texts), reference_failed=len(texts) - len(ok))
    if ok:
        again = verifier.run_values(
            Problem(problem.id, [probe.tests[i] for i in ok], entry_point=problem.entry_point, prompt=problem.prompt),
            problem.reference,
            timeout=cfg.reference_timeout,
            max_sample=30.0,
        )
        stable = [i for i, second in zip(ok, again) if output_signature(first[i]) == output_signature(second)]
    else:
        stable = []
    stats["nondeterministic"] = len(ok) - len(stable)
    kept = [(texts[i], first[i][1]) for i in stable]
    kept = [(inp, out) for inp, out in kept if exact_literal(out) is not None]

    chosen, mutant_stats = select_tests(problem, verifier, kept, cfg) if kept else ([], {})
    stats.update(mutant_stats)
    seed_tests = [t for t in problem.tests if t.type == "call"] if cfg.keep_seed_tests else []
    seen = {t.input for t in seed_tests}
    new = [Test("call", input=inp, output=exact_literal(out) or "None") for inp, out in chosen if inp not in seen]
    tests = seed_tests + new[: max(0, cfg.tests_per_problem - len(seed_tests))] if cfg.keep_seed_tests else new
    others = [t for t in problem.tests if t.type != "call"] if cfg.keep_seed_tests else []
    stats["tests"] = len(tests) + len(others)
    if len(tests) + len(others) < cfg.min_tests:
        return SynthOutcome(None, f"only {len(tests) + len(others)} tests survived (min {cfg.min_tests})", stats)
    meta = {**problem.meta, "synth": stats}
    out = Problem(
        problem.id, tests + others, prompt=problem.prompt, entry_point=problem.entry_point, reference=problem.reference, meta=meta
    )
    return SynthOutcome(out, None, stats)


def _choose(kills: list[set[int]], keys: list[str], n: int, rng: random.Random) -> tuple[list[int], set[int]]:
    """Greedy: inputs catching the most not-yet-caught mutants, then new outputs, then at random."""
    chosen: list[int] = []
    covered: set[int] = set()
    while len(chosen) < n:
        best = max((i for i in range(len(kills)) if i not in chosen), key=lambda i: len(kills[i] - covered), default=None)
        if best is None or not kills[best] - covered:
            break
        chosen.append(best)
        covered |= kills[best]
    outputs_seen = {keys[i] for i in chosen}
    for i in range(len(kills)):
        if len(chosen) >= n:
            break
        if i not in chosen and keys[i] not in outputs_seen:
            chosen.append(i)
            outputs_seen.add(keys[i])
    rest = [i for i in range(len(kills)) if i not in chosen]
    rng.shuffle(rest)  # spread the rest over the pool, not its first corner
    return chosen + rest[: max(0, n - len(chosen))], covered


def select_tests(problem: Problem, verifier, kept: list[tuple[str, object]], cfg: SynthConfig) -> tuple[list, dict]:
    """Greedy: inputs that catch the most mutants, then new output classes, then the rest."""
    mutants = make_mutants(problem.reference or "", limit=cfg.mutants, seed=cfg.seed) if cfg.mutants > 0 else []
    probe = Problem(
        problem.id,
        [Test("call", input=inp, output="None") for inp, _ in kept],
        entry_point=problem.entry_point,
        prompt=problem.prompt,
    )
    reference_sig = [output_signature(("ok", out)) for _, out in kept]
    kills: list[set[int]] = [set() for _ in kept]
    futures = [(m, verifier.submit_values(probe, code, cfg.mutant_timeout, cfg.mutant_budget)) for m, code in enumerate(mutants)]
    for m, fut in futures:
        for i, got in enumerate(fut.result()):
            if got[0] != "not_run" and output_signature(got) != reference_sig[i]:  # not run: unknown, not a kill
                kills[i].add(m)
    killable = set().union(*kills) if kills else set()
    original_inputs = {t.input for t in problem.tests if t.type == "call"}
    for t in problem.tests:
        if t.type == "assert":
            try:
                plan = compile_assert(t.code or "")
            except Unsupported:
                continue
            if isinstance(plan, CallPlan):
                original_inputs.add(exact_literal(list(ast.literal_eval(plan.args))))
    killed_by_original = set().union(*(kills[i] for i, (inp, _) in enumerate(kept) if inp in original_inputs)) if kills else set()
    chosen, covered = _choose(kills, reference_sig, cfg.tests_per_problem, random.Random(f"{cfg.seed}:{problem.id}:fill"))
    stats = {
        "mutants": len(mutants),
        "mutants_killable": len(killable),  # the others behave like the reference on every input tried
        "mutants_killed": len(covered),
        "mutation_score": round(len(covered) / len(killable), 4) if killable else None,
        "mutation_score_original": round(len(killed_by_original) / len(killable), 4) if killable else None,
        "distinct_outputs": len({reference_sig[i] for i in chosen}),
    }
    return [kept[i] for i in sorted(chosen)], stats


def _stdout_key(status_value: tuple[str, object]) -> str:
    status, value = status_value
    return " ".join(value.split()) if status == "ok" and isinstance(value, str) else f"!{status}"


def _synthesize_stdio(problem: Problem, verifier, cfg: SynthConfig, stats: dict) -> SynthOutcome:
    """The stdin/stdout variant: seeds are the tests' stdin texts, mutated token by token."""
    seeds = [t.stdin or "" for t in problem.tests]
    rng = random.Random(f"{cfg.seed}:{problem.id}")
    candidates = grow_stdin(seeds, cfg.candidates or 3 * cfg.tests_per_problem, rng)
    probe = Problem(problem.id, [Test("stdio", stdin=c, stdout="") for c in candidates])
    first = verifier.run_values(probe, problem.reference, timeout=cfg.reference_timeout, max_sample=30.0)
    ok = [i for i, (s, _) in enumerate(first) if s == "ok"]
    again = (
        verifier.run_values(
            Problem(problem.id, [probe.tests[i] for i in ok]), problem.reference, timeout=cfg.reference_timeout, max_sample=30.0
        )
        if ok
        else []
    )
    stable = [i for i, second in zip(ok, again) if _stdout_key(first[i]) == _stdout_key(second)]
    stats.update(
        seeds=len(seeds),
        candidates=len(candidates),
        reference_failed=len(candidates) - len(ok),
        nondeterministic=len(ok) - len(stable),
    )
    kept = [(candidates[i], first[i][1]) for i in stable]
    ref_keys = [" ".join(str(out).split()) for _, out in kept]
    mutants = make_mutants(problem.reference or "", limit=cfg.mutants, seed=cfg.seed) if cfg.mutants > 0 else []
    kills: list[set[int]] = [set() for _ in kept]
    kept_probe = Problem(problem.id, [Test("stdio", stdin=inp, stdout="") for inp, _ in kept])
    futures = (
        [(m, verifier.submit_values(kept_probe, code, cfg.mutant_timeout, cfg.mutant_budget)) for m, code in enumerate(mutants)]
        if kept
        else []
    )
    for m, fut in futures:
        for i, got in enumerate(fut.result()):
            if got[0] != "not_run" and _stdout_key(got) != ref_keys[i]:
                kills[i].add(m)
    killable = set().union(*kills) if kills else set()
    chosen, covered = _choose(kills, ref_keys, cfg.tests_per_problem, rng)
    stats.update(
        mutants=len(mutants),
        mutants_killable=len(killable),
        mutants_killed=len(covered),
        mutation_score=round(len(covered) / len(killable), 4) if killable else None,
        distinct_outputs=len({ref_keys[i] for i in chosen}),
    )
    originals = list(problem.tests) if cfg.keep_seed_tests else []
    seen = {t.stdin for t in originals}
    tests = originals + [
        Test("stdio", stdin=kept[i][0], stdout=str(kept[i][1])) for i in sorted(chosen) if kept[i][0] not in seen
    ]
    tests = tests[: max(cfg.tests_per_problem, len(originals))]
    stats["tests"] = len(tests)
    if len(tests) < cfg.min_tests:
        return SynthOutcome(None, f"only {len(tests)} tests survived (min {cfg.min_tests})", stats)
    out = Problem(problem.id, tests, prompt=problem.prompt, reference=problem.reference, meta={**problem.meta, "synth": stats})
    return SynthOutcome(out, None, stats)
