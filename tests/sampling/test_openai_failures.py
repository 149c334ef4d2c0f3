"""`tdrl sample --backend openai` against a real HTTP server on 127.0.0.1 that refuses some requests.

A 400 for one problem's prompt (too long, bad characters) is that problem's failure: the run
goes on, says which problems were left and why, and a rerun fills in only those. A failure of
the server itself (here a 401) stops the run with one line, the samples so far kept.
"""

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .conftest import read, write_problems

pytest.importorskip("openai")
TDRL = [sys.executable, "-m", "tdrl.cli"]


def serve(state: dict) -> ThreadingHTTPServer:
    """Chat completions answered with a fixed program; 400 for any prompt holding ``state['refuse']``;
    401 for everything once ``state['auth']`` is False."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state["requests"] += 1
            if not state["auth"]:
                return self._send(401, {"error": {"message": "invalid api key", "type": "auth"}})
            text = json.dumps(body["messages"])
            if state["refuse"] and state["refuse"] in text:
                return self._send(400, {"error": {"message": "prompt too long for this model", "type": "invalid_request"}})
            choices = [
                {"index": i, "finish_reason": "stop", "message": {"role": "assistant", "content": "def f(x):\n    return x\n"}}
                for i in range(int(body.get("n", 1)))
            ]
            usage = {"prompt_tokens": 10, "completion_tokens": 5 * len(choices), "total_tokens": 10 + 5 * len(choices)}
            self._send(
                200,
                {
                    "id": "x",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": choices,
                    "usage": usage,
                },
            )

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def problems_file(tmp_path):
    return write_problems(tmp_path / "problems.jsonl", 4)


def sample(problems_file, out, url, *extra):
    args = [
        *TDRL, "sample", "--problems", str(problems_file), "--model", "m", "--backend", "openai", "--base-url", url,
        "-n", "2", "--no-progress", "--out", str(out), *extra,
    ]  # fmt: skip
    return subprocess.run(args, capture_output=True, text=True, timeout=300, env={**os.environ, "OPENAI_API_KEY": "k"})


def test_a_refused_problem_is_left_unsampled_and_the_rest_are_written(tmp_path, problems_file):
    state = {"refuse": "Return x (2).", "auth": True, "requests": 0}
    server = serve(state)
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    out = tmp_path / "samples.jsonl"
    try:
        proc = sample(problems_file, out, url)
        assert proc.returncode == 0, proc.stderr
        assert {r["problem_id"] for r in read(out)} == {"p0", "p1", "p3"} and len(read(out)) == 6
        assert "1 problems refused by the server and left unsampled (first: p2: HTTP 400" in proc.stderr
        assert "prompt too long" in proc.stderr and "Traceback" not in proc.stderr
        # a 400 is not retried: one request for p2, one for each of the others
        assert state["requests"] == 4
        # the server accepts it now: the rerun asks only for p2
        state["refuse"], state["requests"] = None, 0
        again = sample(problems_file, out, url)
        assert again.returncode == 0, again.stderr
        assert state["requests"] == 1 and "2 samples for 1 problems (3 already done)" in again.stdout
        assert sorted((r["problem_id"], r["sample_id"]) for r in read(out)) == [
            (f"p{i}", str(j)) for i in range(4) for j in range(2)
        ]
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_failure_stops_the_run_in_one_line(tmp_path, problems_file):
    state = {"refuse": None, "auth": False, "requests": 0}
    server = serve(state)
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    out = tmp_path / "samples.jsonl"
    try:
        proc = sample(problems_file, out, url)
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "error: sampling stopped: the server at" in proc.stderr and "AuthenticationError" in proc.stderr
    assert "rerun the same command to resume" in proc.stderr


def test_every_problem_refused_is_a_failed_run(tmp_path, problems_file):
    server = serve({"refuse": "Return x (", "auth": True, "requests": 0})
    try:
        proc = sample(problems_file, tmp_path / "s.jsonl", f"http://127.0.0.1:{server.server_address[1]}/v1")
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 2 and "the server refused every problem" in proc.stderr
