"""Recipe files: every key checked (nested ones too) before any work, relative paths read from the file's folder."""

import pytest

from tdrl.demo import data_file
from tdrl.errors import ConfigError
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
        ("rl.lora.rank=4", "rl.lora.rank: unknown setting; known: alpha, dropout, r"),
        ("rl.lora.r='4'", "rl.lora.r: expected int, got '4' (str)"),
        ("rm.lora=true", "rm.lora: expected dict or null, got True (bool)"),
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


def test_values_are_converted_to_the_declared_type_nested_blocks_included():
    # YAML 1.1 reads 1e-5 (no dot) as the string "1e-5": a float field takes it as the number it is
    cfg = load_config(
        None, [PROBLEMS, "learning_rate=1e-5", "temperature=1", "verifier.timeout=5", "difficulty={results: r, min: 0}"]
    )
    assert cfg.learning_rate == 1e-5 and type(cfg.learning_rate) is float
    assert cfg.temperature == 1.0 and type(cfg.temperature) is float
    assert type(cfg.verifier["timeout"]) is float and type(cfg.difficulty["min"]) is float
    cfg = load_config(None, [PROBLEMS, "rewards=[{type: tests, weight: 2}]", "lora={r: 4, dropout: 0}"])
    assert type(cfg.rewards[0]["weight"]) is float and type(cfg.lora["dropout"]) is float
    nested = load_iterate_config(None, [PROBLEMS, "rl.learning_rate=3e-6", "rm.epochs=2", "pair_rule.min_gap=1"])
    assert (
        nested.rl["learning_rate"] == 3e-6 and type(nested.rm["epochs"]) is float and type(nested.pair_rule["min_gap"]) is float
    )
    for bad, message in [
        ("max_steps='3'", "max_steps: expected int, got '3' (str)"),  # text for an int is an error, not a guess
        ("learning_rate=fast", "learning_rate: expected float, got 'fast' (str)"),
        ("verifier.workers=1.5", "verifier.workers: expected int or null, got 1.5 (float)"),
        ("use_vllm=1", "use_vllm: expected bool or null, got 1 (int)"),
    ]:
        with pytest.raises(ConfigError) as err:
            load_config(None, [PROBLEMS, bad])
        assert message in str(err.value)


def test_every_shipped_example_states_its_algorithm_and_loads(tmp_path, monkeypatch):
    from pathlib import Path

    from tdrl.envs.study import StudyConfig
    from tdrl.study.code import CodeStudyConfig

    kinds = {"rl_": RLConfig, "study_code": CodeStudyConfig, "study_navigation": StudyConfig, "study_points": StudyConfig}
    examples = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))
    assert len(examples) >= 5
    monkeypatch.chdir(tmp_path)
    for path in examples:
        first = path.read_text().splitlines()[0]
        assert first.startswith("# The algorithm: "), f"{path.name} should open with a plain statement of its algorithm"
        (cls,) = [c for prefix, c in kinds.items() if path.stem.startswith(prefix)]
        assert isinstance(load_recipe(cls, path), cls), path.name  # every key known and of its declared type


def test_srl_and_reward_model_recipes_take_a_file_overrides_and_flags(tmp_path):
    from tdrl.training import reward_model, srl

    (tmp_path / "t.jsonl").write_text('{"id": "a", "problem": "p", "steps": ["one", "two"]}\n')
    recipe = tmp_path / "srl.yaml"
    recipe.write_text("trajectories: t.jsonl\nrounds: 3\nepsilon: 1e-3\nrl: {learning_rate: 1e-4, lora: {r: 4}}\n")
    cfg = srl.load_config(recipe, ["rl.max_completion_length=32"], {"rounds": 1, "rl.learning_rate": 2e-4})
    assert cfg.trajectories == str(tmp_path / "t.jsonl") and cfg.rounds == 1 and cfg.epsilon == 1e-3
    assert cfg.rl == {"learning_rate": 2e-4, "lora": {"r": 4}, "max_completion_length": 32}  # flags win over the file
    with pytest.raises(ConfigError, match="rl.max_step: unknown setting; did you mean rl.max_steps"):
        srl.load_config(recipe, ["rl.max_step=2"])
    with pytest.raises(ConfigError, match="no trajectories"):
        srl.load_config(None)
    rm = tmp_path / "rm.yaml"
    rm.write_text("learning_rate: 1e-4\nlora: {r: 8}\nepochs: 2\n")
    cfg = reward_model.load_config(rm, ["batch_size=4"], {"epochs": 1.0})
    assert (cfg.learning_rate, cfg.lora, cfg.batch_size, cfg.epochs) == (1e-4, {"r": 8}, 4, 1.0)
    with pytest.raises(ConfigError, match="lora_r: unknown setting"):
        reward_model.load_config(None, ["lora_r=8"])
