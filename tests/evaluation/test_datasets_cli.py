"""``tdrl convert --from DATASET`` and ``tdrl eval --since/--until`` end to end (in process)."""

import json
from pathlib import Path

from typer.testing import CliRunner

from tdrl.cli import app
from tdrl.evaluation.report import evaluate
from tdrl.io import read_problems, write_jsonl

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "datasets"


def test_convert_cli_writes_problems_and_dropped_reasons(tmp_path):
    out = tmp_path / "lcb.jsonl"
    got = CliRunner().invoke(
        app, ["convert", str(FIXTURES / "livecodebench.jsonl"), "--from", "livecodebench", "--out", str(out)]
    )
    assert got.exit_code == 0, got.output
    assert "2 problems, 6 tests" in got.output and "1 dropped" in got.output
    assert [p.id for p in read_problems(out)] == ["abc900_a", "3900"]
    assert json.loads(Path(f"{out}.dropped.jsonl").read_text())["id"] == "abc900_b"


def test_convert_cli_bad_row_is_a_located_error(tmp_path):
    bad = tmp_path / "taco.jsonl"
    bad.write_text(json.dumps({"input_output": "{}"}) + "\n")
    got = CliRunner().invoke(app, ["convert", str(bad), "--from", "taco", "--out", str(tmp_path / "o.jsonl")])
    assert got.exit_code == 2
    assert "taco.jsonl:1: field 'question': missing (is this a TACO file?)" in got.output


def test_convert_cli_needs_a_file_or_hf(tmp_path):
    got = CliRunner().invoke(app, ["convert", "--from", "apps", "--out", str(tmp_path / "o.jsonl")])
    assert got.exit_code == 2 and "--hf" in got.output


def test_eval_date_window_follows_livecodebench(tmp_path):
    problems = tmp_path / "lcb.jsonl"
    CliRunner().invoke(app, ["convert", str(FIXTURES / "livecodebench.jsonl"), "--from", "livecodebench", "--out", str(problems)])
    samples = tmp_path / "model.jsonl"
    write_jsonl(
        samples,
        [
            {"problem_id": "abc900_a", "sample_id": "0", "completion": "a, b = map(int, input().split())\nprint(a + b)\n"},
            {
                "problem_id": "3900",
                "sample_id": "0",
                "completion": "class Solution:\n    def maxSum(self, nums, k):\n        return sum(nums[:k])\n",
            },
        ],
    )
    args = dict(plots=False, workers=1, calibrate=False, progress=False)
    (late,) = evaluate(problems, [samples], [1], tmp_path / "late", since="2024-01-01", **args)
    assert late.label == "model" and late.summary["overall"]["problems"] == 1
    assert late.summary["overall"]["pass@1"] == 0.0  # only the wrong LeetCode answer is in the window
    summary = json.loads((tmp_path / "late" / "summary.json").read_text())
    assert summary["window"] == {"since": "2024-01-01", "until": None, "problems": 1}
    # the end date is inclusive at midnight, as in lcb_runner: 2024-03-02T00:00:00 is inside
    (upto,) = evaluate(problems, [samples], [1], tmp_path / "upto", until="2024-03-02", **args)
    assert upto.summary["overall"]["problems"] == 2
    (early,) = evaluate(problems, [samples], [1], tmp_path / "early", until="2023-12-31", **args)
    assert early.summary["overall"]["pass@1"] == 1.0
    bad = CliRunner().invoke(
        app, ["eval", "--problems", str(problems), "--samples", str(samples), "--since", "March", "--report", str(tmp_path / "x")]
    )
    assert bad.exit_code == 2 and "--since must be a date as YYYY-MM-DD" in bad.output


def test_convert_hf_reads_through_load_dataset(tmp_path, monkeypatch):
    """``--hf ORG/DATASET:split`` goes through ``datasets.load_dataset``; here the name resolves to a
    local folder (load_dataset looks for one first), so nothing is downloaded."""
    datasets = __import__("pytest").importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    (tmp_path / "acme" / "lcb").mkdir(parents=True)
    (tmp_path / "acme" / "lcb" / "test.jsonl").write_text((FIXTURES / "livecodebench.jsonl").read_text())
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "lcb.jsonl"
    got = CliRunner().invoke(app, ["convert", "--from", "livecodebench", "--hf", "acme/lcb:test", "--out", str(out)])
    assert got.exit_code == 0, got.output
    assert [p.id for p in read_problems(out)] == ["abc900_a", "3900"]
    gone = json.loads(Path(f"{out}.dropped.jsonl").read_text())
    assert gone["id"] == "abc900_b" and gone["row"] == 3  # rows numbered as in the file
