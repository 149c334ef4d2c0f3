"""verl and OpenRLHF reward adapters (without the engines), the response normaliser, ground-truth shapes, exports."""

import asyncio
import inspect
import json
import subprocess
import sys

import pytest

from tdrl.io import write_jsonl
from tdrl.records import Problem, Test
from tdrl.serve import scoring
from tdrl.serve.scoring import problem_label

from .engines import need

TDRL = [sys.executable, "-m", "tdrl.cli"]
SQUARE = Problem(
    "sq",
    [Test("call", input=f"[{x}]", output=str(x * x)) for x in (0, 2, -3, 7)] + [Test("assert", code="assert sq(5) == 25")],
    prompt="def sq(x):\n",
    entry_point="sq",
)
RIGHT = "def sq(x):\n    return x * x\n"
HALF = "def sq(x):\n    return x * x if x > 0 else 0\n"  # passes 0, 2, 7 and 5: 4 of 5
HOSTILE = {
    "exit0": "import os\nos._exit(0)\n",
    "sys_exit": "import sys\nsys.exit(0)\n",
    "eq_trick": "class A:\n    def __eq__(self, o):\n        return True\n\ndef sq(x):\n    return A()\n",
    "loop": "def sq(x):\n    while True:\n        pass\n",
    "fake_report": 'print(\'{"status": "pass", "pass_rate": 1.0}\')\ndef sq(x):\n    return -1\n',
    "kill_parent": "import os, signal\ndef sq(x):\n    os.kill(os.getppid(), signal.SIGKILL)\n",
}


@pytest.fixture(autouse=True)
def fast_verifier(monkeypatch):
    monkeypatch.setenv("TDRL_TIMEOUT", "1.0")
    monkeypatch.setenv("TDRL_WORKERS", "2")


STDIO = Problem("sum2", [Test("stdio", stdin=f"{a} {b}\n", stdout=f"{a + b}\n") for a, b in ((1, 2), (5, -7), (0, 0))])
STDIO_RIGHT = "import sys\na, b = map(int, sys.stdin.read().split())\nprint(a + b)\n"
STDIO_WRONG = "import sys\na, b = map(int, sys.stdin.read().split())\nprint(a - b)\n"
EOS_TEXTS = ["<|im_end|>", "<|endoftext|>", "</s>", "<|eot_id|>", "<|im_end|>\n<|endoftext|><|endoftext|>"]


def _verl(*args, **kw):
    from tdrl.serve.verl import compute_score

    return asyncio.run(compute_score(*args, **kw))


def test_verl_compute_score_is_awaited_and_scores_hostile_programs_zero():
    from tdrl.serve.verl import compute_score

    assert inspect.iscoroutinefunction(compute_score)  # verl's reward loop awaits it instead of using a thread
    label = problem_label(SQUARE)
    assert _verl("tdrl", RIGHT, label, {"index": 0})["score"] == 1.0
    half = _verl("tdrl", f"```python\n{HALF}```", label)
    assert half["score"] == pytest.approx(0.8) and half["all_pass"] == 0.0
    for name, code in HOSTILE.items():
        assert _verl("tdrl", code, label)["score"] == 0.0, name
    assert _verl("tdrl", RIGHT, label)["infra_error"] == 0.0


@pytest.mark.parametrize("eos", EOS_TEXTS)
def test_answers_followed_by_engine_eos_text_score_by_their_code(eos):
    """A fenced answer, an unfenced completion and a stdio program, each followed by EOS text: 1 if right, 0 if wrong."""
    from tdrl.serve.openrlhf import reward_func

    cases = [
        (SQUARE, f"Here it is:\n```python\n{RIGHT}```{eos}", 1.0),
        (SQUARE, f"```python\n{RIGHT}```\nIt squares x.{eos}", 1.0),  # a closing fence followed by more text
        (SQUARE, f"```python\ndef sq(x):\n    return x + x\n```{eos}", 0.4),
        (SQUARE, "    return x * x" + eos, 1.0),  # continues the prompt's def line
        (SQUARE, "    return x * x + 1" + eos, 0.0),
        (STDIO, STDIO_RIGHT + eos, 1.0),
        (STDIO, STDIO_WRONG.rstrip("\n") + eos, 1 / 3),  # right only for 0 0
    ]
    prompt = "<|im_start|>user\nSolve it.<|im_end|>\n<|im_start|>assistant\n"
    for problem, response, want in cases:
        label = problem_label(problem)
        out = reward_func([prompt + response], [prompt], [label])  # OpenRLHF: one sample per call
        assert out["rewards"].tolist() == pytest.approx([want], abs=1e-6), response
        assert out["extra_logs"]["special_tokens_stripped"].item() >= 1
        assert _verl("tdrl", response, label)["score"] == pytest.approx(want), response


