"""Ray verification against the local path: equal records, a killed actor, a poisoned sample, resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tdrl.io import read_samples, write_jsonl
from tdrl.records import Sample

from .conftest import DEMO_PROBLEMS, DEMO_SAMPLES, POLICY, records

pytest.importorskip("ray")
ROOT = Path(__file__).resolve().parents[2]


def ray_verify(samples, out, **kw):
    from tdrl.scale.ray_verify import ray_verify_files

    return ray_verify_files(ROOT / DEMO_PROBLEMS, samples, out, time_policy=POLICY, progress=False, **kw)


def test_ray_verify_equals_local_record_for_record_in_input_order(ray_local, local_demo, tmp_path):
    out = tmp_path / "ray.jsonl"
    summary = ray_verify(ROOT / DEMO_SAMPLES, out, batch_size=3)
    assert records(out) == records(local_demo)
    written = [(d["problem_id"], d["sample_id"]) for d in map(json.loads, out.read_text().splitlines())]
    assert written == [s.key for s in read_samples(ROOT / DEMO_SAMPLES)]
    assert summary.nodes == 1 and summary.actor_deaths == 0 and summary.samples == 16 and summary.batches == 6


def test_an_actor_killed_mid_run_loses_and_duplicates_nothing(ray_local, local_demo, tmp_path):
    slow = "import time\ndef add(a, b):\n    time.sleep(0.03)\n    return a + b\n"
    samples = [*read_samples(ROOT / DEMO_SAMPLES), *(Sample("demo/add", f"slow-{i}", slow) for i in range(20))]
    write_jsonl(tmp_path / "samples.jsonl", samples)
    out = tmp_path / "ray.jsonl"
    done: dict = {}
    run = threading.Thread(target=lambda: done.update(summary=ray_verify(tmp_path / "samples.jsonl", out, batch_size=4)))
    run.start()
    deadline = time.time() + 60
    while time.time() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 14):
        time.sleep(0.02)
    (name,) = [a["name"] for a in ray_local.util.list_named_actors(all_namespaces=True) if a["name"].startswith("tdrl-verify")]
    ray_local.kill(ray_local.get_actor(name, namespace=None))
    run.join(120)
    summary = done["summary"]
    assert summary.actor_deaths == 1 and summary.poisoned == 0
    got = records(out)  # asserts there are no duplicates
    assert set(got) == {s.key for s in samples}
    demo = {k: v for k, v in got.items() if not k[1].startswith("slow")}
    assert demo == records(local_demo), [(k, v, records(local_demo)[k]) for k, v in demo.items() if v != records(local_demo)[k]]
    assert all(v["status"] == "pass" for k, v in got.items() if k[1].startswith("slow"))


def test_a_sample_that_kills_its_actor_ends_as_infra_error_after_bounded_retries(ray_local, local_demo, tmp_path):
    from tdrl.scale.ray_verify import VerifyActor

    # The sandbox keeps generated code from signalling or exhausting the verifier's own
    # process, so a test-only actor stands in for what can (a native crash, the OOM killer).
    class DiesOnMarkedSample(VerifyActor):
        def run(self, samples):
            if any("KILLS-ITS-HOST" in s.completion for s in samples):
                os._exit(1)
            return super().run(samples)

    samples = [s for s in read_samples(ROOT / DEMO_SAMPLES) if s.problem_id == "demo/add"]
    samples.insert(2, Sample("demo/add", "poisoned", "# KILLS-ITS-HOST\ndef add(a, b):\n    return a + b\n"))
    write_jsonl(tmp_path / "samples.jsonl", samples)
    out = tmp_path / "ray.jsonl"
    summary = ray_verify(tmp_path / "samples.jsonl", out, batch_size=4, max_retries=1, actor_cls=DiesOnMarkedSample)
    # 1 death with two batches on the actor (both become suspects), then alone: the batch of 4
    # dies twice and is split, its half of 2 dies once and is split, the sample dies twice
    assert summary.actor_deaths == 6 and summary.poisoned == 1
    got = records(out)
    poisoned = got.pop(("demo/add", "poisoned"))
    assert poisoned["status"] == "infra_error" and "died" in poisoned["error"]
    local = {k: v for k, v in records(local_demo).items() if k[0] == "demo/add"}
    assert {t["status"] for t in poisoned["tests"]} == {"infra_error"}
    assert poisoned["total"] == local[("demo/add", "correct-fenced")]["total"] and "def add" in poisoned["code"]
    assert got == local


def test_resume_after_an_interrupted_run_skips_what_is_done(ray_local, local_demo, tmp_path):
    out = tmp_path / "ray.jsonl"
    lines = local_demo.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:7]) + lines[7][:40])  # seven records and a torn eighth
    summary = ray_verify(ROOT / DEMO_SAMPLES, out, batch_size=4)
    assert summary.skipped == 7 and summary.samples == 9
    assert records(out) == records(local_demo)


def test_a_folder_of_shards_is_read_with_ray_data(ray_local, local_demo, tmp_path):
    quick = [s for s in read_samples(ROOT / DEMO_SAMPLES) if s.extra["kind"] != "hostile"]
    shards = tmp_path / "shards"
    shards.mkdir()
    write_jsonl(shards / "part-0.jsonl", quick[:5])
    write_jsonl(shards / "part-1.jsonl", quick[5:])
    out = tmp_path / "ray.jsonl"
    summary = ray_verify(shards, out, batch_size=4)
    assert summary.samples == len(quick)
    assert records(out) == {s.key: records(local_demo)[s.key] for s in quick}
    assert [tuple(json.loads(x)[k] for k in ("problem_id", "sample_id")) for x in out.read_text().splitlines()] == [
        s.key for s in quick
    ]


def test_cli_eval_with_ray_scores_like_local(ray_local, tmp_path):
    from typer.testing import CliRunner

    from tdrl.cli import app

    quick = [s for s in read_samples(ROOT / DEMO_SAMPLES) if s.extra["kind"] != "hostile"]
    write_jsonl(tmp_path / "quick.jsonl", quick)
    summaries = []
    for name, extra in (("local", []), ("ray", ["--ray", "local"])):
        args = ["eval", "--problems", str(ROOT / DEMO_PROBLEMS), "--samples", str(tmp_path / "quick.jsonl"), "--k", "1,2"]
        result = CliRunner().invoke(app, [*args, "--report", str(tmp_path / name), "--no-plots", "--no-progress", *extra])
        assert result.exit_code == 0, result.output
        summaries.append(json.loads((tmp_path / name / "summary.json").read_text()))
    assert summaries[0] == summaries[1]
    assert ray_local.is_initialized()  # the command joined the session's cluster and left it running


def test_ray_is_optional(tmp_path, monkeypatch):
    code = "import sys, tdrl, tdrl.cli, tdrl.scale.ray_verify, tdrl.scale.ray_sample, tdrl.scale.ray_synth; print('ray' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
    from typer.testing import CliRunner

    from tdrl.cli import app

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    args = ["verify", "--problems", str(ROOT / DEMO_PROBLEMS), "--samples", str(ROOT / DEMO_SAMPLES)]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "r.jsonl"), "--ray", "local"])
    assert result.exit_code == 2 and "pip install 'tdrl[ray]'" in result.output


def test_a_folder_of_shards_drops_unusable_problems_and_counts_unknown_ones(ray_local, tmp_path):
    """The streamed folder path checks what the file path checks: a problem whose tests are unusable
    is dropped with its reason, and samples of problems not in the file are counted with --skip-unknown
    (they were left out uncounted before: the count was taken before the stream was read)."""
    from tdrl.execution.run import verify_files
    from tdrl.records import Problem, Test

    problems = [
        Problem("good", [Test("call", input="[1]", output="2")], entry_point="f"),
        Problem("broken", [Test("call", input="[1]", output="(((")], entry_point="f"),
    ]
    write_jsonl(tmp_path / "problems.jsonl", problems)
    shards = tmp_path / "shards"
    shards.mkdir()
    code = "def f(x):\n    return x + 1\n"
    write_jsonl(shards / "part-0.jsonl", [Sample("good", "0", code), Sample("broken", "0", code)])
    write_jsonl(shards / "part-1.jsonl", [Sample("gone", "0", code), Sample("gone", "1", code), Sample("good", "1", code)])
    from tdrl.runner import Ray

    out = tmp_path / "out.jsonl"
    summary = verify_files(tmp_path / "problems.jsonl", shards, out, executor=Ray("local"), skip_unknown=True, progress=False)
    assert summary.unknown == 2 and summary.dropped == 1 and summary.samples == 2
    assert {json.loads(x)["problem_id"] for x in out.read_text().splitlines()} == {"good"}
    dropped = [json.loads(x) for x in (tmp_path / "out.jsonl.dropped.jsonl").read_text().splitlines()]
    assert [d["problem_id"] for d in dropped] == ["broken"] and "tests[0].output" in dropped[0]["reason"]
