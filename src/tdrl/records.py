"""The record types that flow between stages: problems, tests, samples, results, and the
environment tasks, SRL trajectories and preference pairs of the training recipes.

Every record is a plain dataclass that converts to and from the JSON dict written in the
stage's JSONL file (``to_dict`` / ``from_dict``). Validation errors name the field that is
wrong (``tests[3].type``); ``tdrl.io`` adds the file and line. Nothing here runs code.
"""

from __future__ import annotations

import ast
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

from tdrl.errors import TdrlError

TestType = Literal["call", "assert", "stdio", "script", "method", "pytest"]
# a test's verdict; a Result's status is one of ResultStatus
TestStatus = Literal["pass", "fail", "error", "timeout", "memory", "output_limit", "not_run", "infra_error"]
ResultStatus = Literal["pass", "fail", "error", "infra_error"]
TEST_TYPES: tuple[str, ...] = get_args(TestType)
# verdict rules of public harnesses (see tdrl.execution.rules and docs/datasets.md)
CALL_RULES = ("exact", "apps", "livecodebench")
STDIO_RULES = ("tokens", "exact", "livecodebench", "apps", "taco", "prime", "codecontests")
TEST_STATUSES: tuple[str, ...] = get_args(TestStatus)
RESULT_STATUSES: tuple[str, ...] = get_args(ResultStatus)


