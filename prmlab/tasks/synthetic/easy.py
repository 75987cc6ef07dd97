"""Easy families (1-3 reference lines): one expression, or one ``if`` and two returns.

They exercise reading constants and operators off the prompt into a single line:

* arithmetic with constants: ``affine`` (``x * a + b`` or ``(x + b) * a``), ``abs_diff``;
* one comparison and a branch: ``pick_bigger``, ``step_fn``, ``clamp``, ``in_range`` (chained
  comparison), ``mod_check`` (remainders, also of negative numbers);
* one operation on a list or string: ``first_or_default`` (empty-list guard), ``map_list``
  (comprehension), ``count_chars`` (membership test), ``replace_char`` (``str.replace``).
"""
from __future__ import annotations

import random

from prmlab.tasks.synthetic.common import (
    _LETTERS,
    _OPS,
    _SEQ_NAMES,
    _Task,
    _cmp,
    _family,
    _int_cases,
    _int_pair_cases,
    _letters,
    _list_cases,
    _nonzero,
    _op_name,
    _op_words,
    _signed,
    _string_cases,
)


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
