import json
import subprocess
import sys
import threading

import pytest

from .conftest import read, write_problems

pytest.importorskip("transformers")
TDRL = [sys.executable, "-m", "tdrl.cli"]


@pytest.fixture
def problems_file(tmp_path):
    return write_problems(tmp_path / "problems.jsonl", 3)


def test_hf_sampling_schema_resume_and_seeds(tmp_path, problems_file, tiny_model):
    out = tmp_path / "samples.jsonl"
    base = [
        *TDRL,
        "sample",
        "--problems",
        str(problems_file),
        "--model",
        tiny_model,
        "-n",
        "3",
        "--max-tokens",
        "12",
        "--seed",
        "7",
        "--no-progress",
        "--format",
        "completion",
    ]
    args = [*base, "--out", str(out)]
    first = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    rows = read(out)
    assert len(rows) == 9 and {(r["problem_id"], r["sample_id"]) for r in rows} == {
        (f"p{i}", str(s)) for i in range(3) for s in range(3)
    }
    for r in rows:
        assert r["model"] == tiny_model and r["backend"] == "hf" and r["prompt_format"] == "completion"
        assert r["params"]["seed"] == 7 and r["completion_tokens"] <= 12 and r["prompt_tokens"] > 0
    again = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert "0 samples for 0 problems (3 already done)" in again.stdout
    # same seed, fresh file: the same completions, whatever order problems run in
    out2 = tmp_path / "again.jsonl"
    subprocess.run([*base, "--out", str(out2)], check=True, capture_output=True, timeout=300)
    assert [r["completion"] for r in read(out2)] == [r["completion"] for r in rows]


def test_openai_backend_against_a_real_local_server(tmp_path, problems_file, tiny_model):
    from tdrl.llm.hf import HFModel
    from tdrl.llm.server import make_server

    server = make_server(HFModel(tiny_model), port=0, served_name="tiny")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    out, cache = tmp_path / "s.jsonl", tmp_path / "cache"
    args = [
        *TDRL,
        "sample",
        "--problems",
        str(problems_file),
        "--model",
        "tiny",
        "--backend",
        "openai",
        "--base-url",
        url,
        "-n",
        "2",
        "--max-tokens",
        "10",
        "--cache-dir",
        str(cache),
        "--no-progress",
        "--concurrency",
        "3",
    ]
    try:
        proc = subprocess.run([*args, "--out", str(out)], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
    finally:
        server.shutdown()
        server.server_close()
    rows = read(out)
    assert len(rows) == 6 and all(r["backend"] == "openai" and r["prompt_format"] == "instruct" for r in rows)
    assert all(r["completion_tokens"] > 0 for r in rows)
    # the server is gone: a rerun into a new file is answered from the content-hash cache
    cached = subprocess.run([*args, "--out", str(tmp_path / "s2.jsonl")], capture_output=True, text=True, timeout=300)
    assert cached.returncode == 0, cached.stderr
    by_key = {(r["problem_id"], r["sample_id"]): r["completion"] for r in rows}
    assert {(r["problem_id"], r["sample_id"]): r["completion"] for r in read(tmp_path / "s2.jsonl")} == by_key


def test_sample_then_eval_on_humaneval_with_the_tiny_model(tmp_path, tiny_model):
    from tests.execution.test_verifier import _humaneval_file

    he = _humaneval_file()
    if he is None:
        pytest.skip("needs HumanEval.jsonl.gz")
    problems = tmp_path / "he.jsonl"
    subprocess.run(
        [*TDRL, "convert", str(he), "--from", "humaneval", "--out", str(problems)], check=True, capture_output=True, timeout=120
    )
    lines = problems.read_text().splitlines()[:4]
    problems.write_text("\n".join(lines) + "\n")
    samples = tmp_path / "tiny.jsonl"
    subprocess.run(
        [
            *TDRL,
            "sample",
            "--problems",
            str(problems),
            "--model",
            tiny_model,
            "-n",
            "2",
            "--out",
            str(samples),
            "--max-tokens",
            "16",
            "--no-progress",
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    report = tmp_path / "report"
    proc = subprocess.run(
        [
            *TDRL,
            "eval",
            "--problems",
            str(problems),
            "--samples",
            str(samples),
            "--k",
            "1,2",
            "--report",
            str(report),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((report / "summary.json").read_text())
    assert summary["runs"]["tiny"]["overall"]["samples"] == 8
    assert summary["runs"]["tiny"]["overall"]["pass@1"] == 0.0  # random weights solve nothing
    assert (report / "heatmap.png").exists()
