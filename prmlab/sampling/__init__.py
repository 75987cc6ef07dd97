"""Batched sampling of responses, and their line structure.

``sample`` draws one response per prompt: a sequence finishes at EOS, at one of its problem's
stop strings (e.g. ``"\\ndef "``: the function body is over), or at ``max_new_tokens``, and each
response comes back as a ``Rollout`` with its text cut at the stop, its lines and the token that
ends each line. Two decode paths produce the tokens, with the same samples for the same seeds:

* ``prmlab.sampling.fast`` (``SamplingParams.fast``, the default) — an own GPT-2 / Llama forward
  over the model's weights with a preallocated KV cache; for any other architecture ``sample``
  falls back to
* ``prmlab.sampling.hf`` — the reference decode loop around the Hugging Face forward and its
  KV cache, which runs any causal LM.

Both draw their randomness from ``prmlab.sampling.noise``: row i's token at step t is the
Gumbel-max draw with noise ``hash(seed_i, t, token)``, so a row's sample depends only on its own
seed and logits, not on its batch or the number of data-parallel ranks. Line structure and stop
search live in ``prmlab.sampling.lines``.

Layout (imports go one way: the decode paths import ``noise``, ``lines`` and ``params``; this
module imports the decode paths and picks one per call):

    params.py  SamplingParams
    noise.py   the counter-based hash: mix, row_seeds, gumbel_noise, gumbel_at
    lines.py   split_lines, token_char_ends, line_end_tokens, first_stop
    hf.py      the HF decode path (filter_logits, decode_batch, batch_decoder)
    fast.py    the fast decode path (fast_lm, forward, choose, decode_batch, batch_decoder)
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Optional, Sequence

import torch

from prmlab.sampling import fast, hf
from prmlab.sampling.lines import first_stop, line_end_tokens, split_lines, token_char_ends
from prmlab.sampling.noise import row_seeds
from prmlab.sampling.params import SamplingParams
from prmlab.types import Rollout

__all__ = ["SamplingParams", "sample", "row_seeds", "split_lines", "token_char_ends", "line_end_tokens",
           "first_stop"]


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
    on_rollout: Optional[Callable[[int, Rollout], None]] = None,
) -> list[Rollout]:
    """Sample one response per entry of ``prompts`` (repeat a prompt to get several).

    A prompt is text, or already a list of token ids (PRM prefix checks continue from the
    response's own tokens so that BPE merges at the prefix boundary stay as sampled).

    With ``params.fast`` the fast decode path runs, for the architectures it supports (same
    samples for the same seeds); otherwise, and for any other model, the HF path, which stays
    the reference.

    ``on_rollout(i, rollout)`` is called once per prompt, with the rollout the result will hold
    at index ``i``: on the fast path as soon as the row ends (so a caller can execute it while the
    other rows are still decoded), else when its batch is done."""
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
    # A row never runs past the model's context: its budget is min(max_new_tokens, context - prompt).
    # Only PRM prefix checks get near it (prompt + a long response prefix + the completion); a row cut
    # there is a truncated response (finished=False), as one that hits max_new_tokens.
    ctx = context_length(model)
    budget = [params.max_new_tokens if ctx is None else max(0, min(params.max_new_tokens, ctx - len(p)))
              for p in prompt_ids]
    decoders: dict[int, tuple] = {}

    def decoder_for(n: int):
        if n not in decoders:
            pn = params if n == params.max_new_tokens else replace(params, max_new_tokens=n)
            d = fast.batch_decoder(model, tokenizer, prompt_ids, stops, pn) if pn.fast else None
            decoders[n] = d if d is not None else hf.batch_decoder(model, tokenizer, pn)
        return decoders[n]

    batch_size = decoder_for(params.max_new_tokens)[1]
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        for n in sorted({budget[i] for i in batch}, reverse=True):  # rows of one budget decode together
            idx = [i for i in batch if budget[i] == n]

            def finish(j: int, ids: list[int], lps: list[float], idx=idx, n=n) -> None:
                i = idx[j]
                out[i] = _make_rollout(tokenizer, problem_ids[i], prompt_ids[i], ids, lps, eos, stops[i], n)
                if on_rollout is not None:
                    on_rollout(i, out[i])

            if n == 0:
                gen, lps = [[] for _ in idx], [[] for _ in idx]
            else:
                gen, lps = decoder_for(n)[0]([prompt_ids[i] for i in idx], [stops[i] for i in idx],
                                             torch.tensor([seeds[i] for i in idx]),
                                             on_done=finish if on_rollout is not None else None)
            for j, i in enumerate(idx):
                if out[i] is None:  # not finished early (on_done)
                    finish(j, gen[j], lps[j])
        if progress is not None:
            progress.update(len(batch))
    return out  # type: ignore[return-value]


def context_length(model) -> Optional[int]:
    """The positions the model was built for (GPT-2 ``n_positions``, Llama ``max_position_embeddings``;
    a wrapper's ``.model`` is looked through), or None when it declares none."""
    for m in (model, getattr(model, "model", None)):
        cfg = getattr(m, "config", None)
        for key in ("n_positions", "max_position_embeddings"):
            v = getattr(cfg, key, None)
            if isinstance(v, int) and v > 0:
                return v
    return None


def _make_rollout(tokenizer, pid, prompt_ids, ids, lps, eos, stops, max_new) -> Rollout:
    finished = bool(ids) and ids[-1] == eos
    body_ids = ids[:-1] if finished else ids
    text = tokenizer.decode(body_ids, skip_special_tokens=False)
    cut = first_stop(text, stops) if stops else -1
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
