"""The in-sandbox half of the verifier: a warm interpreter that forks one child per run.

This file runs *inside* the sandbox as a standalone script (``python -I -S -B zygote.py``);
it imports nothing from tdrl but its neighbour ``_seccomp.py``. It is not trusted with
verdicts: it never sees expected outputs, it only runs candidate code and forwards what the
candidate produced (type-tagged plain values, stdout for stdio tests) to the trusted
parent, which judges. What it does guard is the *sandbox between samples*:

* **nothing of one sample reaches the next.** The program arrives as a raw payload read
  straight into a private mapping (``_CODE``), never a Python object of this process, and
  the mapping is dropped (zero pages) when the job ends; results go child -> shared block
  -> private copy (``_Records``) -> parent pipe without becoming Python objects here;
  stdout/stderr tails the same way. A later child forked from this process finds no
  other sample's program, answers or output in its inherited memory.
* **a child cannot reach this process.** In bubblewrap it is pid 1 of the sandbox (signals
  without a handler are dropped), not dumpable (no ``/proc/1/mem``, ``/proc/1/fd``,
  ptrace, ``pidfd_getfd``: the child has no capability in the namespace), under the
  seccomp allow-list it installs on itself, and every child closes the control pipes.
* **each sample starts clean.** After each job (while the parent judges it): every
  process of the job is killed, ``/tmp`` and ``/dev/shm`` are emptied and checked (empty,
  space back, modes as at start), and this process's rlimits, nice value, affinity and
  OOM score are compared with those it started with. Anything off and the zygote
  *retires*: it takes the next job, says why instead of running it, and exits; the parent
  starts a fresh sandbox and resends the job.
* **time comes from this process's clock only.** A test's deadline starts when this
  process sees the previous test's record, never from anything a child can write.

Wire protocol (parent <-> zygote, over the zygote's stdin/stdout):
  parent -> zygote: ``>II`` (json length, code length), the job as JSON, the program bytes
     (a job, or ``{"abort": 1}`` with no code).
  zygote -> parent: frames ``>I length`` + one type byte + payload:
     ``R`` records (the child's binary records, validated, see ``REC``),
     ``O``/``W`` the tail of the job's stdout/stderr, raw bytes,
     ``E`` a JSON event of the zygote (ready, timeout, died, malformed, budget, retire, done).
"""

import builtins
import collections
import gc
import json
import mmap
import os
import resource
import select
import signal
import stat
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _seccomp  # noqa: E402  (the file next to this one; bound next to it in the sandbox)

PREIMPORT = ("bisect collections copy datetime functools heapq itertools json math operator random re string typing").split()
for _name in PREIMPORT:
    try:
        __import__(_name)
    except ImportError:
        pass

gc.collect()
gc.freeze()  # keep the warm heap out of the children's collections: fewer copy-on-write faults

CTL_IN = os.dup(0)  # os.dup: close-on-exec
CTL_OUT = os.dup(1)
_devnull = os.open("/dev/null", os.O_RDWR)
os.dup2(_devnull, 0)
os.dup2(_devnull, 1)
os.close(_devnull)

IN_SANDBOX = os.getpid() == 1  # bwrap --as-pid-1: we are the sandbox's init
if IN_SANDBOX:
    SCRUB = ["/tmp", "/dev/shm"]  # the only writable places in the sandbox
    WORK = "/tmp/work"
else:  # no sandbox: a private folder of the parent's
    SCRUB = [sys.argv[1]]
    WORK = os.path.join(sys.argv[1], "work")
RESULT_FD = 3
CODE_MAX = 16 << 20  # the parent refuses longer programs
TAIL = 1024  # bytes of stdout/stderr sent back
WIPE_MAX_ENTRIES = 20_000  # more than this in /tmp after a sample: retire rather than spend the next one's time


def _prctl(option, value):
    import ctypes

    return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


# Python ignores SIGPIPE and SIGXFSZ at start-up; runs need the default (die), set once here.
# SIGINT is ignored here (pid 1 would get KeyboardInterrupt from a child) and reset in children.
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
signal.signal(signal.SIGINT, signal.SIG_IGN)
if not IN_SANDBOX:
    _prctl(36, 1)  # PR_SET_CHILD_SUBREAPER: orphans of a run come back to us to be reaped
