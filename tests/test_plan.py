"""analysis.plan: a sweep's jobs and stage entries, what the cache holds, and the projected cost."""
import json
import subprocess
import sys

from filelock import FileLock

from analysis import plan
from prmlab.layout import COMPUTED_LOG, COMPUTED_RE, MANIFEST_FILE
from prmlab.pipeline import StageCache

ROOT = plan.Path(__file__).resolve().parents[1]
SMOKE = ["experiment=smoke", "logger=none", "algo=grpo", "prm=none", "sft.seed=0"]


def _finish(e: plan.Entry, seconds: float, fields: dict, tasks: str) -> None:
    """A finished entry as the pipeline writes it (manifest with ``seconds``)."""
    e.path.mkdir(parents=True)
    inputs = {} if e.stage == "tasks" else {"tasks": str(e.cache / "tasks" / tasks)}
    (e.path / MANIFEST_FILE).write_text(json.dumps({"stage": e.stage, "key": e.key, "fields": fields,
                                                    "inputs": inputs, "seconds": seconds}))


def test_the_log_line_reads_back():
    line = COMPUTED_LOG % ("rl_baseline", 412.34, "/c/rl_baseline/abc")
    assert COMPUTED_RE.findall(f"[time][prmlab.pipeline][INFO] {line}\n") == [("rl_baseline", "412.3", "/c/rl_baseline/abc")]


def test_jobs_statuses_sharing_and_projection(tmp_path):
    cache = tmp_path / "cache"
    jobs = plan.jobs_of([*SMOKE, f"cache_dir={cache}", "seed=0,1"])
    assert [j.overrides for j in jobs] == [[*SMOKE, f"cache_dir={cache}", "seed=0"], [*SMOKE, f"cache_dir={cache}", "seed=1"]]
    assert [e.stage for e in jobs[0].entries] == ["tasks", "sft", "rl_baseline", "eval"]
    a, b = jobs
    # with sft.seed fixed (as every experiment fixes it) both jobs share tasks and SFT
    assert a.entries[:2] == b.entries[:2] and a.entries[2].key != b.entries[2].key
    assert a.entries[2].shape == b.entries[2].shape and a.entries[2].algo == "grpo"
    assert {e.status() for j in jobs for e in j.entries} == {"left"}

    # one seed's RL finished in 100 s; the other's is projected from it (same config but the seed)
    tasks = a.entries[0].key
    _finish(a.entries[2], 100.0, a.entries[2].fields, tasks)
    assert a.entries[2].status() == "done"
    times = plan.recorded_times([cache])
    assert plan.projected_seconds(b.entries[2], times) == (100.0, True, frozenset(), False)
    assert plan.projected_seconds(b.entries[3], times) == (None, False, frozenset(), False)  # no eval timed anywhere

    # a killed attempt's scratch dir: partial; a held lock: running
    scratch = StageCache(cache).scratch("rl_baseline", b.entries[2].key)
    scratch.mkdir()
    (scratch / "resume.pt").write_text("x")
    assert b.entries[2].status() == "partial"
    with FileLock(str(StageCache(cache).lock("eval", a.entries[3].key))):
        assert a.entries[3].status() == "running"
    assert a.entries[3].status() == "left"

    # the report counts a shared entry once, where it is first needed
    parts = plan.parts_of([("first", [*SMOKE, f"cache_dir={cache}", "seed=0"]),
                           ("second", [*SMOKE, f"cache_dir={cache}", "seed=0,1"])])
    assert [len(p.entries) for p in parts] == [4, 2]  # the second adds seed 1's RL and eval
    text, total, unknown = plan.summarise(parts[1], times, n_jobs=2, left=True)
    assert total == 100.0 and unknown == 1  # seed 1's RL projected; its eval has no timing
    assert "rl_baseline" in text and "partial" in text and "seed=1" in text and "0m50s wall at 2" in text


