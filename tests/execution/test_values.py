import collections
import math

import pytest

from tdrl.execution.values import DecodeError, decode, has_float, stdout_equal, values_equal


@pytest.mark.parametrize(
    "encoded,expected",
    [
        (3, 3),
        (None, None),
        (True, True),
        ("s", "s"),
        (["i", "-ff"], -255),
        (["f", "nan"], math.nan),
        (["c", "1.0", "-2.0"], 1 - 2j),
        (["y", "AAE="], b"\x00\x01"),
        (["l", [1, ["t", [2]]]], [1, (2,)]),
        (["S", [1, 2]], {1, 2}),
        (["Z", []], frozenset()),
        (["d", [["a", 1]]], {"a": 1}),
        (["C", [["x", 2]]], collections.Counter(x=2)),
        (["q", [1]], collections.deque([1])),
    ],
)
def test_decode_round_trips_plain_values(encoded, expected):
    got = decode(encoded)
    assert type(got) is type(expected)
    if isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got == expected


@pytest.mark.parametrize("bad", [["zz", 1], [], ["i"], ["l", 3], ["d", [[1]]], {"a": 1}, 1.5, ["f", "x"], ["y", "***"]])
def test_decode_rejects_malformed(bad):
    with pytest.raises(DecodeError):
        decode(bad)


def test_values_equal_is_python_eq_without_atol():
    assert values_equal(1, 1.0)
    assert values_equal(True, 1)
    assert not values_equal([1, 2], (1, 2))
    assert not values_equal(0.1 + 0.2, 0.3)


def test_values_equal_with_atol_applies_to_nested_floats():
    assert values_equal([0.1 + 0.2, {"k": 1.0000001}], [0.3, {"k": 1.0}], atol=1e-6)
    assert not values_equal([0.31], [0.3], atol=1e-6)
    assert not values_equal((0.3,), [0.3], atol=1e-6)
    assert not values_equal(math.nan, math.nan, atol=1e-6)


def test_has_float():
    assert has_float([1, (2, {"a": 0.5})])
    assert not has_float([1, "0.5", {2: 3}])


def test_stdout_rule_is_token_wise_exact():
    assert stdout_equal("1 2\n3\n", "1 2 3")
    assert stdout_equal("  6  \n\n", "6\n")
    assert not stdout_equal("6 7", "6")  # no prefix match
    assert not stdout_equal("Yes", "yes")  # case-sensitive
    assert not stdout_equal("0.3333", "0.33333")
    assert stdout_equal("0.3333", "0.33333", atol=1e-3)


@pytest.mark.parametrize(
    "value",
    [
        0,
        -(2**70),
        1.5,
        -0.0,
        1 + 2j,
        b"\x00",
        "s",
        None,
        True,
        [1, (2, 3)],
        {1, 2},
        frozenset(),
        {"a": [1.0]},
        collections.OrderedDict(b=1, a=2),
        collections.Counter("aab"),
        collections.deque([1]),
    ],
)
def test_encode_is_the_mirror_of_decode(value):
    from tdrl.execution.values import encode

    back = decode(encode(value))
    assert type(back) is type(value) and back == value


# the corpus both encoders see, as source, so that the zygote's process builds the very same values
ZYGOTE_CORPUS = """[
    0, 1, -1, 2**53 - 1, 2**53, -(2**53), -(2**53) + 1, 2**64, -(2**70), 10**400,
    0.0, -0.0, 1.5, 1e308, 5e-324, float("nan"), float("inf"), float("-inf"), 0.1 + 0.2,
    1 + 2j, complex(float("nan"), -0.0),
    "", "s", "\\u00e9\\u4e2d\\U0001f600", "a\\x00b", "\\ud800",
    b"", b"\\x00\\xff", bytes(range(256)),
    None, True, False,
    [], [1, [2, [3, []]]], (), (1,), (1, (2.5, "x")), [None, True, 0, 0.0, -0.0],
    {1, 2, 3}, set(), frozenset({-1, 2**60}), {(1, 2), (3, 4)},
    {}, {"a": [1.0], "b": {"c": (None,)}}, {1: "x", (2, 3): [4]}, {True: 1, 2: {5, 6}},
    collections.OrderedDict(b=1, a=2), collections.Counter([1, 1, 2]), collections.deque([1, [2]]),
    collections.defaultdict(int, {1: 2}),
]"""


def test_the_zygotes_value_encoder_agrees_with_values_encode(tmp_path):
    """The in-sandbox encoder (a standalone copy: the zygote imports nothing from tdrl) and the trusted
    ``values.encode`` give the same tagged form for every value, so a right answer compares equal."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    import tdrl.execution

    zygote = Path(tdrl.execution.__file__).with_name("_zygote.py")
    script = f"""
import collections, importlib.util, json, sys
sys.argv = ["zygote", {str(tmp_path)!r}]  # its work folder when it runs outside a sandbox
spec = importlib.util.spec_from_file_location("zygote_under_test", {str(zygote)!r})
zygote = importlib.util.module_from_spec(spec)
spec.loader.exec_module(zygote)  # it moves stdout to /dev/null: answers go to a file
from tdrl.execution.values import encode
corpus = {ZYGOTE_CORPUS}
rows = [[repr(v), zygote.encode(v, [10**6]), encode(v)] for v in corpus]
open({str(tmp_path / "out.json")!r}, "w").write(json.dumps(rows))
"""
    src = str(Path(tdrl.execution.__file__).parents[2])
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env={"PYTHONPATH": src})
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((tmp_path / "out.json").read_text())
    assert len(rows) == len(eval(ZYGOTE_CORPUS, {"collections": collections}))
    disagree = [(text, ours, trusted) for text, ours, trusted in rows if ours != trusted]
    assert not disagree, disagree
    tags = {json.dumps(enc)[:5] for _, enc, _ in rows}
    assert any('["i"' in t for t in tags) and any('["f"' in t for t in tags)  # the corpus reaches the tagged forms
