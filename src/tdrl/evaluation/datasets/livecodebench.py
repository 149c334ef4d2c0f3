"""LiveCodeBench ``code_generation_lite`` rows (``livecodebench/code_generation_lite``).

Fields, as ``lcb_runner/benchmarks/code_generation.py`` reads them: ``question_id``,
``question_content``, ``platform``, ``contest_date`` (ISO date), ``starter_code``,
``difficulty``, ``public_test_cases`` (JSON list of ``{input, output, testtype}``),
``private_test_cases`` (the same JSON, or that JSON text pickled, zlib-compressed and
base64-encoded) and ``metadata`` (JSON; ``func_name`` for LeetCode problems).

The compressed private tests are decoded without running anything: the pickle's opcodes are
checked against the few that write one plain string (protocol, frame, string, memo, stop)
before a restricted unpickler, which refuses every global, reads it. Anything else is
refused and the problem dropped with the reason: ``pickle.loads`` on a downloaded file
runs whatever code the file names.

``stdin`` tests become stdio tests and ``functional`` tests method calls on a fresh
``Solution()`` (or plain calls when the starter code has no class), both judged by
LiveCodeBench's own rule (``tdrl.execution.rules``). ``contest_date`` is kept in
``meta.contest_date`` for ``tdrl eval --since/--until``.
"""

from __future__ import annotations

import base64
import binascii
import io
import pickle
import pickletools
import re
import zlib

from tdrl.evaluation.datasets.common import (
    Converted,
    Drop,
    call_test,
    json_field,
    json_lines,
    literal,
    loads,
    need,
    prompt_with_starter,
    require_tests,
    stdio_tests,
)
from tdrl.records import Problem, Test

WHAT = "a LiveCodeBench code_generation_lite file"
MAX_DECOMPRESSED = 512 << 20  # the largest private test set of release_v6 is far smaller
# LeetCode's judge (and LiveCodeBench's harness) provide these names without an import
PRELUDE = "from typing import *\nfrom collections import *\nfrom heapq import *\nfrom bisect import *\nimport math\n"

# the opcodes that pickle.dumps(a_str) writes, protocols 0-5, and nothing else
_STRING_OPCODES = {
    "PROTO",
    "FRAME",
    "STOP",
    "MEMOIZE",
    "PUT",
    "BINPUT",
    "LONG_BINPUT",
    "UNICODE",
    "BINUNICODE",
    "SHORT_BINUNICODE",
    "BINUNICODE8",
}


class _NoGlobals(pickle.Unpickler):
    def find_class(self, module, name):  # noqa: D102 - refuses every global
        raise pickle.UnpicklingError(f"refused: the pickle names {module}.{name}; only a plain string is accepted")

    def persistent_load(self, pid):  # noqa: D102
        raise pickle.UnpicklingError("refused: persistent ids are not accepted")


def unpickle_string(data: bytes) -> str:
    """The one plain ``str`` a pickle holds, or ``pickle.UnpicklingError``; never runs code."""
    try:
        ops = [op.name for op, _arg, _pos in pickletools.genops(data)]
    except (ValueError, EOFError) as exc:
        raise pickle.UnpicklingError(f"not a well-formed pickle ({exc})") from None
    bad = sorted(set(ops) - _STRING_OPCODES)
    if bad:
        raise pickle.UnpicklingError(f"refused: the pickle holds more than a string (opcodes {', '.join(bad[:5])})")
    value = _NoGlobals(io.BytesIO(data)).load()
    if type(value) is not str:
        raise pickle.UnpicklingError(f"refused: the pickle holds a {type(value).__name__}, not a string")
    return value


