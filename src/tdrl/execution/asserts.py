"""Turn ``assert`` tests into probes for the sandbox plus a check the trusted parent runs.

An assert such as ``assert abs(f(2.0) - 1.414) < 1e-3`` is split in two:

* **probes**, the sub-expressions that need the candidate's code (``f(2.0)``), are sent to
  the sandbox, evaluated there, and come back as type-tagged plain values;
* the rest of the expression (``abs(_ - 1.414) < 1e-3``) is evaluated here, in the parent,
  by a small interpreter that knows only literals, operators and a list of pure built-ins.

So the expected values of an assert never enter the sandbox and the comparison is made
on real built-in objects: fake ``__eq__``/``__bool__`` objects, patched builtins or a
patched ``AssertionError`` in the candidate's process cannot change the verdict.
``assert CALL(literals) == LITERAL`` becomes a plain call test.

The problem's own names (its entry point, what its prompt defines) are never taken for
the built-ins they may shadow: an entry point called ``max`` is a probe, evaluated in the
sandbox, and must be the program's own (``AssertPlan.need``), not Python's ``max``. The
trusted evaluator bounds its own work: big-int arithmetic by operand sizes, sets and
dicts built from probe values by their count of equal hashes.

Asserts outside this subset (statements before the assert, comprehensions, lambdas,
f-strings, identity tests between computed values) raise :class:`Unsupported`; the
verifier then runs them as ``script`` tests inside the sandbox, which a hostile program
*can* fake. Results mark such tests, and ``tdrl.execution`` documents the difference.
"""

from __future__ import annotations

import ast
import builtins
import math
import operator
import re
from dataclasses import dataclass, field
from typing import Any

from tdrl.execution.values import OverBudget, check_hashes


class Unsupported(ValueError):
    """The assert is outside the subset the parent can evaluate."""


class CheckError(Exception):
    """Evaluating the trusted side raised (as the assert itself would have)."""


_MAX_SIZE = 10_000_000
_SAFE_FUNCS: dict[str, Any] = {
    "abs": abs,
    "len": len,
    "sorted": sorted,
    "set": set,
    "frozenset": frozenset,
    "list": list,
    "tuple": tuple,
    "dict": dict,
    "round": round,
    "min": min,
    "max": max,
    "sum": sum,
    "all": all,
    "any": any,
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "isinstance": isinstance,
    "reversed": lambda x: list(reversed(x)),
    "type": type,
    "complex": complex,
    "bytes": bytes,
}
_SAFE_NAMES: dict[str, Any] = {
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "list": list,
    "tuple": tuple,
    "dict": dict,
    "set": set,
    "frozenset": frozenset,
    "complex": complex,
    "bytes": bytes,
    "type": type,
}
_MATH = {
    name: getattr(math, name)
    for name in (
        "isclose",
        "isnan",
        "isinf",
        "isfinite",
        "fabs",
        "sqrt",
        "floor",
        "ceil",
        "trunc",
        "pi",
        "e",
        "inf",
        "nan",
        "log",
        "exp",
    )
}
_SAFE_METHODS = {
    "lower",
    "upper",
    "strip",
    "lstrip",
    "rstrip",
    "split",
    "splitlines",
    "startswith",
    "endswith",
    "count",
    "index",
    "find",
    "isdigit",
    "isalpha",
    "isalnum",
    "isspace",
    "islower",
    "isupper",
    "keys",
    "values",
    "items",
    "get",
    "issubset",
    "issuperset",
    "union",
    "intersection",
    "difference",
    "copy",
    "title",
    "capitalize",
    "casefold",
    "real",
    "imag",
}
_PLAIN = (int, float, complex, str, bytes, bool, type(None), list, tuple, dict, set, frozenset)
_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
}
_CMPOPS = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
_SINGLETONS = (None, True, False)


