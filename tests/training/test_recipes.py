"""Recipe files: every key checked (nested ones too) before any work, relative paths read from the file's folder."""

import pytest

from tdrl.demo import data_file
from tdrl.training.common import load_recipe
from tdrl.training.iterate import IterateConfig, load_iterate_config
from tdrl.training.rl import RLConfig, load_config, no_signal_warning

PROBLEMS = f"problems={data_file('demo_problems.jsonl')}"


@pytest.mark.parametrize(
    "override, message",
    [
        ("rm.max_step=2", "rm.max_step: unknown setting; did you mean rm.max_steps?"),
        ("rm.max_steps=two", "rm.max_steps: expected int, got 'two' (str)"),
        ("pair_rule.min_chosen=high", "pair_rule.min_chosen: expected float"),
        ("rl.lora.rank=4", "rl.lora.rank: unknown setting; known: alpha, r"),
        ("rl.rewards=[{type: tests, wieght: 1}]", "rl.rewards[0].wieght: unknown setting; did you mean rl.rewards[0].weight?"),
        ("roundz=3", "roundz: unknown setting; did you mean rounds?"),
        ("rounds=[1]", "rounds: expected int"),
        ("sft.epoch=1", "sft.epoch: unknown setting; did you mean sft.epochs?"),
    ],
)
def test_bad_keys_and_types_fail_at_load_naming_the_key(override, message):
    with pytest.raises(ValueError) as err:
        load_iterate_config(None, [PROBLEMS, override])
    assert message in str(err.value)


def test_good_nested_settings_load():
    cfg = load_iterate_config(None, [PROBLEMS, "rm.max_steps=2", "pair_rule.min_chosen=0.5", "rl.lora={r: 4}"])
    assert cfg.rm == {"max_steps": 2} and cfg.pair_rule == {"min_chosen": 0.5} and cfg.rl == {"lora": {"r": 4}}
    assert isinstance(load_recipe(IterateConfig, None, ["rounds=3"]), IterateConfig)


def test_relative_paths_are_read_from_the_config_folder(tmp_path, monkeypatch):
    recipe = tmp_path / "recipes" / "rl.yaml"
    recipe.parent.mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "p.jsonl").write_text(data_file("demo_problems.jsonl").read_text())
    recipe.write_text(
        "problems: ../data/p.jsonl\nout_dir: run\ndifficulty: {results: ../data/r.jsonl}\n"
        "rewards:\n  - {type: reward_model, path: ../rm}\n"
    )
    monkeypatch.chdir(tmp_path / "data")  # anywhere but the recipe's folder
    cfg = load_config(recipe)
    assert cfg.problems == str(tmp_path / "recipes" / ".." / "data" / "p.jsonl")
    assert cfg.difficulty["results"] == str(tmp_path / "recipes" / ".." / "data" / "r.jsonl")
    assert cfg.rewards[0]["path"] == str(tmp_path / "recipes" / ".." / "rm")
    assert cfg.out_dir == "run"  # outputs go to the current folder
    recipe.write_text("problems: missing.jsonl\n")
    with pytest.raises(ValueError, match="missing.jsonl: file not found"):
        load_config(recipe)
    assert not (tmp_path / "data" / "rl-run").exists()


def test_the_shipped_examples_load_from_another_folder(tmp_path, monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(tmp_path)
    cfg = load_config(Path(__file__).resolve().parents[2] / "examples" / "rl_humaneval.yaml")
    assert Path(cfg.problems).exists() and cfg.max_completion_length >= 256


def test_rl_warns_when_every_group_had_equal_rewards():
    cfg = RLConfig(max_completion_length=64)
    logged = [{"step": s, "reward": 0.0, "frac_reward_zero_std": 1.0, "completions/clipped_ratio": 0.75} for s in (1, 2)]
    text = no_signal_warning(logged, cfg)
    assert "all 2 logged steps" in text and "75% of completions hit max_completion_length 64" in text
    assert no_signal_warning([*logged, {"step": 3, "reward": 0.2, "frac_reward_zero_std": 0.5}], cfg) is None
