"""``tdrl serve-reward``: the verifier behind HTTP, speaking OpenRLHF's remote-reward protocol.

``POST /get_reward`` (also ``POST /``) with ``{"query": [...], "prompts": [...], "labels": [...]}``
returns ``{"rewards": [...], "scores": [...], "pass_rates": [...], "extra_logs": {...}}``, as
OpenRLHF's ``--reward.remote_url http://host:port/get_reward`` expects. ``query`` is prompt +
response (OpenRLHF decodes it with its special tokens; they are stripped here);
``response`` may be given instead (the response alone). ``pass_rates`` has ``null`` where a
sample got no verdict, for clients that can skip a reward (TRL); in ``rewards`` such a
sample scores 0 and ``extra_logs`` flags why (``infra_error``, ``bad_label``).

What a client can and cannot do:

* A body over ``max_body`` bytes gets 413, whatever its ``Content-Length`` says; a body not
  received within ``body_timeout`` seconds gets 408, and a connection that has not sent
  its (next) request line and headers within ``body_timeout`` of opening or of its last
  response is closed (a client that stops sending holds nothing for long).
* With ``problems`` (``--problems``) a label must be one of their ids; a label carrying its
  own tests is refused unless ``allow_inline``, and even then never under an id that
  ``problems`` knows (a client cannot swap in easier tests for a known problem). Without
  ``problems`` every label is inline. A refused label scores 0 with ``bad_label`` 1 and a
  reason in ``errors``; the other samples of the request are scored.
* One deadline, ``request_timeout`` seconds from the request's arrival, covers receiving
  the body, waiting for one of ``max_concurrency`` slots and verifying. Samples not judged
  by then score 0 with ``infra_error`` 1 (status 200, so OpenRLHF's client neither retries
  nor fails its step); the default (150 s) lies below OpenRLHF's 180 s client timeout.
* Inline problems are cached by content in a bounded LRU (``cache_size``); what falls out
  also leaves the verifier's plan cache.

Hostile programs run in the verifier's sandbox like anywhere else. Instances share no
state, so several behind a load balancer serve one job. ``GET /health`` reports counts.
"""

import asyncio  # no `from __future__ import annotations`: FastAPI must see the real Request annotation
import json
import time

DEFAULT_TIMEOUT = 150.0  # OpenRLHF 0.11's client gives up after 180 s (aiohttp ClientTimeout(total=180))


class _Refused(Exception):
    """A label the server will not score (unknown id, inline not allowed, a known id reused)."""


