"""Hard families (8-14 reference lines): several pieces of state, nested loops, or index arithmetic.

They exercise multi-step algorithms whose steps map to a few lines each:

* runs of equal or steadily changing elements: ``rle`` (run-length encoding, pairs or text, with a
  run-length filter), ``longest_run``;
* two tracked values: ``second_extreme`` (second largest/smallest, distinct or not);
* a counter as a stack: ``brackets`` (balance or nesting depth, with an early exit);
* index arithmetic: ``windows`` (sliding-window sums), ``merge`` (two pointers over sorted lists),
  ``bubble`` (in-place swaps, limited passes);
* a dict of counts with a tie rule: ``most_frequent``;
* character codes with wrap-around: ``caesar``;
* nested ``while`` loops: ``digit_steps`` (repeated digit sums/products in a base);
* trial division with ``break``: ``primes``;
* an ``if``/``elif`` chain building a list: ``fizzbuzz``.
"""
from __future__ import annotations

import math
import random
from collections import Counter
from itertools import groupby

from prmlab.tasks.synthetic.common import (
    _LETTERS,
    _OPS,
    _SEQ_NAMES,
    _Task,
    _cmp,
    _digits,
    _family,
    _fill,
    _list_cases,
    _op_name,
    _op_words,
    _string_cases,
)


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
