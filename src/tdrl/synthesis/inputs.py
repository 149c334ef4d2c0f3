"""Type-aware input generation: seeds from tests and type hints, grown by mutation.

Inputs are argument lists of plain values. Each step picks an input from the pool and
mutates one argument according to its type (numbers to boundary values and neighbours,
strings by edits, containers by dropping, duplicating, inserting and reordering elements),
the way EvalPlus grows its inputs. Inputs are deduplicated by their ``repr``.
"""

from __future__ import annotations

import ast
import copy
import random
import re
import string
from typing import Any

_INT_EDGES = [0, 1, -1, 2, 10, -10, 100, 2**31 - 1, -(2**31)]
_FLOAT_EDGES = [0.0, 1.0, -1.0, 0.5, -0.5, 1e-9, 1e9, 3.14159]
_LETTERS = string.ascii_letters + string.digits + " _-,."


def _mutate_str(s: str, rng: random.Random) -> str:
    alphabet = "".join(sorted(set(s))) + _LETTERS if s else _LETTERS
    op = rng.randrange(7)
    if op == 0 or not s:
        i = rng.randrange(len(s) + 1)
        return s[:i] + rng.choice(alphabet) + s[i:]
    if op == 1:
        i = rng.randrange(len(s))
        return s[:i] + s[i + 1 :]
    if op == 2:
        i = rng.randrange(len(s))
        return s[:i] + rng.choice(alphabet) + s[i + 1 :]
    if op == 3:
        return s + s
    if op == 4:
        return s[::-1]
    if op == 5:
        return s.swapcase()
    return ""


def mutate_value(v: Any, rng: random.Random, depth: int = 0) -> Any:
    """One type-preserving edit of a plain value."""
    if isinstance(v, bool):
        return not v
    if isinstance(v, int):
        op = rng.randrange(6)
        if op == 0:
            return rng.choice(_INT_EDGES)
        if op == 1:
            return v + rng.choice((-1, 1))
        if op == 2:
            return -v
        if op == 3:
            return v * 2
        if op == 4:
            return v // 2
        return rng.randint(-abs(v) - 10, abs(v) + 10)
    if isinstance(v, float):
        op = rng.randrange(5)
        if op == 0:
            return rng.choice(_FLOAT_EDGES)
        if op == 1:
            return -v
        if op == 2:
            return v * 2
        if op == 3:
            return round(v + rng.uniform(-10, 10), 3)
        return v / 2
    if isinstance(v, str):
        return _mutate_str(v, rng)
    if isinstance(v, (list, tuple)):
        items = list(v)
        op = rng.randrange(8)
        if op == 0 or not items:
            if items:
                items.insert(rng.randrange(len(items) + 1), mutate_value(rng.choice(items), rng, depth + 1))
            elif depth < 3:
                items = []  # an empty container stays empty: its element type is unknown
        elif op == 1:
            items.pop(rng.randrange(len(items)))
        elif op == 2:
            i = rng.randrange(len(items))
            items[i] = mutate_value(items[i], rng, depth + 1)
        elif op == 3:
            items.append(copy.deepcopy(rng.choice(items)))
        elif op == 4:
            rng.shuffle(items)
        elif op == 5:
            items.reverse()
        elif op == 6:
            try:
                items.sort()
            except TypeError:
                pass
        else:
            items = items + [mutate_value(x, rng, depth + 1) for x in items[: rng.randint(1, max(1, len(items)))]]
        return type(v)(items) if isinstance(v, tuple) else items
    if isinstance(v, (set, frozenset)):
        return type(v)(mutate_value(sorted(v, key=repr), rng, depth + 1))
    if isinstance(v, dict):
        items = list(v.items())
        op = rng.randrange(3)
        if op == 0 and items:
            items.pop(rng.randrange(len(items)))
        elif op == 1 and items:
            i = rng.randrange(len(items))
            items[i] = (items[i][0], mutate_value(items[i][1], rng, depth + 1))
        elif items:
            k, x = rng.choice(items)
            items.append((mutate_value(k, rng, depth + 1), mutate_value(x, rng, depth + 1)))
        try:
            return dict(items)
        except TypeError:
            return v
    return v


