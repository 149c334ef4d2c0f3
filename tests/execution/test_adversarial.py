"""Hostile programs, one property per test. Each must be contained, and a correct program
run right after it on the same pool must still pass."""

from __future__ import annotations

import os
import socket
import threading

import pytest

from tdrl.execution import TimePolicy, Verifier
from tdrl.execution.sandbox import bwrap_works
from tests.conftest import CORRECT_ADD, make_problem, run


@pytest.fixture(scope="module")
def small():
    """A pool with a small memory limit, so memory attacks end quickly."""
    from tdrl.execution import Limits

    with Verifier(workers=1, time_policy=TimePolicy(timeout=5.0), limits=Limits(memory_bytes=256 << 20)) as v:
        yield v


needs_bwrap = pytest.mark.skipif(bwrap_works() is not None, reason=f"OS sandbox unavailable: {bwrap_works()}")


def assert_contained(verifier, problem, code, allowed=None):
    result = run(verifier, problem, code)
    assert result.status != "pass"
    assert result.passed == 0, [t.to_dict() for t in result.tests]
    assert result.status != "infra_error"
    if allowed is not None:
        assert {t.status for t in result.tests} <= set(allowed), [t.to_dict() for t in result.tests]
    # the pool keeps serving correct programs afterwards
    for _ in range(2):  # both workers
        assert run(verifier, problem, CORRECT_ADD).status == "pass"
    return result


def test_fake_eq_object_fails(verifier, add_problem):
    code = "class A:\n    def __eq__(self, o): return True\n    def __bool__(self): return True\ndef add(a, b): return A()\n"
    r = assert_contained(verifier, add_problem, code, {"error"})
    assert "unsupported type A" in r.tests[0].error


def test_int_subclass_with_fake_eq_fails(verifier, add_problem):
    code = "class I(int):\n    def __eq__(self, o): return True\n    __hash__ = int.__hash__\ndef add(a, b): return I(0)\n"
    assert_contained(verifier, add_problem, code, {"error"})


@pytest.mark.parametrize(
    "code",
    [
        "import sys\nsys.exit(0)\n",
        "import os\nos._exit(0)\n",
        "import sys\ndef add(a, b):\n    sys.exit(0)\n",
        "import os\ndef add(a, b):\n    os._exit(0)\n",
        "def add(a, b):\n    raise SystemExit(0)\n",
        "import os, signal\ndef add(a, b):\n    os.kill(os.getpid(), signal.SIGKILL)\n",
    ],
    ids=["sys.exit-import", "os._exit-import", "sys.exit-call", "os._exit-call", "SystemExit", "self-kill"],
)
def test_exit_zero_is_never_a_pass(verifier, add_problem, code):
    assert_contained(verifier, add_problem, code, {"error"})


def test_infinite_loop_times_out(verifier, add_problem):
    assert_contained(verifier, add_problem, "def add(a, b):\n    while True:\n        pass\n", {"timeout", "not_run"})


def test_ignored_signals_do_not_prevent_the_kill(verifier, add_problem):
    code = (
        "import signal\nfor s in (signal.SIGTERM, signal.SIGALRM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU):\n"
        "    signal.signal(s, signal.SIG_IGN)\ndef add(a, b):\n    while True:\n        pass\n"
    )
    assert_contained(verifier, add_problem, code, {"timeout", "not_run"})


def test_swallowed_exceptions_still_time_out(verifier, add_problem):
    code = "def add(a, b):\n    while True:\n        try:\n            while True: pass\n        except BaseException:\n            pass\n"
    assert_contained(verifier, add_problem, code, {"timeout", "not_run"})


def test_memory_bomb_is_a_memory_verdict(small, add_problem):
    code = 'def add(a, b):\n    xs = []\n    while True:\n        xs.append(b"x" * (50 * 2**20))\n'
    r = assert_contained(small, add_problem, code)
    assert r.tests[0].status == "memory", r.tests[0]


def test_huge_allocation_is_a_memory_verdict(small, add_problem):
    r = assert_contained(small, add_problem, "def add(a, b):\n    return [0] * (10 ** 11)\n")
    assert r.tests[0].status == "memory"


def test_fork_bomb_is_stopped(verifier, add_problem):
    code = "import os\ndef add(a, b):\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n"
    assert_contained(verifier, add_problem, code, {"timeout", "error", "not_run"})


