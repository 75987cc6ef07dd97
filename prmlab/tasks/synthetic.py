"""The embedded synthetic task suite: small, parameterised Python function-completion problems.

The suite is what the embedded default (a ~1M-parameter GPT-2 trained from scratch with a 512-token
BPE) learns on, so the format is deliberately regular:

* prompt = Python comment lines describing the task, then a ``def`` header; it is also the code
  prefix (``code_prefix == prompt``);
* response = the indented function body (4 spaces), ending with a newline; ``reference`` is such a
  body, and ``build_program(reference)`` passes every test;
* tests = ``N_TESTS`` functional tests (JSON list of arguments -> JSON value), ints/strs/bools/lists
  only.

Tiers (``difficulty``) are fixed by the reference's number of code lines: easy 1-3, medium 4-7,
hard 8-14 (``TIER_LINES``); each family belongs to one tier and the generator checks the count.

Categories (``category``), after the PRM paper's Contest / NL2Alg split:

* ``contest``: the comments state only the goal;
* ``nl2alg``: the goal followed by the algorithm step by step (``# Step 1: ...``), close to
  line-by-line, so the model maps steps to lines.
Every family is written in both styles; the reference body is the same.

Families (37), each parameterised by constants, comparison operators, modes, and cosmetic names
(function name synonyms, list/element variable names):

* easy (11): affine, pick_bigger, clamp, abs_diff, count_chars, mod_check, step_fn,
  first_or_default, map_list, replace_char, in_range;
* medium (14): sum_filter, count_filter, find_first, argbest, product_mod, clamp_sum, count_steps,
  filter_chars, running, replace_cmp, digit_stats, pair_count, prefix_threshold, word_count;
* hard (12): rle, second_extreme, longest_run, brackets, windows, merge, most_frequent, caesar,
  digit_steps, bubble, primes, fizzbuzz.

Expected outputs come from an *independent* oracle per family (plain Python, usually written
differently from the reference body, e.g. ``sorted``/``groupby`` instead of loops), so the test
"every reference passes its tests" checks that each body does what its comments say.

Test inputs mix edge cases (empty inputs, single elements, all-negative lists, the values
``c - 1, c, c + 1`` around each constant ``c``, ties, runs) with random ordinary inputs. Off-by-one
and wrong-comparison mistakes then fail some tests but not all, so pass-rate and binary rewards
differ. The tests are picked from a pool of ``3 * N_TESTS`` candidates so that no expected value
fills more than half of them where the pool allows it: a program returning a constant (``False``,
``0``, ``[]``) should not earn a high pass rate.

Splits. Each problem has a *semantic key*: its family plus the parameters that change behaviour
(not the cosmetic names, not the category). Keys are unique across the whole suite, so a test
problem is never a train problem in other words or other style: it is a new parameterisation of a
family seen in training (the families are shared by all splits, by round-robin). Splits are drawn
in the order test, val, train from their own ``random.Random`` streams seeded with
``(seed, split)``, so the test set depends only on ``(seed, n_test)`` and does not move when
``n_train`` changes. Within a split the tiers get equal shares (the remainder goes to the easier
tiers), families are cycled in a shuffled round-robin inside each tier, and categories alternate.
The suite holds a few thousand distinct keys; asking for more raises ``ValueError``.
"""
from __future__ import annotations

import json
import math
import operator
import random
import textwrap
from collections import Counter
from dataclasses import dataclass
from itertools import groupby
from typing import Any, Callable

from prmlab.types import Problem, TestCase

N_TESTS = 10  # functional tests per problem (the brief asks for >= 8)
TIERS = ("easy", "medium", "hard")
TIER_LINES = {"easy": (1, 3), "medium": (4, 7), "hard": (8, 14)}
CATEGORIES = ("nl2alg", "contest")
_MAX_TRIES = 40  # fresh-key draws per family before the round-robin moves to the next family
_POOL = 3 * N_TESTS  # candidate inputs per problem, from which N_TESTS are selected

# Comparison operators: prompt words, function-name suffix, semantics (for oracles).
_OPS: dict[str, tuple[str, str, Callable[[Any, Any], bool]]] = {
    ">": ("greater than", "above", operator.gt),
    ">=": ("at least", "at_least", operator.ge),
    "<": ("less than", "below", operator.lt),
    "<=": ("at most", "at_most", operator.le),
    "==": ("equal to", "equal", operator.eq),
    "!=": ("not equal to", "not_equal", operator.ne),
}
# Cosmetic (list, element) variable names; few of them, to keep the BPE vocabulary small.
_SEQ_NAMES = (("xs", "x"), ("nums", "num"), ("vals", "v"))
_LETTERS = "abcdefgh"


@dataclass
class _Task:
    """One drawn parameterisation of a family (before the category is applied)."""

    name: str  # function name (entry point)
    args: list[str]
    goal: list[str]  # comment lines stating the goal (both categories)
    steps: list[str]  # step descriptions (nl2alg only)
    body: str  # unindented reference body
    oracle: Callable[..., Any]  # independent implementation that computes expected values
    cases: Callable[[random.Random], list[list]]  # draws the argument lists of the tests
    params: dict  # behaviour-changing parameters: the semantic key (with the family)


_FAMILIES: dict[str, list[Callable[[random.Random], _Task]]] = {t: [] for t in TIERS}


def _family(tier: str):
    def register(fn):
        _FAMILIES[tier].append(fn)
        return fn

    return register


def family_names() -> dict[str, list[str]]:
    """Family names per tier (function ``_affine`` -> family ``affine``)."""
    return {t: [f.__name__.lstrip("_") for f in fams] for t, fams in _FAMILIES.items()}


# ----------------------------------------------------------------------------- small helpers


def _op_words(op: str) -> str:
    return _OPS[op][0]


def _op_name(op: str) -> str:
    return _OPS[op][1]


def _cmp(op: str, a, b) -> bool:
    return _OPS[op][2](a, b)


def _signed(b: int) -> tuple[str, str]:
    """(words, code) for adding ``b``: ``plus 3`` / ``+ 3`` or ``minus 3`` / ``- 3``."""
    return (f"plus {b}", f"+ {b}") if b >= 0 else (f"minus {-b}", f"- {-b}")


def _nonzero(rng: random.Random, lo: int, hi: int, avoid: tuple[int, ...] = (0,)) -> int:
    return rng.choice([i for i in range(lo, hi + 1) if i not in avoid])


def _letters(rng: random.Random, lo: int, hi: int) -> str:
    """A sorted set of ``lo..hi`` distinct letters, e.g. ``"bdf"``."""
    return "".join(sorted(rng.sample(_LETTERS, rng.randint(lo, hi))))


def _unique(cases: list[list]) -> list[list]:
    seen, out = set(), []
    for c in cases:
        k = repr(c)
        if k not in seen:
            seen.add(k)
            out.append(c)
    return out


def _fill(rng: random.Random, edges: list[list], make: Callable[[], list], n_random: int = 3) -> list[list]:
    """Candidate test inputs: edge cases first (in priority order, capped so at least ``n_random``
    ordinary cases get in), then random ones, ``_POOL`` in all; ``_select`` picks the tests."""
    cases = _unique(edges)[: N_TESTS - n_random]
    keys = {repr(c) for c in cases}
    for _ in range(3 * _POOL):  # bounded: some families have fewer than _POOL distinct inputs
        if len(cases) >= _POOL:
            break
        c = make()
        k = repr(c)
        if k not in keys:
            keys.add(k)
            cases.append(c)
    return cases


def _int_cases(rng: random.Random, pivots: list[int], spread: int = 8) -> list[list]:
    """Single-int arguments: each pivot and its neighbours, 0, a negative, then random values."""
    edges = [[p + d] for d in (0, -1, 1) for p in pivots] + [[0], [-rng.randint(1, 9)]]
    lo, hi = min(pivots) - spread, max(pivots) + spread
    rng.shuffle(edges)  # the cap in _fill keeps a random subset of edges, not always the same kind
    return _fill(rng, edges, lambda: [rng.randint(lo, hi)], n_random=2)


def _int_pair_cases(rng: random.Random, lo: int = -9, hi: int = 15) -> list[list]:
    edges = [[3, 3], [0, 0], [-4, 2], [2, -4], [-5, -1]]
    return _fill(rng, edges, lambda: [rng.randint(lo, hi), rng.randint(lo, hi)], n_random=5)


