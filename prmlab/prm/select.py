"""The ``prm_select`` stage: the PRM paper's data selection strategies (its Table 2).

The strategies, with the paper's names:

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
from typing import Sequence

from omegaconf import OmegaConf

from prmlab.errors import PrmlabError
from prmlab.prm.data import LABELS_FILE, category_counts, read_labeled_jsonl, write_labeled_jsonl
from prmlab.types import PROMPT_CATEGORIES, LabeledResponse

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


def prm_select_stage(ctx) -> dict:
    """The ``prm_select`` stage: keep what ``strategy.name`` selects from the collected labels. An
    empty selection is an error, unless ``prm.empty_selection=full`` (smoke-size wiring checks) keeps
    everything instead and flags it."""
    fallback = OmegaConf.select(ctx.cfg, "prm.empty_selection", default=None)
    if fallback not in (None, "full"):
        raise PrmlabError(f"prm.empty_selection={fallback!r}: expected null (stop with an error) or 'full'")
    records = read_labeled_jsonl(ctx.inputs["prm_collect"] / LABELS_FILE)
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