def test_normaliser_strips_tokenizer_specials_anywhere_and_engine_text_only_at_the_end(tiny_model):
    from transformers import AutoTokenizer

    from tdrl.execution.response import normalize_response

    html = 'print("<b>x</b></s>")\n'
    assert normalize_response(html).text == html  # "</s>" inside the answer is the program's
    cut = normalize_response("x = 1\n</s><pad><pad>")
    assert cut.text == "x = 1" and cut.stripped == ["</s>", "<pad>", "<pad>"]
    tok = AutoTokenizer.from_pretrained(tiny_model)
    ids = tok("<|assistant|>\nx = 1\n", add_special_tokens=False)["input_ids"] + [tok.eos_token_id, tok.pad_token_id]
    decoded = tok.decode(ids, skip_special_tokens=False)
    got = normalize_response(decoded, tok)
    assert got.text == tok.decode(ids, skip_special_tokens=True)  # what skip_special_tokens=True gives
    assert got.stripped == ["<|assistant|>", "<|endoftext|>", "<|pad|>"]


def test_verl_and_prime_ground_truths_are_scored_as_tests():
    stdio = {"inputs": ["1 2\n", "5 -7\n"], "outputs": ["3\n", "-2\n"]}
    assert _verl("codecontests", STDIO_RIGHT, json.dumps(stdio))["score"] == 1.0
    assert _verl("codecontests", STDIO_WRONG, stdio)["score"] == 0.0
    # APPS call tests: inputs are argument lists, outputs wrap the return value in a list
    apps = {"fn_name": "sq", "inputs": [[2], [-3]], "outputs": [[4], [9]]}
    assert _verl("apps", RIGHT, json.dumps(apps))["score"] == 1.0
    assert _verl("apps", HALF, json.dumps(apps))["score"] == 0.5
    # PRIME stores a call's arguments as JSON lines and the output as JSON text
    prime = {"fn_name": "pair", "inputs": ["1\n[2, 3]"], "outputs": ["[[1, [2, 3]]]"]}
    assert _verl("taco", "def pair(a, b):\n    return [a, b]\n", json.dumps(prime))["score"] == 1.0
    bad = _verl("tdrl", RIGHT, json.dumps({"tests": []}))  # one bad row scores 0 and is counted, the job goes on
    assert bad["score"] == 0.0 and bad["bad_label"] == 1.0


@pytest.mark.engines
def test_verl_routes_other_data_sources_to_verls_default_scorer():
    need("verl")
    out = _verl("openai/gsm8k", "The answer is #### 72", "72")
    assert out["score"] == 1.0 and out["tdrl"] == 0.0  # verl's gsm8k rule, not tdrl
    assert _verl("openai/gsm8k", "#### 71", "72")["score"] == 0.0
    from tdrl.serve.verl import KEYS

    assert set(out) == set(KEYS) == set(_verl("tdrl", RIGHT, problem_label(SQUARE)))  # verl stacks extra info per key


def test_problems_are_reused_across_one_sample_calls(monkeypatch):
    from tdrl.serve.openrlhf import reward_func

    cache = scoring.ProblemCache()
    monkeypatch.setattr(scoring, "_labels", cache)
    label = problem_label(SQUARE)
    for code in (RIGHT, HALF, RIGHT):
        reward_func([code], [""], [label])
    assert (cache.misses, cache.hits) == (1, 2)
    one = scoring.problem_from_label(label)
    assert scoring.problem_from_label(json.loads(label)) is not None and scoring.problem_from_label(label) is one
    small = scoring.ProblemCache(size=2, on_evict=lambda p: evicted.append(p.id))
    evicted: list[str] = []
    for pid in ("a", "b", "c"):
        scoring.problem_from_label(json.dumps({**SQUARE.to_dict(), "id": pid}), cache=small)
    assert len(small) == 2 and evicted == ["a"]


