"""What OpenRLHF's one-sample reward calls cost against one batched call, on ``tdrl serve-reward``.

OpenRLHF 0.11 asks for a reward per sample, as each generation finishes (one HTTP request
with one query). This sends ``--samples`` programs (right, wrong and erroring ones for a
20-test problem; self-built workload) to the real server on 127.0.0.1 three ways:

* baseline: one request holding all samples (what a batching client would send);
* ``--clients`` concurrent clients, one sample per request (OpenRLHF with many finished
  generations in flight);
* one sample per request, one after another (the worst case: generations finishing one at a time).

    python bench/bench_one_sample_calls.py [--samples 64] [--clients 8]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

PROGRAMS = [
    "def f(x):\n    return sorted(x)\n",
    "def f(x):\n    return sorted(x)[::-1]\n",
    "def f(x):\n    return x\n",
    "def f(x) return",
    "def f(x):\n    x.sort()\n    return x\n",
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()

    import httpx

    from tdrl.io import write_jsonl
    from tdrl.records import Problem, Test

    tests = [
        Test(
            "call",
            input=repr([[(i * 7 + j * 3) % 11 for j in range(i % 6)]]),
            output=repr(sorted((i * 7 + j * 3) % 11 for j in range(i % 6))),
        )
        for i in range(20)
    ]
    tmp = tempfile.mkdtemp()
    write_jsonl(f"{tmp}/problems.jsonl", [Problem("sort", tests, entry_point="f")])
    cmd = [
        sys.executable,
        "-m",
        "tdrl.cli",
        "serve-reward",
        "--port",
        "0",
        "--problems",
        f"{tmp}/problems.jsonl",
        "--timeout",
        "1",
    ]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = server.stdout.readline().split("listening on ", 1)[1].split()[0]
    programs = [PROGRAMS[i % len(PROGRAMS)] + f"# {i}\n" for i in range(args.samples)]
    try:
        with httpx.Client(timeout=170) as client:
            client.post(url, json={"response": programs[:4], "labels": ["sort"] * 4}).raise_for_status()  # warm

            def one(code: str) -> float:
                return client.post(url, json={"response": [code], "labels": ["sort"]}).json()["rewards"][0]

            t = time.perf_counter()
            batched = client.post(url, json={"response": programs, "labels": ["sort"] * len(programs)}).json()["rewards"]
            t_batch = time.perf_counter() - t
            t = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                concurrent = list(pool.map(one, programs))
            t_conc = time.perf_counter() - t
            t = time.perf_counter()
            serial = [one(code) for code in programs]
            t_serial = time.perf_counter() - t
        assert batched == concurrent == serial, "rewards differ between the ways of asking"
    finally:
        server.terminate()
        server.wait()
    n = args.samples
    print(f"{n} samples x {len(tests)} tests, {os.cpu_count()} cores (self-built workload)")
    print(f"one request, all samples (baseline): {n / t_batch:8.1f} samples/s")
    print(f"{args.clients} clients, one sample each:    {n / t_conc:8.1f} samples/s  ratio {t_batch / t_conc:5.2f}")
    print(f"one sample at a time:               {n / t_serial:8.1f} samples/s  ratio {t_batch / t_serial:5.2f}")
    print(f"one-sample call, serial: {1000 * t_serial / n:6.1f} ms each (HTTP round trip + verifying one program)")


if __name__ == "__main__":
    main()
