"""Red-team pass 2 on ``tdrl serve-reward`` (a real server on 127.0.0.1): attacks that worked before their fix."""

import socket

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
