"""Does ``torch.compile`` pay for the training passes on this machine? (issue 18, a lever not in its list)

    python benchmarks/bench_compile.py [--arch gpt2|llama] [--threads 2] [--calls 30] [--rounds 2]
                                       [--micro-tokens 4096] [--lengths 90 300]

The RL update runs the policy's (and the critic's) forward + backward over length-sorted
micro-batches of at most ``algo.micro_tokens`` padded positions (``prmlab.algos.core.length_chunks``).
This script times that call alone on the tiny model the configs build (``prmlab.config.ModelConfig``'s
sizes, random weights: the time does not depend on them), eager against ``torch.compile(dynamic=True)``:

* **compile cost**: the compiled model's first calls over the whole shape set, minus what the same
  calls cost eager: what a run would pay once (a cold inductor cache; this script does not reuse one);
* **per-call time**: ``--calls`` micro-batches of random lengths in ``--lengths`` (rows =
  micro_tokens // length, so each call holds about the same positions), the two variants
  alternating for ``--rounds`` rounds; the median round per variant;
* **break-even**: compile cost / time saved per call, in calls; an RL stage of the default main job
  makes about 60 steps x 2 minibatches x 2 pieces = 240 such calls per network;
* **rounding**: the largest |logit difference| between the two on one micro-batch (compiled kernels
  fuse and reorder float operations, so a run would no longer be bitwise the one before).

It is a lever's screen, not the pipeline: it leaves out the no-grad passes, the optimiser step,
the shared-prompt cache (``algo.share_prompts``) and decoding. Run it with nothing else on the cores.
The pipeline itself was measured with a top-level ``compile`` option (commit 5513158: the SFT model
and the RL stages' policy, reference and critic under ``nn.Module.compile(dynamic=True)``); every
stage ran slower, even with a warm inductor cache, so the option was removed (docs/BENCHMARKS.md,
fifteenth session).
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # prmlab from this checkout


def build(arch: str, where: Path):
    """The tiny model a run builds (``prmlab.models.build_tiny`` at ``prmlab.config.ModelConfig``'s
    sizes; its tokenizer trained on random text, its weights random: the time depends on neither),
    loaded back by ``prmlab.models.load_policy`` as a run loads it (GPT-2 gets the fused GELU)."""
    from prmlab.config import ModelConfig
    from prmlab.models import build_tiny, load_policy

    rng = random.Random(0)
    texts = ["".join(rng.choice("abcdefghij ():=+-*_\n") for _ in range(400)) for _ in range(500)]
    model = load_policy(build_tiny(ModelConfig(arch=arch), texts, where, seed=0), torch.device("cpu"))
    return model, model.config.vocab_size


def fwd_bwd(model, ids: torch.Tensor) -> None:
    """One micro-batch's forward + backward with a token log-prob loss (the policy loss's shape of work)."""
    logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits  # [R, L, V]
    logp = torch.log_softmax(logits.float(), -1)[:, :-1].gather(-1, ids[:, 1:, None])  # [R, L-1, 1]
    logp.mean().backward()


def timed(model, batches) -> float:
    t = time.perf_counter()
    for ids in batches:
        fwd_bwd(model, ids)
    return time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", choices=("gpt2", "llama"), default="gpt2")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (the main job's default: one per core)")
    ap.add_argument("--calls", type=int, default=30, help="micro-batches per timed round")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--micro-tokens", type=int, default=4096, help="padded positions per micro-batch (algo.micro_tokens)")
    ap.add_argument("--lengths", type=int, nargs=2, default=(90, 300), metavar=("LO", "HI"),
                    help="row lengths drawn uniformly (prompt + response tokens)")
    args = ap.parse_args(argv)
    if args.calls < 1 or args.rounds < 1 or args.micro_tokens < args.lengths[1] or not 2 <= args.lengths[0] <= args.lengths[1]:
        ap.error("need --calls >= 1, --rounds >= 1, 2 <= LO <= HI <= --micro-tokens")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        model, vocab = build(args.arch, Path(tmp))
    rng = random.Random(0)
    batches = []
    for _ in range(args.calls):
        L = rng.randint(*args.lengths)
        batches.append(torch.randint(0, vocab, (args.micro_tokens // L, L)))
    compiled = torch.compile(model, dynamic=True)

    first_compiled = timed(compiled, batches)  # compiles (and recompiles where a shape needs it)
    first_eager = timed(model, batches)
    rounds = {"eager": [], "compiled": []}
    for _ in range(args.rounds):
        rounds["eager"].append(timed(model, batches))
        rounds["compiled"].append(timed(compiled, batches))
    eager = statistics.median(rounds["eager"]) / args.calls
    comp = statistics.median(rounds["compiled"]) / args.calls
    compile_s = first_compiled - first_eager
    with torch.no_grad():
        mask = torch.ones_like(batches[0])
        diff = (model(input_ids=batches[0], attention_mask=mask).logits
                - compiled(input_ids=batches[0], attention_mask=mask).logits).abs().max().item()

    print(f"tiny {args.arch}, {args.threads} torch thread(s), {args.calls} micro-batches of <= {args.micro_tokens} "
          f"positions (lengths {args.lengths[0]}-{args.lengths[1]}), {args.rounds} round(s)")
    print(f"  eager     {1e3 * eager:8.1f} ms per forward + backward   (rounds: "
          + ", ".join(f"{r:.2f} s" for r in rounds["eager"]) + ")")
    print(f"  compiled  {1e3 * comp:8.1f} ms per forward + backward   (rounds: "
          + ", ".join(f"{r:.2f} s" for r in rounds["compiled"]) + ")")
    print(f"  speed-up  {eager / comp:.2f}x;  compile cost {compile_s:.1f} s (first compiled pass {first_compiled:.1f} s "
          f"against {first_eager:.1f} s eager)")
    saved = eager - comp
    print("  break-even: " + (f"{compile_s / saved:.0f} calls" if saved > 0 else "never (no call is faster)"))
    print(f"  largest |logit difference| eager vs compiled: {diff:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
