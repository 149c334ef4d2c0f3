"""Best-of-N reranking: the pickers, the curve over N, the CLI with every method."""

import json
import subprocess
import sys

import pytest

from tdrl.io import write_jsonl
from tdrl.records import Problem, Test
from tdrl.rewards.rerank import Candidate, ProblemCandidates, agreement_probe, best_of_n, pick

TDRL = [sys.executable, "-m", "tdrl.cli"]


def test_pickers():
    cands = [
        Candidate("0", False, score=0.9, signature=("1", "2")),
        Candidate("1", True, score=0.1, signature=("1", "3")),
        Candidate("2", True, score=0.5, signature=("1", "3")),
        Candidate("3", False, score=0.2, signature=("!error", "!error")),
        Candidate("4", False, score=0.3, signature=("!error", "!error")),
        Candidate("5", False, score=0.0, signature=("!error", "!error")),
    ]
    assert pick("reward_model", cands) == 0.0  # the top score fails
    assert pick("agreement", cands) == 1.0  # the largest cluster that runs at all
    assert pick("random", cands) == pytest.approx(2 / 6)
    assert pick("oracle", cands) == 1.0 and pick("oracle", cands[:1]) == 0.0


def test_best_of_n_curve_is_exact_at_full_n_and_bounded_by_the_oracle():
    problems = [
        ProblemCandidates("a", [Candidate(str(i), i == 3, score=float(i == 3)) for i in range(8)], greedy_passed=True),
        ProblemCandidates("b", [Candidate(str(i), False, score=float(i)) for i in range(8)], greedy_passed=False),
    ]
    report = best_of_n(problems, ["greedy", "random", "reward_model", "oracle"], subsets=16)
    assert report["n"] == [1, 2, 4, 8]
    m = report["methods"]
    assert m["greedy"] == [0.5] * 4
    assert m["random"][-1] == pytest.approx(1 / 16) and m["reward_model"][-1] == 0.5 and m["oracle"][-1] == 0.5
    assert all(o >= r - 1e-9 for o, r in zip(m["oracle"], m["reward_model"]))
    assert m["oracle"] == sorted(m["oracle"])  # more samples never hurt the oracle


def test_agreement_inputs_come_from_test_inputs_not_outputs():
    problem = Problem(
        "p", [Test("call", input="[[3, 1, 2]]", output="[1, 2, 3]"), Test("assert", code="assert f([5]) == [5]")], entry_point="f"
    )
    probe = agreement_probe(problem, 12)
    assert probe is not None and len(probe.tests) == 12
    assert all(t.output == "None" for t in probe.tests)  # nothing of the expected answers
    hinted = Problem(
        "q", [Test("assert", code="assert g(1, 2) > 0")], prompt="def g(a: int, b: str) -> int:\n    '''doc'''\n", entry_point="g"
    )
    assert agreement_probe(hinted, 5) is not None  # from type hints in the prompt
    assert agreement_probe(Problem("r", [Test("script", code="assert True")], entry_point="h"), 5) is None


def test_rerank_cli_reports_every_method(tmp_path, crash_rm):
    """Per problem: two right programs, wrong ones and crashing ones; a greedy sample; the crash-task reward model."""
    folder, _ = crash_rm
    problems, samples, greedy = [], [], []
    for i in range(4):
        name = f"f{i}"
        tests = [Test("call", input=f"[{x}]", output=str(x + i + 1)) for x in (0, 3, -2, 10)]
        problems.append(Problem(f"p{i}", tests, prompt=f"Write {name}(x) returning x + {i + 1}.\n", entry_point=name))
        bodies = [f"x + {i + 1}", f"{i + 1} + x", f"x - {i + 1}", f"x * {i + 1}", f"x + {i + 2}"]
        bodies += ["undefined_name", "x +"]
        programs = [f"def {name}(x):\n    return {b}\n" for b in bodies] + [f"def {name}(x):\n    raise ValueError(1)\n"]
        samples += [{"problem_id": f"p{i}", "sample_id": str(j), "completion": c, "model": "m"} for j, c in enumerate(programs)]
        greedy.append({"problem_id": f"p{i}", "sample_id": "g", "completion": programs[2 if i % 2 else 0]})
    write_jsonl(tmp_path / "problems.jsonl", problems)
    write_jsonl(tmp_path / "samples.jsonl", samples)
    write_jsonl(tmp_path / "greedy.jsonl", greedy)
    report_dir = tmp_path / "report"
    proc = subprocess.run(
        [*TDRL, "rerank", "--problems", str(tmp_path / "problems.jsonl"), "--samples", str(tmp_path / "samples.jsonl")]
        + ["--greedy", str(tmp_path / "greedy.jsonl"), "--reward-model", str(folder), "--report", str(report_dir)]
        + ["--no-progress"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((report_dir / "best_of_n.json").read_text())
    m = report["methods"]
    assert set(m) == {"greedy", "random", "reward_model", "agreement", "oracle"} and report["n"] == [1, 2, 4, 8]
    assert m["greedy"] == [0.5] * 4
    assert m["random"][-1] == pytest.approx(2 / 8) and m["oracle"][-1] == 1.0
    assert m["agreement"][-1] == 1.0  # the two right programs agree; each wrong one is alone, crashes never win
    assert 0.0 <= m["reward_model"][-1] <= 1.0
    assert (report_dir / "best_of_n.png").stat().st_size > 0
    assert "agreement" in proc.stdout and "N=8" in proc.stdout


def test_at_n_1_every_method_equals_random_by_construction():
    # the reward model's single-sample picks would differ from random only by the noise of drawn subsets
    problems = [ProblemCandidates(p, [Candidate(str(i), i % 3 == 0, score=float(-i)) for i in range(6)]) for p in "abc"]
    report = best_of_n(problems, ["random", "reward_model", "oracle"], subsets=3, seed=1)
    at_1 = {m: values[0] for m, values in report["methods"].items()}
    assert at_1["reward_model"] == at_1["random"] == at_1["oracle"] == pytest.approx(2 / 6)
    assert report["methods"]["reward_model"][-1] == 1.0  # at full N the reward model picks sample 0, which passes


def test_a_missing_reward_model_folder_is_a_one_line_error(tmp_path):
    from tdrl.demo import data_file

    args = [
        *TDRL,
        "rerank",
        "--problems",
        str(data_file("demo_problems.jsonl")),
        "--samples",
        str(data_file("demo_samples.jsonl")),
    ]
    proc = subprocess.run([*args, "--reward-model", str(tmp_path / "rm"), "--no-agreement"], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "rm: not a model folder (train one with `tdrl train-rm`)" in proc.stderr
