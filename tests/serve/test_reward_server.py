"""``tdrl serve-reward`` as a real server on 127.0.0.1: the protocol, and one adversarial test per property
(body size, known ids only, no id reuse, bounded caches, one deadline from arrival, slow bodies)."""

import contextlib
import json
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tdrl.io import write_jsonl
from tdrl.records import Problem, Test
from tdrl.serve.scoring import problem_label

from .test_adapters import HALF, HOSTILE, RIGHT, SQUARE

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

TDRL = [sys.executable, "-m", "tdrl.cli"]
PROMPT = "Write sq.\n"
# what a client would like to be true of "sq": a test any program passes
EASY = {"id": "sq", "entry_point": "sq", "tests": [{"type": "assert", "code": "assert True"}]}


@contextlib.contextmanager
def reward_server(tmp_path, *args: str):
    """Start ``tdrl serve-reward --port 0 ARGS``; yields its URL, read from the one line it prints when listening."""
    write_jsonl(tmp_path / "problems.jsonl", [SQUARE])
    cmd = [*TDRL, "serve-reward", "--port", "0", "--workers", "2", "--timeout", "1", *args]
    cmd = [a if a != "PROBLEMS" else str(tmp_path / "problems.jsonl") for a in cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        if "listening on" not in line:
            proc.kill()
            raise RuntimeError(f"no listening line: {line!r} {proc.stderr.read()}")
        url = line.split("listening on ", 1)[1].split()[0].rsplit("/get_reward", 1)[0]
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def known(tmp_path_factory):
    """A server that knows "sq" and also takes inline problems (under other ids)."""
    with reward_server(tmp_path_factory.mktemp("known"), "--problems", "PROBLEMS", "--allow-inline", "--cache-size", "4") as url:
        yield url


def post(url, body, timeout=120):
    return httpx.post(f"{url}/get_reward", json=body, timeout=timeout)


def test_listening_line_and_concurrent_hostile_requests(known):
    assert known.startswith("http://127.0.0.1:")
    other = problem_label(Problem.from_dict({**SQUARE.to_dict(), "id": "sq-inline"}))
    cases = [(RIGHT, 1.0), (HALF, 0.8), (f"```python\n{RIGHT}```<|im_end|>", 1.0)] + [(c, 0.0) for c in HOSTILE.values()]

    def one(i):
        code, want = cases[i % len(cases)]
        label = "sq" if i % 2 else other  # ids and inline problems both work
        body = {"query": [PROMPT + code, PROMPT + RIGHT], "prompts": [PROMPT, PROMPT], "labels": [label, label]}
        resp = post(known, body)
        resp.raise_for_status()
        return want, resp.json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, range(18)))
    for want, got in answers:
        assert got["rewards"][0] == pytest.approx(want) and got["rewards"][1] == 1.0
        assert got["scores"][1] == 1.0 and got["pass_rates"][1] == 1.0
        assert got["extra_logs"]["infra_error"] == [0.0, 0.0] and got["extra_logs"]["bad_label"] == [0.0, 0.0]
    health = httpx.get(f"{known}/health").json()
    assert health["requests"] >= 18 and health["in_flight"] == 0


def test_malformed_requests_get_400_and_unknown_ids_score_nothing(known):
    for body in ({"query": ["x"]}, {"response": ["x", "y"], "labels": ["sq"]}, {"labels": 5}):
        assert post(known, body).status_code == 400, body
    assert httpx.post(f"{known}/get_reward", content=b"[" * 100_000, timeout=30).status_code == 400  # nesting bomb
    got = post(known, {"response": [RIGHT, RIGHT], "labels": ["nope", "sq"]}).json()
    assert got["rewards"] == [0.0, 1.0] and got["pass_rates"] == [None, 1.0]
    assert got["extra_logs"]["bad_label"] == [1.0, 0.0] and "unknown problem id" in got["errors"][0]
    assert httpx.post(f"{known}/", json={"response": [RIGHT], "labels": ["sq"]}, timeout=30).json()["rewards"] == [1.0]


def test_inline_problem_cannot_take_a_known_id(known):
    """A client's own tests under the id "sq" would let any program pass; the server refuses them."""
    wrong = "def sq(x):\n    return 0\n"
    got = post(known, {"response": [wrong, wrong], "labels": [EASY, json.dumps(EASY)]}).json()
    assert got["rewards"] == [0.0, 0.0] and got["extra_logs"]["bad_label"] == [1.0, 1.0]
    assert "id 'sq' of a known problem" in got["errors"][0]
    # the known problem's own tests still judge later samples
    later = post(known, {"response": [wrong, RIGHT], "labels": ["sq", "sq"]}).json()
    assert later["rewards"] == [pytest.approx(0.2), 1.0]


def test_problems_mode_refuses_inline_problems_unless_allowed(tmp_path):
    wrong = "def sq(x):\n    return 0\n"
    with reward_server(tmp_path, "--problems", "PROBLEMS") as url:
        easy_elsewhere = {**EASY, "id": "mine"}
        got = post(url, {"response": [wrong, RIGHT], "labels": [easy_elsewhere, "sq"]}).json()
        assert got["rewards"] == [0.0, 1.0] and got["extra_logs"]["bad_label"] == [1.0, 0.0]
        assert "inline problems are not allowed" in got["errors"][0]


