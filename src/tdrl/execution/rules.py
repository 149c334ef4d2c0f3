"""Verdict rules of public benchmark harnesses, applied by the trusted parent.

A test may name the rule its dataset's own harness uses (``rule`` on ``call``, ``method``
and ``stdio`` tests), so that a pass in tdrl is a pass in that harness. Each rule below
cites the harness it follows; docs/datasets.md lists them and tests/evaluation/
test_datasets_rules.py pins each one. Rules only ever *relax* exact equality: a value or
output equal to the expected one passes under every rule.

Nothing here runs candidate code: the inputs are values decoded from the sandbox's tagged
JSON (plain built-in types) and stdout text.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

from tdrl.execution.values import stdout_equal, values_equal
from tdrl.records import CALL_RULES, STDIO_RULES

__all__ = ["CALL_RULES", "STDIO_RULES", "call_matches", "stdout_matches"]


# ------------------------------------------------------------------ call results


def call_matches(actual: Any, expected: Any, rule: str = "exact", atol: float = 0.0) -> bool:
    """Whether a returned value passes against ``expected`` under ``rule``.

    * ``exact``: :func:`~tdrl.execution.values.values_equal` (Python ``==``, floats within ``atol``).
    * ``livecodebench``: a returned tuple counts as a list, then ``==``
      (LiveCodeBench ``lcb_runner/evaluation/testing_util.py``, ``grade_call_based``).
    * ``apps``: a returned tuple counts as a list; passes when equal to the expected value or,
      the expected value being a non-empty list, to its first item (outputs are often stored
      wrapped in a one-element list), or when a list of tuples equals that first item as a
      list of lists (APPS ``eval/testing_util.py`` and TACO ``metrics/testing_util.py``,
      call-based branch; verl's ``prime_code/testing_util.py`` has the same code).
    """
    if rule == "exact":
        return values_equal(actual, expected, atol)
    if isinstance(actual, tuple):
        actual = list(actual)
    if values_equal(actual, expected, atol):
        return True
    if rule == "livecodebench":
        return False
    if isinstance(expected, list) and expected:
        if values_equal(actual, expected[0], atol):
            return True
        if isinstance(actual, list) and actual and isinstance(actual[0], tuple):
            return values_equal([list(x) for x in actual], expected[0], atol)
    return False


# ------------------------------------------------------------------ stdout


def stdout_matches(actual: str, expected: str, rule: str = "tokens", atol: float = 0.0) -> bool:
    """Whether a program's stdout passes against the expected text under ``rule`` (see each ``_rule``)."""
    if rule == "tokens":
        return stdout_equal(actual, expected, atol)
    try:
        return _STDIO[rule](actual, expected)
    except (ArithmeticError, ValueError, RecursionError):  # e.g. Decimal("sNaN") == x raises: a failed test, as in the harness
        return False


def _exact(actual: str, expected: str) -> bool:
    """Byte-for-byte equal text (no harness we follow is this strict; for hand-written tests)."""
    return actual == expected


def _decimals(line: str) -> list[Decimal] | None:
    try:
        return [Decimal(tok) for tok in line.split()]
    except (InvalidOperation, ValueError):
        return None


def _livecodebench(actual: str, expected: str) -> bool:
    """LiveCodeBench ``grade_stdio``: both texts stripped and cut into lines, each line stripped;
    the line counts must agree and each pair of lines be equal, or be whitespace-separated
    numbers with equal ``Decimal`` values (exact: ``1.0`` equals ``1``, ``0.3333`` is not ``0.33333``)."""
    a = [ln.strip() for ln in actual.strip().split("\n")]
    e = [ln.strip() for ln in expected.strip().split("\n")]
    if len(a) != len(e):
        return False
    for x, y in zip(a, e):
        if x == y:
            continue
        dx, dy = _decimals(x), _decimals(y)
        if dx is None or dy is None or dx != dy:
            return False
    return True


def _floats(items: list[str]) -> list[float] | None:
    try:
        return [float(x) for x in items]
    except ValueError:
        return None


def _allclose(a: list[float], b: list[float]) -> bool:
    # numpy.allclose with its defaults: |a - b| <= 1e-8 + 1e-5 * |b|, NaN never close
    return len(a) == len(b) and all(
        not (math.isnan(x) or math.isnan(y)) and (x == y or abs(x - y) <= 1e-8 + 1e-5 * abs(y)) for x, y in zip(a, b)
    )


def _expected_lines(expected: str) -> list[str]:
    # the harness: split on "\n", drop empty lines, strip each (whitespace-only lines stay, as "")
    return [ln.strip() for ln in expected.split("\n") if ln]


def _lines_rule(actual: str, expected: str) -> tuple[bool, list[str], list[str]]:
    """The steps APPS and verl's PRIME harness share; returns (passed, output lines, expected lines)."""
    out = actual.splitlines()
    if "\n".join(out).strip() == expected.strip() or "\n".join(ln.strip() for ln in out).strip() == expected.strip():
        return True, out, []
    exp = _expected_lines(expected)
    nonblank = [ln for ln in out if ln]
    return out == exp or nonblank == exp, nonblank, exp


def _apps(actual: str, expected: str) -> bool:
    """APPS ``eval/testing_util.py`` (standard-input branch; stdout captured as ``splitlines()``):
    passes when the stripped texts are equal (also with each output line stripped); or the
    output lines equal the expected lines (blank lines dropped, each stripped); or every line is
    one number and the numbers are ``numpy.allclose``; or, ignoring order and repeats, the set of
    each line's token set is the same on both sides, also with every token rounded to 3 decimals."""
    ok, out, exp = _lines_rule(actual, expected)
    if ok:
        return True
    fo, fe = _floats(out), _floats(exp)
    if fo is not None and fe is not None and _allclose(fo, fe):
        return True
    out_sets = {frozenset(ln.split()) for ln in out if ln.split()}
    exp_sets = {frozenset(ln.split()) for ln in exp}
    if out_sets == exp_sets:
        return True
    try:
        return {frozenset(round(float(t), 3) for t in s) for s in out_sets} == {
            frozenset(round(float(t), 3) for t in s) for s in exp_sets
        }
    except (ValueError, OverflowError):
        return False


def _prime(actual: str, expected: str) -> bool:
    """verl ``utils/reward_score/prime_code/testing_util.py`` (PRIME; standard-input branch):
    APPS's text and line steps; the one-number-per-line ``numpy.allclose`` step only when not
    every line on both sides is all digits (``str.isdigit``); no token-set step."""
    ok, out, exp = _lines_rule(actual, expected)
    if ok:
        return True
    if len(out) != len(exp) or all(a.isdigit() and b.isdigit() for a, b in zip(out, exp)):
        return False
    fo, fe = _floats(out), _floats(exp)
    return fo is not None and fe is not None and _allclose(fo, fe)


def _taco(actual: str, expected: str) -> bool:
    """TACO ``metrics/testing_util.py`` (``compare_std_results`` on the subprocess's stdout as one
    string): the stripped texts must be equal. Its later steps iterate over the output string's
    characters, so one more case passes there and here: when every output token is one
    character, the set of those tokens may match the set of expected lines' token sets."""
    if actual.strip() == expected.strip():
        return True
    exp_sets = {frozenset(ln.split()) for ln in _expected_lines(expected)}
    tokens = set(actual.split())
    if {frozenset(t) for t in tokens} == exp_sets:
        return True
    try:
        return {frozenset(round(float(c), 3) for c in t) for t in tokens} == {
            frozenset(round(float(x), 3) for x in s) for s in exp_sets
        }
    except (ValueError, OverflowError):
        return False


def _number(tok: str) -> float | None:
    if "_" in tok:  # absl's SimpleAtod does not take Python's digit separators
        return None
    try:
        return float(tok)
    except ValueError:
        return None


def _codecontests(actual: str, expected: str) -> bool:
    """CodeContests ``execution/tester_sandboxer.cc`` (``OutputsMatch``): whitespace-separated
    tokens, lowercased, must be equal; failing that, the token counts must agree and each pair be
    equal, or both be numbers less than 1e-5 apart (absolute)."""
    a = [t.lower() for t in actual.split()]
    e = [t.lower() for t in expected.split()]
    if a == e:
        return True
    if len(a) != len(e):
        return False
    for x, y in zip(a, e):
        fx, fy = _number(x), _number(y)
        if fx is None or fy is None:
            if x != y:
                return False
        elif not abs(fx - fy) < 1e-5:
            return False
    return True


_STDIO = {
    "exact": _exact,
    "livecodebench": _livecodebench,
    "apps": _apps,
    "taco": _taco,
    "prime": _prime,
    "codecontests": _codecontests,
}
