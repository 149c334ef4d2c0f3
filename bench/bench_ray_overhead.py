"""Throughput of verification through Ray against the local path, on this machine, same run.

An AceCode-shaped workload: problems with 11 call tests each (1.38M tests over 124K
problems is ~11 per problem), several samples per problem (correct, wrong, crashing).
Baseline: ``verify_files`` with ``--workers`` sandboxes. Ray: ``ray_verify_files`` on a
local cluster of ``--workers`` CPUs (one node, one actor, the same number of sandboxes).
The ratio Ray/local is the cost of going through Ray on one node; the cluster's start-up
is reported apart, since it is paid once per job, not per sample.

    python bench/bench_ray_overhead.py [--problems 200] [--samples 8] [--workers 2] [--batch 0]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

TESTS = 11


def workload(folder: Path, n_problems: int, n_samples: int) -> tuple[Path, Path, int]:
    from tdrl.io import write_jsonl
    from tdrl.records import Problem, Sample, Test

    problems, samples = [], []
    for p in range(n_problems):
        k = p % 7 + 2
        tests = [Test("call", input=f"[{i}]", output=str(i * k)) for i in range(TESTS)]
        problems.append(
            Problem(f"p{p}", tests, entry_point="f", prompt="def f(x):\n", reference=f"def f(x):\n    return x * {k}\n")
        )
        bodies = [f"return x * {k}", f"return x * {k} + (x == 3)", "return x // 0", f"return sum([x] * {k})"]
        for s in range(n_samples):
            samples.append(Sample(f"p{p}", str(s), f"def f(x):\n    {bodies[s % len(bodies)]}\n"))
    write_jsonl(folder / "problems.jsonl", problems)
    write_jsonl(folder / "samples.jsonl", samples)
    return folder / "problems.jsonl", folder / "samples.jsonl", len(samples)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", type=int, default=200)
    ap.add_argument("--samples", type=int, default=8, help="samples per problem")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--batch", type=int, default=0, help="samples per Ray batch (0: the library's default)")
    args = ap.parse_args()

    import ray

    from tdrl.execution.run import verify_files
    from tdrl.scale.ray_verify import ray_verify_files

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        problems, samples, n = workload(folder, args.problems, args.samples)
        tests = n * TESTS
        verify_files(problems, samples, folder / "warm.jsonl", workers=args.workers, progress=False)  # warm caches

        t = time.perf_counter()
        local = verify_files(problems, samples, folder / "local.jsonl", workers=args.workers, progress=False)
        t_local = time.perf_counter() - t

        t = time.perf_counter()
        ray.init(num_cpus=args.workers, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
        t_start = time.perf_counter() - t
        try:
            t = time.perf_counter()
            remote = ray_verify_files(
                problems, samples, folder / "ray.jsonl", workers=args.workers, progress=False, batch_size=args.batch or None
            )
            t_ray = time.perf_counter() - t
        finally:
            ray.shutdown()

    assert local.statuses == remote.statuses, (local.statuses, remote.statuses)
    print(f"workload: {args.problems} problems x {args.samples} samples = {n} samples, {tests} tests; {args.workers} sandboxes")
    print(f"local  : {t_local:6.2f} s  {n / t_local:7.1f} samples/s  {tests / t_local:8.1f} tests/s")
    print(f"ray    : {t_ray:6.2f} s  {n / t_ray:7.1f} samples/s  {tests / t_ray:8.1f} tests/s  (batch {args.batch or 'default'})")
    print(f"ratio  : ray/local throughput = {t_local / t_ray:.2f}  (cluster start, once per job: {t_start:.1f} s)")
    print(
        f"cost   : {1000 * t_local * args.workers / n:.1f} core-ms per sample, "
        f"{1000 * t_local * args.workers / tests:.2f} core-ms per test (local, incl. calibration)"
    )


if __name__ == "__main__":
    main()
