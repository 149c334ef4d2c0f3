"""The stage runner: skip-done, order, bounded in-flight work, errors (Local executor; Ray runs in tests/scale)."""

from __future__ import annotations

import json
import threading

import pytest

from tdrl.io import ResumableWriter
from tdrl.runner import Local, Stage, Work, run_stage, thread_map


class Square(Work):
    """Squares numbers on a few threads, recording how many run at once."""

    built = 0

    def __init__(self, threads: int, fail_on: int | None = None):
        Square.built += 1
        self.threads, self.fail_on = threads, fail_on
        self.running = self.most = 0
        self.lock = threading.Lock()
        self.closed = False

    def one(self, x: int) -> int:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            if x == self.fail_on:
                raise ValueError(f"bad item {x}")
            return x * x
        finally:
            with self.lock:
                self.running -= 1

    def close(self) -> None:
        self.closed = True


def test_done_items_are_skipped_and_the_rest_written_in_input_order(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text('{"x": 3, "y": 9}\n{"x": 5, "y": 25}\n{"x": 6, "y"')  # two done, one torn line
    with ResumableWriter(out, key=lambda d: d["x"]) as writer:
        stage = Stage(
            items=list(range(10)),
            work=Square,
            args={"threads": 3},
            write=lambda x, y: writer.write({"x": x, "y": y}),
            done=lambda x: x in writer.done,
        )
        run = run_stage(stage, Local(), progress=False)
    assert run.skipped == 2 and run.work.closed and run.work.most <= 3
    lines = out.read_text().splitlines()
    assert lines[:2] == ['{"x": 3, "y": 9}', '{"x": 5, "y": 25}']
    assert [json.loads(line) for line in lines[2:]] == [{"x": x, "y": x * x} for x in (0, 1, 2, 4, 6, 7, 8, 9)]


def test_a_stream_is_skipped_lazily_and_counted():
    got = []
    stage = Stage(items=iter(range(6)), work=Square, args={"threads": 2}, write=lambda x, y: got.append(y), done=lambda x: x % 2)
    run = run_stage(stage, Local(), progress=False)
    assert got == [0, 4, 16] and run.skipped == 3


def test_skip_empty_builds_no_work_when_everything_is_done():
    Square.built = 0
    stage = Stage(items=[1, 2], work=Square, args={"threads": 1}, write=lambda x, y: None, done=lambda x: True, skip_empty=True)
    run = run_stage(stage, Local(), progress=False)
    assert run.skipped == 2 and run.work is None and Square.built == 0


def test_an_error_in_the_work_reaches_the_caller_and_the_work_is_closed():
    got = []
    stage = Stage(items=list(range(50)), work=Square, args={"threads": 2, "fail_on": 7}, write=lambda x, y: got.append(x))
    with pytest.raises(ValueError, match="bad item 7"):
        run_stage(stage, Local(), progress=False)
    assert got == list(range(7))  # everything before the failing item was written, nothing after


def test_thread_map_keeps_at_most_window_items_unfinished():
    pulled = []

    def source():
        for i in range(100):
            pulled.append(i)
            yield i

    out = thread_map(lambda x: x, source(), threads=2, window=4)
    first = next(out)
    assert first == (0, 0) and len(pulled) <= 4  # input is read only as outputs are taken
    assert [x for x, _ in out] == list(range(1, 100))
