"""Trusted side of the value channel: decode the child's type-tagged values, compare them.

The sandboxed child encodes return values as JSON with type tags (see ``_zygote.encode``);
only exact built-in types survive encoding. :func:`decode` rebuilds plain Python values and
rejects anything malformed, so what reaches :func:`values_equal` is always made of real
``int``/``float``/``str``/... objects whose ``==`` cannot have been tampered with.
"""

from __future__ import annotations

import base64
import binascii
import collections
import math
from typing import Any


class DecodeError(ValueError):
    """The child sent something that is not a well-formed tagged value."""


class OverBudget(DecodeError):
    """The value is too big, or too costly to rebuild, for the judge's budget."""


_SEQ = {"l": list, "t": tuple, "S": set, "Z": frozenset, "q": collections.deque}
_MAP = {"d": dict, "o": collections.OrderedDict, "C": collections.Counter}
_HASHED = {"S", "Z", "d", "o", "C"}
MAX_NODES = 2_000_000
MAX_EQUAL_HASH_PAIRS = 100_000  # comparisons a set/dict build may spend on keys with equal hashes


class Budget:
    """What the judge may still spend on rebuilding values (nodes; a string costs its length / 8)."""

    __slots__ = ("nodes",)

    def __init__(self, nodes: int = MAX_NODES):
        self.nodes = nodes

    def spend(self, n: int) -> None:
        self.nodes -= n
        if self.nodes < 0:
            raise OverBudget("value over the judge's size budget")


