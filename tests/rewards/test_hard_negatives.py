"""Hard negatives come from the reward model's mistakes: wrong programs it scores highest."""

from tdrl.records import Problem, Sample, Test
from tdrl.rewards.pairs import mine_hard_negatives

PROBLEM = Problem("p", [Test("call", input="[1]", output="2")], prompt="def f(x):\n", entry_point="f")


def test_wrong_programs_the_model_likes_are_mined():
    # the crafted "reward model" likes long answers: it is wrong about w_long and right about w_short
    rows = [
        ("c_short", "def f(x):\n    return x + 1\n", "pass", 1.0),
        ("c_long", "def f(x):\n    y = x\n    return y + 1  # add one\n", "pass", 1.0),
        ("w_long", "def f(x):\n    y = x\n    z = y * 1\n    return z - 1  # a long wrong answer\n", "fail", 0.0),
        ("w_mid", "def f(x):\n    y = x\n    return y\n", "fail", 0.0),
        ("w_short", "def f(x): 0", "error", 0.0),
        ("w_infra", "def f(x):\n    " + "x = 1\n    " * 30 + "return x\n", "infra_error", 0.0),
    ]
    scored = [(Sample("p", sid, code), {"status": st, "pass_rate": rate}) for sid, code, st, rate in rows]

    def by_length(prompts, completions):
        return [float(len(c)) for c in completions]

    pairs = mine_hard_negatives({"p": PROBLEM}, scored, by_length, top_fraction=0.5)
    # 3 wrong programs (the infra failure is not one), top half rounded: 2, best liked first
    assert [p["rejected_id"] for p in pairs] == ["w_long", "w_mid"]
    assert all(p["chosen_id"] == "c_short" for p in pairs)  # the correct program the model likes least
    assert pairs[0]["score_gap"] < 0  # the model ranks this wrong program above the correct one
    assert all(p["source"] == "hard_negative" and p["prompt"] for p in pairs)
    assert mine_hard_negatives({"p": PROBLEM}, [x for x in scored if x[1]["status"] != "pass"], by_length) == []
