"""Requests per second of ``tdrl serve-reward`` against the same verification in process.

Starts the real server on 127.0.0.1 (a subprocess, as deployed), then sends ``--requests``
OpenRLHF-style requests of ``--batch`` completions each (20 tests per problem; a mix of
right, wrong and hostile programs, the hostile ones including an infinite loop) from
``--clients`` concurrent clients. Baseline: the same batches verified in this process with
``tdrl.serve.scoring.check_batch`` from as many threads (no HTTP, no JSON), which bounds
what the server can reach; the ratio is the share of that throughput the server keeps.

    python bench/bench_reward_server.py [--requests 20] [--batch 16] [--clients 4]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

PROGRAMS = [
    "def f(x):\n    return sorted(x)\n",
    "def f(x):\n    return sorted(x)[::-1]\n",
    "def f(x):\n    return x\n",
    "import os\nos._exit(0)\n",
    "def f(x):\n    return list(sorted(set(x)))\n",
    "def f(x) return",
    "def f(x):\n    x.sort()\n    return x\n",
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--clients", type=int, default=4)
    args = ap.parse_args()

    import httpx

    from tdrl.execution import TimePolicy, Verifier
    from tdrl.io import write_jsonl
    from tdrl.records import Problem, Test
    from tdrl.serve.scoring import check_batch

    tests = [
        Test(
            "call",
            input=repr([[(i * 7 + j * 3) % 11 for j in range(i % 6)]]),
            output=repr(sorted((i * 7 + j * 3) % 11 for j in range(i % 6))),
        )
        for i in range(20)
    ]
    problem = Problem("sort", tests, entry_point="f")
    batch = [PROGRAMS[i % len(PROGRAMS)] for i in range(args.batch - 1)] + ["def f(x):\n    while True:\n        pass\n"]

    with Verifier(workers=os.cpu_count(), time_policy=TimePolicy(timeout=0.5, max_sample=2.0)) as v:
        check_batch(v, [problem] * len(batch), batch)  # warm
        t = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(lambda _: check_batch(v, [problem] * len(batch), batch), range(args.requests)))
        base = args.requests / (time.perf_counter() - t)

    tmp = tempfile.mkdtemp()
    write_jsonl(f"{tmp}/problems.jsonl", [problem])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tdrl.cli",
            "serve-reward",
            "--port",
            str(port),
            "--problems",
            f"{tmp}/problems.jsonl",
            "--timeout",
            "0.5",
            "--max-sample-time",
            "2",
        ],
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        body = {"response": batch, "labels": ["sort"] * len(batch)}
        with httpx.Client(timeout=120) as client:
            client.post(f"{url}/get_reward", json=body).raise_for_status()  # warm
            t = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                answers = list(pool.map(lambda _: client.post(f"{url}/get_reward", json=body).json(), range(args.requests)))
            served = args.requests / (time.perf_counter() - t)
        expected = answers[0]["rewards"]
        assert all(a["rewards"] == expected for a in answers), "rewards differ between identical requests"
    finally:
        server.terminate()
        server.wait()
    print(
        f"{args.requests} requests x {args.batch} completions x {len(tests)} tests, {args.clients} clients, {os.cpu_count()} cores"
    )
    print(f"in-process check_batch, same concurrency (baseline): {base:8.2f} batches/s  ({base * args.batch:7.1f} completions/s)")
    print(
        f"tdrl serve-reward over HTTP:                           {served:8.2f} requests/s ({served * args.batch:7.1f} completions/s)"
    )
    print(f"ratio server / in-process: {served / base:.2f}")


if __name__ == "__main__":
    main()
