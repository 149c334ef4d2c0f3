"""Sampling from any OpenAI-compatible server (vLLM, SGLang, llama.cpp, hosted APIs).

Uses the official ``openai`` client, asynchronously, with at most ``concurrency`` requests
in flight, the client's retries with backoff and a request timeout. Responses are cached on
disk by a hash of everything that determines them (server, model, messages or prompt,
parameters, seed), so a rerun does not pay twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from pathlib import Path

from tdrl.llm.hf import Generation


class ResponseCache:
    """Content-addressed JSON files: ``<dir>/<sha256[:2]>/<sha256>.json``."""

    def __init__(self, directory: str | Path | None):
        self.dir = Path(directory) if directory else None

    @staticmethod
    def key(request: dict) -> str:
        return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()

    def get(self, key: str) -> list[dict] | None:
        if not self.dir:
            return None
        path = self.dir / key[:2] / f"{key}.json"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    def put(self, key: str, value: list[dict]) -> None:
        if not self.dir:
            return
        path = self.dir / key[:2] / f"{key}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(value))
        tmp.replace(path)


class OpenAIBackend:
    """Chat or plain completions from an OpenAI-compatible endpoint."""

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        concurrency: int = 8,
        timeout: float = 120.0,
        max_retries: int = 5,
        cache_dir: str | Path | None = None,
    ):
        from openai import AsyncOpenAI

        self.model = model
        self.base_url = base_url
        self.client = AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY",
            timeout=timeout,
            max_retries=max_retries,
        )
        self.semaphore = asyncio.Semaphore(concurrency)
        self.cache = ResponseCache(cache_dir)

    async def generate(
        self,
        prompt: str | None = None,
        messages: list[dict] | None = None,
        n: int = 1,
        max_tokens: int = 256,
        temperature: float = 0.8,
        top_p: float = 0.95,
        seed: int | None = None,
        stop: list[str] | None = None,
    ) -> list[Generation]:
        """``n`` completions of a chat (``messages``) or a plain ``prompt``."""
        params = {"model": self.model, "n": n, "max_tokens": max_tokens, "temperature": temperature, "top_p": top_p}
        if seed is not None:
            params["seed"] = seed
        if stop:
            params["stop"] = stop[:4]  # the OpenAI API takes at most 4
        request = {"base_url": self.base_url, "messages": messages, "prompt": prompt, **params}
        key = ResponseCache.key(request)
        cached = self.cache.get(key)
        if cached is None:
            async with self.semaphore:
                if messages is not None:
                    resp = await self.client.chat.completions.create(messages=messages, **params)
                    texts = [(c.message.content or "", c.finish_reason) for c in resp.choices]
                else:
                    resp = await self.client.completions.create(prompt=prompt, **params)
                    texts = [(c.text, c.finish_reason) for c in resp.choices]
            usage = resp.usage
            per = (usage.completion_tokens // max(1, len(texts))) if usage else 0
            cached = [
                {"text": t, "finish_reason": f, "prompt_tokens": usage.prompt_tokens if usage else 0, "completion_tokens": per}
                for t, f in texts
            ]
            self.cache.put(key, cached)
        return [Generation(c["text"], c["prompt_tokens"], c["completion_tokens"], c["finish_reason"] or "") for c in cached]
