"""``--method oracle`` (differential testing): a brute force checks the efficient solution.

An LLM writes, for each seed, a naive brute-force solution (obviously right, slow is fine)
and ``generate_inputs(seed)``: a function returning a list of small argument lists. Both
run in the sandbox like any model-written code. The brute force's outputs on those inputs
become ``call`` tests. When the seed has its own (efficient) solution, it runs on the same
tests: every input where the two disagree is reported, with both answers, and the
problem is dropped unless the share of disagreements is at most ``max_disagreement``
(disagreeing tests are never kept: which side is wrong is unknown). Without a seed
solution the brute force becomes the problem's reference.

Expected answer: ``{"entry_point": "f", "brute_force": "def f(...): ...",
"generator": "def generate_inputs(seed): ..."}``; fenced Python blocks that define the
entry point and ``generate_inputs`` are accepted too.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass

from tdrl.execution.values import values_equal
from tdrl.records import Problem, Test
from tdrl.synthesis.llm import ParseError, Seed, json_candidates
from tdrl.synthesis.reference import SynthConfig, SynthOutcome, exact_literal, output_signature, select_tests

INSTRUCTION = (
    "Task:\n{instruction}\n{solution}\n"
    "Write two Python functions for testing solutions of this task.\n"
    "1. `{entry}`: a brute-force solution that is obviously correct; simple and slow is fine "
    "(try all possibilities).\n"
    "2. `generate_inputs(seed)`: returns a list of {n} small, varied argument lists for `{entry}` "
    "(each a list of positional arguments), built with `random.Random(seed)`, edge cases included.\n"
    'Reply with one JSON object and nothing else: {{"entry_point": "{entry}", "brute_force": "...", "generator": "..."}}'
)
GENERATOR = "generate_inputs"


@dataclass
class OracleAnswer:
    entry_point: str
    brute_force: str
    generator: str


def entry_of(seed: Seed) -> str | None:
    """The seed's function name: its ``entry_point``, else the one top-level function of its solution."""
    if seed.entry_point:
        return seed.entry_point
    if not seed.solution:
        return None
    try:
        tree = ast.parse(seed.solution)
    except SyntaxError:
        return None
    names = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return names[-1] if names else None


def build_prompt(seed: Seed, n_inputs: int) -> list[dict]:
    solution = f"\nAn efficient solution, to be tested:\n```python\n{seed.solution}\n```" if seed.solution else ""
    entry = entry_of(seed) or "solve"
    content = INSTRUCTION.format(instruction=seed.instruction, solution=solution, entry=entry, n=n_inputs)
    return [{"role": "user", "content": content}]


def _defines(code: str, name: str) -> bool:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    return any(isinstance(n, ast.FunctionDef) and n.name == name for n in tree.body)


def parse_oracle_answer(text: str, entry: str | None) -> OracleAnswer:
    """The brute force and the generator from a model's answer, or :class:`ParseError`."""
    obj = None
    for cand in json_candidates(text):
        try:
            value = json.loads(cand)
        except ValueError:
            continue
        if isinstance(value, dict):
            obj = value
            break
    if obj is not None:
        entry = obj.get("entry_point") if isinstance(obj.get("entry_point"), str) else entry
        brute, gen = obj.get("brute_force"), obj.get("generator")
    else:  # fenced Python blocks: whichever defines what
        blocks = re.findall(r"```(?:python|py)?\s*\n(.*?)```", text, re.S)
        gen = next((b for b in blocks if _defines(b, GENERATOR)), None)
        brute = next((b for b in blocks if entry and _defines(b, entry)), None)
    if not entry or not entry.isidentifier():
        raise ParseError("no entry point for the brute force")
    if not isinstance(brute, str) or not _defines(brute, entry):
        raise ParseError(f"no brute force defining {entry}()")
    if not isinstance(gen, str) or not _defines(gen, GENERATOR):
        raise ParseError(f"no input generator defining {GENERATOR}(seed)")
    return OracleAnswer(entry, brute, gen)


