"""One blocking ``chat(messages, seed) -> Generation`` over either backend, safe from many threads.

Synthesis asks a model one question per seed and then runs the answer in the sandbox; it
is simplest to write as plain functions on a thread pool. :class:`Chat` hides the backend:
for an OpenAI-compatible server every call is a coroutine on one background event loop
(so the client's connection pool and the ``concurrency`` bound are shared by all threads);
a local HF model answers one request at a time under a lock. ``parallel`` says how many
threads are worth running.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from tdrl.errors import ConfigError
from tdrl.llm.hf import Generation


class Chat:
    def __init__(
        self,
        model: str = "embedded",
        backend: str = "hf",
        base_url: str | None = None,
        concurrency: int = 8,
        cache_dir: str | Path | None = None,
        max_tokens: int = 1024,
        temperature: float = 0.7,
    ):
        self.max_tokens, self.temperature = max_tokens, temperature
        if backend == "openai":
            from tdrl.llm.openai_backend import OpenAIBackend

            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="tdrl-chat", daemon=True)
            self._thread.start()

            async def make():  # the client and its semaphore belong to the background loop
                return OpenAIBackend(model, base_url=base_url, concurrency=concurrency, cache_dir=cache_dir)

            self._backend = asyncio.run_coroutine_threadsafe(make(), self._loop).result()
            self.parallel = concurrency
        elif backend == "hf":
            from tdrl.llm.embedded import resolve_model
            from tdrl.llm.hf import HFModel

            self._model = HFModel(resolve_model(model))
            self._lock = threading.Lock()
            self._loop = None
            self.parallel = 1
        else:
            raise ConfigError(f"unknown backend {backend!r} (hf, openai)")

    def __call__(self, messages: list[dict], seed: int) -> Generation:
        if self._loop is not None:
            coro = self._backend.generate(
                messages=messages, n=1, max_tokens=self.max_tokens, temperature=self.temperature, seed=seed
            )
            return asyncio.run_coroutine_threadsafe(coro, self._loop).result()[0]
        with self._lock:
            prompt = self._model.chat_prompt(messages)
            return self._model.generate(prompt, n=1, max_new_tokens=self.max_tokens, temperature=self.temperature, seed=seed)[0]

    def close(self) -> None:
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._backend.client.close(), self._loop).result()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._loop.close()
            self._loop = None

    def __enter__(self) -> Chat:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
