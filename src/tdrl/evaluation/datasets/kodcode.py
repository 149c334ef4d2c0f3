"""KodCode rows (``KodCode/KodCode-V1``): pytest-style test modules.

``question`` is the prompt, ``solution`` the reference, ``test`` a pytest module that
imports the program as ``solution``, and ``test_info[0].function_name`` the entry point.
Each test function of the module (``test_*`` at top level, and ``test_*`` methods of
``Test*`` classes, as pytest collects them) is one ``pytest`` test, run in the sandbox and
passing on its own per-test record (``tdrl.execution.pytest_style``): the official harness
runs pytest on the file, and a sample that passes every tdrl test is one pytest passes.
"""

from __future__ import annotations

import ast

from tdrl.evaluation.datasets.common import Converted, Drop, need, require_tests
from tdrl.records import Problem, Test

WHAT = "a KodCode file"


def test_functions(module: str) -> list[str]:
    """The test names pytest would collect from ``module`` (``Class.method`` for class tests)."""
    try:
        tree = ast.parse(module)
    except SyntaxError as exc:
        raise Drop("test", f"not valid Python ({exc.msg}, line {exc.lineno})") from None
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            names.append(node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            names += [f"{node.name}.{m.name}" for m in node.body if isinstance(m, ast.FunctionDef) and m.name.startswith("test")]
    return names


def convert(row: dict, index: int) -> Converted:
    """One KodCode row (see the module doc)."""
    pid = need(row, "question_id", (str, int), WHAT)
    question = need(row, "question", str, WHAT)
    module = need(row, "test", str, WHAT)
    info = row.get("test_info") or []
    entry = info[0].get("function_name") if isinstance(info, list) and info and isinstance(info[0], dict) else None
    tests = [Test("pytest", code=module, function=name) for name in test_functions(module)]
    meta = {"source": "kodcode"}
    for key in ("subset", "style", "gpt_difficulty"):
        if isinstance(row.get(key), str):
            meta[key] = row[key]
    reference = row.get("solution") if isinstance(row.get("solution"), str) else None
    problem = Problem(
        str(pid), require_tests(tests, "test"), prompt=question, entry_point=entry or None, reference=reference, meta=meta
    )
    return Converted(problem)
