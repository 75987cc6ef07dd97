"""Does what RL learns transfer to prompts it never trained on? Held-out gain split by exposure.

RL trains on the ``rl`` split's prompts; held-out pass@1 is measured on the ``test`` split. When
RL raises pass@1 on the prompts it sampled and lowers it on the ones it did not, what it learns is
prompt-specific. This script measures that, per problem of the ``rl`` split:

1. For each RL run, replay its prompt draws (``prmlab.rl.loop.drawn_prompts``: the same
   (seed, step)-seeded draw the run made) and count how often each prompt was drawn: 0, 1, 2, 3+.
2. Take the per-problem pass@1 (share of the ``eval.n_samples`` samples that pass) of the RL
   policy and of the SFT policy, both evaluated with ``eval.split=rl`` and the same eval seed.
3. Per exposure bucket: the mean of (RL - SFT) over the bucket's problems, per run; then over
   runs, the mean and its Student-t 95% interval (``analysis.stats.mean_ci``; one value per seed,
   so seeds are the unit of replication).

Input: the eval cache entries of both policies (``CACHE_DIR/eval/KEY``, or run/sweep job dirs
whose ``run.log`` names their eval entry). Each RL eval is paired with the SFT eval of the same
seed; the RL run's algo fields (steps, prompts_per_step, oversample) come from its manifest.
With oversample > 1 "drawn" counts every sampled prompt, not only the trained ones.

    python -m prmlab.run -m ... eval.split=rl seed=0,1 algo=ppo,none prm=none   # the evals
    python benchmarks/rl_transfer.py SWEEP_DIR/*/
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.stats import mean_ci  # noqa: E402
from prmlab.errors import PrmlabError  # noqa: E402
from prmlab.layout import PROBLEMS_FILE, SAMPLES_FILE, input_entry, read_manifest, stage_entry  # noqa: E402
from prmlab.rl.loop import drawn_prompts  # noqa: E402
from prmlab.tasks import rl_problems  # noqa: E402

BUCKETS = ("0", "1", "2", "3+")  # times a prompt was drawn during the run


def _fail(message: str) -> None:
    print(f"rl_transfer: {message}", file=sys.stderr)
    sys.exit(2)


def eval_entry(path: Path) -> Path:
    """An eval cache entry, given one or a run dir whose run.log names it."""
    return stage_entry(path, "eval")


def per_problem_pass(entry: Path) -> dict[str, float]:
    """Per problem: the share of its samples that pass every test."""
    hits, n = defaultdict(int), defaultdict(int)
    path = entry / SAMPLES_FILE
    if not path.is_file():
        raise PrmlabError(f"{entry}: no {SAMPLES_FILE}")
    with open(path) as f:
        for i, line in enumerate(f, 1):
            try:
                r = json.loads(line)
                pid, passed = r["problem_id"], bool(r["all_passed"])
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise PrmlabError(f"{path}:{i}: expected a sample record with problem_id and all_passed ({e})") from e
            hits[pid] += passed
            n[pid] += 1
    return {pid: hits[pid] / n[pid] for pid in n}


def exposure(problems_path: Path, fields: dict) -> Counter:
    """How often each rl-split prompt was drawn by the run with these manifest fields."""
    algo, seed = fields["algo"], fields["seed"]
    problems = rl_problems(problems_path)
    seen: Counter = Counter()
    for step in range(algo["steps"]):
        seen.update(p.id for p in drawn_prompts(problems, seed, step, algo["prompts_per_step"] * algo["oversample"]))
    return seen


def bucket(times: int) -> str:
    return BUCKETS[min(times, len(BUCKETS) - 1)]


def transfer(sft: dict[str, float], rl: dict[str, float], seen: Counter) -> dict[str, tuple[int, float, float, float]]:
    """Per bucket: (problems, SFT pass@1, RL pass@1, mean RL - SFT), pass@1 as fractions."""
    groups = defaultdict(list)
    for pid in sft.keys() & rl.keys():
        groups[bucket(seen[pid])].append(pid)
        groups["all"].append(pid)
    out = {}
    for name in (*BUCKETS, "all"):
        ids = groups.get(name, [])
        if ids:
            s, r = sum(sft[i] for i in ids) / len(ids), sum(rl[i] for i in ids) / len(ids)
            out[name] = (len(ids), s, r, r - s)
    return out


def load(paths: list[Path]) -> list[dict]:
    """Pair each RL eval with the SFT eval of its seed; one row of ``transfer`` figures per pair."""
    sft_by_seed, rl_evals = {}, []
    for p in paths:
        entry = eval_entry(p)
        m = read_manifest(entry)
        if m["fields"]["eval"]["split"] != "rl":
            raise PrmlabError(f"{entry}: evaluates split {m['fields']['eval']['split']!r}; "
                              "this needs eval.split=rl (the prompts RL trained on)")
        policy_m = read_manifest(input_entry(entry, "policy"))
        if policy_m["stage"] == "sft":
            sft_by_seed[m["fields"]["seed"]] = entry
        else:
            rl_evals.append((m["fields"]["seed"], entry, input_entry(entry, "tasks"), policy_m))
    rows = []
    for seed, entry, tasks, policy_m in sorted(rl_evals, key=lambda t: t[0]):
        if seed not in sft_by_seed:
            raise PrmlabError(f"{entry}: no SFT eval of seed {seed} among the inputs to pair it with")
        seen = exposure(tasks / PROBLEMS_FILE, policy_m["fields"])
        rows.append({"seed": seed, "figures": transfer(per_problem_pass(sft_by_seed[seed]),
                                                       per_problem_pass(entry), seen)})
    if not rows:
        raise PrmlabError("no RL eval among the inputs (each needs an SFT eval of its seed beside it)")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", type=Path, nargs="+", help="eval cache entries or run dirs (eval.split=rl), RL and SFT")
    args = ap.parse_args()
    try:
        rows = load(args.paths)
    except (PrmlabError, OSError, KeyError) as e:  # a missing or malformed input names itself
        _fail(str(e) if not isinstance(e, KeyError) else f"a manifest lacks the field {e}")
    print(f"{len(rows)} RL run(s), seeds {[r['seed'] for r in rows]}; pass@1 in points on the rl split (eval.split=rl)")
    print(f"{'drawn':>6s} {'problems':>9s} {'SFT':>7s} {'RL':>7s} {'RL-SFT':>8s}  95% t-interval over seeds")
    for name in (*BUCKETS, "all"):
        vals = [r["figures"][name] for r in rows if name in r["figures"]]
        if not vals:
            continue
        est = mean_ci([100 * v[3] for v in vals])
        ci = "" if est.n < 2 else f"[{est.lo:+.2f}, {est.hi:+.2f}]"
        print(f"{name:>6s} {sum(v[0] for v in vals) / len(vals):9.1f} {100 * sum(v[1] for v in vals) / len(vals):7.2f} "
              f"{100 * sum(v[2] for v in vals) / len(vals):7.2f} {est.mean:+8.2f}  {ci}")
    print("drawn = times the run drew the prompt (its steps x prompts_per_step x oversample draws); "
          "problems = mean count per run")


if __name__ == "__main__":
    main()
