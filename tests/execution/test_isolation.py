"""Issue 15: every sample starts clean, and nothing a sample can touch is trusted.

One test per class of hole found by reading the verifier's code. Each runs on a pool of
one worker, so the samples after the attacker run in the very sandbox it attacked, and
each asserts their verdicts as well as the attacker's.
"""

from __future__ import annotations

import os

import pytest

from tdrl import Problem, Sample, Test
from tdrl.execution import TimePolicy, Verifier
from tdrl.execution.sandbox import bwrap_works

needs_bwrap = pytest.mark.skipif(bwrap_works() is not None, reason=f"OS sandbox unavailable: {bwrap_works()}")
needs_seccomp = pytest.mark.skipif(os.uname().machine not in ("x86_64", "aarch64"), reason="seccomp table for x86_64/aarch64")

ADD = Problem("add", [Test("call", input="[3, 4]", output="7"), Test("call", input="[1, 1]", output="2")], entry_point="add")
CORRECT = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return a - b\n"


@pytest.fixture(scope="module")
def solo():
    with Verifier(workers=1, time_policy=TimePolicy(timeout=1.0, load_timeout=3.0, max_sample=10.0)) as v:
        yield v


def check(v: Verifier, code: str, problem: Problem = ADD):
    return v.check(problem, Sample(problem.id, "s", code))


def later_samples_are_judged_right(v: Verifier, problem: Problem = ADD, correct: str = CORRECT, wrong: str = WRONG) -> None:
    for _ in range(2):
        assert check(v, correct, problem).status == "pass"
        assert check(v, wrong, problem).status == "fail"


# A program that searches its own memory for a marker. The regex holds the marker's last
# character as a class, so the program's own text and objects never contain the marker.
SCAN = r"""
import re
PATTERN = re.compile(rb"ZQJX_RESIDUE_MARKER_4[2]")
def seen():
    found = False
    with open('/proc/self/maps') as maps, open('/proc/self/mem', 'rb', 0) as mem:
        for line in maps:
            addr, perms = line.split()[:2]
            if perms[0] != 'r' or line.rstrip().endswith(('[vvar]', '[vsyscall]', '[vvar_vclock]')):
                continue
            lo, hi = (int(x, 16) for x in addr.split('-'))
            try:
                mem.seek(lo)
                if PATTERN.search(mem.read(hi - lo)):
                    found = True
            except (OSError, ValueError, OverflowError):
                pass
    return found
def add(a, b):
    return a + b if seen() else -1
"""


@needs_bwrap
def test_class1_no_residue_of_earlier_samples_or_references(solo):
    # an honest sample and a reference carry the marker; the scanner passes only if it finds one
    honest = "MARK = 'ZQJX_RESIDUE_MARKER_42'\ndef add(a, b):\n    print(MARK)\n    return a + b\n"
    assert check(solo, honest).status == "pass"
    stdio = Problem("echo", [Test("stdio", stdin="x", stdout="ZQJX_RESIDUE_MARKER_42")])
    assert check(solo, "input()\nprint('ZQJX_RESIDUE_MARKER_' + str(6 * 7))\n", stdio).status == "pass"
    with_ref = Problem("add", ADD.tests, entry_point="add", reference=honest)
    assert solo.calibrate(with_ref).status == "pass"
    attacker = check(solo, SCAN)
    assert [t.status for t in attacker.tests] == ["fail", "fail"], attacker.tests
    later_samples_are_judged_right(solo)


