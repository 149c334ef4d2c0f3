import json
import subprocess
import sys

import pytest

from tdrl import io
from tdrl.evaluation.benchmarks import load_evalplus, load_mbpp, load_stdio
from tdrl.io import InputError

TDRL = [sys.executable, "-m", "tdrl.cli"]


def write_jsonl(path, rows):
    io.write_jsonl(path, rows)
    return path


def test_eval_cli_two_runs_summary_and_plots(tmp_path):
    problems = write_jsonl(
        tmp_path / "p.jsonl",
        [
            {
                "id": f"p{i}",
                "entry_point": "f",
                "tests": [{"type": "call", "input": f"[{j}]", "output": f"{j * i}"} for j in range(3)],
                "meta": {"difficulty": "easy" if i < 2 else "hard", "tags": ["math"]},
            }
            for i in range(4)
        ],
    )
    good = write_jsonl(
        tmp_path / "good.jsonl",
        [
            {"problem_id": f"p{i}", "sample_id": str(s), "completion": f"def f(x):\n    return x * {i}\n"}
            for i in range(4)
            for s in range(4)
        ],
    )
    mixed = write_jsonl(
        tmp_path / "mixed.jsonl",
        [
            {"problem_id": f"p{i}", "sample_id": str(s), "completion": f"def f(x):\n    return x * {i if s == 0 else i + 1}\n"}
            for i in range(4)
            for s in range(4)
        ],
    )
    report = tmp_path / "report"
    proc = subprocess.run(
        [
            *TDRL,
            "eval",
            "--problems",
            str(problems),
            "--samples",
            str(good),
            "--samples",
            str(mixed),
            "--k",
            "1,2",
            "--report",
            str(report),
            "--no-progress",
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((report / "summary.json").read_text())
    assert summary["runs"]["good"]["overall"]["pass@1"] == 1.0
    assert summary["runs"]["mixed"]["overall"]["pass@1"] == pytest.approx(0.25)
    assert summary["runs"]["mixed"]["overall"]["pass@2"] == pytest.approx(0.5)
    assert summary["runs"]["mixed"]["groups"]["difficulty=hard"]["problems"] == 2
    assert summary["per_problem"]["mixed"]["p1"] == [4, 1]
    pytest.importorskip("matplotlib")
    for name in ("pass_at_k.png", "pass_rate_hist.png", "heatmap.png"):
        assert (report / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_mbpp_loader(tmp_path):
    path = write_jsonl(
        tmp_path / "mbpp.jsonl",
        [
            {
                "task_id": 2,
                "text": "Find the shared elements of two tuples.",
                "code": "def similar_elements(a, b):\n    return tuple(set(a) & set(b))\n",
                "test_list": ["assert set(similar_elements((3, 4, 5, 6), (5, 7, 4, 10))) == set((4, 5))"],
                "test_setup_code": "",
                "challenge_test_list": [],
            }
        ],
    )
    (p,) = load_mbpp(path)
    assert p.id == "mbpp/2" and p.entry_point == "similar_elements" and p.tests[0].type == "assert"
    assert "Your code should pass these tests" in p.prompt
    with pytest.raises(InputError, match="field 'code'"):
        load_mbpp(write_jsonl(tmp_path / "bad.jsonl", [{"task_id": 1, "text": "x", "test_list": []}]))


def test_evalplus_loader_computes_expected_outputs_in_the_sandbox(tmp_path, verifier):
    path = write_jsonl(
        tmp_path / "plus.jsonl",
        [
            {
                "task_id": "HumanEval/X",
                "prompt": "def half(x):\n",
                "entry_point": "half",
                "canonical_solution": "    return 1 / x if x else (_ for _ in ()).throw(ValueError())\n",
                "base_input": [[2], [4]],
                "plus_input": [[0], [8.0]],
                "atol": 0,
            }
        ],
    )
    (p,) = load_evalplus(path, verifier=verifier)
    assert [(t.input, t.output) for t in p.tests] == [("[2]", "0.5"), ("[4]", "0.25"), ("[8.0]", "0.125")]
    assert p.meta["dropped_inputs"] == 1
    (base,) = load_evalplus(path, split="base", verifier=verifier)
    assert len(base.tests) == 2


def test_stdio_loader_codecontests_and_livecodebench(tmp_path):
    path = write_jsonl(
        tmp_path / "s.jsonl",
        [
            {
                "name": "cc/1",
                "description": "sum",
                "public_tests": {"input": ["1 2\n"], "output": ["3\n"]},
                "private_tests": {"input": ["2 2\n"], "output": ["4\n"]},
            },
            {
                "question_id": "lcb/1",
                "question_content": "echo",
                "difficulty": "easy",
                "public_test_cases": json.dumps(
                    [
                        {"input": "x\n", "output": "x\n", "testtype": "stdin"},
                        {"input": "f(1)", "output": "2", "testtype": "functional"},
                    ]
                ),
                "private_test_cases": "eJzLSM3JyQcABiwCFQ==",
            },
        ],
    )
    cc, lcb = load_stdio(path)
    assert [(t.stdin, t.stdout) for t in cc.tests] == [("1 2\n", "3\n"), ("2 2\n", "4\n")]
    assert [(t.stdin, t.stdout) for t in lcb.tests] == [("x\n", "x\n")]  # functional and pickled private tests skipped
    assert lcb.meta["difficulty"] == "easy"


def test_eval_reuses_verified_results_skips_unknown_problems_and_explains_k_above_n(tmp_path):
    import json
    import subprocess
    import sys

    from tdrl.demo import data_file

    problems, samples = data_file("demo_problems.jsonl"), data_file("demo_samples.jsonl")
    tdrl = [sys.executable, "-m", "tdrl.cli"]
    results = tmp_path / "results.jsonl"
    proc = subprocess.run(
        [*tdrl, "verify", "--problems", str(problems), "--samples", str(samples), "--out", str(results), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(x) for x in results.read_text().splitlines()]
    stray = {**rows[0], "problem_id": "dropped-by-synth"}
    results.write_text("".join(json.dumps(r) + "\n" for r in [*rows, stray]))
    args = [*tdrl, "eval", "--problems", str(problems), "--results", str(results), "--report", str(tmp_path / "r"), "--no-plots"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "unknown problem 'dropped-by-synth'" in proc.stderr and "--skip-unknown" in proc.stderr
    proc = subprocess.run([*args, "--skip-unknown", "--k", "1,100"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert not list((tmp_path / "r").glob("results-*.jsonl"))  # nothing verified again
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    overall = summary["runs"]["results"]["overall"]
    assert overall["samples"] == len(rows) and overall["pass@100"] is None and "k <= n" in overall["pass@100_note"]
    assert "pass@100 shown as '-'" in proc.stdout and "k <= n" in proc.stdout
