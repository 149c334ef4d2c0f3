"""GeneralPoints: make the target (24) from four cards with + - * / and brackets.

The language-only variant of the card game in "SFT Memorizes, RL Generalizes" (Chu et al.,
2025). Cards have ranks 1-13 (A, 2-10, J, Q, K). The rule variant sets what face cards are
worth and is stated in every prompt:

- ``id`` (in-distribution): J, Q and K all count as 10;
- ``ood`` (out-of-distribution): J, Q and K count as 11, 12 and 13, and every deal holds
  at least one face card, so the rule matters.

Deals are redrawn until the solver finds a formula (exact fractions, every order and every
bracketing). The model answers in JSON, ``{"cards": [...], "number": [...], "formula": "..."}``;
the verifier scores the formula as in the paper:

==========================================================  ======================
the formula uses the right numbers and makes the target      +5
the right numbers, a wrong value (or a division by zero)     -1
each unused, overused or invented number                     -2 (each)
no JSON formula, illegal characters or bad syntax            -3
every attempt failed (episode, ``verify_iter`` attempts)     -1 (once, on top)
==========================================================  ======================

A formula may end in ``= <number>``; only the left side is evaluated.

``cards`` (default 4, the paper's game) deals fewer cards for an easier curriculum: with
three cards a formula that merely uses the right numbers makes 24 about 4% of the time
(four cards: under 1%), so a small model's sampled groups sometimes hold a solved episode
and GRPO has a signal. The rewards and the rules stay the paper's.
"""

from __future__ import annotations

import ast
import json
import random
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from itertools import combinations

from tdrl.envs.base import Task, Verdict, json_answer
from tdrl.errors import ConfigError

RANKS = ["A", "2", "3", "4", "5", "6", "7", "8", "9", "10", "J", "Q", "K"]
FACE_VALUES = {"id": {"J": 10, "Q": 10, "K": 10}, "ood": {"J": 11, "Q": 12, "K": 13}}
_ALLOWED = set("0123456789+-*/() ")


def card_value(card: str, rule: str) -> int:
    """What ``card`` counts as under ``rule`` (``id`` or ``ood``)."""
    if card in FACE_VALUES[rule]:
        return FACE_VALUES[rule][card]
    return 1 if card == "A" else int(card)


def solve(numbers: list[int], target: int = 24) -> str | None:
    """A formula that uses every number once and makes ``target`` exactly, or None.

    Combining any two of the remaining values with any operation, in both orders, and
    recursing, reaches every order and every bracketing. Answers are cached by the sorted
    numbers, so redrawing deals stays cheap.
    """
    return _solve(tuple(sorted(numbers)), target)


@lru_cache(maxsize=65536)
def _solve(numbers: tuple[int, ...], target: int) -> str | None:

    def search(items: list[tuple[Fraction, str]]) -> str | None:
        if len(items) == 1:
            value, expr = items[0]
            return (expr[1:-1] if expr.startswith("(") else expr) if value == target else None
        for i, j in combinations(range(len(items)), 2):
            (a, ea), (b, eb) = items[i], items[j]
            rest = [items[k] for k in range(len(items)) if k not in (i, j)]
            options = [(a + b, "+", ea, eb), (a * b, "*", ea, eb), (a - b, "-", ea, eb), (b - a, "-", eb, ea)]
            if b != 0:
                options.append((a / b, "/", ea, eb))
            if a != 0:
                options.append((b / a, "/", eb, ea))
            for value, op, x, y in options:
                found = search([*rest, (value, f"({x}{op}{y})")])
                if found:
                    return found
        return None

    return search([(Fraction(n), str(n)) for n in numbers])


