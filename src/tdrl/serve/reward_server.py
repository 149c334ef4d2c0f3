"""``tdrl serve-reward``: the verifier behind HTTP, speaking OpenRLHF's remote-reward protocol.

``POST /get_reward`` (also ``POST /``) with ``{"query": [...], "prompts": [...], "labels": [...]}``
returns ``{"rewards": [...], "scores": [...], "extra_logs": {...}}``, as OpenRLHF's
``--remote_rm_url http://host:port/get_reward`` expects. Besides the protocol fields the
answer has ``pass_rates`` with ``null`` for an infrastructure failure, for clients that can
skip a reward (TRL); in ``rewards`` such a sample scores 0 and ``extra_logs.infra_error``
flags it. ``response`` may be given instead of ``query`` (the response alone, no prompt).

At most ``max_concurrency`` requests are verified at once (others wait in line); each
request has a deadline (``request_timeout``) after which it gets HTTP 503, never a
made-up reward. Hostile programs run in the verifier's sandbox like anywhere else. The
server is stateless, so several instances behind a load balancer serve one job.
``GET /health`` reports load and counts.
"""

import asyncio  # no `from __future__ import annotations`: FastAPI must see the real Request annotation
import time


def create_app(
    problems=None,
    verifier=None,
    kind: str = "pass_rate",
    max_concurrency: int = 64,
    request_timeout: float = 300.0,
):
    """The FastAPI app; ``problems`` (id -> Problem) resolves labels that are ids."""
    from fastapi import FastAPI, HTTPException, Request

    from tdrl.serve.scoring import check_all, problem_from_label, response_of, rewards_of, shared_verifier

    verifier = verifier or shared_verifier()
    gate = asyncio.Semaphore(max_concurrency)
    stats = {"requests": 0, "samples": 0, "in_flight": 0, "timeouts": 0, "bad_requests": 0, "seconds": 0.0}
    app = FastAPI(title="tdrl reward server")

    @app.get("/health")
    async def health():
        return {"status": "ok", "kind": kind, **stats}

    async def score(request: Request):
        try:
            body = await request.json()
            labels = body["labels"]
            prompts = body.get("prompts") or [""] * len(labels)
            if "response" in body:
                responses = list(body["response"])
            else:
                responses = [response_of(q, p) for q, p in zip(body["query"], prompts)]
            if not (len(responses) == len(labels) == len(prompts)):
                raise ValueError(f"{len(responses)} responses, {len(prompts)} prompts and {len(labels)} labels")
            items = [problem_from_label(label, problems) for label in labels]
        except (KeyError, TypeError, ValueError) as exc:  # includes broken JSON and unknown problem ids
            stats["bad_requests"] += 1
            raise HTTPException(status_code=400, detail=f"bad request: {exc}") from None
        t0 = time.perf_counter()
        try:
            async with gate:
                stats["in_flight"] += 1
                try:
                    results = await asyncio.wait_for(check_all(verifier, items, responses), request_timeout)
                finally:
                    stats["in_flight"] -= 1
        except asyncio.TimeoutError:
            stats["timeouts"] += 1
            raise HTTPException(status_code=503, detail=f"not verified within {request_timeout} s") from None
        stats["requests"] += 1
        stats["samples"] += len(results)
        stats["seconds"] += time.perf_counter() - t0
        rewards, infra = rewards_of(results, kind)
        return {
            "rewards": rewards,
            "scores": [float(r.status == "pass") for r in results],
            "pass_rates": [None if bad else r.pass_rate for r, bad in zip(results, infra)],
            "extra_logs": {"pass_rate": [r.pass_rate for r in results], "infra_error": [float(b) for b in infra]},
        }

    app.post("/get_reward")(score)
    app.post("/")(score)
    return app


def serve(host: str = "127.0.0.1", port: int = 5000, problems_path=None, kind: str = "pass_rate", **app_kw) -> None:
    import uvicorn

    from tdrl.io import read_problems

    problems = {p.id: p for p in read_problems(problems_path)} if problems_path else None
    uvicorn.run(create_app(problems, kind=kind, **app_kw), host=host, port=port, log_level="warning")
