"""CodeContests rows (``deepmind/code_contests``): public, private and generated tests.

``public_tests``, ``private_tests`` and ``generated_tests`` are ``{"input": [...],
"output": [...]}``; all three become stdin/stdout tests judged by CodeContests' own
``OutputsMatch`` (``tdrl.execution.rules``). The first Python 3 solution (language 3 in
``solutions``) is kept as ``reference``. Which split a test came from is in
``meta.test_splits`` (counts, in order: public, private, generated).
"""

from __future__ import annotations

from tdrl.evaluation.datasets.common import Converted, Drop, need, require_tests, stdio_tests
from tdrl.records import Problem

WHAT = "a CodeContests file"
PYTHON3 = 3


def _pairs(row: dict, key: str) -> list[tuple[str, str]]:
    value = row.get(key)
    if value in (None, ""):
        return []
    if not isinstance(value, dict) or not isinstance(value.get("input"), list) or not isinstance(value.get("output"), list):
        raise Drop(key, "expected {'input': [...], 'output': [...]}")
    if len(value["input"]) != len(value["output"]):
        raise Drop(key, f"{len(value['input'])} inputs but {len(value['output'])} outputs")
    return list(zip(value["input"], value["output"]))


def convert(row: dict, index: int) -> Converted:
    """One CodeContests row (see the module doc)."""
    name = need(row, "name", str, WHAT)
    description = need(row, "description", str, WHAT)
    splits = {key: _pairs(row, key) for key in ("public_tests", "private_tests", "generated_tests")}
    tests = stdio_tests([p for pairs in splits.values() for p in pairs], "codecontests", "tests")
    reference = None
    sols = row.get("solutions")
    if isinstance(sols, dict) and isinstance(sols.get("language"), list) and isinstance(sols.get("solution"), list):
        reference = next((s for lang, s in zip(sols["language"], sols["solution"]) if lang == PYTHON3), None)
    meta = {"source": "codecontests", "test_splits": [len(v) for v in splits.values()]}
    for key in ("difficulty", "source", "cf_rating"):
        if isinstance(row.get(key), (int, str)) and not isinstance(row.get(key), bool):
            meta["origin" if key == "source" else key] = row[key]
    prompt = description.rstrip() + "\n\nRead the input from stdin and write the answer to stdout.\n"
    return Converted(Problem(name, require_tests(tests, "public_tests"), prompt=prompt, reference=reference, meta=meta))
