"""Playing episodes with a real (tiny) transformers model: tokens, masks, replies, resume."""

import json
import subprocess
import sys

import pytest

from tdrl.envs import GeneralPoints, Navigation

pytest.importorskip("transformers")

TDRL = [sys.executable, "-m", "tdrl.cli"]


def _spans(ids, mask):
    """Consecutive runs of ids with the same mask value: [(mask, ids), ...]."""
    out = []
    for i, m in zip(ids, mask):
        if out and out[-1][0] == m:
            out[-1][1].append(i)
        else:
            out.append((m, [i]))
    return out


def test_play_keeps_exact_tokens_with_replies_masked(tiny_model):
    from transformers import AutoModelForCausalLM

    from tdrl.envs.rollout import Turns, play
    from tdrl.training.common import load_tokenizer

    tokenizer = load_tokenizer(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    env = GeneralPoints(verify_iter=3)
    tasks = env.tasks(5, "id")
    rollouts = play(model, tokenizer, env, tasks, max_new_tokens=12, temperature=0.0, batch_size=2)
    turns = Turns(tokenizer)
    for r, task in zip(rollouts, tasks):
        ep = r.episode
        assert ep.task is task and ep.done and len(r.completion_ids) == len(r.env_mask)
        assert r.prompt_ids == turns.encode(turns.prompt_text(task.prompt))
        spans = _spans(r.completion_ids, r.env_mask)
        answers = [ids for m, ids in spans if m == 1]
        replies = [ids for m, ids in spans if m == 0]
        assert [tokenizer.decode(a, skip_special_tokens=True) for a in answers] == ep.answers
        assert len(answers) == len(ep.verdicts) and len(replies) == len(ep.verdicts) - (1 if ep.done else 0)
        for reply, verdict in zip(replies, ep.verdicts):
            text = tokenizer.decode(reply)
            assert "That is wrong" in text and verdict.reason in text and text.endswith("<|assistant|>\n")
    # greedy play is reproducible
    again = play(model, tokenizer, env, tasks, max_new_tokens=12, temperature=0.0, batch_size=5)
    assert [r.completion_ids for r in again] == [r.completion_ids for r in rollouts]


def test_replies_without_a_chat_template_are_plain_lines(tiny_model):
    from tdrl.envs.rollout import Turns
    from tdrl.training.common import load_tokenizer

    tokenizer = load_tokenizer(tiny_model)
    chat = Turns(tokenizer)
    assert chat.prompt_text("hi") == "<|user|>\nhi\n<|assistant|>\n"
    # the model ended its answer with EOS: the template's own end of turn is not repeated
    assert chat.reply_text("no", answered_eos=True) == "\n<|user|>\nno\n<|assistant|>\n"
    assert chat.reply_text("no", answered_eos=False) == "<|endoftext|>\n<|user|>\nno\n<|assistant|>\n"
    tokenizer.chat_template = None
    plain = Turns(tokenizer)
    assert plain.prompt_text("hi") == "hi\n" and plain.reply_text("no", True) == "\nno\n"


def test_envs_eval_cli_reports_both_splits_and_resumes(tiny_model, tmp_path):
    out = tmp_path / "eval"
    args = [*TDRL, "envs", "eval", "--env", "navigation", "--model", tiny_model, "--out", str(out), "-n", "2"]
    args += ["--max-tokens", "8", "--no-progress", "--option", "verify_iter=1"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "  id: success" in proc.stdout and " ood: success" in proc.stdout and "routes" in proc.stdout
    episodes = (out / "episodes.jsonl").read_text().splitlines()
    steps = len(Navigation().tasks(2, "id", seed=1))
    assert len(episodes) == 2 * steps
    report = json.loads((out / "report.json").read_text())
    assert report["splits"]["id"]["episodes"] == steps and report["splits"]["ood"]["routes"] == 2
    assert all(json.loads(e)["attempts"] == 1 for e in episodes)  # verify_iter=1 reached the environment

    # a crash mid-write: a torn last line and a missing tail; the rerun plays only what is missing
    (out / "episodes.jsonl").write_text("\n".join(episodes[:5]) + "\n" + episodes[5][:20])
    again = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    resumed = (out / "episodes.jsonl").read_text().splitlines()
    assert sorted(resumed) == sorted(episodes)  # greedy: the same records, none lost or duplicated
    assert json.loads((out / "report.json").read_text()) == report


def test_envs_tasks_cli_writes_tasks_and_sft_rows(tmp_path):
    tasks, rows = tmp_path / "tasks.jsonl", tmp_path / "sft.jsonl"
    base = [*TDRL, "envs", "tasks", "--env", "points", "-n", "6", "--split", "ood"]
    assert subprocess.run([*base, "--out", str(tasks)], capture_output=True, timeout=120).returncode == 0
    assert subprocess.run([*base, "--out", str(rows), "--expert"], capture_output=True, timeout=120).returncode == 0
    from tdrl.envs.run import read_tasks

    loaded = read_tasks(tasks)
    assert len(loaded) == 6 and all(t.split == "ood" for t in loaded)
    env = GeneralPoints()
    for task, line in zip(loaded, rows.read_text().splitlines()):
        row = json.loads(line)
        assert row["prompt"] == task.prompt and env.check(task, row["completion"]).reward == 5.0

    bad = subprocess.run([*base, "--out", str(rows), "--option", "colour=red"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "unknown option(s) colour" in bad.stderr


def test_grpo_rollout_returns_what_trl_needs(tiny_model):
    from types import SimpleNamespace

    from transformers import AutoModelForCausalLM

    from tdrl.envs.rollout import env_return, env_solved, grpo_rollout
    from tdrl.training.common import load_tokenizer

    env = Navigation(verify_iter=2)
    tasks = env.tasks(1, "id")[:3]
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    trainer = SimpleNamespace(
        model=model, processing_class=load_tokenizer(tiny_model), accelerator=SimpleNamespace(unwrap_model=lambda m: m)
    )
    rollout = grpo_rollout(env, tasks, max_new_tokens=8, temperature=1.0)
    prompts = [t.prompt for t in tasks for _ in range(2)]  # TRL repeats each prompt num_generations times
    prompts[1] = [{"role": "user", "content": prompts[1]}]  # conversational prompts are found too
    out = rollout(prompts, trainer)
    assert len(out["prompt_ids"]) == 6
    for ids, mask, logps in zip(out["completion_ids"], out["env_mask"], out["logprobs"]):
        assert len(ids) == len(mask) == len(logps) and mask[0] == 1
    assert all(r <= 1.0 for r in out["env_return"])
    assert env_return([], out["env_return"]) == [float(x) for x in out["env_return"]]
    assert set(env_solved([], out["env_solved"])) <= {0.0, 1.0}
    # a failed episode has both attempts and the reply between them, masked out
    failed = [i for i, s in enumerate(out["env_solved"]) if not s]
    assert failed  # an untrained model does not write the route planner's JSON
    for i in failed:
        assert out["env_return"][i] <= -1.0 - 1.0 - 1.0 and 0 in out["env_mask"][i]


def test_envs_eval_through_an_openai_compatible_server_revises_after_feedback(serve, tmp_path):
    """A scripted model behind the real HTTP server: wrong first, right after the verifier's reply."""
    from tdrl.envs.run import run_eval
    from tests.conftest import ScriptedModel

    env = GeneralPoints()
    (task,) = env.tasks(1, "id", seed=1)
    right, wrong = env.expert(task), json.dumps({"formula": "1+1"})
    model = ScriptedModel([("That is wrong", right), (task.prompt, wrong)])
    report = run_eval(
        "points", "scripted", tmp_path, n=1, splits=("id",), seed=1, progress=False,
        backend="openai", base_url=serve(model), concurrency=2,
    )  # fmt: skip
    assert report["splits"]["id"]["success"] == 1.0 and report["splits"]["id"]["first_try"] == 0.0
    (episode,) = [json.loads(x) for x in (tmp_path / "episodes.jsonl").read_text().splitlines()]
    assert episode["answers"] == [wrong, right] and episode["rewards"][1] == 5.0
    assert episode["rewards"][0] == -2.0 * 6  # 1+1: four numbers unused, two invented
    assert episode["return"] == -12.0 + 5.0


def test_grpo_rollout_logprobs_match_a_forward_pass_of_the_same_model(tiny_model):
    """TRL's vLLM path reads ``logprobs`` as the sampling log-probability of each completion token
    (compared with its own ``log_softmax(logits / temperature)``); pinned here against a separate
    forward pass, one sequence at a time, on the same ids."""
    from types import SimpleNamespace

    import torch
    from transformers import AutoModelForCausalLM

    from tdrl.envs.rollout import grpo_rollout
    from tdrl.training.common import load_tokenizer

    env = Navigation(verify_iter=2)
    tasks = env.tasks(2, "id")[:3]
    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    trainer = SimpleNamespace(
        model=model, processing_class=load_tokenizer(tiny_model), accelerator=SimpleNamespace(unwrap_model=lambda m: m)
    )
    temperature = 0.7
    torch.manual_seed(0)
    out = grpo_rollout(env, tasks, max_new_tokens=8, temperature=temperature)([t.prompt for t in tasks], trainer)
    lengths = {len(p) + len(c) for p, c in zip(out["prompt_ids"], out["completion_ids"])}
    assert len(lengths) > 1  # rows of different lengths: the batch's padding must not shift anything
    for prompt, completion, logps in zip(out["prompt_ids"], out["completion_ids"], out["logprobs"]):
        ids = torch.tensor([prompt + completion])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0].float() / temperature
        want = torch.log_softmax(logits, dim=-1)[len(prompt) - 1 : -1].gather(-1, torch.tensor(completion)[:, None])[:, 0]
        assert torch.allclose(torch.tensor(logps), want, atol=1e-4), (logps, want.tolist())
        assert all(lp <= 0.0 for lp in logps)
