"""GeneralPoints: deals, the solver, the verifier's rewards and the revision loop."""

import itertools
import json
from fractions import Fraction

import pytest

from tdrl.envs import Episode, GeneralPoints, make_env
from tdrl.envs.points import card_value, evaluate, solve


def brute_force_solvable(numbers, target):
    """An independent check: every permutation, every operator triple, all five bracketings."""
    ops = {
        "+": lambda a, b: a + b,
        "-": lambda a, b: a - b,
        "*": lambda a, b: a * b,
        "/": lambda a, b: a / b if b != 0 else None,
    }

    def f(op, a, b):
        return None if a is None or b is None else ops[op](a, b)

    for a, b, c, d in itertools.permutations([Fraction(n) for n in numbers]):
        for x, y, z in itertools.product(ops, repeat=3):
            shapes = [
                f(z, f(y, f(x, a, b), c), d),  # ((a b) c) d
                f(z, f(x, a, f(y, b, c)), d),  # (a (b c)) d
                f(y, f(x, a, b), f(z, c, d)),  # (a b) (c d)
                f(x, a, f(z, f(y, b, c), d)),  # a ((b c) d)
                f(x, a, f(y, b, f(z, c, d))),  # a (b (c d))
            ]
            if any(v == target for v in shapes):
                return True
    return False


def test_solver_agrees_with_brute_force_and_its_formulas_are_right():
    import random

    rng = random.Random(7)
    cases = [[1, 1, 1, 1], [4, 7, 8, 8], [3, 3, 8, 8], [1, 5, 5, 5], [13, 13, 13, 13]]
    cases += [[rng.randint(1, 13) for _ in range(4)] for _ in range(80)]
    solvable = 0
    for numbers in cases:
        formula = solve(numbers, 24)
        assert (formula is not None) == brute_force_solvable(numbers, 24), numbers
        if formula:
            solvable += 1
            value, used, error = evaluate(formula)
            assert error == "" and value == 24 and sorted(used) == sorted(numbers), (numbers, formula)
    assert 20 < solvable < len(cases)  # both kinds occur
    assert solve([3, 3, 8, 8]) is not None  # needs a fraction: 8 / (3 - 8/3)
    assert solve([1, 1, 1, 1]) is None


@pytest.mark.parametrize("split", ["id", "ood"])
def test_every_deal_is_solvable_under_its_rule(split):
    env = GeneralPoints()
    tasks = env.tasks(150, split, seed=3)
    assert len({t.id for t in tasks}) == 150
    for t in tasks:
        cards = t.info["cards"]
        assert len(cards) == 4 and all(1 <= card_value(c, split) <= 13 for c in cards)
        assert brute_force_solvable([card_value(c, split) for c in cards], 24), cards
        verdict = env.check(t, env.expert(t))
        assert verdict.correct and verdict.reward == 5.0
        if split == "ood":
            assert any(c in ("J", "Q", "K") for c in cards)
    # the rule is stated in the prompt
    assert ("J, Q and K all count as 10" in tasks[0].prompt) == (split == "id")
    assert ("J, Q and K count as 11, 12 and 13" in tasks[0].prompt) == (split == "ood")
    # deals are reproducible and depend on the seed
    assert [t.info for t in env.tasks(5, split, seed=3)] == [t.info for t in tasks[:5]]
    assert [t.info for t in env.tasks(5, split, seed=4)] != [t.info for t in tasks[:5]]


def test_target_is_configurable():
    env = make_env("points", target=10)
    for t in env.tasks(30, "id"):
        assert "to make 10" in t.prompt
        assert env.check(t, env.expert(t)).reward == 5.0


def test_fewer_cards_is_an_easier_game_with_the_same_rules_and_rewards():
    from tdrl.envs import make_env

    env = make_env("points", cards=3)
    for split in ("id", "ood"):
        for t in env.tasks(20, split, seed=3):
            cards = t.info["cards"]
            assert len(cards) == 3 and _solvable3([card_value(c, split) for c in cards], 24), cards
            assert split == "id" or any(c in ("J", "Q", "K") for c in cards)
            assert env.check(t, env.expert(t)).reward == 5.0
    three = env.tasks(1, "id", seed=3)[0]
    assert env.check(three, _answer("(1+2)*(3+4)")).reward < 0  # a fourth number is invented, not allowed
    with pytest.raises(ValueError, match="cards 0"):
        make_env("points", cards=0).tasks(1)