class RecordError(TdrlError, ValueError):
    """A record does not follow its schema; ``field`` is the dotted path of the bad field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"field '{field}': {message}")
        self.field = field
        self.message = message


def require(d: dict, key: str, kind: type | tuple, where: str = "", optional: bool = False) -> Any:
    """``d[key]`` checked to be of ``kind`` (bool is not an int here); a :class:`RecordError` naming ``where.key`` if not.

    With ``optional``, a missing or null key gives ``None``. Every record's ``from_dict`` is built on it.
    """
    path = f"{where}.{key}" if where else key
    if key not in d or d[key] is None:
        if optional:
            return None
        raise RecordError(path, "missing")
    value = d[key]
    if not isinstance(value, kind) or (kind in (int, float) and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise RecordError(path, f"expected {names}, got {type(value).__name__}")
    return value


def require_object(d: Any, where: str = "<record>") -> dict:
    """``d`` itself, checked to be a JSON object (a dict)."""
    if not isinstance(d, dict):
        raise RecordError(where, f"expected an object, got {type(d).__name__}")
    return d


def require_choice(d: dict, key: str, choices: tuple[str, ...], what: str, where: str = "") -> Any:
    """``d[key]``, checked to be one of ``choices`` (``what`` names them in the error: "test type")."""
    value = require(d, key, str, where)
    if value not in choices:
        path = f"{where}.{key}" if where else key
        raise RecordError(path, f"unknown {what} {value!r} (expected one of {', '.join(choices)})")
    return value


@dataclass
class Test:
    """One test: a call with literal input/output, an assert statement, a stdin/stdout pair,
    or a script (benchmark harness code; see the security notes in ``tdrl.execution``).

    ``method`` calls the method ``method`` of a fresh instance of the problem's entry point,
    a class (LeetCode's ``class Solution``); ``pytest`` runs one test function (``function``)
    of a pytest-style test module (``code``) against the program. ``rule`` names the verdict
    rule of the dataset's own harness for call, method and stdio tests (``tdrl.execution.rules``).
    """

    __test__ = False  # not a pytest test class

    type: TestType
    input: str | None = None
    output: str | None = None
    atol: float = 0.0
    code: str | None = None
    stdin: str | None = None
    stdout: str | None = None
    method: str | None = None
    function: str | None = None
    rule: str | None = None

    def to_dict(self) -> dict:
        d: dict[str, Any]
        if self.type in ("call", "method"):
            d = {"type": self.type, "input": self.input, "output": self.output}
            if self.type == "method":
                d["method"] = self.method
        elif self.type in ("assert", "script"):
            return {"type": self.type, "code": self.code}
        elif self.type == "pytest":
            return {"type": "pytest", "code": self.code, "function": self.function}
        else:
            d = {"type": "stdio", "stdin": self.stdin, "stdout": self.stdout}
        if self.atol:
            d["atol"] = self.atol
        if self.rule:
            d["rule"] = self.rule
        return d

    @classmethod
    def from_dict(cls, d: Any, where: str = "test") -> Test:
        kind = require_choice(require_object(d, where), "type", TEST_TYPES, "test type", where)
        atol = require(d, "atol", (int, float), where, optional=True) or 0.0
        if atol < 0:
            raise RecordError(f"{where}.atol", "must be >= 0")
        rule = require(d, "rule", str, where, optional=True)
        rules = STDIO_RULES if kind == "stdio" else CALL_RULES
        if rule is not None and (kind not in ("call", "method", "stdio") or rule not in rules):
            allowed = f"one of {', '.join(rules)}" if kind in ("call", "method", "stdio") else f"none for {kind} tests"
            raise RecordError(f"{where}.rule", f"unknown verdict rule {rule!r} (expected {allowed})")
        if kind in ("call", "method"):
            test = cls(
                kind,
                input=require(d, "input", str, where),
                output=require(d, "output", str, where),
                atol=float(atol),
                method=require(d, "method", str, where) if kind == "method" else None,
                rule=rule,
            )
            if test.method is not None and not test.method.isidentifier():
                raise RecordError(f"{where}.method", f"not a Python identifier: {test.method!r}")
            for name in ("input", "output"):
                try:
                    value = ast.literal_eval(getattr(test, name))
                except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
                    raise RecordError(f"{where}.{name}", f"not a Python literal ({type(exc).__name__})") from None
                if name == "input" and not isinstance(value, (list, tuple)):
                    raise RecordError(f"{where}.input", "must be a literal list of positional arguments")
            return test
        if kind in ("assert", "script", "pytest"):
            code = require(d, "code", str, where)
            try:
                ast.parse(code)
            except SyntaxError as exc:
                raise RecordError(f"{where}.code", f"not valid Python ({exc.msg}, line {exc.lineno})") from None
            if kind == "pytest":
                function = require(d, "function", str, where)
                if not all(part.isidentifier() for part in function.split(".")):
                    raise RecordError(f"{where}.function", f"not a Python identifier: {function!r}")
                return cls(kind, code=code, function=function)
            return cls(kind, code=code)
        return cls(
            "stdio", stdin=require(d, "stdin", str, where), stdout=require(d, "stdout", str, where), atol=float(atol), rule=rule
        )


@dataclass
class Problem:
    """A task with its tests: ``{"id", "prompt"?, "entry_point"?, "reference"?, "tests", "meta"?}``."""

    id: str
    tests: list[Test]
    prompt: str | None = None
    entry_point: str | None = None
    reference: str | None = None
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"id": self.id}
        for name in ("prompt", "entry_point", "reference"):
            if getattr(self, name) is not None:
                d[name] = getattr(self, name)
        d["tests"] = [t.to_dict() for t in self.tests]
        if self.meta:
            d["meta"] = self.meta
        return d

    @classmethod
    def from_dict(cls, d: Any) -> Problem:
        require_object(d)
        pid = require(d, "id", str)
        raw_tests = require(d, "tests", list)
        tests = [Test.from_dict(t, f"tests[{i}]") for i, t in enumerate(raw_tests)]
        entry_point = require(d, "entry_point", str, optional=True)
        for i, t in enumerate(tests):
            if t.type in ("call", "method") and not entry_point:
                raise RecordError("entry_point", f"required by the call test tests[{i}]")
        if not tests:
            raise RecordError("tests", "a problem needs at least one test")
        kinds = {t.type == "stdio" for t in tests}
        if len(kinds) > 1:
            raise RecordError("tests", "stdio tests cannot be mixed with function tests in one problem")
        return cls(
            id=pid,
            tests=tests,
            prompt=require(d, "prompt", str, optional=True),
            entry_point=entry_point,
            reference=require(d, "reference", str, optional=True),
            meta=require(d, "meta", dict, optional=True) or {},
        )


@dataclass
class Sample:
    """A model's raw answer to a problem: ``{"problem_id", "sample_id", "completion"}`` plus extras."""

    problem_id: str
    sample_id: str
    completion: str
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"problem_id": self.problem_id, "sample_id": self.sample_id, "completion": self.completion, **self.extra}

    @classmethod
    def from_dict(cls, d: Any) -> Sample:
        require_object(d)
        sample_id = d.get("sample_id")
        if isinstance(sample_id, int) and not isinstance(sample_id, bool):
            sample_id = str(sample_id)
        else:
            sample_id = require(d, "sample_id", str)
        extra = {k: v for k, v in d.items() if k not in ("problem_id", "sample_id", "completion")}
        return cls(require(d, "problem_id", str), sample_id, require(d, "completion", str), extra)

    @property
    def key(self) -> tuple[str, str]:
        return (self.problem_id, self.sample_id)


