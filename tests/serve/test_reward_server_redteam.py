"""Red-team pass 2 on ``tdrl serve-reward`` (a real server on 127.0.0.1): attacks that worked before their fix."""

import asyncio
import socket
import threading

import httpx
import pytest

from tdrl.serve.scoring import problem_label

from .test_adapters import RIGHT, SQUARE
from .test_reward_server import post, reward_server

pytest.importorskip("fastapi")

# labels that cannot even be read: the record parser's ast.parse raises RecursionError (not a
# ValueError) on a deep expression; before the fix the whole request got 500
DEEP_ASSERT = {"id": "deep", "entry_point": "sq", "tests": [{"type": "assert", "code": "assert sq(" + "1+" * 5000 + "1) == 2"}]}
# a label given as JSON text, nested deeper than the JSON parser's recursion limit
DEEP_LABEL = '{"id": "deeper", "entry_point": "sq", "tests": [], "meta": ' + '{"x": ' * 3000 + "{}" + "}" * 3000 + "}"


def test_rt2_s01_a_label_that_cannot_be_read_costs_only_its_own_sample(tmp_path):
    with reward_server(tmp_path) as url:
        got = post(url, {"response": [RIGHT, RIGHT, RIGHT], "labels": [problem_label(SQUARE), DEEP_ASSERT, DEEP_LABEL]})
        assert got.status_code == 200, got.text[:300]
        body = got.json()
        assert body["rewards"] == [1.0, 0.0, 0.0] and body["pass_rates"] == [1.0, None, None]
        assert body["extra_logs"]["bad_label"] == [0.0, 1.0, 1.0]
        assert body["extra_logs"]["infra_error"] == [0.0, 0.0, 0.0]
        assert httpx.get(f"{url}/health").json()["refused_labels"] == 2


def test_rt2_s02_half_a_second_request_on_a_kept_alive_connection_is_disconnected(tmp_path):
    # uvicorn's keep-alive timer is cancelled by the first byte of the next request, and the
    # header deadline only covered a connection's first request: this one was held for ever
    with reward_server(tmp_path, "--body-timeout", "1") as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=20) as s:  # the timeout only stops a hung test
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            out = b""
            while not out.endswith(b"}"):
                out += s.recv(65536)
            assert out.startswith(b"HTTP/1.1 200")
            s.sendall(b"GET /hea")
            assert s.recv(1024) == b""
        assert post(url, {"response": [RIGHT], "labels": [problem_label(SQUARE)]}).json()["rewards"] == [1.0]


class _SlowTable(dict):
    """Known problems whose id lookup for an inline label waits for ``release`` (standing in for a
    label whose tests take long to parse: 80 s for a 15 MB test module on this machine)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.entered, self.release = threading.Event(), threading.Event()

    def __contains__(self, key):
        if key == "slow":
            self.entered.set()
            assert self.release.wait(20), "never released"  # on the event loop (before the fix) nobody can release it
        return super().__contains__(key)


def test_rt2_s03_reading_a_slow_inline_label_does_not_stop_other_requests():
    # the labels were parsed (and their plans compiled) on the event loop: while one request's
    # big inline label was read, no other request, not even /health, was answered
    from tdrl.execution import Verifier
    from tdrl.serve.reward_server import create_app

    async def scenario(app, table):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rt") as client:
            slow_label = {**SQUARE.to_dict(), "id": "slow"}
            slow = asyncio.ensure_future(client.post("/get_reward", json={"response": [RIGHT], "labels": [slow_label]}))
            try:
                assert await asyncio.to_thread(table.entered.wait, 30)  # the slow request is being read now
                health = await asyncio.wait_for(client.get("/health"), 30)  # the timeout only stops a hung test
            finally:
                table.release.set()
            assert health.status_code == 200 and not slow.done()
            got = (await slow).json()
            assert got["rewards"] == [1.0], got

    table = _SlowTable({"sq": SQUARE})
    with Verifier(workers=1) as v:
        asyncio.run(scenario(create_app(table, verifier=v, allow_inline=True), table))
