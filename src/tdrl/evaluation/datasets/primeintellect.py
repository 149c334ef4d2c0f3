"""PrimeIntellect (``PrimeIntellect/verifiable-coding-problems``, SYNTHETIC-1) and verl/PRIME rows.

PrimeIntellect: ``prompt``, ``gold_standard_solution`` (kept as ``reference``) and
``verification_info`` (JSON): ``{"language", "test_cases": [...]}`` with cases of
``type`` ``stdin_stdout`` (``input``/``output`` text) or ``function_call`` (``fn_name``,
``input`` argument list, ``output`` usually wrapped in a one-element list); or, in the RL
datasets, ``test_cases`` as APPS-style ``{"inputs", "outputs", "fn_name"?}`` JSON.

verl/PRIME parquet rows: ``data_source``, ``prompt`` (chat messages), ``reward_model``
``{"style": "rule", "ground_truth": JSON {"inputs", "outputs", "fn_name"?}}`` and
``extra_info``. verl scores ``data_source`` codecontests/apps/codeforces/taco with
``prime_code`` (``verl/utils/reward_score/__init__.py``), so those rows follow its rules:
call inputs are JSON arguments one per line (or argument lists), outputs JSON. Rows of
other data sources (math) are dropped.

Both follow verl's ``prime_code/testing_util.py`` verdict rules: ``prime`` for stdout,
``apps`` for calls.
"""

from __future__ import annotations

from tdrl.evaluation.datasets.apps import call_tests
from tdrl.evaluation.datasets.common import (
    Converted,
    Drop,
    RowError,
    json_field,
    json_lines,
    json_value,
    loads,
    need,
    require_tests,
    stdio_tests,
)
from tdrl.evaluation.datasets.livecodebench import PRELUDE
from tdrl.records import Problem

VERL_CODE_SOURCES = ("codecontests", "apps", "codeforces", "taco")


def io_tests(io: dict, where: str) -> tuple[list, str | None]:
    """APPS-style ``{"inputs", "outputs", "fn_name"?}`` under verl's prime_code rules."""
    inputs, outputs, fn = io.get("inputs"), io.get("outputs"), io.get("fn_name")
    if not isinstance(inputs, list) or not isinstance(outputs, list) or len(inputs) != len(outputs):
        raise Drop(where, "expected equally long 'inputs' and 'outputs' lists")
    if not fn:
        return stdio_tests(list(zip(inputs, outputs)), "prime", where), None
    if not isinstance(fn, str) or not fn.isidentifier():
        raise Drop(f"{where}.fn_name", f"not a function name: {fn!r}")
    args = [json_lines(i, f"{where}.inputs[{n}]") if isinstance(i, str) else i for n, i in enumerate(inputs)]
    outs = []
    for n, o in enumerate(outputs):
        try:
            outs.append(loads(o) if isinstance(o, str) else o)
        except ValueError:
            raise Drop(f"{where}.outputs[{n}]", "not JSON") from None
    return call_tests(args, outs, None, where), fn


def convert(row: dict, index: int) -> Converted:
    """One PrimeIntellect row (see the module doc)."""
    what = "a PrimeIntellect file"
    pid = row.get("problem_id") or row.get("in_source_id") or f"primeintellect/{index}"
    prompt = need(row, "prompt", str, what)
    info = json_field(row, "verification_info", what)
    if not isinstance(info, dict) or "test_cases" not in info:
        raise RowError("verification_info", "expected an object with 'test_cases'")
    cases = info["test_cases"]
    cases = json_value(cases, "verification_info.test_cases")
    if isinstance(cases, dict):
        tests, fn = io_tests({**cases, "fn_name": cases.get("fn_name") or info.get("fn_name")}, "verification_info.test_cases")
    elif isinstance(cases, list):
        kinds = {c.get("type") for c in cases if isinstance(c, dict)}
        if len(kinds) != 1 or not all(isinstance(c, dict) and "input" in c and "output" in c for c in cases):
            raise Drop(
                "verification_info.test_cases", f"expected cases of one type with input and output, got {sorted(map(str, kinds))}"
            )
        if kinds == {"function_call"}:
            fn = cases[0].get("fn_name")
            if not isinstance(fn, str) or not fn.isidentifier():
                raise Drop("verification_info.test_cases[0].fn_name", f"not a function name: {fn!r}")
            tests = call_tests([c["input"] for c in cases], [c["output"] for c in cases], None, "verification_info.test_cases")
        else:
            fn = None
            tests = stdio_tests([(c["input"], c["output"]) for c in cases], "prime", "verification_info.test_cases")
    else:
        raise Drop("verification_info.test_cases", "expected a list of cases or an inputs/outputs object")
    reference = row.get("gold_standard_solution") if isinstance(row.get("gold_standard_solution"), str) else None
    meta = {"source": "primeintellect"}
    for key in ("source", "task_type", "in_source_id"):
        if isinstance(row.get(key), str):
            meta["origin" if key == "source" else key] = row[key]
    if fn:
        prompt = prompt.rstrip() + "\n\nThese names are available without an import:\n```python\n" + PRELUDE + "```\n"
    problem = Problem(
        str(pid), require_tests(tests, "verification_info"), prompt=prompt, entry_point=fn, reference=reference, meta=meta
    )
    return Converted(problem)


def _chat_text(prompt) -> str:
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in prompt):
        user = [m["content"] for m in prompt if m.get("role") == "user"]
        return "\n\n".join(user or [m["content"] for m in prompt])
    raise RowError("prompt", "expected chat messages (a list of {role, content}) or a string")


def convert_verl(row: dict, index: int) -> Converted:
    """One verl/PRIME parquet row (see the module doc)."""
    what = "a verl dataset file"
    source = need(row, "data_source", str, what)
    rm = need(row, "reward_model", dict, what)
    if "ground_truth" not in rm:
        raise RowError("reward_model.ground_truth", "missing")
    prompt = _chat_text(need(row, "prompt", (list, str), what))
    if source not in VERL_CODE_SOURCES:
        raise Drop("data_source", f"{source!r} is not one verl scores with prime_code ({', '.join(VERL_CODE_SOURCES)})")
    truth = rm["ground_truth"]
    truth = json_value(truth, "reward_model.ground_truth")
    if not isinstance(truth, dict):
        raise Drop("reward_model.ground_truth", "expected an inputs/outputs object")
    tests, fn = io_tests(truth, "reward_model.ground_truth")
    extra = row.get("extra_info") if isinstance(row.get("extra_info"), dict) else {}
    pid = f"{source}/{extra.get('index', index)}"
    meta = {"source": "verl", "data_source": source}
    if isinstance(extra.get("split"), str):
        meta["split"] = extra["split"]
    return Converted(Problem(pid, require_tests(tests, "reward_model.ground_truth"), prompt=prompt, entry_point=fn, meta=meta))
