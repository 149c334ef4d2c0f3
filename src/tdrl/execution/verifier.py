"""The verifier: pools of sandboxed workers and the trusted judge of what they report.

``Verifier.submit(problem, sample)`` returns a future of a :class:`~tdrl.records.Result`;
``verify_async`` awaits one; :func:`verify` runs many with a progress bar. Verdicts are
computed here, from the values the sandbox sent back (see ``tdrl.execution``).

Two pools that never share a sandbox: *samples* (``submit``/``check``/``map``) and
*values* (``submit_values``/``run_values``/``calibrate``: references, ground truth,
mutants), so a reference never runs in a zygote that untrusted samples fork from.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import struct
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass

from tdrl.errors import ConfigError
from tdrl.execution.asserts import CheckError
from tdrl.execution.calibration import CalibrationCache, known_reference_ms
from tdrl.execution.extract import extract_code
from tdrl.execution.plan import ProblemPlan, compile_problem, content_key
from tdrl.execution.sandbox import resolve_mode
from tdrl.execution.values import Budget, DecodeError, OverBudget, decode
from tdrl.execution.worker import CODE_MAX, Limits, Worker, WorkerDied, WorkerStartFailed
from tdrl.records import Problem, Result, ResultStatus, Sample, TestResult

AFTER_TIMEOUT = ("exact", "stop", "shared")


@dataclass
class TimePolicy:
    """How long a run may take (all in seconds).

    * each test gets ``timeout``; with a reference solution measured by
      :meth:`Verifier.calibrate`, ``max(min_timeout, factor * reference_time)`` instead
      (EvalPlus's rule with its defaults, 1 s and 4x);
    * loading the program (imports, top-level code) gets ``load_timeout``;
    * the whole sample gets ``load_timeout + sum(per-test limits)``, at most ``max_sample``;
      tests still waiting when it runs out are ``not_run``;
    * after a sample's first timed-out test, ``after_timeout`` decides the rest: ``exact``
      runs each remaining test with its full limit (pass rates exact, a looping sample costs
      a limit per test), ``stop`` ends the sample (the rest ``not_run``), ``shared`` gives
      all the remaining tests together ``shared_factor x`` the problem's largest per-test
      limit, each test at most ``max(shared_floor, factor x reference time)`` (tests still
      waiting when the budget runs out are ``not_run``). Either way the verdict is the same
      (a timed-out test fails the sample); see docs/verifier.md, "Time limits".
    """

    timeout: float = 3.0
    min_timeout: float = 1.0
    factor: float = 4.0
    load_timeout: float = 5.0
    max_sample: float = 60.0
    after_timeout: str = "shared"
    shared_factor: float = 1.0
    shared_floor: float = 0.1

    def __post_init__(self) -> None:
        if self.after_timeout not in AFTER_TIMEOUT:
            raise ConfigError(f"after_timeout must be one of {', '.join(AFTER_TIMEOUT)}, got {self.after_timeout!r}")


_REC = struct.Struct("<IIB")  # a child's record: payload length, test index, kind (``_zygote.REC``)
_K_LOADED, _K_LOAD_FAILED, _K_TEST, _K_END = b"LFTE"
_SIZE_FACTOR = 48  # an encoded value equal to the expected one is at most this many times its size, + 1 KB


class _Judge:
    """Turns the sandbox's records and events for one job into per-test verdicts.

    Everything it reads crossed from the sandbox: records are parsed by their binary
    header, taken only in order, and their JSON rebuilt within a budget (``values.Budget``)
    shared by the whole sample, so no value shape can make judging slow for other samples.
    """

    def __init__(self, plan: ProblemPlan):
        n = len(plan.checks)
        self.plan = plan
        self.status: list[str | None] = [None] * n
        self.errors: list[str | None] = [None] * n
        self.times = [0.0] * n
        self.next = 0
        self.load_error: str | None = None
        self.violations = 0
        self.budget = Budget()
        self.caps = _size_caps(plan)

    def records(self, block: bytes) -> bool:
        """Judge a block of records; True when one of them is a failure (for stop-at-first-failure)."""
        recs, intact = _split_records(block)
        tests = _payloads([p for kind, _, p in recs if kind == _K_TEST])
        failed = False
        for kind, i, payload in recs:
            if kind == _K_LOADED or kind == _K_END:
                continue
            if kind == _K_LOAD_FAILED:
                rec = _payload(payload) or {}
                self.load_error = f"{_text(rec.get('x'), 'Error')}: {_text(rec.get('m'), '')}".strip(": ")
                if rec.get("mem"):
                    self.load_error = "memory: " + self.load_error
                failed = True
            elif kind == _K_TEST and i == self.next and i < len(self.status):
                failed = self.test(i, len(payload), next(tests)) or failed
            else:
                return self._violation() or failed
        return failed if intact else self._violation() or failed

    def _violation(self) -> bool:
        """A record out of order or malformed: the test it stands for is an error."""
        self.violations += 1
        if self.next < len(self.status):
            self._set(self.next, "error", "malformed result")
            self.next += 1
        return True

    def test(self, i: int, size: int, rec: dict | None) -> bool:
        self.next = i + 1
        if rec is None:
            self.status[i], self.errors[i] = "error", "malformed result"
            return True
        us = rec.get("us")
        if type(us) is int and 0 <= us < 10**12:
            self.times[i] = us / 1000
        try:
            status, error = self._verdict(i, rec, size)
        except OverBudget as exc:
            status, error = "output_limit", str(exc)
        except DecodeError as exc:
            status, error = "error", f"malformed result: {exc}"[:500]
        except CheckError as exc:
            status, error = "error", str(exc)
        except (RecursionError, MemoryError, ValueError, TypeError, OverflowError) as exc:
            status, error = "error", f"cannot judge the value: {type(exc).__name__}"
        self.status[i], self.errors[i] = status, error
        return status != "pass"

    def _verdict(self, i: int, rec: dict, size: int) -> tuple[str, str | None]:
        check = self.plan.checks[i]
        if rec.get("mem"):
            return "memory", "MemoryError"
        if rec.get("big"):
            return "output_limit", "output too large"
        if "x" in rec:
            return "error", f"{_text(rec['x'], 'Error')}: {_text(rec.get('m'), '')}"[:500]
        if "v" not in rec:
            return "error", "malformed result"
        if check.kind == "call":
            if rec["v"] == check.expected_encoded:  # same tagged form: equal values
                return "pass", None
            if size > self.caps[i]:
                return "fail", None  # far bigger than anything equal to the expected value
            actual = decode(rec["v"], budget=self.budget)
            return ("pass", None) if check.value_passes(actual) else ("fail", None)
        if check.kind == "probes":
            raw = rec["v"]
            if type(raw) is not list or len(raw) != len(check.assert_plan.probes):  # type: ignore[union-attr]
                return "error", "malformed result"
            ok = check.assert_plan.check([decode(v, budget=self.budget) for v in raw])  # type: ignore[union-attr]
            return ("pass", None) if ok else ("fail", "AssertionError")
        if check.kind == "script":
            return ("pass", None) if rec["v"] is True else ("error", "malformed result")
        out, rc = rec["v"], rec.get("rc", 0)
        if type(out) is not str or type(rc) is not int:
            return "error", "malformed result"
        if rc != 0:
            return "error", f"exit code {rc}"
        if len(out) > self.caps[i]:
            return "fail", None  # far longer than the expected output: unread (no rule pass costs seconds of the parent)
        return ("pass", None) if check.stdout_passes(out) else ("fail", None)

    def event(self, ev: dict) -> None:
        kind = ev.get("ev")
        i = ev.get("i")
        if kind in ("timeout", "died", "malformed") and ev.get("load"):
            what = {"timeout": "timeout"}.get(kind, "error")
            self.load_error = (
                self.load_error
                or {
                    "timeout": "program did not finish loading in time",
                    "malformed": "malformed result while loading",
                }.get(kind)
                or _death(ev)
            )
            self._fill(0, what, self.load_error)
            return
        if type(i) is not int or not 0 <= i < len(self.status):
            return
        if kind == "timeout":
            self._set(i, "timeout", "time limit exceeded")
        elif kind == "malformed":
            self._set(i, "error", "malformed result")
        elif kind == "died":
            if ev.get("sig") == signal.SIGXFSZ:
                self._set(i, "output_limit", "output limit exceeded")
            elif ev.get("sig") == signal.SIGXCPU:
                self._set(i, "timeout", "CPU time limit exceeded")
            elif ev.get("oom"):
                self._set(i, "memory", "killed: out of memory")
            else:
                self._set(i, "error", _death(ev))
        elif kind == "budget":
            self._set(i, "timeout", "sample time budget exhausted")
        if kind in ("timeout", "died", "malformed"):
            self.next = max(self.next, i + 1)

    def _set(self, i: int, status: str, error: str) -> None:
        if self.status[i] is None:
            self.status[i], self.errors[i] = status, error

    def _fill(self, start: int, status: str, error: str | None) -> None:
        for i in range(start, len(self.status)):
            self._set(i, status, error or "")

    def tests(self) -> list[TestResult]:
        out = []
        for s, e, t in zip(self.status, self.errors, self.times):
            out.append(TestResult(s or "not_run", t, e))
        return out


def _split_records(block: bytes) -> tuple[list[tuple[int, int, bytes]], bool]:
    """(kind, test index, payload) per record, and whether the block ended on a record boundary."""
    recs, off, size = [], 0, len(block)
    while off < size:
        if off + _REC.size > size:
            return recs, False
        n, i, kind = _REC.unpack_from(block, off)
        start, off = off + _REC.size, off + _REC.size + n
        if off > size:
            return recs, False
        recs.append((kind, i, block[start:off]))
    return recs, True


def _payloads(datas: list[bytes]) -> Iterator[dict | None]:
    """The records' JSON objects (None for one that is not), parsed in one call when all are well formed."""
    try:
        parsed = json.loads(b"[" + b",".join(datas) + b"]") if datas else []
    except (ValueError, RecursionError, UnicodeDecodeError):
        parsed = None
    if parsed is None or len(parsed) != len(datas):  # one bad payload, or one that held a comma-joined pair
        yield from (_payload(d) for d in datas)
    else:
        yield from (p if type(p) is dict else None for p in parsed)


def _payload(data: bytes) -> dict | None:
    """A record's JSON object, or None when it is not one."""
    try:
        rec = json.loads(data)
    except (ValueError, RecursionError, UnicodeDecodeError):
        return None
    return rec if type(rec) is dict else None


def _text(v: object, default: str) -> str:
    return v[:300] if type(v) is str else default


def _size_caps(plan: ProblemPlan) -> list[int]:
    """Per call test, the record size past which the answer cannot equal the expected value; per
    stdio test, the output length (characters) past which it is judged ``fail`` unread.

    The stdio rules cost the parent about a second per megabyte of output (the dataset rules
    split, parse and build token sets), and a sample may print up to ``Limits.stdout_bytes`` on
    every test; an output over 48x the expected one plus 64 KB only passes under APPS's and
    TACO's repeat-blind token-set steps (``"1 " * 10**6`` for ``"1"``), which tdrl does not follow
    that far.
    """
    caps = plan.__dict__.get("_judge_caps")
    if caps is None:
        caps = []
        for c in plan.checks:
            if c.kind == "stdio":
                caps.append(_SIZE_FACTOR * len(c.expected or "") + (64 << 10))
                continue
            try:
                size = len(json.dumps(c.expected_encoded)) if c.kind == "call" else 0
            except (TypeError, ValueError):
                size = len(repr(c.expected))
            caps.append(_SIZE_FACTOR * size + 1024)
        plan.__dict__["_judge_caps"] = caps
    return caps


def _death(ev: dict) -> str:
    if ev.get("sig"):
        try:
            name = signal.Signals(ev["sig"]).name
        except ValueError:
            name = str(ev["sig"])
        return f"killed by {name}"
    return f"process exited (code {ev.get('code')})"


def _summary(tests: list[TestResult], load_error: str | None) -> tuple[str, float]:
    passed = sum(t.status == "pass" for t in tests)
    rate = passed / len(tests) if tests else 0.0
    if any(t.status == "infra_error" for t in tests):
        return "infra_error", rate
    if load_error:
        return "error", rate
    return ("pass" if tests and passed == len(tests) else "fail"), rate


class Verifier:
    """A pool of sandboxed workers; thread-safe; use as a context manager.

    Args:
        workers: parallel sandboxes (default: CPU count).
        sandbox: ``auto`` (bubblewrap if it works, else rlimits only, loudly), ``bwrap``
            (required) or ``none``.
        time: the :class:`TimePolicy`; ``timeout`` is the per-test limit.
        limits: memory/output/process :class:`Limits`.
        stop_on_first_failure: end a sample at its first non-passing test (faster verdicts;
            remaining tests are ``not_run`` so pass rates are lower bounds).
    """

    def __init__(
        self,
        workers: int | None = None,
        sandbox: str = "auto",
        time_policy: TimePolicy | None = None,
        limits: Limits | None = None,
        stop_on_first_failure: bool = False,
    ):
        self.mode = resolve_mode(sandbox)
        self.time = time_policy or TimePolicy()
        self.limits = limits or Limits()
        self.stop_on_first_failure = stop_on_first_failure
        self.n_workers = workers or os.cpu_count() or 1
        self._plans: dict[str, ProblemPlan] = {}
        self._plan_lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()  # samples
        self._values_queue: queue.Queue = queue.Queue()  # references and other trusted code
        self._threads: list[tuple[threading.Thread, queue.Queue]] = []
        self._workers: list[Worker] = []
        self._values_started = False
        self._closed = False
        self._start_pool(self._queue, "tdrl-verifier")

    def _start_pool(self, q: queue.Queue, name: str) -> None:
        for _ in range(self.n_workers):
            w = Worker(len(self._workers), self.mode, self.limits)
            self._workers.append(w)
            t = threading.Thread(target=self._loop, args=(w, q), daemon=True, name=f"{name}-{w.index}")
            t.start()
            self._threads.append((t, q))

    def _values_pool(self) -> queue.Queue:
        """The pool for trusted code, started on first use."""
        with self._plan_lock:
            if not self._values_started:
                self._values_started = True
                self._start_pool(self._values_queue, "tdrl-values")
        return self._values_queue

    @property
    def isolation(self) -> str:
        return self.mode + ("+cgroup" if any(w.cgroup for w in self._workers) else "")

    def plan(self, problem: Problem) -> ProblemPlan:
        """The compiled plan of a problem, cached by content: equal problems share one plan."""
        key = content_key(problem)
        with self._plan_lock:
            plan = self._plans.get(key)
            if plan is None:
                if len(self._plans) >= 50_000:  # a long training loop making new Problem objects
                    self._plans.clear()
                plan = compile_problem(problem)
                plan.timeouts = [self.time.timeout] * len(plan.checks)
                self._plans[key] = plan
            return plan

    def forget(self, problem: Problem) -> None:
        """Drop a problem's compiled plan from the cache (callers that evict problems of their own)."""
        with self._plan_lock:
            self._plans.pop(content_key(problem), None)

    # ------------------------------------------------------------------ submitting

    def submit(self, problem: Problem, sample: Sample | str) -> Future:
        """Queue one sample; the future resolves to its :class:`Result`."""
        if self._closed:
            raise RuntimeError("verifier is closed")
        if isinstance(sample, str):
            sample = Sample(problem.id, "0", sample)
        fut: Future = Future()
        self._queue.put((self.plan(problem), sample, fut, _Judge))
        return fut

    def check(self, problem: Problem, sample: Sample | str) -> Result:
        """Verify one sample, blocking."""
        return self.submit(problem, sample).result()

    async def check_async(self, problem: Problem, sample: Sample | str) -> Result:
        """Verify one sample from asyncio code; many may be awaited concurrently."""
        return await asyncio.wrap_future(self.submit(problem, sample))

    def map(self, problems: dict[str, Problem], samples: Iterable[Sample], window: int | None = None) -> Iterator[Result]:
        """Verify samples, yielding results as they complete; at most ``window`` in flight."""
        window = window or self.n_workers * 4
        pending: set[Future] = set()
        done_q: queue.Queue = queue.Queue()
        for sample in samples:
            fut = self.submit(problems[sample.problem_id], sample)
            fut.add_done_callback(done_q.put)
            pending.add(fut)
            while len(pending) >= window:
                f = done_q.get()
                pending.discard(f)
                yield f.result()
        while pending:
            f = done_q.get()
            pending.discard(f)
            yield f.result()

    def submit_values(self, problem: Problem, code: str, timeout: float | None = None, max_sample: float | None = None) -> Future:
        """Queue ``code`` on each call test's input; the future gives ``(status, value)`` per test.

        For computing expected outputs from a reference (EvalPlus-style ground truth, test
        synthesis) or comparing programs: the program runs in the same sandbox as any
        other, and what comes back is decoded plain data. ``status`` is ``ok``, or the test's
        failure status with the error as the second item. ``timeout`` (per test) and
        ``max_sample`` override the verifier's time policy for this run.
        """
        plan = compile_problem(problem)
        plan.timeouts = [timeout or self.time.timeout] * len(plan.checks)
        plan.max_sample = max_sample
        plan.after_timeout = "exact"  # every test's own answer counts (synthesis, mutants)
        captured: list[tuple[str, object]] = [("not_run", None)] * len(plan.checks)
        verdict = _Judge._verdict

        class Capture(_Judge):
            def _verdict(self, i: int, rec: dict, size: int) -> tuple[str, str | None]:
                if "v" in rec and not rec.get("mem") and not rec.get("big") and "x" not in rec and not rec.get("rc"):
                    try:
                        captured[i] = ("ok", decode(rec["v"], budget=self.budget))
                    except DecodeError as exc:
                        captured[i] = ("error", str(exc))
                return verdict(self, i, rec, size)

        inner: Future = Future()
        outer: Future = Future()
        self._values_pool().put((plan, Sample(problem.id, "__values__", code), inner, Capture))

        def finish(f: Future) -> None:
            if f.exception() is not None:
                outer.set_exception(f.exception())
            else:
                tests = f.result().tests
                outer.set_result([captured[i] if captured[i][0] == "ok" else (t.status, t.error) for i, t in enumerate(tests)])

        inner.add_done_callback(finish)
        return outer

    def run_values(
        self, problem: Problem, code: str, timeout: float | None = None, max_sample: float | None = None
    ) -> list[tuple[str, object]]:
        """Blocking form of :meth:`submit_values`."""
        return self.submit_values(problem, code, timeout, max_sample).result()

    def calibrate(self, problem: Problem, cache: CalibrationCache | None = None) -> Result | None:
        """Scale per-test time limits to the reference's measured times.

        The times come from ``problem.meta["time_limits"]`` or ``cache`` when their content
        hash matches the problem (``calibration.py``); otherwise the reference runs sandboxed
        like any program (it may be model-written), on the values pool, never in a sandbox
        that samples fork from, with every test under its own limit, and
        the times are stored in ``cache``. Returns the reference's result when it ran (check
        ``status``: a reference that fails its own tests points at a broken problem), else None.
        """
        if not problem.reference:
            return None
        plan = self.plan(problem)
        times, result = known_reference_ms(problem, cache), None
        if times is None:
            ref_plan = compile_problem(problem)
            ref_plan.timeouts, ref_plan.after_timeout = [self.time.timeout] * len(ref_plan.checks), "exact"
            fut: Future = Future()
            self._values_pool().put((ref_plan, Sample(problem.id, "__reference__", problem.reference), fut, _Judge))
            result = fut.result()
            times = [t.time_ms if t.status == "pass" else None for t in result.tests]
            if cache is not None:
                cache.put(problem, times)
        plan.reference_ms = times
        plan.timeouts = [
            self.time.timeout if ms is None else max(self.time.min_timeout, self.time.factor * ms / 1000) for ms in times
        ]
        return result

    # ------------------------------------------------------------------ running

    def _loop(self, worker: Worker, q: queue.Queue) -> None:
        while True:
            item = q.get()
            if item is None:
                worker.stop()
                return
            plan, sample, fut, judge_cls = item
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(self._run(worker, plan, sample, judge_cls))
            except BaseException as exc:  # never leave a caller waiting
                fut.set_exception(exc)

    def _run(self, worker: Worker, plan: ProblemPlan, sample: Sample, judge_cls: type = _Judge) -> Result:
        problem = plan.problem
        t0 = time.monotonic()
        code, rule = extract_code(sample.completion, problem.prompt, None if plan.mode == "stdio" else problem.entry_point)

        def whole(status: ResultStatus, error: str) -> Result:
            return Result.unjudged(
                status,
                problem.id,
                sample.sample_id,
                len(plan.checks),
                error,
                time_ms=_ms(t0),
                code=code,
                extraction=rule,
                sandbox=worker.isolation,
            )

        program = code.encode("utf-8", "surrogatepass")
        if len(program) > CODE_MAX:
            return whole("error", f"program longer than {CODE_MAX} bytes")
        budget = min(plan.max_sample or self.time.max_sample, self.time.load_timeout + sum(plan.timeouts))
        after_timeout = plan.after_timeout or self.time.after_timeout
        job = {
            "stream": self.stop_on_first_failure,
            "key": plan.key,
            "mode": plan.mode,
            "tests": plan.job_tests_json,
            "timeouts": plan.timeouts,
            "load_timeout": self.time.load_timeout,
            "budget": budget,
            "after_timeout": after_timeout,
            "shared_budget": self.time.shared_factor * max(plan.timeouts, default=self.time.timeout),
            "shared_timeouts": self._shared_timeouts(plan) if after_timeout == "shared" else None,
            "limits": {
                "stdout_bytes": self.limits.stdout_bytes,
                "result_bytes": self.limits.result_bytes,
                "value_nodes": self.limits.value_nodes,
                "cpu_seconds": budget + 1,
                "nproc": self.limits.nproc if (worker.cgroup is None and os.geteuid() != 0) else None,
                "address_space": None if worker.cgroup else self.limits.memory_bytes,
            },
        }
        judge = None
        error_note = None
        for _attempt in range(2):
            judge = judge_cls(plan)
            on_records = judge.records if self.stop_on_first_failure else None
            try:
                out = worker.run(
                    job, program, backstop_s=budget + 10.0, on_records=on_records, on_event=judge.event if on_records else None
                )
            except WorkerStartFailed as exc:
                return whole("infra_error", str(exc)[:500])
            except WorkerDied as exc:
                error_note = f"the program brought down its sandbox ({exc})"
                continue  # retry once on a fresh sandbox; a second death is the program's doing
            try:
                return self._result(plan, sample, judge, out, on_records is not None, t0, code, rule, worker)
            except Exception as exc:  # a judging bug must cost this sample, never the run
                return whole("infra_error", f"judging failed: {type(exc).__name__}: {exc}"[:500])
        tests = judge.tests() if judge else []
        for t in tests:
            if t.status == "not_run":
                t.status, t.error = "error", error_note
        status, rate = _summary(tests, None)
        return Result(
            problem.id, sample.sample_id, status, rate, tests, _ms(t0), code, rule, error=error_note, sandbox=worker.isolation
        )

    def _result(self, plan, sample, judge, out, streamed, t0, code, rule, worker) -> Result:
        """Judge what one job sent back (unless it was judged as it streamed) into a Result."""
        for kind, item in out.items if not streamed else ():
            if kind == "E":
                judge.event(item)
            else:
                judge.records(item)
        if judge.load_error:
            judge._fill(0, "error", judge.load_error)
        tests = judge.tests()
        if not any(e.get("ev") in ("budget", "aborted", "stopped") for e in out.events):
            for t in tests:
                if t.status == "not_run":
                    t.status, t.error = "error", "no result reported"
        status, rate = _summary(tests, judge.load_error)
        return Result(
            plan.problem.id,
            sample.sample_id,
            status,
            rate,
            tests,
            _ms(t0),
            code,
            rule,
            error=judge.load_error,
            stdout=out.stdout[-1024:],
            stderr=out.stderr[-1024:],
            sandbox=worker.isolation,
        )

    def _shared_timeouts(self, plan: ProblemPlan) -> list[float]:
        """Per-test limits after a first timeout (``shared``): the reference's scaled time, no 1 s floor."""
        floor, factor = self.time.shared_floor, self.time.factor
        refs = plan.reference_ms or [None] * len(plan.timeouts)
        return [min(t, floor if ms is None else max(floor, factor * ms / 1000)) for t, ms in zip(plan.timeouts, refs)]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for _, q in self._threads:
            q.put(None)
        for t, _ in self._threads:
            t.join(timeout=30)

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


def _ms(t0: float) -> float:
    return (time.monotonic() - t0) * 1000
