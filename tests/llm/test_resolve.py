"""One model-name rule for every command: `embedded`, model folders, hub ids; a typo fails at once."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tdrl
from tdrl.demo import data_file
from tdrl.llm.embedded import UnknownModel, check_model, resolve_model

TDRL = [sys.executable, "-m", "tdrl.cli"]


def test_names_the_resolver_accepts_and_rejects(tmp_path, monkeypatch):
    assert check_model("embedded") == "embedded"
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    assert resolve_model(str(tmp_path / "m")) == str(tmp_path / "m")
    assert check_model("Qwen/Qwen2.5-Coder-7B") == "hub"  # online: left to the hub client
    with pytest.raises(UnknownModel, match="did you mean `embedded`"):
        check_model("embeded")
    with pytest.raises(UnknownModel, match="no config.json"):
        check_model(str(tmp_path))  # a folder, but not a model
    with pytest.raises(UnknownModel, match="no such folder"):
        check_model(str(tmp_path / "runs" / "final"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UnknownModel, match="HF_HUB_OFFLINE"):
        check_model("someone/not-cached-here")


@pytest.mark.parametrize(
    "args",
    [
        ["sample", "--problems", str(data_file("demo_problems.jsonl")), "--out", "s.jsonl", "--model", "embeded"],
        ["train-rm", "--pairs", "pairs.jsonl", "--out", "rm", "--model", "embeded"],
        ["srl", "--trajectories", "t.jsonl", "--model", "embeded"],
        ["rl", "--set", f"problems={data_file('demo_problems.jsonl')}", "--set", "model=embeded"],
        ["iterate", "--set", f"problems={data_file('demo_problems.jsonl')}", "--set", "model=embeded"],
        ["envs", "eval", "--model", "embeded", "-n", "1"],
        ["serve-model", "--model", "embeded"],
    ],
    ids=lambda a: a[0] if a[0] != "envs" else "envs-eval",
)
def test_a_mistyped_model_fails_fast_with_a_suggestion(tmp_path, args):
    (tmp_path / "pairs.jsonl").write_text(json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"}) + "\n")
    (tmp_path / "t.jsonl").write_text(json.dumps({"id": "t", "problem": "x", "steps": ["a", "b"]}) + "\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(Path(tdrl.__file__).parents[1])}  # run from tmp_path
    proc = subprocess.run([*TDRL, *args], capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert proc.returncode == 2, proc.stderr
    assert "did you mean `embedded`?" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "s.jsonl").exists() and not (tmp_path / "rm").exists()
