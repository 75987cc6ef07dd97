"""Labelling cost: binary vs linear search for the first error line, on the same responses.

Takes one RL-baseline checkpoint (a ``rl_baseline`` cache entry's ``checkpoints/cK/policy``) and
the tasks stage's ``problems.jsonl``, draws ``--prompts`` RL prompts, samples N responses each
(``prm.samples_per_prompt``) and labels every failing one twice with ``prmlab.prm.collect``'s own
code: ``search=binary`` (the default) and ``search=linear`` (every prefix checked). The responses
are identical in both passes (same seed); the completions of the prefix checks are not (the
searches ask different prefixes), so a disagreement mixes real non-monotonicity with best-of-K
sampling noise, which is what a researcher choosing binary search has to live with.

Prints per labelled (failing) response: prefix checks, executions and generated tokens for each
mode and their ratio; the share of responses whose first error line / category / labels differ;
the share linear search finds non-monotone; and wall time per mode.

    python benchmarks/bench_labelling.py --policy CACHE/rl_baseline/KEY/checkpoints/c3/policy \\
        --problems CACHE/tasks/KEY/problems.jsonl --prompts 32
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prmlab.config import AlgoConfig, Config, PRMConfig  # noqa: E402
from prmlab.prm.collect import collect_checkpoint  # noqa: E402
from prmlab.runtime import Runtime  # noqa: E402
from prmlab.tasks import rl_problems  # noqa: E402


def per_labelled(records, field: str) -> float:
    failing = [r for r in records if r.category != "correct"]
    return sum(getattr(r, field) for r in failing) / max(1, len(failing))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--policy", required=True, help="HF checkpoint dir (a baseline checkpoint's policy/)")
    ap.add_argument("--problems", required=True, help="problems.jsonl of the tasks stage")
    ap.add_argument("--prompts", type=int, default=32, help="RL prompts to label (seeded choice)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("overrides", nargs="*", help="PRMConfig fields, e.g. completions=8 samples_per_prompt=2")
    args = ap.parse_args()

    problems = rl_problems(Path(args.problems))
    problems = random.Random(args.seed).sample(problems, min(args.prompts, len(problems)))
    base = OmegaConf.structured(Config(threads=args.threads, progress=False))
    runtime = Runtime(base)
    prm = OmegaConf.merge(OmegaConf.structured(PRMConfig()), OmegaConf.from_dotlist(args.overrides))
    runs, secs = {}, {}
    runtime.sandbox  # start the worker pool before timing either mode
    try:
        for mode in ("binary", "linear"):
            cfg = OmegaConf.create({"prm": OmegaConf.merge(prm, {"search": mode}),
                                    "algo": OmegaConf.structured(AlgoConfig())})
            t0 = time.time()
            runs[mode] = collect_checkpoint(0, Path(args.policy), problems, cfg, runtime, args.seed)
            secs[mode] = time.time() - t0
    finally:
        runtime.close()

    b, lin = runs["binary"], runs["linear"]
    assert [r.response for r in b] == [r.response for r in lin], "the two passes must label the same responses"
    failing = [i for i, r in enumerate(b) if r.category != "correct"]
    n = max(1, len(failing))
    print(f"{len(b)} responses ({args.prompts} prompts x {prm.samples_per_prompt}), {len(failing)} failing; "
          f"K={prm.completions} completions per prefix check")
    print(f"{'per labelled response':<26}{'binary':>10}{'linear':>10}{'linear/binary':>15}")
    for label, field in (("prefix checks", "n_prefix_checks"), ("executions", "n_executions"),
                         ("generated tokens", "generated_tokens")):
        x, y = per_labelled(b, field), per_labelled(lin, field)
        print(f"{label:<26}{x:>10.1f}{y:>10.1f}{y / max(x, 1e-9):>14.2f}x")
    print(f"{'wall time (s)':<26}{secs['binary']:>10.1f}{secs['linear']:>10.1f}"
          f"{secs['linear'] / max(secs['binary'], 1e-9):>14.2f}x")
    diff_first = sum(b[i].first_error_line != lin[i].first_error_line for i in failing) / n
    diff_cat = sum(b[i].category != lin[i].category for i in failing) / n
    diff_labels = sum(b[i].labels != lin[i].labels for i in failing) / n
    non_mono = sum(lin[i].monotone is False for i in failing) / n
    print(f"first error line differs: {diff_first:.3f}   category differs: {diff_cat:.3f}   "
          f"labels differ: {diff_labels:.3f}   linear non-monotone: {non_mono:.3f}")


if __name__ == "__main__":
    main()
