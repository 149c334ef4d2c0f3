"""How a problem is shown to a model: a chat instruction, or the raw prompt to continue.

* ``completion`` (HumanEval style): the prompt (a function header and docstring) as is;
  the model continues it, stopped at the next top-level statement.
* ``instruct``: a user message asking for the whole function (or program, for stdin/stdout
  problems) in a fenced Python block; the model's chat template formats it.
* ``auto``: ``instruct`` when the model has a chat template (or the backend is a chat
  server), else ``completion``.
"""

from __future__ import annotations

import ast

from tdrl.errors import ConfigError
from tdrl.records import Problem

COMPLETION_STOPS = ["\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\nassert "]


def instruction(problem: Problem) -> str:
    """The user message for ``instruct`` prompts."""
    if problem.tests and problem.tests[0].type == "stdio":
        return (
            "Solve the following problem in Python 3. Read the input from standard input and write the answer "
            "to standard output. Answer with the complete program in one ```python code block.\n\n" + (problem.prompt or "")
        )
    if problem.prompt and not _is_code(problem.prompt):  # a statement in words (datasets), maybe with starter code
        return (
            "Solve the following problem in Python 3. Answer with the complete solution, including any imports it "
            "needs, in one ```python code block.\n\n" + problem.prompt
        )
    return (
        "Complete the following Python function. Answer with the complete function, including any imports it "
        f"needs, in one ```python code block.\n\n```python\n{problem.prompt or ''}```"
    )


def _is_code(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def build_prompt(problem: Problem, fmt: str) -> tuple[list[dict] | None, str | None, list[str]]:
    """``(messages, prompt, stop)`` for a problem in format ``instruct`` or ``completion``."""
    if fmt == "instruct":
        return [{"role": "user", "content": instruction(problem)}], None, []
    if fmt == "completion":
        return None, problem.prompt or "", COMPLETION_STOPS
    raise ConfigError(f"unknown prompt format {fmt!r} (auto, instruct, completion)")
