"""The ``prm_train`` stage: a scalar head scored at line-end tokens, fit to the line labels.

Input: the selected ``labels.jsonl``. Each response is tokenised as prompt + response (as in
SFT), line ends are mapped to tokens through character offsets (``prmlab.sampling.line_end_tokens``), and
the PRM's output at the line-end token of line j is trained toward label_j:

* ``prm.loss=mse`` (paper's choice): squared error to the label in {-1, 0, +1}; neutral lines are
  trained toward 0, so comments earn nothing (with ``prm.neutral_label`` on at collection).
* ``prm.loss=ce``: binary cross-entropy on completable vs not, on non-neutral lines only; the
  score used in RL is then ``2·sigmoid(logit) - 1`` so both losses give a PRM in [-1, 1]
  (``prm_meta.json`` records which transform applies; ``prmlab.prm.use.to_reward_scale``).

Initialisation (``prm.init``): ``value`` = the baseline run's value model (paper; a critic-free
GRPO/RLOO baseline has none, and ``sft`` is used instead, with a warning), ``sft`` = a fresh head
on the SFT policy's backbone, ``fresh`` = a randomly initialised backbone.
Held-out metrics on ``prm.val_fraction`` of the prompts: MSE, sign accuracy and AUC of
predicting completability (non-neutral lines), and a calibration table (score bins → observed
completable share), written to ``metrics.json`` and ``calibration.json``.
"""
from __future__ import annotations

import json
import logging
import random

import torch

from prmlab.layout import LABELS_FILE, PROBLEMS_FILE, policy_dir, prm_dir, value_dir
from prmlab.models import ScalarHeadModel, load_tokenizer
from prmlab.prm.data import read_labeled_jsonl
from prmlab.prm.use import to_reward_scale, write_prm_meta
from prmlab.sampling import line_end_tokens, token_char_ends
from prmlab.tasks import read_problems

log = logging.getLogger(__name__)


def encode(records, problems_by_id, tokenizer, max_len: int = 512):
    """(input_ids, positions of line ends, labels) per record; lines cut by max_len are dropped."""
    out = []
    for r in records:
        p = problems_by_id[r.problem_id]
        q = tokenizer(p.prompt, add_special_tokens=False)["input_ids"]
        a = tokenizer(r.response, add_special_tokens=False)["input_ids"]
        if not a:
            continue
        ends = line_end_tokens(r.response, token_char_ends(tokenizer, a, tokenizer.decode(a)))
        ids = (q + a)[:max_len]
        pos = [len(q) + t for t in ends]
        keep = [(x, l) for x, l in zip(pos, r.labels) if x < len(ids)]
        if keep:
            out.append((ids, [x for x, _ in keep], [l for _, l in keep]))
    return out


def _collate(batch, pad_id):
    L = max(len(ids) for ids, _, _ in batch)
    ids = torch.full((len(batch), L), pad_id, dtype=torch.long)
    attn = torch.zeros((len(batch), L), dtype=torch.long)
    for i, (x, _, _) in enumerate(batch):
        ids[i, : len(x)] = torch.tensor(x)
        attn[i, : len(x)] = 1
    rows = torch.tensor([i for i, (_, pos, _) in enumerate(batch) for _ in pos])
    cols = torch.tensor([p for _, pos, _ in batch for p in pos])
    labels = torch.tensor([float(l) for _, _, ls in batch for l in ls])
    return ids, attn, rows, cols, labels


def prm_loss(scores: torch.Tensor, labels: torch.Tensor, loss: str) -> torch.Tensor:
    if loss == "mse":
        return ((scores - labels) ** 2).mean()
    keep = labels != 0  # CE learns completability, which neutral lines do not have
    if not keep.any():
        return scores.sum() * 0.0
    return torch.nn.functional.binary_cross_entropy_with_logits(scores[keep], (labels[keep] > 0).float())


