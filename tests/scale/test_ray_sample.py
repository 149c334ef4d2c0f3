"""``sample --ray`` against the local OpenAI-backend path, through the real scripted server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tdrl.io import read_problems
from tdrl.sampling.sample import SampleParams, sample_files
from tests.conftest import ScriptedModel

from .conftest import DEMO_PROBLEMS

pytest.importorskip("ray")
pytest.importorskip("openai")
ROOT = Path(__file__).resolve().parents[2]


def lines(path) -> list[dict]:
    return [json.loads(x) for x in Path(path).read_text().splitlines()]


def test_ray_sampling_equals_local_and_resumes(ray_local, serve, tmp_path):
    from tdrl.scale.ray_sample import ray_sample_files

    url = serve(ScriptedModel([("add", "def add(a, b):\n    return a + b\n"), ("mean", "def mean(xs):\n    return 0\n")]))
    problems = ROOT / DEMO_PROBLEMS
    params = SampleParams(n=3, temperature=0.5, max_tokens=64, seed=3)
    local = tmp_path / "local.jsonl"
    sample_files(problems, local, "scripted", params, backend="openai", base_url=url, cache_dir=tmp_path / "c1", progress=False)

    out = tmp_path / "ray.jsonl"
    out.write_text("".join(x + "\n" for x in local.read_text().splitlines()[:4]))  # a run killed after 4 samples
    summary = ray_sample_files(
        problems, out, "scripted", params, base_url=url, cache_dir=tmp_path / "c2", progress=False, batch_size=2
    )
    assert summary.skipped == 1 and summary.samples == 8
    key = lambda d: (d["problem_id"], d["sample_id"])  # noqa: E731
    assert sorted(lines(out), key=key) == sorted(lines(local), key=key)
    # Ray writes in problem order: after the resumed lines, the rest in input order
    ids = [p.id for p in read_problems(problems)]
    rest = [key(d) for d in lines(out)[4:]]
    assert rest == sorted(rest, key=lambda k: (ids.index(k[0]), int(k[1])))


def test_sample_with_ray_refuses_local_models(tmp_path):
    from typer.testing import CliRunner

    from tdrl.cli import app

    args = ["sample", "--problems", str(ROOT / DEMO_PROBLEMS), "--out", str(tmp_path / "s.jsonl"), "--ray", "local"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "--backend openai" in result.output
    assert not (tmp_path / "s.jsonl").exists()
