"""Each dataset harness's verdict rule, pinned (tdrl.execution.rules; no sandbox needed).

Sources followed, one per rule:
* livecodebench: LiveCodeBench lcb_runner/evaluation/testing_util.py (main, 28fef95), grade_stdio / grade_call_based
* apps: hendrycks/apps eval/testing_util.py (main), run_test, both branches
* taco: FlagOpen/TACO metrics/testing_util.py (main), compare_std_results / execute_cb_code
* prime: volcengine/verl verl/utils/reward_score/prime_code/testing_util.py (main, b178a3c), run_test
* codecontests: google-deepmind/code_contests execution/tester_sandboxer.cc (main), OutputsMatch / ValuesMatch
"""

import pickle

import pytest

from tdrl.evaluation.datasets.livecodebench import unpickle_string
from tdrl.execution.rules import call_matches, stdout_matches
from tdrl.execution.values import to_literal


@pytest.mark.parametrize(
    "actual,expected,ok",
    [
        ("3\n", "3", True),
        ("  3  \n\n\n", "3\n", True),
        ("1.0\n", "1", True),  # equal Decimals
        ("1 2\n", "1  2", True),  # numbers compared as Decimal lists
        ("a  b", "a b", False),  # text lines must be equal after strip
        ("0.3333", "0.33333", False),  # Decimal equality is exact
        ("1\n\n2", "1\n2", False),  # line counts must agree
        ("YES", "yes", False),
    ],
)
def test_livecodebench_stdio_rule(actual, expected, ok):
    assert stdout_matches(actual, expected, "livecodebench") is ok


@pytest.mark.parametrize(
    "actual,expected,ok",
    [
        ("1 2 \n3\n", "1 2\n3", True),  # each output line stripped
        ("0.333333333\n", "0.3333333\n", True),  # one number per line, numpy.allclose
        ("0.34\n", "0.3333333\n", False),
        ("2 1\n", "1 2\n", True),  # token sets: order within a line ignored
        ("b\na\n", "a\nb\n", True),  # and the order of lines
        ("1.0004 2\n", "1.0001 2\n", True),  # tokens rounded to 3 decimals
        ("1 2 2\n", "1 3\n", False),
    ],
)
def test_apps_stdio_rule(actual, expected, ok):
    assert stdout_matches(actual, expected, "apps") is ok


@pytest.mark.parametrize(
    "actual,expected,ok",
    [
        ("  6\n", "6\n\n", True),
        ("1 2 \n3\n", "1 2\n3", False),  # the whole text stripped, nothing else
        ("0.333333333\n", "0.3333333\n", False),
        ("2 1\n", "1\n2\n", True),  # its character-wise token-set step: one-character tokens only
        ("21 1\n", "1 21\n", False),
    ],
)
def test_taco_stdio_rule(actual, expected, ok):
    assert stdout_matches(actual, expected, "taco") is ok


@pytest.mark.parametrize(
    "actual,expected,ok",
    [
        ("1 2 \n3\n", "1 2\n3", True),
        ("0.333333333\n", "0.3333333\n", True),
        ("3.0000001\n", "3\n", True),
        ("10\n", "11\n", False),  # all-digit lines never take the float step
        ("2 1\n", "1 2\n", False),  # no token-set step
    ],
)
def test_prime_stdio_rule(actual, expected, ok):
    assert stdout_matches(actual, expected, "prime") is ok


@pytest.mark.parametrize(
    "actual,expected,ok",
    [
        ("YES\n", "yes", True),  # lowercased tokens
        ("1 2\n3", "1\n2 3", True),  # whitespace of any kind
        ("1.000001", "1", True),  # numbers less than 1e-5 apart
        ("1.0001", "1", False),
        ("abc 123", "abc 123.000001", True),  # the harness's own unit tests
        ("abc 123", "abc 123.1", False),
        ("abc def", "abc def 123", False),
    ],
)
def test_codecontests_stdio_rule(actual, expected, ok):
    assert stdout_matches(actual, expected, "codecontests") is ok


