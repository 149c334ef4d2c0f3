"""MBPP-style problems written for the policy-sample benchmark (self-built, not from MBPP).

Each family is a small list/string/number task with a constant ``k``; one family gives a
problem per ``k`` in ``KS``. A family has a reference, a second correct implementation
written differently (a policy's correct samples are not all the reference), and an input
generator. Wrong samples come from mutating the reference (``tdrl.synthesis.mutants``).
"""

from __future__ import annotations

import random

KS = (2, 3, 4, 5, 6, 7, 8, 9)


def _ints(r: random.Random, lo: int = -50, hi: int = 50, n: int = 15) -> list[int]:
    return [r.randint(lo, hi) for _ in range(r.randint(0, n))]


def _word(r: random.Random, alphabet: str = "abcdeiouxyz", n: int = 12) -> str:
    return "".join(r.choice(alphabet) for _ in range(r.randint(0, n)))


def _sentence(r: random.Random) -> str:
    return " ".join(_word(r, n=6) for _ in range(r.randint(0, 8)))


# name: (reference, another correct implementation, input generator); {k} is the family constant
FAMILIES: dict[str, tuple[str, str, object]] = {
    "count_div": (
        "def count_div(xs):\n    return sum(1 for x in xs if x % {k} == 0)\n",
        "def count_div(xs):\n    n = 0\n    for x in xs:\n        if not x % {k}:\n            n += 1\n    return n\n",
        lambda r: [_ints(r)],
    ),
    "sum_multiples": (
        "def sum_multiples(n):\n    return sum(i for i in range(n) if i % {k} == 0)\n",
        "def sum_multiples(n):\n    total = 0\n    i = 0\n    while i < n:\n        total += i\n        i += {k}\n    return total\n",
        lambda r: [r.randint(0, 3000)],
    ),
    "chunks": (
        "def chunks(xs):\n    return [xs[i:i + {k}] for i in range(0, len(xs), {k})]\n",
        "def chunks(xs):\n    out, cur = [], []\n    for x in xs:\n        cur.append(x)\n        if len(cur) == {k}:\n            out.append(cur)\n            cur = []\n    if cur:\n        out.append(cur)\n    return out\n",
        lambda r: [_ints(r, n=25)],
    ),
    "rotate_left": (
        "def rotate_left(xs):\n    if not xs:\n        return []\n    s = {k} % len(xs)\n    return xs[s:] + xs[:s]\n",
        "def rotate_left(xs):\n    out = list(xs)\n    for _ in range({k} % max(len(xs), 1)):\n        out.append(out.pop(0))\n    return out\n",
        lambda r: [_ints(r, n=12)],
    ),
    "every_kth": (
        "def every_kth(s):\n    return s[{k} - 1::{k}]\n",
        "def every_kth(s):\n    return ''.join(c for i, c in enumerate(s) if (i + 1) % {k} == 0)\n",
        lambda r: [_word(r, n=30)],
    ),
    "caesar": (
        "def caesar(s):\n    return ''.join(chr((ord(c) - 97 + {k}) % 26 + 97) if 'a' <= c <= 'z' else c for c in s)\n",
        "def caesar(s):\n    import string\n    a = string.ascii_lowercase\n    table = str.maketrans(a, a[{k}:] + a[:{k}])\n    return s.translate(table)\n",
        lambda r: [_sentence(r)],
    ),
    "digit_power_sum": (
        "def digit_power_sum(n):\n    return sum(int(d) ** {k} for d in str(abs(n)))\n",
        "def digit_power_sum(n):\n    n, t = abs(n), 0\n    while n:\n        t += (n % 10) ** {k}\n        n //= 10\n    return t\n",
        lambda r: [r.randint(-(10**9), 10**9)],
    ),
    "long_words": (
        "def long_words(s):\n    return [w for w in s.split() if len(w) >= {k}]\n",
        "def long_words(s):\n    out = []\n    for w in s.split():\n        if not len(w) < {k}:\n            out.append(w)\n    return out\n",
        lambda r: [_sentence(r)],
    ),
    "window_max_sum": (
        "def window_max_sum(xs):\n    if len(xs) < {k}:\n        return None\n    return max(sum(xs[i:i + {k}]) for i in range(len(xs) - {k} + 1))\n",
        "def window_max_sum(xs):\n    if len(xs) < {k}:\n        return None\n    cur = sum(xs[:{k}])\n    best = cur\n    for i in range({k}, len(xs)):\n        cur += xs[i] - xs[i - {k}]\n        best = max(best, cur)\n    return best\n",
        lambda r: [_ints(r, n=20)],
    ),
    "top_k": (
        "def top_k(xs):\n    return sorted(xs, reverse=True)[:{k}]\n",
        "def top_k(xs):\n    import heapq\n    return heapq.nlargest({k}, xs)\n",
        lambda r: [_ints(r, n=20)],
    ),
    "pad_number": (
        "def pad_number(n):\n    return str(n).zfill({k}) if n >= 0 else '-' + str(-n).zfill({k})\n",
        "def pad_number(n):\n    s = str(abs(n))\n    s = '0' * max(0, {k} - len(s)) + s\n    return '-' + s if n < 0 else s\n",
        lambda r: [r.randint(-(10**6), 10**6)],
    ),
    "count_runs": (
        "def count_runs(s):\n    import itertools\n    return sum(1 for _, g in itertools.groupby(s) if len(list(g)) >= {k})\n",
        "def count_runs(s):\n    n, run = 0, 0\n    for i, c in enumerate(s):\n        run = run + 1 if i and s[i - 1] == c else 1\n        if run == {k}:\n            n += 1\n    return n\n",
        lambda r: [_word(r, "aab", 30)],
    ),
    "base_digits": (
        "def base_digits(n):\n    n = abs(n)\n    if n == 0:\n        return [0]\n    out = []\n    while n:\n        out.append(n % {k})\n        n //= {k}\n    return out[::-1]\n",
        "def base_digits(n):\n    n = abs(n)\n    digits = []\n    while True:\n        n, d = divmod(n, {k})\n        digits.insert(0, d)\n        if n == 0:\n            return digits\n",
        lambda r: [r.randint(-(10**7), 10**7)],
    ),
    "kth_smallest": (
        "def kth_smallest(xs):\n    s = sorted(set(xs))\n    return s[{k} - 1] if len(s) >= {k} else None\n",
        "def kth_smallest(xs):\n    seen = []\n    for x in sorted(xs):\n        if x not in seen:\n            seen.append(x)\n    return seen[{k} - 1] if len(seen) >= {k} else None\n",
        lambda r: [_ints(r, -10, 10, 15)],
    ),
    "modular_pow_sum": (
        "def modular_pow_sum(xs):\n    return sum(pow(x, {k}, 1000003) for x in xs) % 1000003\n",
        "def modular_pow_sum(xs):\n    t = 0\n    for x in xs:\n        t = (t + x ** {k}) % 1000003\n    return t\n",
        lambda r: [_ints(r, 0, 10**6, 12)],
    ),
    "vowel_positions": (
        "def vowel_positions(s):\n    return [i for i, c in enumerate(s) if c in 'aeiou' and i % {k} == 0]\n",
        "def vowel_positions(s):\n    return [i for i in range(0, len(s), {k}) if s[i] in 'aeiou']\n",
        lambda r: [_word(r, n=30)],
    ),
    "collatz_steps": (
        "def collatz_steps(n):\n    n = abs(n) * {k} + 1\n    steps = 0\n    while n != 1:\n        n = n // 2 if n % 2 == 0 else 3 * n + 1\n        steps += 1\n    return steps\n",
        "def collatz_steps(n):\n    def go(m, s):\n        while m != 1:\n            m, s = (m >> 1, s + 1) if m % 2 == 0 else (3 * m + 1, s + 1)\n        return s\n    return go(abs(n) * {k} + 1, 0)\n",
        lambda r: [r.randint(-500, 5000)],
    ),
    "group_by_mod": (
        "def group_by_mod(xs):\n    out = {{}}\n    for x in xs:\n        out.setdefault(x % {k}, []).append(x)\n    return out\n",
        "def group_by_mod(xs):\n    from collections import defaultdict\n    d = defaultdict(list)\n    for x in xs:\n        d[x % {k}].append(x)\n    return dict(d)\n",
        lambda r: [_ints(r, n=15)],
    ),
    "triangle_row": (
        "def triangle_row(n):\n    n = n % 25 + {k}\n    row = [1]\n    for _ in range(n):\n        row = [a + b for a, b in zip([0] + row, row + [0])]\n    return row\n",
        "def triangle_row(n):\n    import math\n    n = n % 25 + {k}\n    return [math.comb(n, i) for i in range(n + 1)]\n",
        lambda r: [r.randint(0, 200)],
    ),
    "mean_of_kth": (
        "def mean_of_kth(xs):\n    sel = xs[::{k}]\n    return sum(sel) / len(sel) if sel else 0.0\n",
        "def mean_of_kth(xs):\n    total, n = 0, 0\n    for i in range(0, len(xs), {k}):\n        total += xs[i]\n        n += 1\n    return total / n if n else 0.0\n",
        lambda r: [_ints(r, n=25)],
    ),
    "repeat_chars": (
        "def repeat_chars(s):\n    return ''.join(c * ({k} if c.isalpha() else 1) for c in s)\n",
        "def repeat_chars(s):\n    out = []\n    for c in s:\n        out.append(c * {k} if c.isalpha() else c)\n    return ''.join(out)\n",
        lambda r: [_word(r, "ab1 ", 12)],
    ),
    "is_k_smooth": (
        "def is_k_smooth(n):\n    n = abs(n)\n    if n == 0:\n        return False\n    for p in range(2, {k} + 1):\n        while n % p == 0:\n            n //= p\n    return n == 1\n",
        "def is_k_smooth(n):\n    n = abs(n)\n    if n < 1:\n        return False\n    d = 2\n    while n > 1 and d <= {k}:\n        if n % d == 0:\n            n //= d\n        else:\n            d += 1\n    return n == 1\n",
        lambda r: [r.randint(-2000, 2000)],
    ),
    "pairs_with_sum": (
        "def pairs_with_sum(xs):\n    return sum(1 for i in range(len(xs)) for j in range(i + 1, len(xs)) if xs[i] + xs[j] == {k})\n",
        "def pairs_with_sum(xs):\n    from collections import Counter\n    c = Counter()\n    n = 0\n    for x in xs:\n        n += c[{k} - x]\n        c[x] += 1\n    return n\n",
        lambda r: [_ints(r, -5, 12, 20)],
    ),
    "interleave": (
        "def interleave(a, b):\n    out = []\n    for i in range(max(len(a), len(b))):\n        out.extend(a[i:i + 1] * {k})\n        out.extend(b[i:i + 1])\n    return out\n",
        "def interleave(a, b):\n    out = []\n    for i in range(max(len(a), len(b))):\n        if i < len(a):\n            out += [a[i]] * {k}\n        if i < len(b):\n            out.append(b[i])\n    return out\n",
        lambda r: [_ints(r, n=8), _ints(r, n=8)],
    ),
    "strip_kth_word": (
        "def strip_kth_word(s):\n    words = s.split()\n    return ' '.join(w for i, w in enumerate(words) if (i + 1) % {k})\n",
        "def strip_kth_word(s):\n    kept = []\n    for i, w in enumerate(s.split(), 1):\n        if i % {k} != 0:\n            kept.append(w)\n    return ' '.join(kept)\n",
        lambda r: [_sentence(r)],
    ),
}


def problems(tests: int, seed: int = 0) -> list[dict]:
    """One problem per (family, k): id, entry_point, reference, alternative, inputs (argument lists)."""
    out = []
    for name, (ref, alt, gen) in FAMILIES.items():
        for k in KS:
            r = random.Random(f"{seed}:{name}:{k}")
            seen: set[str] = set()
            inputs: list[list] = []
            for _ in range(50 * tests):
                args = gen(r)  # type: ignore[operator]
                if repr(args) not in seen:
                    seen.add(repr(args))
                    inputs.append(args)
                if len(inputs) == tests:
                    break
            out.append(
                {
                    "id": f"mbpp-style/{name}/{k}",
                    "entry_point": name,
                    "reference": ref.format(k=k),
                    "alternative": alt.format(k=k),
                    "inputs": inputs,
                }
            )
    return out