@needs_bwrap
def test_class2_the_sandbox_init_and_its_pipes_are_out_of_reach(solo):
    # every way in: the zygote's memory and fds through /proc, pidfd_getfd, ptrace, signals.
    # The test's expected value is the empty list: nothing may succeed.
    attack = r"""
import ctypes, os, signal
libc = ctypes.CDLL(None, use_errno=True)
def add(a, b):
    won = []
    for path in ('/proc/1/mem', '/proc/1/maps', '/proc/1/environ'):
        try:
            open(path, 'rb').read(1); won.append(path)
        except OSError:
            pass
    for n in os.listdir('/proc/1/fd'):
        try:
            os.close(os.open('/proc/1/fd/' + n, os.O_WRONLY)); won.append('fd' + n)
        except OSError:
            pass
    fd = os.pidfd_open(1)
    for target in range(10):
        if libc.syscall(438, fd, target, 0) >= 0:  # pidfd_getfd (x86_64 and aarch64 number)
            won.append('pidfd_getfd')
    if libc.ptrace(16, 1, 0, 0) == 0:  # PTRACE_ATTACH
        won.append('ptrace')
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL, signal.SIGSEGV, signal.SIGHUP):
        os.kill(1, sig)
    return won
"""
    probe = Problem("add", [Test("call", input="[1, 2]", output="[]")], entry_point="add")
    pid_before = solo._workers[0].proc.pid
    r = check(solo, attack, probe)
    assert r.status == "pass", r.tests  # nothing worked
    assert solo._workers[0].proc.pid == pid_before  # the zygote took no signal either
    later_samples_are_judged_right(solo)


def test_class3_time_limits_ignore_what_the_child_can_write(solo):
    # write "test 0 started now" into the shared block over and over (the old design read
    # the running test's start time from there), then overrun the limit and answer right
    attack = r"""
import gc, mmap, struct, time, threading
blocks = [o for o in gc.get_objects() if isinstance(o, mmap.mmap)]
def forge():
    while True:
        for b in blocks:
            try:
                off = struct.unpack_from('<Q', b, 0)[0] + 64
                struct.pack_into('<qd', b, off, 0, time.monotonic())
                struct.pack_into('<qd', b, len(b) - 16, 0, time.monotonic())
            except (ValueError, TypeError, IndexError):
                pass
        time.sleep(0.001)
threading.Thread(target=forge, daemon=True).start()
def add(a, b):
    time.sleep(2.5)
    return a + b
"""
    r = check(solo, attack)
    assert [t.status for t in r.tests] == ["timeout", "timeout"], r.tests
    later_samples_are_judged_right(solo)


def test_class3_malformed_records_cost_that_test_only(solo):
    # garbage records in the shared block: bad kind, absurd length, an index from the future
    attack = r"""
import struct, sys
def add(a, b):
    if a == 3:
        o = sys.modules['__main__']._shm[0]  # the zygote's shared result block, inherited
        off = struct.unpack_from('<Q', o, 0)[0]
        struct.pack_into('<IIB', o, 8 + off, 0xFFFFFFF0, 99, ord('Z'))
        struct.pack_into('<Q', o, 0, off + 9)
        return 7
    return a + b
"""
    r = check(solo, attack)
    assert [t.status for t in r.tests] == ["error", "pass"], r.tests
    for _ in range(5):  # many samples after it, all judged right
        later_samples_are_judged_right(solo)


@needs_bwrap
@pytest.mark.parametrize(
    "damage",
    [
        # fill /tmp and /dev/shm to the last byte (in files under the file size limit)
        "for d in ('/tmp', '/dev/shm'):\n        try:\n            for i in range(100):\n"
        "                with open(f'{d}/fill{i}', 'wb') as f:\n                    f.write(b'x' * (4 << 20))\n"
        "        except OSError:\n            pass",
        # the work folder swapped for a symlink, then made read-only
        "os.chdir('/tmp')\n    os.rename('/tmp/work', '/tmp/old')\n    os.symlink('/proc', '/tmp/work')\n"
        "    os.chmod('/tmp/old', 0o500)\n    os.chmod('/tmp', 0o500)",
        # the zygote's limits and scheduling, through every door a same-uid process has
        "import resource\n    for r in (resource.RLIMIT_AS, resource.RLIMIT_NOFILE):\n        try:\n"
        "            resource.prlimit(1, r, (1 << 20, 1 << 20))\n        except OSError:\n            pass\n"
        "    os.setpriority(os.PRIO_PROCESS, 1, 19)\n    os.sched_setaffinity(1, {0})\n"
        "    open('/proc/1/oom_score_adj', 'w').write('1000')",
        # more files than the wipe may spend time on
        "for i in range(21000):\n        os.close(os.open(f'/tmp/f{i}', os.O_CREAT | os.O_WRONLY))",
    ],
    ids=["full-tmp-and-shm", "symlinked-readonly-workdir", "zygote-limits-and-priority", "too-many-files"],
)
def test_class4_no_damage_outlives_the_sample(solo, damage):
    attacker = f"import os\ndef damage():\n    {damage}\ndamage()\ndef add(a, b):\n    return a + b\n"
    assert check(solo, attacker).status == "pass"  # correct answers; the damage is the attack
    # a later sample that needs /tmp, /dev/shm, a work folder, memory, files and a full CPU share
    victim = (
        "import os, resource\ndef add(a, b):\n"
        "    for d in ('/tmp', '/dev/shm', '.'):\n        with open(d + '/big', 'wb') as f:\n            f.write(b'y' * (3 << 20))\n"
        "    assert len(os.listdir('/tmp')) == 2 and os.getcwd() == '/tmp/work'\n"
        "    assert os.getpriority(os.PRIO_PROCESS, 0) == 0 and len(os.sched_getaffinity(0)) == os.cpu_count()\n"
        "    assert open('/proc/1/oom_score_adj').read().strip() == '0'\n"
        "    blob = bytearray(200 << 20)\n    return a + b\n"
    )
    assert check(solo, victim).status == "pass", check(solo, victim).tests
    later_samples_are_judged_right(solo)


