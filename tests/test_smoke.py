"""Smoke runs of the real entry point, in subprocesses, on the seconds-scale experiment."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_prmlab(tmp_path, *args, timeout=600):
    env = dict(os.environ, PRMLAB_CACHE=str(tmp_path / "cache"), WANDB_MODE="offline", PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "prmlab.run", *args, f"hydra.run.dir={tmp_path}/run",
                           f"hydra.sweep.dir={tmp_path}/sweep", "progress=false"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_smoke_run_writes_the_four_records(tmp_path):
    r = run_prmlab(tmp_path, "experiment=smoke", "logger=none")
    assert r.returncode == 0, r.stderr[-3000:]
    run = tmp_path / "run"
    for f in ("config.yaml", "metrics.jsonl", "summary.json", "samples.jsonl"):
        assert (run / f).is_file(), f
    summary = json.loads((run / "summary.json").read_text())
    # the default is the PRM paper's method: the whole chain
    assert [s for s in summary["stages"]] == ["tasks", "sft", "rl_baseline", "prm_collect", "prm_select", "prm_train",
                                              "rl", "eval"]
    assert all(s["status"] == "computed" for s in summary["stages"].values())
    # each entry records what computed it (results are reproducible only at the same thread count)
    smoke_threads = summary["stages"]["sft"]["computed_with"]["torch_threads"]
    assert all(s["computed_with"]["torch_threads"] == smoke_threads for s in summary["stages"].values())
    assert f"({smoke_threads} thread" in r.stdout
    assert 0.0 <= summary["eval/pass@1"] <= 1.0
    samples = [json.loads(l) for l in (run / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == summary["tasks/n_test"] * 2
    # the step-time breakdown of each RL stage: its phases add up to the stage's loop time, and the
    # one-screen summary prints it
    for stage in ("rl_baseline", "rl"):
        phases = [summary[f"{stage}/time_{p}_s"] for p in ("generate", "execute", "prm_score", "train", "other")]
        assert summary[f"{stage}/steps_timed"] > 0 and min(phases) >= 0
        assert sum(phases) <= summary["stages"][stage]["seconds"] + 0.05
        assert f"  {stage} step " in r.stdout and "prm_score" in r.stdout
    assert summary["rl/time_prm_score_s"] > summary["rl_baseline/time_prm_score_s"]  # DenseReward's PRM forward
    assert {"problem_id", "difficulty", "category", "response", "n_tokens", "all_passed", "pass_rate", "error",
            "outcomes"} <= set(samples[0])
    # each entry keeps a copy of the records its stage logged (a reusing run's curves come from there)
    own = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    for stage in ("sft", "rl_baseline", "prm_train", "rl", "eval"):
        entry = Path(summary["stages"][stage]["path"])
        kept = [json.loads(l) for l in (entry / "metrics.jsonl").read_text().splitlines()]
        assert kept and kept == [rec for rec in own if rec["stage"] == stage], stage
    # the rerun reuses every stage
    r2 = run_prmlab(tmp_path, "experiment=smoke", "logger=none", "threads=1")
    assert r2.returncode == 0
    again = json.loads((run / "summary.json").read_text())["stages"]
    assert all(s["status"] == "reused" for s in again.values())
    assert all(s["computed_with"]["torch_threads"] == smoke_threads for s in again.values())  # the entries', not this run's


def test_multirun_shares_upstream_stages(tmp_path):
    r = run_prmlab(tmp_path, "-m", "experiment=smoke", "prm.lambda_fail=0.25,0.5", "logger=none")
    assert r.returncode == 0, r.stderr[-3000:]
    jobs = sorted(p for p in (tmp_path / "sweep").iterdir() if p.is_dir() and (p / "summary.json").exists())
    assert [j.name for j in jobs] == ["0_prm.lambda_fail=0.25", "1_prm.lambda_fail=0.5"]
    s0, s1 = (json.loads((j / "summary.json").read_text()) for j in jobs)
    assert all(s["status"] == "computed" for s in s0["stages"].values())
    # the dense weight enters at rl: everything upstream is computed once and reused
    shared, own = ["tasks", "sft", "rl_baseline", "prm_collect", "prm_select", "prm_train"], ["rl", "eval"]
    assert list(s1["stages"]) == shared + own
    for name in shared:
        assert s1["stages"][name]["status"] == "reused" and s1["stages"][name]["key"] == s0["stages"][name]["key"]
    for name in own:
        assert s1["stages"][name]["status"] == "computed" and s1["stages"][name]["key"] != s0["stages"][name]["key"]


def test_dynamic_sampling_trains_on_the_selected_groups(tmp_path):
    """algo.oversample=2: twice the prompts are sampled, prompts_per_step groups are trained on."""
    r = run_prmlab(tmp_path, "experiment=smoke", "logger=none", "algo=grpo", "prm=none", "algo.oversample=2", "eval.n_samples=1",
                   "eval.ks=[1]")
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [json.loads(l) for l in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    steps = [m for m in rows if "rollout/trained_varied_group_frac" in m]
    assert len(steps) == 2 and all(0.0 <= m["rollout/trained_varied_group_frac"] <= 1.0 for m in steps)
    assert all(m["losses/grad_norm"] == m["losses/grad_norm"] for m in steps)  # an update ran (not NaN)


def test_critic_free_algorithm_runs_the_default_prm_pipeline(tmp_path):
    """algo=grpo with the default prm=both: no baseline critic exists, so the PRM starts from SFT
    (prm.init=value falls back, with a warning) and DenseReward enters GRPO's returns."""
    r = run_prmlab(tmp_path, "experiment=smoke", "logger=none", "algo=grpo", "eval.n_samples=1", "eval.ks=[1]")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "has no value model" in r.stderr + r.stdout
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert "rl" in summary["stages"] and "prm_train" in summary["stages"]


