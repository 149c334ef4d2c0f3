"""The records in one place: Result read back, infra-error results, tasks, trajectories and pairs, each
validated with the file, line and field of a bad value (through tdrl.io.read_records)."""

import json
import re

import pytest

from tdrl.io import InputError, read_records, read_results
from tdrl.records import (
    RESULT_STATUSES,
    TEST_STATUSES,
    PreferencePair,
    Problem,
    Result,
    Sample,
    Task,
    Test,
    Trajectory,
    require,
)


def lines(tmp_path, rows, name="in.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_verified_result_reads_back_as_it_was_written():
    from tdrl.execution import Verifier

    problem = Problem("p", [Test("call", input="[1]", output="2"), Test("call", input="[2]", output="3")], entry_point="f")
    with Verifier(workers=1, sandbox="none") as verifier:
        result = verifier.check(problem, Sample("p", "0", "def f(x):\n    return x + 1 if x == 1 else 0\n"))
    d = result.to_dict()
    back = Result.from_dict(json.loads(json.dumps(d)))
    assert back.to_dict() == d and (back.status, back.passed, len(back.tests)) == ("fail", 1, 2)


def test_infra_error_is_one_constructor_with_a_verdict_per_test():
    r = Result.infra_error("p", "s", 3, "sandbox would not start", code="x = 1", sandbox="bwrap", test_error="lost")
    d = r.to_dict()
    assert (d["status"], d["pass_rate"], d["total"], d["error"], d["sandbox"]) == (
        "infra_error",
        0.0,
        3,
        "sandbox would not start",
        "bwrap",
    )
    assert [t["status"] for t in d["tests"]] == ["infra_error"] * 3 and {t["error"] for t in d["tests"]} == {"lost"}
    assert Result.from_dict(d).to_dict() == d


def test_statuses_are_literal_types_and_checked_on_read():
    assert set(RESULT_STATUSES) < set(TEST_STATUSES) and "not_run" not in RESULT_STATUSES
    base = Result.infra_error("p", "s", 1, "x").to_dict()
    for bad, field in [({**base, "status": "passed"}, "status"), ({**base, "tests": [{"status": "ok"}]}, "tests[0].status")]:
        with pytest.raises(ValueError, match=re.escape(f"field '{field}': unknown")):
            Result.from_dict(bad)


def test_read_results_lives_in_io_and_the_old_import_still_works(tmp_path):
    from tdrl.rewards.pairs import read_results as old

    assert old is read_results
    rows = [Result.infra_error("p", str(i), 1, "x").to_dict() for i in range(3)]
    path = lines(tmp_path, rows)
    assert list(read_results(path)) == [("p", "0"), ("p", "1"), ("p", "2")]
    assert list(read_results(path, keys={("p", "1")})) == [("p", "1")]
    path = lines(tmp_path, [*rows[:2], {**rows[2], "status": "maybe"}])
    with pytest.raises(InputError, match=r"in.jsonl:3: field 'status': unknown result status 'maybe'"):
        read_results(path)


@pytest.mark.parametrize(
    "parse, rows, where",
    [
        (Task.from_dict, [{"id": "t", "env": "points", "split": "id", "prompt": "p"}, {"id": "u", "env": 1}], "2: field 'env'"),
        (
            Trajectory.from_dict,
            [{"id": "a", "problem": "p", "steps": ["s"]}, {"id": "b", "problem": "p", "steps": []}],
            "2: field 'steps'",
        ),
        (Trajectory.from_dict, [{"id": "a", "problem": "p", "steps": ["s", " "]}], "1: field 'steps[1]'"),
        (PreferencePair.from_dict, [{"chosen": "a", "rejected": "b"}, {"chosen": "a"}], "2: field 'rejected'"),
        (PreferencePair.from_dict, [{"prompt": 3, "chosen": "a", "rejected": "b"}], "1: field 'prompt'"),
    ],
)
def test_task_trajectory_and_pair_records_are_validated_with_file_line_and_field(tmp_path, parse, rows, where):
    path = lines(tmp_path, rows)
    with pytest.raises(InputError) as err:
        list(read_records(path, parse))
    assert f"{path}:{where}" in str(err.value)


def test_the_new_records_round_trip_and_are_importable_from_their_old_homes():
    from tdrl.envs.base import Task as EnvTask
    from tdrl.rewards.srl import Trajectory as SrlTrajectory

    assert EnvTask is Task and SrlTrajectory is Trajectory
    task = {"id": "t", "env": "points", "split": "ood", "prompt": "p", "info": {"cards": [1]}}
    assert Task.from_dict(task).to_dict() == task
    traj = {"id": "a", "problem": "p", "steps": ["x", "y"], "kind": "math", "meta": {"answer": 3}}
    assert Trajectory.from_dict(traj).to_dict() == traj
    pair = {"prompt": [{"role": "user", "content": "q"}], "chosen": "a", "rejected": "b", "problem_id": "p", "pass_rate_gap": 0.5}
    assert PreferencePair.from_dict(pair).to_dict() == pair
    assert require({"n": 3}, "n", int) == 3 and require({}, "n", int, optional=True) is None
    with pytest.raises(ValueError, match="field 'x.n': expected int, got bool"):
        require({"n": True}, "n", int, "x")
