"""benchmarks/rl_transfer.py: held-out transfer split by how often RL drew each prompt, on built entries."""
from __future__ import annotations

import importlib.util
import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from prmlab.tasks import write_problems
from prmlab.tasks.synthetic import generate_suite

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "rl_transfer.py"
_spec = importlib.util.spec_from_file_location("rl_transfer", SCRIPT)
rl_transfer = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rl_transfer)

STEPS, PER_STEP, N_RL = 3, 2, 6


def _entry(cache: Path, stage: str, key: str, fields: dict, inputs: dict) -> Path:
    d = cache / stage / key
    d.mkdir(parents=True)
    (d / "manifest.json").write_text(json.dumps({"stage": stage, "key": key, "fields": fields,
                                                 "inputs": {k: str(v) for k, v in inputs.items()}}))
    return d


def _samples(entry: Path, passes: dict[str, list[bool]]) -> None:
    with open(entry / "samples.jsonl", "w") as f:
        for pid, outcomes in passes.items():
            for i, ok in enumerate(outcomes):
                f.write(json.dumps({"problem_id": pid, "sample": i, "all_passed": ok}) + "\n")


@pytest.fixture
def cache(tmp_path):
    """tasks, an SFT and an RL policy entry, and both policies' evals on the rl split (seed 0).
    SFT passes 1 of 2 samples everywhere; RL passes 2 of 2 on drawn prompts and 0 of 2 elsewhere."""
    cache = tmp_path / "cache"
    problems = generate_suite(0, n_train=2, n_val=0, n_test=0, n_rl=N_RL)
    tasks = _entry(cache, "tasks", "t", {}, {})
    write_problems(problems, tasks / "problems.jsonl")
    sft = _entry(cache, "sft", "s", {}, {})
    rl = _entry(cache, "rl_baseline", "r", {"seed": 0, "algo": {"steps": STEPS, "prompts_per_step": PER_STEP,
                                                                "oversample": 1}}, {"sft": sft})
    rl_ids = [p.id for p in problems if p.split == "rl"]
    # the draws by hand, independently of prmlab.rl.loop: random.Random(seed * 100003 + step).sample
    drawn = Counter(p for step in range(STEPS) for p in random.Random(step).sample(rl_ids, PER_STEP))
    e_sft = _entry(cache, "eval", "es", {"seed": 0, "eval": {"split": "rl"}}, {"tasks": tasks, "policy": sft})
    _samples(e_sft, {p: [True, False] for p in rl_ids})
    e_rl = _entry(cache, "eval", "er", {"seed": 0, "eval": {"split": "rl"}}, {"tasks": tasks, "policy": rl})
    _samples(e_rl, {p: [drawn[p] > 0] * 2 for p in rl_ids})
    return cache, drawn, rl_ids


def test_exposure_replays_the_runs_draws(cache):
    cache, drawn, rl_ids = cache
    fields = json.loads((cache / "rl_baseline/r/manifest.json").read_text())["fields"]
    seen = rl_transfer.exposure(cache / "tasks/t/problems.jsonl", fields)
    assert seen == drawn and sum(seen.values()) == STEPS * PER_STEP


def test_transfer_figures_by_hand(cache):
    cache, drawn, rl_ids = cache
    rows = rl_transfer.load([cache / "eval/es", cache / "eval/er"])
    assert [r["seed"] for r in rows] == [0]
    fig = rows[0]["figures"]
    n_unseen = sum(drawn[p] == 0 for p in rl_ids)
    assert fig["0"] == (n_unseen, 0.5, 0.0, -0.5)  # never drawn: 1/2 -> 0/2
    for name in ("1", "2", "3+"):
        if name in fig:
            assert fig[name][1:] == (0.5, 1.0, 0.5)  # drawn: 1/2 -> 2/2
    assert fig["all"][0] == N_RL
    assert fig["all"][3] == pytest.approx((N_RL - n_unseen) / N_RL * 0.5 - n_unseen / N_RL * 0.5)


def _run(*paths):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, paths)], capture_output=True, text=True, timeout=120)


def test_command_prints_the_buckets(cache):
    cache, _, _ = cache
    r = _run(cache / "eval/es", cache / "eval/er")
    assert r.returncode == 0, r.stderr
    assert "seeds [0]" in r.stdout and "   all " in r.stdout


def test_bad_inputs_exit_2_naming_what_was_expected(cache, tmp_path):
    cache, _, _ = cache
    r = _run(cache / "eval/er")  # no SFT eval to pair with
    assert r.returncode == 2 and "no SFT eval of seed 0" in r.stderr
    m = cache / "eval/es/manifest.json"
    man = json.loads(m.read_text())
    man["fields"]["eval"]["split"] = "test"
    m.write_text(json.dumps(man))
    r = _run(cache / "eval/es", cache / "eval/er")
    assert r.returncode == 2 and "eval.split=rl" in r.stderr
    man["fields"]["eval"]["split"] = "rl"
    m.write_text(json.dumps(man))
    with open(cache / "eval/er/samples.jsonl", "a") as f:
        f.write("{not json\n")
    r = _run(cache / "eval/es", cache / "eval/er")
    assert r.returncode == 2 and "samples.jsonl:" in r.stderr and "expected a sample record" in r.stderr
    r = _run(tmp_path / "nowhere")
    assert r.returncode == 2 and "neither an eval cache entry" in r.stderr
