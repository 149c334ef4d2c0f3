import json
import subprocess
import sys
import threading

import pytest

from tdrl.records import Sample
from tdrl.synthesis.llm import ParseError, Seed, drop_contradictions, filter_by_reference, parse_answer, problem_from_answer

TDRL = [sys.executable, "-m", "tdrl.cli"]


def test_parse_json_answer_in_a_fence():
    text = 'Sure!\n```json\n{"problem": "Sum a list.", "entry_point": "total", "tests": ["assert total([1, 2]) == 3", "assert total([]) == 0", "print(1)", "assert total([1]) == 1"]}\n```'
    problem, entry, tests = parse_answer(text)
    assert (problem, entry) == ("Sum a list.", "total") and tests == [
        "assert total([1, 2]) == 3",
        "assert total([]) == 0",
        "assert total([1]) == 1",
    ]


def test_parse_python_dict_and_bare_asserts():
    text = "{'problem': 'Double it.', 'tests': ['assert double(2) == 4', 'assert double(0) == 0']}"
    assert parse_answer(text)[1:] == ("double", ["assert double(2) == 4", "assert double(0) == 0"])
    bare = "def f(x):\n    return x\n\nassert f(1) == 1\nassert f(2) == 2\n"
    assert parse_answer(bare, default_problem="Identity.") == ("Identity.", "f", ["assert f(1) == 1", "assert f(2) == 2"])


@pytest.mark.parametrize(
    "text,reason",
    [
        ("I cannot help with that.", "no problem statement"),
        ('{"problem": "x", "tests": ["not python ("]}', "no valid assert"),
        ('{"problem": "x", "entry_point": "g", "tests": ["assert f(1) == 1"]}', "no assert calls the entry point"),
    ],
)
def test_unusable_answers_raise_with_a_reason(text, reason):
    with pytest.raises(ParseError, match=reason):
        parse_answer(text)


def test_contradicting_asserts_are_dropped():
    tests = ["assert p('aba') == True", "assert p('aba') == False", "assert p('ab') == False"]
    assert drop_contradictions(tests) == ["assert p('ab') == False"]


def test_filter_keeps_only_tests_the_solution_passes(verifier):
    seed = Seed("s", "Square a number.", "def sq(x):\n    return x * x\n")
    answer = json.dumps(
        {"problem": "Square x.", "entry_point": "sq", "tests": ["assert sq(2) == 4", "assert sq(3) == 10", "assert sq(-1) == 1"]}
    )
    problem, removed = filter_by_reference(problem_from_answer(seed, answer), verifier)
    assert removed == 1 and [t.code for t in problem.tests] == ["assert sq(2) == 4", "assert sq(-1) == 1"]
    assert verifier.check(problem, Sample("s", "0", seed.solution)).status == "pass"


def test_llm_method_end_to_end_against_a_local_server(tmp_path, tiny_model):
    """A real OpenAI-protocol server on 127.0.0.1, a tiny random model: every answer is unusable,
    and the run records each failure with its reason instead of crashing."""
    from tdrl.llm.hf import HFModel
    from tdrl.llm.server import make_server

    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(
        "".join(
            json.dumps({"id": f"s{i}", "instruction": f"Return {i}.", "solution": f"def f():\n    return {i}\n"}) + "\n"
            for i in range(3)
        )
    )
    server = make_server(HFModel(tiny_model), port=0, served_name="tiny")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out = tmp_path / "out.jsonl"
    try:
        proc = subprocess.run(
            [
                *TDRL,
                "synth",
                "--method",
                "llm",
                "--problems",
                str(seeds),
                "--out",
                str(out),
                "--backend",
                "openai",
                "--base-url",
                f"http://127.0.0.1:{server.server_address[1]}/v1",
                "--model",
                "tiny",
                "--max-tokens",
                "24",
                "--retries",
                "1",
                "--no-progress",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, proc.stderr
    dropped = [json.loads(x) for x in (tmp_path / "out.jsonl.dropped.jsonl").read_text().splitlines()]
    assert sorted(d["id"] for d in dropped) == ["s0", "s1", "s2"]
    assert all(
        d["reason"].startswith("model answer unusable after 2 attempts") and len(d["attempt_errors"]) == 2 for d in dropped
    )
    assert out.read_text() == ""
