"""The pass-rate study's gradient analyses, as the ``gradients`` stage.

For each checkpoint of the baseline RL run and a batch of prompt groups sampled from it (G
responses per prompt, executed in the sandbox), for each outcome reward R in {binary, pass_rate}
and each critic-free baseline (GRPO, RLOO):

(a) *Gradient direction.* g_R = ∇θ Σ_i A_i log π(y_i) / n (the policy-gradient estimate of the
    batch), and g_full = ∇θ Σ_{i full-pass} log π(y_i) / n_full (the direction that raises the
    likelihood of the batch's full-pass responses). Reported: cos(g_R, g_full), and the change of
    the mean log-probability of the full-pass responses after one normalised step
    θ' = θ + η g_R / ||g_R|| (η = ``step_size``), the first-order question "does this update move
    probability mass toward full-pass solutions?" answered exactly rather than linearised.
(b) *Conflicting gradients.* Within each group, per-sample advantage-weighted gradients
    g_i = A_i ∇θ log π(y_i) of the *partial-pass* responses (0 < pass rate < 1): mean pairwise
    cosine, and the cancellation ratio ||Σ g_i|| / Σ ||g_i|| (1 = all aligned, → 0 = they cancel).
With a trained PRM upstream (a ``prm.credit`` run; ``prmlab.prm.credit``), (a) also covers the two
completability credits under each baseline: ``credit_shaped`` (the shaped binary reward, a sequence
score like the others) and ``credit_step`` (the binary advantage plus the per-token step credit,
g = [Σ_i A_i ∇log π(y_i) + ∇ Σ_{i,t} c_{i,t} log π(y_{i,t})] / n, one batch backward); (b) is not
computed for them (``credit_step``'s per-token weights would need a second per-sample pass; the
shaped reward's partial-pass set is the binary one's, all with A < 0).
(c) *Calibration* needs the PRM labelling and is computed in ``analysis`` from the prm_collect
    records: pass rate against the completable share of a failing response's lines, with
    Spearman's ρ (``calibration`` below is the function; the stage reports it when PRM labels
    are upstream).

Per-sample gradients are computed one response at a time (exact; the tiny models make this
cheap) and flattened over all policy parameters. Output: ``gradients.jsonl`` (one record per
checkpoint × reward × algorithm) plus ``groups.jsonl`` (per-group conflict figures).
"""
from __future__ import annotations

import itertools
import json
import logging
import random
from typing import Sequence

import torch

from prmlab.algos.core import group_advantages, rloo_advantages, sequence_logprobs
from prmlab.layout import LABELS_FILE, PROBLEMS_FILE, checkpoint_dirs, policy_dir
from prmlab.models import load_policy, load_tokenizer
from prmlab.prm.credit import credit_coef, shaped_bonus, step_credit_tensor
from prmlab.prm.data import read_labeled_jsonl
from prmlab.prm.use import load_prm, prm_line_scores
from prmlab.rl.batch import pad_batch
from prmlab.sampling import SamplingParams, sample
from prmlab.tasks import rl_problems
from prmlab.types import LabeledResponse

log = logging.getLogger(__name__)

OUTCOME_REWARDS = ("binary", "pass_rate")  # analysed on every checkpoint
CREDIT_REWARDS = ("credit_step", "credit_shaped")  # analysed too when a trained PRM is upstream


def _flat_grad(model, loss) -> torch.Tensor:
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, params)])


def per_sample_logprob_grads(model, ids, attn, mask, P) -> tuple[torch.Tensor, torch.Tensor]:
    """(log π(y_i) [B], ∇θ log π(y_i) [B, n_params]) one sample at a time."""
    lps, grads = [], []
    for b in range(ids.shape[0]):
        lp, _ = sequence_logprobs(model, ids[b : b + 1], attn[b : b + 1], P)
        seq_lp = (lp * mask[b : b + 1]).sum()
        grads.append(_flat_grad(model, seq_lp))
        lps.append(seq_lp.detach())
    return torch.stack(lps), torch.stack(grads)


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    na, nb = a.norm(), b.norm()
    if na == 0 or nb == 0:
        return float("nan")
    return float(a @ b / (na * nb))


