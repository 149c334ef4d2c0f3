"""One real Ray cluster on 127.0.0.1 for the whole session (starting Ray takes seconds)."""

from __future__ import annotations

import json

import pytest

from tdrl.execution import TimePolicy

DEMO_PROBLEMS = "src/tdrl/data/demo_problems.jsonl"
DEMO_SAMPLES = "src/tdrl/data/demo_samples.jsonl"
POLICY = TimePolicy(timeout=1.0, load_timeout=3.0, max_sample=10.0)


@pytest.fixture(scope="session")
def ray_local():
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", _node_ip_address="127.0.0.1", log_to_driver=False)
    yield ray
    ray.shutdown()


# Whether a fork bomb's tests end as "fork refused" errors or as time limits depends on the
# load of the machine at that moment, between two local runs too: only its verdict is compared.
LOAD_DECIDED = {("demo/sort_words", "hostile-fork-bomb")}


def records(path) -> dict:
    """Result records by (problem_id, sample_id), without their timing fields."""
    out = {}
    for line in open(path, encoding="utf-8"):
        d = json.loads(line)
        d.pop("time_ms")
        for t in d["tests"]:
            t.pop("time_ms")
        if (d["problem_id"], d["sample_id"]) in LOAD_DECIDED:
            d = {k: d[k] for k in ("problem_id", "sample_id", "status", "pass_rate", "passed", "total", "code")}
        key = (d["problem_id"], d["sample_id"])
        assert key not in out, f"duplicate record {key}"
        out[key] = d
    return out


@pytest.fixture(scope="session")
def local_demo(tmp_path_factory):
    """The local path's results on the bundled demo problems and samples."""
    from tdrl.execution.run import verify_files

    out = tmp_path_factory.mktemp("local") / "results.jsonl"
    verify_files(DEMO_PROBLEMS, DEMO_SAMPLES, out, workers=2, time_policy=POLICY, progress=False)
    return out
