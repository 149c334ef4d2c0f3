"""Print docs/cli.md: the ``--help`` of every tdrl command (checked by tests/test_docs.py)."""

from __future__ import annotations

import os

from typer.testing import CliRunner

from tdrl.cli import app


def render() -> str:
    os.environ["COLUMNS"] = "100"
    os.environ["TERM"] = "dumb"
    runner = CliRunner()
    parts = ["# Command reference\n", "Generated from `--help` by `make docs`; do not edit by hand.\n"]
    commands = [[c.name or c.callback.__name__] for c in app.registered_commands]
    for group in app.registered_groups:  # sub-commands: `tdrl envs eval`, ...
        commands += [[group.name, c.name or c.callback.__name__] for c in group.typer_instance.registered_commands]
    for words in sorted(commands):
        out = runner.invoke(
            app, [*words, "--help"], prog_name="tdrl", env={"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
        ).output
        text = "\n".join(line.rstrip() for line in out.strip("\n").splitlines())
        parts.append(f"## tdrl {' '.join(words)}\n\n```\n{text}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    print(render(), end="")
