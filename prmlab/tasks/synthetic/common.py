"""Shared building blocks of the synthetic suite's families: the registry, wording, test inputs, rendering.

* the constants every tier shares (``N_TESTS``, ``TIERS``, ``LONG_TIER``, ``TIER_LINES``, ``CATEGORIES``), the
  comparison-operator table and the cosmetic variable names;
* ``_Task``, one drawn parameterisation of a family, and the family registry: a tier module
  decorates each family with ``@_family(tier)``, which appends it to ``_FAMILIES[tier]`` in
  definition order (that order is part of the suite's determinism: the round-robin indexes it);
* wording helpers for prompts and bodies (``_op_words``, ``_signed``, ...), and ``_consts``, which
  renders a long family's per-problem constants as literals or as named keyword parameters;
* test-input construction: edge cases first, then random inputs, ``_POOL`` candidates in all
  (``_fill`` and the per-argument-shape helpers built on it);
* rendering: ``_make_problem`` turns a ``_Task`` into a ``Problem`` in one category (prompt
  comments, indented reference, checked line count) and ``_select`` picks its tests.

Names with a leading underscore are internal to the ``prmlab.tasks.synthetic`` package; the tier
modules import them from here.
"""
from __future__ import annotations

import json
import operator
import random
import re
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from prmlab.types import Problem, TestCase

N_TESTS = 10  # functional tests per problem (the suite's tests require >= 8)
TIERS = ("easy", "medium", "hard")
# The opt-in long tier (``generate_suite(..., long_share=...)``): long step-by-step programs. Its
# problems keep a paper difficulty (``LONG_DIFFICULTY``) so breakdowns by ``difficulty`` see only the
# three levels, and carry ``meta["tier"] == LONG_TIER``; problems of the three tiers have no
# ``meta["tier"]`` (their tier is their difficulty).
LONG_TIER = "long"
LONG_DIFFICULTY = "hard"
# Room the long tier needs (tiny default tokenizer; benchmarks/long_tier_calibration.py prints the
# figures): prompt + reference up to ~480 tokens for SFT, references up to ~190 tokens when sampled,
# and prompt (up to ~290; ~325 with named constants, whose defaults lengthen the header) + response
# must fit a 512-position context (the sampler caps a response at what the context leaves).
LONG_MAX_LEN = 512
LONG_NEW_TOKENS = 224
TIER_LINES = {"easy": (1, 3), "medium": (4, 7), "hard": (8, 14), LONG_TIER: (12, 30)}
# How the long tier renders its per-problem int constants, besides the default (None: as literals
# in the comments and the body): "named" makes them keyword parameters with defaults (``_consts``).
LONG_CONSTANTS = ("named",)
# Comment lines in the long tier's references, besides the default (None: none, as every tier): "parts"
# opens each of the body's blocks (its steps) with a comment naming what the block computes (``_commented``).
LONG_COMMENTS = ("parts",)
CATEGORIES = ("nl2alg", "contest")
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
    # keyword parameters with defaults (``"c=3"``) after ``args`` in the def header: the long tier's
    # named constants (``_consts``); empty for the other tiers and for literal constants
    defaults: list[str] = field(default_factory=list)


_FAMILIES: dict[str, list[Callable[[random.Random], _Task]]] = {t: [] for t in TIERS + (LONG_TIER,)}


def _family_name(fn: Callable[[random.Random], _Task]) -> str:
    """A family's name: its generator's, less the leading ``_`` (function ``_affine`` -> family ``affine``)."""
    return fn.__name__.lstrip("_")


def _family(tier: str):
    """Register the decorated family generator in ``tier``, after the families already there."""

    def register(fn):
        name = _family_name(fn)
        if any(_family_name(f) == name for fams in _FAMILIES.values() for f in fams):
            raise ValueError(f"synthetic suite: family {name!r} registered twice")
        _FAMILIES[tier].append(fn)
        return fn

    return register


def family_names() -> dict[str, list[str]]:
    """Family names per tier, in registration order."""
    return {t: [_family_name(f) for f in fams] for t, fams in _FAMILIES.items()}


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


class _Consts:
    """A family's per-problem int constants, rendered as literals or by name; built by ``_consts``.

    ``K.c`` is the text of constant ``c`` in a template: its value (``"3"``) when literal, its name
    (``"c"``) when named. ``K.header`` is what the def header gains: ``["c=3", ...]`` when named
    (in the order the constants were given, which the family makes the order of first use in its
    body), ``[]`` when literal. So a family writes each comment and body template once and the
    literal rendering is the text it had before the named one existed."""

    def __init__(self, named: bool, values: dict[str, int]):
        self.named = named
        self._values = values

    def __getattr__(self, name: str) -> str:
        values = self.__dict__.get("_values", {})
        if name not in values:
            raise AttributeError(name)
        return name if self.named else str(values[name])

    def derived(self, expr: str, value: int) -> str:
        """A value derived from the constants: ``expr`` (``"nb - 1"``) when named, else ``value``."""
        return expr if self.named else str(value)

    def signed(self, name: str) -> tuple[str, str]:
        """(words, code) for adding constant ``name``: as ``_signed`` when literal (``plus 3`` /
        ``+ 3``, ``minus 3`` / ``- 3``), ``plus b`` / ``+ b`` when named (the sign is in the default)."""
        return (f"plus {name}", f"+ {name}") if self.named else _signed(self._values[name])

    @property
    def header(self) -> list[str]:
        return [f"{k}={v}" for k, v in self._values.items()] if self.named else []


