"""The labelled-data file that prm_collect writes and prm_select / prm_train / the gradient
analyses read: ``labels.jsonl``, one ``prmlab.types.LabeledResponse`` per line, plus the counts
logged about a set of records.

Dataset schema (JSONL, one ``LabeledResponse`` per line, ``dataclasses.asdict`` order)
-----------------------------------------------------------------------------------------
===================  =========================  ==============================================
field                type                       meaning
===================  =========================  ==============================================
problem_id           str                        the prompt's ``Problem.id``
checkpoint           int                        index of the sampling checkpoint (0..C-1)
response             str                        the response text
lines                list[str]                  ``split_lines(response)``
labels               list[int] (-1, 0, +1)      one per line: +1 completable prefix, -1 after
                                                the first error, 0 neutral (comment/blank)
first_error_line     int | null                 0-based first line marked not completable;
                                                null when correct
category             str                        correct | revised | wrong
prompt_category      str                        easy | medium | hard ("" before assignment)
n_prefix_checks      int                        prefix checks spent on this response
n_completions        int                        completions sampled (checks x K)
n_executions         int                        sandbox executions (<= completions)
generated_tokens     int                        tokens generated for the completions
pass_rate            float in [0, 1]            the response's own test pass rate
difficulty           str                        the problem's difficulty label
m_star               int                        leading completable lines found (-1: not
                                                searched)
monotone             bool | null                linear search: results were T..T F..F
completable          list[bool]                 per line: the prefix ending there is
                                                completable (measured or inferred)
===================  =========================  ==============================================

``read_labeled_jsonl`` validates every field and raises ``ValueError`` naming the file, the line
number and what the field must be.

``read_labeled_jsonl`` validates every field and raises ``ValueError`` naming the file, the line
number and what the field must be.
"""
from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable, Sequence

from prmlab.prm.label import prompt_categories
from prmlab.types import PROMPT_CATEGORIES, RESPONSE_CATEGORIES, LabeledResponse

LABELS_FILE = "labels.jsonl"


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_count(v) -> bool:
    return _is_int(v) and v >= 0


# field -> (validator, what it must be); fields added to LabeledResponse later pass through unchecked.
_FIELD_RULES: dict[str, tuple[Callable[[object], bool], str]] = {
    "problem_id": (lambda v: isinstance(v, str), "a string"),
    "checkpoint": (_is_int, "an integer"),
    "response": (lambda v: isinstance(v, str), "a string"),
    "lines": (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of strings"),
    "labels": (lambda v: isinstance(v, list) and all(_is_int(x) and x in (-1, 0, 1) for x in v),
               "a list of -1/0/1 integers"),
    "first_error_line": (lambda v: v is None or _is_count(v), "null or a non-negative integer"),
    "category": (lambda v: v in RESPONSE_CATEGORIES, f"one of {', '.join(RESPONSE_CATEGORIES)}"),
    "prompt_category": (lambda v: v == "" or v in PROMPT_CATEGORIES, f"\"\" or one of {', '.join(PROMPT_CATEGORIES)}"),
    "n_prefix_checks": (_is_count, "a non-negative integer"),
    "n_completions": (_is_count, "a non-negative integer"),
    "n_executions": (_is_count, "a non-negative integer"),
    "generated_tokens": (_is_count, "a non-negative integer"),
    "pass_rate": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v <= 1.0,
                  "a number in [0, 1]"),
    "difficulty": (lambda v: isinstance(v, str), "a string"),
}


def write_labeled_jsonl(path: str | Path, records: Iterable[LabeledResponse]) -> int:
    """Write records as JSONL (schema in the module docstring); returns the number written."""
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(dataclasses.asdict(r), ensure_ascii=False) + "\n")
            n += 1
    return n


def _parse_record(obj, where: str) -> LabeledResponse:
    fields = {f.name: f for f in dataclasses.fields(LabeledResponse)}
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: expected a JSON object with fields {', '.join(fields)}")
    unknown = sorted(set(obj) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {unknown}; expected fields {', '.join(fields)}")
    for name, f in fields.items():
        rule, what = _FIELD_RULES.get(name, (lambda v: True, "any value"))
        if name not in obj:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ValueError(f"{where}: missing field '{name}' (expected {what})")
            continue
        if not rule(obj[name]):
            raise ValueError(f"{where}: field '{name}' expected {what}, got {obj[name]!r:.80}")
    if len(obj["labels"]) != len(obj["lines"]):
        raise ValueError(f"{where}: field 'labels' expected one label per line "
                         f"({len(obj['lines'])} lines, {len(obj['labels'])} labels)")
    return LabeledResponse(**obj)


def read_labeled_jsonl(path: str | Path) -> list[LabeledResponse]:
    """Read a labelled dataset; a malformed line raises ValueError naming file, line and field."""
    records = []
    with open(path, encoding="utf-8") as f:
        for lineno, text in enumerate(f, start=1):
            if not text.strip():
                continue
            where = f"{path}, line {lineno}"
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as e:
                raise ValueError(f"{where}: not valid JSON ({e.msg}); expected one LabeledResponse object per line") from e
            records.append(_parse_record(obj, where))
    return records


def category_counts(records: Sequence[LabeledResponse], prefix: str = "prm/") -> dict[str, int]:
    """Counts of responses, prompts, labels and labelling cost, named for the ``prm/`` namespace.

    Keys: ``n_responses``, ``n_correct|revised|wrong``, ``n_prompts``,
    ``n_easy|medium|hard_prompts`` (distinct prompts by their stored category, or by the category
    computed from ``records`` where none is stored), ``n_lines``, ``n_pos|neg|neutral_labels``,
    ``n_prefix_checks``, ``n_completions``, ``n_executions``, ``generated_tokens`` (totals).
    """
    by_response = Counter(r.category for r in records)
    stored = {r.problem_id: r.prompt_category for r in records}
    if any(c not in PROMPT_CATEGORIES for c in stored.values()):
        stored = prompt_categories(records)
    by_prompt = Counter(stored.values())
    labels = Counter(lab for r in records for lab in r.labels)

    counts = {"n_responses": len(records)}
    counts.update({f"n_{c}": by_response[c] for c in RESPONSE_CATEGORIES})
    counts["n_prompts"] = len(stored)
    counts.update({f"n_{c}_prompts": by_prompt[c] for c in PROMPT_CATEGORIES})
    counts["n_lines"] = sum(len(r.lines) for r in records)
    counts.update({"n_pos_labels": labels[1], "n_neg_labels": labels[-1], "n_neutral_labels": labels[0]})
    for name in ("n_prefix_checks", "n_completions", "n_executions", "generated_tokens"):
        counts[name] = sum(getattr(r, name) for r in records)
    return {prefix + k: v for k, v in counts.items()}
