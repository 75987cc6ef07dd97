"""Line labels for PRM training: binary search for the first error line (PRM paper, Algorithm 1).

This module is model-free. It decides *which* prefixes to check and turns the answers into line
labels; the caller supplies ``check``, which samples K completions of prompt + prefix from a policy
checkpoint, runs them in the sandbox and reports best-of-K ("is this prefix completable?").

Definitions
-----------
A response has lines ``s_1..s_M`` (``prmlab.sampling.split_lines``). The *prefix of length m* is its
first m lines, each ending in ``"\\n"`` (``prefix_text``): a step ends at its end-of-line token.
A prefix is *completable* when one of K sampled completions of it passes all tests.

Algorithm
---------
- A response that passes all tests needs no check: every line is +1, category ``correct``,
  ``first_error_line`` None.
- Otherwise the search looks for m*, the largest completable prefix length, among the candidate
  lengths in ``1..M-1``, assuming completability is monotone in m (completable iff m <= m*):
  * m = M is never checked: it is the response itself, known to fail.
  * m = 0 (the empty prefix) is never checked: it measures the prompt, not the response. When no
    candidate is completable, m* = 0 and the response is ``wrong`` (every line -1).
  * Binary mode keeps an interval (lo, hi) over the sorted candidates, lo = largest known
    completable (initially "none", i.e. m* = 0), hi = smallest known not completable (initially the
    full response), and checks the midpoint until hi = lo + 1: at most ceil(log2(L + 1)) checks for
    L candidates, hence at most ceil(log2 M).
  * Linear mode (``search="linear"``) checks every candidate, to test the monotonicity assumption
    and to measure what binary search saves. Each line is then labelled by its *own* prefix's
    completability (the definition of the label, Eq. 1 of the paper) with no monotone projection,
    and ``monotone`` records whether the measured results are of the form T..T F..F.
- Lines whose prefix is completable get +1, the others -1: under monotonicity lines ``1..m*`` are +1
  and ``m*+1..M`` are -1. Category ``revised`` when some prefix is completable (for a monotone
  result: m* >= 1), else ``wrong``. ``first_error_line`` is the 0-based index of the first line the search marks not
  completable (= m* for a monotone result; None for a correct response or an empty one).

Choices the paper leaves open
-----------------------------
- **Neutral lines are not prefix boundaries** (``skip_neutral=True``, the default). A blank or
  comment-only line does not change the program, so the prefix ending on it holds the same code as
  the prefix ending on the code line before it; checking it would spend K completions and K
  executions to re-measure the same thing. Only prefixes that end on a code line are candidates.
  A neutral line inherits the completability of the nearest candidate at or before it; neutral
  lines before the first code line inherit from the first candidate after them (or from the full
  response when there is none), which under monotonicity is what the unchecked empty prefix would
  give whenever the response is revised. Consequently the first error line is a code line, except
  when every code line is completable and only trailing neutral lines follow it (the response's
  mistake was to stop); then it is the last line. ``skip_neutral=False`` checks every length in
  ``1..M-1`` as the paper's text literally does. (A "#" line inside a multi-line string counts as
  neutral too; this only removes a boundary, it never changes a program.)
- **Neutral label** (``neutral_label=True``): blank and comment-only lines get label 0 whatever the
  search says, so a policy rewarded by the PRM cannot farm reward by writing comments, which are
  far easier to get "right" than code (paper section 3.3). ``neutral_label=False`` is the
  reward-hacking ablation: those lines get the label their prefix earns.
- **Prompt categories** pool a prompt's responses over all checkpoints (the paper aggregates the
  data of all checkpoints before categorising). ``easy``: all correct; ``hard``: all wrong;
  ``medium``: anything else, so a prompt whose responses are all ``revised`` is medium (it is neither
  solved outright nor hopeless, and it is where the correction signal lives).

Batching
--------
``label_responses`` runs all responses together in rounds. Each binary round asks ``check`` once
with one pending prefix per unresolved response, so the sampler and sandbox see full batches; the
number of rounds is that of the longest search (at most ceil(log2 M_max)). Linear mode asks for
every candidate of every response in a single round. ``check`` may split a round into sub-batches
as its memory allows.

The records are stored as ``labels.jsonl`` by ``prmlab.prm.data`` (schema and reader there).
"""
from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Sequence

