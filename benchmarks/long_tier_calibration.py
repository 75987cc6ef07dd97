"""Data-level calibration of the synthetic suite's long tier: how long are the references, per tier?

Generates the synthetic suite with the long tier on (``generate_suite(..., long_share=...)``), trains
the tiny default's tokenizer the way the SFT stage does (a byte-level BPE of ``--vocab`` tokens on
the training split's ``prompt + reference`` texts, ``prmlab.models.train_tokenizer``), and prints per
tier (easy, medium, hard, long) the reference token lengths (min / median / max, share >= 100
tokens, share in 100-300), the reference code-line counts, and the prompt and prompt + reference
lengths (which must fit the model's context and ``sft.max_len``); then the same per long family, and
the share of references >= 100 tokens in the whole suite with and without the long tier. This is the
data-level half of the long-horizon calibration; whether an SFT policy gets the long programs
mostly right with local mistakes is measured on the policy's samples.

    python benchmarks/long_tier_calibration.py                     # default sizes, long_share 0.25
    python benchmarks/long_tier_calibration.py --long-share 0.5 --sizes 0 48 8 12 48
    python benchmarks/long_tier_calibration.py --long-share 0.4 --sizes 0 2000 60 600 600 --long-comments parts
"""
from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prmlab.models import train_tokenizer  # noqa: E402
from prmlab.tasks import synthetic as S  # noqa: E402


def _stats(values: list[int]) -> str:
    return f"{min(values):4d} {statistics.median(values):7.1f} {max(values):4d}"


def _table(title: str, groups: dict[str, list[dict]]) -> None:
    print(f"\n{title}")
    print(f"{'':20s} {'n':>5s} | {'ref tokens min/med/max':>22s} {'>=100':>6s} {'100-300':>7s} | "
          f"{'lines min/med/max':>17s} | {'prompt med/max':>14s} | {'prompt+ref max':>14s}")
    for name, rows in groups.items():
        if not rows:
            continue
        ref = [r["ref"] for r in rows]
        prompt = [r["prompt"] for r in rows]
        print(f"{name:20s} {len(rows):5d} | {_stats(ref):>22s} {sum(n >= 100 for n in ref) / len(ref):6.2f} "
              f"{sum(100 <= n <= 300 for n in ref) / len(ref):7.2f} | {_stats([r['lines'] for r in rows]):>17s} | "
              f"{statistics.median(prompt):6.1f} {max(prompt):7d} | {max(r['total'] for r in rows):14d}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs=5, default=[0, 600, 60, 150, 600],
                    metavar=("SEED", "N_TRAIN", "N_VAL", "N_TEST", "N_RL"), help="generate_suite's arguments")
    ap.add_argument("--long-share", type=float, default=0.25, help="share of each split from the long tier")
    ap.add_argument("--vocab", type=int, default=512, help="BPE vocabulary (model.vocab_size)")
    ap.add_argument("--long-comments", default=None, choices=S.LONG_COMMENTS,
                    help="the long references' comment lines (task.long_comments; default none)")
    args = ap.parse_args()

    for share in (0.0, args.long_share):
        problems = S.generate_suite(*args.sizes, long_share=share, long_comments=args.long_comments if share else None)
        tok = train_tokenizer([p.prompt + p.reference for p in problems if p.split == "train"], args.vocab)
        n_tok = lambda text: len(tok(text)["input_ids"])  # noqa: E731
        rows = [{"tier": S.tier_of(p), "family": p.meta["family"], "split": p.split, "ref": n_tok(p.reference),
                 "prompt": n_tok(p.prompt), "total": n_tok(p.prompt + p.reference), "lines": p.meta["n_lines"]}
                for p in problems]
        print(f"\n=== generate_suite{tuple(args.sizes)}, long_share={share}: {len(problems)} problems; tokenizer: "
              f"{args.vocab}-token BPE trained on the train split")
        by_tier = defaultdict(list)
        for r in rows:
            by_tier[r["tier"]].append(r)
        _table("per tier (all splits)", {t: by_tier[t] for t in (*S.TIERS, S.LONG_TIER)})
        _table("per tier (test split)", {t: [r for r in by_tier[t] if r["split"] == "test"]
                                         for t in (*S.TIERS, S.LONG_TIER)})
        if share:
            by_family = defaultdict(list)
            for r in by_tier[S.LONG_TIER]:
                by_family[r["family"]].append(r)
            _table("long tier per family (all splits)", dict(sorted(by_family.items())))
        ref = [r["ref"] for r in rows]
        test_ref = [r["ref"] for r in rows if r["split"] == "test"]
        print(f"\nwhole suite: share of references >= 100 tokens {sum(n >= 100 for n in ref) / len(ref):.3f} "
              f"(test split {sum(n >= 100 for n in test_ref) / len(test_ref):.3f}); "
              f"max prompt + reference {max(r['total'] for r in rows)} tokens")


if __name__ == "__main__":
    main()
