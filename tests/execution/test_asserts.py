import pytest

from tdrl.execution.asserts import AssertPlan, CallPlan, CheckError, Unsupported, compile_assert


def test_call_eq_literal_becomes_a_call_test():
    plan = compile_assert("assert f(1, [2, 3]) == {'a': (1,)}")
    assert isinstance(plan, CallPlan)
    assert (plan.fn, plan.args, plan.output) == ("f", "[1, [2, 3]]", "{'a': (1,)}")
    assert isinstance(compile_assert("assert 5 == f(2)"), CallPlan)


def test_expected_values_stay_out_of_the_probes():
    plan = compile_assert("assert abs(f(2.0) - 1.41421) < 1e-3")
    assert isinstance(plan, AssertPlan)
    assert plan.probes == ["f(2.0)"]
    assert plan.check([1.4142]) and not plan.check([1.5])


@pytest.mark.parametrize(
    "code,probes,values,ok",
    [
        ("assert sorted(f([3, 1])) == [1, 3]", ["f([3, 1])"], [[3, 1]], True),
        ("assert f(1) is None", ["f(1)"], [None], True),
        ("assert not f(0)", ["f(0)"], [0], True),
        ("assert f('a').upper() == 'A'", ["f('a')"], ["a"], True),
        ("assert math.isclose(f(1), 2.5)", ["f(1)"], [2.5], True),
        ("assert len(f(1)) == 2 and f(2)[0] == 'x'", ["f(1)", "f(2)"], [[1, 2], ["x"]], True),
        ("assert isinstance(f(1), int)", ["f(1)"], [True], True),
        ("assert Solution().run(3) == 4", ["Solution().run(3)"], [5], False),
        ("assert True", [], [], True),
    ],
)
def test_split_and_check(code, probes, values, ok):
    plan = compile_assert(code)
    assert isinstance(plan, AssertPlan)
    assert plan.probes == probes
    assert plan.check(values) is ok


def test_check_errors_are_reported_not_swallowed():
    plan = compile_assert("assert f(1) + 1 == 2")
    with pytest.raises(CheckError, match="TypeError"):
        plan.check(["a string"])


def test_check_refuses_to_blow_up_the_parent():
    plan = compile_assert("assert f(1) * 10**9 == 'x'")
    with pytest.raises(CheckError, match="too large"):
        plan.check(["abc"])
    plan = compile_assert("assert f(1) ** f(2) == 0")
    with pytest.raises(CheckError, match="too large"):
        plan.check([3, 10**7])


@pytest.mark.parametrize(
    "code",
    [
        "x = f(1)\nassert x == 2",
        "assert all(f(i) == i for i in range(3))",
        "assert [f(i) for i in range(3)] == [0, 1, 2]",
        "assert f(1) is f(2)",
        "print(1)",
    ],
)
def test_outside_the_subset_is_unsupported(code):
    with pytest.raises(Unsupported):
        compile_assert(code)
