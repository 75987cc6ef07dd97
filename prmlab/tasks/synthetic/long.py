"""Long families (12-30 reference lines, ~100-300 tokens): several simple, independent steps in sequence.

The opt-in long tier (``generate_suite(..., long_share=...)``) is for the long-horizon regime: each
program is a pipeline of 3-5 steps of a few lines each (parse or normalise the input, filter,
accumulate, post-process, return), every step writing its own named intermediate (``kept``,
``totals``, ``counts``, ...). A mistake in one step is then local: the prefix up to it is a correct
start that can still be completed, which is what the PRM's binary search over prefixes needs. Steps
are switched on and off and parameterised per problem, so the length varies within the tier.

* list pipelines: ``filter_map_stats`` (filter, affine map, total/count/extreme),
  ``segment_stats`` (split at a separator value, keep segments by length, count and extreme of
  their sums), ``histogram`` (clamped bucket indices, counts, fullest bucket), ``grade_counts``
  (clamp, grade by thresholds, counts and mean);
* a running state with rejections: ``bank_balance`` (drop large transactions, fees on withdrawals,
  refuse overdrafts, final/lowest balance);
* nested lists: ``column_sums`` (filter rows, pad to the widest row, column sums, best column);
* text pipelines: ``parse_runs`` (parse separated ints, filter, capped running totals, longest
  monotone run), ``word_filter`` (split on spaces by hand, filter by length, longest word /
  initials / joined words), ``word_counts`` (normalise characters, count words, keep frequent ones
  in order), ``tally_records`` (parse ``name:value`` records, totals per name, filter, names or best
  name), ``inventory`` (parse ``"add 3"``/``"take 2"`` commands, apply them with a floor, count
  low-stock moments);
* digit arithmetic: ``check_digit`` (digits in a base, weight every other one, fold, check digit).

Their problems have ``difficulty == LONG_DIFFICULTY`` and ``meta["tier"] == "long"`` (see
``common``). Oracles are written independently of the bodies (comprehensions, ``split``,
``zip_longest``, ``Counter``) as in the other tiers.

Constants. Each problem has 1-4 int constants drawn for it (thresholds, bounds, widths, a start
value, a default answer), written 1-9 times in its body (3.7 on average), and one miscopied literal
fails the program: the tiny policy gets almost no long program right with literal constants, and
most of its mistakes are copying ones. So every family takes ``constants``
(``generate_suite(..., long_constants=...)``): None writes the constants as literals in the
comments and the body, as the other tiers do; ``"named"`` makes them keyword parameters with
defaults in the def header, in the order of their first use in the body
(``def filter_map_max(xs, c=3, a=2, b=-1, d=5):``), and the comments and the body use the names
(``if x > c:``, ``[0] * nb``, ``nb - 1``, ``a * x + b`` with the sign in the default and ``a``
kept when it is 1). The tests call the function with its positional arguments, so the defaults
supply the values; the draws, parameters, tests and line counts are those of the literal rendering.
A family writes each template once, through ``common._consts`` (``K.c`` is ``3`` or ``c``). The
names, one per role in every problem of a family: ``filter_map_stats`` c, a, b, d;
``segment_stats`` sep, k, d; ``histogram`` nb, lo, w; ``grade_counts`` lo, hi, ta, tb;
``bank_balance`` limit, fee, start, floor; ``column_sums`` k, fill; ``parse_runs`` c, cap;
``word_filter`` k; ``word_counts`` k, m; ``tally_records`` k; ``inventory`` start, cap, k;
``check_digit`` b, w, mod. A constant whose step is switched off (no fee, no cap) is not a
parameter. What stays literal either way: operators, modes (max/min, ties, the mean, the
``check_digit`` parity, which the words give as even/odd), string constants (separators, command
words), and the numbers every problem of a family shares (``total = 0``, ``[0, 0, 0]``,
``range(1, nb)``).
"""
from __future__ import annotations

import random
from collections import Counter
from itertools import accumulate, groupby, zip_longest
from typing import Optional

from prmlab.tasks.synthetic.common import (
    _OPS,
    _SEQ_NAMES,
    _Task,
    _blocks,
    _cmp,
    _consts,
    _family,
    _fill,
    _list_cases,
    _op_name,
    _op_words,
)

_ORDER_OPS = (">", ">=", "<", "<=")


def _words_text(rng: random.Random, alphabet: str, max_words: int = 6, max_len: int = 5, junk: str = "") -> str:
    """Words of ``alphabet`` letters separated by runs of spaces (and ``junk`` characters), with
    occasional leading/trailing separators."""
    words = []
    for _ in range(rng.randint(1, max_words)):
        words.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, max_len))))
    seps = " " + junk
    out = rng.choice(["", " "]) if rng.random() < 0.3 else ""
    for i, w in enumerate(words):
        if i:
            out += "".join(rng.choice(seps) for _ in range(rng.randint(1, 2)))
        out += w
    if rng.random() < 0.3:
        out += rng.choice(seps)
    return out