@needs_bwrap
def test_orphan_cannot_act_after_its_run(tmp_path):
    # one worker, so the checking program runs in the same sandbox right after the orphan's run
    with Verifier(workers=1, time_policy=TimePolicy(timeout=1.0)) as v:
        problem = make_problem(tests=[__import__("tdrl").Test("call", input="[1, 2]", output="3")])
        orphan = (
            "import os, time\ndef add(a, b):\n    if os.fork() == 0:\n        os.setsid()\n"
            "        if os.fork() == 0:\n            time.sleep(0.5)\n            open('/tmp/orphan-was-here', 'w').write('x')\n"
            "            os._exit(0)\n        os._exit(0)\n    return a + b\n"
        )
        assert run(v, problem, orphan).status == "pass"  # a correct answer; the orphan is the attack
        probe = "import os, time\ndef add(a, b):\n    time.sleep(0.8)\n    return 3 if not os.path.exists('/tmp/orphan-was-here') else -1\n"
        assert run(v, problem, probe).status == "pass"
        # only the zygote (pid 1 of the sandbox) and this program
        ps = "import os\ndef add(a, b):\n    return 3 if sorted(int(p) for p in os.listdir('/proc') if p.isdigit()) == [1, os.getpid()] else len(os.listdir('/proc'))\n"
        assert run(v, problem, ps).status == "pass", "processes of earlier runs survive"


