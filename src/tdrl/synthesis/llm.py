"""``--method llm`` (AceCoder-style): an LLM turns each seed into a problem plus ~20 asserts.

A seed is an instruction, optionally with a solution: ``{"id", "instruction", "solution"?}``
(``prompt``/``reference`` are accepted as the same fields). The model is asked for one
JSON object ``{"problem", "entry_point", "tests": ["assert ...", ...]}``. Its answer is
parsed leniently (a fenced block, the outermost braces, a Python dict literal, and as a
last resort the ``assert`` lines of the text); an answer that still yields no problem or
no tests is retried with another seed, then recorded as a failure with the reason, never
raised. When the seed has a solution, only the tests it passes in the sandbox are kept.
"""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from dataclasses import dataclass

from tdrl.io import InputError, iter_jsonl
from tdrl.records import Problem, Test

INSTRUCTION = (
    "Rewrite the coding task below as a self-contained programming problem that a single Python function solves. "
    "State the function's name, arguments and return value in the problem. Then write {n} independent assert statements "
    "that check the function on varied inputs, including edge cases.\n"
    'Reply with one JSON object and nothing else: {{"problem": "...", "entry_point": "function_name", "tests": ["assert ...", ...]}}\n\n'
    "Task:\n{instruction}\n{solution}"
)


@dataclass
class Seed:
    id: str
    instruction: str
    solution: str | None = None
    entry_point: str | None = None


def read_seeds(path) -> list[Seed]:
    """Seeds JSONL: ``id``, ``instruction`` (or ``prompt``), optional ``solution`` (or ``reference``), ``entry_point``."""
    seeds = []
    for lineno, d in iter_jsonl(path):
        if not isinstance(d, dict):
            raise InputError(path, lineno, None, "expected an object")
        sid = d.get("id")
        text = d.get("instruction") if d.get("instruction") is not None else d.get("prompt")
        if not isinstance(sid, str):
            raise InputError(path, lineno, "id", "missing")
        if not isinstance(text, str):
            raise InputError(path, lineno, "instruction", "missing (or give prompt)")
        solution = d.get("solution") if d.get("solution") is not None else d.get("reference")
        if solution is not None and not isinstance(solution, str):
            raise InputError(path, lineno, "solution", "expected a string")
        entry = d.get("entry_point")
        if entry is not None and not (isinstance(entry, str) and entry.isidentifier()):
            raise InputError(path, lineno, "entry_point", "expected a function name")
        seeds.append(Seed(sid, text, solution, entry))
    return seeds


class ParseError(ValueError):
    pass


def json_candidates(text: str) -> list[str]:
    """Texts in a model answer that may hold a JSON object: fenced blocks first, then the outermost braces."""
    fenced = re.findall(r"```(?:json|python)?\s*\n(.*?)```", text, re.S)
    out = [f for f in fenced if "{" in f]
    first, last = text.find("{"), text.rfind("}")
    if 0 <= first < last:
        out.append(text[first : last + 1])
    return out


def _valid_asserts(items) -> list[str]:
    tests, seen = [], set()
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, str):
            continue
        code = item.strip()
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        if len(tree.body) == 1 and isinstance(tree.body[0], ast.Assert) and code not in seen:
            seen.add(code)
            tests.append(code)
    return tests


def _entry_from_asserts(tests: list[str]) -> str | None:
    names = Counter()
    for code in tests:
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id not in dir(__builtins__):
                names[node.func.id] += 1
    return names.most_common(1)[0][0] if names else None