def conflict_stats(g: torch.Tensor) -> dict:
    """Mean pairwise cosine and cancellation ratio ||Σ g_i|| / Σ ||g_i|| of the rows of ``g``."""
    norms = g.norm(dim=1)
    keep = norms > 0
    g, norms = g[keep], norms[keep]
    if g.shape[0] < 2:
        return {"n": int(g.shape[0]), "mean_cos": float("nan"), "cancel_ratio": float("nan")}
    cos = [cosine(g[i], g[j]) for i, j in itertools.combinations(range(g.shape[0]), 2)]
    return {"n": int(g.shape[0]), "mean_cos": sum(cos) / len(cos),
            "cancel_ratio": float(g.sum(0).norm() / norms.sum())}


def calibration(pass_rates: Sequence[float], progress: Sequence[float]) -> dict:
    """Spearman's ρ between test pass rate and progress toward full correctness."""
    from scipy.stats import spearmanr

    if len(pass_rates) < 3 or len(set(pass_rates)) < 2 or len(set(progress)) < 2:  # no ranking: undefined
        return {"spearman_rho": float("nan"), "p_value": float("nan"), "n": len(pass_rates)}
    res = spearmanr(pass_rates, progress)
    return {"spearman_rho": float(res.statistic), "p_value": float(res.pvalue), "n": len(pass_rates)}


def label_calibration(recs: Sequence[LabeledResponse]) -> dict:
    """``calibration`` over the failing labelled responses (those with lines): pass rate against
    progress, the completable share of lines m*/M (m* = -1, not searched, counts as 0)."""
    failing = [r for r in recs if r.category != "correct" and r.lines]
    return calibration([r.pass_rate for r in failing], [max(r.m_star, 0) / len(r.lines) for r in failing])


def _advantages(scores: torch.Tensor, group_ids: torch.Tensor, algo: str) -> torch.Tensor:
    return group_advantages(scores, group_ids, scale_by_std=True) if algo == "grpo" else rloo_advantages(scores, group_ids)


def analyse_checkpoint(policy_dir, problems, cfg, runtime, seed: int, step_size: float,
                       prm=None) -> tuple[list[dict], list[dict]]:
    """The records of one checkpoint; ``prm`` = (frozen PRM, its loss) adds the CREDIT_REWARDS."""
    g = cfg.gradients
    tokenizer = load_tokenizer(policy_dir)
    model = load_policy(policy_dir, runtime.device, torch.float32).eval()
    chosen = random.Random(seed).sample(problems, min(g.prompts, len(problems)))
    reps = [p for p in chosen for _ in range(g.group_size)]
    gen = torch.Generator(device=runtime.device).manual_seed(seed)
    params = SamplingParams(cfg.algo.temperature, cfg.algo.top_p, cfg.algo.top_k, cfg.algo.max_new_tokens,
                            fast=runtime.fast_sampler)
    rollouts = sample(model, tokenizer, [p.prompt for p in reps], params, stops=[p.stop for p in reps], generator=gen)
    verdicts = runtime.sandbox.evaluate(reps, [r.response for r in rollouts])
    ids, attn, mask, P = pad_batch(rollouts, tokenizer.pad_token_id)
    ids, attn, mask = ids.to(runtime.device), attn.to(runtime.device), mask.to(runtime.device)
    lps, G = per_sample_logprob_grads(model, ids, attn, mask, P)
    G = G.cpu()
    group_ids = torch.tensor([i for i in range(len(chosen)) for _ in range(g.group_size)])
    full = torch.tensor([v.all_passed for v in verdicts])
    rates = torch.tensor([v.pass_rate for v in verdicts])
    partial = (rates > 0) & (rates < 1)
    g_full = G[full].mean(0) if full.any() else torch.zeros(G.shape[1])
    records, groups = [], []
    base = {"n_samples": len(reps), "n_full_pass": int(full.sum()), "n_partial": int(partial.sum())}
    rewards = {"binary": full.float(), "pass_rate": rates.float()}
    step_g = {}
    if prm is not None:
        line_scores = prm_line_scores(prm[0], ids, attn, P, rollouts, prm[1])
        lines, passed, coef = [r.lines for r in rollouts], full.tolist(), credit_coef(cfg.get("prm", {}))
        rewards["credit_shaped"] = full.float() + shaped_bonus(line_scores, lines, passed, coef, 0.0, 1.0)
        credit = step_credit_tensor(line_scores, lines, [r.line_end_tokens for r in rollouts], passed, group_ids,
                                    mask.shape[1], coef).to(mask.device)
        lp, _ = sequence_logprobs(model, ids, attn, P)
        step_g["credit_step"] = _flat_grad(model, (credit * lp * mask).sum() / len(reps)).cpu()
        rewards["credit_step"] = full.float()  # its sequence part is the binary advantage
    for reward, algo in itertools.product(rewards, ("grpo", "rloo")):
        adv = _advantages(rewards[reward], group_ids, algo)
        g_r = (adv[:, None] * G).mean(0) + step_g.get(reward, 0.0)
        nonzero = (adv != 0) | ((credit.abs().sum(1) > 0).cpu() if reward in step_g else False)
        rec = dict(base, reward=reward, algo=algo, cos_to_full=cosine(g_r, g_full), grad_norm=float(g_r.norm()),
                   nonzero_adv_frac=float(nonzero.float().mean()))
        rec["delta_logp_full"] = _delta_full_logp(model, g_r, ids, attn, mask, P, full, step_size) if full.any() else float("nan")
        per_group = []
        for k in range(len(chosen) if reward in OUTCOME_REWARDS else 0):
            sel = (group_ids == k) & partial
            st = conflict_stats(adv[sel][:, None] * G[sel])
            if st["n"] >= 2:
                per_group.append(st)
                groups.append(dict(st, reward=reward, algo=algo, problem_id=chosen[k].id))
        for key in ("mean_cos", "cancel_ratio"):
            vals = [s[key] for s in per_group]
            rec[f"partial_{key}"] = sum(vals) / len(vals) if vals else float("nan")
        rec["n_conflict_groups"] = len(per_group)
        records.append(rec)
    return records, groups


