"""Pass/fail decisions, made in the parent from plain data (never inside the sandbox).

``values_equal`` (functional tests): Python equality on plain data, with two documented relaxations:
- numbers: when either side is a float, ``math.isclose`` with ``rel_tol = abs_tol = tol``
  (two NaNs are equal); ints (and bools) compare exactly, as in Python (``True == 1``);
- sequences: a tuple equals a list with equal items, because expected values come from JSON,
  which cannot tell them apart (LiveCodeBench's harness makes the same allowance). Sources that
  need a strict tuple check (HumanEval) keep such tests as ``assert`` tests, judged exactly.
Dicts compare key sets exactly and values recursively; sets, strings, bytes, None compare with ==.

``stdio_equal`` (stdio tests): the output and the expected text are split into lines after
stripping the whole text; each line is stripped (so trailing spaces, ``\\r\\n`` and blank lines at
the end never matter; LiveCodeBench strips leading spaces of lines too, and so do we). Lines that
differ as text still match when they have the same number of whitespace-separated tokens and each
token pair is equal as text, equal as integers, or close as floats (tolerance ``tol``).
"""
from __future__ import annotations

import math
import re

_INT = re.compile(r"[+-]?\d+\Z")


def _num_equal(a, b, tol: float) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            fa, fb = float(a), float(b)
        except OverflowError:  # an int too large for a float
            return False
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        return fa == fb or math.isclose(fa, fb, rel_tol=tol, abs_tol=tol)
    return a == b


def values_equal(actual, expected, tol: float = 0.0, _depth: int = 0) -> bool:
    """Is the decoded return value ``actual`` equal to the expected value (see module doc)?"""
    if _depth > 200:
        return False
    num = (int, float)  # bool is an int
    if isinstance(actual, num) and isinstance(expected, num):
        return _num_equal(actual, expected, tol)
    seq = (list, tuple)
    if isinstance(actual, seq) and isinstance(expected, seq):
        return len(actual) == len(expected) and all(
            values_equal(a, e, tol, _depth + 1) for a, e in zip(actual, expected))
    if isinstance(actual, dict) and isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(
            values_equal(actual[k], expected[k], tol, _depth + 1) for k in expected)
    if type(actual) is not type(expected):
        return False
    return actual == expected


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().split("\n")]


def _token_equal(a: str, b: str, tol: float) -> bool:
    if a == b:
        return True
    if _INT.match(a) and _INT.match(b):
        return int(a) == int(b)  # exact: 10**17 and 10**17 + 1 differ although their floats agree
    try:
        fa, fb = float(a), float(b)
    except ValueError:
        return False
    if not (math.isfinite(fa) and math.isfinite(fb)):
        return fa == fb
    return math.isclose(fa, fb, rel_tol=tol, abs_tol=tol)


def stdio_equal(output: str, expected: str, tol: float = 0.0) -> bool:
    """Does program ``output`` match ``expected`` stdout (see module doc)?"""
    got, want = _lines(output), _lines(expected)
    if len(got) != len(want):
        return False
    for g, w in zip(got, want):
        if g == w:
            continue
        gt, wt = g.split(), w.split()
        if len(gt) != len(wt) or not all(_token_equal(a, b, tol) for a, b in zip(gt, wt)):
            return False
    return True
