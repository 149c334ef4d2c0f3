"""OpenRLHF (0.10.2+) reward function: ``--reward.remote_url <this file> --data.label_key label``.

``labels`` are problems (JSON), problem ids resolved through ``TDRL_PROBLEMS``, or verl/PRIME
ground truths (see :mod:`tdrl.serve.scoring`). ``queries`` are prompt + response decoded
with ``skip_special_tokens=False``, so the response is what follows the prompt, cleaned of
the EOS/pad text the engine left at its end. Returns OpenRLHF's dict: ``rewards`` (for
advantages), ``scores`` (0-1, for dynamic filtering) and ``extra_logs``.

OpenRLHF 0.11 calls this once per sample (in a thread, as each generation finishes), so
the batch is never verified as a whole here; samples overlap only as far as generations
finish together. Problems are cached by label content, so the same problem is compiled
once. Nothing a sample does makes this function raise: OpenRLHF turns an exception into a
``None`` reward and fails the step, so a verifier failure (after retries) or a label tdrl
cannot read scores 0 with ``infra_error`` / ``bad_label`` set in ``extra_logs``.
"""

from __future__ import annotations

import os


def reward_func(queries, prompts, labels, **_):
    """OpenRLHF's ``reward_func(queries, prompts, labels)``: a dict of tensors, one entry per query."""
    import torch

    from tdrl.serve.scoring import check_batch, problem_from_label, response_of, rewards_of, shared_verifier

    n = len(queries)
    rewards, scores, rates = [0.0] * n, [0.0] * n, [0.0] * n
    infra, bad, stripped = [0.0] * n, [0.0] * n, [0.0] * n
    todo, problems, responses = [], [], []
    for i, (query, prompt, label) in enumerate(zip(queries, prompts, labels)):
        try:
            problem = problem_from_label(label)
        except (ValueError, KeyError, TypeError):
            bad[i] = 1.0
            continue
        response = response_of(query, prompt)
        stripped[i] = float(len(response.stripped))
        todo.append(i)
        problems.append(problem)
        responses.append(response.text)
    if todo:
        try:
            results = check_batch(shared_verifier(), problems, responses)
        except Exception:  # the verifier itself broke: no sample may fail OpenRLHF's step for that
            results = None
        if results is None:
            for i in todo:
                infra[i] = 1.0
        else:
            values, flags = rewards_of(results, os.environ.get("TDRL_REWARD", "pass_rate"))
            for i, result, value, flag in zip(todo, results, values, flags):
                rewards[i], infra[i] = value, float(flag)
                scores[i], rates[i] = float(result.status == "pass"), result.pass_rate
    as_tensor = lambda xs: torch.tensor(xs, dtype=torch.float)  # noqa: E731
    return {
        "rewards": as_tensor(rewards),
        "scores": as_tensor(scores),
        "extra_logs": {
            "pass_rate": as_tensor(rates),
            "infra_error": as_tensor(infra),
            "bad_label": as_tensor(bad),
            "special_tokens_stripped": as_tensor(stripped),
        },
    }