from prmlab.types import RESPONSE_CATEGORIES, LabeledResponse

SEARCH_MODES: tuple[str, ...] = ("binary", "linear")

# check(requests) -> one bool per (response_index, m) request: "is the prefix of m lines completable?"
CheckFn = Callable[[list[tuple[int, int]]], Sequence[bool]]


def is_neutral_line(line: str) -> bool:
    """True for a blank or comment-only line (empty after stripping, or starting with ``#``).

    Such lines get the neutral label 0: writing a plausible comment is much easier than writing
    correct code, so rewarding comments lets the policy farm PRM reward with them.
    """
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def prefix_text(lines: Sequence[str], m: int) -> str:
    """The prefix of the first ``m`` lines, each ending with its newline ("" for m = 0)."""
    if not 0 <= m <= len(lines):
        raise ValueError(f"prefix length {m} outside 0..{len(lines)}")
    return "".join(line + "\n" for line in lines[:m])


@dataclass
class SearchItem:
    """One response to label. ``response_index`` is the caller's id, echoed in check requests."""

    response_index: int
    lines: list[str]
    passed: bool  # the whole response passes all tests


@dataclass
class LabelResult:
    """Outcome of the search for one response (see the module docstring for the definitions)."""

    response_index: int
    labels: list[int]  # one per line: +1, -1, or 0 for neutral lines when neutral_label
    first_error_line: Optional[int]  # 0-based; None when correct (or the response is empty)
    category: str  # correct | revised | wrong
    m_star: int  # number of leading lines whose prefix is completable (M when correct)
    n_prefix_checks: int  # check requests spent on this response
    checks: list[tuple[int, bool]] = field(default_factory=list)  # (m, completable) in asking order
    completable: list[bool] = field(default_factory=list)  # per line j: prefix s_1..s_j (measured or inferred)
    monotone: Optional[bool] = None  # linear mode: measured results are T..T F..F; None in binary mode


def candidate_prefixes(lines: Sequence[str], skip_neutral: bool = True) -> list[int]:
    """Prefix lengths in 1..M-1 that the search may check, increasing."""
    return [m for m in range(1, len(lines)) if not (skip_neutral and is_neutral_line(lines[m - 1]))]


