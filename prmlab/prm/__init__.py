"""Process reward model: line labelling by binary search (``label``), data selection (``select``)."""
from prmlab.prm.label import (
    SEARCH_MODES,
    LabelResult,
    SearchItem,
    assign_prompt_categories,
    candidate_prefixes,
    is_neutral_line,
    label_responses,
    max_binary_checks,
    prefix_text,
    prompt_categories,
    read_labeled_jsonl,
    write_labeled_jsonl,
)
from prmlab.prm.select import STRATEGIES, category_counts, select

__all__ = [
    "SEARCH_MODES", "STRATEGIES", "LabelResult", "SearchItem", "assign_prompt_categories", "candidate_prefixes",
    "category_counts", "is_neutral_line", "label_responses", "max_binary_checks", "prefix_text",
    "prompt_categories", "read_labeled_jsonl", "select", "write_labeled_jsonl",
]
