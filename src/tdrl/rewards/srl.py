"""Supervised RL (SRL): step-wise rewards from expert trajectories.

A trajectory is a problem and the expert's ordered steps (``{"id", "problem", "steps":
[...], "kind"?: "math" | "agent"}``). A trajectory of N steps expands into N-1 training
instances (steps 2..N as targets; step 1 as well with ``include_first``): the prompt
shows the problem and the expert's steps so far and asks for a ``<think>`` monologue,
then the next step. The reward compares the step written after the monologue with the
expert's step: ``difflib.SequenceMatcher(...).ratio()`` (2M/T), in [0, 1]; an answer
without a closed ``<think>...</think>`` followed by a step scores -1. With ``think=False``
(for small models that never write the monologue) the prompt asks for the next step only
and the answer's first non-blank line is compared; an empty answer scores -1.

``SequenceMatcher``'s ``autojunk`` heuristic treats characters that fill more than 1% of a
string of 200 or more characters as junk, which lowers ratios of long steps; it is off by
default here (``autojunk=False``) and can be turned on. Other similarity functions plug in
through ``similarity=``.
"""

from __future__ import annotations

import difflib
import random
import re
from collections.abc import Callable

from tdrl.errors import NoData
from tdrl.io import read_records
from tdrl.records import Trajectory

PROMPT = (
    "Solve the problem step by step. The expert's previous steps are given. First think inside "
    "<think> </think>, then write only the next step.\n\nProblem:\n{problem}\n\nPrevious steps:\n{previous}\n\nNext step:"
)
PROMPT_NO_THINK = (
    "Solve the problem step by step. The expert's previous steps are given. Write only the next step, "
    "on one line.\n\nProblem:\n{problem}\n\nPrevious steps:\n{previous}\n\nNext step:"
)


def read_trajectories(path) -> list[Trajectory]:
    """Trajectories JSONL (:class:`~tdrl.records.Trajectory`); a bad line fails with ``file:line: field ...``."""
    return list(read_records(path, Trajectory.from_dict))


def expand(trajectories: list[Trajectory], include_first: bool = False, think: bool = True) -> list[dict]:
    """Training instances: ``{"prompt", "expert_step", "trajectory_id", "step_index"}``, one per target step."""
    template = PROMPT if think else PROMPT_NO_THINK
    rows = []
    for t in trajectories:
        for k in range(0 if include_first else 1, len(t.steps)):
            previous = "\n".join(f"{i + 1}. {s}" for i, s in enumerate(t.steps[:k])) or "(none)"
            rows.append(
                {
                    "prompt": template.format(problem=t.problem, previous=previous),
                    "expert_step": t.steps[k],
                    "trajectory_id": t.id,
                    "step_index": k,
                }
            )
    return rows


_ANSWER = re.compile(r"^\s*<think>(.*?)</think>\s*(.+?)\s*$", re.S)


def parse_step(text: str, think: bool = True) -> str | None:
    """The step after the monologue (``think``) or the first non-blank line; None when the answer is malformed."""
    if not think:
        return next((line.strip() for line in text.splitlines() if line.strip()), None)
    m = _ANSWER.match(text)
    if not m:
        return None
    step = m.group(2).strip()
    return step.splitlines()[0].strip() if step else None


def sequence_ratio(a: str, b: str, autojunk: bool = False) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=autojunk).ratio()


def step_reward(
    text: str, expert: str, similarity: Callable[[str, str], float] | None = None, autojunk: bool = False, think: bool = True
) -> float:
    """Similarity of the model's next step to the expert's in [0, 1]; -1 for a malformed answer."""
    step = parse_step(text, think)
    if step is None:
        return -1.0
    return similarity(step, expert) if similarity else sequence_ratio(step, expert, autojunk)


class StepReward:
    """TRL reward function: needs the dataset column ``expert_step``."""

    __name__ = "srl_step"

    def __init__(self, similarity: Callable[[str, str], float] | None = None, autojunk: bool = False, think: bool = True):
        self.similarity, self.autojunk, self.think = similarity, autojunk, think

    def __call__(self, prompts, completions, expert_step, **_) -> list[float]:
        from tdrl.rewards.functions import completion_text

        return [
            step_reward(completion_text(c), e, self.similarity, self.autojunk, self.think)
            for c, e in zip(completions, expert_step)
        ]


