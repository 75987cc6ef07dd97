"""benchmarks/eval_tiers.py: pass@1 by tier (the long tier apart), by hand, and its bad-input errors."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import eval_tiers  # noqa: E402

from prmlab.types import Problem  # noqa: E402


def _problem(pid, difficulty, category, tier=None):
    return Problem(id=pid, prompt="", tests=[], entry_point="f", difficulty=difficulty, category=category,
                   meta={"tier": tier} if tier else {})


def test_tier_table_by_hand():
    problems = {"e": _problem("e", "easy", "contest"), "h": _problem("h", "hard", "nl2alg"),
                "l": _problem("l", "hard", "nl2alg", tier="long")}
    samples = ([{"problem_id": "e", "all_passed": p, "n_tokens": 20} for p in (1, 1, 0, 0)]  # 1/2
               + [{"problem_id": "h", "all_passed": p, "n_tokens": 90} for p in (1, 0, 0, 0)]  # 1/4
               + [{"problem_id": "l", "all_passed": 0, "n_tokens": t} for t in (100, 150, 99, 200)])  # 0
    t = eval_tiers.tier_table(samples, problems, long_tokens=100)
    assert t["easy"] == 0.5 and t["hard"] == 0.25 and t["long"] == 0.0 and "medium" not in t
    assert t["all"] == pytest.approx(0.75 / 3) and t["nl2alg"] == 0.125 and t["contest"] == 0.5
    assert t["long_share"] == 3 / 12 and t["mean_tokens"] == pytest.approx((80 + 360 + 549) / 12)


def test_bad_inputs_exit_2_naming_what_was_expected(tmp_path):
    run = lambda *a: subprocess.run([sys.executable, str(ROOT / "benchmarks" / "eval_tiers.py"), *map(str, a)],  # noqa: E731
                                    capture_output=True, text=True)
    r = run(tmp_path / "nowhere")
    assert r.returncode == 2 and "neither an eval cache entry" in r.stderr
    entry = tmp_path / "eval" / "k"
    entry.mkdir(parents=True)
    (entry / "manifest.json").write_text(json.dumps({"stage": "eval", "inputs": {}, "fields": {"eval": {"split": "test"}}}))
    (entry / "samples.jsonl").write_text('{"problem_id": "a"}\n')
    r = run(entry)
    assert r.returncode == 2 and "samples.jsonl:1: expected a sample record" in r.stderr
