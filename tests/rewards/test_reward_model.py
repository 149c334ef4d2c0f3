"""The Bradley-Terry reward model learns, saves as a plain HF model, and scores as an RL reward."""

import json
import os
import subprocess
import sys

import pytest

from tdrl.io import write_jsonl

from .conftest import crash_pairs

pytest.importorskip("trl")
TDRL = [sys.executable, "-m", "tdrl.cli"]


def test_reward_model_learns_the_crash_task(crash_rm):
    folder, metrics = crash_rm
    assert metrics["heldout_pairs"] == 24 and metrics["train_pairs"] == 96  # 20% of the problems held out
    assert metrics["heldout_accuracy"] >= 0.9  # chance is 0.5
    assert metrics["heldout_accuracy"] > metrics["heldout_accuracy_before"]
    history = metrics["eval_history"]
    assert history[0]["step"] == 0 and history[-1]["eval_accuracy"] >= 0.9  # TRL's own eval agrees
    assert (folder / "accuracy.png").stat().st_size > 0
    assert json.loads((folder / "metrics.json").read_text())["format"] == "standard"


def test_saved_model_loads_with_plain_transformers_and_the_scorer_agrees(crash_rm):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from tdrl.rewards.model import RewardModelScorer

    folder, _ = crash_rm
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    pair = crash_pairs(130)[-1]  # a problem never trained on
    texts = [pair["prompt"] + pair["chosen"] + tok.eos_token, pair["prompt"] + pair["rejected"] + tok.eos_token]
    with torch.no_grad():
        plain = [float(model(**tok(t, return_tensors="pt")).logits[0, 0]) for t in texts]
    scorer = RewardModelScorer(str(folder), batch_size=2)
    ours = scorer([pair["prompt"]] * 2, [pair["chosen"], pair["rejected"]])  # batched, padded
    assert ours == pytest.approx(plain, abs=1e-4)
    assert ours[0] > ours[1]
    assert scorer.__name__ == "reward_model"  # TRL names reward functions by __name__


def test_train_rm_cli_with_lora(tmp_path, tiny_model):
    write_jsonl(tmp_path / "pairs.jsonl", crash_pairs(60, seed=1))
    out = tmp_path / "rm"
    args = ["train-rm", "--pairs", str(tmp_path / "pairs.jsonl"), "--out", str(out), "--model", tiny_model]
    proc = subprocess.run(
        [*TDRL, *args, "--lora", "--lora-r", "8", "--epochs", "2", "--lr", "5e-3", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "held-out accuracy" in proc.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["lora"] and metrics["heldout_pairs"] == 12
    assert (out / "adapter_config.json").exists() and not (out / "model.safetensors").exists()  # the adapter only
    assert metrics["heldout_accuracy"] is not None and metrics["train_accuracy"] > 0.5
    from tdrl.rewards.model import RewardModelScorer

    pair = crash_pairs(60, seed=1)[0]
    scores = RewardModelScorer(str(out))([pair["prompt"]] * 2, [pair["chosen"], pair["rejected"]])  # loads the adapter
    assert len(scores) == 2 and scores[0] != scores[1]
    merged = tmp_path / "merged"
    proc = subprocess.run(
        [*TDRL, *args[:3], "--out", str(merged), *args[5:], "--lora", "--merge", "--max-steps", "1", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert (merged / "config.json").exists() and not (merged / "adapter_config.json").exists()  # a plain folder


def test_an_empty_heldout_split_warns_and_is_recorded(tmp_path, tiny_model):
    pairs = [{**p, "problem_id": "only"} for p in crash_pairs(6, seed=3)]  # pairs of one problem: nothing to hold out
    write_jsonl(tmp_path / "pairs.jsonl", pairs)
    out = tmp_path / "rm"
    proc = subprocess.run(
        [*TDRL, "train-rm", "--pairs", str(tmp_path / "pairs.jsonl"), "--out", str(out), "--model", tiny_model]
        + ["--max-steps", "1", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "warning: no held-out pairs: the 6 pairs come from 1 problem(s)" in proc.stderr
    assert "{'loss'" not in proc.stdout + proc.stderr and "Loading weights" not in proc.stderr  # --no-progress is quiet
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["heldout_accuracy"] is None and metrics["warnings"] and metrics["warnings"][0] in proc.stderr


def test_bad_pairs_file_names_line_and_field(tmp_path):
    (tmp_path / "pairs.jsonl").write_text(json.dumps({"prompt": "p", "chosen": "a"}) + "\n")
    proc = subprocess.run(
        [*TDRL, "train-rm", "--pairs", str(tmp_path / "pairs.jsonl"), "--out", str(tmp_path / "rm")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "pairs.jsonl:1: field 'rejected'" in proc.stderr


@pytest.mark.slow
def test_train_rm_on_the_embedded_model(tmp_path):
    """The embedded SmolLM2-135M as backbone, a few steps of LoRA on CPU."""
    write_jsonl(tmp_path / "pairs.jsonl", crash_pairs(40, seed=2))
    out = tmp_path / "rm"
    proc = subprocess.run(
        [*TDRL, "train-rm", "--pairs", str(tmp_path / "pairs.jsonl"), "--out", str(out), "--lora", "--max-steps", "8"]
        + ["--batch-size", "4", "--lr", "1e-3", "--eval-steps", "4", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["heldout_pairs"] == 8 and len(metrics["eval_history"]) >= 2


def test_with_progress_the_trainer_bar_stays_and_the_library_noise_goes(tmp_path, tiny_model):
    write_jsonl(tmp_path / "pairs.jsonl", crash_pairs(12, seed=4))
    proc = subprocess.run(
        [*TDRL, "train-rm", "--pairs", str(tmp_path / "pairs.jsonl"), "--out", str(tmp_path / "rm"), "--model", tiny_model]
        + ["--max-steps", "2", "--set", "logging_steps=1"],
        capture_output=True,
        text=True,
        timeout=600,
        # an in-process CLI test earlier in the session may have set TQDM_DISABLE (--no-progress) here
        env={k: v for k, v in os.environ.items() if k != "TQDM_DISABLE"},
    )
    assert proc.returncode == 0, proc.stderr
    output = proc.stdout + proc.stderr
    assert "2/2" in proc.stderr  # the trainer's own step bar, with the loss as its postfix
    assert "loss=" in proc.stderr
    # no raw log dicts, no library warnings, no load bars
    assert "{'loss'" not in output and "Warning" not in output and "Loading weights" not in output


def test_no_pairs_fails_at_once_with_the_setting_to_change(tmp_path):
    (tmp_path / "pairs.jsonl").write_text("")
    proc = subprocess.run(
        [*TDRL, "train-rm", "--pairs", str(tmp_path / "pairs.jsonl"), "--out", str(tmp_path / "rm"), "--model", "embedded"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "pairs.jsonl: no pairs to train on" in proc.stderr and "--min-rejected -1" in proc.stderr
    assert not (tmp_path / "rm").exists()
