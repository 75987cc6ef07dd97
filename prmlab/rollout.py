"""Batched sampling and the line structure of responses (DESIGN.md "Line steps").

Sampling is a lean decode loop over the model's KV cache: prompts are left-padded, position ids
follow the attention mask, each step samples one token per unfinished sequence with
temperature / top-k / top-p, and a sequence finishes at EOS, at one of its problem's stop strings
(e.g. ``"\\ndef "``: the function body is over), or at ``max_new_tokens``.

Line steps: a response is split on ``"\\n"``; the *line-end token* of line j is the token whose
character span covers that line's newline. Byte-level BPE merges a newline with the following
indentation (``"\\n    "`` is one token), so spans come from the tokenizer's decoded pieces, not
from counting newline tokens. A final line without a newline ends at the last response token.

Randomness is counter-based: row i draws its token at step t by the Gumbel-max trick with noise
``hash(seed_i, t, token)``, so a sequence's sample depends only on its own seed and logits — not
on which other sequences share its batch, the batch size or the number of data-parallel ranks
(a 2-process run samples exactly what the 1-process run samples for the same seeds).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import torch

from prmlab.types import Rollout


@dataclass
class SamplingParams:
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_new_tokens: int = 128
    batch_size: int = 256
    fast: bool = True  # use prmlab.fast_sampler where the architecture allows (GPT-2, Llama); else the HF path


def split_lines(response: str) -> list[str]:
    """Lines of a response; the empty string after a trailing newline is not a line."""
    lines = response.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def token_char_ends(tokenizer, ids: Sequence[int], text: Optional[str] = None) -> list[int]:
    """End offset (exclusive, in characters of ``decode(ids)``) of every token.

    Decoding token by token is exact for byte-level BPE on ASCII; when the pieces do not
    concatenate to the full decode (SentencePiece space markers, split UTF-8), fall back to
    decoding every prefix, which is exact for any tokenizer.
    """
    ids = list(ids)
    full = tokenizer.decode(ids, skip_special_tokens=False) if text is None else text
    pieces = [tokenizer.decode([i], skip_special_tokens=False) for i in ids]
    ends, n = [], 0
    for p in pieces:
        n += len(p)
        ends.append(n)
    if "".join(pieces) == full:
        return ends
    return [len(tokenizer.decode(ids[: i + 1], skip_special_tokens=False)) for i in range(len(ids))]


def line_end_tokens(response: str, char_ends: Sequence[int]) -> list[int]:
    """For each line of ``response``, the index of the token covering its newline."""
    out, tok, pos = [], 0, 0
    n_tok = len(char_ends)
    for line in split_lines(response):
        nl = pos + len(line)  # char index of this line's "\n" (== len(response) for an unterminated last line)
        if nl >= len(response):
            out.append(n_tok - 1)
            break
        while tok < n_tok - 1 and char_ends[tok] <= nl:
            tok += 1
        out.append(tok)
        pos = nl + 1
    return out


def _filter_logits(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
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


_MASK62 = (1 << 62) - 1


def _mix(x: torch.Tensor) -> torch.Tensor:
    """A splitmix-style integer hash on int64 tensors (kept non-negative by masking)."""
    x = (x ^ (x >> 31)) * 0x5BD1E9955BD1E995 & _MASK62
    x = (x ^ (x >> 29)) * 0x27D4EB2F165667C5 & _MASK62
    return x ^ (x >> 32)


def gumbel_noise(seeds: torch.Tensor, step: int, vocab: int) -> torch.Tensor:
    """Gumbel(0, 1) noise [B, V] that is a pure function of (seed_b, step, token)."""
    tok = torch.arange(vocab, device=seeds.device, dtype=torch.long)
    x = _mix(seeds[:, None] * 0x2545F4914F6CDD1D + ((step + 1) * 0x9E3779B97F4A7C1 & _MASK62) & _MASK62)
    x = _mix(x + tok[None, :] * 0x632BE59BD9B4E019 & _MASK62)
    u = ((x >> 9) & ((1 << 53) - 1)).double() / float(1 << 53)
    u = u.clamp(1e-12, 1 - 1e-12)
    return -torch.log(-torch.log(u)).float()


def row_seeds(base: int, n: int) -> list[int]:
    """Distinct, well-mixed per-row seeds derived from one integer."""
    return _mix(torch.arange(n, dtype=torch.long) + ((base * 0x3C6EF372FE94F82B) & _MASK62) & _MASK62).tolist()


def _first_stop(text: str, stops: Sequence[str]) -> int:
    cut = -1
    for s in stops:
        i = text.find(s)
        if i >= 0 and (cut < 0 or i < cut):
            cut = i
    return cut


@torch.no_grad()
def sample(
    model,
    tokenizer,
    prompts: Sequence[str | Sequence[int]],
    params: SamplingParams,
    *,
    stops: Optional[Sequence[Sequence[str]]] = None,
    problem_ids: Optional[Sequence[str]] = None,
    seeds: Optional[Sequence[int]] = None,
    generator: Optional[torch.Generator] = None,
    progress=None,
) -> list[Rollout]:
    """Sample one response per entry of ``prompts`` (repeat a prompt to get several).

    A prompt is text, or already a list of token ids (PRM prefix checks continue from the
    response's own tokens so that BPE merges at the prefix boundary stay as sampled).

    With ``params.fast`` the fast decode loop of ``prmlab.fast_sampler`` runs instead, for the
    architectures it supports (same samples for the same seeds); otherwise, and for any other
    model, the HF forward below, which stays the reference path."""
    if seeds is None:  # draw per-row seeds from the generator (or torch's global RNG)
        seeds = torch.randint(0, 1 << 62, (len(prompts),), generator=generator).tolist()
    stops = stops or [()] * len(prompts)
    problem_ids = problem_ids or [""] * len(prompts)
    prompt_ids = [list(p) if not isinstance(p, str) else tokenizer(p, add_special_tokens=False)["input_ids"]
                  for p in prompts]
    # Sort by prompt length so batches pad little; results are put back in input order.
    order = sorted(range(len(prompts)), key=lambda i: len(prompt_ids[i]))
    out: list[Optional[Rollout]] = [None] * len(prompts)
    eos = tokenizer.eos_token_id
    fast = None
    if params.fast:
        from prmlab.fast_sampler import batch_decoder  # imports this module: import here, not at the top

        fast = batch_decoder(model, tokenizer, prompt_ids, stops, params)
    if fast is not None:
        decode, batch_size = fast
    else:
        device = next(model.parameters()).device

        def decode(ids, row_stops, row_seeds):
            return _decode_batch(model, ids, params, eos, row_stops, tokenizer, device, row_seeds.to(device))

        batch_size = params.batch_size
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        gen, lps = decode([prompt_ids[i] for i in idx], [stops[i] for i in idx], torch.tensor([seeds[i] for i in idx]))
        for j, i in enumerate(idx):
            out[i] = _make_rollout(tokenizer, problem_ids[i], prompt_ids[i], gen[j], lps[j], eos, stops[i],
                                   params.max_new_tokens)
        if progress is not None:
            progress.update(len(idx))
    return out  # type: ignore[return-value]


def _decode_batch(model, prompt_ids, params, eos, stops, tokenizer, device, seeds):
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
    cur_ids, cur_pos = input_ids, pos
    temp = max(params.temperature, 1e-6)
    for t in range(params.max_new_tokens):
        out = model(input_ids=cur_ids, attention_mask=attn, position_ids=cur_pos, past_key_values=past, use_cache=True)
        past = out.past_key_values
        logits = out.logits[:, -1, :].float() / temp
        logp_all = logits.log_softmax(-1)
        if params.temperature <= 1e-6:
            nxt = logits.argmax(-1)
        else:
            # Gumbel-max over the filtered logits = a draw from the filtered softmax
            filtered = _filter_logits(logits, params.top_k, params.top_p)
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
                if stops[b] and _first_stop(texts[b][-64:], stops[b]) >= 0:
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


def _make_rollout(tokenizer, pid, prompt_ids, ids, lps, eos, stops, max_new) -> Rollout:
    finished = bool(ids) and ids[-1] == eos
    body_ids = ids[:-1] if finished else ids
    text = tokenizer.decode(body_ids, skip_special_tokens=False)
    cut = _first_stop(text, stops) if stops else -1
    if cut >= 0:
        # Keep the tokens up to the one that covers the stop string's first character.
        ends = token_char_ends(tokenizer, body_ids, text)
        keep = next(i for i, e in enumerate(ends) if e > cut) + 1 if cut < ends[-1] else len(body_ids)
        ids, lps = ids[:keep], lps[:keep]
        body_ids = ids
        text = text[:cut] + ("\n" if text[cut] == "\n" else "")
        finished = True
    else:
        finished = finished or len(ids) < max_new
    ends = token_char_ends(tokenizer, body_ids) if body_ids else []
    # EOS (when present) is the last response token; it carries no text but ends the last line.
    if len(ids) > len(body_ids):
        ends = ends + [ends[-1] if ends else 0]
    lines = split_lines(text)
    le = line_end_tokens(text, ends) if ids else []
    return Rollout(problem_id=pid, prompt_ids=list(prompt_ids), response_ids=list(ids), response=text, lines=lines,
                   line_end_tokens=le, logprobs=list(lps), finished=finished)
