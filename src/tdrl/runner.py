"""One runner for every long stage: skip what is done, map the work over the rest, write, show progress.

A stage (verify and eval, synth, sample) hands :func:`run_stage` a :class:`Stage`: its
items (already read), which of them its output already holds, the :class:`Work` class that
turns an item into an output and the arguments to build it, and a writer. The runner skips
what is done, runs the rest on an executor and calls the writer once per item on the
calling thread, so output stays one flushed line at a time (:class:`~tdrl.io.ResumableWriter`)
and a rerun resumes where a killed one stopped.

Where the work runs is the executor, not a second copy of the stage:

* :class:`Local` builds the work once in this process; it parallelises itself (a
  verifier's sandbox pool, a thread pool as wide as its backend, a batched model).
* :class:`Ray` builds it once per node as a Ray actor and sends it bounded batches
  through :func:`tdrl.scale.shard.run_sharded` (outputs back in input order, dead actors
  replaced, an item that keeps killing its actor given the stage's ``poisoned`` output).

Order: Ray writes in input order, and so does Local unless the stage allows completion
order (``ordered=False``: local verification writes each result as it lands). Backpressure:
an executor holds a bounded window of unfinished items (:func:`thread_map`, the verifier's
own window, ``run_sharded``'s per-actor bound).
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tdrl.errors import ConfigError


class Work:
    """A stage's per-item work, built once per process (:class:`Local`) or once per node (a Ray actor).

    Define :meth:`one` and ``threads`` (the default :meth:`map` runs ``one`` on that many
    threads), or :meth:`map` itself where the work batches or pools on its own.
    """

    threads: int = 1

    def one(self, item: Any) -> Any:
        """The output of one item."""
        raise NotImplementedError

    def start(self, items: list) -> None:
        """Called by :class:`Local` once, with everything to do, before :meth:`map` (verification calibrates here)."""

    def map(self, items: Iterable, emit: Callable[[Any, Any], None], ordered: bool = True) -> None:
        """Hand ``emit(item, output)`` every item's output, on this thread; in input order when ``ordered``."""
        for item, output in thread_map(self.one, items, self.threads):
            emit(item, output)

    def run(self, batch: list) -> list:
        """The outputs of ``batch``, in its order (what a Ray actor is asked)."""
        outputs: list = []
        self.map(batch, lambda _, output: outputs.append(output), ordered=True)
        return outputs

    def close(self) -> None:
        """Free what the work holds (sandboxes, a model client)."""


def thread_map(fn: Callable, items: Iterable, threads: int, window: int | None = None) -> Iterator[tuple[Any, Any]]:
    """``(item, fn(item))`` in input order, ``threads`` at a time, at most ``window`` (8 x threads) unfinished."""
    window = window or 8 * max(threads, 1)
    pool = ThreadPoolExecutor(max_workers=max(threads, 1))
    pending: collections.deque = collections.deque()
    try:
        for item in items:
            pending.append((item, pool.submit(fn, item)))
            if len(pending) >= window:
                item, future = pending.popleft()
                yield item, future.result()
        while pending:
            item, future = pending.popleft()
            yield item, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class Stage:
    """What a stage hands the runner (see the module doc)."""

    items: Iterable  # the input, read; a list, or a stream (then the progress bar has no total)
    work: type[Work]
    args: dict  # keyword arguments of ``work``; on Ray, put in the object store once
    write: Callable[[Any, Any], None]  # (item, output), on the runner's thread
    done: Callable[[Any], bool] = lambda item: False  # already in the output: skipped
    label: str = "run"  # progress bar label (and the Ray actors' names)
    unit: str = "items"
    ordered: bool = True  # False: Local may write in completion order
    per_node: Callable[[Any], dict] = lambda node: {}  # arguments that depend on the node (None: Local)
    poisoned: Callable[[Any, str], Any] | None = None  # Ray: the output of an item that kills each actor it runs on
    batch_size: int | Callable[[list], int] = 32  # Ray: items per batch (a function of the nodes)
    skip_empty: bool = False  # Local: build no work when nothing is left to do (a model load costs seconds)


@dataclass
class StageRun:
    """What the runner did: items skipped as done, and the executor's own account."""

    skipped: int = 0
    work: Work | None = None  # Local: the (closed) work, for what it reports (the sandbox in use)
    stats: Any = None  # Ray: a :class:`tdrl.scale.shard.ShardStats`


@dataclass
class Local:
    """Run the work in this process."""

    def __enter__(self) -> Local:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def require_local(self, message: str) -> None:
        """Nothing to refuse: everything runs locally."""

    def execute(self, stage: Stage, todo: Iterable, emit: Callable, bar: Callable, run: StageRun) -> None:
        todo = list(todo)
        if stage.skip_empty and not todo:
            return
        run.work = stage.work(**stage.args, **stage.per_node(None))
        try:
            run.work.start(todo)
            with bar() as advance:

                def write(item, output) -> None:
                    emit(item, output)
                    advance()

                run.work.map(todo, write, ordered=stage.ordered)
        finally:
            run.work.close()


