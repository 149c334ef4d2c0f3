"""APPS (``codeparrot/apps``) and TACO (``BAAI/TACO``) rows: ``input_output`` JSON tests.

Both store ``question``, ``solutions`` (JSON list of programs), ``starter_code`` and
``input_output``: ``{"inputs": [...], "outputs": [...], "fn_name"?}``. With ``fn_name`` the
tests are calls (``inputs[i]`` is the argument list; ``outputs[i]`` is usually the result
wrapped in a one-element list), judged by the harness's call rule; a ``class Solution``
starter makes them method calls on a fresh instance, as the harness does. Without it they
are stdin/stdout tests, judged by APPS's or TACO's stdio rule (``tdrl.execution.rules``).
The first solution is kept as ``reference`` and the starter code in ``meta.starter_code``.
APPS rows carry ``problem_id``; TACO rows have no id, so theirs is ``taco/<row index>``.
"""

from __future__ import annotations

import re

from tdrl.evaluation.datasets.common import (
    Converted,
    Drop,
    call_test,
    int_keys,
    json_field,
    literal,
    need,
    prompt_with_starter,
    require_tests,
    stdio_tests,
)
from tdrl.evaluation.datasets.livecodebench import PRELUDE
from tdrl.records import Problem, Test


def call_tests(inputs: list, outputs: list, method: str | None, where: str) -> list[Test]:
    """The harness's call-based tests, with its fix-up of JSON's string dict keys."""
    tests = []
    for n, (args, out) in enumerate(zip(inputs, outputs)):
        if not isinstance(args, list):
            raise Drop(f"{where}.inputs[{n}]", "call-based inputs must be argument lists")
        if args and isinstance(args[0], dict):
            fixed = int_keys(args[0])
            if fixed is not args[0]:
                args = [fixed]  # the harness keeps only the first argument here ("assuming a singleton list")
        if isinstance(out, dict) and int_keys(out) is not out:
            out = [int_keys(out)]
        elif isinstance(out, list) and out and isinstance(out[0], dict) and int_keys(out[0]) is not out[0]:
            out = [int_keys(out[0])]
        inp, exp = literal(args, f"{where}.inputs[{n}]"), literal(out, f"{where}.outputs[{n}]")
        tests.append(call_test(inp, exp, method, "apps"))
    return tests


def _convert(row: dict, pid: str, source: str, what: str) -> Converted:
    question = need(row, "question", str, what)
    io = json_field(row, "input_output", what) if row.get("input_output") != "" else None
    if not isinstance(io, dict) or not isinstance(io.get("inputs"), list) or not isinstance(io.get("outputs"), list):
        raise Drop("input_output", "no inputs/outputs lists")
    if len(io["inputs"]) != len(io["outputs"]):
        raise Drop("input_output", f"{len(io['inputs'])} inputs but {len(io['outputs'])} outputs")
    starter = row.get("starter_code") or ""
    solutions = row.get("solutions")
    if isinstance(solutions, str) and solutions.strip():
        try:
            solutions = json_field(row, "solutions", what)
        except Drop:
            solutions = None
    reference = solutions[0] if isinstance(solutions, list) and solutions and isinstance(solutions[0], str) else None
    meta = {"source": source}
    for key, name in (("difficulty", "difficulty"), ("url", "url"), ("name", "name"), ("source", "origin")):
        if isinstance(row.get(key), (str, int)) and not isinstance(row.get(key), bool):
            meta[name] = row[key]
    if starter:
        meta["starter_code"] = starter
    fn = io.get("fn_name")
    if fn:
        if not isinstance(fn, str) or not fn.isidentifier():
            raise Drop("input_output.fn_name", f"not a function name: {fn!r}")
        cls = re.search(r"^class\s+(\w+)", starter, re.M)
        tests = call_tests(io["inputs"], io["outputs"], fn if cls else None, "input_output")
        prompt = prompt_with_starter(question, PRELUDE + "\n" + (starter or f"def {fn}(...):"))
        entry = cls.group(1) if cls else fn
        problem = Problem(
            pid, require_tests(tests, "input_output"), prompt=prompt, entry_point=entry, reference=reference, meta=meta
        )
        return Converted(problem)
    tests = stdio_tests(list(zip(io["inputs"], io["outputs"])), source, "input_output")
    prompt = question.rstrip() + "\n\nRead the input from stdin and write the answer to stdout.\n"
    return Converted(Problem(pid, require_tests(tests, "input_output"), prompt=prompt, reference=reference, meta=meta))


def convert_apps(row: dict, index: int) -> Converted:
    """One APPS row (see the module doc)."""
    pid = need(row, "problem_id", (int, str), "an APPS file")
    return _convert(row, f"apps/{pid}", "apps", "an APPS file")


def convert_taco(row: dict, index: int) -> Converted:
    """One TACO row (see the module doc)."""
    return _convert(row, f"taco/{index}", "taco", "a TACO file")
