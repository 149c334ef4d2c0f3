"""What every dataset converter shares: reading rows, locating errors, dropping problems.

A converter turns one row of a published dataset into a :class:`Converted` (a problem, and
for datasets that ship graded model answers, samples with their recorded results). Two
kinds of trouble are kept apart:

* the row does not follow the dataset's schema (a required field missing or of the wrong
  type): :class:`RowError`, which ``convert`` reports as an ``InputError`` naming the file,
  the line and the field, and stops: the file is probably not what ``--from`` says;
* the row follows the schema but its problem cannot be used (test payload that does not
  decode, a pickle that is refused, values that are not literals, no usable tests):
  :class:`Drop`; ``convert`` writes the row's id and reason to ``<out>.dropped.jsonl`` and
  goes on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tdrl.execution.values import to_literal
from tdrl.records import Problem, Sample, Test


class RowError(ValueError):
    """The row does not follow the dataset's schema (``field`` names the bad field)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"field '{field}': {message}")
        self.field, self.message = field, message


class Drop(ValueError):
    """The row's problem cannot be used; it is dropped with this reason."""

    def __init__(self, field: str | None, reason: str):
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field, self.reason = field, reason


@dataclass
class Converted:
    problem: Problem
    samples: list[Sample] = field(default_factory=list)
    results: list[dict] = field(default_factory=list)  # recorded verdicts of ``samples``, tdrl verify's shape


def _int(digits: str) -> int:
    # json's int() stops at Python's 4300-digit limit; Decimal reads any length exactly
    return int(digits) if len(digits) < 4000 else int(Decimal(digits))


def loads(text: str) -> Any:
    """``json.loads`` that reads integers of any size (real datasets hold answers past 4300 digits)."""
    return json.loads(text, parse_int=_int)


def need(row: dict, key: str, kind: type | tuple = str, what: str = "") -> Any:
    """``row[key]``, or a :class:`RowError` when it is missing or not of ``kind``."""
    if key not in row or row[key] is None:
        raise RowError(key, f"missing{f' (is this {what}?)' if what else ''}")
    value = row[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise RowError(key, f"expected {names}, got {type(value).__name__}")
    return value


def json_field(row: dict, key: str, what: str = "") -> Any:
    """A field that is JSON text in the published files (or already parsed, as ``datasets`` may give it)."""
    value = need(row, key, (str, list, dict), what)
    if isinstance(value, str):
        try:
            return loads(value)
        except (ValueError, RecursionError) as exc:
            raise Drop(key, f"not JSON ({str(exc)[:80]})") from None
    return value


def json_value(value: Any, where: str) -> Any:
    """``value`` parsed when it is JSON text (the published files), as it is when already parsed; else :class:`Drop`."""
    if not isinstance(value, str):
        return value
    try:
        return loads(value)
    except ValueError:
        raise Drop(where, "not JSON") from None


def call_test(inp: str, out: str, method: str | None, rule: str) -> Test:
    """A function-call test, or a method-call one on ``method`` (LeetCode-style ``Solution`` classes)."""
    if method:
        return Test("method", input=inp, output=out, method=method, rule=rule)
    return Test("call", input=inp, output=out, rule=rule)


def literal(value: Any, where: str) -> str:
    """A JSON-decoded value as a Python literal (ints of any size), or :class:`Drop`."""
    try:
        text = to_literal(value)
    except (TypeError, RecursionError) as exc:
        raise Drop(where, f"value cannot be written as a Python literal ({exc})") from None
    if _has_nonfinite(value):
        raise Drop(where, "value holds NaN or infinity, which no Python literal writes")
    return text


def _has_nonfinite(v: Any) -> bool:
    if isinstance(v, float):
        return v != v or v in (float("inf"), float("-inf"))
    if isinstance(v, dict):
        return any(_has_nonfinite(k) or _has_nonfinite(x) for k, x in v.items())
    if isinstance(v, (list, tuple, set)):
        return any(_has_nonfinite(x) for x in v)
    return False


def text(value: Any, where: str) -> str:
    """A stdin/stdout payload: a string, or a list of lines (APPS joins those with newlines)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return "\n".join(value)
    raise Drop(where, f"expected text, got {type(value).__name__}")


def stdio_tests(pairs: list[tuple[Any, Any]], rule: str, where: str) -> list[Test]:
    """Stdin/stdout tests under a harness's verdict rule."""
    return [
        Test("stdio", stdin=text(i, f"{where}[{n}].input"), stdout=text(o, f"{where}[{n}].output"), rule=rule)
        for n, (i, o) in enumerate(pairs)
    ]


def int_keys(value: Any) -> Any:
    """APPS's fix-up for JSON's string-only keys: a dict whose keys all read as ints gets int keys."""
    if isinstance(value, dict):
        try:
            return {int(k): v for k, v in value.items()}
        except (TypeError, ValueError):
            return value
    return value


def json_lines(args: str, where: str) -> list:
    """LiveCodeBench's functional input: one JSON value per line, the positional arguments."""
    try:
        return [loads(line) for line in args.split("\n")]
    except (ValueError, RecursionError) as exc:
        raise Drop(where, f"an argument line is not JSON ({str(exc)[:80]})") from None


def prompt_with_starter(question: str, starter: str | None) -> str:
    """The statement, and the starter code the answer must complete when there is one."""
    if not starter or not starter.strip():
        return question
    return f"{question.rstrip()}\n\nUse this starter code:\n```python\n{starter.rstrip()}\n```\n"


def require_tests(tests: list[Test], where: str) -> list[Test]:
    if not tests:
        raise Drop(where, "no usable tests")
    return tests
