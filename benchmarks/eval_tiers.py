"""An evaluation's pass@1 by synthetic tier (easy, medium, hard, long), by prompt style and length.

The run summary breaks pass@1 down by the paper's three difficulties, which put the long tier
inside ``hard`` (``LONG_DIFFICULTY``). Calibrating the long-horizon testbed needs the long tier on
its own, so this script reads an eval entry's ``samples.jsonl`` and the ``tasks`` entry it was
computed from (its manifest's input, so the tiers are those of the problems it saw) and prints one
row per evaluation:

* pass@1 (%) over all problems, per tier (``prmlab.tasks.synthetic.tier_of``) and per prompt style
  (contest, nl2alg): the mean over problems of the share of their samples that pass;
* the share of samples with ``>= --long-tokens`` response tokens (the issue's regime figure), and
  their mean length.

    python benchmarks/eval_tiers.py CACHE_DIR/eval/KEY [RUN_DIR ...]   # eval entries or run dirs
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prmlab.errors import PrmlabError  # noqa: E402
from prmlab.layout import PROBLEMS_FILE, SAMPLES_FILE, input_entry, read_manifest, stage_entry  # noqa: E402
from prmlab.tasks import read_problems  # noqa: E402
from prmlab.tasks.synthetic import LONG_TIER, TIERS, tier_of  # noqa: E402

COLUMNS = ("all", *TIERS, LONG_TIER, "contest", "nl2alg")


def read_samples(path: Path) -> list[dict]:
    """The sample records of an eval entry; a malformed line raises naming it and what was expected."""
    if not path.is_file():
        raise PrmlabError(f"{path}: missing (expected an eval entry's sample records)")
    out = []
    with open(path) as f:
        for i, line in enumerate(f, 1):
            try:
                r = json.loads(line)
                out.append({"problem_id": r["problem_id"], "all_passed": bool(r["all_passed"]), "n_tokens": int(r["n_tokens"])})
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
                raise PrmlabError(f"{path}:{i}: expected a sample record with problem_id, all_passed, n_tokens ({e})") from e
    return out


def tier_table(samples: list[dict], problems: dict, long_tokens: int) -> dict[str, float]:
    """pass@1 (fraction) per column of ``COLUMNS`` present, ``long_share`` and ``mean_tokens``."""
    hits, n = defaultdict(int), defaultdict(int)
    for s in samples:
        hits[s["problem_id"]] += bool(s["all_passed"])
        n[s["problem_id"]] += 1
    groups = defaultdict(list)
    for pid in n:
        p = problems.get(pid)
        if p is None:
            raise PrmlabError(f"sample of problem {pid!r}, which the tasks entry does not hold")
        for g in ("all", tier_of(p), p.category):
            groups[g].append(hits[pid] / n[pid])
    out = {g: sum(v) / len(v) for g, v in groups.items() if v}
    tokens = [s["n_tokens"] for s in samples]
    out["long_share"] = sum(t >= long_tokens for t in tokens) / len(tokens)
    out["mean_tokens"] = sum(tokens) / len(tokens)
    return out


def _row(path: Path, long_tokens: int) -> tuple[str, dict[str, float]]:
    entry = stage_entry(path, "eval")
    m = read_manifest(entry)
    samples = read_samples(entry / SAMPLES_FILE)
    if not samples:
        raise PrmlabError(f"{entry / SAMPLES_FILE}: no samples")
    problems = {p.id: p for p in read_problems(input_entry(entry, "tasks") / PROBLEMS_FILE)}
    policy = Path(m.get("inputs", {}).get("policy", "?"))
    label = f"{policy.parent.name}/{policy.name[:8]} {m['fields']['eval']['split']}"
    return label, tier_table(samples, problems, long_tokens)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python benchmarks/eval_tiers.py", description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="+", type=Path, help="eval cache entries, or run dirs whose run.log names one")
    ap.add_argument("--long-tokens", type=int, default=100, help="the response length counted as long (tokens)")
    args = ap.parse_args(argv)
    try:
        rows = [_row(p, args.long_tokens) for p in args.paths]
    except PrmlabError as e:
        print(f"eval_tiers: {e}", file=sys.stderr)
        sys.exit(2)
    print(f"{'policy split':28s}" + "".join(f"{c:>9s}" for c in COLUMNS) + f"{'>=' + str(args.long_tokens) + 'tok':>9s}{'tokens':>8s}")
    for label, t in rows:
        cells = "".join(f"{100 * t[c]:9.1f}" if c in t else f"{'-':>9s}" for c in COLUMNS)
        print(f"{label:28s}{cells}{100 * t['long_share']:8.1f}%{t['mean_tokens']:8.1f}")
    print("pass@1 (%) per column: mean over problems of the share of samples that pass; tiers by tier_of "
          "(the long tier apart from hard); last two: share of samples at >= --long-tokens tokens, mean tokens")


if __name__ == "__main__":
    main()
