"""Reward functions: verdicts to rewards, the batched verifier reward, format and length terms."""

import asyncio

import pytest

from tdrl.records import Problem, Test
from tdrl.rewards.functions import LengthPenalty, VerifierReward, format_reward, reward_from_result, weighted

PROBLEM = Problem(
    "inc", [Test("call", input=f"[{x}]", output=str(x + 1)) for x in (0, 1, 2, 3)], prompt="def inc(x):\n", entry_point="inc"
)


def test_verdicts_to_rewards():
    full = {"status": "pass", "pass_rate": 1.0}
    part = {"status": "fail", "pass_rate": 0.5}
    infra = {"status": "infra_error", "pass_rate": 0.0}
    assert [reward_from_result(r) for r in (full, part)] == [1.0, 0.5]
    assert [reward_from_result(r, "all_pass") for r in (full, part)] == [1.0, 0.0]
    assert [reward_from_result(r, "acecoder", bonus=0.5) for r in (full, part)] == [1.5, 0.5]
    assert all(reward_from_result(infra, k) is None for k in ("pass_rate", "all_pass", "acecoder"))  # never 0
    with pytest.raises(ValueError, match="unknown test reward"):
        reward_from_result(full, "magic")


def test_verifier_reward_on_a_batch(verifier):
    reward = VerifierReward({"inc": PROBLEM}, "pass_rate", verifier)
    completions = [
        "```python\ndef inc(x):\n    return x + 1\n```",
        "def inc(x):\n    return x + 1 if x < 2 else x\n",  # 2 of 4
        "import os\nos._exit(0)\n",
        [{"role": "assistant", "content": "def inc(x):\n    return x + 1\n"}],  # conversational
        "```python\ndef inc(x):\n    return x + 1\n```",  # a repeat: verified once, same reward
    ]
    got = asyncio.run(reward(["p"] * 5, completions, problem_id=["inc"] * 5))
    assert got == [1.0, 0.5, 0.0, 1.0, 1.0]
    assert reward.last_results[0] is reward.last_results[4]
    # completion format: the policy continued the prompt and ran on past the function
    cont = asyncio.run(
        reward(
            ["def inc(x):\n"],
            ["    return x + 1\n\ndef other():\n    syntax error here"],
            problem_id=["inc"],
            prompt_format=["completion"],
        )
    )
    assert cont == [1.0]
    assert reward.__name__ == "tests_pass_rate" and reward.calls == 2 and reward.seconds > 0


def test_format_and_length():
    good = "<think>add one</think>\n```python\ndef f(x):\n    return x + 1\n```"
    assert format_reward([good, "```python\nx = 1\n```", "<think>hm</think> no code"]) == [1.0, 0.0, 0.0]
    assert format_reward(["```python\nx = 1\n```"], think=False) == [1.0]
    penalty = LengthPenalty(limit=4, scale=1.0)
    assert penalty(None, ["a", "b"], completion_ids=[[1, 2, 3], [1] * 8]) == [0.0, -1.0]


def test_weighted_sum_keeps_none():
    def a(prompts, completions, **_):
        return [1.0, None]

    async def b(prompts, completions, **_):
        return [2.0, 3.0]

    combined = weighted([a, b], [0.5, 2.0])
    assert asyncio.run(combined(prompts=["p", "q"], completions=["x", "y"])) == [4.5, None]


def test_rewards_are_a_registry_and_an_unknown_name_lists_the_known_ones():
    from tdrl.errors import ConfigError
    from tdrl.rewards.functions import REWARDS, InfraRows, LengthPenalty, RewardContext, build_reward

    assert {"tests", "format", "length", "reward_model"} <= set(REWARDS)
    ctx = RewardContext({}, None, InfraRows())
    func, weight = build_reward({"type": "length", "limit": 4, "scale": 0.5, "weight": 2}, ctx)
    assert isinstance(func, LengthPenalty) and weight == 2.0 and func(None, ["a b c d e f"]) == [-0.25]
    fmt, _ = build_reward({"type": "format", "think": False}, ctx)
    assert fmt.__name__ == "format_code" and fmt(None, ["```python\nx = 1\n```"]) == [1.0]
    with pytest.raises(ConfigError) as err:
        build_reward({"type": "magic"}, ctx)
    assert str(err.value) == "rewards: unknown reward type 'magic' (known: " + ", ".join(REWARDS) + ")"
    with pytest.raises(ConfigError, match="reward 'length': missing option 'limit'"):
        build_reward({"type": "length"}, ctx)
    with pytest.raises(ConfigError, match=r"reward 'format': unknown option\(s\) colour"):
        build_reward({"type": "format", "colour": 1}, ctx)
