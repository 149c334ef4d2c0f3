"""A red-team pass written after reading the redesigned verifier (issue 15).

Each attack targets a mechanism of the new design (the binary record channel and its
private copy, the program buffer, pid 1, the work-area restore and retire, the judge's
budgets, the names rule). Each runs on a one-worker pool and checks the attacker's
verdict and the verdicts of samples run after it in the same sandbox. docs/verifier.md
lists them with what stops each.
"""

from __future__ import annotations

import json
import os
import random
import struct

import pytest

from tdrl import Problem, Sample, Test
from tdrl.execution import TimePolicy, Verifier
from tdrl.execution.plan import compile_problem
from tdrl.execution.sandbox import bwrap_works
from tdrl.execution.verifier import _Judge
from tdrl.execution.worker import WorkerDied, _event

needs_bwrap = pytest.mark.skipif(bwrap_works() is not None, reason=f"OS sandbox unavailable: {bwrap_works()}")

ADD = Problem(
    "add",
    [
        Test("call", input="[3, 4]", output="7"),
        Test("call", input="[1, 1]", output="2"),
        Test("call", input="[2, 5]", output="7"),
    ],
    entry_point="add",
)
CORRECT = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return a - b\n"

# the zygote's shared result block as the child inherits it, and a record writer
BLOCK = r"""
import json, os, struct, sys, time
BLOCK = sys.modules['__main__']._shm[0]
def written():
    return struct.unpack_from('<Q', BLOCK, 0)[0]
def put(kind, i, payload=b'', at=None, commit=True):
    off = written() if at is None else at
    BLOCK[8 + off + 9 : 8 + off + 9 + len(payload)] = payload
    struct.pack_into('<IIB', BLOCK, 8 + off, len(payload), i, ord(kind))
    if commit:
        struct.pack_into('<Q', BLOCK, 0, off + 9 + len(payload))
"""


@pytest.fixture(scope="module")
def solo():
    with Verifier(workers=1, time_policy=TimePolicy(timeout=1.0, load_timeout=3.0, max_sample=10.0)) as v:
        yield v


def check(v: Verifier, code: str, problem: Problem = ADD):
    return v.check(problem, Sample(problem.id, "s", code))


def statuses(r) -> list[str]:
    return [t.status for t in r.tests]


def later_samples_are_judged_right(v: Verifier, problem: Problem = ADD, correct: str = CORRECT, wrong: str = WRONG) -> None:
    assert check(v, correct, problem).status == "pass"
    assert check(v, wrong, problem).status == "fail"


# ---------------------------------------------------------------- the record channel


def test_r01_record_for_a_future_test_is_malformed(solo):
    # claim test 2 while test 0 runs: records are taken only in order
    r = check(solo, BLOCK + "def add(a, b):\n    if a == 3:\n        put('T', 2, b'{\"v\": 7}')\n    return a + b\n")
    assert statuses(r) == ["error", "pass", "pass"]
    later_samples_are_judged_right(solo)


def test_r02_record_with_an_absurd_length_is_malformed(solo):
    code = BLOCK + (
        "def add(a, b):\n    if a == 3:\n        struct.pack_into('<IIB', BLOCK, 8 + written(), 0x7FFFFFFF, 0, ord('T'))\n"
        "        struct.pack_into('<Q', BLOCK, 0, written() + 9)\n    return a + b\n"
    )
    assert statuses(check(solo, code)) == ["error", "pass", "pass"]
    later_samples_are_judged_right(solo)


def test_r03_second_load_record_in_one_run_is_malformed(solo):
    r = check(solo, BLOCK + "def add(a, b):\n    if a == 1:\n        put('L', 0)\n    return a + b\n")
    assert statuses(r) == ["pass", "error", "pass"]
    later_samples_are_judged_right(solo)


def test_r04_an_early_end_record_answers_nothing(solo):
    r = check(solo, BLOCK + "def add(a, b):\n    put('E', 0)\n    return a + b\n")
    assert r.passed == 0
    later_samples_are_judged_right(solo)


def test_r05_rewriting_a_record_the_zygote_already_copied_changes_nothing(solo):
    # test 0 answers wrong; during test 1 (after the zygote's next look) the program rewrites
    # that record in the shared block into the right answer
    code = BLOCK + (
        "def add(a, b):\n    if a == 3:\n        return 0\n    time.sleep(0.3)\n"
        "    put('T', 0, b'{\"v\": 7}     ', at=0, commit=False)\n    return a + b\n"
    )
    assert statuses(check(solo, code)) == ["fail", "pass", "pass"]
    later_samples_are_judged_right(solo)