def test_openrlhf_reward_func_with_problem_ids_never_raises(tmp_path, monkeypatch):
    from tdrl.serve.openrlhf import reward_func

    write_jsonl(tmp_path / "problems.jsonl", [SQUARE])
    monkeypatch.setenv("TDRL_PROBLEMS", str(tmp_path / "problems.jsonl"))
    monkeypatch.setattr(scoring, "_problems", None)
    prompts = ["<user>square</user>"] * 4
    queries = [p + r for p, r in zip(prompts, [RIGHT, HALF, HOSTILE["exit0"], RIGHT])]
    out = reward_func(queries, prompts, ["sq", "sq", "sq", "no-such-id"])
    assert out["rewards"].tolist() == pytest.approx([1.0, 0.8, 0.0, 0.0])
    assert out["scores"].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert out["extra_logs"]["infra_error"].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert out["extra_logs"]["bad_label"].tolist() == [0.0, 0.0, 0.0, 1.0]


def test_openrlhf_verifier_failure_scores_zero_with_the_infra_flag(monkeypatch):
    from tdrl.records import Result
    from tdrl.serve.openrlhf import reward_func

    class Broken:  # a verifier whose sandbox cannot start: every verdict is an infra error
        def submit(self, problem, sample):
            from concurrent.futures import Future

            fut = Future()
            fut.set_result(Result(problem.id, sample.sample_id, "infra_error", 0.0, [], 0.0, error="no sandbox"))
            return fut

    monkeypatch.setattr(scoring, "shared_verifier", lambda: Broken())
    out = reward_func([RIGHT], [""], [problem_label(SQUARE)])
    assert out["rewards"].tolist() == [0.0] and out["extra_logs"]["infra_error"].tolist() == [1.0]

    def explode():
        raise RuntimeError("pool died")

    monkeypatch.setattr(scoring, "shared_verifier", explode)
    out = reward_func([RIGHT], [""], [problem_label(SQUARE)])
    assert out["rewards"].tolist() == [0.0] and out["extra_logs"]["infra_error"].tolist() == [1.0]


def test_export_verl_parquet_round_trip(tmp_path):
    pd = pytest.importorskip("pandas")

    write_jsonl(tmp_path / "problems.jsonl", [Problem.from_dict({**SQUARE.to_dict(), "reference": RIGHT})])
    proc = subprocess.run(
        [*TDRL, "export-verl", "--problems", str(tmp_path / "problems.jsonl"), "--out", str(tmp_path / "train.parquet")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    df = pd.read_parquet(tmp_path / "train.parquet")
    row = df.iloc[0]
    assert row["data_source"] == "tdrl" and row["ability"] == "code" and row["prompt"][0]["role"] == "user"
    truth = row["reward_model"]["ground_truth"]
    assert "reference" not in json.loads(truth)  # the answer does not travel with the data
    assert _verl(row["data_source"], RIGHT, truth, row["extra_info"])["score"] == 1.0


def test_export_openrlhf_jsonl(tmp_path):
    from tdrl.serve.openrlhf import reward_func

    write_jsonl(tmp_path / "problems.jsonl", [Problem.from_dict({**SQUARE.to_dict(), "reference": RIGHT})])
    for labels in ("problem", "id"):
        out = tmp_path / f"{labels}.jsonl"
        cmd = [*TDRL, "export-openrlhf", "--problems", str(tmp_path / "problems.jsonl"), "--out", str(out), "--labels", labels]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0 and "1 rows" in proc.stdout, proc.stderr
        row = json.loads(out.read_text())
        assert row["prompt"][0]["role"] == "user" and row["problem_id"] == "sq"
        if labels == "problem":
            assert "reference" not in json.loads(row["label"])
            assert reward_func([RIGHT], [""], [row["label"]])["rewards"].tolist() == [1.0]
        else:
            assert row["label"] == "sq"
    bad = subprocess.run(
        [*TDRL, "export-openrlhf", "--problems", str(tmp_path / "problems.jsonl"), "--out", str(out), "--labels", "x"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "labels 'x'" in bad.stderr