@dataclass
class AssertPlan:
    """Probes to evaluate in the sandbox, and the trusted expression that judges their values."""

    probes: list[str]
    expr: ast.expr
    probe_ids: dict[int, int]
    need: list[str] = field(default_factory=list)  # builtin-named names the program itself must define

    def check(self, values: list[Any]) -> bool:
        """True when the assert holds for these probe values; :class:`CheckError` when it raises."""
        try:
            return bool(_Evaluator(self.probe_ids, values).eval(self.expr))
        except (CheckError, OverBudget):
            raise
        except Exception as exc:  # the assert itself would have raised: TypeError, ZeroDivisionError...
            raise CheckError(f"{type(exc).__name__}: {exc}"[:300]) from None


@dataclass
class CallPlan:
    """``assert fn(*literals) == literal``, rewritten as a call test."""

    fn: str
    args: str
    output: str


def _literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


def parse_assert(code: str) -> ast.Assert:
    """The single ``assert`` statement of a test, or :class:`Unsupported`."""
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise Unsupported(f"syntax error: {exc.msg}") from None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
        raise Unsupported("not a single assert statement")
    return tree.body[0]


_DEFINED = re.compile(r"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+([A-Za-z_]\w*)", re.M)


def own_names(entry_point: str | None, prompt: str | None) -> frozenset[str]:
    """The names a problem defines itself: its entry point and every def/class of its prompt."""
    names = set(_DEFINED.findall(prompt or ""))
    if entry_point:
        names.add(entry_point)
    return frozenset(names)


def compile_assert(code: str, own: frozenset[str] = frozenset()) -> CallPlan | AssertPlan:
    """Split an assert test into sandbox probes and a trusted check (see the module doc).

    ``own`` are the problem's own names (:func:`own_names`): never trusted as built-ins.
    """
    expr = parse_assert(code).test
    if isinstance(expr, ast.Compare) and len(expr.ops) == 1 and isinstance(expr.ops[0], ast.Eq):
        left, right = expr.left, expr.comparators[0]
        for call, lit in ((left, right), (right, left)):
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Name)
                and (call.func.id not in _SAFE_FUNCS or call.func.id in own)
                and not call.keywords
                and all(not isinstance(a, ast.Starred) and _literal(a) for a in call.args)
                and _literal(lit)
            ):
                args = "[" + ", ".join(ast.unparse(a) for a in call.args) + "]"
                return CallPlan(call.func.id, args, ast.unparse(lit))
    probes: list[str] = []
    probe_ids: dict[int, int] = {}
    splitter = _Splitter(probes, probe_ids, own)
    splitter.visit_expr(expr)
    return AssertPlan(probes, expr, probe_ids, sorted(splitter.need))


_BUILTIN_NAMES = frozenset(dir(builtins)) | {"math"}