@needs_bwrap
@needs_seccomp
def test_class5_seccomp_is_an_allow_list_that_checks_arguments(solo):
    from tdrl.execution import _seccomp

    col = _seccomp.ARCHES[os.uname().machine][0]
    nr = {name: nrs[col] for table in (_seccomp.ALLOW, _seccomp.CHECKED, _seccomp.DENY) for name, nrs in table.items()}
    nr["clone3"] = _seccomp.CLONE3[col]
    # each call must fail; the test's value is the list of those that did not
    calls = {
        "clone-newuser": f"libc.syscall({nr['clone']}, 0x10000000 | 17, 0, 0, 0, 0)",
        "clone-newns": f"libc.syscall({nr['clone']}, 0x00020000 | 17, 0, 0, 0, 0)",
        "clone3": f"libc.syscall({nr['clone3']}, 0, 0)",
        "fsopen": f"libc.syscall({nr['fsopen']}, b'tmpfs', 0)",
        "open_tree": f"libc.syscall({nr['open_tree']}, -100, b'/', 1)",
        "move_mount": f"libc.syscall({nr['move_mount']}, -100, b'/', -100, b'/tmp', 0)",
        "prlimit64-pid1": f"libc.syscall({nr['prlimit64']}, 1, 7, 0, ctypes.byref(buf))",
        "pidfd_getfd": f"libc.syscall({nr['pidfd_getfd']}, os.pidfd_open(1), 0, 0)",
        "vsock": "libc.socket(40, 1, 0)",
        "inet": "libc.socket(2, 1, 0)",
        "io_uring": f"libc.syscall({nr['io_uring_setup']}, 8, ctypes.byref(buf))",
        "shmget": f"libc.syscall({nr['shmget']}, 0, 4096, 0o1600)",
        "keyctl": f"libc.syscall({nr['keyctl']}, 0, -3, 0)",
        "unknown-syscall": "libc.syscall(1000, 0)",
    }
    body = "".join(f"    if ({expr}) >= 0:\n        ok.append({name!r})\n" for name, expr in calls.items())
    attack = (
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.syscall.restype = ctypes.c_long\n"
        "buf = ctypes.create_string_buffer(256)\ndef add(a, b):\n    ok = []\n" + body + "    return ok\n"
    )
    probe = Problem("add", [Test("call", input="[1, 2]", output="[]")], entry_point="add")
    r = check(solo, attack, probe)
    assert r.status == "pass", r.tests
    # ordinary programs still work under the allow-list
    ordinary = r"""
import json, os, random, re, select, shutil, signal, subprocess, sys, tempfile, threading, time, socket, multiprocessing
sys.setrecursionlimit(20000)
def depth(n):
    return 0 if n == 0 else 1 + depth(n - 1)
def add(a, b):
    out = []
    t = threading.Thread(target=lambda: out.append(a + b)); t.start(); t.join()
    assert subprocess.run(['/bin/true']).returncode == 0
    with tempfile.NamedTemporaryFile() as f:
        f.write(b'x'); f.flush()
        shutil.copy2(f.name, f.name + '.copy')  # copies extended attributes too
    time.sleep(0.01)
    r, w = os.pipe(); os.write(w, b'x'); assert select.select([r], [], [], 1)[0]
    signal.signal(signal.SIGALRM, lambda *x: None); signal.setitimer(signal.ITIMER_REAL, 0.01); time.sleep(0.05)
    s1, s2 = socket.socketpair(); s1.send(b'y'); assert s2.recv(1) == b'y'
    lock = multiprocessing.Lock(); lock.acquire(); lock.release()
    assert depth(5000) == 5000 and re.match('a+', 'aaa') and json.loads('[1]') == [1] and random.random() < 1
    return out[0]
"""
    r = check(solo, ordinary)
    assert r.status == "pass", r.tests
    later_samples_are_judged_right(solo)


