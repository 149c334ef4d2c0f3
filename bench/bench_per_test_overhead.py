"""Per-test overhead of the verifier on trivial tests, and the gap to the unsafe limit.

Measures one sample with N trivial call tests (``f(x) = x``) against the same sample with
1 test; the difference over N-1 is the cost of one more test through the sandbox and the
trusted judge. Baseline, the unsafe limit: exec the program once in this process and run
the same tests in a loop (parse the input literal, call, compare), no isolation at all.

    python bench/bench_per_test_overhead.py [--tests 2000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import ast
import statistics
import time

CODE = "def f(x):\n    return x\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tests", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    from tdrl.execution import Verifier
    from tdrl.records import Problem, Test

    many = Problem("many", [Test("call", input=f"[{i}]", output=f"{i}") for i in range(args.tests)], entry_point="f")
    one = Problem("one", [Test("call", input="[0]", output="0")], entry_point="f")
    with Verifier(workers=1) as v:
        v.check(many, CODE)
        v.check(one, CODE)
        t_many, t_one = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            assert v.check(many, CODE).status == "pass"
            t_many.append(time.perf_counter() - t)
            t = time.perf_counter()
            assert v.check(one, CODE).status == "pass"
            t_one.append(time.perf_counter() - t)
        isolation = v.isolation
    ours = (statistics.median(t_many) - statistics.median(t_one)) / (args.tests - 1)

    unsafe_runs = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        ns: dict = {}
        exec(CODE, ns)
        for test in many.tests:
            assert ns["f"](*ast.literal_eval(test.input)) == ast.literal_eval(test.output)
        unsafe_runs.append((time.perf_counter() - t) / args.tests)
    unsafe = statistics.median(unsafe_runs)
    compiled = [(compile(t.input, "<in>", "eval"), ast.literal_eval(t.output)) for t in many.tests]
    floor_runs = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        ns = {}
        exec(CODE, ns)
        for code, expected in compiled:
            assert ns["f"](*eval(code)) == expected
        floor_runs.append((time.perf_counter() - t) / args.tests)
    floor = statistics.median(floor_runs)
    print(f"sample with 1 test: {statistics.median(t_one) * 1e3:.2f} ms end to end ({isolation})")
    print(f"tdrl per-test overhead: {ours * 1e6:.1f} us (goal < 100 us)")
    print(f"unsafe limit (exec in a reused process, literal_eval + call + ==): {unsafe * 1e6:.1f} us per test")
    print(f"unsafe floor (inputs precompiled, expected parsed once): {floor * 1e6:.1f} us per test")
    print(f"gap: {ours / unsafe:.1f}x the unsafe loop, {ours / floor:.1f}x the unsafe floor")


if __name__ == "__main__":
    main()
