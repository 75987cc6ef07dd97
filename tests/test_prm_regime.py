"""benchmarks/prm_regime.py: the regime figures of a PRM collection, by hand on built records."""
from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

from prmlab.prm.data import write_labeled_jsonl
from prmlab.prm.label import assign_prompt_categories
from prmlab.tasks import write_problems
from prmlab.tasks.synthetic import generate_suite, tier_of
from prmlab.types import LabeledResponse

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "prm_regime.py"
_spec = importlib.util.spec_from_file_location("prm_regime", SCRIPT)
prm_regime = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(prm_regime)


def _rec(pid: str, category: str, n_lines: int, m_star: int) -> LabeledResponse:
    labels = [1] * n_lines if category == "correct" else [1] * m_star + [-1] * (n_lines - m_star)
    return LabeledResponse(problem_id=pid, checkpoint=0, response="", lines=["x = 1"] * n_lines, labels=labels,
                           first_error_line=None if category == "correct" else m_star, category=category,
                           m_star=m_star)


def _suite():
    problems = generate_suite(0, n_train=8, n_val=0, n_test=0, long_share=0.5)
    long = next(p for p in problems if tier_of(p) == "long")
    short = next(p for p in problems if tier_of(p) != "long")
    return {p.id: p for p in (long, short)}, long.id, short.id


def _records(long_id: str, short_id: str) -> list[LabeledResponse]:
    # short prompt: one pass, one revised at 2 of 8 lines, one revised at 6 of 8, one wrong -> Medium
    # long prompt: two wrong -> Hard (every response Wrong)
    return assign_prompt_categories([
        _rec(short_id, "correct", 8, 8), _rec(short_id, "revised", 8, 2), _rec(short_id, "revised", 8, 6),
        _rec(short_id, "wrong", 8, 0), _rec(long_id, "wrong", 20, 0), _rec(long_id, "wrong", 20, 0)])


def test_regime_figures_by_hand():
    problems, long_id, short_id = _suite()
    rows = prm_regime.slices(_records(long_id, short_id), problems)
    everything = rows["all"]
    assert everything["responses"] == 6 and everything["failing"] == 5
    assert math.isclose(everything["pass_pct"], 100 / 6)
    assert math.isclose(everything["revised_pct"], 40.0)  # 2 of 5 failing
    assert math.isclose(everything["mstar_positive_pct"], 40.0)
    assert (everything["prompts_easy"], everything["prompts_medium"], everything["prompts_hard"]) == (0, 1, 1)
    assert math.isclose(everything["failing_on_hard_pct"], 40.0)  # the long prompt's 2 of 5
    assert math.isclose(everything["first_error_position"], (2 / 8 + 6 / 8) / 2)
    assert math.isclose(everything["progress_floor_pct"], 60.0)  # 3 of 5 failing have m* = 0
    # pass rates 0 everywhere (the records' default): a constant input has no rank correlation
    assert math.isnan(everything["calibration_rho"])
    long_row = rows["long"]
    assert long_row["failing"] == 2 and long_row["revised_pct"] == 0.0 and long_row["failing_on_hard_pct"] == 100.0
    assert math.isnan(long_row["first_error_position"])  # no revised response: no position
    short_tier = tier_of(problems[short_id])
    assert math.isclose(rows[short_tier]["revised_pct"], 100 * 2 / 3)
    assert set(rows) == {"all", "long", short_tier, *{p.category for p in problems.values()},
                         *{f"{tier_of(p)}/{p.category}" for p in problems.values()}}


def test_reference_prefix_by_hand():
    problems, long_id, _ = _suite()
    ref = problems[long_id].reference.rstrip("\n").split("\n")
    right_then_wrong = _rec(long_id, "wrong", 5, 0)
    right_then_wrong.lines = ref[:2] + ["    oops = 0"] + ref[3:5]
    assert prm_regime.reference_prefix_lines(right_then_wrong, problems[long_id].reference) == 2
    assert prm_regime.reference_prefix_lines(right_then_wrong, None) is None
    row = prm_regime.regime([right_then_wrong, _rec(long_id, "wrong", 5, 0)], problems)
    assert row["reference_prefix_pct"] == 50.0 and row["reference_prefix_lines"] == 1.0  # median of 2 and 0
    assert math.isnan(prm_regime.regime([right_then_wrong])["reference_prefix_pct"])  # no problems given


