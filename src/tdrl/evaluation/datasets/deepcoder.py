"""DeepCoder-Preview rows (``agentica-org/DeepCoder-Preview-Dataset``; subsets primeintellect,
taco, lcbv5, codeforces).

``problem`` is the statement, ``starter_code`` and ``metadata`` (``func_name``) as in
LiveCodeBench, and ``tests`` JSON in one of the subsets' shapes: a list of ``{input, output,
testtype}`` (lcbv5, codeforces; ``functional`` tests are LiveCodeBench calls), a list of
``{input, output, type}`` (primeintellect), or ``{"inputs", "outputs", "fn_name"?}`` (taco).
rLLM grades every subset with LiveCodeBench's harness (``rllm/rewards/code_reward.py``),
so stdio tests use the ``livecodebench`` rule; taco-shaped call tests keep TACO's call rule.
"""

from __future__ import annotations

import re

from tdrl.evaluation.datasets.apps import call_tests
from tdrl.evaluation.datasets.common import Converted, Drop, json_field, need, prompt_with_starter, require_tests, stdio_tests
from tdrl.evaluation.datasets.livecodebench import PRELUDE, functional_tests
from tdrl.records import Problem

WHAT = "a DeepCoder file"


def convert(row: dict, index: int) -> Converted:
    """One DeepCoder row (see the module doc)."""
    question = need(row, "problem", str, WHAT)
    tests_raw = json_field(row, "tests", WHAT)
    metadata = row.get("metadata") or {}
    if isinstance(metadata, str):
        metadata = json_field(row, "metadata", WHAT)
    starter = row.get("starter_code") or ""
    cls = re.search(r"^class\s+(\w+)", starter, re.M)
    fn = metadata.get("func_name") if isinstance(metadata, dict) else None
    entry = None
    if isinstance(tests_raw, dict):
        fn = tests_raw.get("fn_name") or None
        inputs, outputs = tests_raw.get("inputs"), tests_raw.get("outputs")
        if not isinstance(inputs, list) or not isinstance(outputs, list) or len(inputs) != len(outputs):
            raise Drop("tests", "expected equally long 'inputs' and 'outputs' lists")
        if fn:
            tests = call_tests(inputs, outputs, fn if cls else None, "tests")
        else:
            tests = stdio_tests(list(zip(inputs, outputs)), "livecodebench", "tests")
    elif isinstance(tests_raw, list):
        if not all(
            isinstance(c, dict) and isinstance(c.get("input"), str) and isinstance(c.get("output"), str) for c in tests_raw
        ):
            raise Drop("tests", "every case needs string 'input' and 'output'")
        functional = {c.get("testtype") == "functional" for c in tests_raw}
        if functional == {True}:
            if not isinstance(fn, str) or not fn.isidentifier():
                raise Drop("metadata", "functional tests need metadata.func_name")
            tests = functional_tests(tests_raw, fn, cls is not None, "tests")
        elif functional == {False}:
            fn = None
            tests = stdio_tests([(c["input"], c["output"]) for c in tests_raw], "livecodebench", "tests")
        else:
            raise Drop("tests", "mixes functional and stdin tests")
    else:
        raise Drop("tests", "expected a list of cases or an inputs/outputs object")
    if fn:
        entry = cls.group(1) if cls else fn
        prompt = prompt_with_starter(question, PRELUDE + "\n" + starter)
    else:
        prompt = question.rstrip() + "\n\nRead the input from stdin and write the answer to stdout.\n"
    meta = {"source": "deepcoder"}
    if starter:
        meta["starter_code"] = starter
    pid = row.get("id") or row.get("problem_id") or f"deepcoder/{index}"
    return Converted(Problem(str(pid), require_tests(tests, "tests"), prompt=prompt, entry_point=entry, meta=meta))