@dataclass
class Ray:
    """Run the work as one Ray actor per node (``--ray ADDRESS``; see :mod:`tdrl.scale.shard`)."""

    address: str | None = "local"
    batch_size: int | None = None  # default: the stage's
    in_flight: int = 2  # batches at once on each actor
    max_retries: int = 2
    actor_cls: type | None = None  # a subclass of the stage's work (the fault tests use one that dies)
    started: bool = field(default=False, repr=False)  # this executor started the cluster it is connected to
    held: bool = field(default=False, repr=False)  # inside ``with``

    def __enter__(self) -> Ray:
        """Hold the connection (made by the first stage run) for the whole ``with``; a cluster started here is stopped on exit."""
        self.held = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.held = False
        if self.started:
            from tdrl.scale.cluster import require_ray

            require_ray().shutdown()
            self.started = False

    def require_local(self, message: str) -> None:
        """Refuse work that is not sharded (a local model), with ``message``."""
        raise ConfigError(message)

    def execute(self, stage: Stage, todo: Iterable, emit: Callable, bar: Callable, run: StageRun) -> None:
        import uuid

        from tdrl.scale.cluster import connect, cpu_nodes, place_on, require_ray
        from tdrl.scale.shard import ShardStats, run_sharded

        started = connect(self.address)  # a no-op when already connected
        self.started = self.started or (started and self.held)
        ray = require_ray()
        run.stats = ShardStats()
        shared = {k: ray.put(v) for k, v in stage.args.items()}
        remote = ray.remote(num_cpus=1, max_restarts=0, max_concurrency=self.in_flight)(self.actor_cls or stage.work)

        def make_actor(node):
            name = f"tdrl-{stage.label}-{uuid.uuid4().hex[:12]}"  # named, to be found in the dashboard and by tests
            return remote.options(name=name, scheduling_strategy=place_on(node.node_id)).remote(**shared, **stage.per_node(node))

        def poisoned(item, reason: str):
            if stage.poisoned is None:
                raise RuntimeError(f"{stage.label} failed on an item: {reason}")
            return stage.poisoned(item, reason)

        sent: collections.deque = collections.deque()  # items handed to the driver loop, oldest first

        def feed() -> Iterator:
            for item in todo:
                sent.append(item)
                yield item

        batch_size = self.batch_size or (stage.batch_size(cpu_nodes()) if callable(stage.batch_size) else stage.batch_size)
        with bar() as advance:
            outputs = run_sharded(
                feed(), make_actor, poisoned, batch_size=batch_size, in_flight=self.in_flight, max_retries=self.max_retries,
                stats=run.stats,
            )  # fmt: skip
            for output in outputs:
                emit(sent.popleft(), output)
                advance()


Executor = Local | Ray


def executor_for(address: str | None, **ray_options: Any) -> Executor:
    """``--ray ADDRESS`` as an executor: :class:`Ray` on that cluster, or :class:`Local` without one."""
    return Ray(address, **ray_options) if address else Local()


def run_stage(stage: Stage, executor: Executor | None = None, progress: bool = True) -> StageRun:
    """Skip what ``stage.done`` says is written, run the rest on ``executor`` (default :class:`Local`), write each output."""
    executor = executor or Local()
    run = StageRun()
    total: int | None
    if isinstance(stage.items, list):
        listed = [item for item in stage.items if not stage.done(item)]
        todo: Iterable = listed
        run.skipped, total = len(stage.items) - len(listed), len(listed)
    else:

        def stream() -> Iterator:
            for item in stage.items:
                if stage.done(item):
                    run.skipped += 1
                else:
                    yield item

        todo, total = stream(), None
    executor.execute(stage, todo, stage.write, lambda: ProgressBar(progress, total, stage.label, stage.unit), run)
    return run


class ProgressBar:
    """A rich progress bar with rate and ETA, or nothing."""

    def __init__(self, enabled: bool, total: int | None, label: str = "verify", unit: str = "samples"):
        self.enabled, self.total, self.label, self.unit = enabled, total, label, unit

    def __enter__(self):
        if not self.enabled:
            return lambda: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
        from rich.text import Text

        unit = self.unit

        class Rate(ProgressColumn):
            # items done over time since the start: rich's own speed is over its last few updates, which
            # reads as thousands per second when a batch of items lands at once
            def render(self, task):  # type: ignore[override]
                elapsed = task.elapsed or 0.0
                return Text(f"{task.completed / elapsed:.2f} {unit}/s" if elapsed > 0 and task.completed else f"- {unit}/s")

        self.bar = Progress(TextColumn(self.label), BarColumn(), MofNCompleteColumn(), Rate(), TimeRemainingColumn())
        self.bar.start()
        task = self.bar.add_task(self.label, total=self.total)
        return lambda: self.bar.advance(task)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.bar.stop()
