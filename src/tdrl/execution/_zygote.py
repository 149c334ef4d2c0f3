"""The in-sandbox half of the verifier: a warm interpreter that forks one child per run.

This file runs *inside* the sandbox as a standalone script (``python -I -S -B zygote.py``);
it imports nothing from tdrl. It is not trusted with verdicts: it never sees expected
outputs, it only runs candidate code and forwards what the candidate produced (return
values as type-tagged plain data, stdout for stdio tests) to the trusted parent, which
judges. Anything the candidate does to this process tree can therefore change *what it
answers*, never *how the answer is judged*.

Wire protocol (parent <-> zygote, over the zygote's stdin/stdout):
  parent -> zygote: frames ``>I length`` + JSON (a job, or ``{"abort": 1}``)
  zygote -> parent: frames ``>I length`` + one type byte + payload:
     ``R`` result lines the children appended to the job's shared block (JSON lines),
     ``E`` a JSON event of the zygote (ready, timeout, died, budget, done, ...).
"""

import base64
import builtins
import collections
import gc
import json
import mmap
import os
import resource
import select
import signal
import struct
import sys
import time

PREIMPORT = ("bisect collections copy datetime functools heapq itertools json math operator random re string typing").split()
for _name in PREIMPORT:
    try:
        __import__(_name)
    except ImportError:
        pass

gc.collect()
gc.freeze()  # keep the warm heap out of the children's collections: fewer copy-on-write faults

CTL_IN = os.dup(0)
CTL_OUT = os.dup(1)
_devnull = os.open("/dev/null", os.O_RDWR)
os.dup2(_devnull, 0)
os.dup2(_devnull, 1)
os.close(_devnull)

WORK = sys.argv[1] if len(sys.argv) > 1 else "/tmp/work"  # a private folder per zygote
RESULT_FD = 3
IN_PID_NAMESPACE = os.getpid() <= 3  # bwrap runs us as pid 2 in a fresh pid namespace


def _prctl(option, value):
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except Exception:
        pass


# Python ignores SIGPIPE and SIGXFSZ at start-up; runs need the default (die), set once here
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
signal.signal(signal.SIGXFSZ, signal.SIG_DFL)

_prctl(36, 1)  # PR_SET_CHILD_SUBREAPER: orphans of a run come back to us to be reaped
_prctl(4, 0)  # PR_SET_DUMPABLE=0: the candidate cannot ptrace us or open /proc/<us>/fd


# ---------------------------------------------------------------- seccomp

# syscalls a test program has no business making: tracing or writing other processes,
# namespaces and mounts, kernel keyrings, BPF, perf, io_uring, modules, reboot
_DENY = {
    "x86_64": (
        0xC000003E,
        41,
        [
            101,
            310,
            311,
            165,
            166,
            272,
            308,
            250,
            248,
            249,
            321,
            298,
            323,
            246,
            175,
            313,
            176,
            155,
            161,
            167,
            168,
            169,
            425,
            426,
            427,
        ],
    ),
    "aarch64": (
        0xC00000B7,
        198,
        [117, 270, 271, 40, 39, 97, 268, 219, 217, 218, 280, 241, 282, 104, 105, 273, 106, 41, 51, 224, 225, 142, 425, 426, 427],
    ),
}
_DENY_SOCKET_DOMAINS = (2, 10, 16, 17)  # AF_INET, AF_INET6, AF_NETLINK, AF_PACKET


