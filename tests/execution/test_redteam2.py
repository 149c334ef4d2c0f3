"""A second red-team pass, after the test types ``method``/``pytest``, the dataset rules,
the time-limit policies and the response normaliser were added (docs/verifier.md, "Red-team
pass 2"). Each test here is an attack that worked before its fix: it fails on the code
before the fix and passes after it.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tdrl import Problem, Sample, Test
from tdrl.execution import TimePolicy, Verifier
from tdrl.execution.sandbox import bwrap_works

needs_bwrap = pytest.mark.skipif(bwrap_works() is not None, reason=f"OS sandbox unavailable: {bwrap_works()}")

ECHO = Problem("echo", [Test("stdio", stdin="1\n", stdout="1\n"), Test("stdio", stdin="2\n", stdout="2\n")])


@pytest.fixture(scope="module")
def solo():
    with Verifier(workers=1, time_policy=TimePolicy(timeout=1.0, load_timeout=1.0, max_sample=4.0)) as v:
        yield v


def check(v: Verifier, code: str, problem: Problem):
    return v.check(problem, Sample(problem.id, "s", code))


# ---------------------------------------------------------------- stdin of stdio tests

# what the previous test's child leaves where the zygote used to write the next stdin
STDIN_TRAPS = {
    # open(.stdin, "w") on a fifo nobody reads blocks pid 1 for good: the parent waited for its
    # backstop (budget + 10 s), twice, and charged the sample "brought down its sandbox"
    "fifo": "os.mkfifo('/tmp/work/.stdin')",
    # a link to the zygote's own control pipe: it wrote the next stdin into the parent's frame stream
    "link to the control pipe": "os.symlink('/proc/self/fd/4', '/tmp/work/.stdin')",
}


@needs_bwrap
@pytest.mark.parametrize("trap", list(STDIN_TRAPS), ids=list(STDIN_TRAPS))
def test_rt2_01_a_trap_where_the_next_stdin_was_written_changes_nothing(solo, trap):
    code = f"import os\ntry:\n    os.unlink('/tmp/work/.stdin')\nexcept OSError:\n    pass\n{STDIN_TRAPS[trap]}\nprint(input())\n"
    r = check(solo, code, ECHO)
    assert [t.status for t in r.tests] == ["pass", "pass"], [t.to_dict() for t in r.tests]
    assert check(solo, "print(input())", ECHO).status == "pass"
    assert check(solo, "print(5)", ECHO).status == "fail"


# ---------------------------------------------------------------- the response normaliser

NORMALISE_1MB = r"""
from tdrl.execution.response import normalize_response
for text, want, stripped in [
    (" " * 1_000_000, " " * 1_000_000, 0),
    ("print(1)" + "\n" * 1_000_000 + "x", "print(1)" + "\n" * 1_000_000 + "x", 0),
    ("print(1)" + "\n" * 1_000_000 + "</s>", "print(1)", 1),
    ("print(1)" + "</s> \n" * 200_000, "print(1)", 200_000),
]:
    got = normalize_response(text)
    assert got.text == want and len(got.stripped) == stripped
print("ok")
"""


def test_rt2_02_normalising_a_megabyte_of_whitespace_is_linear():
    # the trailing-run regex searched with \Z retried from every position of a whitespace run:
    # 20 KB of newlines took 10 s, a 1 MB response hours (in the reward server's event loop).
    # The bound is generous on purpose (linear: well under a second here).
    proc = subprocess.run([sys.executable, "-c", NORMALISE_1MB], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "ok", proc.stderr[-2000:]


# ---------------------------------------------------------------- CPU between workers


def _cpu_cgroup(pid: int | str) -> str | None:
    """The cgroup v1 ``cpu`` hierarchy's path of a process, or None without one."""
    for line in open(f"/proc/{pid}/cgroup").read().splitlines():
        _, ctrls, path = line.split(":", 2)
        if "cpu" in ctrls.split(","):
            return path
    return None


@needs_bwrap
def test_rt2_03_a_sample_with_many_busy_processes_takes_only_its_own_workers_cpu_share():
    # before: each worker's sandbox sat in the verifier's own v1 cpu group, where every process
    # (every setsid session, under autogroup) weighs as much as a whole worker. A sample that
    # forked 60 spinners (pids.max allows them) made a 0.25 s CPU test in the other worker take
    # 7.6 s, a timeout under any calibrated limit. Its own cpu group bounds it to one worker's share.
    with Verifier(workers=1) as v:
        add = Problem("add", [Test("call", input="[1, 2]", output="3")], entry_point="add")
        assert check(v, "def add(a, b):\n    return a + b\n", add).status == "pass"
        worker = v._workers[0]
        if worker.cgroup is None:
            pytest.skip("no cgroup here (not root, or a read-only cgroupfs)")
        if worker.cgroup.version == 2:
            controllers = (worker.cgroup.paths[0] / "cgroup.controllers").read_text().split()
            if "cpu" not in controllers:
                pytest.skip("cgroup v2 without the cpu controller delegated")
            unified = [ln for ln in open(f"/proc/{worker.proc.pid}/cgroup").read().splitlines() if ln.startswith("0::")]
            assert unified and unified[0].endswith("/" + worker.cgroup.paths[0].name), unified  # its own weight
            return
        mine, sandbox = _cpu_cgroup("self"), _cpu_cgroup(worker.proc.pid)
        if mine is None:
            pytest.skip("no v1 cpu hierarchy")
        assert sandbox != mine and sandbox.rsplit("/", 1)[-1].startswith("tdrl-"), (mine, sandbox)


# ---------------------------------------------------------------- judging stdout


@needs_bwrap
@pytest.mark.parametrize("rule", ["", "apps"])
def test_rt2_04_a_huge_stdout_is_failed_unread(solo, rule, monkeypatch):
    # 6 MB of output per test (under the 8 MB stdout limit) made the parent spend seconds of
    # CPU per test in the stdio rules (11 s for 4 MB under "apps" on this loaded machine),
    # holding the GIL that every other worker's thread and the reward server's loop need
    from tdrl.execution.plan import Check

    judged: list[int] = []
    real = Check.stdout_passes
    monkeypatch.setattr(Check, "stdout_passes", lambda self, out: judged.append(len(out)) or real(self, out))
    problem = Problem(f"ones-{rule}", [Test("stdio", stdin=f"{i}\n", stdout="1\n", rule=rule or None) for i in range(2)])
    r = check(solo, "import sys\nsys.stdout.write('1 ' * 3_000_000)\n", problem)
    assert [t.status for t in r.tests] == ["fail"] * 2, [t.to_dict() for t in r.tests]
    assert max(judged, default=0) < 1 << 20, judged
    assert check(solo, "input()\nprint(1)\n", problem).status == "pass"
