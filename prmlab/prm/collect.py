"""The ``prm_collect`` stage: sample from the baseline's C checkpoints and label every line.

For each checkpoint c (evenly spaced through the baseline RL run) and each training prompt
(``prm.max_prompts`` of them, seeded choice), sample N responses, execute them, and label the
failing ones with ``label.label_responses``. A prefix check continues *the response's own tokens*
up to and including the line-end token of line m (not a re-tokenisation of the prefix text: a BPE
tokenizer merges the newline with the next line's indentation, and re-tokenising would hand the
model a token sequence it never produced). K completions are sampled from the same checkpoint at
the RL sampling settings (at ``prm.completion_temperature`` when set: the papers leave it open),
executed as ``code_prefix + prefix + completion``, and the prefix is completable when any passes
all tests (best-of-K).

All prefix checks of a search round, over all responses of the checkpoint, go to the sampler and
the sandbox as one batch. Cost counters per response: prefix checks, completions, executions
(the response itself plus its completions) and generated tokens (response plus completions).
Output: ``labels.jsonl`` (schema: ``prmlab.types.LabeledResponse``, file format in ``data.py``).
"""
from __future__ import annotations

import dataclasses
import logging
import random
from collections import Counter

import torch

from prmlab.layout import LABELS_FILE, PROBLEMS_FILE, checkpoint_dirs, policy_dir
from prmlab.models import load_policy, load_tokenizer
from prmlab.prm.data import category_counts, write_labeled_jsonl
from prmlab.prm.label import SearchItem, assign_prompt_categories, label_responses
from prmlab.sampling import SamplingParams, sample
from prmlab.tasks import rl_problems
from prmlab.types import LabeledResponse

log = logging.getLogger(__name__)


def collect_checkpoint(c: int, policy_dir, problems, cfg, runtime, seed: int) -> list[LabeledResponse]:
    pcfg, acfg = cfg.prm, cfg.algo
    tokenizer = load_tokenizer(policy_dir)
    policy = load_policy(policy_dir, runtime.device, runtime.dtype).eval()
    params = SamplingParams(acfg.temperature, acfg.top_p, acfg.top_k, acfg.max_new_tokens, batch_size=512,
                            fast=runtime.fast_sampler)
    # the prefix checks' completions: the same settings, at prm.completion_temperature when it is set
    t_c = pcfg.get("completion_temperature")
    comp_params = params if t_c is None else dataclasses.replace(params, temperature=t_c)
    gen = torch.Generator(device=runtime.device).manual_seed(seed * 7919 + c)
    reps = [p for p in problems for _ in range(pcfg.samples_per_prompt)]
    execution = runtime.execution()  # each response runs its tests while the rest decode
    rollouts = sample(policy, tokenizer, [p.prompt for p in reps], params, stops=[p.stop for p in reps],
                      problem_ids=[p.id for p in reps], generator=gen,
                      on_rollout=execution.feed(reps))
    verdicts = execution.verdicts()
    cost = Counter()
    K = pcfg.completions
    bar = runtime.progress(0, f"prm_collect c{c}")

    def check(requests: list[tuple[int, int]]) -> list[bool]:
        prompts, probs, heads = [], [], []
        for i, m in requests:
            r = rollouts[i]
            upto = r.line_end_tokens[m - 1] + 1  # tokens of lines 1..m (and the next line's indentation)
            head = tokenizer.decode(r.response_ids[:upto], skip_special_tokens=True)
            for _ in range(K):
                prompts.append(r.prompt_ids + r.response_ids[:upto])
                probs.append(reps[i])
                heads.append(head)
        bar.total = (bar.total or 0) + len(prompts)
        runs = runtime.execution()
        comps = sample(policy, tokenizer, prompts, comp_params, stops=[p.stop for p in probs], generator=gen, progress=bar,
                       on_rollout=runs.feed(probs, heads))
        vs = runs.verdicts()
        out = []
        for j, (i, m) in enumerate(requests):
            cost[("completions", i)] += K
            cost[("executions", i)] += K
            cost[("tokens", i)] += sum(len(cp.response_ids) for cp in comps[j * K : (j + 1) * K])
            out.append(any(v.all_passed for v in vs[j * K : (j + 1) * K]))
        return out

    items = [SearchItem(i, r.lines, v.all_passed) for i, (r, v) in enumerate(zip(rollouts, verdicts))]
    results = label_responses(items, check, search=pcfg.search, neutral_label=pcfg.neutral_label,
                              skip_neutral=pcfg.skip_neutral)
    bar.close()
    records = []
    for res, r, v, p in zip(results, rollouts, verdicts, reps):
        i = res.response_index
        records.append(LabeledResponse(
            problem_id=p.id, checkpoint=c, response=r.response, lines=r.lines, labels=res.labels,
            first_error_line=res.first_error_line, category=res.category, n_prefix_checks=res.n_prefix_checks,
            n_completions=cost[("completions", i)], n_executions=1 + cost[("executions", i)],
            generated_tokens=len(r.response_ids) + cost[("tokens", i)], pass_rate=v.pass_rate,
            difficulty=p.difficulty, m_star=res.m_star, monotone=res.monotone, completable=res.completable))
    return records


def prm_collect_stage(ctx) -> dict:
    cfg, rt = ctx.cfg, ctx.runtime
    problems = rl_problems(ctx.inputs["tasks"] / PROBLEMS_FILE)
    if cfg.prm.max_prompts and cfg.prm.max_prompts < len(problems):
        problems = random.Random(cfg.seed).sample(problems, cfg.prm.max_prompts)
    records: list[LabeledResponse] = []
    for c, d in enumerate(checkpoint_dirs(ctx.inputs["rl_baseline"])):
        recs = collect_checkpoint(c, policy_dir(d), problems, cfg, rt, cfg.seed)
        records += recs
        ctx.tracker.log({f"prm/collect_c{c}_{k[4:]}": v for k, v in category_counts(recs).items()}, step=c)
    records = assign_prompt_categories(records)
    write_labeled_jsonl(ctx.out / LABELS_FILE, records)
    summary = {f"prm_collect/{k[4:]}": v for k, v in category_counts(records).items()}
    failing = [r for r in records if r.category != "correct"]
    n = max(1, len(failing))
    summary.update({
        "prm_collect/executions_per_labelled": sum(r.n_executions for r in failing) / n,
        "prm_collect/tokens_per_labelled": sum(r.generated_tokens for r in failing) / n,
        "prm_collect/checks_per_labelled": sum(r.n_prefix_checks for r in failing) / n,
        # the regime figures: how much of the failing data carries line-level signal. Under binary
        # search the two are one number (a monotone result is revised iff m* >= 1); linear search
        # can mark a later prefix completable after an earlier one failed (m* = 0, yet revised)
        "prm_collect/revised_share_of_failing": sum(r.category == "revised" for r in failing) / n,
        "prm_collect/mstar_positive_share_of_failing": sum((r.m_star or 0) > 0 for r in failing) / n,
        "prm_collect/search": cfg.prm.search,
    })
    if cfg.prm.search == "linear":
        summary["prm_collect/non_monotone_frac"] = sum(r.monotone is False for r in failing) / n
    return summary
