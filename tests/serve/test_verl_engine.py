"""tdrl's compute_score inside verl's own code (verl 0.9.1, installed without GPU packages; see the Makefile).

The data takes verl's path: ``tdrl export-verl`` parquet -> ``verl.utils.dataset.rl_dataset.RLHFDataset``
-> ``collate_fn`` -> ``DataProto``, with prompt and response token ids laid out as verl's rollout
leaves them (left-padded prompts, right-padded responses ending in EOS; mirrors
``verl/experimental/agent_loop`` in 0.9.1). Scoring goes through
``verl.experimental.reward_loop.RewardLoopWorker`` (which loads the function from
``reward.custom_reward_function.path/name`` and builds the ``naive`` manager) and
``assemble_rm_scores``, the reward loop's own steps; only the Ray actor wrapper is left out.
The config is verl's ``ppo_trainer`` composed with the overrides docs/rl.md gives.
"""

import inspect
import os
from pathlib import Path

import pytest

from tdrl.io import write_jsonl
from tdrl.records import Problem

from .engines import documented_args, need
from .test_adapters import HALF, HOSTILE, RIGHT, SQUARE, STDIO, STDIO_RIGHT

need("verl")
need("hydra")
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.engines


def documented_overrides() -> list[str]:
    return documented_args("verl.trainer.main_ppo")


def verl_config(overrides: list[str]):
    import verl
    from hydra import compose, initialize_config_dir

    config_dir = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        return compose(config_name="ppo_trainer", overrides=overrides)


def test_documented_overrides_load_in_verls_config_and_name_tdrls_async_function():
    from omegaconf import OmegaConf
    from verl.trainer.constants_ppo import get_ppo_ray_runtime_env
    from verl.trainer.ppo.reward import get_custom_reward_fn

    from tdrl.serve import verl as adapter

    overrides = documented_overrides()
    cfg = verl_config(overrides)  # an unknown key would raise here
    assert Path(cfg.reward.custom_reward_function.path).samefile(adapter.__file__)
    assert cfg.reward.custom_reward_function.name == "compute_score" and cfg.reward.reward_manager.name == "naive"
    fn = get_custom_reward_fn(cfg)  # how verl loads it
    assert inspect.iscoroutinefunction(fn)  # verl awaits it rather than running it in a thread
    # the variables reach every reward worker through the Ray runtime env, as strings (Ray requires them)
    env = OmegaConf.merge(get_ppo_ray_runtime_env(cfg), cfg.ray_kwargs.ray_init.runtime_env)
    assert env.env_vars.TDRL_WORKERS == "16"
    # the pre-0.9 keys still parse, but they do not set the function main_ppo uses
    legacy = [o.replace("reward.custom_reward_function.", "custom_reward_function.") for o in overrides]
    assert verl_config(legacy).reward.custom_reward_function.path is None


def _data_proto(parquet: Path, tokenizer, responses: list[str]):
    """A DataProto as verl's trainer holds it after the rollout."""
    import numpy as np
    import torch
    from omegaconf import OmegaConf
    from verl import DataProto
    from verl.utils.dataset.rl_dataset import RLHFDataset, collate_fn

    data_cfg = OmegaConf.create({"prompt_key": "prompt", "max_prompt_length": 256, "filter_overlong_prompts": False})
    dataset = RLHFDataset(data_files=[str(parquet)], tokenizer=tokenizer, config=data_cfg)
    rows = collate_fn([dataset[i] for i in range(len(dataset))])
    non_tensors = {k: v for k, v in rows.items() if isinstance(v, np.ndarray)}
    prompts = [tokenizer.apply_chat_template(list(m), add_generation_prompt=True, tokenize=False) for m in rows["raw_prompt"]]
    p_ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    r_ids = [tokenizer(r, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for r in responses]
    pw, rw, pad = max(map(len, p_ids)), max(map(len, r_ids)), tokenizer.pad_token_id
    prompt_t = torch.tensor([[pad] * (pw - len(x)) + x for x in p_ids])
    response_t = torch.tensor([x + [pad] * (rw - len(x)) for x in r_ids])
    mask = torch.tensor([[0] * (pw - len(p)) + [1] * len(p) + [1] * len(r) + [0] * (rw - len(r)) for p, r in zip(p_ids, r_ids)])
    tensors = {
        "prompts": prompt_t,
        "responses": response_t,
        "input_ids": torch.cat([prompt_t, response_t], dim=1),
        "attention_mask": mask,
    }
    return DataProto.from_dict(tensors=tensors, non_tensors=non_tensors)


def test_verls_reward_loop_scores_tdrl_export_with_the_tdrl_function(tiny_model, tmp_path):
    from transformers import AutoTokenizer
    from verl.experimental.reward_loop import RewardLoopWorker
    from verl.experimental.reward_loop.reward_manager.naive import NaiveRewardManager

    from tdrl.serve.export import export_verl

    problems = [Problem.from_dict({**SQUARE.to_dict(), "id": f"sq{i}"}) for i in range(3)] + [STDIO]
    problems.append(Problem.from_dict({**SQUARE.to_dict(), "id": "sq3"}))
    write_jsonl(tmp_path / "problems.jsonl", problems)
    assert export_verl(tmp_path / "problems.jsonl", tmp_path / "train.parquet") == 5
    responses = [f"```python\n{RIGHT}```", HALF, HOSTILE["fake_report"], STDIO_RIGHT, f"```python\n{RIGHT}``` Done."]
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    data = _data_proto(tmp_path / "train.parquet", tokenizer, responses)

    overrides = [o for o in documented_overrides() if not o.startswith("actor_rollout_ref.model.path=")]
    cfg = verl_config([*overrides, f"actor_rollout_ref.model.path={tiny_model}"])
    worker = RewardLoopWorker(cfg)
    assert isinstance(worker.reward_manager, NaiveRewardManager) and worker.reward_manager.is_async_reward_score
    # a Ray async actor runs its methods on the loop the worker took at start; so does this test
    outputs = worker.loop.run_until_complete(worker.compute_score_batch(data))
    scores = [o["reward_score"] for o in outputs]
    assert scores == pytest.approx([1.0, 0.8, 0.0, 1.0, 1.0])
    assert [o["reward_extra_info"]["infra_error"] for o in outputs] == [0.0] * 5
    # the manager puts each score on the response's last real token
    rm = NaiveRewardManager.assemble_rm_scores(data, scores)
    assert rm.sum(dim=1).tolist() == pytest.approx(scores) and rm.shape == data.batch["responses"].shape
