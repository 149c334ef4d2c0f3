import pytest

from tdrl.execution import sandbox
from tdrl.execution.verifier import TimePolicy, Verifier
from tdrl.records import Problem, Test


def test_auto_mode_degrades_loudly(monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "bwrap_works", lambda: "bubblewrap (bwrap) is not installed")
    with pytest.warns(RuntimeWarning, match="OS sandbox unavailable"):
        assert sandbox.resolve_mode("auto") == "none"
    assert "WARNING" in capsys.readouterr().err
    with pytest.raises(sandbox.SandboxUnavailable):
        sandbox.resolve_mode("bwrap")


def test_none_mode_still_judges_and_reaps_orphans():
    p = Problem("p", [Test("call", input="[1]", output="1"), Test("call", input="[2]", output="2")], entry_point="f")
    orphan = "import os, time\ndef f(x):\n    if os.fork() == 0:\n        os.setsid()\n        time.sleep(0.2)\n        open('marker', 'w').write('x')\n        os._exit(0)\n    return x\n"
    check = "import os, time\ndef f(x):\n    time.sleep(0.6)\n    return x if not os.path.exists('marker') else -1\n"
    with Verifier(workers=1, sandbox="none", time_policy=TimePolicy(timeout=1.0)) as v:
        assert v.check(p, orphan).status == "pass"
        r = v.check(p, check)
        assert r.status == "pass" and r.sandbox.startswith("none")
        assert v.check(p, "def f(x):\n    while True:\n        pass\n").tests[0].status == "timeout"


def test_stale_cgroups_of_dead_verifiers_are_swept():
    from pathlib import Path

    base = Path("/sys/fs/cgroup/pids")
    stale = base / "tdrl-999999999-0-1"
    try:
        stale.mkdir()
    except OSError:
        pytest.skip("cannot create cgroups here")
    group = sandbox.Cgroup.create("tdrl-test-sweep", 1 << 30, 16)
    try:
        assert not stale.exists()
    finally:
        if group:
            group.remove()
        if stale.exists():
            stale.rmdir()


def test_seccomp_program_builds_for_both_arches():
    import struct

    from tdrl.execution import _seccomp

    assert not set(_seccomp.ALLOW) & set(_seccomp.DENY), "a syscall both allowed and denied"
    assert not set(_seccomp.CHECKED) & (set(_seccomp.ALLOW) | set(_seccomp.DENY))
    for machine in _seccomp.ARCHES:
        prog = _seccomp.program(machine)
        assert len(prog) % 8 == 0 and len(prog) // 8 < 4096  # the kernel's BPF_MAXINSNS
        ins = [struct.unpack_from("<HBBI", prog, i) for i in range(0, len(prog), 8)]
        assert ins[-1] == (0x06, 0, 0, _seccomp.RET_ENOSYS)  # default: as if the kernel lacked it
        for pc, (code, jt, jf, _) in enumerate(ins):
            if code & 0x07 == 0x05:  # a jump stays inside the program
                assert pc + 1 + max(jt, jf) < len(ins)
    assert _seccomp.program("sparc") is None