def test_until_stops_after_prm_collect_and_its_entry_feeds_prm_regime(tmp_path):
    """until=prm_collect computes the PRM data only (here at another completion temperature), and
    benchmarks/prm_regime.py reads the entry it wrote."""
    r = run_prmlab(tmp_path, "experiment=smoke", "logger=none", "until=prm_collect", "prm.completion_temperature=0.5")
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert list(summary["stages"]) == ["tasks", "sft", "rl_baseline", "prm_collect"]
    assert not (tmp_path / "run" / "samples.jsonl").exists() and "held-out" not in r.stdout
    entry = summary["stages"]["prm_collect"]["path"]
    regime = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "prm_regime.py"), entry],
                            capture_output=True, text=True, timeout=120)
    assert regime.returncode == 0, regime.stderr
    assert regime.stdout.splitlines()[1].startswith("all")


@pytest.mark.parametrize("algo,arm", [("grpo", "step_credit"), ("rloo", "shaped_credit")])
def test_completability_credit_runs_the_prm_chain(tmp_path, algo, arm):
    """prm.credit: the PRM chain runs from the critic-free baseline, and the rl stage logs its credit."""
    r = run_prmlab(tmp_path, "experiment=smoke", "logger=none", f"algo={algo}", f"prm={arm}", "eval.n_samples=1",
                   "eval.ks=[1]")
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert list(summary["stages"])[-3:] == ["prm_train", "rl", "eval"]
    rows = [json.loads(l) for l in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    rl = [m for m in rows if m.get("stage") == "rl" and "reward/mean" in m]
    assert len(rl) == 2
    if arm == "step_credit":
        assert all("reward/step_credit_mean" in m for m in rl)
    else:  # the shaped bonus is a reward term: non-negative, below kappa per response
        assert all(0.0 <= m["reward/dense_mean"] <= 0.5 for m in rl)


def test_gradient_analyses_cover_the_completability_credits(tmp_path):
    """gradients.enabled with a PRM run (prm.credit): the analyses add credit_step and credit_shaped."""
    r = run_prmlab(tmp_path, "experiment=smoke", "logger=none", "algo=grpo", "prm=step_credit", "gradients.enabled=true",
                   "gradients.prompts=2", "gradients.group_size=2", "eval.n_samples=1", "eval.ks=[1]")
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    entry = Path(summary["stages"]["gradients"]["path"])
    recs = [json.loads(l) for l in (entry / "gradients.jsonl").read_text().splitlines()]
    assert {(x["reward"], x["algo"]) for x in recs} == {(w, a) for w in ("binary", "pass_rate", "credit_step",
                                                                         "credit_shaped") for a in ("grpo", "rloo")}
    assert all(-1.0 <= x["cos_to_full"] <= 1.0 or x["cos_to_full"] != x["cos_to_full"] for x in recs)
    assert "grad/credit_step_grpo/cos_to_full" in summary


def test_wandb_offline_logs_the_same_metrics(tmp_path):
    r = run_prmlab(tmp_path, "experiment=smoke", "logger=wandb", "eval.n_samples=1", "eval.ks=[1]")
    assert r.returncode == 0, r.stderr[-3000:]
    runs = list((tmp_path / "run" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb"))


@pytest.mark.parametrize("args,needle", [
    (["model=hf", "model.path=/nonexistent/ckpt"], "model.path"),
    (["task=livecodebench", "task.path=/nonexistent.jsonl"], "task.path"),
    (["algo.loss_agg=bogus"], "algo.loss_agg"),
])
def test_bad_input_exits_nonzero_with_a_clear_message(tmp_path, args, needle):
    r = run_prmlab(tmp_path, "experiment=smoke", "logger=none", *args, timeout=120)
    assert r.returncode == 2
    assert needle in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("manifest.json"))


def test_malformed_task_file_names_the_line(tmp_path):
    bad = tmp_path / "lcb.jsonl"
    bad.write_text('{"question_title": "x"}\nnot json\n')
    r = run_prmlab(tmp_path, "experiment=smoke", "logger=none", "task=livecodebench", f"task.path={bad}", timeout=120)
    assert r.returncode == 2
    assert "lcb.jsonl" in r.stderr and "line" in r.stderr
    assert not any((tmp_path / "cache").rglob("manifest.json"))


def test_typo_fails_at_compose(tmp_path):
    r = run_prmlab(tmp_path, "experiment=smoke", "algo.stepz=3", timeout=120)
    assert r.returncode != 0 and "stepz" in r.stderr


def test_micro_batches_leave_samples_and_verdicts_unchanged(tmp_path):
    """The speed work's contract (algo.micro_tokens, length-sorted micro-batches with accumulated
    gradients): the same config and seed give the same samples and verdicts as the whole padded
    minibatches (micro_tokens=0); losses may move in the last digits only."""
    from scripts.same_results import differences

    runs = []
    for micro in (0, 256):
        r = run_prmlab(tmp_path / f"m{micro}", "experiment=smoke", "logger=none", f"algo.micro_tokens={micro}")
        assert r.returncode == 0, r.stderr[-3000:]
        runs.append(tmp_path / f"m{micro}" / "run")
    assert differences(*runs, rtol=1e-3) == []
    metrics = [json.loads(l) for l in (runs[1] / "metrics.jsonl").read_text().splitlines()]
    assert any("reward/mean" in m for m in metrics)  # the RL steps were compared too


def test_shared_prompts_leave_samples_and_verdicts_unchanged(tmp_path):
    """algo.share_prompts (each group's prompt run once per forward, its responses on the cached
    keys and values): the same samples and verdicts as running every row whole; losses may move in
    the last digits only."""
    from scripts.same_results import differences

    runs = []
    for share in ("false", "true"):
        r = run_prmlab(tmp_path / share, "experiment=smoke", "logger=none", f"algo.share_prompts={share}")
        assert r.returncode == 0, r.stderr[-3000:]
        runs.append(tmp_path / share / "run")
    assert differences(*runs, rtol=1e-3) == []


def test_overlap_leaves_samples_and_verdicts_unchanged(tmp_path):
    """Executing each response while the rest decode (``overlap=true``) changes when the
    sandbox runs, never what it returns: every sample, verdict and metric equals the run that
    executes the whole batch after sampling."""
    from scripts.same_results import differences

    runs = []
    for overlap in ("false", "true"):
        r = run_prmlab(tmp_path / overlap, "experiment=smoke", "logger=none", f"overlap={overlap}")
        assert r.returncode == 0, r.stderr[-3000:]
        runs.append(tmp_path / overlap / "run")
    assert differences(*runs) == []
