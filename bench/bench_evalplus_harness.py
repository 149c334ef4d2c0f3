"""tdrl vs EvalPlus's harness on MBPP+-sized problems (110 call tests per sample).

Baseline: ``evalplus.eval.untrusted_check``, submitted to a process pool of ``--workers``
exactly as ``evalplus.evaluate`` does (one fresh process per sample and test set, EvalPlus's
time limits: max(1 s, 4 x reference time)). Both harnesses get the same problems, inputs,
expected outputs (from the reference, in process) and samples (correct and wrong); the
script checks the sample verdicts agree and prints samples/s and tests/s and the ratio.

    python bench/bench_evalplus_harness.py [--workers 2] [--tests 110]
"""

from __future__ import annotations

import argparse
import random
import time
from concurrent.futures import ProcessPoolExecutor

# name -> (reference, [wrong variants], input generator)
PROBLEMS = {
    "sum_squares": (
        "def sum_squares(xs):\n    return sum(x * x for x in xs)\n",
        ["def sum_squares(xs):\n    return sum(x * x for x in xs[1:])\n", "def sum_squares(xs):\n    return sum(xs) ** 2\n"],
        lambda r: [[r.randint(-50, 50) for _ in range(r.randint(0, 12))]],
    ),
    "reverse_words": (
        "def reverse_words(s):\n    return ' '.join(reversed(s.split()))\n",
        ["def reverse_words(s):\n    return s[::-1]\n", "def reverse_words(s):\n    return ' '.join(s.split()[::-1][:3])\n"],
        lambda r: [" ".join(r.choice(["ab", "cd", "x", "yz", "q"]) for _ in range(r.randint(0, 8)))],
    ),
    "count_vowels": (
        "def count_vowels(s):\n    return sum(c in 'aeiouAEIOU' for c in s)\n",
        ["def count_vowels(s):\n    return sum(c in 'aeiou' for c in s)\n", "def count_vowels(s):\n    return len(s) // 3\n"],
        lambda r: ["".join(r.choice("abcdeiouAEXyz ") for _ in range(r.randint(0, 15)))],
    ),
    "is_prime": (
        "def is_prime(n):\n    if n < 2:\n        return False\n    i = 2\n    while i * i <= n:\n        if n % i == 0:\n            return False\n        i += 1\n    return True\n",
        [
            "def is_prime(n):\n    return n > 1 and all(n % i for i in range(2, n // 2))\n",
            "def is_prime(n):\n    return n % 2 == 1\n",
        ],
        lambda r: [r.randint(-3, 400)],
    ),
    "running_max": (
        "def running_max(xs):\n    out = []\n    for x in xs:\n        out.append(x if not out or x > out[-1] else out[-1])\n    return out\n",
        ["def running_max(xs):\n    return sorted(xs)\n", "def running_max(xs):\n    return [max(xs)] * len(xs)\n"],
        lambda r: [[r.randint(-9, 9) for _ in range(r.randint(0, 10))]],
    ),
    "mean_abs_dev": (
        "def mean_abs_dev(xs):\n    m = sum(xs) / len(xs)\n    return sum(abs(x - m) for x in xs) / len(xs)\n",
        [
            "def mean_abs_dev(xs):\n    m = sum(xs) / len(xs)\n    return sum(abs(x - m) for x in xs) / (len(xs) + 1)\n",
            "def mean_abs_dev(xs):\n    return max(xs) - min(xs)\n",
        ],
        lambda r: [[round(r.uniform(-5, 5), 2) for _ in range(r.randint(1, 8))]],
    ),
    "dedupe": (
        "def dedupe(xs):\n    seen, out = set(), []\n    for x in xs:\n        if x not in seen:\n            seen.add(x)\n            out.append(x)\n    return out\n",
        ["def dedupe(xs):\n    return list(set(xs))\n", "def dedupe(xs):\n    return sorted(set(xs))\n"],
        lambda r: [[r.randint(0, 6) for _ in range(r.randint(0, 12))]],
    ),
    "char_freq": (
        "def char_freq(s):\n    d = {}\n    for c in s:\n        d[c] = d.get(c, 0) + 1\n    return d\n",
        [
            "def char_freq(s):\n    return {c: 1 for c in s}\n",
            "def char_freq(s):\n    return {c: s.count(c) for c in s if c != ' '}\n",
        ],
        lambda r: ["".join(r.choice("aab c") for _ in range(r.randint(0, 10)))],
    ),
}


def make_inputs(gen, n, seed):
    r = random.Random(seed)
    seen, out = set(), []
    while len(out) < n:
        inp = gen(r)
        if repr(inp) not in seen or len(seen) > 10 * n:
            seen.add(repr(inp))
            out.append(inp)
    return out


def trusted_outputs(code, name, inputs):
    ns = {}
    exec(code, ns)
    outs, times = [], []
    for inp in inputs:
        t = time.perf_counter()
        outs.append(ns[name](*inp))
        times.append(time.perf_counter() - t)
    return outs, times


def _evalplus_check(args):
    from evalplus.eval import untrusted_check

    code, inputs, name, expected, ref_time = args
    stat, _ = untrusted_check("mbpp", code, inputs, name, expected, 0.0, ref_time, fast_check=False)
    return stat


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tests", type=int, default=110)
    ap.add_argument("--copies", type=int, default=2, help="samples per (problem, variant)")
    args = ap.parse_args()

    from tdrl.execution import TimePolicy, Verifier
    from tdrl.records import Problem, Sample, Test

    jobs, problems, samples, truth = [], {}, [], []
    for k, (name, (ref, wrongs, gen)) in enumerate(PROBLEMS.items()):
        inputs = make_inputs(gen, args.tests, seed=k)
        expected, ref_time = trusted_outputs(ref, name, inputs)
        problems[name] = Problem(
            name, [Test("call", input=repr(i), output=repr(o)) for i, o in zip(inputs, expected)], entry_point=name
        )
        for c in range(args.copies):
            for v, code in enumerate([ref, *wrongs]):
                jobs.append((code, inputs, name, expected, ref_time))
                samples.append(Sample(name, f"{v}-{c}", code))
                truth.append(v == 0)

    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        base = [s == "pass" for s in pool.map(_evalplus_check, jobs)]
    base_s = time.perf_counter() - t0

    with Verifier(workers=args.workers, time_policy=TimePolicy(timeout=1.0)) as verifier:
        list(verifier.map(problems, samples[:4]))  # start the sandboxes
        t0 = time.perf_counter()
        results = {(r.problem_id, r.sample_id): r for r in verifier.map(problems, samples)}
        ours_s = time.perf_counter() - t0
        isolation = verifier.isolation
    ours = [results[s.key].status == "pass" for s in samples]
    n, n_tests = len(samples), len(samples) * args.tests
    agree = sum(a == b for a, b in zip(base, ours))
    print(f"{len(problems)} problems x {args.tests} call tests, {n} samples ({sum(truth)} correct)")
    print(f"EvalPlus untrusted_check: {base_s:.2f}s = {n / base_s:.1f} samples/s, {n_tests / base_s:.0f} tests/s")
    print(f"tdrl Verifier ({isolation}): {ours_s:.2f}s = {n / ours_s:.1f} samples/s, {n_tests / ours_s:.0f} tests/s")
    print(f"verdicts agree on {agree}/{n}; passed: EvalPlus {sum(base)}, tdrl {sum(ours)}, truth {sum(truth)}")
    print(f"speedup: {base_s / ours_s:.1f}x")
    if agree != n:
        raise SystemExit("verdicts differ")


if __name__ == "__main__":
    main()