def generate_inputs(answer: OracleAnswer, verifier, seed: int, limit: int, timeout: float = 5.0) -> tuple[list[str], str | None]:
    """Run the model's generator in the sandbox; the distinct argument lists as literals, or an error."""
    probe = Problem("__generator__", [Test("call", input=f"[{seed}]", output="None")], entry_point=GENERATOR)
    status, value = verifier.run_values(probe, answer.generator, timeout=timeout, max_sample=timeout)[0]
    if status != "ok":
        return [], f"the input generator failed: {status}: {str(value)[:200]}"
    if not isinstance(value, (list, tuple)):
        return [], f"the input generator returned {type(value).__name__}, not a list of argument lists"
    texts, seen = [], set()
    for args in value:
        args = list(args) if isinstance(args, (list, tuple)) else [args]
        text = exact_literal(args)
        if text is not None and text not in seen:
            seen.add(text)
            texts.append(text)
        if len(texts) >= limit:
            break
    return texts, None if texts else "the input generator returned no usable inputs"


def synthesize_oracle(
    seed: Seed, answer: OracleAnswer, verifier, cfg: SynthConfig, max_disagreement: float = 0.0
) -> SynthOutcome:
    """Tests from the brute force on generated inputs; disagreements with the seed's solution reported."""
    stats: dict = {"method": "oracle"}
    inputs, error = generate_inputs(answer, verifier, cfg.seed, cfg.candidates or 3 * cfg.tests_per_problem)
    stats["inputs"] = len(inputs)
    if error:
        return SynthOutcome(None, error, stats)
    probe = Problem(seed.id, [Test("call", input=t, output="None") for t in inputs], entry_point=answer.entry_point)
    first = verifier.run_values(probe, answer.brute_force, timeout=cfg.reference_timeout, max_sample=60.0)
    ok = [i for i, (s, _) in enumerate(first) if s == "ok"]
    again = verifier.run_values(
        Problem(seed.id, [probe.tests[i] for i in ok], entry_point=answer.entry_point),
        answer.brute_force,
        timeout=cfg.reference_timeout,
        max_sample=60.0,
    )
    stable = [i for i, second in zip(ok, again) if output_signature(first[i]) == output_signature(second)]
    stats.update(brute_force_failed=len(inputs) - len(ok), nondeterministic=len(ok) - len(stable))
    kept = [(inputs[i], first[i][1]) for i in stable if exact_literal(first[i][1]) is not None]
    if seed.solution:
        kept, disagreements = _compare(seed, answer, kept, verifier, cfg)
        stats["disagreements"] = len(disagreements)
        stats["disagreement_examples"] = disagreements[:5]
        share = len(disagreements) / (len(kept) + len(disagreements)) if kept or disagreements else 0.0
        if disagreements and share > max_disagreement:
            return SynthOutcome(
                None,
                f"brute force and solution disagree on {len(disagreements)} of {len(kept) + len(disagreements)} inputs",
                stats,
            )
    reference = seed.solution or answer.brute_force
    base = Problem(seed.id, [], prompt=seed.instruction, entry_point=answer.entry_point, reference=reference)
    chosen, mutant_stats = select_tests(base, verifier, kept, cfg) if kept else ([], {})
    stats.update(mutant_stats, reference_from="seed" if seed.solution else "brute_force")
    tests = [Test("call", input=inp, output=exact_literal(out) or "None") for inp, out in chosen]
    stats["tests"] = len(tests)
    if len(tests) < cfg.min_tests:
        return SynthOutcome(None, f"only {len(tests)} tests survived (min {cfg.min_tests})", stats)
    meta = {"synth": stats, "brute_force": answer.brute_force}
    return SynthOutcome(
        Problem(seed.id, tests, prompt=seed.instruction, entry_point=answer.entry_point, reference=reference, meta=meta),
        None,
        stats,
    )


def _compare(seed: Seed, answer: OracleAnswer, kept: list, verifier, cfg: SynthConfig) -> tuple[list, list[dict]]:
    """Split the brute force's (input, output) pairs into those the seed's solution agrees with and the rest."""
    probe = Problem(seed.id, [Test("call", input=inp, output="None") for inp, _ in kept], entry_point=answer.entry_point)
    got = verifier.run_values(probe, seed.solution, timeout=cfg.reference_timeout, max_sample=60.0)
    agree, disagree = [], []
    for (inp, out), mine in zip(kept, got):
        if mine[0] == "ok" and values_equal(mine[1], out, atol=1e-6):
            agree.append((inp, out))
        else:
            solution = _shown(mine[1]) if mine[0] == "ok" else f"{mine[0]}: {_shown(mine[1])}"
            disagree.append({"input": inp, "brute_force": _shown(out), "solution": solution})
    return agree, disagree


def _shown(value, limit: int = 200) -> str:
    """A short readable form of a value for reports (ints past Python's digit limit in hex)."""
    text = exact_literal(value)
    if text is None:
        try:
            text = repr(value)
        except ValueError:
            text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