def _solvable3(numbers, target):
    """An independent check for three numbers: every permutation, operator pair and both bracketings."""

    def f(op, a, b):
        if a is None or b is None or (op == "/" and b == 0):
            return None
        return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if op == "/" else None}[op]

    for a, b, c in itertools.permutations([Fraction(n) for n in numbers]):
        for o1, o2 in itertools.product("+-*/", repeat=2):
            if target in (f(o2, f(o1, a, b), c), f(o1, a, f(o2, b, c))):
                return True
    return False


def _task(cards, rule="id"):
    from tdrl.envs.base import Task

    return Task("t", "points", rule, "", {"cards": cards, "target": 24, "rule": rule})


def _answer(formula):
    return json.dumps({"cards": [], "number": [], "formula": formula})


@pytest.mark.parametrize(
    "formula, reward",
    [
        ("(5+3)*(10-7)", 5.0),  # correct
        ("(5+3)*(10-7) = 24", 5.0),  # a trailing "= 24" is accepted
        ("(5+3)*10-7", -1.0),  # right numbers, wrong value
        ("5/(3-3)*10+7", -2.0),  # one 3 overused (the numbers are wrong before the division by zero matters)
        ("(5+3)*(10-7)+1", -2.0),  # one invented number
        ("(5+3)*10", -2.0),  # one unused number
        ("(5+3)*(11-7)", -4.0),  # 10 unused, 11 invented
        ("5*3+10+7", -1.0),
        ("(5+3)*(10-7", -3.0),  # syntax
        ("(5+3)x(10-7)", -3.0),  # illegal character
        ("-5+3*10-7", -3.0),  # unary minus is not an operation of the game
        ("5 ** 3 + 10 + 7", -3.0),  # power is not either
        ("(5+3)*(10-7.0)", -3.0),
    ],
)
def test_rewards_are_as_specified(formula, reward):
    env = GeneralPoints()
    task = _task(["5", "3", "K", "7"])  # K is 10 under the in-distribution rule
    verdict = env.check(task, _answer(formula))
    assert verdict.reward == reward, verdict
    assert verdict.correct == (reward == 5.0)
    assert verdict.correct or verdict.reason


def test_division_by_zero_with_the_right_numbers_is_a_wrong_value():
    env = GeneralPoints()
    verdict = env.check(_task(["5", "5", "3", "2"]), _answer("3/(5-5)*2"))
    assert verdict.reward == -1.0 and "division by zero" in verdict.reason


def test_answers_that_are_not_json_formulas():
    env = GeneralPoints()
    task = _task(["5", "3", "K", "7"])
    assert env.check(task, "(5+3)*(10-7)").reward == -3.0  # no JSON
    assert env.check(task, '{"formula": 24}').reward == -3.0  # not a string
    fenced = "Sure!\n```json\n" + _answer("(5+3)*(10-7)") + "\n```"
    assert env.check(task, fenced).reward == 5.0


def test_face_cards_follow_the_rule():
    env = GeneralPoints()
    ood = _task(["Q", "2", "A", "A"], "ood")  # Q is 12: 12*2*1*1
    assert env.check(ood, _answer("12*2*1*1")).reward == 5.0
    assert env.check(ood, _answer("10*2+1+1")).reward == -4.0  # used the in-distribution value
    assert env.check(_task(["Q", "2", "A", "A"], "id"), _answer("12*2*1*1")).reward == -4.0


def test_revision_loop_feeds_back_the_reason_and_stops():
    env = GeneralPoints(verify_iter=3)
    task = _task(["5", "3", "K", "7"])
    ep = Episode(env, task)
    reply = ep.step(_answer("(5+3)*10-7"))
    assert "makes 73" in reply and "2 attempts left" in reply
    reply = ep.step("no idea")
    assert "formula" in reply and "1 attempt left" in reply
    assert ep.step(_answer("(5+3)*(10-7)")) is None
    assert ep.done and ep.solved and ep.ret == -1 - 3 + 5
    s = ep.summary()
    assert s["attempts"] == 3 and s["rewards"] == [-1.0, -3.0, 5.0] and not s["first_try"]
    with pytest.raises(RuntimeError):
        ep.step("again")

    failed = Episode(env, task)
    replies = [failed.step(_answer("(5+3)*10-7")) for _ in range(3)]
    assert replies[-1] is None and all(replies[:2])
    assert failed.done and not failed.solved and failed.ret == -3 * 1 - 1  # out of attempts: -1 once

    first = Episode(GeneralPoints(), task)
    assert first.step(_answer("(5+3)*(10-7)")) is None and first.ret == 5.0 and first.summary()["first_try"]
