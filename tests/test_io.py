import json

import pytest

from tdrl.io import InputError, ResumableWriter, read_problems, read_samples


def write(tmp_path, lines):
    p = tmp_path / "in.jsonl"
    p.write_text("".join((json.dumps(x) if not isinstance(x, str) else x) + "\n" for x in lines))
    return p


GOOD = {"id": "p", "entry_point": "f", "tests": [{"type": "call", "input": "[1]", "output": "1"}]}


@pytest.mark.parametrize(
    "line,field,message",
    [
        ('{"id": "p", ', None, "broken JSON"),
        ({"entry_point": "f", "tests": []}, "id", "missing"),
        ({**GOOD, "tests": [{"type": "magic"}]}, "tests[0].type", "unknown test type 'magic'"),
        ({**GOOD, "tests": [{"type": "call", "input": "[1]"}]}, "tests[0].output", "missing"),
        ({**GOOD, "tests": [{"type": "call", "input": "1", "output": "1"}]}, "tests[0].input", "list of positional"),
        (
            {**GOOD, "tests": [{"type": "call", "input": "[os.system('x')]", "output": "1"}]},
            "tests[0].input",
            "not a Python literal",
        ),
        ({**GOOD, "tests": [{"type": "assert", "code": "assert ("}]}, "tests[0].code", "not valid Python"),
        ({"id": "p", "tests": [{"type": "call", "input": "[1]", "output": "1"}]}, "entry_point", "required"),
        ({**GOOD, "tests": []}, "tests", "at least one"),
    ],
)
def test_bad_problem_names_file_line_and_field(tmp_path, line, field, message):
    path = write(tmp_path, [GOOD | {"id": "ok"}, line])
    with pytest.raises(InputError) as err:
        read_problems(path)
    text = str(err.value)
    assert text.startswith(f"{path}:2")
    assert message in text
    if field:
        assert f"field '{field}'" in text


def test_duplicate_problem_id(tmp_path):
    with pytest.raises(InputError, match="duplicate id 'p'"):
        read_problems(write(tmp_path, [GOOD, GOOD]))


def test_samples_unknown_problem_and_missing_field(tmp_path):
    path = write(
        tmp_path,
        [{"problem_id": "p", "sample_id": "1", "completion": "x"}, {"problem_id": "q", "sample_id": "1", "completion": "x"}],
    )
    with pytest.raises(InputError, match=r":2: field 'problem_id': unknown problem 'q'"):
        list(read_samples(path, {"p"}))
    path = write(tmp_path, [{"problem_id": "p", "completion": "x"}])
    with pytest.raises(InputError, match=r":1: field 'sample_id': missing"):
        list(read_samples(path))


def test_resumable_writer_cuts_a_torn_line(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text('{"k": 1}\n{"k": 2}\n{"k": 3')
    with ResumableWriter(out, key=lambda d: d["k"]) as w:
        assert w.done == {1, 2}
        w.write({"k": 3})
    assert [json.loads(x)["k"] for x in out.read_text().splitlines()] == [1, 2, 3]


def test_dataset_round_trip(tmp_path):
    pytest.importorskip("datasets")
    from tdrl.io import problems_from_dataset, to_dataset

    problems = read_problems(write(tmp_path, [GOOD, GOOD | {"id": "q", "meta": {"tag": "x"}}]))
    ds = to_dataset(problems)
    assert ds.num_rows == 2
    back = problems_from_dataset(ds)
    assert [p.to_dict() for p in back] == [p.to_dict() for p in problems]


def test_resumable_writer_keeps_good_records_around_a_blank_or_bad_middle_line(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text('{"id": "a"}\n\n{"id": "b"}\n')
    with ResumableWriter(path, key=lambda d: d["id"]) as w:
        assert w.done == {"a", "b"}  # a blank line is skipped, not a reason to cut the file
    assert path.read_text() == '{"id": "a"}\n\n{"id": "b"}\n'
    path.write_text('{"id": "a"}\nnot json\n{"id": "b"}\n{"id": "c"}\n')
    with pytest.raises(InputError, match=r"out.jsonl:2: not a complete record"):
        ResumableWriter(path, key=lambda d: d["id"])
    assert path.read_text() == '{"id": "a"}\nnot json\n{"id": "b"}\n{"id": "c"}\n'  # nothing removed


def test_resumable_writer_never_writes_a_key_twice(tmp_path):
    path = tmp_path / "out.jsonl"
    with ResumableWriter(path, key=lambda d: d["id"]) as w:
        assert w.write({"id": "a", "v": 1}) is True
        assert w.write({"id": "a", "v": 2}) is False  # the same item twice in the input
    assert path.read_text().splitlines() == ['{"id": "a", "v": 1}']
