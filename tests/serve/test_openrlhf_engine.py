"""tdrl's rewards through OpenRLHF's own reward client (OpenRLHF 0.11.2, installed with --no-deps; see the Makefile).

``openrlhf.utils.agent.SingleTurnAgentExecutor.execute`` is OpenRLHF's code that, after each
generation, decodes prompt + response with ``skip_special_tokens=False`` and asks for one
sample's reward: from a Python file's ``reward_func`` (in a thread) or over HTTP (aiohttp,
180 s timeout, 5 attempts). It runs here as it is; only vLLM, which needs a GPU, is replaced
by an engine that returns fixed token ids (the response's tokens and the EOS token, as vLLM
returns them). The prompt comes from OpenRLHF's ``preprocess_data`` on a ``tdrl
export-openrlhf`` row. How the reward is then stored mirrors 0.11.2's
``openrlhf/trainer/ppo_utils/samples_generator.py`` (``_process_response_into_experience``,
which imports vLLM and cannot be imported here).
"""

import argparse
import ast
import asyncio
import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from tdrl.io import iter_jsonl, write_jsonl

from .engines import documented_args, need
from .test_adapters import HALF, HOSTILE, RIGHT, SQUARE, STDIO, STDIO_RIGHT
from .test_reward_server import reward_server

need("openrlhf")
need("aiohttp")
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.engines


def documented_flags() -> list[str]:
    return documented_args("openrlhf.cli.train_ppo_ray")


def openrlhf_parser() -> argparse.ArgumentParser:
    """``train_ppo_ray``'s own argument parser: the statements of its ``__main__`` block up to ``parse_args``.

    The module itself imports DeepSpeed and vLLM at the top, so it is read, not imported.
    """
    source = Path(importlib.util.find_spec("openrlhf.cli.train_ppo_ray").origin).read_text()
    tree = ast.parse(source).body
    main = next(n for n in tree if isinstance(n, ast.If) and "__main__" in ast.unparse(n.test))
    # its standard-library imports (argparse, os, datetime), not the GPU stack
    body = [
        n
        for n in tree
        if isinstance(n, (ast.Import, ast.ImportFrom))
        and all((getattr(n, "module", None) or a.name).split(".")[0] in sys.stdlib_module_names for a in n.names)
    ]
    for stmt in main.body:
        if "parse_args" in ast.unparse(stmt):
            break
        body.append(stmt)
    scope: dict = {}
    exec(compile(ast.Module(body=body, type_ignores=[]), "train_ppo_ray.py", "exec"), scope)  # noqa: S102
    return scope["parser"]


def test_documented_launch_flags_parse_with_openrlhfs_parser():
    import tdrl.serve.openrlhf as adapter

    args = vars(openrlhf_parser().parse_args(documented_flags()))  # an unknown flag exits here
    assert Path(args["reward.remote_url"]).samefile(adapter.__file__)
    assert args["data.input_key"] == "prompt" and args["data.label_key"] == "label" and args["data.apply_chat_template"]
    assert args["algo.advantage.estimator"] == "reinforce_baseline" and args["rollout.n_samples_per_prompt"] == 8
    with pytest.raises(SystemExit):  # the pre-0.10.2 flags docs/rl.md once gave are gone
        openrlhf_parser().parse_args(["--remote_rm_url", "x", "--label_key", "label"])


class FixedEngine:
    """Stands in for vLLM: answers with given token ids and finish reason "stop"."""

    def __init__(self, ids: list[int]):
        self.ids = ids

    async def generate(self, prompt_token_ids, params, multi_modal_data=None):
        return SimpleNamespace(outputs=[SimpleNamespace(token_ids=self.ids, finish_reason="stop", logprobs=None)])