def _entry(tmp_path: Path, problems: dict, records: list) -> Path:
    tasks = tmp_path / "cache" / "tasks" / "k1"
    tasks.mkdir(parents=True)
    write_problems(list(problems.values()), tasks / "problems.jsonl")
    entry = tmp_path / "cache" / "prm_collect" / "k2"
    entry.mkdir(parents=True)
    write_labeled_jsonl(entry / "labels.jsonl", records)
    # the manifest names the input by a path that no longer exists (a cache copied elsewhere)
    (entry / "manifest.json").write_text(json.dumps({"inputs": {"tasks": "/elsewhere/tasks/k1"}}))
    return entry


def test_cli_prints_the_table_and_refuses_a_non_entry(tmp_path):
    problems, long_id, short_id = _suite()
    entry = _entry(tmp_path, problems, _records(long_id, short_id))
    out = subprocess.run([sys.executable, str(SCRIPT), str(entry)], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    first = next(line for line in out.stdout.splitlines() if line.startswith("all "))
    # no failing response starts like its reference ("x = 1" lines): refP% 0, refL 0
    assert first.split() == ["all", "6", "16.7", "5", "40.0", "40.0", "2", "0", "1", "1", "40.0", "0.50", "0.0", "0.0", "nan", "60.0"]
    # two entries (one per seed, here the same one twice): each 'all' row, then their mean and t interval
    two = subprocess.run([sys.executable, str(SCRIPT), str(entry), str(entry)], capture_output=True, text=True,
                         cwd=tmp_path)
    assert two.returncode == 0, two.stderr
    assert [line.split()[0] for line in two.stdout.splitlines()[1:3]] == ["k2", "k2"]
    assert "rev%: 40.000 [40.000, 40.000] (mean [95% t interval] over 2 entries)" in two.stdout
    bad = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True)
    assert bad.returncode == 2 and "expected a prm_collect cache entry" in bad.stderr
    (entry / "manifest.json").unlink()
    no_manifest = subprocess.run([sys.executable, str(SCRIPT), str(entry)], capture_output=True, text=True)
    assert no_manifest.returncode == 2 and "manifest.json" in no_manifest.stderr and "Traceback" not in no_manifest.stderr


def test_cli_names_a_malformed_labels_line(tmp_path):
    problems, long_id, short_id = _suite()
    entry = _entry(tmp_path, problems, _records(long_id, short_id))
    with open(entry / "labels.jsonl", "a") as f:
        f.write("{not json\n")
    out = subprocess.run([sys.executable, str(SCRIPT), str(entry)], capture_output=True, text=True)
    assert out.returncode == 2 and "labels.jsonl" in out.stderr and "Traceback" not in out.stderr
    assert ":7" in out.stderr or "line 7" in out.stderr, out.stderr  # the 7th line is the bad one


def test_calibration_rho_against_a_hand_ranking():
    """Spearman's rho of pass rate vs m*/M over failing responses, by hand: progress 0, 2/8, 6/8 with
    pass rates 0.5, 0.1, 0.9 ranks (2, 1, 3) against (1, 2, 3): rho = 1 - 6*(1+1+0)/(3*8) = 0.5."""
    problems, long_id, short_id = _suite()
    recs = [_rec(short_id, "wrong", 8, 0), _rec(short_id, "revised", 8, 2), _rec(short_id, "revised", 8, 6),
            _rec(short_id, "correct", 8, 8)]
    for r, rate in zip(recs, (0.5, 0.1, 0.9, 1.0)):
        r.pass_rate = rate
    row = prm_regime.regime(recs)
    assert math.isclose(row["calibration_rho"], 0.5) and math.isclose(row["progress_floor_pct"], 100 / 3)
