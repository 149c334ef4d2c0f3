"""Shared fixtures: one verifier pool per session, small problems built in code."""

from __future__ import annotations

import pytest

from tdrl.execution import TimePolicy, Verifier
from tdrl.records import Problem, Sample, Test


@pytest.fixture(scope="session")
def verifier():
    with Verifier(workers=2, sandbox="auto", time_policy=TimePolicy(timeout=1.0, load_timeout=3.0, max_sample=10.0)) as v:
        yield v


def make_problem(pid: str = "add", tests: list[Test] | None = None) -> Problem:
    tests = tests or [
        Test("call", input="[1, 2]", output="3"),
        Test("call", input="[5, -5]", output="0"),
        Test("assert", code="assert add(2, 2) == 4"),
    ]
    return Problem(id=pid, tests=tests, entry_point="add", prompt="def add(a, b):\n")


CORRECT_ADD = "def add(a, b):\n    return a + b\n"


@pytest.fixture
def add_problem() -> Problem:
    return make_problem()


def run(verifier: Verifier, problem: Problem, code: str):
    return verifier.check(problem, Sample(problem.id, "s", code))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A ~30K-parameter Llama and BPE tokenizer with a chat template, built once per session."""
    pytest.importorskip("transformers")
    from tdrl.llm.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", chat=True)


def kill_then_resume(args: list[str], out, min_lines: int, timeout: float = 120) -> int:
    """Start a command, SIGKILL it once ``out`` has ``min_lines`` lines, rerun it to the end.

    Returns how many lines there were at the kill; the caller checks the final file.
    """
    import os
    import signal
    import subprocess
    import time

    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + timeout
    while time.time() < deadline and (not out.exists() or len(out.read_text().splitlines()) < min_lines):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = len(out.read_text().splitlines())
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return partial


class ScriptedModel:
    """Stands in for a strong (paid or GPU-sized) model behind the real OpenAI-protocol server.

    Answers with the first canned reply whose key occurs in the prompt, so tests can drive
    the whole client, server and synthesis path with answers a good model would give.
    """

    name = "scripted"

    def __init__(self, replies: list[tuple[str, str]], default: str = "I cannot help with that."):
        self.replies, self.default = replies, default

    def chat_prompt(self, messages: list[dict]) -> str:
        return "\n".join(m["content"] for m in messages)

    def generate(self, prompt: str, n: int = 1, **_):
        from tdrl.llm.hf import Generation

        text = next((reply for key, reply in self.replies if key in prompt), self.default)
        return [Generation(text, len(prompt.split()), len(text.split()), "stop") for _ in range(n)]


@pytest.fixture
def serve():
    """``serve(model) -> base_url``: a real HTTP server on 127.0.0.1, shut down after the test."""
    import threading

    from tdrl.llm.server import make_server

    servers = []

    def start(model) -> str:
        server = make_server(model, port=0, served_name=model.name if isinstance(model, ScriptedModel) else "tiny")
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