# ----------------------------------------------------------------------------- list pipelines


@_family("long")
def _filter_map_stats(rng: random.Random, constants: Optional[str] = None) -> _Task:
    op, c = rng.choice(list(_OPS)), rng.randint(-3, 5)
    a, b = rng.randint(1, 3), rng.choice([i for i in range(-4, 5) if i != 0])
    which, d, unique = rng.choice(["max", "min"]), rng.randint(-9, 9), rng.random() < 0.5
    xs, x = rng.choice(_SEQ_NAMES)
    K = _consts(constants, c=c, a=a, b=b, d=d)
    b_w, b_c = K.signed("b")
    uniq_w = ", dropping repeated values" if unique else ""
    # a literal factor 1 is left out (x + 3); a named one stays (a * x + b, a=1), so the body is one template
    term = f"{x} {b_c}" if a == 1 and not K.named else f"{K.a} * {x} {b_c}"
    term_w = f"{x} {b_w}" if a == 1 and not K.named else f"{K.a} times {x} {b_w}"
    word, cmp_ = ("largest", ">") if which == "max" else ("smallest", "<")
    goal = [f"Keep the elements {x} of {xs} that are {_op_words(op)} {K.c} and map each to {term_w}{uniq_w}.",
            f"Return [total, count, {word}] of the mapped values: their sum, their number and the {word} one.",
            f"If no element is kept, return [0, 0, {K.d}]."]
    steps = [f"Set kept to the elements of {xs} that are {_op_words(op)} {K.c}, in order.",
             f"Set mapped to {term} for each {x} in kept."]
    if unique:
        steps.append("Remove repeated values from mapped, keeping the first of each.")
    steps += [f"If mapped is empty, return [0, 0, {K.d}].",
              "Set total and count to 0 and best to the first mapped value.",
              "For each m in mapped, add m to total, add 1 to count, and set best to m if m is"
              f" {_op_words(cmp_)} best.",
              "Return [total, count, best]."]
    body = _blocks(f"""
        kept = []
        for {x} in {xs}:
            if {x} {op} {K.c}:
                kept.append({x})
    """, f"""
        mapped = []
        for {x} in kept:
            mapped.append({term})
    """, """
        unique = []
        for m in mapped:
            if m not in unique:
                unique.append(m)
        mapped = unique
    """ if unique else "", f"""
        if not mapped:
            return [0, 0, {K.d}]
    """, f"""
        total = 0
        count = 0
        best = mapped[0]
        for m in mapped:
            total += m
            count += 1
            if m {cmp_} best:
                best = m
        return [total, count, best]
    """)

    def oracle(v):
        ms = [a * e + b for e in v if _cmp(op, e, c)]
        if unique:
            ms = list(dict.fromkeys(ms))
        return [sum(ms), len(ms), (max if which == "max" else min)(ms)] if ms else [0, 0, d]

    extra = [[[c, c, c + 1, c]], [[c + 2, c - 1, c + 2]]]  # repeats, for the optional unique step
    return _Task(f"filter_map_{which}", [xs], goal, steps, body, oracle, lambda r: _list_cases(r, [c], extra=extra),
                 {"op": op, "c": c, "a": a, "b": b, "which": which, "d": d, "unique": unique}, K.header)


@_family("long")
def _segment_stats(rng: random.Random, constants: Optional[str] = None) -> _Task:
    sep, op, k = rng.choice([0, -1, 9]), rng.choice(list(_OPS)), rng.randint(1, 3)
    which, d = rng.choice(["max", "min"]), rng.randint(-9, 9)
    xs, x = rng.choice(_SEQ_NAMES)
    K = _consts(constants, sep=sep, k=k, d=d)
    word, cmp_ = ("largest", ">") if which == "max" else ("smallest", "<")
    goal = [f"Split {xs} into segments at every element equal to {K.sep} (the separators belong to no",
            "segment; adjacent separators make empty segments). Keep the segments whose length is",
            f"{_op_words(op)} {K.k} and return [number kept, {word} sum of a kept segment], or [0, {K.d}] if none."]
    steps = [f"Build segments: collect elements into cur, and at each {K.sep} append cur to segments and restart it.",
             "After the loop, append the last cur.",
             f"Set sums to the sums of the segments whose length is {_op_words(op)} {K.k}.",
             f"If sums is empty, return [0, {K.d}].",
             f"Find the {word} value in sums and return [len(sums), it]."]
    body = _blocks(f"""
        segments = []
        cur = []
        for {x} in {xs}:
            if {x} == {K.sep}:
                segments.append(cur)
                cur = []
            else:
                cur.append({x})
        segments.append(cur)
    """, f"""
        sums = []
        for seg in segments:
            if len(seg) {op} {K.k}:
                total = 0
                for {x} in seg:
                    total += {x}
                sums.append(total)
    """, f"""
        if not sums:
            return [0, {K.d}]
        best = sums[0]
        for total in sums:
            if total {cmp_} best:
                best = total
        return [len(sums), best]
    """)

    def oracle(v):
        cuts = [-1] + [i for i, e in enumerate(v) if e == sep] + [len(v)]
        segs = [v[i + 1:j] for i, j in zip(cuts, cuts[1:])]
        sums = [sum(s) for s in segs if _cmp(op, len(s), k)]
        return [len(sums), (max if which == "max" else min)(sums)] if sums else [0, d]

    def make(r):
        v = []
        for _ in range(r.randint(1, 4)):
            v += [r.randint(-4, 8) for _ in range(r.randint(0, 4))]
            v.append(sep)
        if r.random() < 0.6:
            v.pop()
        return [v]

    def cases(r):
        edges = [[[]], [[sep]], [[sep, sep]], [[1, 2, sep, 3]], [[5, 5, 5]], [[-2, sep, -3, -4, sep]]]
        return _fill(r, edges, lambda: make(r), n_random=5)

    return _Task(f"segment_{which}", [xs], goal, steps, body, oracle, cases,
                 {"sep": sep, "op": op, "k": k, "which": which, "d": d}, K.header)