def check_hashes(keys: list[Any]) -> None:
    """Refuse keys that would make building a set or dict quadratic (many equal full hashes).

    CPython's set and dict cost O(n) per insert only when many distinct keys share a full
    hash (ints congruent mod 2**61 - 1, crafted tuples...); counting hashes first is linear.
    """
    if len(keys) < 2:
        return
    counts: dict[int, int] = {}
    try:
        for k in keys:
            h = hash(k)
            counts[h] = counts.get(h, 0) + 1
    except TypeError as exc:
        raise DecodeError(f"unhashable key: {exc}") from None
    if len(counts) < len(keys) and sum(c * (c - 1) // 2 for c in counts.values()) > MAX_EQUAL_HASH_PAIRS:
        raise OverBudget("too many keys with equal hashes")


def decode(v: Any, depth: int = 0, budget: Budget | None = None) -> Any:
    """Rebuild a plain value from its tagged JSON form, within ``budget`` (default: a fresh one)."""
    if budget is None:
        budget = Budget()
    budget.spend(1)
    if depth > 250:
        raise DecodeError("value nested too deeply")
    t = type(v)
    if v is None or t is bool:
        return v
    if t is int:
        if not -(2**53) < v < 2**53:
            raise DecodeError("plain int out of range")  # the encoder tags big ints
        return v
    if t is str:
        budget.spend(len(v) // 8)
        return v
    if t is not list or not v or type(v[0]) is not str:
        raise DecodeError(f"malformed value {str(v)[:60]!r}")
    tag = v[0]
    try:
        if tag in ("i", "f", "y") and len(v) == 2 and type(v[1]) is str:
            budget.spend(len(v[1]) // 8)
            if tag == "i":
                return int(v[1], 16)
            if tag == "f":
                return float(v[1])
            return base64.b64decode(v[1], validate=True)
        if tag == "c" and len(v) == 3 and type(v[1]) is str and type(v[2]) is str:
            return complex(float(v[1]), float(v[2]))
        if tag in _SEQ and len(v) == 2 and type(v[1]) is list:
            items = [decode(x, depth + 1, budget) for x in v[1]]
            if tag in _HASHED:
                check_hashes(items)
            return _SEQ[tag](items)
        if tag in _MAP and len(v) == 2 and type(v[1]) is list:
            pairs = []
            for pair in v[1]:
                if type(pair) is not list or len(pair) != 2:
                    raise DecodeError("malformed mapping item")
                pairs.append((decode(pair[0], depth + 1, budget), decode(pair[1], depth + 1, budget)))
            check_hashes([k for k, _ in pairs])
            return _MAP[tag](dict(pairs)) if tag == "C" else _MAP[tag](pairs)
    except (ValueError, TypeError, binascii.Error) as exc:
        if isinstance(exc, DecodeError):
            raise
        raise DecodeError(f"malformed {tag!r} value: {exc}") from None
    raise DecodeError(f"unknown value tag {tag!r}")


_ENC_SEQ = {list: "l", tuple: "t", set: "S", frozenset: "Z", collections.deque: "q"}
_ENC_MAP = {dict: "d", collections.defaultdict: "d", collections.OrderedDict: "o", collections.Counter: "C"}


def encode(v: Any) -> Any:
    """The tagged form the sandbox sends for ``v`` (the mirror of :func:`decode`).

    The judge compares a returned value's tagged form with the expected value's first: when
    the two are equal the values are equal, and only otherwise does it decode and compare.
    """
    t = type(v)
    if v is None or t in (bool, str):
        return v
    if t is int:
        return v if -(2**53) < v < 2**53 else ["i", format(v, "x")]
    if t is float:
        return ["f", repr(v)]
    if t is complex:
        return ["c", repr(v.real), repr(v.imag)]
    if t is bytes:
        return ["y", base64.b64encode(v).decode()]
    if t in _ENC_SEQ:
        return [_ENC_SEQ[t], [encode(x) for x in v]]
    if t in _ENC_MAP:
        return [_ENC_MAP[t], [[encode(k), encode(x)] for k, x in v.items()]]
    raise TypeError(f"cannot encode {t.__name__}")


def has_nan(v: Any) -> bool:
    """Whether a plain value holds a NaN anywhere (NaN is never equal, even to itself)."""
    if isinstance(v, float):
        return math.isnan(v)
    if isinstance(v, complex):
        return math.isnan(v.real) or math.isnan(v.imag)
    if isinstance(v, dict):
        return any(has_nan(k) or has_nan(x) for k, x in v.items())
    if isinstance(v, (list, tuple, set, frozenset, collections.deque)):
        return any(has_nan(x) for x in v)
    return False


def has_float(v: Any) -> bool:
    """Whether a plain value holds a float or complex anywhere."""
    if isinstance(v, (float, complex)):
        return True
    if isinstance(v, dict):
        return any(has_float(x) for x in v.values())
    if isinstance(v, (list, tuple, set, frozenset, collections.deque)):
        return any(has_float(x) for x in v)
    return False


def _close(a: complex | float, b: complex | float, atol: float) -> bool:
    # numpy.allclose's rule, as EvalPlus uses it: |a - b| <= atol + rtol * |b|, rtol 1e-7
    if a == b:
        return True
    if isinstance(a, float) and isinstance(b, float) and (math.isnan(a) or math.isnan(b)):
        return False
    try:
        return abs(a - b) <= atol + 1e-7 * abs(b)
    except OverflowError:
        return False


def values_equal(actual: Any, expected: Any, atol: float = 0.0) -> bool:
    """Python ``==`` on plain values, except that numbers compare within ``atol`` when one is a float.

    With ``atol == 0`` this is exactly ``actual == expected``. Containers compare element by
    element with the same rule and Python's own type rules (a list never equals a tuple).
    """
    if atol == 0:
        try:
            return bool(actual == expected)
        except RecursionError:
            return False
    num = (int, float, complex)
    if isinstance(actual, num) and isinstance(expected, num) and not isinstance(expected, bool):
        if isinstance(actual, (float, complex)) or isinstance(expected, (float, complex)):
            return _close(actual, expected, atol)
        return actual == expected
    if type(expected) in (list, tuple, collections.deque):
        return (
            type(actual) is type(expected)
            and len(actual) == len(expected)
            and all(values_equal(a, e, atol) for a, e in zip(actual, expected))
        )
    if isinstance(expected, dict) and isinstance(actual, dict):
        if isinstance(expected, collections.OrderedDict) and isinstance(actual, collections.OrderedDict):
            if list(actual) != list(expected):
                return False
        return actual.keys() == expected.keys() and all(values_equal(actual[k], expected[k], atol) for k in expected)
    return bool(actual == expected)


_BIG = 10**4000  # below Python's 4300-digit limit on int <-> decimal text conversion


def to_literal(v: Any, depth: int = 0) -> str:
    """``repr`` for plain values, except that integers of any size are written (in hex when
    decimal text would pass Python's digit limit) so :func:`ast.literal_eval` reads them back.

    Raises ``TypeError`` for a value that is not a plain literal (and ``RecursionError`` when
    nested too deeply); ``NaN`` and infinities come out as ``repr`` does, which no literal reads.
    """
    if depth > 250:
        raise RecursionError("value nested too deeply")
    t = type(v)
    if t is int:
        if -_BIG < v < _BIG:
            return repr(v)
        return ("-" if v < 0 else "") + hex(abs(v))
    if v is None or t in (bool, str, bytes, float, complex):
        return repr(v)
    if t is list:
        return "[" + ", ".join(to_literal(x, depth + 1) for x in v) + "]"
    if t is tuple:
        inner = ", ".join(to_literal(x, depth + 1) for x in v)
        return "(" + inner + ("," if len(v) == 1 else "") + ")"
    if t is set:
        return "{" + ", ".join(to_literal(x, depth + 1) for x in v) + "}" if v else "set()"
    if t is dict:
        return "{" + ", ".join(f"{to_literal(k, depth + 1)}: {to_literal(x, depth + 1)}" for k, x in v.items()) + "}"
    raise TypeError(f"{t.__name__} is not a plain literal")


def parse_expected(output: str) -> tuple[Any, float]:
    """Parse a call test's ``output`` literal; returns the value and whether it holds floats."""
    import ast

    value = ast.literal_eval(output)
    return value, has_float(value)


def stdout_equal(actual: str, expected: str, atol: float = 0.0) -> bool:
    """The stdio rule: whitespace-separated tokens must be equal, in order, case-sensitively.

    Leading/trailing whitespace and the kind/amount of whitespace between tokens are
    ignored; nothing else is (no prefix matches, no case folding). With ``atol > 0`` a pair
    of tokens that both parse as floats may differ by at most ``atol`` (plus 1e-7 relative).
    """
    a, e = actual.split(), expected.split()
    if len(a) != len(e):
        return False
    for x, y in zip(a, e):
        if x == y:
            continue
        if atol <= 0:
            return False
        try:
            fx, fy = float(x), float(y)
        except ValueError:
            return False
        if not _close(fx, fy, atol):
            return False
    return True