def auc(scores: list[float], positives: list[bool]) -> float:
    """Area under the ROC curve via the rank-sum (Mann-Whitney U) identity, ties averaged."""
    from scipy.stats import rankdata

    n_pos = sum(positives)
    n_neg = len(positives) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return (sum(r for r, y in zip(ranks, positives) if y) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


@torch.no_grad()
def evaluate_prm(model, data, pad_id, loss: str, device, bins: int = 5) -> tuple[dict, list[dict]]:
    model.eval()
    preds, labels = [], []
    for i in range(0, len(data), 64):
        ids, attn, rows, cols, lab = _collate(data[i : i + 64], pad_id)
        s = model(ids.to(device), attn.to(device)).float().cpu()[rows, cols]
        preds += to_reward_scale(s, loss).tolist()
        labels += lab.tolist()
    if not preds:
        return {}, []
    mse = sum((p - l) ** 2 for p, l in zip(preds, labels)) / len(preds)
    nz = [(p, l) for p, l in zip(preds, labels) if l != 0]
    metrics = {"prm/val_mse": mse, "prm/val_lines": len(preds)}
    if nz:
        metrics["prm/val_sign_acc"] = sum((p > 0) == (l > 0) for p, l in nz) / len(nz)
        metrics["prm/val_auc"] = auc([p for p, _ in nz], [l > 0 for _, l in nz])
    table = []
    edges = [-1 + 2 * k / bins for k in range(bins + 1)]
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = [l > 0 for p, l in nz if lo <= max(-1.0, min(1.0, p)) < hi or (hi == 1 and p >= 1)]
        table.append({"score_lo": lo, "score_hi": hi, "n": len(sel),
                      "completable_frac": (sum(sel) / len(sel)) if sel else None})
    return metrics, table


def init_model(cfg, ctx, device, dtype) -> ScalarHeadModel:
    if cfg.prm.init == "value":
        value = value_dir(ctx.inputs["rl_baseline"])
        if value.is_dir():
            return ScalarHeadModel.load(value, device, dtype)
        # A critic-free baseline (GRPO, RLOO) trains no value model; PPO's critic starts as a head on
        # the SFT backbone, so that is the nearest equivalent.
        log.warning("prm.init=value: the baseline has no value model (critic-free algorithm); "
                    "initialising the PRM from the SFT policy instead")
    if cfg.prm.init in ("sft", "value"):
        return ScalarHeadModel.from_causal_lm(policy_dir(ctx.inputs["sft"]), device, dtype)
    from transformers import AutoConfig, AutoModel

    torch.manual_seed(cfg.seed)
    backbone = AutoModel.from_config(AutoConfig.from_pretrained(policy_dir(ctx.inputs["sft"])))
    return ScalarHeadModel(backbone).to(device=device, dtype=dtype)


def prm_train_stage(ctx) -> dict:
    cfg, rt = ctx.cfg, ctx.runtime
    records = read_labeled_jsonl(ctx.inputs["prm_select"] / LABELS_FILE)
    problems = {p.id: p for p in read_problems(ctx.inputs["tasks"] / PROBLEMS_FILE)}
    tokenizer = load_tokenizer(policy_dir(ctx.inputs["sft"]))
    pids = sorted({r.problem_id for r in records})
    random.Random(cfg.seed).shuffle(pids)
    n_val = int(round(cfg.prm.val_fraction * len(pids)))
    val_ids = set(pids[:n_val]) if len(pids) > 1 else set()
    train = encode([r for r in records if r.problem_id not in val_ids], problems, tokenizer)
    val = encode([r for r in records if r.problem_id in val_ids], problems, tokenizer)
    model = init_model(cfg, ctx, rt.device, rt.dtype)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.prm.lr, weight_decay=0.0)
    rng = random.Random(cfg.seed)
    bs = cfg.prm.batch_size
    total = cfg.prm.epochs * ((len(train) + bs - 1) // bs)
    bar = rt.progress(total, "prm_train")
    step = 0
    for epoch in range(cfg.prm.epochs):
        rng.shuffle(train)
        model.train()
        for i in range(0, len(train), bs):
            ids, attn, rows, cols, lab = _collate(train[i : i + bs], tokenizer.pad_token_id)
            scores = model(ids.to(rt.device), attn.to(rt.device))[rows.to(rt.device), cols.to(rt.device)]
            loss = prm_loss(scores.float(), lab.to(rt.device), cfg.prm.loss)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            if step % 10 == 0:
                ctx.tracker.log({"losses/prm": loss.item(), "prm/epoch": epoch}, step=step)
            step += 1
            bar.update(1)
        if val:
            m, _ = evaluate_prm(model, val, tokenizer.pad_token_id, cfg.prm.loss, rt.device)
            ctx.tracker.log(m, step=step)
    bar.close()
    metrics, table = evaluate_prm(model, val, tokenizer.pad_token_id, cfg.prm.loss, rt.device) if val else ({}, [])
    metrics.update({"prm/train_responses": len(train), "prm/val_responses": len(val)})
    model.save(prm_dir(ctx.out))
    tokenizer.save_pretrained(prm_dir(ctx.out))
    write_prm_meta(prm_dir(ctx.out), cfg.prm.loss, cfg.prm.init)
    (ctx.out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    (ctx.out / "calibration.json").write_text(json.dumps(table, indent=1))
    return metrics