def _episodes(tmp_path, tokenizer, remote_url: str, answers: list[tuple[object, str]]):
    """Run OpenRLHF's executor on exported rows; returns (reward tensor as OpenRLHF stores it, extra_logs) per sample."""
    import torch
    from openrlhf.datasets.prompts_dataset import preprocess_data
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    from tdrl.serve.export import export_openrlhf

    write_jsonl(tmp_path / "problems.jsonl", [p for p, _ in answers])
    export_openrlhf(tmp_path / "problems.jsonl", tmp_path / "train.jsonl")
    rows = [row for _, row in iter_jsonl(tmp_path / "train.jsonl")]
    executor = SingleTurnAgentExecutor(remote_url)
    params = SimpleNamespace(max_tokens=256, logprobs=None)
    out = []
    for row, (_, response) in zip(rows, answers):
        prompt, label = preprocess_data(
            row, input_key="prompt", label_key="label", apply_chat_template=tokenizer.apply_chat_template
        )
        engine = FixedEngine(tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id])
        got = asyncio.run(executor.execute(prompt, label, params, 1024, tokenizer, engine))
        assert got["reward"] is not None, "OpenRLHF would fail the step on a None reward"
        reward = torch.tensor([got["reward"]])  # samples_generator.py, 0.11.2: info["reward"] = torch.tensor([reward_val])
        logs = {k: (v.flatten()[0].item() if isinstance(v, torch.Tensor) else v) for k, v in got["extra_logs"].items()}
        out.append((reward.flatten().tolist(), logs))
    return out


CASES = [
    (SQUARE, f"```python\n{RIGHT}```", [1.0]),
    (SQUARE, HALF, [0.8]),
    (SQUARE, HOSTILE["exit0"], [0.0]),
    (STDIO, STDIO_RIGHT, [1.0]),
]


def _cases():
    """The cases under distinct ids (one problems file), the stdio one with a statement to prompt with."""
    from tdrl.records import Problem

    out = []
    for i, (problem, response, want) in enumerate(CASES):
        d = {**problem.to_dict(), "id": f"{problem.id}-{i}"}
        if problem is STDIO:
            d["prompt"] = "Read two integers and print their sum."
        out.append((Problem.from_dict(d), response, want))
    return out


def test_openrlhf_executor_with_the_python_reward_func(tmp_path, tiny_model, monkeypatch):
    from transformers import AutoTokenizer

    import tdrl.serve.openrlhf as adapter

    monkeypatch.setenv("TDRL_WORKERS", "2")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    cases = _cases()
    got = _episodes(tmp_path, tokenizer, adapter.__file__, [(p, r) for p, r, _ in cases])
    for (reward, logs), (_, response, want) in zip(got, cases):
        assert reward == pytest.approx(want, abs=1e-6), response
        assert logs["infra_error"] == 0.0 and logs["special_tokens_stripped"] >= 1  # the EOS text was there and went


def test_openrlhf_executor_over_http_to_serve_reward(tmp_path, tiny_model):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    cases = _cases()
    with reward_server(tmp_path, "--max-concurrency", "4") as url:
        got = _episodes(tmp_path, tokenizer, f"{url}/get_reward", [(p, r) for p, r, _ in cases])
    for (reward, logs), (_, response, want) in zip(got, cases):
        assert reward == pytest.approx(want, abs=1e-6), response
        assert logs["infra_error"] == [0.0] and logs["special_tokens_stripped"][0] >= 1


def test_openrlhf_executor_gets_a_reward_when_the_verifier_fails(tmp_path, tiny_model, monkeypatch):
    """A verifier that cannot run anything gives 0 with the infra flag, never the exception
    OpenRLHF's executor turns into a None reward (and then a failed step)."""
    from transformers import AutoTokenizer

    import tdrl.serve.openrlhf as adapter
    import tdrl.serve.scoring as scoring

    def broken():
        raise RuntimeError("sandbox pool died")

    monkeypatch.setattr(scoring, "shared_verifier", broken)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    ((reward, logs),) = _episodes(tmp_path, tokenizer, adapter.__file__, [(SQUARE, RIGHT)])
    assert reward == [0.0] and logs["infra_error"] == 1.0
