"""analysis.compare: paired comparisons from a run table, checked against hand-computed t intervals."""
import math

import pandas as pd
import pytest

from analysis import compare


def _table(tmp_path, rows):
    path = tmp_path / "runs.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _rows():
    # reference 0.10 / 0.11 / 0.12, condition 0.12 / 0.13 / 0.15: paired differences 2, 2, 3 points
    ref = [0.10, 0.11, 0.12]
    cond = [0.12, 0.13, 0.15]
    out = [{"strategy": "full", "seed": s, "eval/pass@1": v, "cfg.algo.name": "ppo"} for s, v in enumerate(ref)]
    out += [{"strategy": "revised_only", "seed": s, "eval/pass@1": v, "cfg.algo.name": "ppo"} for s, v in enumerate(cond)]
    out += [{"strategy": "full", "seed": 0, "eval/pass@1": 0.9, "cfg.algo.name": "grpo"}]  # filtered out by --where
    return out


def test_paired_interval_and_verdict_match_a_hand_computation(tmp_path, capsys):
    path = _table(tmp_path, _rows())
    code = compare.main([str(path), "--factor", "strategy", "--ref", "full", "--where", "cfg.algo.name=ppo"])
    assert code == 0
    out = capsys.readouterr().out
    # d = 2, 2, 3: mean 2.333, sd 0.5774, t(0.975, 2) = 4.3027, half-width 4.3027 * 0.5774 / sqrt(3) = 1.434
    half = 4.302652729911275 * math.sqrt(1 / 3) / math.sqrt(3)
    assert (round(7 / 3 - half, 1), round(7 / 3 + half, 1)) == (0.9, 3.8)
    assert "| revised_only | 3 | 13.3 [9.5, 17.1] | +2.3 [+0.9, +3.8] |" in out and "resolved" in out
    assert "12.00 / 13.00 / 15.00" in out  # per-seed values in points
    assert "| full | 3 | 11.0 [8.5, 13.5] | (ref) |" in out  # 11 ± 4.3027 * 1 / sqrt(3)


def test_table_rows_carry_the_numbers(tmp_path):
    runs = compare.select(compare.load_rows([str(_table(tmp_path, _rows()))]), ["cfg.algo.name=ppo"])
    t = compare.comparisons(runs, ["strategy"], ["full"], "eval/pass@1")
    row = t[t["level"] == "revised_only"].iloc[0]
    assert row["mean"] == pytest.approx(100 * (0.12 + 0.13 + 0.15) / 3)
    assert row["verdict"] == "resolved" and row["n_pairs"] == 3


@pytest.mark.parametrize("argv,needle", [
    (["--factor", "strategyy", "--ref", "full"], "--factor 'strategyy': no such column"),
    (["--factor", "strategy", "--ref", "none"], "--ref 'none': no run at this level"),
    (["--factor", "strategy", "--ref", "full", "--where", "algo"], "expected COL=VALUE"),
    (["--factor", "strategy", "--ref", "full", "--metric", "eval/pass@2"], "--metric 'eval/pass@2'"),
])
def test_bad_input_exits_2_naming_it(tmp_path, capsys, argv, needle):
    assert compare.main([str(_table(tmp_path, _rows())), *argv]) == 2
    assert needle in capsys.readouterr().err


def test_missing_source_exits_2(tmp_path, capsys):
    assert compare.main([str(tmp_path / "nope"), "--factor", "strategy", "--ref", "full"]) == 2
    assert "no such sweep dir or run table" in capsys.readouterr().err


def test_against_pairs_two_figures_of_the_same_runs(tmp_path, capsys):
    # per seed a - b = 0.1, 0.2, 0.3: mean 0.2, sd 0.1, half-width 4.3027 * 0.1 / sqrt(3) = 0.248
    rows = [{"seed": s, "a": a, "b": b} for s, (a, b) in enumerate([(0.6, 0.5), (0.7, 0.5), (0.8, 0.5)])]
    assert compare.main([str(_table(tmp_path, rows)), "--metric", "a", "--against", "b"]) == 0
    out = capsys.readouterr().out
    assert "| a | 3 | 0.700 [0.452, 0.948] | +0.200 [-0.048, +0.448] |" in out and "unresolved" in out


def test_against_and_factor_exclude_each_other(tmp_path):
    with pytest.raises(SystemExit) as e:
        compare.main([str(_table(tmp_path, _rows())), "--factor", "strategy", "--ref", "full", "--against", "x"])
    assert e.value.code == 2
