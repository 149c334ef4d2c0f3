import random

from tdrl.synthesis.inputs import grow_inputs, mutate_value, seeds_from_hints
from tdrl.synthesis.mutants import make_mutants


def test_mutation_preserves_types():
    rng = random.Random(0)
    for value in [3, -2.5, "abc", True, [1, 2, 3], (1, "x"), {"a": 1}, {1, 2}, [[1], [2, 3]], ""]:
        for _ in range(50):
            assert type(mutate_value(value, rng)) is type(value)


def test_grow_inputs_dedupes_and_reaches_the_count():
    inputs = grow_inputs([[[1, 2, 3], 2]], 60, random.Random(1))
    assert len(inputs) == 60
    assert len({repr(x) for x in inputs}) == 60
    assert inputs[0] == [[1, 2, 3], 2]  # seeds first


def test_seeds_from_type_hints():
    code = "from typing import List\ndef f(xs: List[int], k: int, name: str) -> int:\n    return 0\n"
    seeds = seeds_from_hints(code, "f")
    assert seeds and all(isinstance(s[0], list) and isinstance(s[1], int) and isinstance(s[2], str) for s in seeds)
    assert seeds_from_hints("def f(x):\n    return x\n", "f") == []  # no hints, no guesses


def test_mutants_are_distinct_one_edit_programs():
    code = "def f(xs):\n    total = 0\n    for x in xs:\n        if x > 0 and x % 2 == 0:\n            total += x\n    return total\n"
    mutants = make_mutants(code, limit=30)
    assert len(mutants) >= 8 and len(set(mutants)) == len(mutants)
    for m in mutants:
        compile(m, "<m>", "exec")
        assert m != code
    assert any(">=" in m for m in mutants) and any(" or " in m for m in mutants)