def test_r06_rewinding_the_record_count_changes_nothing(solo):
    code = BLOCK + (
        "def add(a, b):\n    if a == 3:\n        return 0\n    time.sleep(0.3)\n"
        "    struct.pack_into('<Q', BLOCK, 0, 0)\n    put('L', 0)\n    put('T', 0, b'{\"v\": 7}')\n    return a + b\n"
    )
    r = check(solo, code)
    assert statuses(r)[0] == "fail" and r.status == "fail"
    later_samples_are_judged_right(solo)


def test_r07_a_record_count_past_the_block_is_refused(solo):
    code = BLOCK + "def add(a, b):\n    struct.pack_into('<Q', BLOCK, 0, 2**63)\n    return a + b\n"
    r = check(solo, code)
    assert r.passed == 0 and r.status != "infra_error"
    later_samples_are_judged_right(solo)


@pytest.mark.parametrize(
    "payload",
    [
        b"[" * 200_000 + b"]" * 200_000,  # nesting deeper than any parser's stack
        b'{"v": 1000000000000000000000000000000}',  # a plain int outside the encoder's range
        b'{"v": 7, "us": "soon", "x": {"m": 1}}',  # types where strings and ints belong
        b'{"v": ["d", [[["l", []], 1]]]}',  # an unhashable dict key
        b"\xff\xfe not json",
    ],
    ids=["deep-nesting", "plain-big-int", "type-confusion", "unhashable-key", "not-json"],
)
def test_r08_forged_payloads_are_errors_of_that_test(solo, payload):
    # (the program then exits, so test 1 is an error too; test 2 runs in a fresh child)
    r = check(
        solo, BLOCK + f"def add(a, b):\n    if a == 3:\n        put('T', 0, {payload!r})\n        os._exit(0)\n    return a + b\n"
    )
    assert statuses(r) == ["error", "error", "pass"], r.tests
    later_samples_are_judged_right(solo)


def test_r09_judge_and_event_checks_never_raise_on_random_bytes():
    # the parent's side of the channel: any bytes are either judged or refused, never a crash
    rng = random.Random(15)
    plan = compile_problem(ADD)
    plan.timeouts = [1.0] * 3
    for _ in range(2000):
        n = rng.randrange(0, 64)
        block = bytes(rng.randrange(256) for _ in range(n))
        if rng.random() < 0.5:  # a well-formed header with random payload
            payload = bytes(rng.randrange(256) for _ in range(rng.randrange(20)))
            block = struct.pack("<IIB", len(payload), rng.randrange(3), rng.choice(b"LFTEX")) + payload
        _Judge(plan).records(block)
        try:
            _event(block)
        except WorkerDied:
            pass
    for bad in (b"[]", b'{"ev": 3}', b'{"ev": "died", "i": "0"}', b'{"ev": "timeout", "i": true}', b"{" * 100_000):
        with pytest.raises(WorkerDied):
            _event(bad)


# ---------------------------------------------------------------- memory the child inherits


def test_r10_writing_the_program_buffer_does_not_reach_later_samples(solo):
    # the zygote's program buffer is private: a child writing a correct program into it
    # changes only its own copy; the next sample runs exactly its own code
    attack = "import sys\nbuf = sys.modules['__main__']._CODE\nbuf[:200] = b'def add(a, b):\\n    return a + b\\n#'.ljust(200)\ndef add(a, b): return 0\n"
    assert check(solo, attack).status == "fail"
    r = check(solo, "pass\n")  # a program with no add, not the planted one
    assert r.passed == 0 and "KeyError" in r.tests[0].error
    later_samples_are_judged_right(solo)


def test_r11_patching_the_inherited_test_inputs_does_not_reach_later_samples(solo):
    attack = (
        "import sys\nz = sys.modules['__main__']\nfor tests in z._compiled.values():\n"
        "    for i in range(len(tests)):\n        tests[i] = compile('[0, 0]', '<x>', 'eval')\n"
        "def add(a, b): return 0\n"
    )
    assert check(solo, attack).status == "fail"
    later_samples_are_judged_right(solo, wrong="def add(a, b):\n    return 0\n")


@needs_bwrap
def test_r12_an_orphan_forging_records_after_its_job_changes_nothing(solo):
    orphan = BLOCK + (
        "def add(a, b):\n    if a == 3 and os.fork() == 0:\n        os.setsid()\n        if os.fork() == 0:\n"
        "            for _ in range(400):\n                b = sys.modules['__main__']._shm[0]\n"
        "                try:\n                    put('T', 0, b'{\"v\": 7}')\n                except Exception:\n                    pass\n"
        "                time.sleep(0.005)\n        os._exit(0)\n    return a + b\n"
    )
    check(solo, orphan)
    for _ in range(3):
        assert check(solo, WRONG).status == "fail"
    later_samples_are_judged_right(solo)