def evaluate(formula: str) -> tuple[Fraction | None, list[int], str]:
    """``(value, numbers used, error)``; ``value`` is None on an error (``error`` says which)."""
    text = formula.split("=")[0] if formula.count("=") == 1 else formula
    bad = sorted(set(text) - _ALLOWED)
    if bad:
        return None, [], f"illegal character(s) {' '.join(repr(c) for c in bad)} in the formula"
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return None, [], f"the formula {text.strip()!r} is not valid arithmetic"
    numbers: list[int] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and type(node.value) is int:
            numbers.append(node.value)
        elif not isinstance(node, (ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Constant)):
            return None, [], "the formula may use only numbers, + - * / and brackets"

    def value_of(node) -> Fraction:
        if isinstance(node, ast.Constant):
            return Fraction(node.value)
        left, right = value_of(node.left), value_of(node.right)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        return left / right  # ZeroDivisionError on a zero divisor

    try:
        return value_of(tree), numbers, ""
    except ZeroDivisionError:
        return None, numbers, "division by zero"


@dataclass
class GeneralPoints:
    """The card game; ``target``, ``verify_iter`` and ``cards`` are configurable (paper: 24, 5 and 4)."""

    target: int = 24
    verify_iter: int = 5
    cards: int = 4
    out_of_attempts: float = -1.0
    name: str = "points"

    def deal(self, rng: random.Random, split: str) -> list[str]:
        """``cards`` cards with a solution under ``split``'s rule (OOD deals hold a face card)."""
        if not 1 <= self.cards <= 6:
            raise ConfigError(f"cards {self.cards}: between 1 and 6")
        while True:
            cards = [rng.choice(RANKS) for _ in range(self.cards)]
            if split == "ood" and not any(c in "JQK" for c in cards):
                continue
            if solve([card_value(c, split) for c in cards], self.target):
                return cards

    def tasks(self, n: int, split: str = "id", seed: int = 0) -> list[Task]:
        if split not in FACE_VALUES:
            raise ConfigError(f"split {split!r}: one of {', '.join(FACE_VALUES)}")
        rng = random.Random(f"{self.name}-{split}-{seed}")
        out = []
        for i in range(n):
            cards = self.deal(rng, split)
            info = {"cards": cards, "target": self.target, "rule": split}
            out.append(Task(f"{self.name}-{split}-{seed}-{i}", self.name, split, self.prompt(cards, split), info))
        return out

    def prompt(self, cards: list[str], rule: str) -> str:
        faces = "J, Q and K all count as 10" if rule == "id" else "J, Q and K count as 11, 12 and 13"
        return (
            f"Cards: {', '.join(cards)}. A counts as 1, {faces}, other cards as their number. "
            f"Use each card's number exactly once, with + - * / and brackets, to make {self.target}. "
            'Answer in JSON: {"cards": [...], "number": [...], "formula": "..."}'
        )

    def check(self, task: Task, answer: str) -> Verdict:
        parsed = json_answer(answer)
        formula = parsed.get("formula") if parsed else None
        if not isinstance(formula, str):
            return Verdict(-3.0, False, 'no JSON answer with a "formula" string')
        value, used, error = evaluate(formula)
        if error and error != "division by zero":
            return Verdict(-3.0, False, error)
        want = Counter(card_value(c, task.info["rule"]) for c in task.info["cards"])
        got = Counter(used)
        unused, extra = want - got, got - want
        wrong = sum(unused.values()) + sum(extra.values())
        if wrong:
            parts = []
            if unused:
                parts.append(f"unused {sorted(unused.elements())}")
            if extra:
                parts.append(f"overused or invented {sorted(extra.elements())}")
            return Verdict(-2.0 * wrong, False, f"the numbers are {sorted(want.elements())}; {'; '.join(parts)}")
        if value is None:
            return Verdict(-1.0, False, "division by zero")
        if value != task.info["target"]:
            return Verdict(-1.0, False, f"the formula makes {value}, not {task.info['target']}")
        return Verdict(5.0, True)

    def expert(self, task: Task) -> str:
        numbers = [card_value(c, task.info["rule"]) for c in task.info["cards"]]
        formula = solve(numbers, task.info["target"])
        return json.dumps({"cards": task.info["cards"], "number": numbers, "formula": formula})
