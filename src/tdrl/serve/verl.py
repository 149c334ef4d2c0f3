"""verl custom reward: ``custom_reward_function.path=<this file> custom_reward_function.name=compute_score``.

``ground_truth`` is the problem (``tdrl export-verl`` writes it as JSON into
``reward_model.ground_truth``) or a problem id resolved through ``TDRL_PROBLEMS``. The
score is the test pass rate (``TDRL_REWARD=all_pass|acecoder`` to change it). verl has no
"no reward" value, so a verifier failure is retried and then scores 0 with
``infra_error: 1`` in the returned dict, which verl logs.
"""

from __future__ import annotations

import os


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **_) -> dict:
    from tdrl.serve.scoring import check_batch, problem_from_label, rewards_of, shared_verifier

    problem = problem_from_label(ground_truth)
    (result,) = check_batch(shared_verifier(), [problem], [solution_str])
    (score,), (infra,) = rewards_of([result], os.environ.get("TDRL_REWARD", "pass_rate"))
    return {
        "score": score,
        "pass_rate": result.pass_rate,
        "all_pass": float(result.status == "pass"),
        "infra_error": float(infra),
    }
