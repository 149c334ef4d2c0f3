"""The study over several seeds: seed lists, the two-level bootstrap, verdicts, the report and resuming."""

import json
from dataclasses import asdict, replace

import pytest

from tdrl.envs.seeds import finished, parse_seeds, run_seeds, two_level_bootstrap, verdict, write_report
from tdrl.envs.study import StudyConfig


def test_seed_lists_and_ranges():
    assert parse_seeds("0,1,2,3,4") == parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("3, 1-2,3") == [3, 1, 2]
    for bad in ("", "a", "1,x-2"):
        with pytest.raises(ValueError, match="--seeds"):
            parse_seeds(bad)


def test_two_level_bootstrap_spreads_over_seeds_and_tasks():
    same = two_level_bootstrap([[1, 0, 1, 0]] * 5)
    assert same["mean"] == 0.5 and same["low"] < 0.5 < same["high"] and same["seeds"] == 5  # task spread alone
    constant = two_level_bootstrap([[1, 1], [1, 1], [1, 1]])
    assert constant["low"] == constant["high"] == constant["mean"] == 1.0
    # one seed far off widens the interval well beyond what the tasks of any one seed give
    spread = two_level_bootstrap([[1] * 8, [1] * 8, [0] * 8, [1] * 8])
    assert spread["mean"] == 0.75 and spread["low"] <= 0.5 and spread["high"] == 1.0
    assert two_level_bootstrap([])["mean"] is None


def test_verdicts_follow_the_interval():
    assert verdict(two_level_bootstrap([[1, 0, 1, 1]] * 5)) == "holds"
    assert verdict(two_level_bootstrap([[-1, 0, -1, -1]] * 5)) == "reversed"
    assert verdict(two_level_bootstrap([[1, 1, 1], [-1, -1, -1], [1, 0, 0], [-1, 0, 0]])) == "not shown"


def _rows(branch, split, steps, solved):
    return [{"branch": branch, "step": s, "split": split, "success": sum(v) / len(v), "solved": v} for s, v in zip(steps, solved)]


def _seed_folder(root, seed, rl_ood, sft_ood, config=None):
    folder = root / f"seed{seed}"
    folder.mkdir(parents=True)
    rows = _rows("start", "ood", [0], [[0, 0, 1, 0]]) + _rows("start", "id", [0], [[1, 0, 1, 0]])
    rows += _rows("sft", "ood", [0, 5], [[0, 0, 1, 0], sft_ood]) + _rows("sft", "id", [0, 5], [[1, 0, 1, 0], [1, 1, 1, 1]])
    rows += _rows("rl", "ood", [0, 5], [[0, 0, 1, 0], rl_ood]) + _rows("rl", "id", [0, 5], [[1, 0, 1, 0], [1, 1, 1, 0]])
    (folder / "curves.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "study.json").write_text(json.dumps({"config": config or {}}))


def test_the_report_compares_the_branches_at_their_last_step_and_says_what_reproduces(tmp_path):
    for seed in range(4):
        _seed_folder(tmp_path, seed, rl_ood=[1, 1, 1, 0], sft_ood=[0, 0, 1, 0])
    report = write_report(tmp_path, [0, 1, 2, 3, 9])
    assert report["seeds"] == [0, 1, 2, 3] and report["missing_seeds"] == [9]
    rl_ood = report["final_success"]["rl"]["ood"]
    assert rl_ood["mean"] == 0.75 and rl_ood["per_seed"] == {0: 0.75, 1: 0.75, 2: 0.75, 3: 0.75}  # step 5, not step 0
    better = report["comparisons"]["rl_vs_sft_ood"]
    assert better["mean"] == 0.5 and better["per_seed"] == [0.5] * 4 and better["verdict"] == "holds"
    same = report["comparisons"]["sft_vs_start_ood"]  # 0 points on every seed: what the paper finds for SFT
    assert same["verdict"] == "not shown" and same["paper"] == "not above 0" and same["agrees"]
    assert better["agrees"] and report["comparisons"]["rl_vs_start_id"]["verdict"] == "holds"
    assert "rl_vs_rl_raw_ood" not in report["comparisons"]  # no ablation branch was run
    text = (tmp_path / "report.md").read_text()
    assert "Not finished (left out): 9" in text and "| rl | ood | 75.0% [" in text
    assert "Agrees with the paper: OOD success after RL is above OOD success after SFT (RL generalises): holds on 4 seeds" in text
    assert json.loads((tmp_path / "report.json").read_text())["comparisons"]["rl_vs_sft_ood"]["verdict"] == "holds"
    assert (tmp_path / "seeds.png").stat().st_size > 5000


def test_finished_seeds_are_kept_and_a_changed_config_is_not(tmp_path):
    cfg = StudyConfig(env="navigation", out_dir=str(tmp_path), steps=3)
    for seed in (0, 1):
        sub = replace(cfg, seed=seed, out_dir=str(tmp_path / f"seed{seed}"))
        _seed_folder(tmp_path, seed, rl_ood=[1, 0, 1, 0], sft_ood=[0, 0, 1, 0], config=asdict(sub))
    said = []
    report = run_seeds(cfg, [0, 1], progress=False, say=said.append)
    assert said == [f"seed {s}: done before, kept ({tmp_path}/seed{s}/study.json)" for s in (0, 1)]
    assert report["seeds"] == [0, 1]
    seed0 = replace(cfg, seed=0, out_dir=str(tmp_path / "seed0"))
    assert finished(seed0) and not finished(replace(seed0, steps=4)) and not finished(replace(seed0, out_dir=str(tmp_path)))