# ---------------------------------------------------------------- pid 1


@needs_bwrap
def test_r13_no_signal_reaches_the_zygote(solo):
    attack = (
        "import os, signal\ndef add(a, b):\n    for s in range(1, 65):\n        if s in (signal.SIGKILL, signal.SIGSTOP) or s > 31 or True:\n"
        "            try:\n                os.kill(1, s)\n            except OSError:\n                pass\n    return a + b\n"
    )
    pid = solo._workers[0].proc.pid
    assert check(solo, attack).status == "pass"
    assert solo._workers[0].proc.pid == pid  # same sandbox, not a restarted one
    later_samples_are_judged_right(solo)


@needs_bwrap
def test_r14_raising_the_zygotes_autogroup_nice_retires_it(solo):
    attack = "def add(a, b):\n    open('/proc/1/autogroup', 'w').write('19')\n    return a + b\n"
    assert check(solo, attack).status == "pass"
    victim = "def add(a, b):\n    assert open('/proc/1/autogroup').read().split()[-1] == '0'\n    return a + b\n"
    assert check(solo, victim).status == "pass"
    later_samples_are_judged_right(solo)


# ---------------------------------------------------------------- the work area


@needs_bwrap
@pytest.mark.parametrize(
    "leftover",
    [
        "os.mkfifo('/tmp/fifo')\n    import socket\n    s = socket.socket(socket.AF_UNIX)\n    s.bind('/tmp/sock')",
        "import multiprocessing.shared_memory as sm\n    sm.SharedMemory('tdrl', create=True, size=1 << 20)",
        "os.makedirs('/tmp/a/b/c')\n    open('/tmp/a/b/c/f', 'w').write('x')\n    for d in ('/tmp/a/b/c', '/tmp/a/b', '/tmp/a', '/tmp/work'):\n"
        "        os.chmod(d, 0)\n    os.chmod('/dev/shm', 0)",
    ],
    ids=["fifo-and-socket", "posix-shm", "unreadable-folders"],
)
def test_r15_nothing_is_left_for_the_next_sample(solo, leftover):
    assert check(solo, f"import os\ndef damage():\n    {leftover}\ndamage()\n" + CORRECT).status == "pass"
    victim = (
        "import os\nassert os.listdir('/tmp') == ['work'] and os.listdir('/dev/shm') == []\n"
        "assert sorted(os.listdir('.')) == ['.stderr', '.stdout']\nopen('/dev/shm/x', 'w').write('y')\n" + CORRECT
    )
    assert check(solo, victim).status == "pass", check(solo, victim).tests
    later_samples_are_judged_right(solo)


@needs_bwrap
def test_r16_a_tree_deeper_than_path_max_retires_the_sandbox(solo):
    attack = "import os\nos.chdir('/tmp')\nfor _ in range(300):\n    os.mkdir('d' * 100)\n    os.chdir('d' * 100)\n" + CORRECT
    pid = solo._workers[0].proc.pid
    assert check(solo, attack).status == "pass"
    victim = "import os\ndef add(a, b):\n    assert os.listdir('/tmp') == ['work']\n    return a + b\n"
    assert check(solo, victim).status == "pass"
    assert solo._workers[0].proc.pid != pid  # a fresh sandbox took over
    later_samples_are_judged_right(solo)


@needs_bwrap
def test_r17_an_abstract_socket_server_does_not_survive_its_sample(solo):
    server = (
        "import os, socket, time\ndef add(a, b):\n    if a == 3 and os.fork() == 0:\n        try:\n            os.setsid()\n"
        "            s = socket.socket(socket.AF_UNIX)\n            s.bind('\\0tdrl-oracle')\n            s.listen()\n"
        "            while True:\n                c, _ = s.accept()\n                x, y = map(int, c.recv(64).split())\n"
        "                c.send(str(x + y).encode())\n        finally:\n            os._exit(0)\n    time.sleep(0.05)\n    return a + b\n"
    )
    assert check(solo, server).status == "pass"
    client = (
        "import socket\ndef add(a, b):\n    s = socket.socket(socket.AF_UNIX)\n    s.connect('\\0tdrl-oracle')\n"
        "    s.send(f'{a} {b}'.encode())\n    return int(s.recv(64))\n"
    )
    r = check(solo, client)
    assert r.passed == 0 and "ConnectionRefused" in r.tests[0].error
    later_samples_are_judged_right(solo)


