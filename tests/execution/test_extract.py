from tdrl.execution.extract import extract_code

PROMPT = 'from typing import List\n\ndef f(xs: List[int]) -> int:\n    """doc"""\n'


def test_fenced_block_defining_the_entry_point_wins():
    text = "Try:\n```python\nprint('hi')\n```\nthen\n```python\ndef f(xs):\n    return 1\n```\nbye"
    code, rule = extract_code(text, PROMPT, "f")
    assert rule == "fenced" and "return 1" in code and "print('hi')" not in code
    assert code.startswith("from typing import List")  # the prompt's imports come along


def test_longest_block_without_entry_point():
    code, rule = extract_code("```\nx = 1\n```\n```py\ny = 2\nz = 3\n```", None, "f")
    assert code == "y = 2\nz = 3\n" and rule == "fenced"


def test_unterminated_fence():
    code, _ = extract_code("```python\ndef f(xs):\n    return 2", None, "f")
    assert "return 2" in code


def test_humaneval_continuation():
    code, rule = extract_code("    return sum(xs)\n", PROMPT, "f")
    assert rule == "prompt+completion" and code == PROMPT + "    return sum(xs)\n"


def test_raw_full_function():
    code, rule = extract_code("def f(xs):\n    return 0\n", PROMPT, "f")
    assert rule == "raw" and code.endswith("def f(xs):\n    return 0\n")