@dataclass
class TestResult:
    """The verdict of one test, computed by the trusted parent."""

    __test__ = False

    status: TestStatus
    time_ms: float = 0.0
    error: str | None = None

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"status": self.status, "time_ms": round(self.time_ms, 3)}
        if self.error:
            d["error"] = self.error
        return d

    @classmethod
    def from_dict(cls, d: Any, where: str = "test") -> TestResult:
        """One entry of a result's ``tests`` list, as :meth:`to_dict` writes it."""
        require_object(d, where)
        return cls(
            require_choice(d, "status", TEST_STATUSES, "test status", where),
            float(require(d, "time_ms", (int, float), where, optional=True) or 0.0),
            require(d, "error", str, where, optional=True),
        )


@dataclass
class Result:
    """One sample's verdict: ``status == "pass"`` exactly when every test passed.

    ``status`` is one of ``pass``, ``fail`` (some test did not pass), ``error`` (the program
    did not load: syntax error, exception or exit at import), ``infra_error`` (the verifier,
    not the program, failed: skip it as a reward, never score it 0).
    """

    problem_id: str
    sample_id: str
    status: ResultStatus
    pass_rate: float
    tests: list[TestResult]
    time_ms: float
    code: str = ""
    extraction: str = ""
    error: str | None = None
    stdout: str = ""
    stderr: str = ""
    sandbox: str = ""

    @property
    def passed(self) -> int:
        return sum(t.status == "pass" for t in self.tests)

    @property
    def pass_rate_lower_bound(self) -> bool:
        """True when tests were left ``not_run`` (time-limit policy, budget, fail-fast): the rate may be higher."""
        return any(t.status == "not_run" for t in self.tests)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["tests"] = [t.to_dict() for t in self.tests]
        d["passed"] = self.passed
        d["total"] = len(self.tests)
        d["time_ms"] = round(self.time_ms, 3)
        d["pass_rate"] = round(self.pass_rate, 6)
        if self.pass_rate_lower_bound:
            d["pass_rate_lower_bound"] = True
        if d["error"] is None:
            del d["error"]
        return d

    @classmethod
    def from_dict(cls, d: Any) -> Result:
        """A result as ``tdrl verify`` writes it (``passed``, ``total`` and ``pass_rate_lower_bound`` are derived, not read)."""
        status = require_choice(require_object(d), "status", RESULT_STATUSES, "result status")
        pass_rate = require(d, "pass_rate", (int, float))
        if not 0 <= pass_rate <= 1:
            raise RecordError("pass_rate", f"must be in [0, 1], got {pass_rate}")
        tests = [TestResult.from_dict(t, f"tests[{i}]") for i, t in enumerate(require(d, "tests", list, optional=True) or [])]
        text = {
            name: require(d, name, str, optional=True) or "" for name in ("code", "extraction", "stdout", "stderr", "sandbox")
        }
        return cls(
            problem_id=require(d, "problem_id", str),
            sample_id=require(d, "sample_id", str),
            status=status,  # type: ignore[arg-type]
            pass_rate=float(pass_rate),
            tests=tests,
            time_ms=float(require(d, "time_ms", (int, float), optional=True) or 0.0),
            error=require(d, "error", str, optional=True),
            **text,
        )

    @classmethod
    def unjudged(
        cls,
        status: ResultStatus,
        problem_id: str,
        sample_id: str,
        n_tests: int,
        error: str,
        *,
        time_ms: float = 0.0,
        code: str = "",
        extraction: str = "",
        sandbox: str = "",
        test_error: str | None = None,
    ) -> Result:
        """A sample no test was judged for: ``status`` (and ``test_error``, else ``error``) on each of its ``n_tests`` tests."""
        each = error if test_error is None else test_error
        tests = [TestResult(status, 0.0, each) for _ in range(n_tests)]
        return cls(problem_id, sample_id, status, 0.0, tests, time_ms, code, extraction, error, sandbox=sandbox)

    @classmethod
    def infra_error(cls, problem_id: str, sample_id: str, n_tests: int, reason: str, **kw: Any) -> Result:
        """The verifier, not the program, failed (a sandbox that would not start, a lost worker): never a reward of 0.

        ``kw`` as for :meth:`unjudged` (``time_ms``, ``code``, ``extraction``, ``sandbox``, ``test_error``).
        """
        return cls.unjudged("infra_error", problem_id, sample_id, n_tests, reason, **kw)


