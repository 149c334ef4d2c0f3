"""verl and OpenRLHF reward adapters, the verl parquet export, and the HTTP reward server."""

import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tdrl.io import write_jsonl
from tdrl.records import Problem, Test
from tdrl.serve import scoring
from tdrl.serve.scoring import problem_label

TDRL = [sys.executable, "-m", "tdrl.cli"]
SQUARE = Problem(
    "sq",
    [Test("call", input=f"[{x}]", output=str(x * x)) for x in (0, 2, -3, 7)] + [Test("assert", code="assert sq(5) == 25")],
    prompt="def sq(x):\n",
    entry_point="sq",
)
RIGHT = "def sq(x):\n    return x * x\n"
HALF = "def sq(x):\n    return x * x if x > 0 else 0\n"  # passes 0, 2, 7 and 5: 4 of 5
HOSTILE = {
    "exit0": "import os\nos._exit(0)\n",
    "sys_exit": "import sys\nsys.exit(0)\n",
    "eq_trick": "class A:\n    def __eq__(self, o):\n        return True\n\ndef sq(x):\n    return A()\n",
    "loop": "def sq(x):\n    while True:\n        pass\n",
    "fake_report": 'print(\'{"status": "pass", "pass_rate": 1.0}\')\ndef sq(x):\n    return -1\n',
    "kill_parent": "import os, signal\ndef sq(x):\n    os.kill(os.getppid(), signal.SIGKILL)\n",
}


@pytest.fixture(autouse=True)
def fast_verifier(monkeypatch):
    monkeypatch.setenv("TDRL_TIMEOUT", "1.0")
    monkeypatch.setenv("TDRL_WORKERS", "2")


def test_verl_compute_score():
    from tdrl.serve.verl import compute_score

    label = problem_label(SQUARE)
    assert compute_score("tdrl", RIGHT, label, {"index": 0})["score"] == 1.0
    half = compute_score("tdrl", f"```python\n{HALF}```", label)
    assert half["score"] == pytest.approx(0.8) and half["all_pass"] == 0.0
    for name, code in HOSTILE.items():
        assert compute_score("tdrl", code, label)["score"] == 0.0, name
    assert compute_score("tdrl", RIGHT, label)["infra_error"] == 0.0


def test_openrlhf_reward_func_with_problem_ids(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from tdrl.serve.openrlhf import reward_func

    write_jsonl(tmp_path / "problems.jsonl", [SQUARE])
    monkeypatch.setenv("TDRL_PROBLEMS", str(tmp_path / "problems.jsonl"))
    monkeypatch.setattr(scoring, "_problems", None)
    prompts = ["<user>square</user>", "<user>square</user>", "<user>square</user>"]
    queries = [p + r for p, r in zip(prompts, [RIGHT, HALF, HOSTILE["exit0"]])]
    out = reward_func(queries, prompts, ["sq", "sq", "sq"])
    assert out["rewards"].tolist() == pytest.approx([1.0, 0.8, 0.0])
    assert out["scores"].tolist() == [1.0, 0.0, 0.0]
    assert out["extra_logs"]["infra_error"].tolist() == [0.0, 0.0, 0.0]


def test_export_verl_parquet_round_trip(tmp_path):
    pd = pytest.importorskip("pandas")
    from tdrl.serve.verl import compute_score

    write_jsonl(tmp_path / "problems.jsonl", [Problem.from_dict({**SQUARE.to_dict(), "reference": RIGHT})])
    proc = subprocess.run(
        [*TDRL, "export-verl", "--problems", str(tmp_path / "problems.jsonl"), "--out", str(tmp_path / "train.parquet")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    df = pd.read_parquet(tmp_path / "train.parquet")
    row = df.iloc[0]
    assert row["data_source"] == "tdrl" and row["ability"] == "code" and row["prompt"][0]["role"] == "user"
    truth = row["reward_model"]["ground_truth"]
    assert "reference" not in json.loads(truth)  # the answer does not travel with the data
    assert compute_score(row["data_source"], RIGHT, truth, row["extra_info"])["score"] == 1.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def reward_server(tmp_path_factory):
    pytest.importorskip("fastapi")
    httpx = pytest.importorskip("httpx")
    root = tmp_path_factory.mktemp("server")
    write_jsonl(root / "problems.jsonl", [SQUARE])
    port = _free_port()
    proc = subprocess.Popen(
        [*TDRL, "serve-reward", "--port", str(port), "--problems", str(root / "problems.jsonl"), "--timeout", "1"]
        + ["--workers", "2", "--max-concurrency", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ},
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError(proc.stderr.read().decode())
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def test_reward_server_concurrent_hostile_requests(reward_server):
    import httpx

    cases = [(RIGHT, 1.0), (HALF, 0.8)] + [(code, 0.0) for code in HOSTILE.values()]
    prompt = "Write sq.\n"

    def post(i):
        code, want = cases[i % len(cases)]
        label = "sq" if i % 2 else problem_label(SQUARE)  # ids and whole problems both work
        body = {"query": [prompt + code, prompt + RIGHT], "prompts": [prompt, prompt], "labels": [label, label]}
        resp = httpx.post(f"{reward_server}/get_reward", json=body, timeout=120)
        resp.raise_for_status()
        return want, resp.json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, range(24)))
    for want, got in answers:
        assert got["rewards"][0] == pytest.approx(want) and got["rewards"][1] == 1.0
        assert got["scores"][1] == 1.0 and got["pass_rates"][1] == 1.0
        assert got["extra_logs"]["infra_error"] == [0.0, 0.0]
    health = httpx.get(f"{reward_server}/health").json()
    assert health["requests"] >= 24 and health["in_flight"] == 0


def test_reward_server_rejects_bad_requests(reward_server):
    import httpx

    for body in ({"query": ["x"]}, {"response": ["x"], "labels": ["nope"]}, {"response": ["x", "y"], "labels": ["sq"]}):
        resp = httpx.post(f"{reward_server}/get_reward", json=body, timeout=30)
        assert resp.status_code == 400, body
    resp = httpx.post(f"{reward_server}/", json={"response": [RIGHT], "labels": ["sq"]}, timeout=30)
    assert resp.json()["rewards"] == [1.0]
