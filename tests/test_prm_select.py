"""PRM data selection strategies (prmlab.prm.select) on a hand-built labelled dataset."""
import dataclasses

import pytest

from prmlab.prm.label import assign_prompt_categories
from prmlab.prm.data import category_counts
from prmlab.prm.select import STRATEGIES, select
from prmlab.types import LabeledResponse

LABELS = {"correct": [1, 0, 1], "revised": [1, 0, -1], "wrong": [-1, 0, -1]}


def rec(pid, category, checkpoint=0):
    return LabeledResponse(problem_id=pid, checkpoint=checkpoint, response="a = 1\n# c\nreturn a\n",
                           lines=["a = 1", "# c", "return a"], labels=LABELS[category],
                           first_error_line=None if category == "correct" else (2 if category == "revised" else 0),
                           category=category, n_prefix_checks=0 if category == "correct" else 2,
                           n_completions=0 if category == "correct" else 8)


# (problem, category, checkpoint); prompt categories: easy, hard, medium x 4 (mixed across checkpoints for "mix")
DATA = [
    ("easy", "correct", 0), ("easy", "correct", 1),
    ("hard", "wrong", 0), ("hard", "wrong", 1),
    ("cw", "correct", 0), ("cw", "wrong", 0),
    ("rw", "revised", 0), ("rw", "wrong", 1),
    ("rr", "revised", 0), ("rr", "revised", 1),
    ("mix", "correct", 0), ("mix", "wrong", 3),
]


@pytest.fixture
def records():
    return assign_prompt_categories([rec(*row) for row in DATA])


def keys(records):
    return [(r.problem_id, r.category, r.checkpoint) for r in records]


def test_prompt_categories_of_the_fixture(records):
    assert {r.problem_id: r.prompt_category for r in records} == {
        "easy": "easy", "hard": "hard", "cw": "medium", "rw": "medium", "rr": "medium", "mix": "medium"}


def test_full_keeps_everything(records):
    assert keys(select(records, "full")) == DATA


def test_remove_hard_drops_only_hard_prompts(records):
    assert keys(select(records, "remove_hard")) == DATA[:2] + DATA[4:]


def test_medium_only_keeps_mixed_prompts(records):
    assert keys(select(records, "medium_only")) == DATA[4:]


def test_revised_only_keeps_revised_responses(records):
    assert keys(select(records, "revised_only")) == [("rw", "revised", 0), ("rr", "revised", 0), ("rr", "revised", 1)]
    assert set(keys(select(records, "revised_only"))) <= set(keys(select(records, "medium_only")))


def test_unknown_strategy_lists_valid_names(records):
    with pytest.raises(ValueError, match="full, remove_hard, medium_only, revised_only"):
        select(records, "hard_only")
    assert STRATEGIES == ("full", "remove_hard", "medium_only", "revised_only")


def test_prompt_strategies_need_assigned_prompt_categories():
    raw = [rec(*row) for row in DATA]
    for strategy in ("remove_hard", "medium_only"):
        with pytest.raises(ValueError, match="assign_prompt_categories"):
            select(raw, strategy)
    assert len(select(raw, "full")) == 12 and len(select(raw, "revised_only")) == 3


def test_category_counts(records):
    counts = category_counts(records)
    assert counts == {
        "prm/n_responses": 12, "prm/n_correct": 4, "prm/n_revised": 3, "prm/n_wrong": 5,
        "prm/n_prompts": 6, "prm/n_easy_prompts": 1, "prm/n_medium_prompts": 4, "prm/n_hard_prompts": 1,
        "prm/n_lines": 36, "prm/n_pos_labels": 4 * 2 + 3, "prm/n_neg_labels": 3 + 5 * 2, "prm/n_neutral_labels": 12,
        "prm/n_prefix_checks": 16, "prm/n_completions": 64, "prm/n_executions": 0, "prm/generated_tokens": 0,
    }
    # after selection, prompts keep the category they had in the whole set
    kept = category_counts(select(records, "revised_only"), prefix="sel/")
    assert kept["sel/n_prompts"] == 2 and kept["sel/n_medium_prompts"] == 2 and kept["sel/n_revised"] == 3
    # unassigned categories are computed from the records given
    raw = [dataclasses.replace(r, prompt_category="") for r in records]
    assert category_counts(raw)["prm/n_medium_prompts"] == 4


def _select_stage(tmp_path, records, strategy, fallback="unset"):
    """Run the prm_select stage function on ``records`` as the pipeline would (ctx.cfg = its reads)."""
    from types import SimpleNamespace

    from omegaconf import OmegaConf

    from prmlab.layout import LABELS_FILE
    from prmlab.prm.data import read_labeled_jsonl, write_labeled_jsonl
    from prmlab.prm.select import prm_select_stage

    (tmp_path / "in").mkdir(parents=True)
    (tmp_path / "out").mkdir()
    write_labeled_jsonl(tmp_path / "in" / LABELS_FILE, records)
    cfg = {"strategy": {"name": strategy}}
    if fallback != "unset":
        cfg["prm"] = {"empty_selection": fallback}
    ctx = SimpleNamespace(cfg=OmegaConf.create(cfg), inputs={"prm_collect": tmp_path / "in"}, out=tmp_path / "out",
                          tracker=SimpleNamespace(log=lambda *a, **k: None))
    summary = prm_select_stage(ctx)
    return summary, read_labeled_jsonl(tmp_path / "out" / LABELS_FILE)


def test_select_stage_stops_on_an_empty_selection_unless_told_to_keep_all(tmp_path):
    from prmlab.errors import PrmlabError

    hard_only = assign_prompt_categories([rec("h1", "wrong"), rec("h2", "wrong", 1)])
    with pytest.raises(PrmlabError, match="strategy=revised_only: selected 0 of 2"):
        _select_stage(tmp_path / "a", hard_only, "revised_only")
    # the smoke-size wiring check: keep everything, and say so in the records
    summary, kept = _select_stage(tmp_path / "b", hard_only, "revised_only", "full")
    assert len(kept) == 2 and summary["prm_select/fallback_full"] == 1 and summary["prm_select/n_responses"] == 2
    with pytest.raises(PrmlabError, match="prm.empty_selection='all': expected null"):
        _select_stage(tmp_path / "c", hard_only, "revised_only", "all")


def test_select_stage_fallback_changes_nothing_when_the_strategy_selects(tmp_path, records):
    summary, kept = _select_stage(tmp_path, records, "revised_only", "full")
    assert keys(kept) == keys(select(records, "revised_only")) and summary["prm_select/fallback_full"] == 0