class _Splitter:
    """Marks maximal sub-expressions that need the candidate's namespace as probes."""

    def __init__(self, probes: list[str], ids: dict[int, int], own: frozenset[str] = frozenset()):
        self.probes, self.ids, self.own = probes, ids, own
        self.need: set[str] = set()

    def probe(self, node: ast.expr) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, (ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom)):
                raise Unsupported(f"{type(sub).__name__} inside a probe")
            if isinstance(sub, ast.Name) and sub.id in self.own and sub.id in _BUILTIN_NAMES:
                self.need.add(sub.id)  # in the sandbox it would fall back to the builtin
        self.ids[id(node)] = len(self.probes)
        self.probes.append(ast.unparse(node))

    def trusted(self, name: str, table: dict[str, Any]) -> bool:
        return name in table and name not in self.own

    def visit_expr(self, node: ast.expr) -> None:
        if isinstance(node, ast.Constant):
            return
        if isinstance(node, ast.Name):
            if self.trusted(node.id, _SAFE_NAMES) or node.id in ("None", "True", "False"):
                return
            return self.probe(node)
        if isinstance(node, ast.Call):
            if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
                return self.probe(node)
            func = node.func
            trusted = (isinstance(func, ast.Name) and self.trusted(func.id, _SAFE_FUNCS)) or (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id == "math"
                and "math" not in self.own
                and func.attr in _MATH
            )
            if not trusted and isinstance(func, ast.Attribute) and func.attr in _SAFE_METHODS:
                self.visit_expr(func.value)
                trusted = True
            if not trusted:
                return self.probe(node)
            for a in node.args:
                self.visit_expr(a)
            for k in node.keywords:
                self.visit_expr(k.value)
            return
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == "math" and "math" not in self.own and node.attr in _MATH:
                return
            if node.attr in ("real", "imag"):
                return self.visit_expr(node.value)
            return self.probe(node)
        if isinstance(node, ast.Compare):
            for op, a, b in zip(node.ops, [node.left, *node.comparators], node.comparators):
                if isinstance(op, (ast.Is, ast.IsNot)):
                    consts = [x for x in (a, b) if isinstance(x, ast.Constant) and x.value in _SINGLETONS]
                    if not consts:
                        raise Unsupported("identity test between computed values")
            for child in (node.left, *node.comparators):
                self.visit_expr(child)
            return
        if isinstance(node, (ast.BinOp,)):
            if type(node.op) not in _BINOPS:
                raise Unsupported(f"operator {type(node.op).__name__}")
            self.visit_expr(node.left)
            return self.visit_expr(node.right)
        if isinstance(node, ast.UnaryOp):
            return self.visit_expr(node.operand)
        if isinstance(node, ast.BoolOp):
            for v in node.values:
                self.visit_expr(v)
            return
        if isinstance(node, ast.IfExp):
            for v in (node.test, node.body, node.orelse):
                self.visit_expr(v)
            return
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            for e in node.elts:
                if isinstance(e, ast.Starred):
                    raise Unsupported("starred element")
                self.visit_expr(e)
            return
        if isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values):
                if k is None:
                    raise Unsupported("dict unpacking")
                self.visit_expr(k)
                self.visit_expr(v)
            return
        if isinstance(node, ast.Subscript):
            self.visit_expr(node.value)
            return self.visit_expr(node.slice)
        if isinstance(node, ast.Slice):
            for v in (node.lower, node.upper, node.step):
                if v is not None:
                    self.visit_expr(v)
            return
        raise Unsupported(f"{type(node).__name__} in an assert")


def _size(v: Any) -> int:
    return len(v) if isinstance(v, (str, bytes, list, tuple)) else 1