def _rand_list(rng: random.Random, lo: int, hi: int, pivots: list[int], min_len: int = 1, max_len: int = 7) -> list[int]:
    xs = [rng.randint(lo, hi) for _ in range(rng.randint(min_len, max_len))]
    if xs and rng.random() < 0.5:  # plant a boundary value often, so comparisons at the constant are tested
        xs[rng.randrange(len(xs))] = rng.choice(pivots)
    return xs


def _list_cases(rng: random.Random, pivots: list[int], spread: int = 8, extra: list[list] | None = None) -> list[list]:
    """One list argument: empty, a pivot alone, the family's ``extra`` edge cases, boundary triples
    around each pivot, an all-negative list, then random lists."""
    lo, hi = min(pivots) - spread, max(pivots) + spread
    edges = [[[]], [[pivots[0]]]] + (extra or [])
    for p in pivots:
        triple = [p - 1, p, p + 1]
        rng.shuffle(triple)
        edges.append([triple])
    edges.append([[-rng.randint(1, 9) for _ in range(3)]])
    return _fill(rng, edges, lambda: [_rand_list(rng, lo, hi, pivots)])


def _string_cases(rng: random.Random, alphabet: str, max_len: int = 8, extra: list[list] | None = None) -> list[list]:
    edges = [[""], [alphabet[0]], [alphabet * 2]] + (extra or [])
    return _fill(rng, edges, lambda: ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, max_len)))])


def _digits(n: int, b: int) -> list[int]:
    """Digits of ``n >= 0`` in base ``b``, most significant first (``[]`` for 0)."""
    out = []
    while n:
        n, d = divmod(n, b)
        out.append(d)
    return out[::-1]


def _indent(body: str) -> str:
    return textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"


# ----------------------------------------------------------------------------- easy (1-3 lines)


@_family("easy")
def _affine(rng: random.Random) -> _Task:
    a, b, form = rng.randint(2, 9), _nonzero(rng, -9, 9), rng.choice(["mul_add", "add_mul"])
    bw, bc = _signed(b)
    if form == "mul_add":
        goal = [f"Return x times {a} {bw}."]
        steps = [f"Multiply x by {a}.", f"Add {b} to the product and return it."]
        body = f"return x * {a} {bc}"
        oracle = lambda x: a * x + b
    else:
        goal = [f"Return x {bw}, times {a}."]
        steps = [f"Add {b} to x.", f"Multiply the sum by {a} and return it."]
        body = f"return (x {bc}) * {a}"
        oracle = lambda x: (x + b) * a
    return _Task(rng.choice(["scale", "affine", "transform"]), ["x"], goal, steps, body, oracle,
                 lambda r: _int_cases(r, [0, -b]), {"form": form, "a": a, "b": b})


@_family("easy")
def _pick_bigger(rng: random.Random) -> _Task:
    which, mode = rng.choice(["max", "min"]), rng.choice(["plus", "minus", "times"])
    k = rng.randint(2, 9) if mode == "times" else rng.randint(1, 12)
    word, op = ("larger", ">") if which == "max" else ("smaller", "<")
    sym = {"plus": "+", "minus": "-", "times": "*"}[mode]
    goal = [f"Return the {word} of a and b, {mode} {k}."]
    steps = [f"If a is {_op_words(op)} b, return a {sym} {k}.", f"Otherwise return b {sym} {k}."]
    body = f"""
        if a {op} b:
            return a {sym} {k}
        return b {sym} {k}
    """
    pick = max if which == "max" else min
    oracle = lambda a, b: {"plus": pick(a, b) + k, "minus": pick(a, b) - k, "times": pick(a, b) * k}[mode]
    return _Task(f"{which}_{mode}", ["a", "b"], goal, steps, body, oracle, _int_pair_cases,
                 {"which": which, "mode": mode, "k": k})


@_family("easy")
def _clamp(rng: random.Random) -> _Task:
    lo = rng.randint(-9, 5)
    hi = lo + rng.randint(2, 15)
    goal = [f"Return x limited to the range {lo} to {hi}:", f"{lo} if x is below {lo}, {hi} if x is above {hi}, else x."]
    steps = [f"Take the larger of x and {lo}.", f"Return the smaller of that and {hi}."]
    body = f"return min(max(x, {lo}), {hi})"
    return _Task(rng.choice(["clamp", "limit", "bound"]), ["x"], goal, steps, body,
                 lambda x: lo if x < lo else hi if x > hi else x, lambda r: _int_cases(r, [lo, hi]),
                 {"lo": lo, "hi": hi})


@_family("easy")
def _abs_diff(rng: random.Random) -> _Task:
    mode = rng.choice(["plus", "minus", "times"])
    k = rng.randint(2, 12) if mode == "times" else rng.randint(1, 15)
    sym = {"plus": "+", "minus": "-", "times": "*"}[mode]
    goal = [f"Return the absolute difference of a and b, {mode} {k}."]
    steps = ["Compute the absolute value of a - b.", f"Return it {mode} {k}."]
    body = f"return abs(a - b) {sym} {k}"
    oracle = lambda a, b: {"plus": max(a, b) - min(a, b) + k, "minus": max(a, b) - min(a, b) - k,
                           "times": (max(a, b) - min(a, b)) * k}[mode]
    return _Task(rng.choice(["abs_diff", "distance", "gap"]), ["a", "b"], goal, steps, body, oracle,
                 _int_pair_cases, {"mode": mode, "k": k})


@_family("easy")
def _count_chars(rng: random.Random) -> _Task:
    chars, neg = _letters(rng, 1, 3), rng.random() < 0.5
    cond = "not in" if neg else "in"
    goal = [f'Return the number of characters of s that are {cond} "{chars}".']
    steps = [f'Keep the characters of s that are {cond} "{chars}".', "Return how many there are."]
    body = f'return len([ch for ch in s if ch {cond} "{chars}"])'
    oracle = lambda s: sum((ch in chars) != neg for ch in s)
    return _Task(rng.choice(["count_chars", "count_letters"]), ["s"], goal, steps, body, oracle,
                 lambda r: _string_cases(r, _LETTERS[:6]), {"chars": chars, "neg": neg})