def _seccomp_program():
    """A classic-BPF seccomp filter (bytes) for this machine, or None on an unknown one."""
    machine = os.uname().machine
    if machine not in _DENY:
        return None
    arch, nr_socket, deny = _DENY[machine]
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, eperm = 0x7FFF0000, 0x00050000 | 1
    prog = []  # (code, jt, jf, k) with jumps as labels resolved below
    prog.append((ld, 0, 0, 4))  # arch
    prog.append((jeq, 0, "deny", arch))
    prog.append((ld, 0, 0, 0))  # syscall number
    prog.append((jge, "deny", 0, 0x40000000))  # x32 ABI
    for nr in deny:
        prog.append((jeq, "deny", 0, nr))
    prog.append((jeq, 0, "allow", nr_socket))
    prog.append((ld, 0, 0, 16))  # socket(domain, ...): low word of args[0]
    for dom in _DENY_SOCKET_DOMAINS:
        prog.append((jeq, "deny", 0, dom))
    prog.append((ret, 0, 0, allow))
    labels = {"allow": len(prog) - 1}
    prog.append((ret, 0, 0, eperm))
    labels["deny"] = len(prog) - 1
    out = b""
    for i, (code, jt, jf, k) in enumerate(prog):
        jt = labels[jt] - i - 1 if isinstance(jt, str) else jt
        jf = labels[jf] - i - 1 if isinstance(jf, str) else jf
        out += struct.pack("<HBBI", code, jt, jf, k)
    return out


_SECCOMP = _seccomp_program()