class _Evaluator:
    """Evaluates the trusted side of an assert over plain values, with size guards."""

    def __init__(self, ids: dict[int, int], values: list[Any]):
        self.ids, self.values = ids, values

    def eval(self, node: ast.expr) -> Any:
        if id(node) in self.ids:
            return self.values[self.ids[id(node)]]
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return {"None": None, "True": True, "False": False}.get(node.id, _SAFE_NAMES.get(node.id))
        if isinstance(node, ast.Compare):
            left = self.eval(node.left)
            for op, comp in zip(node.ops, node.comparators):
                right = self.eval(comp)
                if not _CMPOPS[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.BoolOp):
            result: Any = None
            for v in node.values:
                result = self.eval(v)
                if isinstance(node.op, ast.And) and not result:
                    return result
                if isinstance(node.op, ast.Or) and result:
                    return result
            return result
        if isinstance(node, ast.UnaryOp):
            v = self.eval(node.operand)
            return {ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}[
                type(node.op)
            ](v)
        if isinstance(node, ast.BinOp):
            a, b = self.eval(node.left), self.eval(node.right)
            self._guard(node.op, a, b)
            return _BINOPS[type(node.op)](a, b)
        if isinstance(node, ast.IfExp):
            return self.eval(node.body) if self.eval(node.test) else self.eval(node.orelse)
        if isinstance(node, ast.List):
            return [self.eval(e) for e in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(self.eval(e) for e in node.elts)
        if isinstance(node, ast.Set):
            elts = [self.eval(e) for e in node.elts]
            check_hashes(elts)
            return set(elts)
        if isinstance(node, ast.Dict):
            return {self.eval(k): self.eval(v) for k, v in zip(node.keys, node.values)}  # type: ignore[arg-type]
        if isinstance(node, ast.Subscript):
            return self.eval(node.value)[self.eval(node.slice)]
        if isinstance(node, ast.Slice):
            return slice(*(None if v is None else self.eval(v) for v in (node.lower, node.upper, node.step)))
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == "math":
                return _MATH[node.attr]
            target = self.eval(node.value)
            self._check_plain(target)
            return getattr(target, node.attr)
        if isinstance(node, ast.Call):
            args = [self.eval(a) for a in node.args]
            kwargs = {k.arg: self.eval(k.value) for k in node.keywords}
            func = node.func
            if isinstance(func, ast.Name):
                fn = _SAFE_FUNCS[func.id]
            elif isinstance(func.value, ast.Name) and func.value.id == "math":  # type: ignore[attr-defined]
                fn = _MATH[func.attr]  # type: ignore[attr-defined]
            else:
                target = self.eval(func.value)  # type: ignore[attr-defined]
                self._check_plain(target)
                fn = getattr(target, func.attr)  # type: ignore[attr-defined]
            _guard_call(fn, args, kwargs)
            result = fn(*args, **kwargs)
            if _size(result) > _MAX_SIZE:
                raise CheckError("value too large")
            return result
        raise CheckError(f"cannot evaluate {type(node).__name__}")

    @staticmethod
    def _check_plain(v: Any) -> None:
        if type(v) not in _PLAIN:
            raise CheckError(f"method call on {type(v).__name__}")

    @staticmethod
    def _guard(op: ast.operator, a: Any, b: Any) -> None:
        if isinstance(op, ast.Mult):
            for seq, n in ((a, b), (b, a)):
                if isinstance(seq, (str, bytes, list, tuple)) and isinstance(n, int) and len(seq) * n > _MAX_SIZE:
                    raise CheckError("value too large")
        if isinstance(a, int) and isinstance(b, int):
            bits_a, bits_b = max(a.bit_length(), 1), max(b.bit_length(), 1)
            if isinstance(op, (ast.Mult, ast.FloorDiv, ast.Mod, ast.Div)) and bits_a * bits_b > _MAX_BIT_PRODUCT:
                raise CheckError("value too large")  # schoolbook multiply/divide of huge ints: seconds
            if isinstance(op, ast.Pow) and b > 1 and abs(a) > 1 and bits_a * b > _MAX_BITS:
                raise CheckError("value too large")
        if isinstance(op, ast.LShift) and isinstance(b, int) and b > _MAX_BITS:
            raise CheckError("value too large")
        if isinstance(op, ast.Add) and _size(a) + _size(b) > _MAX_SIZE:
            raise CheckError("value too large")


_MAX_BITS = 1 << 21  # ints the evaluator may create by ** or <<
_MAX_BIT_PRODUCT = 1 << 32  # bits(a) * bits(b) for *, /, //, %: about 65k-bit by 65k-bit


def _guard_call(fn: Any, args: list[Any], kwargs: dict[str, Any]) -> None:
    """Refuse calls whose cost an attacker-shaped argument could blow up."""
    if fn in (set, frozenset, dict) and args and type(args[0]) in (list, tuple):
        keys = args[0]
        if fn is dict:
            keys = [p[0] if type(p) in (list, tuple) and len(p) == 2 else p for p in keys]
        check_hashes(list(keys))
    elif fn is round and len(args) > 1 and isinstance(args[1], int) and abs(args[1]) > 10_000:
        raise CheckError("value too large")
    elif getattr(fn, "__name__", "") in ("union", "intersection", "difference", "issubset", "issuperset"):
        for a in args:
            if type(a) in (list, tuple):
                check_hashes(list(a))