@_family("easy")
def _mod_check(rng: random.Random) -> _Task:
    k = rng.randint(2, 9)
    r, neg = rng.randrange(k), rng.random() < 0.5
    op, word = ("!=", "is not") if neg else ("==", "is")
    goal = [f"Return True if the remainder of x divided by {k} {word} {r}, else False."]
    steps = [f"Compute x % {k}.", f"Return whether it {word} {r}."]
    body = f"return x % {k} {op} {r}"
    return _Task(rng.choice(["check_mod", "has_remainder"]), ["x"], goal, steps, body,
                 lambda x: (x - k * (x // k) == r) != neg, lambda rr: _int_cases(rr, [r, k + r, 2 * k + r, r - k]),
                 {"k": k, "r": r, "neg": neg})


@_family("easy")
def _step_fn(rng: random.Random) -> _Task:
    op, c = rng.choice(list(_OPS)), rng.randint(-5, 12)
    a = rng.randint(-9, 9)
    b = _nonzero(rng, -9, 9, avoid=(a,))
    goal = [f"Return {a} if x is {_op_words(op)} {c}, otherwise return {b}."]
    steps = [f"If x is {_op_words(op)} {c}, return {a}.", f"Otherwise return {b}."]
    body = f"""
        if x {op} {c}:
            return {a}
        return {b}
    """
    return _Task(f"step_{_op_name(op)}", ["x"], goal, steps, body, lambda x: a if _cmp(op, x, c) else b,
                 lambda r: _int_cases(r, [c]), {"op": op, "c": c, "a": a, "b": b})


@_family("easy")
def _first_or_default(rng: random.Random) -> _Task:
    which, d = rng.choice(["first", "last", "largest", "smallest"]), rng.randint(-9, 9)
    xs, _ = rng.choice(_SEQ_NAMES)
    expr = {"first": f"{xs}[0]", "last": f"{xs}[-1]", "largest": f"max({xs})", "smallest": f"min({xs})"}[which]
    goal = [f"Return the {which} element of {xs}, or {d} if {xs} is empty."]
    steps = [f"If {xs} is empty, return {d}.", f"Otherwise return the {which} element."]
    body = f"""
        if not {xs}:
            return {d}
        return {expr}
    """
    pick = {"first": lambda v: v[0], "last": lambda v: v[len(v) - 1], "largest": max, "smallest": min}[which]
    return _Task(f"{which}_or_default", [xs], goal, steps, body, lambda v: pick(v) if v else d,
                 lambda r: _list_cases(r, [d]), {"which": which, "d": d})


@_family("easy")
def _map_list(rng: random.Random) -> _Task:
    a, b = _nonzero(rng, -3, 5, avoid=(0, 1)), rng.randint(-5, 5)
    xs, x = rng.choice(_SEQ_NAMES)
    bw, bc = _signed(b)
    goal = [f"Return a list with each element {x} of {xs} replaced by {x} times {a} {bw}."]
    steps = [f"For each {x} in {xs}, compute {x} * {a} {bc}.", "Return the list of results in order."]
    body = f"return [{x} * {a} {bc} for {x} in {xs}]"
    return _Task(rng.choice(["map_values", "rescale"]), [xs], goal, steps, body, lambda v: [a * e + b for e in v],
                 lambda r: _list_cases(r, [0, b]), {"a": a, "b": b})


@_family("easy")
def _replace_char(rng: random.Random) -> _Task:
    old = rng.choice(_LETTERS)
    new = rng.choice([c for c in _LETTERS if c != old] + [""])
    what = f'"{new}"' if new else "nothing"
    goal = [f'Return s with every "{old}" replaced by {what}.']
    steps = [f'Replace each "{old}" in s by {what}.', "Return the new string."]
    body = f'return s.replace("{old}", "{new}")'
    oracle = lambda s: "".join(new if ch == old else ch for ch in s)
    alphabet = old + "".join(c for c in "abcd" if c != old)
    return _Task(rng.choice(["replace_char", "swap_letter"]), ["s"], goal, steps, body, oracle,
                 lambda r: _string_cases(r, alphabet), {"old": old, "new": new})


@_family("easy")
def _in_range(rng: random.Random) -> _Task:
    lo = rng.randint(-9, 6)
    hi = lo + rng.randint(3, 12)  # not too narrow, so True and False answers both occur often
    lop, hop = rng.choice(["<", "<="]), rng.choice(["<", "<="])
    low_w = "greater than" if lop == "<" else "at least"
    goal = [f"Return True if x is {low_w} {lo} and {_op_words(hop)} {hi}, else False."]
    steps = [f"Check that x is {low_w} {lo}.", f"Check that x is {_op_words(hop)} {hi}; return True only if both hold."]
    body = f"return {lo} {lop} x {hop} {hi}"
    oracle = lambda x: _cmp(lop, lo, x) and _cmp(hop, x, hi)
    return _Task(rng.choice(["in_range", "is_between"]), ["x"], goal, steps, body, oracle,
                 lambda r: _int_cases(r, [lo, hi]), {"lo": lo, "hi": hi, "lop": lop, "hop": hop})


# ----------------------------------------------------------------------------- medium (4-7 lines)


@_family("medium")
def _sum_filter(rng: random.Random) -> _Task:
    op, c, square = rng.choice(list(_OPS)), rng.randint(-3, 10), rng.random() < 0.5
    xs, x = rng.choice(_SEQ_NAMES)
    term, what = (f"{x} * {x}", "squares of the elements") if square else (x, "elements")
    goal = [f"Return the sum of the {what} of {xs} that are {_op_words(op)} {c}."]
    steps = ["Set total to 0.", f"For each {x} in {xs}, if {x} is {_op_words(op)} {c}, add {term} to total.",
             "Return total."]
    body = f"""
        total = 0
        for {x} in {xs}:
            if {x} {op} {c}:
                total += {term}
        return total
    """
    oracle = lambda v: sum(e * e if square else e for e in v if _cmp(op, e, c))
    return _Task(f"sum_{'squares_' if square else ''}{_op_name(op)}", [xs], goal, steps, body, oracle,
                 lambda r: _list_cases(r, [c]), {"op": op, "c": c, "square": square})


@_family("medium")
def _count_filter(rng: random.Random) -> _Task:
    xs, x = rng.choice(_SEQ_NAMES)
    if rng.random() < 0.5:
        op, c = rng.choice(list(_OPS)), rng.randint(-3, 10)
        cond, words, name, pivots = f"{x} {op} {c}", f"{_op_words(op)} {c}", f"count_{_op_name(op)}", [c]
        test = lambda e: _cmp(op, e, c)
        params = {"op": op, "c": c}
    else:
        lo = rng.randint(-5, 6)
        hi = lo + rng.randint(2, 9)
        cond, words, name, pivots = f"{lo} < {x} < {hi}", f"strictly between {lo} and {hi}", "count_between", [lo, hi]
        test = lambda e: lo < e and e < hi
        params = {"lo": lo, "hi": hi}
    goal = [f"Return the number of elements of {xs} that are {words}."]
    steps = ["Set count to 0.", f"For each {x} in {xs}, if {x} is {words}, add 1 to count.", "Return count."]
    body = f"""
        count = 0
        for {x} in {xs}:
            if {cond}:
                count += 1
        return count
    """
    return _Task(name, [xs], goal, steps, body, lambda v: len([e for e in v if test(e)]),
                 lambda r: _list_cases(r, pivots), params)


@_family("medium")
def _find_first(rng: random.Random) -> _Task:
    op, c, mode = rng.choice(list(_OPS)), rng.randint(-3, 10), rng.choice(["index", "value"])
    xs, x = rng.choice(_SEQ_NAMES)
    w = _op_words(op)
    if mode == "index":
        d = -1
        goal = [f"Return the index of the first element of {xs} that is {w} {c}, or -1 if there is none."]
        steps = [f"For each index i of {xs}, if {xs}[i] is {w} {c}, return i.", "If none is found, return -1."]
        body = f"""
            for i in range(len({xs})):
                if {xs}[i] {op} {c}:
                    return i
            return -1
        """
        oracle = lambda v: next((i for i, e in enumerate(v) if _cmp(op, e, c)), -1)
        name = f"index_{_op_name(op)}"
    else:
        d = _nonzero(rng, -9, -1, avoid=(c,))
        goal = [f"Return the first element of {xs} that is {w} {c}, or {d} if there is none."]
        steps = [f"For each {x} in {xs}, if {x} is {w} {c}, return {x}.", f"If none is found, return {d}."]
        body = f"""
            for {x} in {xs}:
                if {x} {op} {c}:
                    return {x}
            return {d}
        """
        oracle = lambda v: next((e for e in v if _cmp(op, e, c)), d)
        name = f"first_{_op_name(op)}"
    return _Task(name, [xs], goal, steps, body, oracle, lambda r: _list_cases(r, [c]),
                 {"mode": mode, "op": op, "c": c, "d": d})


@_family("medium")
def _argbest(rng: random.Random) -> _Task:
    which, last, absolute, d = rng.choice(["max", "min"]), rng.random() < 0.5, rng.random() < 0.5, rng.randint(-9, -1)
    xs, _ = rng.choice(_SEQ_NAMES)
    word = "largest" if which == "max" else "smallest"
    op = (">" if which == "max" else "<") + ("=" if last else "")
    tie = "last" if last else "first"
    what = f"{word} absolute value" if absolute else f"{word} value"
    goal = [f"Return the index of the element of {xs} with the {what},",
            f"the {tie} one on ties, or {d} if {xs} is empty."]
    key = (lambda i: f"abs({xs}[{i}])") if absolute else (lambda i: f"{xs}[{i}]")
    steps = [f"If {xs} is empty, return {d}.", "Set best to 0.",
             f"For each index i from 1, if {key('i')} is {_op_words(op)} {key('best')}, set best to i.",
             "Return best."]
    body = f"""
        if not {xs}:
            return {d}
        best = 0
        for i in range(1, len({xs})):
            if {key('i')} {op} {key('best')}:
                best = i
        return best
    """

    def oracle(v):
        if not v:
            return d
        keys = [abs(e) if absolute else e for e in v]
        target = max(keys) if which == "max" else min(keys)
        hits = [i for i, k in enumerate(keys) if k == target]
        return hits[-1] if last else hits[0]

    dup = [[[4, -4, 4, 1]], [[2, 7, 7, -7]], [[-3, 5, -3, 5]]]  # ties decide first-vs-last and abs
    return _Task(f"index_of_{which}", [xs], goal, steps, body, oracle, lambda r: _list_cases(r, [0], extra=dup),
                 {"which": which, "last": last, "abs": absolute, "d": d})


@_family("medium")
def _product_mod(rng: random.Random) -> _Task:
    m = rng.randint(3, 30)
    xs, x = rng.choice(_SEQ_NAMES)
    filtered = rng.random() < 0.6
    op, c = (rng.choice(list(_OPS)), rng.randint(-3, 8)) if filtered else ("", 0)
    if filtered:
        goal = [f"Return the product of the elements of {xs} that are {_op_words(op)} {c}, modulo {m}."]
        steps = ["Set p to 1.", f"For each {x} in {xs} that is {_op_words(op)} {c}, set p to p * {x} % {m}.", "Return p."]
        body = f"""
            p = 1
            for {x} in {xs}:
                if {x} {op} {c}:
                    p = p * {x} % {m}
            return p
        """
    else:
        goal = [f"Return the product of the elements of {xs}, modulo {m}."]
        steps = ["Set p to 1.", f"For each {x} in {xs}, set p to p * {x} % {m}.", "Return p."]
        body = f"""
            p = 1
            for {x} in {xs}:
                p = p * {x} % {m}
            return p
        """

    def oracle(v):
        prod = 1
        for e in v:
            if not filtered or _cmp(op, e, c):
                prod *= e
        return prod % m

    return _Task(rng.choice(["product_mod", "mod_product"]), [xs], goal, steps, body, oracle,
                 lambda r: _list_cases(r, [c, m]), {"m": m, "op": op, "c": c})


@_family("medium")
def _clamp_sum(rng: random.Random) -> _Task:
    lo = rng.randint(-6, 4)
    hi = lo + rng.randint(2, 10)
    xs, x = rng.choice(_SEQ_NAMES)
    goal = [f"Limit each element of {xs} to the range {lo} to {hi}, then return the sum."]
    steps = ["Set total to 0.", f"For each {x} in {xs}, add min(max({x}, {lo}), {hi}) to total.", "Return total."]
    body = f"""
        total = 0
        for {x} in {xs}:
            total += min(max({x}, {lo}), {hi})
        return total
    """
    oracle = lambda v: sum(lo if e < lo else hi if e > hi else e for e in v)
    return _Task(rng.choice(["clamp_sum", "sum_clamped"]), [xs], goal, steps, body, oracle,
                 lambda r: _list_cases(r, [lo, hi]), {"lo": lo, "hi": hi})


@_family("medium")
def _count_steps(rng: random.Random) -> _Task:
    op, k = rng.choice(list(_OPS)), rng.randint(-3, 5)
    xs, _ = rng.choice(_SEQ_NAMES)
    goal = [f"Return the number of indices i >= 1 where {xs}[i] - {xs}[i - 1] is {_op_words(op)} {k}."]
    steps = ["Set count to 0.", f"For each i from 1, if {xs}[i] - {xs}[i - 1] is {_op_words(op)} {k}, add 1 to count.",
             "Return count."]
    body = f"""
        count = 0
        for i in range(1, len({xs})):
            if {xs}[i] - {xs}[i - 1] {op} {k}:
                count += 1
        return count
    """
    oracle = lambda v: sum(_cmp(op, b - a, k) for a, b in zip(v, v[1:]))
    steps_edge = [[[0, k, 2 * k, 2 * k + 1]], [[5, 5 + k - 1, 5 + 2 * k + 1]]]
    return _Task(f"count_steps_{_op_name(op)}", [xs], goal, steps, body, oracle,
                 lambda r: _list_cases(r, [k], spread=6, extra=steps_edge), {"op": op, "k": k})


@_family("medium")
def _filter_chars(rng: random.Random) -> _Task:
    chars, neg = _letters(rng, 1, 3), rng.random() < 0.5
    cond = "not in" if neg else "in"
    goal = [f'Return the characters of s that are {cond} "{chars}", in order, as a string.']
    steps = ['Set out to "".', f'For each ch in s, if ch is {cond} "{chars}", add ch to out.', "Return out."]
    body = f"""
        out = ""
        for ch in s:
            if ch {cond} "{chars}":
                out += ch
        return out
    """
    oracle = lambda s: "".join(ch for ch in s if (ch in chars) != neg)
    return _Task(rng.choice(["keep_chars", "filter_chars"]), ["s"], goal, steps, body, oracle,
                 lambda r: _string_cases(r, _LETTERS[:6]), {"chars": chars, "neg": neg})


@_family("medium")
def _running(rng: random.Random) -> _Task:
    kind, c = rng.choice(["sum", "max", "min"]), rng.randint(-9, 12)
    xs, x = rng.choice(_SEQ_NAMES)
    if kind == "sum":
        goal = [f"Return the list of running sums of {xs}, starting from {c}:",
                f"item i is {c} plus the sum of the first i + 1 elements."]
        update, upd_words = f"total += {x}", f"add {x} to total"
    else:
        word = "largest" if kind == "max" else "smallest"
        goal = [f"Return a list where item i is the {word} of {c} and the first i + 1 elements of {xs}."]
        update, upd_words = f"total = {kind}(total, {x})", f"set total to the {word} of total and {x}"
    steps = ["Set out to an empty list and total to " + str(c) + ".",
             f"For each {x} in {xs}, {upd_words}, then append total to out.", "Return out."]
    body = f"""
        out = []
        total = {c}
        for {x} in {xs}:
            {update}
            out.append(total)
        return out
    """
    agg = {"sum": lambda v: c + sum(v), "max": lambda v: max([c] + v), "min": lambda v: min([c] + v)}[kind]
    return _Task(f"running_{kind}", [xs], goal, steps, body, lambda v: [agg(v[: i + 1]) for i in range(len(v))],
                 lambda r: _list_cases(r, [c]), {"kind": kind, "c": c})


@_family("medium")
def _replace_cmp(rng: random.Random) -> _Task:
    op, c = rng.choice(list(_OPS)), rng.randint(-3, 10)
    a = _nonzero(rng, -5, 12, avoid=(c,))
    xs, x = rng.choice(_SEQ_NAMES)
    goal = [f"Return a copy of {xs} where every element {_op_words(op)} {c} is replaced by {a}."]
    steps = ["Set out to an empty list.", f"For each {x} in {xs}, append {a} if {x} is {_op_words(op)} {c}, "
             f"else append {x}.", "Return out."]
    body = f"""
        out = []
        for {x} in {xs}:
            if {x} {op} {c}:
                out.append({a})
            else:
                out.append({x})
        return out
    """
    return _Task(f"replace_{_op_name(op)}", [xs], goal, steps, body, lambda v: [a if _cmp(op, e, c) else e for e in v],
                 lambda r: _list_cases(r, [c]), {"op": op, "c": c, "a": a})


@_family("medium")
def _digit_stats(rng: random.Random) -> _Task:
    b, mode = rng.randint(2, 10), rng.choice(["sum", "count", "reverse"])
    base = "" if b == 10 else f" in base {b}"
    op, c = "", 0
    if mode == "sum":
        goal = [f"n is a non-negative integer. Return the sum of its digits{base}."]
        steps = ["Set total to 0.", f"While n > 0, add n % {b} to total and set n to n // {b}.", "Return total."]
        body = f"""
            total = 0
            while n > 0:
                total += n % {b}
                n //= {b}
            return total
        """
        oracle = lambda n: sum(_digits(n, b))
    elif mode == "count":
        op, c = rng.choice(list(_OPS)), rng.randrange(b)
        goal = [f"n is a non-negative integer. Return how many of its digits{base} are {_op_words(op)} {c}."]
        steps = ["Set count to 0.", f"While n > 0: add 1 to count if n % {b} is {_op_words(op)} {c}.",
                 f"Then set n to n // {b}.", "Return count."]
        body = f"""
            count = 0
            while n > 0:
                if n % {b} {op} {c}:
                    count += 1
                n //= {b}
            return count
        """
        oracle = lambda n: sum(_cmp(op, d, c) for d in _digits(n, b))
    else:
        goal = [f"n is a non-negative integer. Return n with its digits{base} reversed."]
        steps = ["Set out to 0.", f"While n > 0, set out to out * {b} + n % {b} and n to n // {b}.", "Return out."]
        body = f"""
            out = 0
            while n > 0:
                out = out * {b} + n % {b}
                n //= {b}
            return out
        """
        oracle = lambda n: sum(d * b**i for i, d in enumerate(_digits(n, b)))

    def cases(r):
        edges = [[0], [b - 1], [b], [b * b + 1], [b**3 - 1], [b**3 * (b - 1)]]
        return _fill(r, edges, lambda: [r.randint(0, 5000)], n_random=4)

    return _Task(f"digit_{mode}", ["n"], goal, steps, body, oracle, cases, {"b": b, "mode": mode, "op": op, "c": c})


@_family("medium")
def _pair_count(rng: random.Random) -> _Task:
    comb, op, c = rng.choice(["+", "-", "*"]), rng.choice(list(_OPS)), rng.randint(-4, 12)
    xs, _ = rng.choice(_SEQ_NAMES)
    expr = f"{xs}[i] {comb} {xs}[j]"
    goal = [f"Return the number of pairs i < j with {expr} {_op_words(op)} {c}."]
    steps = ["Set count to 0.", f"For each i, and each j > i, add 1 to count if {expr} is {_op_words(op)} {c}.",
             "Return count."]
    body = f"""
        count = 0
        for i in range(len({xs})):
            for j in range(i + 1, len({xs})):
                if {expr} {op} {c}:
                    count += 1
        return count
    """
    f = {"+": operator.add, "-": operator.sub, "*": operator.mul}[comb]
    oracle = lambda v: sum(_cmp(op, f(v[i], v[j]), c) for j in range(len(v)) for i in range(j))
    return _Task(f"count_pairs_{_op_name(op)}", [xs], goal, steps, body, oracle,
                 lambda r: _list_cases(r, [c, 0], spread=5), {"comb": comb, "op": op, "c": c})


@_family("medium")
def _prefix_threshold(rng: random.Random) -> _Task:
    start, op, c = rng.randint(-5, 10), rng.choice(["<", "<=", ">", ">="]), rng.randint(-5, 15)
    xs, _ = rng.choice(_SEQ_NAMES)
    goal = [f"Start a total at {start} and add the elements of {xs} one by one.",
            f"Return the index of the first element after which the total is {_op_words(op)} {c}, or -1."]
    steps = [f"Set total to {start}.", f"For each index i, add {xs}[i] to total; if total is {_op_words(op)} {c}, "
             "return i.", "If that never happens, return -1."]
    body = f"""
        total = {start}
        for i in range(len({xs})):
            total += {xs}[i]
            if total {op} {c}:
                return i
        return -1
    """

    def oracle(v):
        for i in range(len(v)):
            if _cmp(op, start + sum(v[: i + 1]), c):
                return i
        return -1

    gap = c - start
    extra = [[[gap]], [[gap - 1, 1, 1]], [[gap + 1, -1, -1]]]  # totals that land on and next to the threshold
    return _Task(f"first_total_{_op_name(op)}", [xs], goal, steps, body, oracle,
                 lambda r: _list_cases(r, [gap, 0], spread=6, extra=extra), {"start": start, "op": op, "c": c})


@_family("medium")
def _word_count(rng: random.Random) -> _Task:
    if rng.random() < 0.75:
        op, k = rng.choice(list(_OPS)), rng.randint(1, 6)
        words = f"whose length is {_op_words(op)} {k}"
        cond, test, name, params = f"len(w) {op} {k}", (lambda w: _cmp(op, len(w), k)), f"count_words_{_op_name(op)}", {"op": op, "k": k}
    else:
        ch = rng.choice(_LETTERS[:6])
        words = f'that start with "{ch}"'
        cond, test, name, params = f'w[0] == "{ch}"', (lambda w: w.startswith(ch)), "count_words_start", {"ch": ch}
    goal = [f"Return the number of words of s {words}.", "Words are separated by spaces."]
    steps = ["Set count to 0.", f"For each word w in s.split(), add 1 to count if w is a word {words}.", "Return count."]
    body = f"""
        count = 0
        for w in s.split():
            if {cond}:
                count += 1
        return count
    """

    def sentence(r):
        return " " * r.randint(0, 1) + " ".join(
            "".join(r.choice(_LETTERS[:6]) for _ in range(r.randint(1, 7))) for _ in range(r.randint(1, 5)))

    def cases(r):
        return _fill(r, [[""], ["  "], ["a"], ["ab abc abcd abcde a"]], lambda: [sentence(r)], n_random=5)

    return _Task(name, ["s"], goal, steps, body, lambda s: sum(test(w) for w in s.split()), cases, params)


# ----------------------------------------------------------------------------- hard (8-14 lines)


def _runs_cases(rng: random.Random, alphabet: list) -> list[list]:
    """Sequences with runs: repeated blocks of random lengths."""

    def make():
        seq = []
        for _ in range(rng.randint(1, 4)):
            seq += [rng.choice(alphabet)] * rng.randint(1, 4)
        return seq

    return _fill(rng, [[[]], [[alphabet[0]]], [[alphabet[0]] * 3], [alphabet[:3]]], lambda: [make()], n_random=6)


@_family("hard")
def _rle(rng: random.Random) -> _Task:
    mode = rng.choice(["pairs", "pairs", "pairs", "text"])  # the string form has few parameterisations
    swap = rng.random() < 0.5
    if mode == "pairs":
        op, k = rng.choice([">=", ">", "<=", "==", "!="]), rng.randint(1, 4)
        if (op, k) == (">=", 1):
            op = ">"  # ">= 1" keeps every run; make it a real filter
        xs, _ = rng.choice(_SEQ_NAMES)
        pair, pair_w = ("[j - i, {s}[i]]", "[n, x]") if swap else ("[{s}[i], j - i]", "[x, n]")
        pair = pair.format(s=xs)
        goal = [f"Return the run-length encoding of {xs} as a list of {pair_w} pairs, one per run of n equal",
                f"adjacent elements x, keeping only the runs with n {_op_words(op)} {k}."]
        steps = ["Set out to an empty list and i to 0.", f"While i < len({xs}), move j from i while {xs}[j] equals {xs}[i].",
                 f"If the run length j - i is {_op_words(op)} {k}, append {pair} to out.", "Set i to j.", "Return out."]
        body = f"""
            out = []
            i = 0
            while i < len({xs}):
                j = i
                while j < len({xs}) and {xs}[j] == {xs}[i]:
                    j += 1
                if j - i {op} {k}:
                    out.append({pair})
                i = j
            return out
        """
        runs = lambda v: [(key, len(list(g))) for key, g in groupby(v)]
        oracle = lambda v: [[n, e] if swap else [e, n] for e, n in runs(v) if _cmp(op, n, k)]
        cases = lambda r: _runs_cases(r, [k, -2, 5, 0])
        args, params = [xs], {"mode": mode, "swap": swap, "op": op, "k": k}
    else:
        piece, piece_w = ("str(j - i) + s[i]", "the count then the character") if swap else \
            ("s[i] + str(j - i)", "the character then the count")
        goal = ["Return the run-length encoding of s as a string:",
                f"each run of equal adjacent characters becomes {piece_w}."]
        steps = ['Set out to "" and i to 0.', "While i < len(s), move j from i while s[j] equals s[i].",
                 f"Add {piece} to out.", "Set i to j.", "Return out."]
        body = f"""
            out = ""
            i = 0
            while i < len(s):
                j = i
                while j < len(s) and s[j] == s[i]:
                    j += 1
                out += {piece}
                i = j
            return out
        """
        oracle = lambda s: "".join(f"{len(list(g))}{c}" if swap else f"{c}{len(list(g))}" for c, g in groupby(s))

        def cases(r):
            return [["".join(c)] for [c] in _runs_cases(r, list("abc"))]

        args, params = ["s"], {"mode": mode, "swap": swap}
    return _Task(rng.choice(["run_lengths", "encode_runs"]), args, goal, steps, body, oracle, cases, params)


@_family("hard")
def _second_extreme(rng: random.Random) -> _Task:
    which, distinct, d = rng.choice(["max", "min"]), rng.random() < 0.5, rng.randint(-9, 9)
    xs, x = rng.choice(_SEQ_NAMES)
    word, op = ("largest", ">") if which == "max" else ("smallest", "<")
    kind = "distinct value" if distinct else "value (counting repeats)"
    goal = [f"Return the second {word} {kind} of {xs}, or {d} if there is none."]
    guard = f"{x} != first and " if distinct else ""
    steps = ["Set first and second to None.",
             f"For each {x}: if first is None or {x} is {_op_words(op)} first, move first to second and set first to {x}.",
             f"Else, if {f'{x} is not first and ' if distinct else ''}second is None or {x} is "
             f"{_op_words(op)} second, set second to {x}.",
             f"Return {d} if second is None, else second."]
    body = f"""
        first = None
        second = None
        for {x} in {xs}:
            if first is None or {x} {op} first:
                second = first
                first = {x}
            elif {guard}(second is None or {x} {op} second):
                second = {x}
        if second is None:
            return {d}
        return second
    """

    def oracle(v):
        vals = sorted(set(v) if distinct else v, reverse=which == "max")
        return vals[1] if len(vals) > 1 else d

    extra = [[[5, 5]], [[2, 9, 9]], [[9, 2, 2]], [[-1, -7, -3]]]  # repeats of the extremes
    return _Task(f"second_{word}", [xs], goal, steps, body, oracle, lambda r: _list_cases(r, [0], extra=extra),
                 {"which": which, "distinct": distinct, "d": d})


@_family("hard")
def _longest_run(rng: random.Random) -> _Task:
    op, k = rng.choice(list(_OPS)), rng.randint(-2, 4)
    xs, _ = rng.choice(_SEQ_NAMES)
    cond_w = f"{xs}[i] - {xs}[i - 1] is {_op_words(op)} {k}"
    goal = [f"Return the length of the longest run of adjacent elements of {xs}",
            f"in which every step {cond_w}.", f"A single element is a run of length 1; return 0 if {xs} is empty."]
    steps = [f"If {xs} is empty, return 0.", "Set best and cur to 1.",
             f"For each i from 1, if {cond_w}, add 1 to cur, else set cur to 1.",
             "After each i, set best to the larger of best and cur.", "Return best."]
    body = f"""
        if not {xs}:
            return 0
        best = 1
        cur = 1
        for i in range(1, len({xs})):
            if {xs}[i] - {xs}[i - 1] {op} {k}:
                cur += 1
            else:
                cur = 1
            best = max(best, cur)
        return best
    """

    def oracle(v):
        best, start = 0, 0
        for i in range(len(v)):
            if i and not _cmp(op, v[i] - v[i - 1], k):
                start = i
            best = max(best, i - start + 1)
        return best

    def make(r):
        v, length = [r.randint(-5, 5)], r.randint(2, 8)
        while len(v) < length:  # steps near k so both branches of the condition occur
            v.append(v[-1] + k + r.choice([-2, -1, 0, 0, 1, 2]))
        return [v]

    def cases(r):
        edges = [[[]], [[3]], [[0, k, 2 * k, 3 * k]], [[1, 1 + k + 1, 1 + 2 * k + 1]], [[4, 4, 4]]]
        return _fill(r, edges, lambda: make(r), n_random=5)

    return _Task(f"longest_run_{_op_name(op)}", [xs], goal, steps, body, oracle, cases, {"op": op, "k": k})


@_family("hard")
def _brackets(rng: random.Random) -> _Task:
    pairs = ["()", "[]", "<>"] + [a + b for a in _LETTERS[:6] for b in _LETTERS[:6] if a != b]
    o, c = rng.choice(pairs)
    mode = rng.choice(["balanced", "depth"])
    what = f'"{o}" opens and "{c}" closes; other characters are ignored.'
    if mode == "balanced":
        goal = ["Return True if the brackets in s are balanced, else False.", what]
        steps = ["Set depth to 0.", f'For each ch in s: if ch is "{o}", add 1 to depth.',
                 f'If ch is "{c}", subtract 1 and return False if depth is below 0.', "Return whether depth is 0."]
        body = f"""
            depth = 0
            for ch in s:
                if ch == "{o}":
                    depth += 1
                elif ch == "{c}":
                    depth -= 1
                    if depth < 0:
                        return False
            return depth == 0
        """
    else:
        goal = ["Return the largest nesting depth of the brackets in s, or -1 if they are not balanced.", what]
        steps = ["Set depth and best to 0.", f'For each ch in s: if ch is "{o}", add 1 to depth and update best.',
                 f'If ch is "{c}", subtract 1 and return -1 if depth is below 0.',
                 "At the end return -1 if depth is not 0, else best."]
        body = f"""
            depth = 0
            best = 0
            for ch in s:
                if ch == "{o}":
                    depth += 1
                    best = max(best, depth)
                elif ch == "{c}":
                    depth -= 1
                    if depth < 0:
                        return -1
            if depth != 0:
                return -1
            return best
        """

    def oracle(s):
        # Depth after every prefix; balanced iff no prefix dips below 0 and the total is 0.
        depths = [0]
        for ch in s:
            depths.append(depths[-1] + (ch == o) - (ch == c))
        ok = min(depths) >= 0 and depths[-1] == 0
        return ok if mode == "balanced" else (max(depths) if ok else -1)

    other = next(ch for ch in "xyz" if ch not in (o, c))

    def balanced(r, n):
        if n == 0:
            return ""
        k = r.randint(0, n - 1)
        return o + balanced(r, k) + c + balanced(r, n - 1 - k)

    def sprinkle(r, s):
        i = r.randint(0, len(s))
        return s[:i] + other + s[i:]

    def cases(r):
        edges = [[""], [o + c], [c + o], [o * 2 + c], [o + other + c + c + o], [o * 2 + c * 2 + o + c]]
        make = lambda: [sprinkle(r, balanced(r, r.randint(1, 4)))] if r.random() < 0.5 else \
            ["".join(r.choice(o + c + other) for _ in range(r.randint(1, 8)))]
        return _fill(r, edges, make, n_random=4)

    return _Task(f"{mode}_brackets" if mode == "balanced" else "bracket_depth", ["s"], goal, steps, body, oracle,
                 cases, {"open": o, "close": c, "mode": mode})


@_family("hard")
def _windows(rng: random.Random) -> _Task:
    k, mode = rng.randint(2, 5), rng.choice(["list", "count", "count"])
    xs, _ = rng.choice(_SEQ_NAMES)
    op, c = (rng.choice(list(_OPS)), rng.randint(-3, 15)) if mode == "count" else ("", 0)
    if mode == "list":
        goal = [f"Return the list of sums of every window of {k} adjacent elements of {xs}, left to right."]
        head, keep_w, use, ret, tail_w = "out = []", "append total to out", "    out.append(total)", "out", "Return out."
        cond = f"i >= {k - 1}"
        init_w = "Set out to an empty list and total to 0."
    else:
        goal = [f"Return how many windows of {k} adjacent elements of {xs} have a sum {_op_words(op)} {c}."]
        head, keep_w, use, ret, tail_w = "count = 0", "add 1 to count", "    count += 1", "count", "Return count."
        cond = f"i >= {k - 1} and total {op} {c}"
        init_w = "Set count and total to 0."
    steps = [init_w, f"For each index i, add {xs}[i] to total; if i >= {k}, subtract {xs}[i - {k}].",
             f"If a full window ends at i ({cond}), {keep_w}.", tail_w]
    body = f"""
        {head}
        total = 0
        for i in range(len({xs})):
            total += {xs}[i]
            if i >= {k}:
                total -= {xs}[i - {k}]
            if {cond}:
            {use}
        return {ret}
    """
    sums = lambda v: [sum(v[i:i + k]) for i in range(len(v) - k + 1)]
    oracle = (lambda v: sums(v)) if mode == "list" else (lambda v: sum(_cmp(op, t, c) for t in sums(v)))

    def cases(r):
        edges = [[[]], [[c] * (k - 1)], [[c] * k], [[1] * (k + 1)], [list(range(k + 2))]]
        return _fill(r, edges, lambda: [[r.randint(-4, 9) for _ in range(r.randint(k, k + 5))]], n_random=5)

    return _Task(rng.choice(["window_sums", "sliding_sums"]) if mode == "list" else "count_windows", [xs], goal,
                 steps, body, oracle, cases, {"k": k, "mode": mode, "op": op, "c": c})


@_family("hard")
def _merge(rng: random.Random) -> _Task:
    desc, limit = rng.random() < 0.5, rng.choice([None] + list(range(1, 11)))
    order, op = ("descending", ">=") if desc else ("ascending", "<=")
    ret = "out" if limit is None else f"out[:{limit}]"
    goal = [f"xs and ys are sorted in {order} order. Merge them into one list in {order} order."]
    if limit is not None:
        goal.append(f"Return only its first {limit} elements.")
    steps = ["Set out to an empty list and i, j to 0.",
             f"While both lists have items left, append the {'larger' if desc else 'smaller'} of xs[i] and ys[j] "
             "(xs first on ties) and advance that index.",
             "Then append what is left of xs and of ys.", f"Return {ret}."]
    body = f"""
        out = []
        i = 0
        j = 0
        while i < len(xs) and j < len(ys):
            if xs[i] {op} ys[j]:
                out.append(xs[i])
                i += 1
            else:
                out.append(ys[j])
                j += 1
        out.extend(xs[i:])
        out.extend(ys[j:])
        return {ret}
    """
    oracle = lambda a, b: sorted(a + b, reverse=desc)[: limit]

    def sorted_list(r, lo, hi):
        return sorted((r.randint(lo, hi) for _ in range(r.randint(0, 5))), reverse=desc)

    def cases(r):
        s = lambda v: sorted(v, reverse=desc)
        edges = [[[], []], [s([1, 4]), []], [[], s([2, 3])], [s([1, 3, 5]), s([2, 4, 6])], [s([2, 2]), s([2, 7])]]
        return _fill(r, edges, lambda: [sorted_list(r, -5, 9), sorted_list(r, -5, 9)], n_random=5)

    return _Task(rng.choice(["merge_sorted", "merge_lists"]), ["xs", "ys"], goal, steps, body, oracle, cases,
                 {"desc": desc, "limit": limit})


@_family("hard")
def _most_frequent(rng: random.Random) -> _Task:
    which, d = rng.choice(["most", "least"]), rng.randint(-9, -1)
    xs, x = rng.choice(_SEQ_NAMES)
    filtered = rng.random() < 0.6
    op, c = (rng.choice(list(_OPS)), rng.randint(-2, 6)) if filtered else ("", 0)
    among = f"elements of {xs} that are {_op_words(op)} {c}" if filtered else f"elements of {xs}"
    goal = [f"Return the {which} frequent of the {among}", f"(the first seen on ties), or {d} if there is none."]
    cmp, init = (">", "0") if which == "most" else ("<", f"len({xs}) + 1")
    count_line = f"counts[{x}] = counts.get({x}, 0) + 1"
    count_block = f"if {x} {op} {c}:\n                {count_line}" if filtered else count_line
    steps = ["Count how often each value occurs" + (f" among those {_op_words(op)} {c}," if filtered else ",")
             + " in a dict, in order of first appearance.",
             f"Set best to {d} and best_count to {init}.",
             f"For each value in the dict, if its count is {_op_words(cmp)} best_count, make it best.",
             "Return best."]
    body = f"""
        counts = {{}}
        for {x} in {xs}:
            {count_block}
        best = {d}
        best_count = {init}
        for {x} in counts:
            if counts[{x}] {cmp} best_count:
                best = {x}
                best_count = counts[{x}]
        return best
    """

    def oracle(v):
        kept = [e for e in v if not filtered or _cmp(op, e, c)]
        if not kept:
            return d
        freq = Counter(kept)
        target = max(freq.values()) if which == "most" else min(freq.values())
        return next(e for e in kept if freq[e] == target)

    def cases(r):
        extra = [[[c, c, c + 1]], [[c + 1, c - 1, c - 1, c + 1, c + 1]], [[2, 2, 5, 5]]]
        make = lambda: [[r.choice([c - 1, c, c + 1, c + 2, 0, -3]) for _ in range(r.randint(1, 8))]]
        return _fill(r, [[[]], [[c]]] + extra, make, n_random=5)

    return _Task(f"{which}_frequent", [xs], goal, steps, body, oracle, cases,
                 {"which": which, "d": d, "op": op, "c": c})


@_family("hard")
def _caesar(rng: random.Random) -> _Task:
    k, by_pos = rng.randint(1, 25), rng.random() < 0.5
    shift_w = f"{k} plus its index in s" if by_pos else str(k)
    loop = "for i, ch in enumerate(s):" if by_pos else "for ch in s:"
    shift = f"code + {k} + i" if by_pos else f"code + {k}"
    goal = [f"Shift each lowercase letter of s forward by {shift_w}, wrapping from z to a.",
            "Keep other characters. Return the new string."]
    steps = ['Set out to "".', "For each lowercase letter ch of s, take its position code from 0 to 25,",
             f"set code to ({shift}) % 26 and add the letter at code to out.",
             "Add any other character to out unchanged.", "Return out."]
    body = f"""
        out = ""
        {loop}
            if "a" <= ch <= "z":
                code = ord(ch) - ord("a")
                code = ({shift}) % 26
                out += chr(code + ord("a"))
            else:
                out += ch
        return out
    """
    abc = "abcdefghijklmnopqrstuvwxyz"
    oracle = lambda s: "".join(abc[(abc.index(ch) + k + (i if by_pos else 0)) % 26] if ch in abc else ch
                               for i, ch in enumerate(s))
    return _Task(rng.choice(["shift_letters", "caesar"]), ["s"], goal, steps, body, oracle,
                 lambda r: _string_cases(r, "abxyz !", extra=[["z"], ["hello world"]]), {"k": k, "by_pos": by_pos})


@_family("hard")
def _digit_steps(rng: random.Random) -> _Task:
    b, agg, ret = rng.randint(2, 12), rng.choice(["sum", "product"]), rng.choice(["steps", "final"])
    base = "" if b == 10 else f" in base {b}"
    init, upd = ("0", f"total += n % {b}") if agg == "sum" else ("1", f"total *= n % {b}")
    goal = [f"n is a non-negative integer. While n >= {b},", f"replace n by the {agg} of its digits{base}.",
            "Return the number of replacements." if ret == "steps" else "Return the final n."]
    upd_w = f"add n % {b} to total" if agg == "sum" else f"multiply total by n % {b}"
    steps = ["Set steps to 0.", f"While n >= {b}: set total to {init}; while n > 0, {upd_w}, set n to n // {b}.",
             "Then set n to total and add 1 to steps.", f"Return {'steps' if ret == 'steps' else 'n'}."]
    body = f"""
        steps = 0
        while n >= {b}:
            total = {init}
            while n > 0:
                {upd}
                n //= {b}
            n = total
            steps += 1
        return {'steps' if ret == 'steps' else 'n'}
    """

    def oracle(n):
        count = 0
        while n >= b:
            ds = _digits(n, b)
            n = sum(ds) if agg == "sum" else math.prod(ds)
            count += 1
        return count if ret == "steps" else n

    def cases(r):
        edges = [[0], [b - 1], [b], [b * b - 1], [b**4 - 1]]
        return _fill(r, edges, lambda: [r.randint(0, 99999)], n_random=5)

    return _Task(f"digit_{agg}_{ret}", ["n"], goal, steps, body, oracle, cases, {"b": b, "agg": agg, "ret": ret})


@_family("hard")
def _bubble(rng: random.Random) -> _Task:
    desc, passes, ret = rng.random() < 0.5, rng.choice([None, 1, 2, 3, 4, 5, 6]), rng.choice(["swaps", "both"])
    xs, _ = rng.choice(_SEQ_NAMES)
    op = "<" if desc else ">"
    order = "descending" if desc else "ascending"
    rounds = f"len({xs})" if passes is None else str(passes)
    pass_w = "" if passes is None else f" but stop after {passes} pass{'es' if passes > 1 else ''}"
    what = "the number of swaps" if ret == "swaps" else "[the list, the number of swaps]"
    goal = [f"Bubble sort a copy of {xs} into {order} order{pass_w}.", f"Return {what}."]
    ret_expr = "swaps" if ret == "swaps" else f"[{xs}, swaps]"
    steps = [f"Copy {xs} and set swaps to 0.", f"Repeat for i in range({rounds}): for each j in range(len({xs}) - 1 - i),",
             f"if {xs}[j] is {_op_words(op)} {xs}[j + 1], swap them and add 1 to swaps.", f"Return {ret_expr}."]
    body = f"""
        {xs} = list({xs})
        swaps = 0
        for i in range({rounds}):
            for j in range(len({xs}) - 1 - i):
                if {xs}[j] {op} {xs}[j + 1]:
                    {xs}[j], {xs}[j + 1] = {xs}[j + 1], {xs}[j]
                    swaps += 1
        return {ret_expr}
    """

    def oracle(v):
        v, swaps = list(v), 0
        for done in range(len(v) if passes is None else min(passes, len(v))):
            j = 0
            while j + 1 < len(v) - done:
                if (v[j] < v[j + 1]) if desc else (v[j] > v[j + 1]):
                    v[j], v[j + 1] = v[j + 1], v[j]
                    swaps += 1
                j += 1
        return swaps if ret == "swaps" else [v, swaps]

    extra = [[[5, 4, 3, 2, 1]], [[1, 2, 3, 4, 5]], [[3, 1, 3, 1]]]
    return _Task(rng.choice(["bubble_sort", "bubble_swaps"]), [xs], goal, steps, body, oracle,
                 lambda r: _list_cases(r, [2], spread=6, extra=extra), {"desc": desc, "passes": passes, "ret": ret})


@_family("hard")
def _primes(rng: random.Random) -> _Task:
    lo, mode = rng.randint(2, 20), rng.choice(["count", "sum", "largest"])
    d = -1
    goal_w = {"count": "the number of primes", "sum": "the sum of the primes",
              "largest": "the largest prime"}[mode]
    goal = [f"Return {goal_w} p with {lo} <= p <= n" + (", or -1 if there is none." if mode == "largest" else ".")]
    init, acc, upd_w = {"count": ("count = 0", "count += 1", "add 1 to count"),
                        "sum": ("total = 0", "total += x", "add x to total"),
                        "largest": (f"best = {d}", "best = x", "set best to x")}[mode]
    var = init.split(" = ")[0]
    steps = [f"Set {init.replace(' = ', ' to ')}.",
             f"For each x from {lo} to n, x is prime unless some d >= 2 with d * d <= x divides x.",
             f"If x is prime, {upd_w}.", f"Return {var}."]
    body = f"""
        {init}
        for x in range({lo}, n + 1):
            prime = True
            for d in range(2, x):
                if d * d > x:
                    break
                if x % d == 0:
                    prime = False
                    break
            if prime:
                {acc}
        return {var}
    """

    def oracle(n):
        ps = [p for p in range(lo, n + 1) if all(p % q for q in range(2, p))]
        return {"count": len(ps), "sum": sum(ps), "largest": ps[-1] if ps else d}[mode]

    def cases(r):
        edges = [[0], [lo - 1], [lo], [lo + 1], [97], [lo + 10]]
        return _fill(r, edges, lambda: [r.randint(0, 120)], n_random=4)

    return _Task(f"{mode}_primes", ["n"], goal, steps, body, oracle, cases, {"lo": lo, "mode": mode})


@_family("hard")
def _fizzbuzz(rng: random.Random) -> _Task:
    p, q = rng.sample(range(2, 8), 2)
    wa, wb = rng.choice([("fizz", "buzz"), ("foo", "bar"), ("ping", "pong")])
    goal = [f'Return a list for i from 1 to n: "{wa}{wb}" if i is divisible by both {p} and {q},',
            f'"{wa}" if only by {p}, "{wb}" if only by {q}, else i as a string.']
    steps = ["Set out to an empty list.", f'For each i from 1 to n: if i % {p} == 0 and i % {q} == 0, append "{wa}{wb}";',
             f'elif i % {p} == 0 append "{wa}"; elif i % {q} == 0 append "{wb}"; else append str(i).', "Return out."]
    body = f"""
        out = []
        for i in range(1, n + 1):
            if i % {p} == 0 and i % {q} == 0:
                out.append("{wa}{wb}")
            elif i % {p} == 0:
                out.append("{wa}")
            elif i % {q} == 0:
                out.append("{wb}")
            else:
                out.append(str(i))
        return out
    """
    oracle = lambda n: [(wa if i % p == 0 else "") + (wb if i % q == 0 else "") or str(i) for i in range(1, n + 1)]

    def cases(r):
        edges = [[0], [1], [p], [q], [p * q], [p * q + 1]]
        return _fill(r, edges, lambda: [r.randint(2, 30)], n_random=4)

    return _Task(f"{wa}_{wb}", ["n"], goal, steps, body, oracle, cases, {"p": p, "q": q, "words": wa + wb})


# ----------------------------------------------------------------------------- suite assembly


def _json(value):
    """Round-trip through JSON: the tests must hold plain data (tuples become lists, etc.)."""
    return json.loads(json.dumps(value))


def _select(pool: list[list], oracle: Callable[..., Any]) -> list[TestCase]:
    """Pick ``N_TESTS`` of the candidates, in priority order, capping each expected value at half
    the tests where the pool allows it: otherwise a program that returns a constant (``False``,
    ``0``, ``[]``) would already earn a high pass rate, which pass-rate rewards would then farm."""
    cap = N_TESTS // 2
    chosen, spare, seen = [], [], Counter()
    for args in pool:
        args = _json(args)
        test = TestCase(kind="functional", input=args, expected=_json(oracle(*_json(args))))
        key = json.dumps(test.expected)
        if seen[key] < cap:
            seen[key] += 1
            chosen.append(test)
            if len(chosen) == N_TESTS:
                return chosen
        else:
            spare.append(test)
    return chosen + spare[: N_TESTS - len(chosen)]


def _make_problem(task: _Task, family: str, tier: str, category: str, split: str, rng: random.Random) -> Problem:
    comments = list(task.goal)
    if category == "nl2alg":
        comments += [f"Step {i}: {s}" for i, s in enumerate(task.steps, 1)]
    prompt = "".join(f"# {line}\n" for line in comments) + f"def {task.name}({', '.join(task.args)}):\n"
    body = _indent(task.body)
    n_lines = sum(1 for line in body.splitlines() if line.strip())
    lo, hi = TIER_LINES[tier]
    if not lo <= n_lines <= hi:  # a family template out of its tier is a bug in this module
        raise AssertionError(f"family {family}: {n_lines} lines, outside the {tier} tier {lo}-{hi}")
    tests = _select(task.cases(rng), task.oracle)
    if len(tests) < 8:
        raise AssertionError(f"family {family}: only {len(tests)} distinct test inputs")
    return Problem(
        id="", prompt=prompt, tests=tests, entry_point=task.name, difficulty=tier, category=category,
        source="synthetic", reference=body, code_prefix=prompt, split=split,
        meta={"family": family, "params": task.params, "n_lines": n_lines},
    )


def _shares(n: int, k: int) -> list[int]:
    """``n`` split into ``k`` near-equal parts, the remainder to the first parts."""
    return [n // k + (i < n % k) for i in range(k)]


def _draw_fresh(rng: random.Random, tier: str, start: int, used: set[str]) -> tuple[str, _Task]:
    """Next family of the round-robin with an unused semantic key (skipping exhausted families)."""
    fams = _FAMILIES[tier]
    for offset in range(len(fams)):
        fam = fams[(start + offset) % len(fams)]
        name = fam.__name__.lstrip("_")
        for _ in range(_MAX_TRIES):
            task = fam(rng)
            key = json.dumps([name, task.params], sort_keys=True)
            if key not in used:
                used.add(key)
                return name, task
    raise ValueError(f"synthetic suite: no unused {tier} parameterisations left; ask for fewer problems")


def _generate_split(rng: random.Random, split: str, n: int, used: set[str]) -> list[Problem]:
    problems = []
    for tier, count in zip(TIERS, _shares(n, len(TIERS))):
        fams = list(range(len(_FAMILIES[tier])))
        cat0 = rng.randrange(2)
        order: list[int] = []
        for j in range(count):
            if not order:  # a fresh shuffled round of the tier's families
                order = rng.sample(fams, len(fams))
            family, task = _draw_fresh(rng, tier, order.pop(), used)
            category = CATEGORIES[(cat0 + j) % 2]
            problems.append(_make_problem(task, family, tier, category, split, rng))
    rng.shuffle(problems)
    for i, p in enumerate(problems):
        p.id = f"synthetic/{split}/{i:04d}"
    return problems


def generate_suite(seed: int, n_train: int, n_val: int, n_test: int, n_rl: int = 0) -> list[Problem]:
    """The synthetic suite: ``n_train + n_rl + n_val + n_test`` problems, in the order train, rl, val, test.

    Deterministic in its arguments. Splits share families but never a semantic key (family +
    behaviour parameters), so no prompt appears in two splits. The test split depends only on
    ``(seed, n_test)``, the val split only on ``(seed, n_test, n_val)``, the train split only on
    ``(seed, n_test, n_val, n_train)``: the ``rl`` split is drawn last, so adding it moves nothing.

    ``rl`` holds the RL prompts (RL, PRM data collection, gradient analyses), kept apart from the SFT
    problems (``train``): the tiny SFT policy memorises its 600 training solutions (pass rate ~0.5 at
    T=1 on them vs ~0.2 on new parameterisations), so RL on those prompts mostly rewards recall and
    does not transfer to held-out problems; on unseen parameterisations it has to read the prompt.
    """
    used: set[str] = set()
    by_split = {}
    for split, n in (("test", n_test), ("val", n_val), ("train", n_train), ("rl", n_rl)):
        by_split[split] = _generate_split(random.Random(f"prmlab-synthetic/{seed}/{split}"), split, n, used)
    return by_split["train"] + by_split["rl"] + by_split["val"] + by_split["test"]