def create_app(
    problems=None,
    verifier=None,
    kind: str = "pass_rate",
    max_concurrency: int = 64,
    request_timeout: float = DEFAULT_TIMEOUT,
    max_body: int = 16 << 20,
    body_timeout: float = 30.0,
    allow_inline: bool = False,
    cache_size: int = 1024,
):
    """The FastAPI app; ``problems`` (id -> Problem) is the table of known problems (see the module doc)."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    from tdrl.rewards.functions import reward_from_result
    from tdrl.serve.scoring import (
        ProblemCache,
        check_all,
        clean_response,
        forget_plan,
        is_inline,
        problem_from_label,
        response_of,
        shared_verifier,
    )

    verifier = verifier or shared_verifier()
    gate = asyncio.Semaphore(max_concurrency)
    inline = ProblemCache(cache_size, on_evict=lambda p: forget_plan(verifier, p))
    stats = {
        "requests": 0,
        "samples": 0,
        "in_flight": 0,
        "timeouts": 0,
        "bad_requests": 0,
        "too_large": 0,
        "slow_bodies": 0,
        "refused_labels": 0,
        "seconds": 0.0,
    }
    app = FastAPI(title="tdrl reward server")

    @app.get("/health")
    async def health():
        plans = getattr(verifier, "_plans", None)
        return {
            "status": "ok",
            "kind": kind,
            "known_problems": len(problems or {}),
            "inline_cached": len(inline),
            "verifier_plans": len(plans) if isinstance(plans, dict) else None,
            **stats,
        }

    def error(status: int, detail: str, counter: str):
        stats[counter] += 1
        return JSONResponse({"detail": detail}, status_code=status)

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_body):
            raise OverflowError(declared)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body:
                raise OverflowError(size)
            chunks.append(chunk)
        return b"".join(chunks)

    def resolve(label):
        if not is_inline(label):
            if problems is None:
                raise _Refused("a problem id, but the server has no --problems")
            return problem_from_label(label, problems)
        if problems is not None and not allow_inline:
            raise _Refused("inline problems are not allowed (the server scores --problems ids only)")
        problem = problem_from_label(label, problems or {}, cache=inline)
        if problems is not None and problem.id in problems:
            raise _Refused(f"inline problem uses the id {problem.id!r} of a known problem")
        return problem

    async def score(request: Request):
        arrival = time.monotonic()
        try:
            raw = await asyncio.wait_for(read_body(request), min(body_timeout, request_timeout))
        except OverflowError:
            return error(413, f"request body over {max_body} bytes", "too_large")
        except asyncio.TimeoutError:
            return error(408, f"request body not received within {min(body_timeout, request_timeout)} s", "slow_bodies")
        try:
            body = json.loads(raw)
            labels = list(body["labels"])
            prompts = list(body.get("prompts") or [""] * len(labels))
            if "response" in body:
                cleaned = [clean_response(r) for r in body["response"]]
            else:
                cleaned = [response_of(q, p) for q, p in zip(body["query"], prompts)]
            if not (len(cleaned) == len(labels) == len(prompts)):
                raise ValueError(f"{len(cleaned)} responses, {len(prompts)} prompts and {len(labels)} labels")
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:  # includes broken JSON
            return error(400, f"bad request: {exc}", "bad_requests")
        n = len(labels)
        items, errors = [None] * n, [None] * n

        def resolve_and_compile(label):
            problem = resolve(label)
            if is_inline(label) and callable(getattr(verifier, "plan", None)):
                verifier.plan(problem)  # compiled here, in a thread (cached by content for the check below)
            return problem

        for i, label in enumerate(labels):
            try:
                # off the event loop: parsing an inline label's tests costs about a second per MB
                # (80 s for a 15 MB test module here), and meanwhile no other request would be served
                items[i] = await asyncio.to_thread(resolve_and_compile, label) if is_inline(label) else resolve(label)
            except Exception as exc:  # refused, or a label whose tests cannot be read (RecursionError, MemoryError...)
                errors[i] = (
                    str(exc)
                    if isinstance(exc, (_Refused, KeyError, TypeError, ValueError))
                    else f"bad label: {type(exc).__name__}"
                )
                stats["refused_labels"] += 1
        todo = [i for i in range(n) if items[i] is not None]
        results = [None] * n

        async def one(i: int) -> None:
            try:
                results[i] = (await check_all(verifier, [items[i]], [cleaned[i].text]))[0]
            except Exception as exc:  # a problem the verifier cannot compile costs its own sample, not the request
                errors[i] = f"bad label: cannot compile its tests ({type(exc).__name__})"
                stats["refused_labels"] += 1

        async def judge() -> None:
            async with gate:
                await asyncio.gather(*(one(i) for i in todo))

        stats["in_flight"] += 1
        try:  # the deadline counts from arrival: time spent receiving the body or waiting for a slot is spent
            await asyncio.wait_for(judge(), max(0.0, request_timeout - (time.monotonic() - arrival)))
        except asyncio.TimeoutError:
            stats["timeouts"] += 1
        finally:
            stats["in_flight"] -= 1
        stats["requests"] += 1
        stats["samples"] += n
        stats["seconds"] += time.monotonic() - arrival
        values = [None if r is None else reward_from_result(r, kind) for r in results]
        infra = [items[i] is not None and values[i] is None and errors[i] is None for i in range(n)]
        out = {
            "rewards": [0.0 if v is None else v for v in values],
            "scores": [float(r is not None and r.status == "pass") for r in results],
            "pass_rates": [None if v is None else r.pass_rate for v, r in zip(values, results)],
            "extra_logs": {
                "pass_rate": [0.0 if r is None else r.pass_rate for r in results],
                "infra_error": [float(b) for b in infra],
                "bad_label": [float(e is not None) for e in errors],
                "special_tokens_stripped": [float(len(c.stripped)) for c in cleaned],
            },
            "stripped": [c.stripped for c in cleaned],
        }
        if any(errors):
            out["errors"] = errors
        return out

    app.post("/get_reward")(score)
    app.post("/")(score)
    return app


def _header_deadline(seconds: float):
    """uvicorn's h11 protocol, closing a connection whose next request has not arrived within ``seconds``.

    uvicorn times out idle keep-alive connections only, and a byte of a new request cancels
    that timer: a client that sends half a request line, first or after a finished request on
    the same connection, would hold its connection for ever. The deadline is armed when the
    connection opens and again when each response is complete.
    """
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderDeadline(H11Protocol):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def _arm(self) -> None:
            self.loop.call_later(seconds, self._no_request, self.cycle)

        def _no_request(self, armed) -> None:
            if self.transport.is_closing():
                return
            if self.cycle is None or (self.cycle is armed and self.cycle.response_complete):  # no new request began
                self.transport.close()

    return HeaderDeadline


def serve(host: str = "127.0.0.1", port: int = 5000, problems_path=None, kind: str = "pass_rate", echo=print, **app_kw) -> None:
    """Bind, print one ``listening on`` line (with the real port when ``port`` is 0), serve until stopped."""
    import socket

    import uvicorn

    from tdrl.io import read_problems

    problems = {p.id: p for p in read_problems(problems_path)} if problems_path else None
    app = create_app(problems, kind=kind, **app_kw)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    bound = sock.getsockname()[1]
    mode = (
        f"{len(problems)} known problems" + (", inline allowed" if app_kw.get("allow_inline") else "")
        if problems
        else "inline problems"
    )
    echo(f"tdrl serve-reward listening on http://{host}:{bound}/get_reward ({mode})", flush=True)
    header_timeout = float(app_kw.get("body_timeout", 30.0))
    config = uvicorn.Config(app, log_level="warning", timeout_keep_alive=5, http=_header_deadline(header_timeout))
    uvicorn.Server(config).run(sockets=[sock])