@torch.no_grad()
def _delta_full_logp(model, direction, ids, attn, mask, P, full, step_size) -> float:
    """Mean change of log π(y) over full-pass responses after θ += step_size · d/||d||."""
    norm = direction.norm()
    if norm == 0:
        return 0.0
    params = [p for p in model.parameters() if p.requires_grad]
    before = ((sequence_logprobs(model, ids[full], attn[full], P)[0]) * mask[full]).sum(-1)
    offset = 0
    backup = [p.detach().clone() for p in params]
    for p in params:
        n = p.numel()
        p.add_(step_size * direction[offset : offset + n].view_as(p).to(p.device) / norm)
        offset += n
    after = ((sequence_logprobs(model, ids[full], attn[full], P)[0]) * mask[full]).sum(-1)
    for p, b in zip(params, backup):
        p.copy_(b)
    return float((after - before).mean())


def gradients_stage(ctx) -> dict:
    cfg, rt = ctx.cfg, ctx.runtime
    problems = rl_problems(ctx.inputs["tasks"] / PROBLEMS_FILE)
    prm = load_prm(ctx.inputs["prm_train"], rt.device, torch.float32) if "prm_train" in ctx.inputs else None
    all_recs, all_groups = [], []
    for c, d in enumerate(checkpoint_dirs(ctx.inputs["rl_baseline"])):
        recs, groups = analyse_checkpoint(policy_dir(d), problems, cfg, rt, cfg.seed * 31 + c, cfg.gradients.step_size,
                                          prm)
        for r in recs + groups:
            r["checkpoint"] = c
        all_recs += recs
        all_groups += groups
        for r in recs:
            ctx.tracker.log({f"grad/{r['reward']}_{r['algo']}/{k}": v for k, v in r.items()
                             if isinstance(v, float)}, step=c)
    with open(ctx.out / "gradients.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in all_recs)
    with open(ctx.out / "groups.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in all_groups)
    summary = {}
    for r in all_recs:
        for k in ("cos_to_full", "delta_logp_full", "partial_mean_cos", "partial_cancel_ratio"):
            summary.setdefault(f"grad/{r['reward']}_{r['algo']}/{k}", []).append(r[k])
    # mean over checkpoints of the defined values (NaN: e.g. no full-pass response at that checkpoint)
    out = {k: (sum(x for x in v if x == x) / n) if (n := sum(1 for x in v if x == x)) else float("nan")
           for k, v in summary.items()}
    if "prm_collect" in ctx.inputs:
        cal = label_calibration(read_labeled_jsonl(ctx.inputs["prm_collect"] / LABELS_FILE))
        out.update({f"grad/calibration_{k}": v for k, v in cal.items()})
    return out