def test_body_over_the_limit_gets_413_declared_or_not(tmp_path):
    with reward_server(tmp_path, "--max-body-bytes", "2000") as url:
        big = {"response": ["x" * 5000], "labels": [problem_label(SQUARE)]}
        assert post(url, big).status_code == 413
        # chunked: no Content-Length to trust, the server counts what arrives
        chunks = (json.dumps(big)[i : i + 500].encode() for i in range(0, 6000, 500))
        assert httpx.post(f"{url}/get_reward", content=chunks, timeout=30).status_code == 413
        ok = post(url, {"response": [RIGHT], "labels": [problem_label(SQUARE)]}).json()
        assert ok["rewards"] == [1.0]
        assert httpx.get(f"{url}/health").json()["too_large"] == 2


def _raw(url: str, data: bytes, hold: bool = False) -> bytes:
    """Send ``data`` on a raw connection and read the answer (the socket timeout only stops a hung test)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as s:
        s.sendall(data)
        out = b""
        while b"\r\n\r\n" not in out or (not hold and not out.endswith(b"}")):
            part = s.recv(65536)
            if not part:
                break
            out += part
        return out


def test_a_client_that_stops_sending_its_body_gets_408(tmp_path):
    with reward_server(tmp_path, "--body-timeout", "1") as url:
        body = json.dumps({"response": [RIGHT], "labels": [problem_label(SQUARE)]}).encode()
        head = f"POST /get_reward HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        with ThreadPoolExecutor(4) as pool:  # several slow clients at once, and a normal one next to them
            slow = [pool.submit(_raw, url, head.encode() + body[:20], True) for _ in range(3)]
            normal = post(url, {"response": [RIGHT], "labels": [problem_label(SQUARE)]}).json()
            answers = [f.result() for f in slow]
        assert normal["rewards"] == [1.0]
        assert all(a.startswith(b"HTTP/1.1 408") for a in answers), answers
        assert httpx.get(f"{url}/health").json()["slow_bodies"] == 3
        # one that stops inside its headers is disconnected
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=60) as s:
            s.sendall(b"POST /get_reward HTTP/1.1\r\nHost: x\r\nContent-Le")
            assert s.recv(1024) == b""
        assert post(url, {"response": [RIGHT], "labels": [problem_label(SQUARE)]}).json()["rewards"] == [1.0]


def test_the_deadline_counts_from_arrival_not_from_getting_a_slot(tmp_path):
    """One slot; A's endless loop holds it until A's deadline. B arrives right after A and needs
    about 1.5 s of verifying: counted from B's arrival its 8 s are gone by the time it gets the
    slot, so B is not judged (infra_error) instead of being judged seconds later than allowed."""
    slow_right = "import time\ndef sq(x):\n    time.sleep(0.3)\n    return x * x\n"
    args = ("--max-concurrency", "1", "--request-timeout", "8", "--timeout", "10", "--max-sample-time", "20")
    with reward_server(tmp_path, *args) as url:
        label = problem_label(SQUARE)
        with ThreadPoolExecutor(2) as pool:
            a = pool.submit(post, url, {"response": [HOSTILE["loop"]], "labels": [label]})
            for _ in range(200):  # B is sent once A holds the slot
                if httpx.get(f"{url}/health").json()["in_flight"]:
                    break
            b = pool.submit(post, url, {"response": [slow_right], "labels": [label]})
            got_a, got_b = a.result().json(), b.result().json()
        assert got_a["extra_logs"]["infra_error"] == [1.0] and got_a["pass_rates"] == [None]
        assert got_b["extra_logs"]["infra_error"] == [1.0] and got_b["rewards"] == [0.0]
        assert httpx.get(f"{url}/health").json()["timeouts"] == 2
        # with the slot free, the same program is judged (it was the wait that ran out, not the program)
        assert post(url, {"response": [slow_right], "labels": [label]}).json()["rewards"] == [1.0]


def test_inline_problem_cache_is_bounded(known):
    labels = [problem_label(Problem(f"c{i}", [Test("call", input="[3]", output="9")], entry_point="sq")) for i in range(12)]
    for label in labels:
        assert post(known, {"response": [RIGHT], "labels": [label]}).json()["rewards"] == [1.0]
    health = httpx.get(f"{known}/health").json()
    assert health["inline_cached"] <= 4 and health["verifier_plans"] <= 4 + 1  # + the known "sq"


def test_default_deadline_is_below_openrlhfs_client_timeout():
    from tdrl.serve.reward_server import DEFAULT_TIMEOUT

    # OpenRLHF 0.11.2 openrlhf/utils/agent.py: aiohttp.ClientTimeout(total=180) per reward request
    assert DEFAULT_TIMEOUT < 180
    out = subprocess.run([*TDRL, "serve-reward", "--help"], capture_output=True, text=True).stdout
    assert "150" in out
