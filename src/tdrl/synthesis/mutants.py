"""AST mutants of a reference solution: the wrong programs that tests should catch.

Operators: arithmetic and boolean operator swaps, comparison swaps (``<`` and ``<=``,
``==`` and ``!=``...), constant changes (``n`` to ``n + 1`` and ``n - 1``, ``True`` and
``False``: off-by-one errors in ranges and slices come from these), loops that skip the
first or last element of a sequence, negated conditions, and removed branches (an ``if`` body or ``else`` replaced by ``pass``). Each mutant changes
one node. Mutants that behave like the reference on every input tried are treated as
equivalent and left out of mutation scores.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Iterator

_BIN_SWAPS = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.FloorDiv: ast.Mult,
    ast.Div: ast.Mult,
    ast.Mod: ast.FloorDiv,
}
_CMP_SWAPS = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_BOOL_SWAPS = {ast.And: ast.Or, ast.Or: ast.And}


def _sites(tree: ast.AST) -> Iterator[tuple[ast.AST, str, object]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and type(node.op) in _BIN_SWAPS:
            yield node, "op", _BIN_SWAPS[type(node.op)]()
        elif isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in _CMP_SWAPS:
                    yield node, f"cmp{i}", _CMP_SWAPS[type(op)]()
        elif isinstance(node, ast.BoolOp):
            yield node, "op", _BOOL_SWAPS[type(node.op)]()
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            yield node, "value", node.value + 1
            yield node, "value", node.value - 1
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            yield node, "value", not node.value
        elif isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.iter, ast.Name):
            # off-by-one over a sequence: skip its first or its last element
            for sl in (ast.Slice(lower=ast.Constant(1)), ast.Slice(upper=ast.Constant(-1))):
                yield node, "iter", ast.Subscript(value=ast.Name(node.iter.id, ast.Load()), slice=sl, ctx=ast.Load())
        elif isinstance(node, (ast.If, ast.While)):
            yield node, "test", ast.UnaryOp(ast.Not(), node.test)
            if isinstance(node, ast.If):
                yield node, "body", [ast.Pass()]
                if node.orelse:
                    yield node, "orelse", []


def make_mutants(code: str, limit: int = 40, seed: int = 0) -> list[str]:
    """Up to ``limit`` distinct one-edit mutants of ``code`` (sampled evenly over edit sites)."""
    try:
        n_sites = sum(1 for _ in _sites(ast.parse(code)))
    except SyntaxError:
        return []
    order = list(range(n_sites))
    random.Random(seed).shuffle(order)
    original = ast.unparse(ast.parse(code))
    out: list[str] = []
    seen = {original}
    for index in order:
        tree = ast.parse(code)
        node, attr, new = list(_sites(tree))[index]
        if attr.startswith("cmp"):
            node.ops[int(attr[3:])] = new  # type: ignore[attr-defined]
        else:
            setattr(node, attr, new)
        try:
            text = ast.unparse(ast.fix_missing_locations(tree))
            compile(text, "<mutant>", "exec")
        except (SyntaxError, ValueError):
            continue
        if text not in seen:
            seen.add(text)
            out.append(text)
            if len(out) >= limit:
                break
    return out
