"""A small OpenAI-compatible HTTP server backed by a local HF model (``tdrl serve-model``).

Speaks ``POST /v1/chat/completions``, ``POST /v1/completions`` and ``GET /v1/models``, so
anything that talks to vLLM or llama.cpp can talk to a local model, and tests exercise the
real client against a real server on 127.0.0.1. One request generates at a time (the model
is not thread-safe); use vLLM or SGLang for throughput.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tdrl.llm.hf import HFModel, stable_seed


def make_server(model: HFModel, host: str = "127.0.0.1", port: int = 0, served_name: str | None = None) -> ThreadingHTTPServer:
    """A server bound to ``host:port`` (0 picks a free port); call ``serve_forever``."""
    lock = threading.Lock()
    name = served_name or model.name

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.rstrip("/") == "/v1/models":
                return self._send(200, {"object": "list", "data": [{"id": name, "object": "model"}]})
            self._send(404, {"error": {"message": "not found"}})

        def do_POST(self):
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            except ValueError:
                return self._send(400, {"error": {"message": "invalid JSON"}})
            chat = self.path.rstrip("/") == "/v1/chat/completions"
            if not chat and self.path.rstrip("/") != "/v1/completions":
                return self._send(404, {"error": {"message": "not found"}})
            try:
                prompt = model.chat_prompt(body["messages"]) if chat else body["prompt"]
            except (KeyError, TypeError) as exc:
                return self._send(400, {"error": {"message": f"bad request: {exc}"}})
            stop = body.get("stop")
            stop = [stop] if isinstance(stop, str) else stop
            n = int(body.get("n", 1))
            with lock:
                gens = model.generate(
                    prompt,
                    n=n,
                    max_new_tokens=int(body.get("max_tokens") or 256),
                    temperature=float(body.get("temperature", 1.0)),
                    top_p=float(body.get("top_p", 1.0)),
                    seed=stable_seed(int(body.get("seed") or 0), prompt),
                    stop=stop,
                )
            choices = [
                {
                    "index": i,
                    "finish_reason": g.finish_reason,
                    **({"message": {"role": "assistant", "content": g.text}} if chat else {"text": g.text}),
                }
                for i, g in enumerate(gens)
            ]
            usage = {
                "prompt_tokens": gens[0].prompt_tokens if gens else 0,
                "completion_tokens": sum(g.completion_tokens for g in gens),
            }
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
            self._send(
                200,
                {
                    "id": f"cmpl-{uuid.uuid4().hex[:12]}",
                    "object": "chat.completion" if chat else "text_completion",
                    "created": int(time.time()),
                    "model": name,
                    "choices": choices,
                    "usage": usage,
                },
            )

    return ThreadingHTTPServer((host, port), Handler)