def dynamic_filter(rows: list[dict], rewards: list[list[float]], epsilon: float = 1e-4) -> tuple[list[dict], int]:
    """Keep prompts whose rollouts' rewards vary (std > ``epsilon``): the others carry no GRPO signal."""
    kept = []
    for row, rs in zip(rows, rewards):
        mean = sum(rs) / len(rs)
        std = (sum((r - mean) ** 2 for r in rs) / len(rs)) ** 0.5
        if std > epsilon:
            kept.append(row)
    return kept, len(rows) - len(kept)


# --------------------------------------------------------------------------- synthetic trajectories


def arithmetic_trajectories(n: int, seed: int = 0) -> list[Trajectory]:
    """Math-style: evaluate ``a op b op c ...`` left to right, one ``x op y = z`` line per step."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        terms = [rng.randint(1, 9) for _ in range(rng.randint(3, 5))]
        ops = [rng.choice("+-*") for _ in terms[1:]]
        expr = str(terms[0]) + "".join(f" {o} {t}" for o, t in zip(ops, terms[1:]))
        value, steps = terms[0], []
        for o, t in zip(ops, terms[1:]):
            new = value + t if o == "+" else value - t if o == "-" else value * t
            steps.append(f"{value} {o} {t} = {new}")
            value = new
        steps.append(f"answer: {value}")
        out.append(Trajectory(f"arith-{i}", f"Compute {expr} from left to right.", steps, "math", {"answer": value}))
    return out


def shell_trajectories(n: int, seed: int = 0) -> list[Trajectory]:
    """Agent-style: create a project folder and files, one shell command per step."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        name = rng.choice(["app", "lib", "tool", "demo"]) + str(i)
        files = rng.sample(["main.py", "util.py", "README.md", "test.py", "setup.cfg"], rng.randint(1, 3))
        steps = [f"mkdir {name}", f"cd {name}"] + [f"touch {f}" for f in files] + ["ls"]
        out.append(Trajectory(f"shell-{i}", f"Create a folder {name} containing {', '.join(files)} and list it.", steps, "agent"))
    return out


def code_trajectories(solutions: list[tuple[str, str, str]]) -> list[Trajectory]:
    """Code as step trajectories: ``(id, problem text, program)`` -> one step per non-blank line of the program.

    Lines are stripped of indentation (answers are compared stripped too); the program's
    docstring lines are dropped, since they restate the problem. Programs of one line give no
    instance (SRL needs at least two steps) and are left out.
    """
    import ast

    out = []
    for pid, problem, code in solutions:
        doc_lines: set[int] = set()
        try:
            for node in ast.walk(ast.parse(code)):
                body = getattr(node, "body", None)
                if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                    if isinstance(body[0].value.value, str):
                        doc_lines.update(range(body[0].lineno, (body[0].end_lineno or body[0].lineno) + 1))
        except SyntaxError:
            continue
        steps = [line.strip() for i, line in enumerate(code.splitlines(), 1) if line.strip() and i not in doc_lines]
        if len(steps) >= 2:
            out.append(Trajectory(pid, problem, steps, "code", {"problem_id": pid}))
    return out


BUILTIN = {"arithmetic": arithmetic_trajectories, "shell": shell_trajectories}


def solution_trajectories(problems_path, samples_path=None, results_path=None, skip_unknown: bool = False) -> list[Trajectory]:
    """Code trajectories from problems' ``reference`` solutions, or from each problem's first passing sample."""
    from tdrl.io import read_problems, read_samples

    problems = {p.id: p for p in read_problems(problems_path)}
    if samples_path is None:
        programs = {pid: p.reference for pid, p in problems.items() if p.reference}
    else:
        from tdrl.rewards.pairs import score_samples

        samples = list(read_samples(samples_path, set(problems), skip_unknown=skip_unknown))
        programs = {}
        for sample, result in score_samples(problems, samples, results_path):
            if result.get("status") == "pass" and sample.problem_id not in programs:
                programs[sample.problem_id] = result.get("code") or sample.completion
    if not programs:
        where = "passing samples" if samples_path is not None else "problems with a `reference`"
        raise NoData(f"no solutions to split into steps: {where} in {samples_path or problems_path}: 0")

    def task(p) -> str:
        kind = "program (standard input to standard output)" if p.tests and p.tests[0].type == "stdio" else "function"
        return f"Write this Python {kind}, one line of code per step:\n\n{p.prompt or p.id}"

    return code_trajectories([(pid, task(problems[pid]), code) for pid, code in programs.items()])
