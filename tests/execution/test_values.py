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
