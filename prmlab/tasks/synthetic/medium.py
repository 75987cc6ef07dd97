"""Medium families (4-7 reference lines): one loop with an accumulator, a condition or an early return.

They exercise the basic loop patterns, each with constants and operators drawn per problem:

* filtered aggregates: ``sum_filter``, ``count_filter``, ``product_mod`` (modular product),
  ``clamp_sum``, ``word_count`` (over ``s.split()``);
* search with an early return and a default: ``find_first`` (index or value), ``prefix_threshold``
  (running total against a threshold);
* tracking a best index with a tie rule: ``argbest`` (first or last, optionally by absolute value);
* adjacent elements and pairs: ``count_steps`` (differences of neighbours), ``pair_count`` (nested
  loops over ``i < j``);
* building an output list or string: ``filter_chars``, ``running`` (running sum/max/min),
  ``replace_cmp``;
* integer loops with ``%`` and ``//`` in a base: ``digit_stats`` (digit sum, count, reversal).
"""
from __future__ import annotations

import operator
import random

from prmlab.tasks.synthetic.common import (
    _LETTERS,
    _OPS,
    _SEQ_NAMES,
    _Task,
    _cmp,
    _digits,
    _family,
    _fill,
    _letters,
    _list_cases,
    _nonzero,
    _op_name,
    _op_words,
    _string_cases,
)


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
