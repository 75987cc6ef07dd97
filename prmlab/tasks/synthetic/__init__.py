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

The *long* tier (``LONG_TIER``, module ``long``; 12-30 lines, ~100-300 tokens with the tiny
default's tokenizer) is opt-in, for the long-horizon regime: ``generate_suite(..., long_share=x)``
takes the share ``x`` of every split from it (default 0: the suite is byte-identical to the one
without the tier). Its programs are pipelines of several simple, independent steps, so a mistake is
local and the prefix before it is completable. Long problems keep ``difficulty == "hard"``
(``LONG_DIFFICULTY``) so everything that breaks results down by difficulty (the evaluation report,
PRM prompt categories, analyses) keeps its three levels, and are marked ``meta["tier"] == "long"``
(``tier_of(problem)`` gives a problem's tier; the other tiers have no ``meta["tier"]``, which keeps
their records unchanged). ``generate_suite(..., long_constants="named")`` writes the long problems'
per-problem int constants as keyword parameters with defaults instead of literals (``long``'s
docstring), so that a long program asks for steps, not for copying numbers; the default (None)
keeps the literals and the bytes. ``generate_suite(..., long_comments="parts")`` opens each block
of a long reference with a comment line, so that policies trained on them write comments, which the
PRM paper's neutral label and length normalisation are about; the default (None) writes none.

Categories (``category``), after the PRM paper's Contest / NL2Alg split:

* ``contest``: the comments state only the goal;
* ``nl2alg``: the goal followed by the algorithm step by step (``# Step 1: ...``), close to
  line-by-line, so the model maps steps to lines.
Every family is written in both styles; the reference body is the same.

Families are parameterised by constants, comparison operators, modes, and cosmetic names
(function name synonyms, list/element variable names). Each tier's families live in their own
module (``easy``, ``medium``, ``hard``, whose docstrings say what the families exercise) and
register themselves with ``@_family(tier)`` in the one registry of ``common``; importing this
package imports the tier modules, and ``family_names()`` lists the families per tier.

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
in the order test, val, train, rl from their own ``random.Random`` streams seeded with
``(seed, split)`` (the long tier's problems afterwards, from streams of their own), so the test
set depends only on ``(seed, n_test)`` and does not move when ``n_train`` changes. Within a split
the tiers get equal shares (the remainder goes to the easier tiers), families are cycled in a
shuffled round-robin inside each tier, and categories alternate. The suite holds a few thousand
distinct keys per tier; asking for more raises ``ValueError``.

Layout: this module holds the split assembly and the public API (``generate_suite``,
``family_names``, ``tier_of``, ``n_long``, ``TIERS``, ``LONG_TIER``, ``LONG_DIFFICULTY``,
``LONG_CONSTANTS``, ``LONG_COMMENTS``, ``TIER_LINES``, ``CATEGORIES``, ``N_TESTS``); ``common`` the registry, the
shared helpers, test-input construction and rendering; ``easy``, ``medium``, ``hard``, ``long`` the
families.
"""
from __future__ import annotations

import json
import random
from typing import Optional

# Importing a tier module registers its families; the order of registration within a tier is
# part of the suite's determinism, and each tier lives in one module, so it is the definition order.
from prmlab.tasks.synthetic import easy, hard, long, medium  # noqa: F401
from prmlab.tasks.synthetic.common import (
    _FAMILIES,
    CATEGORIES,
    LONG_COMMENTS,
    LONG_CONSTANTS,
    LONG_DIFFICULTY,
    LONG_MAX_LEN,
    LONG_NEW_TOKENS,
    LONG_TIER,
    N_TESTS,
    TIER_LINES,
    TIERS,
    _commented,
    _consts,
    _family_name,
    _make_problem,
    _Task,
    family_names,
)
from prmlab.types import Problem

__all__ = ["CATEGORIES", "LONG_COMMENTS", "LONG_CONSTANTS", "LONG_DIFFICULTY", "LONG_MAX_LEN", "LONG_NEW_TOKENS", "LONG_TIER", "N_TESTS",
           "TIER_LINES", "TIERS", "family_names", "generate_suite", "n_long", "tier_of"]

_MAX_TRIES = 40  # fresh-key draws per family before the round-robin moves to the next family


def _shares(n: int, k: int) -> list[int]:
    """``n`` split into ``k`` near-equal parts, the remainder to the first parts."""
    return [n // k + (i < n % k) for i in range(k)]


def _draw_fresh(rng: random.Random, tier: str, start: int, used: set[str],
                constants: Optional[str] = None) -> tuple[str, _Task]:
    """Next family of the round-robin with an unused semantic key (skipping exhausted families).
    The long tier's families take ``constants`` (how to render their constants), which changes
    their text only, never what they draw from ``rng``."""
    fams = _FAMILIES[tier]
    for offset in range(len(fams)):
        fam = fams[(start + offset) % len(fams)]
        name = _family_name(fam)
        for _ in range(_MAX_TRIES):
            task = fam(rng, constants) if tier == LONG_TIER else fam(rng)
            key = json.dumps([name, task.params], sort_keys=True)
            if key not in used:
                used.add(key)
                return name, task
    raise ValueError(f"synthetic suite: no unused {tier} parameterisations left; ask for fewer problems")


def _draw_tier(rng: random.Random, tier: str, count: int, split: str, used: set[str],
               constants: Optional[str] = None, comments: Optional[str] = None) -> list[Problem]:
    """``count`` problems of ``tier``: its families in shuffled rounds, categories alternating."""
    problems = []
    fams = list(range(len(_FAMILIES[tier])))
    cat0 = rng.randrange(2)
    order: list[int] = []
    for j in range(count):
        if not order:  # a fresh shuffled round of the tier's families
            order = rng.sample(fams, len(fams))
        family, task = _draw_fresh(rng, tier, order.pop(), used, constants)
        category = CATEGORIES[(cat0 + j) % 2]
        problems.append(_make_problem(task, family, tier, category, split, rng, comments))
    return problems


def _number(problems: list[Problem], split: str) -> list[Problem]:
    for i, p in enumerate(problems):
        p.id = f"synthetic/{split}/{i:04d}"
    return problems


def _generate_split(rng: random.Random, split: str, n: int, used: set[str]) -> list[Problem]:
    problems = []
    for tier, count in zip(TIERS, _shares(n, len(TIERS))):
        problems += _draw_tier(rng, tier, count, split, used)
    rng.shuffle(problems)
    return _number(problems, split)


def n_long(n: int, long_share: float) -> int:
    """How many of a split's ``n`` problems come from the long tier: ``round(n * long_share)``."""
    return round(n * long_share)


def tier_of(problem: Problem) -> str:
    """A synthetic problem's tier: ``meta["tier"]`` for the long tier, else its ``difficulty``."""
    return problem.meta.get("tier", problem.difficulty)


def generate_suite(seed: int, n_train: int, n_val: int, n_test: int, n_rl: int = 0, *,
                   long_share: float = 0.0, long_constants: Optional[str] = None,
                   long_comments: Optional[str] = None) -> list[Problem]:
    """The synthetic suite: ``n_train + n_rl + n_val + n_test`` problems, in the order train, rl, val, test.

    Deterministic in its arguments. Splits share families but never a semantic key (family +
    behaviour parameters), so no prompt appears in two splits. The test split depends only on
    ``(seed, n_test)``, the val split only on ``(seed, n_test, n_val)``, the train split only on
    ``(seed, n_test, n_val, n_train)``: the ``rl`` split is drawn last, so adding it moves nothing.

    ``rl`` holds the RL prompts (RL, PRM data collection, gradient analyses), kept apart from the SFT
    problems (``train``): the tiny SFT policy memorises its 600 training solutions (pass rate ~0.5 at
    T=1 on them vs ~0.2 on new parameterisations), so RL on those prompts mostly rewards recall and
    does not transfer to held-out problems; on unseen parameterisations it has to read the prompt.

    ``long_share`` (in [0, 1], default 0: off) is the share of *each* split taken from the long tier
    (module ``long``: 12-30 line step-by-step programs): a split of ``n`` problems then holds
    ``n_long(n, long_share) = round(n * long_share)`` long problems and ``n - n_long`` from the
    easy/medium/hard tiers, so the split sizes do not change. The easy/medium/hard part is exactly
    what ``long_share=0`` draws for ``n - n_long`` problems; the long problems come afterwards from
    their own streams (seeded with ``(seed, split, "long")``, in the order test, val, train, rl), and
    each split is then shuffled with its long stream and renumbered. So with ``long_share=0`` the
    output is byte-identical to the suite without the long tier, the dependencies above hold with
    ``long_share`` added to each, and semantic keys stay unique across the whole suite. Long problems
    have ``difficulty == LONG_DIFFICULTY`` ("hard", so breakdowns by difficulty keep their three
    levels) and ``meta["tier"] == "long"`` (``tier_of``). The long tier holds a few thousand keys too.

    ``long_constants`` says how the long problems write their per-problem int constants (thresholds,
    bounds, widths, start values, default answers; module ``long`` names them per family): None
    (default) as literals in the comments and the body, as the other tiers do; ``"named"``
    (``LONG_CONSTANTS``) as keyword parameters with defaults in the def header
    (``def f(xs, c=3, a=2):``) that the comments and the body refer to by name. A long body writes
    its 1-4 constants 1-9 times (3.7 on average) and a single miscopied literal fails it: with
    literals the tiny policy writes almost no long program right, mostly through copying mistakes,
    not wrong steps. With names a family's body is the same text for every problem up to its local
    choices (operators, modes, optional steps, strings), which the words state. The option changes
    only the long problems' prompts and references (and adds ``meta["constants"] = "named"``): the
    draws are the same, so the suite has the same problems (ids, parameters, tests, order) in both
    modes, and the easy/medium/hard problems are the same bytes.

    ``long_comments`` puts comment lines into the long problems' references: None (default) writes
    none, as every tier does (no reference holds a comment or blank line, so the PRM paper's neutral
    label and the code-line normaliser have nothing to act on); ``"parts"`` (``LONG_COMMENTS``) opens
    each block of a long body with ``# <the names it assigns>`` (``common._commented``). It
    changes the long references' text only (and adds ``meta["comments"]``): the same problems, tests
    and ``meta["n_lines"]`` (code lines), and the other tiers are the same bytes.
    """
    if not 0.0 <= long_share <= 1.0:
        raise ValueError(f"synthetic suite: long_share must be in [0, 1], got {long_share!r}")
    _consts(long_constants)  # refuses an unknown mode before anything is drawn
    _commented("", long_comments)  # likewise
    sizes = (("test", n_test), ("val", n_val), ("train", n_train), ("rl", n_rl))
    used: set[str] = set()
    by_split = {}
    for split, n in sizes:
        base = n - n_long(n, long_share)
        by_split[split] = _generate_split(random.Random(f"prmlab-synthetic/{seed}/{split}"), split, base, used)
    for split, n in sizes:
        count = n_long(n, long_share)
        if count:
            rng = random.Random(f"prmlab-synthetic/{seed}/{split}/{LONG_TIER}")
            problems = by_split[split] + _draw_tier(rng, LONG_TIER, count, split, used, long_constants, long_comments)
            rng.shuffle(problems)
            by_split[split] = _number(problems, split)
    return by_split["train"] + by_split["rl"] + by_split["val"] + by_split["test"]