def test_times_from_older_entries_come_from_the_run_logs(tmp_path):
    cache = tmp_path / "cache"
    (e,) = [x for x in plan.jobs_of([*SMOKE, f"cache_dir={cache}"])[0].entries if x.stage == "sft"]
    _finish(e, 1.0, {"sft": {"epochs": 3}}, "t")
    m = json.loads((e.path / MANIFEST_FILE).read_text())
    del m["seconds"]  # an entry written before manifests kept their time
    (e.path / MANIFEST_FILE).write_text(json.dumps(m))
    records = tmp_path / "outputs" / "runs" / "r1"
    records.mkdir(parents=True)
    (records / "run.log").write_text(COMPUTED_LOG % ("sft", 42.0, e.path) + "\n")
    assert sum(plan.recorded_times([cache]).seconds.values(), []) == []
    assert sum(plan.recorded_times([cache], [tmp_path / "outputs"]).seconds.values(), []) == [42.0]


def test_a_bad_override_exits_2_naming_the_field(tmp_path):
    r = subprocess.run([sys.executable, "-m", "analysis.plan", *SMOKE, "algo.lr=-1", f"cache_dir={tmp_path}"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "algo.lr" in r.stderr and not any(tmp_path.iterdir())


def test_differing_names_the_fields_that_differ_seeds_left_out():
    a = {"algo": {"name": "grpo", "lr": 1e-5, "seed": 0, "oversample": 1}, "seed": 0}
    b = {"algo": {"name": "grpo", "lr": 1e-5, "seed": 3, "oversample": 4}, "seed": 1, "extra": 2}
    assert plan.differing(a, a) == set() and plan.differing(a, {**a, "seed": 9}) == set()
    assert plan.differing(a, b) == {"algo.oversample", "extra"}
    assert plan.differing({"x": {"y": 1}}, {"x": 1}) == {"x"}


def test_a_stand_in_is_the_nearest_config_and_the_report_names_where_it_differs(tmp_path):
    def entry(**algo):
        fields = {"algo": {"name": "grpo", "lr": 1e-5, "oversample": 1, "group": 8, **algo}}
        return plan.Entry("rl_baseline", "k", tmp_path, "suite", "grpo", plan.shape(fields), fields)

    near, far, wanted = entry(lr=2e-5), entry(lr=3e-5, group=4), entry(oversample=4, lr=2e-5)
    times = plan.Times({(e.stage, e.suite, e.algo, e.shape): s for e, s in ((near, [290.0, 310.0]), (far, [900.0]))},
                       {(e.stage, e.suite, e.algo, e.shape): e.fields for e in (near, far)})
    # one field apart (oversample, dynamic sampling) beats three apart (far); the median of the nearest's times
    assert plan.projected_seconds(wanted, times) == (300.0, False, frozenset({"algo.oversample"}), False)
    assert plan.projected_seconds(near, times) == (300.0, True, frozenset(), False)
    part = plan.Part("p", [], [wanted], {wanted: plan.Job([], [wanted])})
    text, total, unknown = plan.summarise(part, times, n_jobs=1, left=False)
    assert total == 300.0 and unknown == 0
    assert "1 from another config of the stage, which differs in algo.oversample; 1 unscaled" in text


def test_a_stand_in_is_scaled_by_other_configs_that_differ_only_there(tmp_path):
    def entry(**algo):
        fields = {"algo": {"name": "grpo", "lr": 1e-5, "oversample": 1, **algo}}
        return plan.Entry("rl_baseline", "k", tmp_path, "suite", "grpo", plan.shape(fields), fields)

    def times_of(timed):
        key = {e: (e.stage, e.suite, e.algo, e.shape) for e in timed}
        return plan.Times({key[e]: s for e, s in timed.items()}, {key[e]: e.fields for e in timed})

    plain, plain_lr2, filtered, wanted = entry(), entry(lr=2e-5), entry(oversample=4), entry(oversample=4, lr=2e-5)
    times = times_of({plain: [200.0], plain_lr2: [300.0], filtered: [500.0]})
    # `wanted` is one field from plain_lr2 (oversample) and one from filtered (lr).
    # oversample 1 -> 4 costs 500 / 200 = 2.5x (plain vs filtered): plain_lr2 scales to 750;
    # lr 1e-5 -> 2e-5 costs 300 / 200 = 1.5x (plain vs plain_lr2): filtered scales to 750
    assert plan.field_ratio(times, "rl_baseline", frozenset({"algo.oversample"}),
                            (wanted.fields, "suite"), (plain_lr2.fields, "suite")) == 2.5
    assert plan.projected_seconds(wanted, times) == (750.0, False, frozenset({"algo.oversample", "algo.lr"}), True)
    # without the unfiltered twin at lr 1e-5 no pair differs only in oversample: the stand-in stays unscaled
    sparse = times_of({plain_lr2: [300.0], filtered: [500.0]})
    assert plan.field_ratio(sparse, "rl_baseline", frozenset({"algo.oversample"}),
                            (wanted.fields, "suite"), (plain_lr2.fields, "suite")) is None
    assert plan.projected_seconds(wanted, sparse) == (400.0, False, frozenset({"algo.oversample", "algo.lr"}), False)
    part = plan.Part("p", [], [wanted], {wanted: plan.Job([], [wanted])})
    assert "which differs in algo.lr, algo.oversample)" in plan.summarise(part, times, n_jobs=1, left=False)[0]
    assert "; 1 unscaled" in plan.summarise(part, sparse, n_jobs=1, left=False)[0]
    # a twin logged at 0 s (a sub-second stage) scales nothing rather than dividing by zero
    zero = times_of({plain: [0.0], plain_lr2: [300.0], filtered: [500.0]})
    assert plan.field_ratio(zero, "rl_baseline", frozenset({"algo.oversample"}),
                            (wanted.fields, "suite"), (plain_lr2.fields, "suite")) is None


def test_an_entry_without_a_tasks_input_finds_its_suite_upstream(tmp_path):
    def write(stage, key, inputs):
        d = tmp_path / stage / key
        d.mkdir(parents=True)
        m = {"stage": stage, "key": key, "fields": {}, "inputs": {k: str(tmp_path / k / v) for k, v in inputs.items()}}
        (d / MANIFEST_FILE).write_text(json.dumps(m))
        return m

    write("tasks", "suiteA", {})
    write("prm_collect", "c1", {"tasks": "suiteA"})
    select = write("prm_select", "s1", {"prm_collect": "c1"})
    assert plan._profile(select, "s1")[:2] == ("prm_select", "suiteA")
    # a stand-in from another suite says so
    fields = {"strategy": {"name": "full"}}
    e = plan.Entry("prm_select", "k", tmp_path, "suiteB", "", plan.shape(fields), fields)
    times = plan.Times({("prm_select", "suiteA", "", plan.shape(fields)): [1.0]},
                       {("prm_select", "suiteA", "", plan.shape(fields)): fields})
    assert plan.projected_seconds(e, times) == (1.0, False, frozenset({"the problem suite"}), False)


def test_the_backtest_projects_each_config_from_the_others(tmp_path):
    fa, fb, fc = {"algo": {"lr": 1}}, {"algo": {"lr": 2}}, {"x": 1}
    prof = {n: ("rl", "s", "ppo", plan.shape(f)) for n, f in (("a", fa), ("b", fb))}
    prof["c"] = ("tasks", "s", "", plan.shape(fc))
    times = plan.Times({prof["a"]: [100.0], prof["b"]: [150.0, 250.0], prof["c"]: [0.5]},
                       {prof["a"]: fa, prof["b"]: fb, prof["c"]: fc})
    rows = plan.backtest(times)  # the sub-second tasks config is left out; a and b stand in for each other
    assert sorted(rows) == [("rl", 100.0, 200.0), ("rl", 200.0, 100.0)]
    table = plan.backtest_table(rows)
    # |200 - 100| / 100 = 100%, |100 - 200| / 200 = 50%: median 75%; totals 300 / 300
    assert [line.split() for line in table.splitlines()[1:]] == [["rl", "2", "75%", "1.00"], ["all", "2", "75%", "1.00"]]
    r = subprocess.run([sys.executable, "-m", "analysis.plan", "--backtest", *SMOKE, f"cache_dir={tmp_path}"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "fewer than two timed configs" in r.stdout