@pytest.mark.parametrize("rule", ["livecodebench", "apps", "taco", "prime", "codecontests"])
@pytest.mark.parametrize("hostile", ["sNaN", "nan", "inf -inf", "1e999999", "9" * 5000, "0x1p3"])
def test_odd_numbers_in_stdout_never_raise(rule, hostile):
    assert stdout_matches(hostile + "\n", "1\n", rule) is False


def test_tokens_rule_is_tdrls_own_default():
    assert stdout_matches("1 2\n3\n", "1 2 3")
    assert not stdout_matches("Yes", "yes")


@pytest.mark.parametrize(
    "actual,expected,rule,ok",
    [
        (3, [3], "apps", True),  # outputs stored wrapped in a one-element list
        ([3], [3], "apps", True),
        ((0, 1), [[0, 1]], "apps", True),  # tuples count as lists
        ([(1, 2)], [[[1, 2]]], "apps", True),  # a list of tuples against the unwrapped list of lists
        (4, [3], "apps", False),
        ((1, 2), [1, 2], "livecodebench", True),
        (3, [3], "livecodebench", False),  # no unwrapping
        ((1, 2), [1, 2], "exact", False),
        (0.1 + 0.2, 0.3, "livecodebench", False),  # == without tolerance
    ],
)
def test_call_rules(actual, expected, rule, ok):
    assert call_matches(actual, expected, rule) is ok


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_unpickler_accepts_exactly_a_plain_string(protocol):
    text = '[{"input": "1", "output": "2"}]' * 50
    assert unpickle_string(pickle.dumps(text, protocol=protocol)) == text


@pytest.mark.parametrize(
    "payload",
    [
        pickle.dumps(["not", "a", "string"]),
        pickle.dumps({"a": 1}),
        pickle.dumps(3),
        b"cos\nsystem\n(S'true'\ntR.",  # protocol 0: os.system('true')
        b"\x80\x04\x95",  # truncated
        b"not a pickle",
    ],
)
def test_unpickler_refuses_everything_else(payload):
    with pytest.raises(pickle.UnpicklingError):
        unpickle_string(payload)


@pytest.mark.parametrize(
    "value",
    [7**20000, -(7**20000), [1, (2**64,), {"k": 10**5000}], {3, 4}, set(), (1,), b"\x00"],
    ids=["huge", "huge-negative", "nested", "set", "empty-set", "one-tuple", "bytes"],
)
def test_to_literal_reads_back_any_int(value):
    import ast

    assert ast.literal_eval(to_literal(value)) == value


def test_to_literal_refuses_what_is_not_a_literal():
    with pytest.raises(TypeError):
        to_literal(frozenset({1}))
    with pytest.raises(TypeError):
        to_literal(object())


def test_method_pytest_and_rule_fields_round_trip_and_validate():
    from tdrl.records import Problem, RecordError

    d = {
        "id": "x",
        "entry_point": "Solution",
        "tests": [
            {"type": "method", "input": "[1]", "output": "[1]", "method": "f", "rule": "apps"},
            {"type": "pytest", "code": "def test_a():\n    pass\n", "function": "test_a"},
        ],
    }
    assert Problem.from_dict(d).to_dict() == d
    d["tests"][0]["rule"] = "lenient"
    with pytest.raises(RecordError, match=r"tests\[0\]\.rule"):
        Problem.from_dict(d)
    d["tests"][0]["rule"] = "apps"
    d["tests"][1]["function"] = "not a name"
    with pytest.raises(RecordError, match=r"tests\[1\]\.function"):
        Problem.from_dict(d)
    stdio = {"id": "s", "tests": [{"type": "stdio", "stdin": "", "stdout": "", "rule": "apps"}]}
    assert Problem.from_dict(stdio).tests[0].rule == "apps"
    stdio["tests"][0]["rule"] = "livecodebench-ish"
    with pytest.raises(RecordError, match="expected one of tokens"):
        Problem.from_dict(stdio)