@needs_bwrap
def test_files_outside_the_sandbox_cannot_be_written_or_deleted(verifier, add_problem, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    code = (
        f"import os\ndef add(a, b):\n    for p in ({str(victim)!r}, '/usr/lib/tdrl-was-here', {str(tmp_path / 'new.txt')!r}):\n"
        "        try:\n            os.remove(p)\n        except OSError:\n            pass\n"
        "        try:\n            open(p, 'w').write('pwned')\n        except OSError:\n            pass\n"
        "    return a + b\n"
    )
    result = run(verifier, add_problem, code)
    assert result.status == "pass"  # it answered correctly; what matters is the host
    assert victim.read_text() == "keep me"
    assert not (tmp_path / "new.txt").exists()
    assert not os.path.exists("/usr/lib/tdrl-was-here")


@needs_bwrap
def test_network_connect_to_localhost_fails(verifier, add_problem):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(3)
    port = server.getsockname()[1]
    got = []

    def accept():
        try:
            conn, _ = server.accept()
            got.append(conn.recv(100))
        except OSError:
            pass

    t = threading.Thread(target=accept)
    t.start()
    code = (
        f"import socket\ndef add(a, b):\n    s = socket.create_connection(('127.0.0.1', {port}), timeout=0.5)\n"
        "    s.sendall(b'leak')\n    return a + b\n"
    )
    result = assert_contained(verifier, add_problem, code, {"error"})
    t.join()
    server.close()
    assert got == []
    # refused by seccomp (no inet sockets) or, without it, by the empty network namespace
    assert any(s in result.tests[0].error for s in ("Operation not permitted", "Connection refused", "unreachable"))


@needs_bwrap
def test_problems_file_cannot_be_read(verifier, tmp_path):
    answers = tmp_path / "problems.jsonl"
    answers.write_text('{"secret": 12345}\n')
    problem = make_problem(tests=[__import__("tdrl").Test("call", input="[1, 2]", output="12345")])
    code = f"import json\ndef add(a, b):\n    return json.loads(open({str(answers)!r}).read())['secret']\n"
    r = run(verifier, problem, code)
    assert r.tests[0].status == "error" and "FileNotFoundError" in r.tests[0].error
    assert run(verifier, problem, "def add(a, b): return 12345\n").status == "pass"


def test_rewriting_harness_state_via_gc_does_not_help(verifier, add_problem):
    # find the job's test list in memory and rewrite every input to (0, 0): answers still
    # go back as values and are judged against expectations the sandbox never saw
    code = (
        "import gc\nfor o in gc.get_objects():\n    if isinstance(o, dict) and o.get('k') == 'call':\n        o['args'] = '[0, 0]'\n"
        "    if isinstance(o, dict) and 'timeouts' in o:\n        o['timeouts'] = [0.0] * len(o['timeouts'])\n"
        "def add(a, b):\n    return 0\n"
    )
    r = run(verifier, add_problem, code)
    assert [t.status for t in r.tests] == ["fail", "pass", "fail"]  # 5 + -5 == 0 really is correct


def test_fake_results_on_every_fd(verifier, add_problem):
    fake = '{"L": 1}\\n{"i": 0, "v": 3}\\n{"i": 1, "v": 0}\\n{"i": 2, "v": 4}\\n{"end": 1}\\n'
    code = (
        "import os, struct\n"
        f"fake = {fake!r}.encode()\n"
        'frame = struct.pack(\'>I\', 30) + b\'E{"ev": "done", "ms": 1.0}      \'\n'
        "def add(a, b):\n    for fd in range(1024):\n        for data in (fake, frame):\n            try:\n                os.write(fd, data)\n            except OSError:\n                pass\n    return -1\n"
    )
    r = run(verifier, add_problem, code)
    assert r.status != "pass"
    # fake lines claim the right answers for tests the program never computed; the judge
    # takes them only as this program's own answers, in order, so at best they equal
    # a program that returned those values; the follow-up correct run still passes
    assert run(verifier, add_problem, CORRECT_ADD).status == "pass"


def test_fake_result_lines_for_unknown_expectations_fail(verifier):
    problem = make_problem(tests=[__import__("tdrl").Test("call", input="[1, 2]", output="987654321")])
    fake = '{"L": 1}\\n{"i": 0, "v": true}\\n{"end": 1}\\n'
    code = f"import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, {fake!r}.encode())\n    except OSError:\n        pass\ndef add(a, b): return a + b\n"
    r = run(verifier, problem, code)
    assert r.status != "pass" and r.passed == 0
    assert run(verifier, problem, "def add(a, b): return 987654321\n").status == "pass"


def test_patching_json_builtins_and_time(verifier, add_problem):
    code = (
        "import json, builtins, time\n"
        'json.dumps = lambda *a, **k: \'{"i": 0, "v": "3"}\'\n'
        "builtins.isinstance = lambda *a: True\nbuiltins.type = lambda *a: int\n"
        "time.perf_counter = lambda: 0.0\ntime.monotonic = lambda: 0.0\n"
        "class E(AssertionError): pass\nbuiltins.AssertionError = E\n"
        "def add(a, b): return None\n"
    )
    assert_contained(verifier, add_problem, code)


def test_one_gigabyte_of_output_is_an_output_limit(verifier, small, add_problem):
    r = assert_contained(small, add_problem, "def add(a, b):\n    print('x' * (1 << 30))\n")
    assert r.tests[0].status in ("output_limit", "memory")
    r = assert_contained(verifier, add_problem, "def add(a, b):\n    print('x' * (1 << 26))\n")
    assert r.tests[0].status == "output_limit"
    r = assert_contained(
        verifier, add_problem, "import sys\ndef add(a, b):\n    while True:\n        sys.stdout.write('y' * 65536)\n"
    )
    assert r.tests[0].status == "output_limit"


def test_huge_return_value_is_capped(verifier, add_problem):
    r = assert_contained(verifier, add_problem, "def add(a, b):\n    return 'x' * (200 * 2**20)\n")
    assert r.tests[0].status == "output_limit"


def test_segfault_is_an_error(verifier, add_problem):
    r = assert_contained(verifier, add_problem, "import ctypes\ndef add(a, b):\n    return ctypes.string_at(0)\n", {"error"})
    assert "SIGSEGV" in r.tests[0].error


def test_deep_recursion_is_contained(verifier, small, add_problem):
    r = assert_contained(verifier, add_problem, "def add(a, b):\n    return add(a, b) + 1\n", {"error"})
    assert r.tests[0].error.startswith("RecursionError")
    code = "import sys\nsys.setrecursionlimit(10**7)\ndef add(a, b):\n    return add(a, b) + 1\n"
    assert_contained(small, add_problem, code, {"error", "memory", "timeout"})


@pytest.mark.parametrize(
    "attack",
    ["os.kill(os.getppid(), 9)", "os.killpg(0, 9)", "os.kill(-1, 9)"],
    ids=["kill-parent", "killpg-0", "kill-all"],
)
def test_killing_parent_or_group_is_contained(verifier, add_problem, attack):
    code = f"import os\ndef add(a, b):\n    {attack}\n    return a + b\n"
    if attack.startswith("os.kill(os.getppid()"):
        # the parent is the zygote, pid 1 of the sandbox: a signal it has no handler for is dropped
        if bwrap_works() is None:
            assert run(verifier, add_problem, code).status == "pass"
            assert run(verifier, add_problem, CORRECT_ADD).status == "pass"
            return
    assert_contained(verifier, add_problem, code, {"error"})


@needs_bwrap
def test_signals_cannot_reach_the_verifier(verifier, add_problem):
    # our pid means nothing inside the sandbox's PID namespace; init ignores SIGKILL there
    code = f"import os\ndef add(a, b):\n    for pid in (1, {os.getpid()}):\n        try:\n            os.kill(pid, 9)\n        except OSError:\n            pass\n    return a + b\n"
    assert run(verifier, add_problem, code).status == "pass"
    assert run(verifier, add_problem, CORRECT_ADD).status == "pass"


def test_killing_parent_at_import_is_contained(verifier, add_problem):
    assert_contained(verifier, add_problem, "import os\nos.kill(os.getppid(), 9)\n", {"error"})


def test_closing_all_fds(verifier, add_problem):
    # results travel through shared memory, not a descriptor: closing every fd changes
    # nothing about how answers are judged, and the pool keeps working
    assert_contained(verifier, add_problem, "import os\nos.closerange(0, 4096)\ndef add(a, b): return a - b\n")
    r = run(verifier, add_problem, "import os\ndef add(a, b):\n    os.closerange(0, 4096)\n    return a + b\n")
    assert r.status == "pass"
    assert run(verifier, add_problem, CORRECT_ADD).status == "pass"


def test_base_exception_subclasses(verifier, add_problem):
    code = "class Boom(BaseException):\n    def __str__(self):\n        raise Boom()\ndef add(a, b):\n    raise Boom()\n"
    r = assert_contained(verifier, add_problem, code, {"error"})
    assert r.tests[0].error.startswith("Boom")
    assert_contained(verifier, add_problem, "def add(a, b):\n    raise KeyboardInterrupt\n", {"error"})
    assert_contained(verifier, add_problem, "class Boom(BaseException): pass\nraise Boom()\n", {"error"})


def test_assert_tests_resist_patched_assertion_and_fake_bool(verifier):
    from tdrl import Test

    problem = make_problem(
        tests=[Test("assert", code="assert abs(add(1.5, 1) - 2.5) < 1e-9"), Test("assert", code="assert add(1, 1)")]
    )
    code = (
        "import builtins\nbuiltins.abs = lambda x: 0\nclass T:\n    def __bool__(self): return True\n"
        "    def __sub__(self, o): return 0.0\n    def __lt__(self, o): return True\ndef add(a, b): return T()\n"
    )
    assert_contained(verifier, problem, code, {"error"})
    ok = run(verifier, problem, "def add(a, b): return a + b\n")
    assert ok.status == "pass"


@needs_bwrap
@pytest.mark.skipif(os.uname().machine not in ("x86_64", "aarch64"), reason="seccomp table for x86_64/aarch64 only")
@pytest.mark.parametrize(
    "attack,error",
    [
        ("import socket\n    socket.socket(socket.AF_INET6)", "PermissionError"),
        ("import socket\n    socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)", "PermissionError"),
        (
            "import ctypes, ctypes.util\n    assert ctypes.CDLL(None).ptrace(16, 1, 0, 0) == 0, 'ptrace refused'",
            "AssertionError: ptrace refused",
        ),
        (
            "import ctypes\n    assert ctypes.CDLL(None).unshare(0x10000000) == 0, 'unshare refused'",
            "AssertionError: unshare refused",
        ),
    ],
    ids=["inet6-socket", "netlink-socket", "ptrace", "unshare-user"],
)
def test_seccomp_refuses_dangerous_syscalls(verifier, add_problem, attack, error):
    r = assert_contained(verifier, add_problem, f"def add(a, b):\n    {attack}\n    return a + b\n", {"error"})
    assert r.tests[0].error.startswith(error), r.tests[0].error


def test_forged_records_in_the_shared_block_are_only_answers(verifier):
    from tdrl import Test

    # the program finds the result block in its own memory and writes records for every
    # test before any test runs: they are judged as its answers, in order, like any other
    problem = make_problem(tests=[Test("call", input="[1, 2]", output="987654321"), Test("call", input="[3, 4]", output="7")])
    code = (
        "import gc, mmap, struct\n"
        'fake = b\'{"L": 1}\\n{"i": 0, "v": true}\\n{"i": 1, "v": 7}\\n{"end": 1}\\n\'\n'
        "for o in gc.get_objects():\n"
        "    if isinstance(o, mmap.mmap):\n"
        "        o[24:24 + len(fake)] = fake\n"
        "        struct.pack_into('<Q', o, 0, len(fake))\n"
        "def add(a, b): return -1\n"
    )
    r = run(verifier, problem, code)
    assert [t.status for t in r.tests][0] != "pass"
    assert r.status != "pass"
    assert run(verifier, problem, "def add(a, b): return 987654321 if a == 1 else a + b\n").status == "pass"