if _prctl(4, 0) != 0:  # PR_SET_DUMPABLE=0: no /proc/<us>/mem, /proc/<us>/fd or ptrace for a child
    raise SystemExit("cannot make the zygote non-dumpable")

# private (copy-on-write) mappings: a child sees what was there at its fork, never later jobs
_CODE = mmap.mmap(-1, CODE_MAX, flags=mmap.MAP_PRIVATE)
_TAILBUF = mmap.mmap(-1, mmap.PAGESIZE, flags=mmap.MAP_PRIVATE)


def _proc_fd(path):
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)  # kept open: one pread per check
    except OSError:
        return None


_STATE_FDS = [fd for fd in map(_proc_fd, ("/proc/self/limits", "/proc/self/oom_score_adj", "/proc/self/autogroup")) if fd]


def _own_state():
    """What a same-uid child could change about this process from outside: rlimits (prlimit),
    OOM score and autogroup nice (/proc/1/...), nice (setpriority), CPU affinity."""
    return (
        [os.pread(fd, 4096, 0) for fd in _STATE_FDS],
        os.getpriority(os.PRIO_PROCESS, 0),
        os.sched_getaffinity(0),
    )


_STATE_AT_START = _own_state()


def _scrub_modes():
    return {root: stat.S_IMODE(os.lstat(root).st_mode) for root in SCRUB if os.path.isdir(root)}


_MODES_AT_START = _scrub_modes()


