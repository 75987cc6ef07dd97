"""PRM dense scoring with and without shared prompts (issue 18, "fewer forward passes").

    python benchmarks/bench_prm_share.py [--prompts 16] [--group 8] [--micro-tokens 4096]
        [--rounds 5] [--threads N] [--json OUT]

Under DenseReward (and completability credit) every sampled rollout of a step goes through one PRM
forward (``prmlab.prm.use.prm_line_scores``). A step samples ``--group`` responses to each of
``--prompts`` prompts, so with ``algo.share_prompts`` the prompt columns run once per distinct
prompt and the responses on their cached keys and values (``prmlab.algos.core.token_values``).

The batch is shaped like a long-testbed step: prompts from the synthetic suite's long tier
(``generate_suite(long_share=1)``), each row's response its problem's reference cut at a uniformly
drawn length in [40%, 100%] of it (so rows of one group differ in length, as sampled ones do). The
PRM is the tiny default backbone (``ModelConfig()``, random init, built by ``build_tiny`` from
the suite's text as the SFT stage does) with a scalar head whose weights are drawn at random (a
zero head would score everything 0 and hide any difference). Timing does not depend on the
weights. The two settings alternate within each round, so they see the same background load; the
median round is reported, with their ratio and the largest absolute difference of their scores.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from prmlab.algos.core import chunked_response_forward, token_values  # noqa: E402
from prmlab.config import ModelConfig  # noqa: E402
from prmlab.models import ScalarHeadModel, build_tiny, load_tokenizer  # noqa: E402
from prmlab.tasks.synthetic import generate_suite  # noqa: E402


def build_prm(workdir: Path):
    problems = generate_suite(0, 400, 0, 0, long_share=1.0)
    texts = [p.prompt + (p.reference or "") for p in problems]
    path = build_tiny(ModelConfig(), texts, workdir / "tiny", seed=0)
    prm = ScalarHeadModel.from_causal_lm(path, torch.device("cpu")).eval().requires_grad_(False)
    torch.manual_seed(1)
    torch.nn.init.normal_(prm.head.weight, std=0.05)
    return prm, load_tokenizer(path), problems


def long_batch(tok, problems, n_prompts: int, group: int, seed: int = 0):
    """``ids``/``attn`` [B, P+T] (prompts left-padded to P, responses right-padded), B = prompts x group."""
    rng = random.Random(seed)
    eos = tok.eos_token_id
    prompts, responses = [], []
    for p in problems[:n_prompts]:
        ref = tok(p.reference, add_special_tokens=False)["input_ids"]
        for _ in range(group):
            prompts.append(tok(p.prompt, add_special_tokens=False)["input_ids"])
            responses.append(ref[: max(1, round(len(ref) * rng.uniform(0.4, 1.0)))])
    P, T = max(map(len, prompts)), max(map(len, responses))
    ids = torch.full((len(prompts), P + T), eos, dtype=torch.long)
    attn = torch.zeros_like(ids)
    for b, (q, r) in enumerate(zip(prompts, responses)):
        ids[b, P - len(q) : P], attn[b, P - len(q) : P] = torch.tensor(q), 1
        ids[b, P : P + len(r)], attn[b, P : P + len(r)] = torch.tensor(r), 1
    return ids, attn, P


@torch.no_grad()
def score(prm, ids, attn, P, micro_tokens: int, share: bool):
    mask = attn[:, P:].float()
    v, = chunked_response_forward(lambda i, a, p: (token_values(prm, i, a, p, share),), ids, attn, mask, P,
                                  micro_tokens, share)
    return v * mask


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--micro-tokens", type=int, default=4096)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as d:
        prm, tok, problems = build_prm(Path(d))
        ids, attn, P = long_batch(tok, problems, args.prompts, args.group)
        n_tok = int(attn[:, P:].sum())
        print(f"batch: {ids.shape[0]} rows ({args.prompts} prompts x {args.group}), prompt width {P}, "
              f"response width {ids.shape[1] - P}, {n_tok} response tokens; micro_tokens {args.micro_tokens}, "
              f"{torch.get_num_threads()} threads")
        times = {False: [], True: []}
        outs = {}
        score(prm, ids, attn, P, args.micro_tokens, True)  # warm-up (allocator, kernels)
        for _ in range(args.rounds):
            for share in (False, True):
                t0 = time.perf_counter()
                outs[share] = score(prm, ids, attn, P, args.micro_tokens, share)
                times[share].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in times.items()}
        diff = float((outs[False] - outs[True]).abs().max())
        for share in (False, True):
            print(f"share_prompts={str(share):5s}  median {med[share] * 1e3:8.1f} ms  "
                  f"({', '.join(f'{t * 1e3:.0f}' for t in times[share])})")
        print(f"ratio unshared/shared: {med[False] / med[True]:.2f}x   max |score difference|: {diff:.2e}")
        if args.json:
            args.json.write_text(json.dumps(dict(rows=ids.shape[0], prompt_width=P, response_tokens=n_tok,
                                                  micro_tokens=args.micro_tokens, threads=torch.get_num_threads(),
                                                  seconds={str(k): v for k, v in times.items()},
                                                  ratio=med[False] / med[True], max_abs_diff=diff), indent=1))


if __name__ == "__main__":
    main()
