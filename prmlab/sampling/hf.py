"""The reference decode path: a lean decode loop around the Hugging Face forward and its KV cache.

Prompts are left-padded, position ids follow the attention mask, each step samples one token
per unfinished sequence with temperature / top-k / top-p (Gumbel-max over the filtered logits,
with the counter-based noise of ``prmlab.sampling.noise``), and a sequence finishes at EOS, at
one of its problem's stop strings, or at ``max_new_tokens``. It runs any causal LM; the fast path
(``prmlab.sampling.fast``) must sample exactly what this path samples.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch

from prmlab.models import cache_keyword
from prmlab.sampling.lines import first_stop
from prmlab.sampling.noise import gumbel_noise
from prmlab.sampling.params import SamplingParams


def filter_logits(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """``logits`` with every token outside the top-k / top-p set at -inf."""
    if top_k and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, idx = torch.sort(logits, descending=True, dim=-1)
        probs = sorted_logits.softmax(-1)
        # drop a token when the mass *before* it already reaches top_p (the top token always stays)
        drop = (probs.cumsum(-1) - probs) >= top_p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, idx, sorted_logits)
    return logits


def batch_decoder(model, tokenizer, params: SamplingParams) -> tuple[Callable, int]:
    """``(decode(prompt_ids, stops, seeds, on_done=None) -> (tokens, logprobs), batch size)`` through
    the HF forward (the reference path: ``on_done`` is never called, every row is only returned)."""
    device = next(model.parameters()).device
    eos = tokenizer.eos_token_id

    def decode(ids, row_stops, seeds, on_done=None):
        return decode_batch(model, ids, params, eos, row_stops, tokenizer, device, seeds.to(device))

    return decode, params.batch_size


@torch.no_grad()
def decode_batch(model, prompt_ids: Sequence[Sequence[int]], params: SamplingParams, eos: Optional[int],
                 stops: Sequence[Sequence[str]], tokenizer, device, seeds: torch.Tensor
                 ) -> tuple[list[list[int]], list[list[float]]]:
    """Response token ids (up to and including EOS or the token completing a stop string) and
    their log-probs under the temperature-scaled softmax, for one batch."""
    B = len(prompt_ids)
    P = max(len(p) for p in prompt_ids)
    pad = eos if eos is not None else 0
    input_ids = torch.full((B, P), pad, dtype=torch.long)
    attn = torch.zeros((B, P), dtype=torch.long)
    for b, p in enumerate(prompt_ids):
        input_ids[b, P - len(p):] = torch.tensor(p)
        attn[b, P - len(p):] = 1
    input_ids, attn = input_ids.to(device), attn.to(device)
    pos = (attn.cumsum(-1) - 1).clamp(min=0)
    done = torch.zeros(B, dtype=torch.bool, device=device)
    gen = torch.full((B, params.max_new_tokens), pad, dtype=torch.long, device=device)
    lps = torch.zeros((B, params.max_new_tokens), device=device)
    lengths = torch.zeros(B, dtype=torch.long, device=device)
    texts = [""] * B
    has_stops = any(len(s) for s in stops)
    past = None
    kw = cache_keyword(model) or "past_key_values"  # `cache` in transformers >= 5.2x
    cur_ids, cur_pos = input_ids, pos
    temp = max(params.temperature, 1e-6)
    for t in range(params.max_new_tokens):
        out = model(input_ids=cur_ids, attention_mask=attn, position_ids=cur_pos, use_cache=True, **{kw: past})
        past = getattr(out, kw)
        logits = out.logits[:, -1, :].float() / temp
        logp_all = logits.log_softmax(-1)
        if params.temperature <= 1e-6:
            nxt = logits.argmax(-1)
        else:
            # Gumbel-max over the filtered logits = a draw from the filtered softmax
            filtered = filter_logits(logits, params.top_k, params.top_p)
            nxt = (filtered + gumbel_noise(seeds, t, filtered.shape[-1])).argmax(-1)
        nxt = torch.where(done, torch.full_like(nxt, pad), nxt)
        gen[:, t] = nxt
        lps[:, t] = logp_all.gather(-1, nxt[:, None]).squeeze(-1)
        lengths += (~done).long()
        finished = nxt == eos if eos is not None else torch.zeros_like(done)
        if has_stops:
            # Only a token that contains a newline can complete a stop string like "\ndef ".
            for b in (~done & ~finished).nonzero().flatten().tolist():
                piece = tokenizer.decode([int(nxt[b])])
                texts[b] += piece
                if stops[b] and first_stop(texts[b][-64:], stops[b]) >= 0:
                    finished[b] = True
        done = done | finished
        if bool(done.all()):
            break
        # finished rows keep decoding padding; their outputs are discarded, so attending to it is harmless
        attn = torch.cat([attn, torch.ones_like(attn[:, :1])], dim=1)
        cur_pos = attn.sum(-1, keepdim=True) - 1
        cur_ids = nxt[:, None]
    gen, lps, lengths = gen.cpu(), lps.cpu(), lengths.cpu()
    return [gen[b, : lengths[b]].tolist() for b in range(B)], [lps[b, : lengths[b]].tolist() for b in range(B)]