def mutate_args(args: list, rng: random.Random) -> list:
    """Mutate one argument of an input (a list of positional arguments)."""
    if not args:
        return args
    out = copy.deepcopy(args)
    i = rng.randrange(len(out))
    out[i] = mutate_value(out[i], rng)
    return out


_HINT_VALUES: dict[str, list] = {
    "int": [0, 1, -3, 7, 42],
    "float": [0.0, 1.5, -2.25],
    "str": ["", "a", "hello world", "AbC12"],
    "bool": [True, False],
    "list": [[], [1, 2, 3]],
    "dict": [{}, {"a": 1}],
    "tuple": [(), (1, 2)],
    "set": [set(), {1, 2}],
}


def _values_for(annotation: ast.expr | None) -> list:
    if annotation is None:
        return []
    if isinstance(annotation, ast.Name):
        return list(_HINT_VALUES.get(annotation.id, []))
    if isinstance(annotation, ast.Subscript) and isinstance(annotation.value, ast.Name):
        outer = annotation.value.id.lower()
        inner = annotation.slice.elts[0] if isinstance(annotation.slice, ast.Tuple) else annotation.slice
        elems = _values_for(inner) or [0]
        if outer in ("list", "sequence", "iterable"):
            return [[], elems[:1], elems[:3] + elems[:1]]
        if outer == "tuple":
            return [tuple(elems[:2])]
        if outer == "set":
            try:
                return [set(), set(elems[:3])]
            except TypeError:
                return [set()]
        if outer == "optional":
            return [None, *elems[:2]]
        if outer == "dict" and isinstance(annotation.slice, ast.Tuple):
            keys, vals = _values_for(annotation.slice.elts[0]) or ["k"], _values_for(annotation.slice.elts[1]) or [0]
            try:
                return [{}, {keys[0]: vals[0]}]
            except TypeError:
                return [{}]
    return []


def seeds_from_hints(code: str, entry_point: str) -> list[list]:
    """Inputs built from the entry point's type hints (``def f(xs: List[int], k: int)``)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    fn = next(
        (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == entry_point), None
    )
    if fn is None:
        return []
    per_arg = [_values_for(a.annotation) for a in fn.args.args if a.arg != "self"]
    if not per_arg or any(not v for v in per_arg):
        return []
    width = max(len(v) for v in per_arg)
    return [[v[i % len(v)] for v in per_arg] for i in range(width)]


def _grow(seeds: list, count: int, rng: random.Random, mutate, key, max_size: int) -> list:
    """Seeds plus mutants of pool members, deduplicated by ``key``, up to ``count`` items."""
    pool: list = []
    seen: set[str] = set()
    for s in seeds:
        if key(s) not in seen:
            seen.add(key(s))
            pool.append(s)
    attempts = 0
    while pool and len(pool) < count and attempts < count * 20:
        attempts += 1
        candidate = mutate(rng.choice(pool), rng)
        k = key(candidate)
        if k in seen or len(k) > max_size:
            continue
        seen.add(k)
        pool.append(candidate)
    return pool[:count]


def grow_inputs(seeds: list[list], count: int, rng: random.Random, max_size: int = 2000) -> list[list]:
    """Seeds plus mutants of them, deduplicated, up to ``count`` inputs of bounded size."""
    return _grow(seeds, count, rng, mutate_args, repr, max_size)


_TOKEN = re.compile(r"(\s+)")


def mutate_stdin(text: str, rng: random.Random) -> str:
    """One edit of a stdin text: a number or word token changed by type, the layout kept."""
    parts = _TOKEN.split(text)
    spots = [i for i, p in enumerate(parts) if p and not p.isspace()]
    if not spots:
        return text + str(rng.randint(0, 9))
    i = rng.choice(spots)
    tok = parts[i]
    try:
        parts[i] = str(mutate_value(int(tok), rng))
    except ValueError:
        try:
            parts[i] = repr(mutate_value(float(tok), rng))
        except ValueError:
            parts[i] = "".join(c for c in _mutate_str(tok, rng) if not c.isspace()) or tok
    return "".join(parts)


def grow_stdin(seeds: list[str], count: int, rng: random.Random, max_size: int = 4000) -> list[str]:
    """Seed stdin texts plus token-level mutants of them, deduplicated, up to ``count``."""
    return _grow(seeds, count, rng, mutate_stdin, str, max_size)
