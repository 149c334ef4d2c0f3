"""SRL pieces: trajectories, step expansion, parsing, the similarity reward, dynamic sampling."""

import json

import pytest

from tdrl.io import InputError
from tdrl.rewards.srl import (
    StepReward,
    Trajectory,
    arithmetic_trajectories,
    dynamic_filter,
    expand,
    parse_step,
    read_trajectories,
    sequence_ratio,
    shell_trajectories,
    step_reward,
)


def test_expansion_gives_n_minus_one_instances_with_the_prefix_as_context():
    t = Trajectory("t", "Compute 1 + 2 * 3.", ["1 + 2 = 3", "3 * 3 = 9", "answer: 9"])
    rows = expand([t])
    assert [r["step_index"] for r in rows] == [1, 2] and [r["expert_step"] for r in rows] == ["3 * 3 = 9", "answer: 9"]
    assert "1. 1 + 2 = 3" in rows[0]["prompt"] and "2. 3 * 3 = 9" not in rows[0]["prompt"]
    assert "2. 3 * 3 = 9" in rows[1]["prompt"] and "<think>" in rows[1]["prompt"]
    assert len(expand([t], include_first=True)) == 3


def test_parsing_and_the_format_penalty():
    assert parse_step("<think>multiply</think> 3 * 3 = 9\nmore text") == "3 * 3 = 9"
    assert parse_step("3 * 3 = 9") is None  # no monologue
    assert parse_step("<think>unclosed 3 * 3 = 9") is None
    assert parse_step("<think>done</think>   ") is None  # no step after it
    assert step_reward("no format at all", "3 * 3 = 9") == -1.0
    assert step_reward("<think>x</think> 3 * 3 = 9", "3 * 3 = 9") == 1.0
    assert 0 < step_reward("<think>x</think> 3 * 3 = 8", "3 * 3 = 9") < 1
    assert step_reward("<think>x</think> abc", "abd", similarity=lambda a, b: 0.25) == 0.25


def test_autojunk_is_an_option_and_matters_on_long_steps():
    expert = (
        'cd project && python -m pytest tests/unit/test_models.py -k "save and load" --maxfail=1 -q && git add -A && '
        'git commit -m "fix model loading when the checkpoint folder is missing its config file" && git push origin main'
    )
    guess = (
        'cd project && python -m pytest tests/unit/test_models.py -k "save or load" --maxfail=2 -q && git add . && '
        'git commit -m "fix the model loading when checkpoint folder misses its config" && git push origin master'
    )
    assert len(expert) >= 200
    plain, junked = sequence_ratio(guess, expert), sequence_ratio(guess, expert, autojunk=True)
    assert plain > 0.9 and junked < 0.4  # spaces and common letters become junk: a near-copy looks unrelated
    short = sequence_ratio("x = 1", "x = 2", autojunk=True) == sequence_ratio("x = 1", "x = 2")
    assert short  # below 200 characters the heuristic never applies
    reward = StepReward(autojunk=True)
    assert reward(None, [f"<think>t</think> {guess}"], expert_step=[expert]) == [pytest.approx(junked)]


def test_dynamic_filter_drops_prompts_without_reward_spread():
    rows = [{"id": i} for i in range(3)]
    kept, filtered = dynamic_filter(rows, [[1.0, 1.0, 1.0], [0.2, 0.9, 0.5], [-1.0, -1.0, -1.0]])
    assert kept == [{"id": 1}] and filtered == 2


def test_synthetic_trajectories_and_loader_errors(tmp_path):
    arith = arithmetic_trajectories(5, seed=1)
    for t in arith:  # each step is right: replay it
        value = int(t.problem.split()[1])
        for step in t.steps[:-1]:
            lhs, rhs = step.split(" = ")
            assert int(lhs.split()[0]) == value
            value = eval(lhs)  # noqa: S307 -- our own generated arithmetic
            assert value == int(rhs)
        assert t.steps[-1] == f"answer: {value}" == f"answer: {t.meta['answer']}"
    shell = shell_trajectories(3)
    assert all(t.steps[0].startswith("mkdir ") and t.steps[-1] == "ls" and t.kind == "agent" for t in shell)

    path = tmp_path / "traj.jsonl"
    path.write_text(json.dumps({"id": "a", "problem": "p", "steps": ["one", "two"]}) + "\n")
    assert read_trajectories(path)[0].steps == ["one", "two"]
    path.write_text(json.dumps({"id": "a", "problem": "p", "steps": ["one", ""]}) + "\n")
    with pytest.raises(InputError, match=r"traj.jsonl:1: field 'steps\[1\]'"):
        read_trajectories(path)