@_family("long")
def _histogram(rng: random.Random, constants: Optional[str] = None) -> _Task:
    lo, w, nb, last = rng.randint(-4, 4), rng.randint(2, 4), rng.randint(3, 5), rng.random() < 0.5
    xs, x = rng.choice(_SEQ_NAMES)
    K = _consts(constants, nb=nb, lo=lo, w=w)
    top = K.derived("nb - 1", nb - 1)
    tie_w, cmp_ = ("the last one on ties", ">=") if last else ("the first one on ties", ">")
    goal = [f"Put each element {x} of {xs} in bucket ({x} - {K.lo}) // {K.w}, clamped to 0..{top}. Return",
            f"[counts, best, empty]: the {K.nb} bucket counts, the index of the fullest bucket ({tie_w})",
            "and the number of empty buckets."]
    steps = [f"Set counts to a list of {K.nb} zeros.",
             f"For each {x}, add 1 to counts[i] for i = ({x} - {K.lo}) // {K.w} clamped to 0..{top}.",
             f"Set best to 0; for each i from 1, set best to i if counts[i] is {_op_words(cmp_)} counts[best].",
             "Set empty to the number of zero counts.",
             "Return [counts, best, empty]."]
    body = _blocks(f"""
        counts = [0] * {K.nb}
    """, f"""
        for {x} in {xs}:
            i = ({x} - {K.lo}) // {K.w}
            if i < 0:
                i = 0
            if i > {top}:
                i = {top}
            counts[i] += 1
    """, f"""
        best = 0
        for i in range(1, {K.nb}):
            if counts[i] {cmp_} counts[best]:
                best = i
    """, """
        empty = 0
        for c in counts:
            if c == 0:
                empty += 1
        return [counts, best, empty]
    """)

    def oracle(v):
        c = Counter(min(nb - 1, max(0, (e - lo) // w)) for e in v)
        counts = [c[i] for i in range(nb)]
        top = max(counts)
        hits = [i for i in range(nb) if counts[i] == top]
        return [counts, hits[-1] if last else hits[0], counts.count(0)]

    pivots = [lo + w * j for j in range(nb)]
    return _Task("bucket_counts", [xs], goal, steps, body, oracle,
                 lambda r: _list_cases(r, [lo, lo + w * (nb - 1)], spread=w * 2,
                                       extra=[[[p for p in pivots]], [[lo - 1, lo - 1, lo + w]]]),
                 {"lo": lo, "w": w, "nb": nb, "last": last}, K.header)


@_family("long")
def _grade_counts(rng: random.Random, constants: Optional[str] = None) -> _Task:
    lo = rng.randint(0, 3)
    hi = lo + rng.randint(8, 14)
    t2 = rng.randint(lo + 2, lo + (hi - lo) // 2)
    t1 = rng.randint(t2 + 2, hi - 1)
    mean = rng.choice(["floor", "sum"])
    xs, x = rng.choice(_SEQ_NAMES)
    K = _consts(constants, lo=lo, hi=hi, ta=t1, tb=t2)
    last_w = ("the integer mean (floor division) of the clamped scores, or 0 if there are none" if mean == "floor"
              else "the sum of the clamped scores")
    goal = [f"Clamp each score in {xs} to the range {K.lo}..{K.hi}. Grade a clamped score as A if it is at",
            f"least {K.ta}, B if at least {K.tb}, else C. Return [number of A, number of B, number of C, m],",
            f"where m is {last_w}."]
    steps = [f"Set clean to the scores of {xs} clamped to {K.lo}..{K.hi}.",
             "Set counts to the numbers of A, B and C grades in clean.",
             "Set total to the sum of clean.",
             ("Set m to total // len(clean), or 0 if clean is empty." if mean == "floor" else "Set m to total."),
             "Return counts + [m]."]
    body = _blocks(f"""
        clean = []
        for {x} in {xs}:
            if {x} < {K.lo}:
                {x} = {K.lo}
            elif {x} > {K.hi}:
                {x} = {K.hi}
            clean.append({x})
    """, f"""
        counts = [0, 0, 0]
        for {x} in clean:
            if {x} >= {K.ta}:
                counts[0] += 1
            elif {x} >= {K.tb}:
                counts[1] += 1
            else:
                counts[2] += 1
    """, f"""
        total = 0
        for {x} in clean:
            total += {x}
    """, """
        m = 0
        if clean:
            m = total // len(clean)
    """ if mean == "floor" else """
        m = total
    """, """
        return counts + [m]
    """)

    def oracle(v):
        cl = [min(hi, max(lo, e)) for e in v]
        a = sum(1 for e in cl if e >= t1)
        b = sum(1 for e in cl if t2 <= e < t1)
        m = (sum(cl) // len(cl) if cl else 0) if mean == "floor" else sum(cl)
        return [a, b, len(cl) - a - b, m]

    return _Task("grade_counts", [xs], goal, steps, body, oracle,
                 lambda r: _list_cases(r, [lo, t2, t1, hi], spread=3),
                 {"lo": lo, "hi": hi, "t1": t1, "t2": t2, "mean": mean}, K.header)


@_family("long")
def _bank_balance(rng: random.Random, constants: Optional[str] = None) -> _Task:
    start, limit, fee = rng.randint(0, 10), rng.randint(5, 12), rng.randint(0, 2)
    floor = rng.choice([0, 0, -5, -10])
    xs, x = rng.choice(_SEQ_NAMES)
    K = _consts(constants, limit=limit, **({"fee": fee} if fee else {}), start=start, floor=floor)
    fee_goal = f" A withdrawal (negative amount) costs {K.fee} more." if fee else ""
    goal = [f"Apply the transactions in {xs} to a balance of {K.start}, ignoring those with absolute value",
            f"above {K.limit}.{fee_goal} Refuse (and count) one that would take the balance",
            f"below {K.floor}. Return [final balance, refused, lowest balance]."]
    steps = [f"Set kept to the transactions of absolute value at most {K.limit}."]
    if fee:
        steps.append(f"Set charged to kept with {K.fee} subtracted from every negative amount.")
    steps += [f"Set balance and lowest to {K.start} and refused to 0.",
              f"For each t: if balance + t is below {K.floor}, count it as refused; else add it and update lowest.",
              "Return [balance, refused, lowest]."]
    src = "charged" if fee else "kept"
    body = _blocks(f"""
        kept = []
        for {x} in {xs}:
            if abs({x}) <= {K.limit}:
                kept.append({x})
    """, f"""
        charged = []
        for {x} in kept:
            if {x} < 0:
                {x} = {x} - {K.fee}
            charged.append({x})
    """ if fee else "", f"""
        balance = {K.start}
        lowest = {K.start}
        refused = 0
        for t in {src}:
            if balance + t < {K.floor}:
                refused += 1
                continue
            balance += t
            if balance < lowest:
                lowest = balance
        return [balance, refused, lowest]
    """)

    def oracle(v):
        amounts = [e - fee if e < 0 else e for e in v if -limit <= e <= limit]
        history, refused = [start], 0
        for t in amounts:
            if history[-1] + t < floor:
                refused += 1
            else:
                history.append(history[-1] + t)
        return [history[-1], refused, min(history)]

    def make(r):
        return [[r.choice([-1, -1, 1]) * r.randint(1, limit + 3) for _ in range(r.randint(1, 7))]]

    def cases(r):
        edges = [[[]], [[limit]], [[limit + 1]], [[-limit]], [[-(start - floor)]], [[-(start - floor) - 1]],
                 [[3, -limit, -limit]]]
        r.shuffle(edges)
        return _fill(r, edges, lambda: make(r), n_random=5)

    return _Task("apply_transactions", [xs], goal, steps, body, oracle, cases,
                 {"start": start, "limit": limit, "fee": fee, "floor": floor}, K.header)


@_family("long")
def _column_sums(rng: random.Random, constants: Optional[str] = None) -> _Task:
    op, k = rng.choice(list(_OPS)), rng.randint(-2, 4)
    fill, which = rng.randint(-2, 3), rng.choice(_ORDER_OPS)
    K = _consts(constants, k=k, fill=fill)
    word = {">": "largest (first on ties)", ">=": "largest (last on ties)",
            "<": "smallest (first on ties)", "<=": "smallest (last on ties)"}[which]
    goal = [f"Keep the rows of the list of lists rows whose sum is {_op_words(op)} {K.k}, pad them",
            f"with {K.fill} to the length of the longest kept row, and return",
            f"[column sums, index of the {word} column sum]; the index is -1 if there are no columns."]
    steps = [f"Set kept to the rows whose sum is {_op_words(op)} {K.k}.",
             "Set width to the largest length of a kept row (0 if none).",
             f"Set padded to each kept row extended with {K.fill} up to width.",
             "Set sums to the column sums of padded.",
             f"Find best, the index of the {word.split()[0]} sum, and return [sums, best]."]
    body = _blocks(f"""
        kept = []
        for row in rows:
            if sum(row) {op} {K.k}:
                kept.append(row)
    """, """
        width = 0
        for row in kept:
            if len(row) > width:
                width = len(row)
    """, f"""
        padded = []
        for row in kept:
            padded.append(row + [{K.fill}] * (width - len(row)))
    """, """
        sums = [0] * width
        for row in padded:
            for j in range(width):
                sums[j] += row[j]
    """, f"""
        best = -1
        for j in range(width):
            if best == -1 or sums[j] {which} sums[best]:
                best = j
        return [sums, best]
    """)

    def oracle(grid):
        cols = list(zip_longest(*[r for r in grid if _cmp(op, sum(r), k)], fillvalue=fill))
        sums = [sum(col) for col in cols]
        if not sums:
            return [[], -1]
        target = max(sums) if which in (">", ">=") else min(sums)
        hits = [j for j, s in enumerate(sums) if s == target]
        return [sums, hits[0] if which in (">", "<") else hits[-1]]

    def make(r):
        return [[[r.randint(-3, 6) for _ in range(r.randint(0, 4))] for _ in range(r.randint(1, 4))]]

    def cases(r):
        edges = [[[]], [[[]]], [[[k]]], [[[k + 1, -1], [2]]], [[[1, 1], [1, 1]]], [[[3], [k - 1, 0, 2]]]]
        return _fill(r, edges, lambda: make(r), n_random=5)

    return _Task(f"column_sums_{_op_name(op)}", ["rows"], goal, steps, body, oracle, cases,
                 {"op": op, "k": k, "fill": fill, "which": which}, K.header)


# ----------------------------------------------------------------------------- text pipelines


@_family("long")
def _parse_runs(rng: random.Random, constants: Optional[str] = None) -> _Task:
    sep, op, c = rng.choice([",", ";", "/"]), rng.choice(list(_OPS)), rng.randint(-3, 4)
    cap, rel = rng.choice([None, 6, 8, 10, 12, 15]), rng.choice(_ORDER_OPS)
    K = _consts(constants, c=c, **({"cap": cap} if cap else {}))
    cap_w = f" (capped at {K.cap})" if cap else ""
    rel_w = {">": "strictly increasing", ">=": "non-decreasing", "<": "strictly decreasing",
             "<=": "non-increasing"}[rel]
    goal = [f'Parse the ints in s, separated by "{sep}" (spaces around them allowed, empty pieces skipped),',
            f"keep those {_op_words(op)} {K.c}, and take their running totals{cap_w}. Return [running totals,",
            f"length of the longest {rel_w} run of adjacent running totals] (0 if there are none)."]
    steps = [f'Set nums to the ints of the non-empty stripped pieces of s.split("{sep}").',
             f"Set kept to the nums that are {_op_words(op)} {K.c}.",
             f"Set running to the running totals of kept{f', each lowered to {K.cap} if above' if cap else ''}.",
             f"Set best and cur to 0; for each t in running, add 1 to cur if t is {_op_words(rel)} the previous"
             " total, else set cur to 1; update best.",
             "Return [running, best]."]
    cap_code = f"""
            if total > {K.cap}:
                total = {K.cap}""" if cap else ""
    body = _blocks(f"""
        nums = []
        for piece in s.split("{sep}"):
            piece = piece.strip()
            if piece:
                nums.append(int(piece))
    """, f"""
        kept = []
        for x in nums:
            if x {op} {K.c}:
                kept.append(x)
    """, f"""
        running = []
        total = 0
        for x in kept:
            total += x{cap_code}
            running.append(total)
    """, f"""
        best = 0
        cur = 0
        prev = None
        for t in running:
            if prev is not None and t {rel} prev:
                cur += 1
            else:
                cur = 1
            if cur > best:
                best = cur
            prev = t
        return [running, best]
    """)

    def oracle(s):
        kept = [int(t) for t in s.replace(" ", "").split(sep) if t and _cmp(op, int(t), c)]
        running = list(accumulate([0] + kept, lambda a, b: min(cap, a + b) if cap else a + b))[1:]
        steps_ok = [_cmp(rel, b, a) for a, b in zip(running, running[1:])]
        runs = [len(list(g)) for ok, g in groupby(steps_ok) if ok]
        return [running, (max(runs, default=0) + 1) if running else 0]

    def make(r):
        pieces = [r.choice(["", " "]) + str(r.randint(-4, 8)) + r.choice(["", "", " "]) for _ in range(r.randint(1, 7))]
        if r.random() < 0.2:
            pieces.insert(r.randrange(len(pieces) + 1), "")
        return [sep.join(pieces)]

    def cases(r):
        edges = [[""], [str(c)], [f"{c - 1}{sep}{c}{sep}{c + 1}"], [f" 3{sep}{sep}3 "], [f"-2{sep}5{sep}-1{sep}4"]]
        return _fill(r, edges, lambda: make(r), n_random=5)

    return _Task(f"parse_runs_{_op_name(op)}", ["s"], goal, steps, body, oracle, cases,
                 {"sep": sep, "op": op, "c": c, "cap": cap, "rel": rel}, K.header)


@_family("long")
def _word_filter(rng: random.Random, constants: Optional[str] = None) -> _Task:
    op, k = rng.choice(list(_OPS)), rng.randint(2, 4)
    mode = rng.choice(["longest", "initials", "join", "title"])
    sep = rng.choice(["-", "_", "+", ","]) if mode in ("join", "title") else ""
    K = _consts(constants, k=k)
    post_goal = {
        "longest": "return the longest kept word (the first one on ties), or \"\" if none",
        "initials": "return the string of the first letters of the kept words",
        "join": f'return the kept words joined with "{sep}"',
        "title": f'return the kept words, each with its first letter upper-cased, joined with "{sep}"',
    }[mode]
    goal = ["Split s into words at spaces (runs of spaces separate words; there are no empty words),",
            f"keep the words whose length is {_op_words(op)} {K.k}, and {post_goal}."]
    steps = ['Set words to [] and cur to "". For each character ch of s: at a space, append cur to words if'
             ' it is not empty and reset cur; otherwise add ch to cur.',
             "After the loop, append cur if it is not empty.",
             f"Set kept to the words whose length is {_op_words(op)} {K.k}."]
    steps.append({
        "longest": 'Set best to ""; for each kept word, set best to it if it is longer than best. Return best.',
        "initials": 'Set out to ""; add the first letter of every kept word to it. Return out.',
        "join": f'Return "{sep}".join(kept).',
        "title": f'Upper-case the first letter of every kept word and return them joined with "{sep}".',
    }[mode])
    post = {
        "longest": """
            best = ""
            for w in kept:
                if len(w) > len(best):
                    best = w
            return best
        """,
        "initials": """
            out = ""
            for w in kept:
                out += w[0]
            return out
        """,
        "join": f"""
            return "{sep}".join(kept)
        """,
        "title": f"""
            out = []
            for w in kept:
                out.append(w[0].upper() + w[1:])
            return "{sep}".join(out)
        """,
    }[mode]
    body = _blocks("""
        words = []
        cur = ""
        for ch in s:
            if ch == " ":
                if cur:
                    words.append(cur)
                cur = ""
            else:
                cur += ch
        if cur:
            words.append(cur)
    """, f"""
        kept = []
        for w in words:
            if len(w) {op} {K.k}:
                kept.append(w)
    """, post)

    def oracle(s):
        kept = [w for w in s.split(" ") if w and _cmp(op, len(w), k)]
        if mode == "longest":
            return max(kept, key=len) if kept else ""
        if mode == "initials":
            return "".join(w[:1] for w in kept)
        return sep.join(w[:1].upper() + w[1:] if mode == "title" else w for w in kept)

    def cases(r):
        edges = [[""], [" "], ["a" * k], ["ab  " + "c" * (k + 1) + " "], [" " + "b" * (k - 1) + " " + "d" * k]]
        return _fill(r, edges, lambda: [_words_text(r, "abcde")], n_random=5)

    return _Task(f"words_{_op_name(op)}", ["s"], goal, steps, body, oracle, cases,
                 {"op": op, "k": k, "mode": mode, "sep": sep}, K.header)


@_family("long")
def _word_counts(rng: random.Random, constants: Optional[str] = None) -> _Task:
    op, k, m = rng.choice(_ORDER_OPS), rng.randint(1, 3), rng.randint(2, 3)
    sep, lower = rng.choice([" ", "-", ","]), rng.random() < 0.5
    K = _consts(constants, k=k, m=m)
    lower_w = ", lower-case the letters" if lower else ""
    goal = [f"Replace every character of s that is not a letter by a space{lower_w}, and split into words.",
            f"Count the words whose length is {_op_words(op)} {K.k}; return those that occur at least {K.m} times,",
            f'in the order of their first occurrence, joined with "{sep}".']
    steps = [f"Build clean from s: each letter{' lower-cased' if lower else ''}, every other character as a space.",
             "Set words to clean.split().",
             f"Set counts to a dict counting each word whose length is {_op_words(op)} {K.k}.",
             f"Set out to the words of counts (in insertion order) counted at least {K.m} times.",
             f'Return "{sep}".join(out).']
    letter = "ch.lower()" if lower else "ch"
    body = _blocks(f"""
        clean = ""
        for ch in s:
            if ch.isalpha():
                clean += {letter}
            else:
                clean += " "
        words = clean.split()
    """, f"""
        counts = {{}}
        for w in words:
            if len(w) {op} {K.k}:
                if w not in counts:
                    counts[w] = 0
                counts[w] += 1
    """, f"""
        out = []
        for w in counts:
            if counts[w] >= {K.m}:
                out.append(w)
        return "{sep}".join(out)
    """)

    def oracle(s):
        text = "".join((c.lower() if lower else c) if c.isalpha() else " " for c in s)
        ws = [w for w in text.split() if _cmp(op, len(w), k)]
        c = Counter(ws)
        first = sorted(c, key=ws.index)
        return sep.join(w for w in first if c[w] >= m)

    def make(r):
        vocab = ["".join(r.choice("abAB") for _ in range(r.randint(1, 4))) for _ in range(3)]
        return ["".join(r.choice(vocab) + r.choice([" ", ".", ", ", "1", "-"]) for _ in range(r.randint(1, 8)))]

    def cases(r):
        edges = [[""], ["ab ab"], ["a.a,a"], ["Ab ab AB"], ["abc abc x x"]]
        return _fill(r, edges, lambda: make(r), n_random=5)

    return _Task("frequent_words", ["s"], goal, steps, body, oracle, cases,
                 {"op": op, "k": k, "m": m, "sep": sep, "lower": lower}, K.header)


@_family("long")
def _tally_records(rng: random.Random, constants: Optional[str] = None) -> _Task:
    rec, kv = rng.choice([",", ";"]), rng.choice([":", "="])
    op, k, mode = rng.choice(list(_OPS)), rng.randint(0, 6), rng.choice(["names", "pairs", "best"])
    K = _consts(constants, k=k)
    out_w = {"names": "the sorted list of those names",
             "pairs": "the list of [name, total] pairs of those names, sorted by name",
             "best": 'the one of those names with the largest total (the smallest name on ties), or "" if none'}[mode]
    goal = [f's holds records "name{kv}value" (value an int, maybe negative) separated by "{rec}"; empty records',
            f"are skipped. Total the values per name, keep the names whose total is {_op_words(op)} {K.k},",
            f"and return {out_w}."]
    steps = [f'Set parts to the non-empty pieces of s.split("{rec}").',
             f'Set totals to a dict: for each part, split it at "{kv}" into name and value, and add int(value) to'
             " totals[name] (starting from 0).",
             f"Set keep to the names of totals whose total is {_op_words(op)} {K.k}.",
             {"names": "Sort keep and return it.",
              "pairs": "Sort keep and return [name, totals[name]] for each name.",
              "best": 'Set best to ""; for each name of sorted(keep), set best to it if best is "" or its total'
                      " is greater than totals[best]. Return best."}[mode]]
    post = {
        "names": """
            keep.sort()
            return keep
        """,
        "pairs": """
            keep.sort()
            out = []
            for name in keep:
                out.append([name, totals[name]])
            return out
        """,
        "best": """
            best = ""
            for name in sorted(keep):
                if best == "" or totals[name] > totals[best]:
                    best = name
            return best
        """,
    }[mode]
    body = _blocks(f"""
        parts = []
        for part in s.split("{rec}"):
            if part:
                parts.append(part)
    """, f"""
        totals = {{}}
        for part in parts:
            name, value = part.split("{kv}")
            if name not in totals:
                totals[name] = 0
            totals[name] += int(value)
    """, f"""
        keep = []
        for name in totals:
            if totals[name] {op} {K.k}:
                keep.append(name)
    """, post)

    def oracle(s):
        totals = Counter()
        for piece in filter(None, s.split(rec)):
            name, _, value = piece.partition(kv)
            totals[name] += int(value)
        names = sorted(n for n in totals if _cmp(op, totals[n], k))
        if mode == "names":
            return names
        if mode == "pairs":
            return [[n, totals[n]] for n in names]
        return min(names, key=lambda n: (-totals[n], n)) if names else ""

    def make(r):
        recs = [f"{r.choice('abcd')}{kv}{r.randint(-4, k + 4)}" for _ in range(r.randint(1, 6))]
        return [rec.join(recs) + (rec if r.random() < 0.2 else "")]

    def cases(r):
        edges = [[""], [f"a{kv}{k}"], [f"a{kv}{k - 1}{rec}b{kv}{k + 1}"], [f"b{kv}{k}{rec}{rec}a{kv}{k}"],
                 [f"c{kv}-3{rec}c{kv}{k + 3}"]]
        return _fill(r, edges, lambda: make(r), n_random=5)

    return _Task(f"tally_{_op_name(op)}", ["s"], goal, steps, body, oracle, cases,
                 {"rec": rec, "kv": kv, "op": op, "k": k, "mode": mode}, K.header)


@_family("long")
def _inventory(rng: random.Random, constants: Optional[str] = None) -> _Task:
    start, cap, op, k = rng.randint(0, 8), rng.choice([None, 10, 15, 20]), rng.choice(_ORDER_OPS), rng.randint(1, 6)
    add, take = rng.choice([("add", "take"), ("in", "out"), ("buy", "sell")])
    K = _consts(constants, start=start, **({"cap": cap} if cap else {}), k=k)
    cap_w = f", but never above {K.cap}" if cap else ""
    goal = [f'Apply the commands "{add} n" or "{take} n" of cmds in order to a stock of {K.start} items:',
            f"{add} n adds n{cap_w}; {take} n removes n, but never below 0.",
            f"Return [final stock, number of commands after which the stock is {_op_words(op)} {K.k}]."]
    steps = ["Parse each command into [word, int(n)] in moves.",
             f"Set stock to {K.start} and hits to 0, then apply each move to stock"
             f"{f' (capped at {K.cap})' if cap else ''} with a floor of 0.",
             f"After each move, add 1 to hits if stock is {_op_words(op)} {K.k}.",
             "Return [stock, hits]."]
    cap_code = f"""
                if stock > {K.cap}:
                    stock = {K.cap}""" if cap else ""
    body = _blocks("""
        moves = []
        for cmd in cmds:
            word, n = cmd.split(" ")
            moves.append([word, int(n)])
    """, f"""
        stock = {K.start}
        hits = 0
        for word, n in moves:
            if word == "{add}":
                stock += n{cap_code}
            elif word == "{take}":
                stock -= n
                if stock < 0:
                    stock = 0
            if stock {op} {K.k}:
                hits += 1
        return [stock, hits]
    """)

    def oracle(cmds):
        levels = [start]
        for cmd in cmds:
            word, n = cmd.split()
            delta = int(n) if word == add else -int(n)
            level = max(0, levels[-1] + delta)
            levels.append(min(cap, level) if cap else level)
        return [levels[-1], sum(1 for lv in levels[1:] if _cmp(op, lv, k))]

    def make(r):
        return [[f"{r.choice([add, take, take])} {r.randint(0, k + 4)}" for _ in range(r.randint(1, 6))]]

    def cases(r):
        to_k = f"{add} {k - start}" if k >= start else f"{take} {start - k}"  # the stock lands on k exactly
        edges = [[[to_k]], [[f"{take} {start}"]], [[f"{add} {k}", f"{take} 1"]], [[]], [[to_k, f"{add} 1"]],
                 [[f"{take} {start + 1}"]]] + ([[[f"{add} {cap}"]]] if cap else [])
        return _fill(r, edges, lambda: make(r), n_random=5)

    return _Task("stock_level", ["cmds"], goal, steps, body, oracle, cases,
                 {"start": start, "cap": cap, "op": op, "k": k, "words": [add, take]}, K.header)


# ----------------------------------------------------------------------------- digit arithmetic


@_family("long")
def _check_digit(rng: random.Random, constants: Optional[str] = None) -> _Task:
    base, parity, weight, mod = rng.choice([10, 10, 8, 6]), rng.randint(0, 1), rng.randint(2, 4), rng.randint(5, 13)
    which = "even" if parity == 0 else "odd"
    # the parity is a mode, like an operator: the words say "even" or "odd", so it stays literal
    K = _consts(constants, b=base, w=weight, mod=mod)
    goal = [f"Take the base-{K.b} digits of n >= 0 from the least significant; multiply those at {which}",
            f"positions (0-based) by {K.w}, folding a product p >= {K.b} to p // {K.b} + p % {K.b}; sum them.",
            f"Return [total, ({K.mod} - total % {K.mod}) % {K.mod}]."]
    steps = [f"Set digits to the base-{K.b} digits of n, least significant first.",
             f"For each position i: d = digits[i], times {K.w} if i % 2 == {parity}, folded if >= {K.b};"
             " add d to total.",
             "Compute check and return [total, check]."]
    body = _blocks(f"""
        digits = []
        m = n
        while m > 0:
            digits.append(m % {K.b})
            m = m // {K.b}
    """, f"""
        total = 0
        for i in range(len(digits)):
            d = digits[i]
            if i % 2 == {parity}:
                d = d * {K.w}
                if d >= {K.b}:
                    d = d // {K.b} + d % {K.b}
            total += d
    """, f"""
        check = ({K.mod} - total % {K.mod}) % {K.mod}
        return [total, check]
    """)

    def oracle(n):
        ds = []
        while n:
            n, r = divmod(n, base)
            ds.append(r)
        total = 0
        for i, dgt in enumerate(ds):
            p = dgt * weight if i % 2 == parity else dgt
            total += sum(divmod(p, base))
        return [total, -total % mod]

    def cases(r):
        q = base // weight  # a digit whose weighted product is exactly the base, where there is one
        edges = [[0], [base - 1], [base], [base * base - 1], [q * base + q], [q * base * base + q * base + q], [1]]
        return _fill(r, edges, lambda: [r.randint(0, 10 ** r.randint(2, 6))], n_random=5)

    return _Task(f"check_digit_base{base}", ["n"], goal, steps, body, oracle, cases,
                 {"base": base, "parity": parity, "weight": weight, "mod": mod}, K.header)