def decode_private(value: str) -> list:
    """LiveCodeBench's private tests: JSON, or base64(zlib(pickle(JSON text))) decoded safely."""
    try:
        return loads(value)
    except ValueError:
        pass
    try:
        packed = base64.b64decode(value.encode("ascii"), validate=True)
        inflate = zlib.decompressobj()
        raw = inflate.decompress(packed, MAX_DECOMPRESSED)
        if inflate.unconsumed_tail:
            raise Drop("private_test_cases", f"decompresses to more than {MAX_DECOMPRESSED >> 20} MB")
        tests = loads(unpickle_string(raw))
    except (binascii.Error, UnicodeEncodeError, zlib.error) as exc:
        raise Drop("private_test_cases", f"neither JSON nor base64/zlib data ({exc})") from None
    except pickle.UnpicklingError as exc:
        raise Drop("private_test_cases", str(exc)) from None
    except ValueError as exc:
        raise Drop("private_test_cases", f"the decoded text is not JSON ({str(exc)[:80]})") from None
    if not isinstance(tests, list):
        raise Drop("private_test_cases", "decoded to something other than a list of tests")
    return tests


def functional_tests(cases: list[dict], func_name: str, as_method: bool, where: str) -> list[Test]:
    """LeetCode-style tests: JSON arguments one per line, a JSON result."""
    tests = []
    for n, case in enumerate(cases):
        args = json_lines(case["input"], f"{where}[{n}].input")
        try:
            expected = loads(case["output"])
        except (ValueError, RecursionError):
            raise Drop(f"{where}[{n}].output", "not JSON") from None
        inp, out = literal(args, f"{where}[{n}].input"), literal(expected, f"{where}[{n}].output")
        tests.append(call_test(inp, out, func_name if as_method else None, "livecodebench"))
    return tests


def convert(row: dict, index: int) -> Converted:
    """One LiveCodeBench row as a problem (see the module doc)."""
    pid = need(row, "question_id", (str, int), WHAT)
    question = need(row, "question_content", str, WHAT)
    public = json_field(row, "public_test_cases", WHAT)
    private_raw = row.get("private_test_cases")
    private = decode_private(private_raw) if isinstance(private_raw, str) and private_raw.strip() else (private_raw or [])
    cases = []
    for where, group in (("public_test_cases", public), ("private_test_cases", private)):
        if not isinstance(group, list):
            raise Drop(where, "not a list of tests")
        for n, case in enumerate(group):
            if not isinstance(case, dict) or not isinstance(case.get("input"), str) or not isinstance(case.get("output"), str):
                raise Drop(f"{where}[{n}]", "a test needs string 'input' and 'output'")
            cases.append((where, case))
    kinds = {case.get("testtype", "stdin") for _, case in cases}
    if len(kinds) > 1:
        raise Drop("public_test_cases", f"mixes test types {sorted(kinds)}")
    metadata = json_field(row, "metadata", WHAT) if row.get("metadata") not in (None, "") else {}
    starter = row.get("starter_code") or ""
    meta = {"source": "livecodebench"}
    for key in ("platform", "difficulty", "contest_id", "contest_date", "question_title"):
        if row.get(key) not in (None, ""):
            meta[key] = str(row[key])
    if starter:
        meta["starter_code"] = starter
    if kinds == {"functional"}:
        func = metadata.get("func_name") if isinstance(metadata, dict) else None
        if not isinstance(func, str) or not func.isidentifier():
            raise Drop("metadata", "functional tests need metadata.func_name")
        cls = re.search(r"^class\s+(\w+)", starter, re.M)
        tests = functional_tests([c for _, c in cases], func, cls is not None, "tests")
        entry = cls.group(1) if cls else func
        prompt = prompt_with_starter(question, PRELUDE + "\n" + starter)
        return Converted(Problem(str(pid), require_tests(tests, "tests"), prompt=prompt, entry_point=entry, meta=meta))
    tests = stdio_tests([(c["input"], c["output"]) for _, c in cases], "livecodebench", "tests")
    prompt = question.rstrip() + "\n\nRead the input from stdin, solve the problem and write the answer to stdout.\n"
    return Converted(Problem(str(pid), require_tests(tests, "public_test_cases"), prompt=prompt, meta=meta))