def _drop(buf, n):
    """Give ``buf``'s first ``n`` bytes back to the kernel: they read as zeros from now on."""
    if n:
        buf.madvise(mmap.MADV_DONTNEED, 0, min(len(buf), -(-n // mmap.PAGESIZE) * mmap.PAGESIZE))


# ---------------------------------------------------------------- seccomp


def _seccomp_loader():
    """Prepare everything needed to load the filter, or None on an arch without a table."""
    prog_bytes = _seccomp.program()
    if prog_bytes is None:
        return None
    import ctypes

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(prog_bytes, len(prog_bytes))
    prog = Prog(len(prog_bytes) // 8, ctypes.cast(buf, ctypes.c_void_p))

    def install():
        if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
            raise OSError(ctypes.get_errno(), "no_new_privs")
        if libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
            raise OSError(ctypes.get_errno(), "seccomp")

    return install


# ---------------------------------------------------------------- framing


_pending = []  # frames queued for the parent: header, payload, header, payload, ...


def send(kind, payload):
    """Queue one frame; ``payload`` may be a memoryview into a private buffer (valid until flush)."""
    _pending.append(struct.pack(">I", len(payload) + 1) + kind)
    _pending.append(payload)


def flush():
    """Write the queued frames, usually in one system call, then let go of their buffers."""
    bufs = [memoryview(b) for b in _pending if len(b)]
    try:
        while bufs:
            n = os.writev(CTL_OUT, bufs)
            while bufs and n >= len(bufs[0]):
                n -= len(bufs.pop(0))
            if n:
                bufs[0] = bufs[0][n:]
    finally:
        for b in _pending:
            if type(b) is memoryview:
                b.release()
        _pending.clear()


_current = [None]  # the running job's records: forwarded before any event, so the parent sees them in order


def event(**fields):
    if _current[0] is not None:
        _current[0].forward()
    send(b"E", json.dumps(fields).encode())
    flush()


def _read_exact(fd, n):
    buf = b""
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def read_frame():
    """The next job from the parent; its program goes straight into ``_CODE``, not onto our heap."""
    n_json, n_code = struct.unpack(">II", _read_exact(CTL_IN, 8))
    if n_code > CODE_MAX or n_json > (256 << 20):
        raise EOFError  # a broken parent; exit
    job = json.loads(_read_exact(CTL_IN, n_json))
    job["code_len"] = n_code
    if not n_code:
        return job
    view = memoryview(_CODE)
    got = 0
    try:
        while got < n_code:
            n = os.readv(CTL_IN, [view[got:n_code]])
            if not n:
                raise EOFError
            got += n
    finally:
        view.release()
    return job


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
            import base64

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


# The result channel: a shared memory block per job, written by the children. Header: bytes
# of records written (u64). Records follow: REC (payload length, test index, kind) then a
# JSON payload. Kinds: L loaded, F failed to load, T one test's result, E end. A child writes
# a record, then the new length, so a killed child leaves no torn record behind; it writes
# nothing on a pipe unless the job streams, so a fast test costs no system call.
#
# Record keys, one letter or word each to keep records small (the parent, tdrl.execution.verifier's
# _Judge, reads them; nothing here depends on their names but this table):
#   record kinds (REC's last byte)
#     L  loaded: the program ran to the end of its module code (payload empty)
#     F  failed to load: an exception or exit at import; payload {"x", "m"} or {"x": "MemoryError", "mem": 1}
#     T  one test's result, REC's index field = the test's position ``i`` in the job
#     E  end: the child ran every test of its slice (payload empty); a child killed early writes none
#   payload fields of T (and F) records, JSON
#     v    the value the test produced: a call's return value in the tagged form of ``encode``
#          (tdrl.execution.values.encode is its trusted twin; ``["i", hex]`` is an int past 2**53),
#          a list of them for probes, ``true`` for a script that ran, stdout text for a stdio test
#     x    the exception's class name (``UnsupportedValue``: a value ``encode`` refuses)
#     m    the exception's message, first 300 characters
#     us   the test's own time in microseconds, measured in the child (the parent keeps its own deadline)
#     mem  1: the test ran out of memory (MemoryError)
#     big  1: the result was over a limit (the value budget, the stdout size, or the record space)
#     rc   a stdio test's exit status (its SystemExit code; 0 when the program ran to its end)
HDR = struct.Struct("<Q")
REC = struct.Struct("<IIB")
K_LOADED, K_LOAD_FAILED, K_TEST, K_END = b"L"[0], b"F"[0], b"T"[0], b"E"[0]
PAYLOAD_MAX = 256 << 20
_shm = [None]


def child_main(job, start, stop):
    """Runs in the forked child: load the program, run tests[start:stop], report each one."""
    shm = _shm[0]
    size = len(shm)
    room = size - 4096  # keep room for a last "too big" record
    stream = job.get("stream")
    limits = job["limits"]
    value_budget = limits["value_nodes"]
    pack_into, unpack_from = struct.pack_into, struct.unpack_from
    rec_pack = REC.pack_into
    dumps = json.dumps

    def report(kind, i=0, rec=None):
        data = dumps(rec).encode() if rec is not None else b""
        off = HDR.size + unpack_from("<Q", shm, 0)[0]
        if off + REC.size + len(data) > room:
            if kind != K_TEST:
                return
            data = b'{"big": 1}'
            if off + REC.size + len(data) > size:
                return
        end = off + REC.size + len(data)
        shm[off + REC.size : end] = data
        rec_pack(shm, off, len(data), i, kind)
        pack_into("<Q", shm, 0, end - HDR.size)
        if stream:
            os.write(RESULT_FD, b".")

    source = _CODE[: job["code_len"]]  # our own copy of this sample's program
    stdio = job["mode"] == "stdio"
    ns = {"__name__": "__main__" if stdio else "__tdrl_candidate__", "__builtins__": builtins}
    if stdio:
        try:
            code = compile(source, "<candidate>", "exec")
        except BaseException as exc:
            report(K_LOAD_FAILED, 0, {"x": _exc_name(exc), "m": _exc_msg(exc)})
            return
        report(K_LOADED)
        t0 = time.perf_counter()
        try:
            exit_code = 0
            try:
                exec(code, ns)
            except SystemExit as exc:
                exit_code = exc.code if type(exc.code) is int else (0 if exc.code is None else 1)
            dt = time.perf_counter() - t0
            sys.stdout.flush()
            size_out = os.lseek(1, 0, os.SEEK_END)
            if size_out > limits["stdout_bytes"]:
                report(K_TEST, start, {"big": 1})
                return
            os.lseek(1, 0, os.SEEK_SET)
            data = b""
            while len(data) < size_out:
                chunk = os.read(1, size_out - len(data))
                if not chunk:
                    break
                data += chunk
            report(K_TEST, start, {"v": data.decode("utf-8", "replace"), "rc": exit_code, "us": int(dt * 1e6)})
        except MemoryError:
            report(K_TEST, start, {"x": "MemoryError", "mem": 1})
        except BaseException as exc:
            report(K_TEST, start, {"x": _exc_name(exc), "m": _exc_msg(exc)})
        os.write(RESULT_FD, b"!")
        return

    try:
        exec(compile(source, "<candidate>", "exec"), ns)
    except MemoryError:
        report(K_LOAD_FAILED, 0, {"x": "MemoryError", "mem": 1})
        return
    except BaseException as exc:
        report(K_LOAD_FAILED, 0, {"x": _exc_name(exc), "m": _exc_msg(exc)})
        return
    del source
    report(K_LOADED)
    compiled = _compiled_now
    no_builtins = {"__builtins__": {}}
    perf = time.perf_counter
    for i in range(start, stop):
        test = job["tests"][i]
        kind = test["k"]
        code = compiled[i]
        t0 = perf()
        try:
            if isinstance(code, BaseException):
                raise code
            if kind == "call":
                fn = (
                    getattr(ns[test["cls"]](), test["fn"]) if "cls" in test else ns[test["fn"]]
                )  # the program's own names, never builtins; method: a fresh instance
                value = fn(*eval(code, no_builtins))  # a literal: fresh objects on every run
                dt = perf() - t0
                rec = {"v": encode(value, [value_budget]), "us": int(dt * 1e6)}
            elif kind == "probes":
                for name in test.get("need", ()):  # the problem's names must be the program's, not builtins
                    if name not in ns:
                        raise NameError(f"name {name!r} is not defined")
                values = [eval(c, ns) for c in code]
                dt = perf() - t0
                rec = {"v": [encode(v, [value_budget]) for v in values], "us": int(dt * 1e6)}
            else:  # script: runs in the candidate's namespace; passes when it raises nothing
                exec(code, ns)
                dt = perf() - t0
                rec = {"v": True, "us": int(dt * 1e6)}
        except MemoryError:
            rec = {"x": "MemoryError", "mem": 1}
        except TooBig:
            rec = {"big": 1}
        except Unsupported as exc:
            rec = {"x": "UnsupportedValue", "m": str(exc)}
        except BaseException as exc:
            rec = {"x": _exc_name(exc), "m": _exc_msg(exc)}
        report(K_TEST, i, rec)
    report(K_END)
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
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            signal.signal(signal.SIGINT, signal.default_int_handler)
            if "in" in _job_fds:  # first: it may sit on any number above 2
                os.dup2(_job_fds["in"], 0)
            os.dup2(_job_fds["out"], 1)
            os.dup2(_job_fds["err"], 2)
            os.dup2(w, RESULT_FD)  # after 1 and 2: the job fds may sit on 3
            os.closerange(RESULT_FD + 1, 65536)  # the control pipes among them
            os.chdir(WORK)
            if job["mode"] == "stdio":
                os.ftruncate(1, 0)  # each stdio test starts with empty stdout
                os.lseek(1, 0, os.SEEK_SET)
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
        if IN_SANDBOX:
            try:
                os.kill(-1, signal.SIGKILL)  # everyone in this namespace but us
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


class _Records:
    """This job's records as the zygote checked them, in a private copy the children cannot touch.

    New bytes are copied from the shared block (buffer to buffer, no Python object holds
    them), then validated in the copy: what was validated is exactly what is forwarded.
    Progress (which test runs, since when) comes from these records and our own clock.
    """

    def __init__(self, size):
        self.buf = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)
        self.copied = 0  # bytes copied from the shared block
        self.valid = 0  # bytes of whole, validated records
        self.sent = 0  # bytes forwarded to the parent
        self.loaded = False
        self.finished = False  # the child said it is done (end, or failed to load)
        self.bad = False  # a record broke the rules: the child is stopped, its test is an error
        self.cur = 0  # index of the next test result expected

    def start_run(self, start):
        """A new child continues after the last valid record, whatever the last one wrote."""
        struct.pack_into("<Q", _shm[0], 0, self.valid)
        self.copied = self.valid
        self.loaded, self.cur, self.finished, self.bad = False, start, False, False

    def pull(self):
        """Copy and check what the child appended; True when a test (or the load) completed."""
        if self.bad:
            return False
        shm = _shm[0]
        written = min(struct.unpack_from("<Q", shm, 0)[0], len(shm) - HDR.size, len(self.buf))
        if written <= self.copied:
            return False
        dst = memoryview(self.buf)
        src = memoryview(shm)
        try:
            dst[self.copied : written] = src[HDR.size + self.copied : HDR.size + written]
        finally:
            dst.release()
            src.release()
        self.copied = written
        advanced = False
        while not self.bad and self.valid + REC.size <= self.copied:
            n, i, kind = REC.unpack_from(self.buf, self.valid)
            end = self.valid + REC.size + n
            if n > PAYLOAD_MAX or end > len(self.buf):
                self.bad = True
                break
            if end > self.copied:
                break  # not committed yet
            if self.finished:
                self.bad = True
            elif not self.loaded:
                if kind == K_LOADED and n == 0:
                    self.loaded = advanced = True
                elif kind == K_LOAD_FAILED:
                    self.finished = advanced = True
                else:
                    self.bad = True
            elif kind == K_TEST and i == self.cur:
                self.cur += 1
                advanced = True
            elif kind == K_END and n == 0:
                self.finished = True
            else:
                self.bad = True
            if not self.bad:
                self.valid = end
        return advanced

    def forward(self):
        """Queue the validated records not sent yet (``flush`` writes them)."""
        if self.valid > self.sent:
            send(b"R", memoryview(self.buf)[self.sent : self.valid])
            self.sent = self.valid

    def close(self):
        self.buf.close()


TICK = 0.05  # how often the zygote looks at a child's progress when nothing wakes it


def supervise(job, records, start, stop, budget_deadline):
    """Run tests[start:stop] in one child; return the next index to run, or None to end the job."""
    records.start_run(start)  # before the fork: the child appends after the last valid record
    pid, r = fork_child(job, start, stop)
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    poller.register(r, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    poller.register(CTL_IN, select.POLLIN)
    timeouts = job["timeouts"]
    stream = job.get("stream")
    deadline = time.monotonic() + job["load_timeout"]

    def look():
        """Read the child's progress; True when the job or this run is over."""
        nonlocal deadline
        if records.pull() and records.loaded and records.cur < stop:
            deadline = time.monotonic() + timeouts[records.cur]  # our clock, when we saw the record
        if stream:
            records.forward()
            flush()
        return records.bad or records.finished or (records.loaded and records.cur >= stop)

    def ended():
        if records.bad:
            event(ev="malformed", i=records.cur, load=not records.loaded)
            return None if not records.loaded else records.cur + 1
        if records.finished and not records.loaded:
            return None
        return len(job["tests"]) if records.finished else stop

    try:
        while True:
            now = time.monotonic()
            if min(deadline, budget_deadline) <= now:
                if look():
                    return ended()
                if budget_deadline <= deadline:
                    event(ev="budget", i=records.cur)
                    return None
                event(ev="timeout", i=records.cur, load=not records.loaded)
                _timeouts[0] += 1
                return None if not records.loaded else records.cur + 1
            wait = min(deadline, budget_deadline, now + TICK) - now
            exited = False
            for fd, _ in poller.poll(max(1, int(wait * 1000) + 1)):
                if fd == CTL_IN:
                    if read_frame().get("abort"):
                        look()
                        event(ev="aborted")
                        return None
                elif fd == pidfd:
                    exited = True
                elif fd == r:
                    if not os.read(r, 1 << 16):
                        poller.unregister(r)
            if look():
                return ended()
            if exited:
                _, status = os.waitpid(pid, 0)
                sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
                code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
                if look():
                    return ended()
                event(ev="died", i=records.cur, load=not records.loaded, sig=sig, code=code)
                return None if not records.loaded else records.cur + 1
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


def _send_tail(kind, fd, at):
    """Queue the last TAIL bytes of a job file, read into a private page (dropped after the job)."""
    try:
        size = os.fstat(fd).st_size
        n = os.preadv(fd, [memoryview(_TAILBUF)[at : at + TAIL]], max(0, size - TAIL))
    except OSError:
        n = 0
    send(kind, memoryview(_TAILBUF)[at : at + n])


# ---------------------------------------------------------------- the work area


class Retire(Exception):
    """The sandbox is no longer as it started: this zygote must not run another sample."""


def _wipe(root, keep=None):
    """Delete everything under ``root`` (not following links) but the folder ``keep``'s own
    entry (its contents go), or raise Retire."""
    stack, dirs, seen = [root], [], 0
    while stack:
        path = stack.pop()
        if path != root and path != keep:
            os.chmod(path, 0o700)  # a sample may have made its folders unreadable
        with os.scandir(path) as entries:
            for entry in entries:
                seen += 1
                if seen > WIPE_MAX_ENTRIES:
                    raise Retire(f"more than {WIPE_MAX_ENTRIES} files left in {root}")
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                    if entry.path != keep:
                        dirs.append(entry.path)
                else:
                    os.unlink(entry.path)
    for path in reversed(dirs):
        os.rmdir(path)


JOB_FILES = (".stdout", ".stderr")  # what run_job creates in the work folder


def restore_work_area(job_files=()):
    """Empty the writable places and check they are as at start; raise Retire if not.

    Fast path, after an ordinary sample: the job files ``run_job`` made are removed, and
    then the work folder, ``/tmp`` and ``/dev/shm`` must be exactly as right after the first
    full restore (see :func:`_clean_already`). Anything else: every entry is deleted, then
    counted again.
    """
    try:
        if not (IN_SANDBOX and _clean_already(job_files)):
            _restore_fully()
    except OSError as exc:
        raise Retire(f"cannot restore the work area: {exc}") from None
    if _own_state() != _STATE_AT_START:
        raise Retire("the zygote's limits, priority, affinity or OOM score changed")


def _counts():
    out = []
    for root in _MODES_AT_START:
        fs = os.statvfs(root)
        out.append((fs.f_files - fs.f_ffree, fs.f_blocks - fs.f_bfree > 8))
    return out


def _roots():
    """What a sample could change about the work folder and the mount roots, in one lstat each:
    the work folder's identity (a renamed or replaced one is another inode) and every mode."""
    st = os.lstat(WORK)
    return (st.st_ino, st.st_mode, *(os.lstat(root).st_mode for root in _MODES_AT_START))


def _clean_already(job_files):
    """True when unlinking exactly the job's own files leaves the clean start, proven without a listing.

    Every file, folder, link, fifo or socket on a tmpfs holds an inode, so the same number
    of inodes in use on each mount as at the clean start (when only the work folder
    existed) means nothing else is there: an extra name, a hard link keeping one of our
    files alive, or a renamed job file (its unlink fails) all show up. The work folder
    must still be the same inode with the same mode, the roots keep their modes.
    """
    if not _CLEAN_ROOTS:
        return False
    try:
        for name in job_files:
            os.unlink(WORK + "/" + name)
    except OSError:
        return False  # a sample moved, removed or replaced one: the full restore finds out what else
    return _roots() == _CLEAN_ROOTS[0] and _counts() == _CLEAN


def _restore_fully():
    try:
        st = os.lstat(WORK)
        keep = WORK if stat.S_ISDIR(st.st_mode) else None  # a real folder: keep it, empty it
        if keep and stat.S_IMODE(st.st_mode) != 0o700:
            os.chmod(WORK, 0o700)
    except FileNotFoundError:
        keep = None
    for root, mode in _MODES_AT_START.items():
        st = os.lstat(root)
        if not stat.S_ISDIR(st.st_mode):
            raise Retire(f"{root} is no longer a folder")
        if stat.S_IMODE(st.st_mode) != mode:
            os.chmod(root, mode)
        _wipe(root, keep)
    if not keep:
        os.mkdir(WORK, 0o700)
    if IN_SANDBOX:  # our own tmpfs mounts: files in use (inodes) and blocks tell what is left
        counts = _counts()
        if _CLEAN and counts != _CLEAN:
            raise Retire("the work area is not empty after the wipe, or did not get its space back")
        _CLEAN[:] = counts
        # the fast path trusts inode counts: only where each tmpfs has a finite inode table
        _CLEAN_ROOTS[:] = [_roots()] if all(os.statvfs(root).f_files for root in _MODES_AT_START) else []
    else:
        for root in _MODES_AT_START:
            if os.listdir(root) != [os.path.basename(WORK)]:
                raise Retire(f"{root} is not empty after the wipe")


_CLEAN = []  # inode and block counts of the writable places right after the first restore
_CLEAN_ROOTS = []  # and the work folder's inode and mode, the roots' modes (see _roots)


_compiled_now = []


def _stdin_file(text):
    """A stdio test's stdin as an anonymous file (read from the start by the child).

    Never a path in the work folder: the previous test's child could have put a fifo
    there (an ``open`` for writing would block this process for good) or a link to one
    of this process's own ``/proc/self/fd`` entries.
    """
    fd = os.memfd_create("stdin", os.MFD_CLOEXEC)
    data, at = text.encode("utf-8", "surrogateescape"), 0
    while at < len(data):
        at += os.write(fd, data[at:])
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def run_job(job):
    global _compiled_now
    reap_previous()
    _compiled_now = compiled_tests(job) if job["mode"] != "stdio" else []
    n = len(job["tests"])
    stdio = job["mode"] == "stdio"
    t0 = time.monotonic()
    budget_deadline = t0 + job["budget"]
    _shm[0] = mmap.mmap(-1, HDR.size + job["limits"]["result_bytes"])  # shared with the children
    records = _current[0] = _Records(job["limits"]["result_bytes"])
    _job_fds["out"] = os.open(WORK + "/.stdout", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    _job_fds["err"] = os.open(WORK + "/.stderr", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        i = 0
        _timeouts[0], applied = 0, False
        after_timeout = job.get("after_timeout", "exact")  # the time-limit policy: docs/verifier.md
        while i is not None and i < n:
            reap_previous()
            if stdio:
                _job_fds["in"] = _stdin_file(job["tests"][i]["stdin"])
            try:
                i = supervise(job, records, i, i + 1 if stdio else n, budget_deadline)
            finally:
                if stdio:
                    os.close(_job_fds.pop("in"))
            if _timeouts[0] and not applied and i is not None and i < n:  # after the job's first timeout
                applied = True
                if after_timeout == "stop":
                    event(ev="stopped", i=i)  # the rest stay not_run
                    i = None
                elif after_timeout == "shared":  # the rest share one budget (then not_run), each with a shorter limit
                    budget_deadline = min(budget_deadline, time.monotonic() + job["shared_budget"])
                    job["timeouts"] = job["shared_timeouts"]
        records.forward()
        if not stdio:
            _send_tail(b"O", _job_fds["out"], 0)
        _send_tail(b"W", _job_fds["err"], 2 * TAIL)
        event(ev="done", ms=round((time.monotonic() - t0) * 1000, 3))  # one write for all of it
    finally:
        os.close(_job_fds.pop("out"))
        os.close(_job_fds.pop("err"))
        records.close()
        _shm[0].close()  # a dying child keeps its own mapping; the next job gets a fresh block
        _pending.clear()
        _current[0] = None
        _drop(_CODE, job["code_len"])
        _drop(_TAILBUF, len(_TAILBUF))


def retire(why):
    """Take the next job off the pipe (so the parent's write succeeds), say why we stop, exit."""
    try:
        while read_frame().get("abort"):
            pass
    except EOFError:
        return
    event(ev="retire", why=why[:300])


def main():
    install = _seccomp_loader()
    if install is not None:
        install()  # once, here: every child inherits the filter
    try:
        restore_work_area()
    except Retire as exc:
        raise SystemExit(f"the sandbox is not as expected: {exc}") from None
    event(ev="ready", pidns=IN_SANDBOX, python=sys.version.split()[0], seccomp=install is not None)
    while True:
        try:
            job = read_frame()
        except EOFError:
            return
        if job.get("abort"):
            continue  # an abort that arrived after its job ended
        run_job(job)
        try:  # clean up for the next sample while the parent judges this one
            reap_previous()
            restore_work_area(JOB_FILES)
        except Retire as exc:
            retire(str(exc))
            return


if __name__ == "__main__":
    main()
