"""The ``eval`` stage and the pass@k metrics.

For every problem of the evaluated split, ``eval.n_samples`` responses are sampled (paper: 10 at
temperature 0.2, nucleus 0.95) and executed in the sandbox. pass@k is the unbiased estimator of
Chen et al. (2021), ``1 - C(n-c, k) / C(n, k)`` averaged over problems; pass@1 is reported
overall, by difficulty, by category and by response-length bucket (sample-level success rate
of responses whose token length falls in the bucket; edges from ``eval.length_edges``).
Every sample with its verdict goes to ``samples.jsonl``.
"""
from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from math import comb
from typing import Iterable, Sequence

import torch

from prmlab.models import load_policy, load_tokenizer
from prmlab.sampling import SamplingParams, sample
from prmlab.layout import PROBLEMS_FILE, SAMPLES_FILE, policy_dir
from prmlab.tasks import read_problems

log = logging.getLogger(__name__)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with ``c`` correct out of ``n`` samples."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def length_bucket(n_tokens: int, edges: Sequence[int]) -> str:
    lo = 0
    for e in edges:
        if n_tokens < e:
            return f"{lo}-{e}"
        lo = e
    return f"{lo}+"


def pass1_standard_errors(per_problem: Sequence[tuple[int, int]]) -> tuple[float, float]:
    """Standard errors of pass@1 = mean_i c_i / n_i over N problems, from (n_i, c_i) pairs.

    * sampling (the evaluation's own noise: the same problems, new responses):
      sqrt(sum_i p_i (1 - p_i) / (n_i - 1)) / N with p_i = c_i / n_i, the unbiased estimate of
      Var(c_i / n_i) = p (1 - p) / n_i for a problem solved with probability p; problems with one
      sample contribute nothing (no estimate of their variance).
    * problems (new problems from the same distribution, too): the standard error of the mean of
      the p_i, sd(p_i) / sqrt(N) with the N - 1 denominator.
    """
    N = len(per_problem)
    if N == 0:
        return float("nan"), float("nan")
    ps = [c / n for n, c in per_problem]
    var = sum(p * (1 - p) / (n - 1) for p, (n, _) in zip(ps, per_problem) if n > 1)
    mean = sum(ps) / N
    sd = math.sqrt(sum((p - mean) ** 2 for p in ps) / (N - 1)) if N > 1 else float("nan")
    return math.sqrt(var) / N, sd / math.sqrt(N)


def summarize(samples: Iterable[dict], ks: Sequence[int], edges: Sequence[int]) -> dict:
    """pass@k overall/by difficulty/by category, pass@1 by length bucket, and the standard errors of
    pass@1 (``pass1_standard_errors``), from sample records."""
    samples = list(samples)
    by_problem: dict[str, list[dict]] = defaultdict(list)
    for s in samples:
        by_problem[s["problem_id"]].append(s)
    out: dict[str, float] = {}
    groups: dict[str, list[list[dict]]] = defaultdict(list)
    for ss in by_problem.values():
        groups[""].append(ss)
        groups["/" + ss[0]["difficulty"]].append(ss)
        groups["/" + ss[0]["category"]].append(ss)
    for suffix, probs in sorted(groups.items()):
        for k in ks:
            vals = [pass_at_k(len(ss), sum(s["all_passed"] for s in ss), k) for ss in probs if len(ss) >= k]
            if vals:
                out[f"eval/pass@{k}{suffix}"] = sum(vals) / len(vals)
        out[f"eval/n_problems{suffix}"] = len(probs)
    counts = [(len(ss), sum(s["all_passed"] for s in ss)) for ss in groups[""]]
    if counts:
        out["eval/pass@1_se"], out["eval/pass@1_se_problems"] = pass1_standard_errors(counts)
    buckets: dict[str, list[bool]] = defaultdict(list)
    for s in samples:
        buckets[length_bucket(s["n_tokens"], edges)].append(s["all_passed"])
    for b, v in buckets.items():
        out[f"eval/pass@1/len_{b}"] = sum(v) / len(v)
        out[f"eval/n_samples/len_{b}"] = len(v)
    if samples:
        out["eval/pass_rate"] = sum(s["pass_rate"] for s in samples) / len(samples)
        out["eval/mean_tokens"] = sum(s["n_tokens"] for s in samples) / len(samples)
        out["eval/mean_lines"] = sum(s["n_lines"] for s in samples) / len(samples)
    return out


def generate_and_verify(policy_path, problems, n: int, params: SamplingParams, runtime, seed: int, desc: str):
    """Sample ``n`` responses per problem and execute them; returns (problems_rep, rollouts, verdicts)."""
    tokenizer = load_tokenizer(policy_path)
    model = load_policy(policy_path, runtime.device, runtime.dtype).eval()
    reps = [p for p in problems for _ in range(n)]
    gen = torch.Generator(device=runtime.device).manual_seed(seed)
    bar = runtime.progress(len(reps), desc)
    execution = runtime.execution()  # each response runs its tests while the rest decode
    rollouts = sample(model, tokenizer, [p.prompt for p in reps], params, stops=[p.stop for p in reps],
                      problem_ids=[p.id for p in reps], generator=gen, progress=bar,
                      on_rollout=execution.feed(reps))
    bar.close()
    verdicts = execution.verdicts()
    return reps, rollouts, verdicts


def eval_stage(ctx) -> dict:
    cfg, rt = ctx.cfg, ctx.runtime
    problems = read_problems(ctx.inputs["tasks"] / PROBLEMS_FILE, split=cfg.eval.split)
    params = SamplingParams(cfg.eval.temperature, cfg.eval.top_p, cfg.eval.top_k, cfg.eval.max_new_tokens,
                            cfg.eval.batch_size, fast=rt.fast_sampler)
    reps, rollouts, verdicts = generate_and_verify(policy_dir(ctx.inputs["policy"]), problems, cfg.eval.n_samples,
                                                   params, rt, cfg.seed, "eval")
    counters: dict[str, int] = defaultdict(int)
    with open(ctx.out / SAMPLES_FILE, "w") as f:
        samples = []
        for p, r, v in zip(reps, rollouts, verdicts):
            rec = {"problem_id": p.id, "sample": counters[p.id], "difficulty": p.difficulty, "category": p.category,
                   "response": r.response, "n_tokens": len(r.response_ids), "n_lines": len(r.lines),
                   "finished": r.finished, **v.to_dict()}
            counters[p.id] += 1
            samples.append(rec)
            f.write(json.dumps(rec) + "\n")
    metrics = summarize(samples, [k for k in cfg.eval.ks if k <= cfg.eval.n_samples], cfg.eval.length_edges)
    ctx.tracker.log(metrics, step=0)
    return metrics
