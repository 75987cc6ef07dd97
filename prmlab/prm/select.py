"""PRM data selection strategies (PRM paper, Table 2) and the category counts logged with them.

Strategies, exactly as SPEC.md section A names them:

- ``full``: every collected response.
- ``remove_hard``: drop every response of a Hard prompt (all of its responses Wrong).
- ``medium_only``: keep only responses of Medium prompts (mixed categories).
- ``revised_only``: keep only Revised responses (failing, but some prefix is completable); the best
  strategy in the paper. A Revised response always belongs to a Medium prompt, so this is a subset
  of ``medium_only``.

Prompt-level strategies read each record's ``prompt_category``, which must have been filled over
the *whole* collected set (``prmlab.prm.label.assign_prompt_categories``): recomputing it from an
already filtered list would miscategorise prompts, so a missing value is an error, not a guess.
Selection keeps the input order.
"""
from __future__ import annotations

import logging
from collections import Counter
from typing import Sequence

from omegaconf import OmegaConf

from prmlab.prm.label import prompt_categories
from prmlab.types import PROMPT_CATEGORIES, RESPONSE_CATEGORIES, LabeledResponse

log = logging.getLogger(__name__)

STRATEGIES: tuple[str, ...] = ("full", "remove_hard", "medium_only", "revised_only")


def _require_prompt_categories(records: Sequence[LabeledResponse]) -> None:
    for r in records:
        if r.prompt_category not in PROMPT_CATEGORIES:
            raise ValueError(
                f"record of problem {r.problem_id!r} has prompt_category {r.prompt_category!r}; fill it over the "
                "whole collected set with prmlab.prm.label.assign_prompt_categories before selecting"
            )


def select(records: Sequence[LabeledResponse], strategy: str) -> list[LabeledResponse]:
    """The records that ``strategy`` keeps, in input order."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown data selection strategy {strategy!r}; valid: {', '.join(STRATEGIES)}")
    if strategy == "full":
        return list(records)
    if strategy == "revised_only":
        return [r for r in records if r.category == "revised"]
    _require_prompt_categories(records)
    if strategy == "remove_hard":
        return [r for r in records if r.prompt_category != "hard"]
    return [r for r in records if r.prompt_category == "medium"]  # medium_only


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


def prm_select_stage(ctx) -> dict:
    """The ``prm_select`` stage: keep what ``strategy.name`` selects from the collected labels. An
    empty selection is an error, unless ``prm.empty_selection=full`` (smoke-size wiring checks) keeps
    everything instead and flags it."""
    from prmlab.errors import PrmlabError
    from prmlab.prm.collect import LABELS_FILE
    from prmlab.prm.label import read_labeled_jsonl, write_labeled_jsonl

    fallback = OmegaConf.select(ctx.cfg, "prm.empty_selection", default=None)
    if fallback not in (None, "full"):
        raise PrmlabError(f"prm.empty_selection={fallback!r}: expected null (stop with an error) or 'full'")
    records = read_labeled_jsonl(ctx.inputs["data"] / LABELS_FILE)
    kept = select(records, ctx.cfg.strategy.name)
    if not kept and fallback is None:
        raise PrmlabError(
            f"strategy={ctx.cfg.strategy.name}: selected 0 of {len(records)} labelled responses "
            f"({category_counts(records)}); collect more PRM data (prm.samples_per_prompt, prm.max_prompts)")
    used_fallback = not kept
    if used_fallback:
        log.warning("strategy=%s selected none of %d labelled responses: keeping all of them "
                    "(prm.empty_selection=full; a wiring check, not the strategy)", ctx.cfg.strategy.name, len(records))
        kept = list(records)
    write_labeled_jsonl(ctx.out / LABELS_FILE, kept)
    counts = category_counts(kept, prefix="prm_select/")
    counts["prm_select/fallback_full"] = int(used_fallback)
    ctx.tracker.log(counts, step=0)
    return counts