def _seccomp_loader():
    """Prepare, once in the zygote, everything the child needs to load the filter with two calls."""
    if _SECCOMP is None:
        return None
    import ctypes

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(_SECCOMP, len(_SECCOMP))
    prog = Prog(len(_SECCOMP) // 8, ctypes.cast(buf, ctypes.c_void_p))
    prog_ref = ctypes.byref(prog)

    def install():
        if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
            raise OSError(ctypes.get_errno(), "no_new_privs")
        if libc.prctl(22, 2, prog_ref, 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
            raise OSError(ctypes.get_errno(), "seccomp")

    install.keep = (buf, prog)  # keep the buffers alive
    return install


_install_seccomp = _seccomp_loader()


# ---------------------------------------------------------------- framing


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


_held = []  # child output held back until the job ends (unless the job asks to stream)
_stream = [False]


def send(kind, payload):
    if kind == b"R" and not _stream[0]:
        _held.append(payload)
        return
    if kind == b"E" and _held:
        data = b"".join(_held)
        _held.clear()
        _write_all(CTL_OUT, struct.pack(">I", len(data) + 1) + b"R" + data + struct.pack(">I", len(payload) + 1) + kind + payload)
        return
    _write_all(CTL_OUT, struct.pack(">I", len(payload) + 1) + kind + payload)


def event(**fields):
    send(b"E", json.dumps(fields).encode())


def _read_exact(fd, n):
    buf = b""
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def read_frame():
    (n,) = struct.unpack(">I", _read_exact(CTL_IN, 4))
    return json.loads(_read_exact(CTL_IN, n))


# ---------------------------------------------------------------- values (child side)

_T_ODICT = collections.OrderedDict
_T_DDICT = collections.defaultdict
_T_COUNTER = collections.Counter
_T_DEQUE = collections.deque
_SMALL = 2**53


class Unsupported(Exception):
    pass


class TooBig(Exception):
    pass


def encode(value, budget):
    """Type-tag a plain value; exact types only, so subclasses with fake __eq__ are rejected."""
    stack_depth = [0]

    def enc(v):
        budget[0] -= 1
        if budget[0] < 0:
            raise TooBig("return value too large")
        t = type(v)
        if v is None or t is bool:
            return v
        if t is int:
            return v if -_SMALL < v < _SMALL else ["i", format(v, "x")]
        if t is str:
            budget[0] -= len(v) // 8
            if budget[0] < 0:
                raise TooBig("return value too large")
            return v
        if t is float:
            return ["f", repr(v)]
        if t is complex:
            return ["c", repr(v.real), repr(v.imag)]
        if t is bytes:
            budget[0] -= len(v) // 6
            if budget[0] < 0:
                raise TooBig("return value too large")
            return ["y", base64.b64encode(v).decode()]
        stack_depth[0] += 1
        if stack_depth[0] > 200:
            raise Unsupported("value nested too deeply")
        try:
            if t is list:
                return ["l", [enc(x) for x in v]]
            if t is tuple:
                return ["t", [enc(x) for x in v]]
            if t is set:
                return ["S", [enc(x) for x in v]]
            if t is frozenset:
                return ["Z", [enc(x) for x in v]]
            if t is dict or t is _T_DDICT:
                return ["d", [[enc(k), enc(x)] for k, x in dict.items(v)]]
            if t is _T_ODICT:
                return ["o", [[enc(k), enc(x)] for k, x in dict.items(v)]]
            if t is _T_COUNTER:
                return ["C", [[enc(k), enc(x)] for k, x in dict.items(v)]]
            if t is _T_DEQUE:
                return ["q", [enc(x) for x in v]]
        finally:
            stack_depth[0] -= 1
        raise Unsupported("unsupported type " + type.__dict__["__name__"].__get__(t))

    return enc(value)


def _exc_name(exc):
    try:
        return type.__dict__["__name__"].__get__(type(exc))
    except Exception:
        return "BaseException"


def _exc_msg(exc):
    try:
        return str(exc)[:300]
    except BaseException:
        return ""


# ---------------------------------------------------------------- the child


_compiled = {}  # problem key -> compiled test inputs, shared with every child through fork


def compiled_tests(job):
    """Compile each test's input side once per problem, in the zygote, before forking."""
    key = job.get("key")
    hit = _compiled.get(key) if key is not None else None
    if hit is not None:
        return hit
    out = []
    for t in job["tests"]:
        try:
            if t["k"] == "call":
                out.append(compile(t["args"], "<input>", "eval"))
            elif t["k"] == "probes":
                out.append([compile(src, "<test>", "eval") for src in t["probes"]])
            elif t["k"] == "script":
                out.append(compile(t["src"], "<test>", "exec"))
            else:
                out.append(None)
        except BaseException as exc:  # reported per test by the child
            out.append(exc)
    if key is not None:
        if len(_compiled) >= 256:
            _compiled.clear()
        _compiled[key] = out
    return out


# The result channel: a shared memory block per job, written by the children, read by the
# zygote. Header: bytes of records written (u64), index of the test now running (i64) and
# when it started (f64, CLOCK_MONOTONIC). Records are JSON lines after the header. A child
# writes a record, then the new length, so a killed child leaves no torn record behind;
# it writes nothing on a pipe unless the job streams, so a fast test costs no system call.
HDR = struct.Struct("<Qqd")
_shm = [None]


def child_main(job, start, stop):
    """Runs in the forked child: load the program, run tests[start:stop], report each one."""
    shm = _shm[0]
    room = len(shm) - HDR.size - 4096  # keep room for a last "too big" record
    stream = job.get("stream")
    limits = job["limits"]
    value_budget = limits["value_nodes"]
    pack_into, unpack_from, monotonic = struct.pack_into, struct.unpack_from, time.monotonic

    def report(rec):
        data = (json.dumps(rec) + "\n").encode()
        off = unpack_from("<Q", shm, 0)[0]
        if off + len(data) > room:
            if "i" not in rec:
                return
            data = (json.dumps({"i": rec["i"], "big": 1}) + "\n").encode()
            room_left = len(shm) - HDR.size - off
            if len(data) > room_left:
                return
        shm[HDR.size + off : HDR.size + off + len(data)] = data
        pack_into("<Q", shm, 0, off + len(data))
        if stream:
            os.write(RESULT_FD, b".")

    def begin(i):
        pack_into("<qd", shm, 8, i, monotonic())

    stdio = job["mode"] == "stdio"
    ns = {"__name__": "__main__" if stdio else "__tdrl_candidate__", "__builtins__": builtins}
    if stdio:
        try:
            code = compile(job["code"], "<candidate>", "exec")
        except BaseException as exc:
            report({"L": 0, "x": _exc_name(exc), "m": _exc_msg(exc)})
            return
        report({"L": 1})
        begin(start)
        t0 = time.perf_counter()
        try:
            exit_code = 0
            try:
                exec(code, ns)
            except SystemExit as exc:
                exit_code = exc.code if type(exc.code) is int else (0 if exc.code is None else 1)
            dt = time.perf_counter() - t0
            sys.stdout.flush()
            size = os.lseek(1, 0, os.SEEK_END)
            if size > limits["stdout_bytes"]:
                report({"i": start, "big": 1})
                return
            os.lseek(1, 0, os.SEEK_SET)
            data = b""
            while len(data) < size:
                chunk = os.read(1, size - len(data))
                if not chunk:
                    break
                data += chunk
            report({"i": start, "v": data.decode("utf-8", "replace"), "rc": exit_code, "us": int(dt * 1e6)})
        except MemoryError:
            report({"i": start, "x": "MemoryError", "mem": 1})
        except BaseException as exc:
            report({"i": start, "x": _exc_name(exc), "m": _exc_msg(exc)})
        os.write(RESULT_FD, b"!")
        return

    try:
        exec(compile(job["code"], "<candidate>", "exec"), ns)
    except MemoryError:
        report({"L": 0, "x": "MemoryError", "mem": 1})
        return
    except BaseException as exc:
        report({"L": 0, "x": _exc_name(exc), "m": _exc_msg(exc)})
        return
    report({"L": 1})
    compiled = _compiled_now
    no_builtins = {"__builtins__": {}}
    perf = time.perf_counter
    for i in range(start, stop):
        test = job["tests"][i]
        kind = test["k"]
        code = compiled[i]
        begin(i)
        t0 = perf()
        try:
            if isinstance(code, BaseException):
                raise code
            if kind == "call":
                fn = ns[test["fn"]]
                value = fn(*eval(code, no_builtins))  # a literal: fresh objects on every run
                dt = perf() - t0
                rec = {"i": i, "v": encode(value, [value_budget]), "us": int(dt * 1e6)}
            elif kind == "probes":
                values = [eval(c, ns) for c in code]
                dt = perf() - t0
                rec = {"i": i, "v": [encode(v, [value_budget]) for v in values], "us": int(dt * 1e6)}
            else:  # script: runs in the candidate's namespace; passes when it raises nothing
                exec(code, ns)
                dt = perf() - t0
                rec = {"i": i, "v": True, "us": int(dt * 1e6)}
        except MemoryError:
            rec = {"i": i, "x": "MemoryError", "mem": 1}
        except TooBig:
            rec = {"i": i, "big": 1}
        except Unsupported as exc:
            rec = {"i": i, "x": "UnsupportedValue", "m": str(exc)}
        except BaseException as exc:
            rec = {"i": i, "x": _exc_name(exc), "m": _exc_msg(exc)}
        report(rec)
    report({"end": 1})
    os.write(RESULT_FD, b"!")


def _set_limits(job):
    limits = job["limits"]
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["stdout_bytes"] + 1, limits["stdout_bytes"] + 1))
    cpu = int(limits["cpu_seconds"]) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    if limits.get("nproc"):
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["nproc"], limits["nproc"]))
    if limits.get("address_space"):
        with open("/proc/self/statm") as f:
            vm_now = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        cap = vm_now + limits["address_space"]
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    try:
        fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
        os.write(fd, b"1000")  # if the group runs out of memory, the kernel picks the candidate
        os.close(fd)
    except OSError:
        pass


