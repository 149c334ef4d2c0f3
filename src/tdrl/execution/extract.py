"""Extract the program from a model's raw completion.

Rules, in order (the chosen rule is recorded in each result's ``extraction`` field):

1. ``fenced``: the completion has markdown code fences. Among the Python (or untagged)
   blocks, take the last one that defines the entry point; else the longest block. An
   unterminated final fence (a cut-off generation) counts as a block, and a closing fence
   may be followed by more text on its line (``` ```<|im_end|>``, ``` ``` Done.``).
2. ``prompt+completion``: the problem has a prompt that defines the entry point and the
   completion does not define it at top level: the completion continues the prompt's
   function header (HumanEval style), so the program is prompt + completion.
3. ``raw``: the completion as it is.

When a fenced or raw program defines the entry point itself, the prompt's import lines are
prepended, since a model that restates ``def f(xs: List[int])`` often omits ``from typing
import List`` that the prompt had.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:^[ \t]*```|\Z)", re.S | re.M)
_PY_TAGS = {"", "python", "py", "python3", "py3"}


def _defines(code: str, name: str | None) -> bool:
    if not name:
        return False
    return (
        re.search(rf"^(?:async\s+)?def\s+{re.escape(name)}\s*\(|^class\s+{re.escape(name)}\b|^{re.escape(name)}\s*=", code, re.M)
        is not None
    )


def _prompt_imports(prompt: str | None) -> str:
    if not prompt:
        return ""
    lines = [ln for ln in prompt.splitlines() if re.match(r"^(import|from)\s+\w", ln)]
    return "\n".join(lines) + "\n" if lines else ""


def extract_code(completion: str, prompt: str | None = None, entry_point: str | None = None) -> tuple[str, str]:
    """Return ``(program, rule)`` for a raw completion (see the module doc for the rules)."""
    blocks = [m.group(2) for m in _FENCE.finditer(completion) if m.group(1).lower() in _PY_TAGS]
    if blocks:
        defining = [b for b in blocks if _defines(b, entry_point)]
        code = defining[-1] if defining else max(blocks, key=len)
        if _defines(code, entry_point) or not (prompt and _defines(prompt, entry_point)):
            return _with_imports(code, prompt, entry_point), "fenced"
        return prompt + code, "fenced+prompt"
    if prompt and entry_point and not _defines(completion, entry_point) and _defines(prompt, entry_point):
        return prompt + completion, "prompt+completion"
    return _with_imports(completion, prompt, entry_point), "raw"


def _with_imports(code: str, prompt: str | None, entry_point: str | None) -> str:
    imports = _prompt_imports(prompt) if _defines(code, entry_point) else ""
    return imports + code if imports else code