def parse_answer(text: str, default_problem: str | None = None) -> tuple[str, str, list[str]]:
    """``(problem, entry_point, asserts)`` from a model's answer, or :class:`ParseError`.

    Without a problem statement in the answer, ``default_problem`` (the seed's instruction)
    stands in for it, so that a model that only writes asserts still yields a problem.
    """
    obj = None
    for cand in json_candidates(text):
        for loader in (json.loads, ast.literal_eval):
            try:
                value = loader(cand)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
            if isinstance(value, dict):
                obj = value
                break
        if obj is not None:
            break
    if obj is not None:
        problem = obj.get("problem") or obj.get("question") or ""
        tests = _valid_asserts(obj.get("tests") or obj.get("test_cases") or [])
        entry = obj.get("entry_point") if isinstance(obj.get("entry_point"), str) else None
    else:
        problem = ""
        tests = _valid_asserts(re.findall(r"^\s*(assert .+)$", text, re.M))
        entry = None
    if (not isinstance(problem, str) or not problem.strip()) and default_problem:
        problem = default_problem
    if not isinstance(problem, str) or not problem.strip():
        raise ParseError("no problem statement in the answer")
    if not tests:
        raise ParseError("no valid assert statements in the answer")
    entry = entry or _entry_from_asserts(tests)
    if not entry or not entry.isidentifier():
        raise ParseError("no entry point (name it, or call one function in the asserts)")
    tests = [t for t in tests if re.search(rf"\b{re.escape(entry)}\s*\(", t)]
    if not tests:
        raise ParseError(f"no assert calls the entry point {entry!r}")
    return problem.strip(), entry, tests


def build_prompt(seed: Seed, n_tests: int) -> list[dict]:
    solution = f"\nA solution to the task:\n```python\n{seed.solution}\n```" if seed.solution else ""
    return [{"role": "user", "content": INSTRUCTION.format(n=n_tests, instruction=seed.instruction, solution=solution)}]


def problem_from_answer(seed: Seed, text: str) -> Problem:
    """The unfiltered problem a model's answer describes (:class:`ParseError` when it does not)."""
    statement, entry, tests = parse_answer(text, default_problem=seed.instruction)
    tests = drop_contradictions(tests)
    if not tests:
        raise ParseError("every assert is contradicted by another")
    return Problem(
        seed.id,
        [Test("assert", code=t) for t in tests],
        prompt=statement,
        entry_point=entry,
        reference=seed.solution,
        meta={"synth": {"method": "llm", "raw_tests": len(tests), "own_statement": statement != seed.instruction}},
    )


def drop_contradictions(tests: list[str]) -> list[str]:
    """Remove asserts ``f(args) == x`` that another assert contradicts with ``f(args) == y``."""
    from tdrl.execution.asserts import CallPlan, Unsupported, compile_assert

    outputs: dict[tuple[str, str], set[str]] = {}
    plans = {}
    for code in tests:
        try:
            plan = compile_assert(code)
        except Unsupported:
            continue
        if isinstance(plan, CallPlan):
            plans[code] = (plan.fn, plan.args)
            outputs.setdefault((plan.fn, plan.args), set()).add(plan.output)
    return [c for c in tests if c not in plans or len(outputs[plans[c]]) == 1]


def filter_by_reference(problem: Problem, verifier) -> tuple[Problem, int]:
    """Keep the tests the reference passes (run in the sandbox); returns the problem and how many were dropped."""
    if not problem.reference:
        return problem, 0
    result = verifier.check(problem, problem.reference)
    kept = [t for t, r in zip(problem.tests, result.tests) if r.status == "pass"]
    return Problem(
        problem.id, kept, prompt=problem.prompt, entry_point=problem.entry_point, reference=problem.reference, meta=problem.meta
    ), len(problem.tests) - len(kept)


def filter_by_samples(problem: Problem, solutions: list[str], verifier) -> tuple[Problem, dict]:
    """Without a trusted reference: the strong model's sample that passes most tests becomes it.

    Every sample runs in the sandbox; the best one (most tests passed, the first on a tie)
    is kept as ``reference`` and only the tests it passes stay. Returns the problem and the
    pass count of each sample, so a report can show how much the samples agreed.
    """
    if not solutions:
        return problem, {"solutions": 0}
    results = [verifier.check(problem, code) for code in solutions]
    passed = [sum(t.status == "pass" for t in r.tests) for r in results]
    best = max(range(len(solutions)), key=lambda i: passed[i])
    kept = [t for t, r in zip(problem.tests, results[best].tests) if r.status == "pass"]
    info = {"solutions": len(solutions), "solution_passes": passed, "reference_from": "samples"}
    return Problem(
        problem.id, kept, prompt=problem.prompt, entry_point=problem.entry_point, reference=solutions[best], meta=problem.meta
    ), info
