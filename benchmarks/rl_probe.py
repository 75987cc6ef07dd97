"""Probe GRPO outside the pipeline: does the update raise the reward on a prompt pool, and does it transfer?

Loads a policy (e.g. the SFT stage's ``policy/``) and a ``problems.jsonl`` (the tasks stage's
output), then runs ``--steps`` GRPO steps exactly as the trainer does (fast sampler, sandbox,
binary reward, ``prmlab.algos.grpo.update``) on ``--prompts-per-step`` prompts drawn each step from
a pool of the first ``--pool`` RL prompts (shuffled with ``--seed``). Before and after, it samples
``--eval-samples`` responses at T=0.2 for every test problem and prints the held-out pass rate by
difficulty. Per step it prints the reward, the KL to the start policy, the entropy, and the change
of summed log-probability of sequences with positive, negative and zero advantage (the first
should rise, the second fall).

This is how the RL defaults were diagnosed (docs/BENCHMARKS.md, "RL core"): with ``--pool 16`` the
pool's own T=0.2 pass rate rises fast (the update works); with a larger pool and no dynamic sampling
the held-out pass rate falls (sparse signal, drift).

    python benchmarks/rl_probe.py --policy .prmlab_cache/sft/KEY/policy \\
        --problems .prmlab_cache/tasks/KEY/problems.jsonl --pool 16 --steps 20 --lr 2e-4
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import torch
from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prmlab import rewards  # noqa: E402
from prmlab.algos import core, grpo  # noqa: E402
from prmlab.config import AlgoConfig, RewardConfig  # noqa: E402
from prmlab.models import load_policy, load_tokenizer  # noqa: E402
from prmlab.sampling import SamplingParams, row_seeds, sample  # noqa: E402
from prmlab.sandbox import Sandbox, SandboxConfig  # noqa: E402
from prmlab.tasks import read_problems, rl_problems  # noqa: E402
from prmlab.rl.batch import pad_batch  # noqa: E402
from prmlab.types import RolloutBatch  # noqa: E402


def held_out(policy, tok, sandbox, test, n, label) -> None:
    reps = [p for p in test for _ in range(n)]
    policy.eval()
    ro = sample(policy, tok, [p.prompt for p in reps], SamplingParams(0.2, 1.0, 0, 160, batch_size=512),
                stops=[p.stop for p in reps], problem_ids=[p.id for p in reps], seeds=row_seeds(999, len(reps)))
    v = sandbox.evaluate(reps, [r.response for r in ro])
    tiers = {d: [x.all_passed for x, p in zip(v, reps) if p.difficulty == d] for d in ("easy", "medium", "hard")}
    print(f"{label}: held-out pass rate at T=0.2 {sum(x.all_passed for x in v) / len(v):.3f} ("
          + " / ".join(f"{d} {sum(t) / max(1, len(t)):.3f}" for d, t in tiers.items()) + ")", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--policy", required=True, help="HF checkpoint dir of the start policy")
    ap.add_argument("--problems", required=True, help="problems.jsonl of the tasks stage")
    ap.add_argument("--pool", type=int, default=16, help="RL prompts in the pool")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--prompts-per-step", type=int, default=16)
    ap.add_argument("--group-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--temperature", type=float, default=1.0, help="rollout temperature")
    ap.add_argument("--eval-samples", type=int, default=4, help="T=0.2 samples per test problem (0: skip)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("overrides", nargs="*", help="AlgoConfig fields, e.g. loss_agg=seq_mean_token_mean")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    pool = rl_problems(Path(args.problems))
    random.Random(args.seed).shuffle(pool)
    pool = pool[: args.pool]
    test = read_problems(Path(args.problems), split="test")
    tok, device = load_tokenizer(args.policy), torch.device("cpu")
    policy, start = load_policy(args.policy, device), load_policy(args.policy, device).eval()
    acfg = OmegaConf.merge(OmegaConf.structured(AlgoConfig(name="grpo", lr=args.lr, temperature=args.temperature)),
                           OmegaConf.from_dotlist(args.overrides))
    opt = torch.optim.AdamW(policy.parameters(), lr=acfg.lr, weight_decay=0.0)
    params = SamplingParams(acfg.temperature, acfg.top_p, acfg.top_k, acfg.max_new_tokens, batch_size=512)
    G = args.group_size
    with Sandbox(SandboxConfig()) as sandbox:
        if args.eval_samples:
            held_out(policy, tok, sandbox, test, args.eval_samples, "before")
        for step in range(args.steps):
            chosen = random.Random(step).sample(pool, min(args.prompts_per_step, len(pool)))
            reps = [p for p in chosen for _ in range(G)]
            gids = torch.arange(len(chosen)).repeat_interleave(G)
            policy.eval()
            ro = sample(policy, tok, [p.prompt for p in reps], params, stops=[p.stop for p in reps],
                        problem_ids=[p.id for p in reps], seeds=row_seeds(step, len(reps)))
            verdicts = sandbox.evaluate(reps, [r.response for r in ro])
            ids, attn, mask, P = pad_batch(ro, tok.pad_token_id)
            with torch.no_grad():
                lp, ent = core.sequence_logprobs(policy, ids, attn, P, temperature=acfg.temperature)
                lp0, _ = core.sequence_logprobs(start, ids, attn, P, temperature=acfg.temperature)
            scores = rewards.outcome_scores(verdicts, OmegaConf.structured(RewardConfig()))
            batch = RolloutBatch(input_ids=ids, attention_mask=attn, response_mask=mask, logprobs=lp, ref_logprobs=lp0,
                                 rewards=rewards.outcome_reward_tensor(scores, mask), scores=scores, group_ids=gids,
                                 prompt_len=P)
            adv, _ = grpo.compute_advantages(batch, acfg)
            grpo.update(policy, opt, batch, adv, None, acfg)
            with torch.no_grad():
                lp_after, _ = core.sequence_logprobs(policy, ids, attn, P, temperature=acfg.temperature)
            dseq, a = core.masked_sum(lp_after - lp, mask, dim=1), adv[:, 0]

            def mean_of(sel):
                return float(dseq[sel].mean()) if sel.any() else float("nan")

            print(f"step {step:3d} reward {float(scores.mean()):.3f} kl {float(core.masked_mean(lp - lp0, mask)):.3f} "
                  f"entropy {float(core.masked_mean(ent, mask)):.3f} dlogp A>0 {mean_of(a > 0):+.3f} "
                  f"A<0 {mean_of(a < 0):+.3f} A=0 {mean_of(a == 0):+.3f}", flush=True)
        if args.eval_samples:
            held_out(policy, tok, sandbox, test, args.eval_samples, "after")


if __name__ == "__main__":
    main()
