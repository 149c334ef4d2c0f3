"""One sandboxed zygote and the trusted parent's end of its pipes.

A :class:`Worker` starts the sandbox, sends it one job at a time and collects what comes
back: the child's records and the zygote's events. It never judges. Every frame is checked
by type and size before use. If the sandbox dies, stops answering, floods the pipe or sends
a malformed frame, the worker kills it and raises :class:`WorkerDied`; the next job gets a
fresh sandbox. A zygote that *retires* (its work area or limits are no longer as they
started) is replaced and the job resent, invisibly to the sample.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import struct
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tdrl.execution.plan import dump_job
from tdrl.execution.sandbox import Cgroup, spawn_zygote


class WorkerDied(RuntimeError):
    """The sandbox ended or misbehaved in the middle of a job."""


class WorkerStartFailed(RuntimeError):
    """The sandbox could not be started (an infrastructure error)."""


@dataclass
class Limits:
    """Resource limits of one run (see docs/verifier.md for the time policy)."""

    memory_bytes: int = 2 << 30
    stdout_bytes: int = 8 << 20
    result_bytes: int = 64 << 20
    value_nodes: int = 2_000_000
    nproc: int = 64
    tmp_bytes: int = 64 << 20


CODE_MAX = 16 << 20  # the zygote's program buffer (``_zygote.CODE_MAX``)
EVENT_MAX = 64 << 10
TAIL_MAX = 4096
RETIRES_PER_JOB = 3


@dataclass
class JobOutput:
    """What came back for one job, in arrival order: blocks of records and zygote events."""

    items: list[tuple[str, bytes | dict]] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""

    @property
    def events(self) -> list[dict]:
        return [v for k, v in self.items if k == "E"]  # type: ignore[misc]


class Worker:
    """A zygote in its sandbox, plus its cgroup."""

    def __init__(self, index: int, mode: str, limits: Limits):
        self.index, self.mode, self.limits = index, mode, limits
        self.proc = None
        self.cgroup: Cgroup | None = None
        self.workdir: str | None = None
        self.buf = b""
        self._isolation = ""
        self.retired = ""  # why the last zygote retired, if one did

    @property
    def isolation(self) -> str:
        """The isolation this worker had at its last start: ``bwrap+cgroup``, ``none``, ..."""
        return self._isolation or self.mode

    def start(self) -> None:
        name = f"tdrl-{os.getpid()}-{self.index}-{time.monotonic_ns() % 10**9}"
        self.cgroup = Cgroup.create(name, self.limits.memory_bytes + (256 << 20), self.limits.nproc + 4)
        if self.mode == "none":
            self.workdir = tempfile.mkdtemp(prefix="tdrl-run-")
        self.proc = spawn_zygote(self.mode, self.limits.tmp_bytes, self.cgroup, self.workdir)
        self._isolation = self.mode + ("+cgroup" if self.cgroup else "")
        self.buf = b""
        try:
            kind, payload = self._read_frame(time.monotonic() + 30)
        except WorkerDied as exc:
            err = self._stderr()
            self.stop()
            raise WorkerStartFailed(f"sandbox did not start: {exc} {err}".strip()) from None
        if kind != b"E" or json.loads(payload).get("ev") != "ready":
            self.stop()
            raise WorkerStartFailed("sandbox sent an unexpected first message")

    def _stderr(self) -> str:
        try:
            if self.proc and self.proc.stderr and select.select([self.proc.stderr], [], [], 0)[0]:
                return self.proc.stderr.read1(2000).decode("utf-8", "replace")  # type: ignore[attr-defined]
        except (OSError, ValueError):
            pass
        return ""

    def stop(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                self.proc.kill()
            except OSError:
                pass
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                try:
                    stream.close()  # type: ignore[union-attr]
                except OSError:
                    pass
            self.proc = None
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _send(self, obj: dict, code: bytes = b"") -> None:
        data = dump_job(obj)
        try:
            self.proc.stdin.write(struct.pack(">II", len(data), len(code)) + data + code)  # type: ignore[union-attr]
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise WorkerDied(f"sandbox stdin closed: {exc}") from None

    def _read_frame(self, deadline: float) -> tuple[bytes, bytes]:
        fd = self.proc.stdout.fileno()  # type: ignore[union-attr]
        while True:
            if len(self.buf) >= 4:
                (n,) = struct.unpack(">I", self.buf[:4])
                if n > self.limits.result_bytes + 64 or n == 0:
                    raise WorkerDied("oversized frame from sandbox")
                if len(self.buf) >= 4 + n:
                    frame, self.buf = self.buf[4 : 4 + n], self.buf[4 + n :]
                    return frame[:1], frame[1:]
            wait = deadline - time.monotonic()
            if wait <= 0:
                raise WorkerDied("sandbox stopped answering")
            if not select.select([fd], [], [], wait)[0]:
                continue
            chunk = os.read(fd, 1 << 17)
            if not chunk:
                raise WorkerDied("sandbox exited")
            self.buf += chunk

    def run(
        self,
        job: dict,
        code: bytes,
        backstop_s: float,
        on_records: Callable[[bytes], bool] | None = None,
        on_event: Callable[[dict], None] | None = None,
    ) -> JobOutput:
        """Run one job. When streaming, ``on_records``/``on_event`` see everything as it arrives,
        in order; ``on_records`` may return True to abort the rest (stop at first failure)."""
        if len(code) > CODE_MAX:
            raise ValueError(f"program longer than {CODE_MAX} bytes")
        for _ in range(RETIRES_PER_JOB):
            out = self._run_once(job, code, backstop_s, on_records, on_event)
            if out is not None:
                return out
        raise WorkerDied("the sandbox retired again and again")

    def _run_once(self, job, code, backstop_s, on_records, on_event) -> JobOutput | None:
        """One try; None when the zygote retired before starting (the job is then resent)."""
        if not self.alive:
            self.stop()
            self.start()
        out = JobOutput()
        oom_before = self.cgroup.oom_kills() if self.cgroup else 0
        self._send(job, code)
        deadline = time.monotonic() + backstop_s
        received = 0
        aborted = False
        try:
            while True:
                kind, payload = self._read_frame(deadline)
                if kind == b"R":
                    received += len(payload)
                    if received > self.limits.result_bytes:
                        raise WorkerDied("sandbox sent too much data")
                    out.items.append(("R", payload))
                    if on_records is not None and not aborted and on_records(payload):
                        aborted = True
                        self._send({"abort": 1})
                elif kind in (b"O", b"W"):
                    if len(payload) > TAIL_MAX:
                        raise WorkerDied("oversized output tail from sandbox")
                    text = payload.decode("utf-8", "replace")
                    if kind == b"O":
                        out.stdout = text
                    else:
                        out.stderr = text
                elif kind == b"E":
                    ev = _event(payload)
                    if ev["ev"] == "retire":
                        if out.items:
                            raise WorkerDied("sandbox retired in the middle of a job")
                        self.retired = str(ev.get("why", ""))[:300]
                        self.stop()
                        return None
                    if ev["ev"] == "died" and ev.get("sig") == signal.SIGKILL and self.cgroup:
                        ev["oom"] = self.cgroup.oom_kills() > oom_before
                        oom_before = self.cgroup.oom_kills()
                    out.items.append(("E", ev))
                    if on_event is not None:
                        on_event(ev)
                    if ev["ev"] == "done":
                        return out
                else:
                    raise WorkerDied("unknown frame type from sandbox")
        except WorkerDied as exc:
            self.stop()
            raise WorkerDied(str(exc)) from None


_EVENT_FIELDS = {"ev": str, "i": int, "load": bool, "sig": int, "code": (int, type(None)), "ms": (int, float), "why": str}


def _event(payload: bytes) -> dict:
    """A zygote event, checked: a JSON object of known fields with the right types."""
    if len(payload) > EVENT_MAX:
        raise WorkerDied("oversized event from sandbox")
    try:
        ev = json.loads(payload)
    except (ValueError, RecursionError):
        raise WorkerDied("malformed event from sandbox") from None
    if type(ev) is not dict or type(ev.get("ev")) is not str:
        raise WorkerDied("malformed event from sandbox")
    for key, value in ev.items():
        want = _EVENT_FIELDS.get(key)
        if want is not None and not isinstance(value, want) or (want is int and type(value) is bool):
            raise WorkerDied(f"malformed event field {key!r} from sandbox")
    return ev
