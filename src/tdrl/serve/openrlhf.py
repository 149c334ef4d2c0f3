"""OpenRLHF reward function: ``--remote_rm_url <this file> --label_key label``.

``labels`` are problems (JSON) or problem ids resolved through ``TDRL_PROBLEMS``;
``queries`` are prompt + response, so the response is what follows the prompt. Returns
OpenRLHF's dict: ``rewards`` (for advantages), ``scores`` (0-1, for dynamic filtering)
and ``extra_logs``. The whole batch is verified concurrently.
"""

from __future__ import annotations

import os


def reward_func(queries, prompts, labels, **_):
    import torch

    from tdrl.serve.scoring import check_batch, problem_from_label, response_of, rewards_of, shared_verifier

    problems = [problem_from_label(label) for label in labels]
    responses = [response_of(q, p) for q, p in zip(queries, prompts)]
    results = check_batch(shared_verifier(), problems, responses)
    rewards, infra = rewards_of(results, os.environ.get("TDRL_REWARD", "pass_rate"))
    all_pass = [float(r.status == "pass") for r in results]
    return {
        "rewards": torch.tensor(rewards, dtype=torch.float),
        "scores": torch.tensor(all_pass, dtype=torch.float),
        "extra_logs": {
            "pass_rate": torch.tensor([r.pass_rate for r in results], dtype=torch.float),
            "infra_error": torch.tensor(infra, dtype=torch.float),
        },
    }
