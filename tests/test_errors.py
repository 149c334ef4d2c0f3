"""Narrow errors: the CLI turns only tdrl's own usage, config and input errors into one line and exit 2;
any other exception (a ValueError inside tdrl or TRL included) keeps its traceback."""

import subprocess
import sys

import pytest
import typer

from tdrl.cli import _user_errors
from tdrl.demo import data_file
from tdrl.errors import ConfigError, NoData, TdrlError
from tdrl.io import InputError
from tdrl.llm.embedded import UnknownModel
from tdrl.records import RecordError

TDRL = [sys.executable, "-m", "tdrl.cli"]


@pytest.mark.parametrize(
    "error",
    [ConfigError("lr: expected float"), NoData("no samples"), InputError("p.jsonl", 3, "id", "missing"), UnknownModel("m")],
)
def test_the_projects_own_errors_become_exit_2(error):
    assert isinstance(error, TdrlError) and issubclass(RecordError, TdrlError)
    with pytest.raises(typer.Exit) as exit_, _user_errors(ValueError):
        raise error
    assert exit_.value.exit_code == 2


def test_other_exceptions_pass_through_even_when_a_call_site_names_valueerror():
    with pytest.raises(ValueError, match="internal"), _user_errors(ValueError, FileNotFoundError):
        raise ValueError("internal")
    with pytest.raises(KeyError), _user_errors(ValueError):
        raise KeyError("x")
    with pytest.raises(typer.Exit), _user_errors(FileNotFoundError):  # kinds a call site names still count
        raise FileNotFoundError("nope")


def test_a_config_error_is_one_line_on_stderr(tmp_path):
    proc = subprocess.run(
        [*TDRL, "rl", "--set", f"problems={data_file('demo_problems.jsonl')}", "--set", "learning_rate=fast"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "error: learning_rate: expected float, got 'fast' (str)"


def test_a_valueerror_from_trl_keeps_its_traceback(tmp_path, tiny_model):
    # TRL's GRPOConfig rejects a batch that is not a multiple of the group size: not tdrl's check, so
    # it is not dressed up as a one-line usage error
    args = [*TDRL, "rl", "--no-progress", "--set", f"problems={data_file('demo_problems.jsonl')}", "--set", f"model={tiny_model}"]
    args += [
        "--set",
        f"out_dir={tmp_path / 'run'}",
        "--set",
        "num_generations=3",
        "--set",
        "batch_size=4",
        "--set",
        "max_steps=1",
    ]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" in proc.stderr and "ValueError" in proc.stderr and not proc.stderr.startswith("error:")