_job_fds = {}  # the current job's stdout/stderr files, opened by the zygote, shared by its children


def fork_child(job, start, stop):
    struct.pack_into("<qd", _shm[0], 8, -1, 0.0)  # no test running yet
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            os.dup2(_job_fds["out"], 1)
            os.dup2(_job_fds["err"], 2)
            os.dup2(w, RESULT_FD)  # after 1 and 2: the job fds may sit on 3
            os.closerange(RESULT_FD + 1, 65536)
            os.chdir(WORK)
            if job["mode"] == "stdio":
                os.ftruncate(1, 0)  # each stdio test starts with empty stdout
                os.lseek(1, 0, os.SEEK_SET)
                stdin_fd = os.open(WORK + "/.stdin", os.O_RDONLY)
                os.dup2(stdin_fd, 0)
                os.close(stdin_fd)
            _set_limits(job)
            child_main(job, start, stop)
        except BaseException:
            pass
        os._exit(0)
    os.close(w)
    return pid, r


# ---------------------------------------------------------------- supervision


def kill_everything(pid):
    """Kill the run's whole process tree, escaped orphans included, and reap it."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    while True:
        if IN_PID_NAMESPACE:
            try:
                os.kill(-1, signal.SIGKILL)  # everyone in this namespace but us and bwrap's init
            except OSError:
                pass
        else:
            for child in _children():
                try:
                    os.kill(child, signal.SIGKILL)
                except OSError:
                    pass
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            pass


def _children():
    pids = []
    try:
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/children") as f:
                pids.extend(int(p) for p in f.read().split())
    except OSError:
        pass
    return pids


class _Run:
    """What the zygote knows about one child's progress, from the lines it wrote."""

    def __init__(self, start):
        self.start = start
        self.cur = None  # None while loading, else the index of the test being run
        self.finished = False  # the child said it is done (end, or failed to load)
        self.pending = b""

    def feed(self, chunk):
        self.pending += chunk
        *lines, self.pending = self.pending.split(b"\n")
        advanced = False
        for line in lines:
            if line.startswith(b'{"L": 1'):
                self.cur = self.start
                advanced = True
            elif line.startswith(b'{"L": 0') or line.startswith(b'{"end"'):
                self.finished = True
            elif line.startswith(b'{"i": ') and self.cur is not None:
                self.cur += 1
                advanced = True
        return advanced


