"""Cache keys, atomic writes and kill safety of the stage pipeline."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from prmlab.pipeline import PlannedStage, Stage, StageCache, plan_keys, run_plan, select_fields, stage_key
from prmlab.stages import STAGES, build_plan


def _keys(cfg):
    return {p.stage.name: p.key for p in plan_keys(cfg, build_plan(cfg))}


def test_keys_change_exactly_when_a_read_field_changes(compose):
    base = compose(["algo=ppo", "prm=both"])
    k0 = _keys(base)
    assert set(k0) == {"tasks", "sft", "rl_baseline", "prm_collect", "prm_select", "prm_train", "rl", "eval"}
    # strategy is read by prm_select only: everything upstream keeps its key, downstream changes
    k1 = _keys(compose(["algo=ppo", "prm=both", "strategy=full"]))
    assert [s for s in k0 if k0[s] != k1[s]] == ["prm_select", "prm_train", "rl", "eval"]
    # a field nobody reads (logger, progress, sandbox workers) changes no key
    assert _keys(compose(["algo=ppo", "prm=both", "logger=none", "progress=false", "sandbox.workers=1"])) == k0
    # an SFT field changes sft and everything after it, not tasks
    k2 = _keys(compose(["algo=ppo", "prm=both", "sft.lr=0.1"]))
    assert [s for s in k0 if k0[s] == k2[s]] == ["tasks"]
    # the eval temperature changes only eval
    k3 = _keys(compose(["algo=ppo", "prm=both", "eval.temperature=0.8"]))
    assert [s for s in k0 if k0[s] != k3[s]] == ["eval"]
    # the run's seed changes every stage that samples or trains; with sft.seed fixed, SFT is shared
    k5 = _keys(compose(["algo=ppo", "prm=both", "seed=1"]))
    assert [s for s in k0 if k0[s] == k5[s]] == ["tasks"]
    k6 = _keys(compose(["algo=ppo", "prm=both", "seed=1", "sft.seed=0"]))
    assert [s for s in k0 if k0[s] == k6[s]] == ["tasks", "sft"]
    # the dense weight changes only rl and eval
    k4 = _keys(compose(["algo=ppo", "prm=both", "prm.lambda_fail=0.3"]))
    assert [s for s in k0 if k0[s] != k4[s]] == ["rl", "eval"]


def test_plan_depends_on_algo_and_prm(compose):
    full = ["tasks", "sft", "rl_baseline", "prm_collect", "prm_select", "prm_train", "rl", "eval"]
    assert [p.stage.name for p in build_plan(compose())] == full  # default: PPO + DenseReward + ValueInit
    assert [p.stage.name for p in build_plan(compose(["algo=none"]))] == ["tasks", "sft", "eval"]
    assert [p.stage.name for p in build_plan(compose(["algo=grpo", "prm=none"]))] == ["tasks", "sft", "rl_baseline", "eval"]
    plan = build_plan(compose(["algo=ppo", "prm=none", "prm.dense=true"]))
    assert [p.stage.name for p in plan] == full and plan[-1].inputs["policy"] == "rl"


def test_until_stops_the_plan_after_its_stage_and_keeps_the_keys(compose):
    from prmlab.errors import ConfigError
    from prmlab.validation import validate

    full = _keys(compose())
    cut = compose(["until=prm_collect"])
    validate(cut)
    assert [p.stage.name for p in build_plan(cut)] == ["tasks", "sft", "rl_baseline", "prm_collect"]
    assert _keys(cut) == {k: v for k, v in full.items() if k in ("tasks", "sft", "rl_baseline", "prm_collect")}
    with pytest.raises(ConfigError, match="until.*a stage of this run's plan: one of tasks, sft, eval"):
        validate(compose(["algo=none", "until=rl"]))


def test_completion_temperature_enters_prm_collect_key_only_when_set(compose):
    k0, k1 = _keys(compose()), _keys(compose(["prm.completion_temperature=0.5"]))
    assert [s for s in k0 if k0[s] != k1[s]] == ["prm_collect", "prm_select", "prm_train", "rl", "eval"]
    assert _keys(compose(["prm.completion_temperature=null"])) == k0


@pytest.mark.parametrize("field, value", [("task.long_constants", "named"), ("task.long_comments", "parts")])
def test_long_tier_renderings_enter_the_tasks_key_only_when_set(compose, field, value):
    # the options sit in the ``task`` group that the tasks stage reads whole: while null, every key is
    # the one it was before the option existed (pinned: the default and the long testbed's tasks keys)
    k0, long0 = _keys(compose()), _keys(compose(["testbed=long"]))
    assert k0["tasks"] == "f037e0eb09afd7141f52" and long0["tasks"] == "04a2546dda85f07b937a"
    assert _keys(compose(["testbed=long", f"{field}=null"])) == long0
    other = _keys(compose(["testbed=long", f"{field}={value}"]))
    assert [s for s in long0 if long0[s] == other[s]] == []  # another suite: every stage after it changes too


def test_stage_key_is_stable_and_version_sensitive():
    st = Stage("x", 1, ("a",), lambda ctx: None)
    assert stage_key(st, {"a": 1}, {}) == stage_key(st, {"a": 1}, {})
    assert stage_key(st, {"a": 1}, {}) != stage_key(st, {"a": 2}, {})
    assert stage_key(st, {"a": 1}, {}) != stage_key(Stage("x", 2, ("a",), st.fn), {"a": 1}, {})
    assert stage_key(st, {"a": 1}, {"up": "k1"}) != stage_key(st, {"a": 1}, {"up": "k2"})


def test_select_fields_gives_only_declared_paths():
    cfg = OmegaConf.create({"a": {"b": 1, "c": 2}, "d": 3, "e": {"f": 4}})
    assert select_fields(cfg, ("a.b", "e")) == {"a": {"b": 1}, "e": {"f": 4}}


def test_optional_reads_enter_the_key_only_when_set():
    # an option added with a null default must leave existing cache keys alone
    plain = Stage("x", 1, ("a.b",), lambda ctx: None)
    opt = Stage("x", 1, ("a.b",), plain.fn, optional_reads=("a.new",))
    unset = OmegaConf.create({"a": {"b": 1, "new": None}})
    key = lambda st, cfg: plan_keys(cfg, [PlannedStage(st, {})])[0].key  # noqa: E731
    assert select_fields(unset, opt.reads, opt.optional_reads) == {"a": {"b": 1}}
    assert key(opt, unset) == key(plain, unset)
    set_ = OmegaConf.create({"a": {"b": 1, "new": "full"}})
    assert select_fields(set_, opt.reads, opt.optional_reads) == {"a": {"b": 1, "new": "full"}}
    assert key(opt, set_) != key(plain, set_)


def test_a_null_optional_inside_a_whole_group_read_stays_out_of_the_key(compose):
    # algo.warmup_steps sits in the ``algo`` group that the RL stages read whole: while null the
    # group's fields (and so every cached RL entry's key) are those it had before the option existed
    cfg = OmegaConf.create({"algo": {"lr": 1e-4, "warmup_steps": None}})
    assert select_fields(cfg, ("algo",), ("algo.warmup_steps",)) == {"algo": {"lr": 1e-4}}
    cfg.algo.warmup_steps = 10
    assert select_fields(cfg, ("algo",), ("algo.warmup_steps",)) == {"algo": {"lr": 1e-4, "warmup_steps": 10}}
    k0, k1 = _keys(compose(["algo=ppo", "prm=both"])), _keys(compose(["algo=ppo", "prm=both", "algo.warmup_steps=10"]))
    assert [s for s in k0 if k0[s] != k1[s]] == ["rl_baseline", "prm_collect", "prm_select", "prm_train", "rl", "eval"]


class _T:
    stage = ""

    def log(self, *a, **k):
        pass


def test_failure_leaves_no_entry_and_rerun_computes(tmp_path):
    calls = []

    def fn(ctx):
        calls.append(1)
        (ctx.out / "half.txt").write_text("x")
        if len(calls) == 1:
            raise RuntimeError("boom")
        return {"ok": 1}

    cfg = OmegaConf.create({"a": 1})
    plan = [PlannedStage(Stage("s", 1, ("a",), fn), {})]
    cache = StageCache(tmp_path)
    with pytest.raises(RuntimeError):
        run_plan(cfg, plan, cache, None, _T())
    assert list((tmp_path / "s").iterdir()) == [tmp_path / "s" / f"{plan[0].key}.lock"]
    res = run_plan(cfg, plan, cache, None, _T())
    assert res[0].status == "computed" and res[0].summary == {"ok": 1}
    res = run_plan(cfg, plan, cache, None, _T())
    assert res[0].status == "reused" and len(calls) == 2


def test_entries_record_what_computed_them_and_reuse_reports_it(tmp_path):
    """The manifest keeps the computing run's numerics (thread count, device, dtype); a run that
    reuses the entry reports those, not its own: results are reproducible only at the same."""
    import torch

    from prmlab.run import numerics_note

    class Rt:
        def __init__(self, n):
            self.n = n

        def numerics(self):
            return {"device": "cpu", "dtype": "float32", "torch_threads": self.n, "world_size": 1,
                    "torch": torch.__version__}

        def autocast(self):
            import contextlib
            return contextlib.nullcontext()

    plan = [PlannedStage(Stage("s", 1, ("a",), lambda ctx: {"ok": 1}), {})]
    cfg = OmegaConf.create({"a": 1})
    first = run_plan(cfg, plan, StageCache(tmp_path), Rt(1), _T())[0]
    again = run_plan(cfg, plan, StageCache(tmp_path), Rt(2), _T())[0]
    assert first.status == "computed" and again.status == "reused"
    # the compute time too (analysis.plan projects a sweep's cost from it)
    assert json.loads((first.path / "manifest.json").read_text())["seconds"] >= 0
    assert first.computed_with["torch_threads"] == again.computed_with["torch_threads"] == 1
    assert numerics_note(again.computed_with) == "  (1 thread, cpu float32)"
    assert numerics_note({}) == "" and "2 threads x 2 ranks" in numerics_note(
        {"torch_threads": 2, "world_size": 2, "device": "cpu", "dtype": "float32"})
    assert run_plan(cfg, plan, StageCache(tmp_path / "none"), None, _T())[0].computed_with == {}


def test_entry_keeps_the_records_its_stage_logged(tmp_path):
    """A computed entry holds a copy of what its stage logged (and nothing another stage logged), so
    a run that reuses it, in a later sweep, can still show the stage's training curve."""
    from prmlab.tracking import Tracker

    def train(ctx):
        for i in range(3):
            ctx.tracker.log({"loss": 1.0 / (i + 1)})
        return {"ok": 1}

    def quiet(ctx):
        return {}

    a, b = Stage("a", 1, ("x",), train), Stage("b", 1, ("x",), quiet)
    plan = [PlannedStage(a, {}), PlannedStage(b, {"up": "a"})]
    cfg = OmegaConf.create({"x": 1})
    trk = Tracker(tmp_path / "run1")
    trk.stage = "before"
    trk.log({"other": 1})  # an earlier record of the run is not the stage's
    first = run_plan(cfg, plan, StageCache(tmp_path / "cache"), None, trk)
    trk.finish()
    rows = [json.loads(l) for l in (first[0].path / "metrics.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["step"], r["loss"]) for r in rows] == [("a", 0, 1.0), ("a", 1, 0.5), ("a", 2, 1 / 3)]
    assert not (first[1].path / "metrics.jsonl").exists()  # a stage that logged nothing gets no file
    # the same rows as in the computing run's own records
    own = [json.loads(l) for l in (tmp_path / "run1" / "metrics.jsonl").read_text().splitlines()]
    assert [r for r in own if r["stage"] == "a"] == rows
    # a reusing run leaves the entry as it was; trackers without a file (tests, other ranks) copy nothing
    trk2 = Tracker(tmp_path / "run2")
    again = run_plan(cfg, plan, StageCache(tmp_path / "cache"), None, trk2)
    trk2.finish()
    assert again[0].status == "reused" and (tmp_path / "run2" / "metrics.jsonl").read_text() == ""
    assert [json.loads(l) for l in (again[0].path / "metrics.jsonl").read_text().splitlines()] == rows
    assert not (run_plan(cfg, plan, StageCache(tmp_path / "c2"), None, _T())[0].path / "metrics.jsonl").exists()


def test_backfill_copies_a_computing_runs_records_into_older_entries(tmp_path, capsys):
    """scripts/backfill_stage_records.py: entries computed before the pipeline kept their records get
    the computing run's rows of that stage; reused stages, existing copies and gone entries are left."""
    from scripts.backfill_stage_records import main

    cache = tmp_path / "cache"
    for stage, key in [("rl", "k1"), ("eval", "k2"), ("sft", "k0")]:
        (cache / stage / key).mkdir(parents=True)
        (cache / stage / key / "manifest.json").write_text("{}")
    run = tmp_path / "sweep" / "0_seed=0"
    run.mkdir(parents=True)
    rows = [{"stage": "rl", "step": 0, "x": 1}, {"stage": "eval", "step": 0, "y": 2}, {"stage": "rl", "step": 1, "x": 3}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run / "summary.json").write_text(json.dumps({"stages": {
        "sft": {"status": "reused", "key": "k0", "path": "/gone"},
        "rl": {"status": "computed", "key": "k1", "path": "/gone"},  # moved cache: found under --cache
        "eval": {"status": "computed", "key": "k2", "path": str(cache / "eval" / "k2")},
        "prm_train": {"status": "computed", "key": "k9", "path": "/gone"}}}))  # entry deleted since
    assert main([str(tmp_path / "sweep"), "--cache", str(cache), "--dry-run"]) == 0
    assert not (cache / "rl" / "k1" / "metrics.jsonl").exists()
    assert main([str(tmp_path / "sweep"), "--cache", str(cache)]) == 0
    read = lambda p: [json.loads(l) for l in p.read_text().splitlines()]  # noqa: E731
    assert read(cache / "rl" / "k1" / "metrics.jsonl") == [rows[0], rows[2]]
    assert read(cache / "eval" / "k2" / "metrics.jsonl") == [rows[1]]
    assert not (cache / "sft" / "k0" / "metrics.jsonl").exists()
    assert "2 entries written" in capsys.readouterr().out
    assert main([str(tmp_path / "sweep"), "--cache", str(cache)]) == 0
    assert "0 entries written" in capsys.readouterr().out
    assert main([str(tmp_path / "nowhere")]) == 2


KILL_SCRIPT = textwrap.dedent("""
    import sys, time
    from omegaconf import OmegaConf
    from prmlab.pipeline import PlannedStage, Stage, StageCache, run_plan
    class T:
        stage = ""
        def log(self, *a, **k): pass
    def fn(ctx):
        (ctx.out / "part1").write_text("written")
        print("STARTED", flush=True)
        if sys.argv[2] == "hang":
            time.sleep(60)
        return {"done": True}
    plan = [PlannedStage(Stage("slow", 1, ("a",), fn), {})]
    r = run_plan(OmegaConf.create({"a": 1}), plan, StageCache(sys.argv[1]), None, T())
    print("STATUS", r[0].status, flush=True)
""")


def test_sigkill_mid_stage_leaves_no_entry(tmp_path):
    script = tmp_path / "k.py"
    script.write_text(KILL_SCRIPT)
    cache = tmp_path / "cache"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    p = subprocess.Popen([sys.executable, str(script), str(cache), "hang"], stdout=subprocess.PIPE, text=True, env=env)
    assert p.stdout.readline().strip() == "STARTED"
    p.send_signal(signal.SIGKILL)
    p.wait()
    entries = [e.name for e in (cache / "slow").iterdir()]
    assert not [e for e in entries if not e.startswith(".tmp-") and not e.endswith(".lock")]  # no entry
    out = subprocess.run([sys.executable, str(script), str(cache), "fast"], capture_output=True, text=True, env=env)
    assert "STATUS computed" in out.stdout, out.stderr
    left = [e.name for e in (cache / "slow").iterdir()]
    assert not [e for e in left if e.startswith(".tmp-")]  # the dead job's temp dir was cleaned
    out = subprocess.run([sys.executable, str(script), str(cache), "fast"], capture_output=True, text=True, env=env)
    assert "STATUS reused" in out.stdout


def test_stage_entry_reads_the_pipelines_own_log_lines(tmp_path):
    """layout.stage_entry finds an entry from a run dir through the lines the pipeline logs
    (REUSED_LOG, COMPUTED_LOG: the last one counts) and refuses an entry of another stage."""
    import json

    import pytest

    from prmlab.errors import PrmlabError
    from prmlab.layout import COMPUTED_LOG, REUSED_LOG, stage_entry

    entries = {}
    for name, stage in (("old", "eval"), ("new", "eval"), ("pol", "sft")):
        e = tmp_path / "cache" / stage / name
        e.mkdir(parents=True)
        (e / "manifest.json").write_text(json.dumps({"stage": stage}))
        entries[name] = e
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.log").write_text("\n".join([REUSED_LOG % ("eval", entries["old"]), REUSED_LOG % ("sft", entries["pol"]),
                                            COMPUTED_LOG % ("eval", 1.25, entries["new"])]) + "\n")
    assert stage_entry(run, "eval") == entries["new"] and stage_entry(run, "sft") == entries["pol"]
    assert stage_entry(entries["old"], "eval") == entries["old"]
    with pytest.raises(PrmlabError, match="a sft entry, expected an eval entry"):
        stage_entry(entries["pol"], "eval")
    with pytest.raises(PrmlabError, match="names no rl cache entry"):
        stage_entry(run, "rl")