class _Plain:
    """A record whose JSON form is its fields as they are."""

    def to_dict(self) -> dict:
        return asdict(self)  # type: ignore[call-overload]


@dataclass
class Task(_Plain):
    """One verifiable query of an environment: the prompt the model sees and what the verifier needs (``info``).

    ``{"id", "env", "split", "prompt", "info"?}``, as ``tdrl envs tasks`` writes it.
    """

    id: str
    env: str
    split: str
    prompt: str
    info: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Any) -> Task:
        require_object(d)
        return cls(
            id=require(d, "id", str),
            env=require(d, "env", str),
            split=require(d, "split", str),
            prompt=require(d, "prompt", str),
            info=require(d, "info", dict, optional=True) or {},
        )


@dataclass
class Trajectory(_Plain):
    """An expert's solution in ordered steps, for SRL: ``{"id", "problem", "steps": [...], "kind"?, "meta"?}``.

    ``kind`` is ``math``, ``agent`` or ``code``; a math trajectory's ``meta.answer`` is the final answer (RLVR).
    """

    id: str
    problem: str
    steps: list[str]
    kind: str = "math"
    meta: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Any) -> Trajectory:
        require_object(d)
        tid, problem = require(d, "id", str), require(d, "problem", str)
        steps = require(d, "steps", list)
        if not steps:
            raise RecordError("steps", "expected a non-empty list of strings")
        for i, step in enumerate(steps):
            if not isinstance(step, str) or not step.strip():
                raise RecordError(f"steps[{i}]", "expected a non-empty string")
        kind = require(d, "kind", str, optional=True) or "math"
        return cls(tid, problem, steps, kind, require(d, "meta", dict, optional=True) or {})


@dataclass
class PreferencePair:
    """A preference pair in TRL's format: ``prompt`` (optional), ``chosen`` and ``rejected``, each a string
    (standard) or a list of messages (conversational), plus provenance (``problem_id``, ``chosen_id``, pass rates...)
    kept in ``extra``."""

    chosen: str | list
    rejected: str | list
    prompt: str | list | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d: dict[str, Any] = {} if self.prompt is None else {"prompt": self.prompt}
        return {**d, "chosen": self.chosen, "rejected": self.rejected, **self.extra}

    @classmethod
    def from_dict(cls, d: Any) -> PreferencePair:
        require_object(d)
        for name in ("chosen", "rejected"):
            if not isinstance(d.get(name), (str, list)):
                raise RecordError(name, "missing (a string or a list of messages)")
        if "prompt" in d and not isinstance(d["prompt"], (str, list)):
            raise RecordError("prompt", "expected a string or a list of messages")
        extra = {k: v for k, v in d.items() if k not in ("prompt", "chosen", "rejected")}
        return cls(d["chosen"], d["rejected"], d.get("prompt"), extra)