_read_off = [0]  # bytes of the job's shared block already forwarded to the parent


def _collect(run):
    """Forward the records children appended since last time; return how many bytes."""
    shm = _shm[0]
    written = min(struct.unpack_from("<Q", shm, 0)[0], len(shm) - HDR.size)
    if written <= _read_off[0]:
        return 0
    chunk = shm[HDR.size + _read_off[0] : HDR.size + written]
    _read_off[0] = written
    send(b"R", chunk)
    run.feed(chunk)
    return len(chunk)


def supervise(job, start, stop, budget_deadline):
    """Run tests[start:stop] in one child; return the next index to run, or None to end the job."""
    pid, r = fork_child(job, start, stop)
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    poller.register(r, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    poller.register(CTL_IN, select.POLLIN)
    timeouts = job["timeouts"]
    run = _Run(start)
    deadline = time.monotonic() + job["load_timeout"]
    seen = None  # (test index, start time) last read from the block's header

    def here():
        return run.cur if run.cur is not None else start

    def after_failure():
        return None if run.cur is None else run.cur + 1

    def outcome():
        """Where the job stands after the records read so far, or None to keep waiting."""
        if run.finished:
            return ("end", None if run.cur is None else len(job["tests"]))
        if run.cur is not None and run.cur >= stop:
            return ("end", stop)
        return None

    try:
        while True:
            now = time.monotonic()
            # the header says which test runs since when: it only ever moves deadlines
            _, cur, began = HDR.unpack_from(_shm[0], 0)
            if (cur, began) != seen and start <= cur < len(timeouts):
                seen = (cur, began)
                deadline = min(began, now) + timeouts[cur]
            if min(deadline, budget_deadline) <= now:
                _collect(run)
                done = outcome()
                if done:
                    return done[1]
                if budget_deadline <= deadline:
                    event(ev="budget", i=here())
                    return None
                event(ev="timeout", i=here(), load=run.cur is None)
                _timeouts[0] += 1
                return after_failure()
            wait = min(deadline, budget_deadline, now + 0.05) - now  # look at the header every 50 ms
            exited = False
            for fd, _ in poller.poll(max(1, int(wait * 1000) + 1)):
                if fd == CTL_IN:
                    if read_frame().get("abort"):
                        _collect(run)
                        event(ev="aborted")
                        return None
                elif fd == pidfd:
                    exited = True
                elif fd == r:
                    if not os.read(r, 1 << 16):
                        poller.unregister(r)
            _collect(run)
            done = outcome()
            if done:
                return done[1]
            if exited:
                _, status = os.waitpid(pid, 0)
                sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
                code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
                event(ev="died", i=here(), load=run.cur is None, sig=sig, code=code)
                return after_failure()
    finally:
        # SIGKILL now, reap (and sweep up orphans) just before the next fork: the parent
        # gets its answer without waiting for the kernel to tear the child down
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except OSError:
                pass
        _unreaped.append(pid)
        os.close(r)
        os.close(pidfd)


_unreaped = []
_timeouts = [0]  # tests of the current job that ran out of their own limit


def reap_previous():
    """Finish off the previous run's process tree before anything new starts."""
    while _unreaped:
        kill_everything(_unreaped.pop())


def _tail(path, n):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - n))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _wipe(path):
    for entry in os.scandir(path):
        try:
            if entry.is_dir(follow_symlinks=False):
                _wipe(entry.path)
                os.rmdir(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:
            pass


_compiled_now = []


def run_job(job):
    global _compiled_now
    reap_previous()
    _compiled_now = compiled_tests(job) if job["mode"] != "stdio" else []
    _stream[0] = bool(job.get("stream"))
    os.makedirs(WORK, exist_ok=True)
    _wipe(WORK)
    n = len(job["tests"])
    stdio = job["mode"] == "stdio"
    t0 = time.monotonic()
    budget_deadline = t0 + job["budget"]
    _shm[0] = mmap.mmap(-1, HDR.size + job["limits"]["result_bytes"])  # shared with the children
    _read_off[0] = 0
    _job_fds["out"] = os.open(WORK + "/.stdout", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    _job_fds["err"] = os.open(WORK + "/.stderr", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    i = 0
    _timeouts[0], applied = 0, False
    after_timeout = job.get("after_timeout", "exact")  # the time-limit policy: docs/verifier.md
    while i is not None and i < n:
        reap_previous()
        if stdio:
            with open(WORK + "/.stdin", "w") as f:
                f.write(job["tests"][i]["stdin"])
        i = supervise(job, i, i + 1 if stdio else n, budget_deadline)
        if _timeouts[0] and not applied and i is not None and i < n:  # after the job's first timeout
            applied = True
            if after_timeout == "stop":
                event(ev="stopped", i=i)  # the rest stay not_run
                i = None
            elif after_timeout == "shared":  # the rest share one budget (then not_run), each with a shorter limit
                budget_deadline = min(budget_deadline, time.monotonic() + job["shared_budget"])
                job["timeouts"] = job["shared_timeouts"]
    event(
        ev="done",
        ms=round((time.monotonic() - t0) * 1000, 3),
        out="" if stdio else _tail(WORK + "/.stdout", 1024),
        err=_tail(WORK + "/.stderr", 1024),
    )
    os.close(_job_fds.pop("out"))
    os.close(_job_fds.pop("err"))
    _shm[0].close()  # a dying child keeps its own mapping; the next job gets a fresh block


def main():
    if _install_seccomp is not None:
        _install_seccomp()  # once, here: every child inherits the filter
    event(ev="ready", pidns=IN_PID_NAMESPACE, python=sys.version.split()[0], seccomp=_SECCOMP is not None)
    while True:
        try:
            job = read_frame()
        except EOFError:
            return
        if job.get("abort"):
            continue  # an abort that arrived after its job ended
        run_job(job)


if __name__ == "__main__":
    main()