class _BinarySearch:
    """Interval state of one response's binary search over its candidate prefixes."""

    def __init__(self, candidates: list[int]):
        self.candidates = candidates
        self.lo = -1  # index of the largest candidate known completable; -1: none (m* = 0)
        self.hi = len(candidates)  # index of the smallest known not completable; len: the full response

    def next_prefix(self) -> Optional[int]:
        if self.hi - self.lo <= 1:
            return None
        return self.candidates[(self.lo + self.hi) // 2]

    def record(self, m: int, ok: bool) -> None:
        mid = (self.lo + self.hi) // 2
        assert self.candidates[mid] == m, "answers must follow the order of the requests"
        if ok:
            self.lo = mid
        else:
            self.hi = mid

    def inferred_results(self) -> dict[int, bool]:
        """Every candidate's completability under the monotonicity assumption."""
        return {m: i <= self.lo for i, m in enumerate(self.candidates)}


def _expand_to_lines(n_lines: int, results: dict[int, bool]) -> list[bool]:
    """Completability of every prefix length 1..M from the candidates' results.

    The full response (m = M) is known not completable. A non-candidate length inherits from the
    nearest candidate before it, or, when none, from the nearest boundary after it.
    """
    comp: list[Optional[bool]] = [None] * (n_lines + 1)  # index m = prefix length; comp[0] unused
    comp[n_lines] = False
    last: Optional[bool] = None
    for m in range(1, n_lines):
        if m in results:
            last = results[m]
        comp[m] = last
    following = comp[n_lines]
    for m in range(n_lines - 1, 0, -1):
        if comp[m] is None:  # only neutral lines before the first candidate are still unknown
            comp[m] = following
        following = comp[m]
    return [bool(c) for c in comp[1:]]


def _is_monotone(values: Iterable[bool]) -> bool:
    seen_false = False
    for v in values:
        if v and seen_false:
            return False
        seen_false = seen_false or not v
    return True


def _line_labels(lines: Sequence[str], completable: Sequence[bool], neutral_label: bool) -> list[int]:
    return [0 if neutral_label and is_neutral_line(line) else (1 if ok else -1) for line, ok in zip(lines, completable)]


def _result(item: SearchItem, completable: list[bool], checks: list[tuple[int, bool]], monotone: Optional[bool],
            neutral_label: bool) -> LabelResult:
    if item.passed:
        first_error, category, m_star = None, "correct", len(item.lines)
    else:
        first_error = next((j for j, ok in enumerate(completable) if not ok), None)
        category = "revised" if any(completable) else "wrong"
        m_star = first_error if first_error is not None else 0
    return LabelResult(
        response_index=item.response_index,
        labels=_line_labels(item.lines, completable, neutral_label),
        first_error_line=first_error,
        category=category,
        m_star=m_star,
        n_prefix_checks=len(checks),
        checks=checks,
        completable=completable,
        monotone=monotone,
    )


def _ask(check: CheckFn, requests: list[tuple[int, int]]) -> list[bool]:
    answers = list(check(list(requests)))
    if len(answers) != len(requests):
        raise ValueError(f"check returned {len(answers)} answers for {len(requests)} requests")
    return [bool(a) for a in answers]


def label_responses(items: Sequence[SearchItem], check: CheckFn, *, search: str = "binary",
                    neutral_label: bool = True, skip_neutral: bool = True) -> list[LabelResult]:
    """Label every line of every response; returns one ``LabelResult`` per item, in order.

    ``check`` is called once per round with ``(response_index, m)`` requests (never empty) and must
    return one bool per request, in the same order.
    """
    if search not in SEARCH_MODES:
        raise ValueError(f"unknown search mode {search!r}; valid: {', '.join(SEARCH_MODES)}")
    indices = [it.response_index for it in items]
    if len(set(indices)) != len(indices):
        raise ValueError("response_index values must be unique across items")

    failing = {it.response_index: candidate_prefixes(it.lines, skip_neutral) for it in items if not it.passed}
    checks: dict[int, list[tuple[int, bool]]] = {i: [] for i in failing}

    if search == "linear":
        requests = [(i, m) for i, cands in failing.items() for m in cands]
        answers = _ask(check, requests) if requests else []
        for (i, m), ok in zip(requests, answers):
            checks[i].append((m, ok))
        results = {i: dict(checks[i]) for i in failing}
    else:
        searches = {i: _BinarySearch(cands) for i, cands in failing.items()}
        while True:
            requests = [(i, m) for i, s in searches.items() if (m := s.next_prefix()) is not None]
            if not requests:
                break
            for (i, m), ok in zip(requests, _ask(check, requests)):
                searches[i].record(m, ok)
                checks[i].append((m, ok))
        results = {i: s.inferred_results() for i, s in searches.items()}

    out = []
    for it in items:
        if it.passed:
            completable = [True] * len(it.lines)
            out.append(_result(it, completable, [], True if search == "linear" else None, neutral_label))
            continue
        i = it.response_index
        completable = _expand_to_lines(len(it.lines), results[i])
        monotone = _is_monotone(ok for _, ok in checks[i]) if search == "linear" else None
        out.append(_result(it, completable, checks[i], monotone, neutral_label))
    return out


# ---------------------------------------------------------------------------------------------
# Prompt categories


def prompt_categories(records: Iterable) -> dict[str, str]:
    """``problem_id -> easy | medium | hard`` from the responses' categories, pooled over checkpoints.

    easy: every response correct; hard: every response wrong; medium: anything else (including a
    prompt whose responses are all revised). Records need ``problem_id`` and ``category``.
    """
    seen: dict[str, set[str]] = defaultdict(set)
    for r in records:
        if r.category not in RESPONSE_CATEGORIES:
            raise ValueError(f"response category {r.category!r} of {r.problem_id!r} not in {RESPONSE_CATEGORIES}")
        seen[r.problem_id].add(r.category)
    return {pid: "easy" if cats == {"correct"} else "hard" if cats == {"wrong"} else "medium"
            for pid, cats in seen.items()}


def assign_prompt_categories(records: Sequence[LabeledResponse]) -> list[LabeledResponse]:
    """Copies of ``records`` with ``prompt_category`` filled from all of them (call on the full set)."""
    cats = prompt_categories(records)
    return [dataclasses.replace(r, prompt_category=cats[r.problem_id]) for r in records]
