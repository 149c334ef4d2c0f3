import json

from tdrl.io import write_jsonl
from tdrl.records import Problem, Test


def write_problems(path, count: int):
    """``count`` one-test problems ``p0``, ``p1``, ... whose prompts say "Return x (i)."."""
    problems = [
        Problem(
            f"p{i}",
            [Test("call", input=f"[{i}]", output=f"{i}")],
            entry_point="f",
            prompt=f'def f(x):\n    """Return x ({i})."""\n',
        )
        for i in range(count)
    ]
    write_jsonl(path, problems)
    return path


def read(path):
    return [json.loads(x) for x in path.read_text().splitlines()]
