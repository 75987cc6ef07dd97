"""The PRM data's regime figures, broken down by tier and prompt style: where does line-level signal come from?

Reads one ``prm_collect`` cache entry (its ``labels.jsonl``) and the ``tasks`` entry upstream of it
(found through the manifests' ``inputs``, so the problems' tiers and categories are the ones the
collection saw), and prints, for all responses and per tier (easy, medium, hard, long) and prompt
style (contest, nl2alg):

* responses, the share that pass, and the failing ones;
* **revised share of failing** (some prefix completable; under binary search the same count as
  m* > 0, the issue's two regime figures);
* prompts by category (Easy: all responses pass, Hard: none does, Medium: mixed), and the share of
  failing responses that sit on Hard prompts, where no prefix can be completable by construction
  of best-of-K from the same policy;
* for revised responses, the median position of the first error (m* / M, lines).

    python benchmarks/prm_regime.py CACHE_DIR/prm_collect/KEY
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prmlab.layout import LABELS_FILE, PROBLEMS_FILE  # noqa: E402
from prmlab.prm.data import read_labeled_jsonl  # noqa: E402
from prmlab.tasks.synthetic import tier_of  # noqa: E402
from prmlab.types import Problem  # noqa: E402


def _fail(message: str) -> None:
    print(f"prm_regime: {message}", file=sys.stderr)
    sys.exit(2)


def _upstream(entry: Path, stage: str) -> Path:
    """The cache entry of ``stage`` upstream of ``entry``, following the manifests' inputs."""
    cache = entry.parent.parent
    todo = [entry]
    while todo:
        e = todo.pop()
        inputs = json.loads((e / "manifest.json").read_text()).get("inputs", {})
        if stage in inputs:
            return cache / stage / inputs[stage]
        todo += [cache / s / k for s, k in inputs.items()]
    _fail(f"no {stage} entry upstream of {entry}")


def _row(name: str, recs: list, prompt_cat: dict) -> str:
    failing = [r for r in recs if r.category != "correct"]
    revised = [r for r in failing if r.category == "revised"]
    prompts = {r.problem_id for r in recs}
    cats = [prompt_cat[p] for p in prompts]
    on_hard = sum(prompt_cat[r.problem_id] == "hard" for r in failing)
    pos = [r.m_star / max(1, len(r.lines)) for r in revised if r.m_star]
    share = lambda k, n: f"{100 * k / n:5.1f}" if n else "    –"  # noqa: E731
    return (f"{name:16s} {len(recs):6d} {share(len(recs) - len(failing), len(recs))} {len(failing):6d} "
            f"{share(len(revised), len(failing))} | {len(prompts):4d} {cats.count('easy'):4d} {cats.count('medium'):4d} "
            f"{cats.count('hard'):4d} {share(on_hard, len(failing))} | "
            f"{statistics.median(pos) if pos else float('nan'):5.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("entry", type=Path, help="a prm_collect cache entry (CACHE_DIR/prm_collect/KEY)")
    args = ap.parse_args()
    if not (args.entry / LABELS_FILE).is_file():
        _fail(f"{args.entry} holds no {LABELS_FILE}: expected a prm_collect cache entry")
    tasks = _upstream(args.entry, "tasks")
    with open(tasks / PROBLEMS_FILE) as f:
        problems = {p.id: p for p in (Problem.from_dict(json.loads(line)) for line in f if line.strip())}
    recs = read_labeled_jsonl(args.entry / LABELS_FILE)
    by_prompt = defaultdict(list)
    for r in recs:
        by_prompt[r.problem_id].append(r.category == "correct")
    prompt_cat = {p: "easy" if all(v) else "hard" if not any(v) else "medium" for p, v in by_prompt.items()}

    print(f"{'':16s} {'resp':>6s} {'pass%':>5s} {'fail':>6s} {'rev%':>5s} | {'prm':>4s} {'easy':>4s} {'med':>4s} "
          f"{'hard':>4s} {'onH%':>5s} | {'m*/M':>5s}")
    print("(rev% = revised share of failing responses = m* > 0 share under binary search; onH% = share of failing"
          " responses on Hard prompts; m*/M = median share of a revised response's lines before its first error)")
    print(_row("all", recs, prompt_cat))
    groups = defaultdict(list)
    for r in recs:
        p = problems[r.problem_id]
        groups[tier_of(p)].append(r)
        groups[p.category].append(r)
        groups[f"{tier_of(p)}/{p.category}"].append(r)
    for name in sorted(groups, key=lambda n: ("/" in n, n)):
        print(_row(name, groups[name], prompt_cat))


if __name__ == "__main__":
    main()