def _consts(mode: Optional[str], **values: int) -> _Consts:
    """The constants ``values`` (name -> value, in order of first use in the body) rendered as
    ``mode`` says: None as literals, ``"named"`` as keyword parameters (``LONG_CONSTANTS``)."""
    if mode is not None and mode not in LONG_CONSTANTS:
        raise ValueError(f"synthetic suite: long_constants must be None or one of {LONG_CONSTANTS}, got {mode!r}")
    return _Consts(mode == "named", values)


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


class _Body(str):
    """A reference body (unindented text) that remembers the blocks it was joined from (``_blocks``)."""

    blocks: tuple[str, ...] = ()


def _blocks(*parts: str) -> _Body:
    """Body text from separately written blocks (each dedented on its own; empty ones dropped), so a
    family can compose its steps, some optional, into one unindented body. The result keeps the
    blocks, so ``_commented`` can open each with a comment line."""
    blocks = tuple(textwrap.dedent(p).strip("\n") for p in parts if p.strip())
    body = _Body("\n".join(blocks))
    body.blocks = blocks
    return body


_ASSIGNED = re.compile(r"^([A-Za-z_]\w*(?:, *[A-Za-z_]\w*)*) *(?:=|\+=|-=)(?!=)")


def _commented(body: str, mode: Optional[str]) -> str:
    """``body`` with a comment line opening each of its blocks when ``mode`` is ``"parts"``
    (``LONG_COMMENTS``): the names the block assigns, top-level lines first (``# kept``, ``# total,
    count, best``; a block that assigns none says what it does: ``# early return``). The comments add
    no code, so the program, its tests and its code-line count are unchanged; they give the
    references (and so the SFT policy's responses) the comment lines that the PRM paper's neutral
    label and the ``dense_norm=code_lines`` normaliser act on. They are short on purpose: the
    longest commented reference must still fit ``LONG_NEW_TOKENS`` (212 of 224 tokens on the long
    testbed's suite; ``benchmarks/long_tier_calibration.py --long-comments parts``). ``None`` returns
    ``body`` as it is."""
    if mode is None:
        return body
    if mode not in LONG_COMMENTS:
        raise ValueError(f"synthetic suite: long_comments must be None or one of {LONG_COMMENTS}, got {mode!r}")
    out = []
    for block in getattr(body, "blocks", ()) or (body,):
        lines = block.splitlines()
        names: list[str] = []
        for candidates in (lines, [line.lstrip() for line in lines]):  # top level first, then nested
            for line in candidates:
                m = _ASSIGNED.match(line)
                for name in (m.group(1).replace(" ", "").split(",") if m else ()):
                    if name not in names:
                        names.append(name)
            if names:
                break
        what = ", ".join(names) or ("early return" if "return" in block else "step")
        out.append(f"# {what}\n{block}")
    return "\n".join(out)


def _indent(body: str) -> str:
    return textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"


# ----------------------------------------------------------------------------- rendering and test selection


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


def _make_problem(task: _Task, family: str, tier: str, category: str, split: str, rng: random.Random,
                  long_comments: Optional[str] = None) -> Problem:
    """One problem from a drawn task; ``long_comments`` (the long tier's ``LONG_COMMENTS`` mode) adds comment
    lines to the reference only: ``meta["n_lines"]`` and the tier's line range count code lines."""
    comments = list(task.goal)
    if category == "nl2alg":
        comments += [f"Step {i}: {s}" for i, s in enumerate(task.steps, 1)]
    header = ", ".join(task.args + task.defaults)
    prompt = "".join(f"# {line}\n" for line in comments) + f"def {task.name}({header}):\n"
    n_lines = sum(1 for line in _indent(task.body).splitlines() if line.strip())
    body = _indent(_commented(task.body, long_comments))
    lo, hi = TIER_LINES[tier]
    if not lo <= n_lines <= hi:  # a family template out of its tier is a bug in its tier module
        raise AssertionError(f"family {family}: {n_lines} lines, outside the {tier} tier {lo}-{hi}")
    tests = _select(task.cases(rng), task.oracle)
    if len(tests) < 8:
        raise AssertionError(f"family {family}: only {len(tests)} distinct test inputs")
    meta = {"family": family, "params": task.params, "n_lines": n_lines}
    if tier == LONG_TIER:
        meta["tier"] = LONG_TIER
    if task.defaults:  # only named problems carry the key: literal ones keep their records' bytes
        meta["constants"] = "named"
    if long_comments is not None:  # likewise: uncommented problems keep their bytes
        meta["comments"] = long_comments
    return Problem(
        id="", prompt=prompt, tests=tests, entry_point=task.name,
        difficulty=LONG_DIFFICULTY if tier == LONG_TIER else tier, category=category,
        source="synthetic", reference=body, code_prefix=prompt, split=split, meta=meta,
    )