# Writes one record for test 0 straight into the shared block, without building the value
# (building it in the program would be as slow as judging it): linear for the attacker,
# quadratic for a judge that rebuilds it naively.
FORGE = r"""
import json, os, struct, sys
def forge(v):
    data = json.dumps({"v": v}).encode()
    o = sys.modules['__main__']._shm[0]  # the zygote's shared result block, inherited
    off = struct.unpack_from('<Q', o, 0)[0]
    o[8 + off + 9 : 8 + off + 9 + len(data)] = data
    struct.pack_into('<IIB', o, 8 + off, len(data), 0, ord('T'))
    struct.pack_into('<Q', o, 0, off + 9 + len(data))
    os._exit(0)
KEYS = [["i", format(i * (2**61 - 1), "x")] for i in range(1, 100_000)]
"""


@pytest.mark.parametrize(
    "forged,problem",
    [
        # dict keys and set elements with equal hashes (ints congruent mod 2**61 - 1)
        ('["d", [[k, 0] for k in KEYS]]', ADD),
        ('["S", KEYS]', ADD),
        # a list the trusted assert check would turn into a set
        ('[["l", KEYS]]', Problem("add", [Test("assert", code="assert len(set(add(3, 4))) == 7")], entry_point="add")),
        # a huge int the trusted assert check would multiply by itself
        (
            '[["i", "f" * 2_000_000]] * 2',
            Problem("add", [Test("assert", code="assert add(3, 4) * add(3, 4) == 49")], entry_point="add"),
        ),
    ],
    ids=["dict-equal-hashes", "set-equal-hashes", "assert-set-equal-hashes", "assert-huge-int-square"],
)
def test_class6_judging_is_bounded(solo, forged, problem):
    # without the bounds, judging each of these holds the parent, and every other sample, for minutes
    r = check(solo, FORGE + f"def add(a, b):\n    forge({forged})\n", problem)
    # a call test's answer far bigger than the expected value fails unread; others hit a budget
    assert r.tests[0].status in ("fail", "output_limit", "error"), r.tests
    if r.tests[0].status != "fail":
        assert any(w in r.tests[0].error for w in ("budget", "equal hashes", "too large")), r.tests
    correct = "def add(a, b):\n    return list(range(7)) if a == 3 else 0\n" if "set(" in str(problem.tests) else CORRECT
    later_samples_are_judged_right(solo, problem, correct)


@pytest.mark.parametrize("name", ["max", "sum", "sorted", "len", "abs"])
def test_class7_the_problems_own_names_are_never_builtins(solo, name):
    tests = [
        Test("assert", code=f"assert {name}([3, 1, 2]) == {name}([3, 1, 2])"),  # a probe: must be the program's
        Test("assert", code=f"assert {name}([5, 4]) == 17"),  # a call test
    ]
    problem = Problem(name, tests, entry_point=name, prompt=f"def {name}(xs):\n")
    for attacker in ("pass\n", "def other(xs):\n    return 1\n"):  # no entry point at all
        r = check(solo, attacker, problem)
        assert r.passed == 0, r.tests
    correct = f"def {name}(xs):\n    return 17 if xs == [5, 4] else 0\n"
    later_samples_are_judged_right(solo, problem, correct, f"def {name}(xs):\n    return 0\n")
