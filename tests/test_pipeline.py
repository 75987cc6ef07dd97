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
