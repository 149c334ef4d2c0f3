"""What every environment shares: tasks, verdicts and the multi-turn revision episode.

An environment is a small object registered by name (:data:`tdrl.envs.ENVS`) with four
methods:

- ``tasks(n, split, seed)``: ``n`` :class:`Task` records for ``split`` ("id" or "ood");
  the same arguments give the same tasks;
- ``check(task, answer)``: the verifier; a :class:`Verdict` with the reward and, on a
  failure, the reason the model is told;
- ``expert(task)``: a correct answer (from the solver or the route planner), for SFT data;
- ``verify_iter`` and ``out_of_attempts``: how many answers an episode allows and the
  penalty when all of them fail.
- optionally ``metrics(episode_summaries, tasks)``: figures of its own for reports
  (navigation: whole-route success).

Episode state lives in an :class:`Episode`, never on the environment: ``episode.step(answer)``
checks one answer and says whether the episode is done and what the environment replies.
The episode return is the sum of the attempts' rewards, plus ``out_of_attempts`` when the
last allowed attempt fails (so a correct first answer is worth more than a correct third).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from tdrl.records import Task  # noqa: F401  (defined beside the other records; imported from here too)

SPLITS = ("id", "ood")


@dataclass
class Verdict:
    reward: float
    correct: bool
    reason: str = ""


class Environment(Protocol):
    name: str
    verify_iter: int
    out_of_attempts: float

    def tasks(self, n: int, split: str = "id", seed: int = 0) -> list[Task]: ...

    def check(self, task: Task, answer: str) -> Verdict: ...

    def expert(self, task: Task) -> str: ...


@dataclass
class Episode:
    """One task played with sequential revision: answer, verdict, the verifier's reason, answer again."""

    env: Any
    task: Task
    verdicts: list[Verdict] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.solved or len(self.verdicts) >= self.env.verify_iter

    @property
    def solved(self) -> bool:
        return bool(self.verdicts) and self.verdicts[-1].correct

    @property
    def ret(self) -> float:
        """The episode return: the attempts' rewards, plus the out-of-attempts penalty on a failed episode."""
        total = sum(v.reward for v in self.verdicts)
        if self.done and not self.solved:
            total += self.env.out_of_attempts
        return total

    def step(self, answer: str) -> str | None:
        """Check ``answer``; returns the environment's reply for the next attempt, or None when the episode is done."""
        if self.done:
            raise RuntimeError(f"episode {self.task.id} is over")
        verdict = self.env.check(self.task, answer)
        self.answers.append(answer)
        self.verdicts.append(verdict)
        if self.done:
            return None
        left = self.env.verify_iter - len(self.verdicts)
        return f"That is wrong: {verdict.reason}. Try again ({left} attempt{'s' if left > 1 else ''} left)."

    def summary(self) -> dict:
        return {
            "task_id": self.task.id,
            "env": self.task.env,
            "split": self.task.split,
            "solved": self.solved,
            "first_try": bool(self.verdicts) and self.verdicts[0].correct,
            "attempts": len(self.verdicts),
            "return": self.ret,
            "rewards": [v.reward for v in self.verdicts],
            "reasons": [v.reason for v in self.verdicts],
            "answers": self.answers,
        }


def json_answer(text: str) -> dict | None:
    """The first JSON object in ``text`` (a bare object, or inside a fenced block), or None."""
    text = re.sub(r"```(?:json)?", "", text)
    decoder = json.JSONDecoder()
    for m in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, m.start())
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None