@needs_bwrap
@pytest.mark.parametrize(
    "call",
    [
        "subprocess.run(['unshare', '--user', 'true'], capture_output=True).returncode",
        "libc.syscall(68, 0x1234, 0o1600) >= 0",  # msgget (x86_64): IPC objects would outlive the sample
        "libc.mq_open(b'/tdrl', 0o100 | 2, 0o600, None) >= 0",
        "libc.personality(0x0040000) >= 0",  # ADDR_NO_RANDOMIZE
    ],
    ids=["unshare-binary", "msgget", "mq_open", "personality"],
)
def test_r18_more_refused_calls(solo, call):
    if "syscall(68" in call and os.uname().machine != "x86_64":
        pytest.skip("x86_64 syscall number")
    code = (
        "import ctypes, subprocess\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        f"def add(a, b):\n    return a + b if not ({call} is True or {call} == 0) else -1\n"
    )
    assert check(solo, code).status == "pass", check(solo, code).tests
    later_samples_are_judged_right(solo)


# ---------------------------------------------------------------- the judge's budgets and names


def test_r19_a_probe_value_over_the_judges_budget_fails(solo):
    problem = Problem("add", [Test("assert", code="assert len(add(3, 4)) == 3")], entry_point="add")
    r = check(
        solo,
        BLOCK + "def add(a, b):\n    put('T', 0, b'{\"v\": [[\"l\", [' + b'0,' * 2_999_999 + b'0]]]}')\n    os._exit(0)\n",
        problem,
    )
    assert r.tests[0].status == "output_limit", r.tests
    later_samples_are_judged_right(solo, problem, "def add(a, b):\n    return [0, 0, 0]\n", "def add(a, b):\n    return []\n")


def test_r20_a_huge_power_in_the_trusted_check_is_refused(solo):
    problem = Problem("add", [Test("assert", code="assert add(3, 4) ** 3 == 343")], entry_point="add")
    r = check(
        solo,
        BLOCK + "def add(a, b):\n    put('T', 0, json.dumps({'v': [['i', 'f' * 500_000]]}).encode())\n    os._exit(0)\n",
        problem,
    )
    assert r.tests[0].status == "error" and "too large" in r.tests[0].error, r.tests
    later_samples_are_judged_right(solo, problem)


def test_r21_a_huge_answer_to_a_small_expected_value_fails_unread(solo):
    r = check(solo, "def add(a, b):\n    return 'x' * (30 << 20)\n")
    assert r.tests[0].status in ("fail", "output_limit"), r.tests
    later_samples_are_judged_right(solo)


def test_r22_a_helper_of_the_prompt_named_like_a_builtin_is_the_programs(solo):
    prompt = "def len(xs):\n    '''Twice the length.'''\n\ndef f(xs):\n    '''Uses len.'''\n"
    problem = Problem("f", [Test("assert", code="assert len(f([1, 2])) + 0 == 4")], entry_point="f", prompt=prompt)
    r = check(solo, "def f(xs):\n    return xs\n", problem)  # never defines len: Python's would answer 2, not 4
    assert r.passed == 0
    good = "def len(xs):\n    return 2 * sum(1 for _ in xs)\ndef f(xs):\n    return xs\n"
    later_samples_are_judged_right(solo, problem, good, "def len(xs):\n    return 0\ndef f(xs):\n    return xs\n")


def test_r23_an_entry_point_named_int_is_a_call_test(solo):
    problem = Problem("int", [Test("assert", code="assert int('12') == 12")], entry_point="int", prompt="def int(s):\n")
    assert check(solo, "pass\n", problem).passed == 0  # Python's int would pass it
    later_samples_are_judged_right(solo, problem, "def int(s):\n    return 12\n", "def int(s):\n    return 0\n")


def test_r24_many_samples_after_a_barrage_are_judged_right(solo):
    # a mix of the attacks above back to back, then ordinary verdicts must come out exact
    attacks = [
        BLOCK + "def add(a, b):\n    put('Q', 0, b'junk')\n    return a + b\n",
        BLOCK + "def add(a, b):\n    struct.pack_into('<Q', BLOCK, 0, 123456789)\n    return a + b\n",
        "import os\nos.kill(1, 9)\n" + CORRECT,
    ]
    for code in attacks:
        assert check(solo, code).status != "infra_error"
    results = [check(solo, CORRECT if i % 2 else WRONG).status for i in range(10)]
    assert results == ["fail", "pass"] * 5
    assert json.dumps(results)
