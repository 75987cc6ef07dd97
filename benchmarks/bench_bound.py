"""How far an RL step is from this machine's own bound (issue 18: "per-step time within 2x").

    python benchmarks/bench_bound.py RUN_DIR [--stage rl] [--json OUT]

RUN_DIR is a run's records dir (``outputs/runs/<time>``: ``config.yaml``, ``metrics.jsonl``,
``summary.json``) of a run that computed its RL stages. The script measures two machine figures,
with nothing else running:

* **matmul throughput**: ``torch.mm`` at the shapes of the tiny model's forward over a
  micro-batch (4096 token rows against its hidden, MLP and vocabulary widths), in the run's torch
  thread count; the best shape's median GFLOP/s is the bound's rate (so the bound is a floor);
* **fork cost**: a fresh interpreter that has imported what the sandbox's worker preloads
  (``prmlab.sandbox.worker.PRELOAD``, then ``gc.freeze()``, as the worker does) forks children that
  exit at once; the mean fork + wait time per child.

and turns the run's per-step token counts (``perf/tokens_*``, logged by ``prmlab.rl.loop``) into a
time floor per phase:

    FLOPs per token of a forward   2 (12 L d^2 [+ V d with the LM head]) + 2 L d S   (S: the mean
                                   row length; causal attention scores and values over S/2 keys)
    generate    one forward over the sampled prompts and responses (KV cache: each token once)
    prm_score   one PRM forward (no LM head) over them, under DenseReward
    train       policy + reference forward, critic forward (PPO), then per epoch 3x a forward
                (forward + backward) of the policy and of the critic, over the trained tokens
    execute     executed programs x fork cost / sandbox workers

and prints measured vs bound per phase, and their ratio. It is a floor, not a prediction: it
ignores the decode loop's per-token overhead (generation's steps are sequential), softmax, norms,
the optimiser and tokenisation, and program run time beyond the fork.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import torch
import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PHASES = ("generate", "execute", "prm_score", "train")

FORK_CODE = textwrap.dedent("""
    import gc, os, sys, time
    for name in sys.argv[2].split():  # the sandbox worker's preloads: the same memory image to fork
        __import__(name)
    gc.freeze()
    n = int(sys.argv[1])
    t0 = time.perf_counter()
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    print((time.perf_counter() - t0) / n)
""")


def matmul_gflops(d: int, vocab: int, rows: int = 4096, reps: int = 20) -> float:
    """Best-shape median GFLOP/s of ``torch.mm`` at the model's widths."""
    best = 0.0
    for k, n in ((d, 4 * d), (4 * d, d), (d, 3 * d), (d, vocab)):
        a, b = torch.randn(rows, k), torch.randn(k, n)
        for _ in range(3):
            a @ b
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - t0)
        best = max(best, 2 * rows * k * n / statistics.median(times) / 1e9)
    return best


def fork_seconds(n: int = 300) -> float:
    from prmlab.sandbox.worker import PRELOAD

    out = subprocess.run([sys.executable, "-c", FORK_CODE, str(n), " ".join(PRELOAD)], capture_output=True, text=True,
                         check=True)
    return float(out.stdout)


def flops_per_token(L: int, d: int, V: int, S: float, lm_head: bool) -> float:
    return 2 * (12 * L * d * d + (V * d if lm_head else 0)) + 2 * L * d * S


def bound(cfg: dict, steps: list[dict], summary: dict, gflops: float, fork_s: float) -> dict:
    m, a = cfg["model"], cfg["algo"]
    L, d, V = m["n_layer"], m["n_embd"], m["vocab_size"]
    ppo, dense = a["name"] == "ppo", bool(cfg["prm"]["dense"]) and steps[0].get("stage") == "rl"
    rows = a["prompts_per_step"] * a["oversample"] * a["group_size"]
    mean = {k: statistics.mean(s[k] for s in steps) for k in
            ("perf/tokens_sampled_prompt", "perf/tokens_sampled_response", "perf/tokens_trained")}
    sampled = mean["perf/tokens_sampled_prompt"] + mean["perf/tokens_sampled_response"]
    trained = mean["perf/tokens_trained"]
    S_s, S_t = sampled / rows, trained / (a["prompts_per_step"] * a["group_size"])
    rate = gflops * 1e9
    policy_s, critic_s = flops_per_token(L, d, V, S_s, True), flops_per_token(L, d, V, S_s, False)
    policy_t, critic_t = flops_per_token(L, d, V, S_t, True), flops_per_token(L, d, V, S_t, False)
    per_epoch = 3 * policy_t + (3 * critic_t if ppo else 0)
    train = trained * (2 * policy_t + (critic_t if ppo else 0) + a["epochs"] * per_epoch)
    workers = cfg["sandbox"]["workers"] or len(os.sched_getaffinity(0))
    executed_share = summary.get("sandbox/executed", 1) / max(1, summary.get("sandbox/programs", 1))
    return {
        "generate": sampled * policy_s / rate,
        "prm_score": sampled * critic_s / rate if dense else 0.0,
        "train": train / rate,
        "execute": rows * executed_share * fork_s / workers,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--stage", action="append", help="RL stage(s) to report (default: every one in the run)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    cfg = yaml.safe_load((args.run_dir / "config.yaml").read_text())
    summary = json.loads((args.run_dir / "summary.json").read_text())
    rows = [json.loads(line) for line in (args.run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    if cfg.get("threads"):
        torch.set_num_threads(cfg["threads"])
    gflops, fork_s = matmul_gflops(cfg["model"]["n_embd"], cfg["model"]["vocab_size"]), fork_seconds()
    print(f"machine: {os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads: "
          f"matmul {gflops:.0f} GFLOP/s, fork + wait {1e3 * fork_s:.2f} ms")
    out = {"gflops": gflops, "fork_ms": 1e3 * fork_s, "stages": {}}
    stages = args.stage or sorted({r["stage"] for r in rows if "perf/tokens_trained" in r})
    for stage in stages:
        steps = [r for r in rows if r.get("stage") == stage and "perf/tokens_trained" in r]
        if not steps:
            sys.exit(f"{args.run_dir}: no step of stage {stage!r} with perf/tokens_* (rerun at this commit)")
        b = bound(cfg, steps, summary, gflops, fork_s)
        meas = {p: statistics.mean(s[f"perf/time_{p}"] for s in steps) for p in PHASES}
        n = summary.get(f"{stage}/steps_timed") or len(steps)
        other = max(0.0, summary.get(f"{stage}/time_other_s", 0.0) / n) if f"{stage}/time_other_s" in summary else 0.0
        print(f"\n{stage}: {len(steps)} steps, seconds per step")
        print(f"  {'phase':<10} {'measured':>9} {'bound':>9} {'ratio':>7}")
        for p in PHASES:
            ratio = meas[p] / b[p] if b[p] > 0 else float("nan")
            print(f"  {p:<10} {meas[p]:9.3f} {b[p]:9.3f} {ratio:7.2f}")
        total_m, total_b = sum(meas.values()) + other, sum(b.values())
        print(f"  {'other':<10} {other:9.3f} {0.0:9.3f}")
        print(f"  {'step':<10} {total_m:9.3f} {total_b:9.3f} {total_m / total_b:7.2f}")
        out["stages"][stage] = {"measured": {**meas, "other": other}, "bound": b, "ratio": total_m / total_b}
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
