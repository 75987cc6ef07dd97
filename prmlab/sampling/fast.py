"""The fast decode path for GPT-2 and Llama policies, with the semantics of the HF path.

The HF path (``prmlab.sampling.hf``) drives the Hugging Face model through its own KV cache; at
the tiny default's size (0.5M parameters, batch 64-256) a decode step costs little arithmetic,
and most of the time goes to per-step overhead around it: the module tree and mask construction
of every forward, ``DynamicCache`` growing by ``torch.cat`` (a copy of the whole cache per layer
per step), a ``tokenizer.decode`` per row per step for stop strings, and the full-vocabulary sort
of top-p. This module keeps the model's weights (read from the HF modules, never copied, so an
optimiser step is seen at once) and replaces the loop around them:

* **Own forward.** A functional GPT-2 / Llama forward over the HF parameters (``F.layer_norm`` /
  RMSNorm, fused QKV ``addmm`` exactly as HF's ``Conv1D``, rotary tables computed once per batch
  with the model's own ``inv_freq``) and ``scaled_dot_product_attention``.
* **Preallocated KV cache** ``[L, B, H_kv, S, D]`` for keys and values with ``S = prompt +
  max_new_tokens``; step t writes column ``P + t`` in place and attends to the prefix ``[:P+t+1]``
  through an additive key mask that hides left padding (a padded query may always see itself, so
  no softmax row is empty and no NaN can leak into the cache).
* **Shared prefill.** Rows with the same prompt (an RL step's group of G, the evaluation's n
  samples per problem) prefill it once, and copy its keys, values and last logits (``prefill``).
* **Compaction.** When at most 3/4 of the live rows are unfinished, the finished rows are dropped
  from the cache and the state (copying only the filled prefix), so late steps cost what the
  still-running rows need. Rows keep their own seeds and the step counter is global, so this
  changes no sample.
* **Stop strings without per-row decoding.** Every token's text comes from a table built once
  per tokenizer (``tokenizer.decode([id])``, the same per-token decode the HF path uses). A stop
  string can only complete at step t when its first character lies in a token at most
  ``len(stop) - 2`` characters before token t, so a vectorised filter (characters emitted since
  the last token holding a stop's first character) leaves few rows to check in Python, and those
  check only a short tail of their text.
* **Sampling touches only the kept tokens.** With top-k/top-p the logits are sorted once, the
  kept set is the same as ``hf.filter_logits`` keeps, and Gumbel noise is evaluated only at
  kept token ids (``noise.gumbel_at``: the noise is a pure function of (seed, step, token), so
  this is the same draw).

Equivalence with the HF path: the same prompts, parameters and seeds give the same ``Rollout``s
(tokens, text, lines, ``finished``), logprobs equal up to float rounding; greedy decoding is the
argmax of the same logits, and sampling uses the same counter-based noise, so the two paths
differ only where float rounding of the logits (different kernels) flips a near-tie — tested to
agree token for token on tiny GPT-2 and Llama models.

Unsupported models (other architectures, cross-attention, dynamic/long RoPE, sliding windows)
make ``fast_lm`` and ``batch_decoder`` return None: ``prmlab.sampling.sample`` then uses the HF path.
"""
from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F

from prmlab.sampling.lines import first_stop
from prmlab.sampling.noise import gumbel_at
from prmlab.sampling.params import SamplingParams

log = logging.getLogger(__name__)

COMPACT_BELOW = 0.75  # compact when at most this share of the live rows is still running
_STATIC_ROPE = ("default", "linear", "llama3")  # RoPE variants whose tables do not depend on length


@dataclass
class FastLM:
    """The tensors of a supported HF causal LM (views of its parameters, not copies)."""

    arch: str  # gpt2 | llama
    n_head: int
    n_kv_head: int
    head_dim: int
    embed: torch.Tensor  # [V, E] token embeddings
    pos_embed: Optional[torch.Tensor]  # [n_positions, E] (GPT-2) or None (Llama: rotary)
    layers: list[dict]  # per block: weights by role, plus attention ``scale``
    norm_w: torch.Tensor  # final norm
    norm_b: Optional[torch.Tensor]
    eps: float
    lm_head: torch.Tensor  # [V, E]
    act: Callable[[torch.Tensor], torch.Tensor]  # GPT-2 MLP activation
    inv_freq: Optional[torch.Tensor] = None  # Llama RoPE
    rope_scale: float = 1.0

    @property
    def dtype(self) -> torch.dtype:
        return self.embed.dtype

    @property
    def device(self) -> torch.device:
        return self.embed.device


def _unwrap(model):
    """The HF model inside a DistributedDataParallel wrapper (or the model itself)."""
    from torch.nn.parallel import DistributedDataParallel

    return model.module if isinstance(model, DistributedDataParallel) else model


def _gpt2_act(name: str, module) -> Callable:
    # The fused tanh GELU equals HF's "gelu_new" formula up to float rounding and is one kernel
    # instead of seven; other activations go through HF's own module.
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return lambda x: F.gelu(x, approximate="tanh")
    return module


def fast_lm(model) -> Optional[FastLM]:
    """The fast-path view of ``model``, or None when its architecture is not supported."""
    model = _unwrap(model)
    cfg = getattr(model, "config", None)
    kind = getattr(cfg, "model_type", None)
    try:
        if kind == "gpt2" and hasattr(model, "transformer"):
            return _gpt2(model)
        if kind == "llama" and hasattr(model, "model"):
            return _llama(model)
    except (AttributeError, KeyError, TypeError):  # an unexpected module layout: use the HF path
        return None
    return None


def _gpt2(model) -> Optional[FastLM]:
    cfg, tr = model.config, model.transformer
    if getattr(cfg, "add_cross_attention", False) or getattr(cfg, "reorder_and_upcast_attn", False):
        return None
    layers = []
    for h in tr.h:
        layers.append(dict(ln1_w=h.ln_1.weight, ln1_b=h.ln_1.bias, qkv_w=h.attn.c_attn.weight, qkv_b=h.attn.c_attn.bias,
                           o_w=h.attn.c_proj.weight, o_b=h.attn.c_proj.bias, ln2_w=h.ln_2.weight, ln2_b=h.ln_2.bias,
                           fc_w=h.mlp.c_fc.weight, fc_b=h.mlp.c_fc.bias, proj_w=h.mlp.c_proj.weight,
                           proj_b=h.mlp.c_proj.bias, scale=float(h.attn.scaling)))
    n_head = cfg.n_head
    return FastLM("gpt2", n_head, n_head, cfg.n_embd // n_head, tr.wte.weight, tr.wpe.weight, layers, tr.ln_f.weight,
                  tr.ln_f.bias, cfg.layer_norm_epsilon, model.get_output_embeddings().weight,
                  _gpt2_act(cfg.activation_function, tr.h[0].mlp.act))


def _llama(model) -> Optional[FastLM]:
    cfg, m = model.config, model.model
    rot = m.rotary_emb
    if getattr(rot, "rope_type", "default") not in _STATIC_ROPE or getattr(cfg, "sliding_window", None):
        return None
    if getattr(cfg, "hidden_act", "silu") != "silu" or getattr(cfg, "pretraining_tp", 1) != 1:
        return None
    layers = []
    for blk in m.layers:
        a, mlp = blk.self_attn, blk.mlp
        layers.append(dict(n1_w=blk.input_layernorm.weight, q_w=a.q_proj.weight, q_b=a.q_proj.bias,
                           k_w=a.k_proj.weight, k_b=a.k_proj.bias, v_w=a.v_proj.weight, v_b=a.v_proj.bias,
                           o_w=a.o_proj.weight, o_b=a.o_proj.bias, n2_w=blk.post_attention_layernorm.weight,
                           gate_w=mlp.gate_proj.weight, gate_b=mlp.gate_proj.bias, up_w=mlp.up_proj.weight,
                           up_b=mlp.up_proj.bias, down_w=mlp.down_proj.weight, down_b=mlp.down_proj.bias,
                           scale=float(a.scaling)))
    a0 = m.layers[0].self_attn
    n_head = cfg.num_attention_heads
    n_kv = getattr(cfg, "num_key_value_heads", None) or n_head
    return FastLM("llama", n_head, n_kv, a0.head_dim, m.embed_tokens.weight, None, layers, m.norm.weight, None,
                  cfg.rms_norm_eps, model.get_output_embeddings().weight, F.silu, rot.inv_freq,
                  float(getattr(rot, "attention_scaling", 1.0)))


# --------------------------------------------------------------------------------------------
# the forward pass


@dataclass
class KVCache:
    """Preallocated keys and values ``[L, B, H_kv, S, D]`` and the additive key mask ``[B, 1, 1, S]``."""

    k: torch.Tensor
    v: torch.Tensor
    key_bias: torch.Tensor  # 0 where a key may be attended to, -inf at left padding
    rope: Optional[tuple[torch.Tensor, torch.Tensor]] = None  # cos, sin tables [S, D] (Llama)

    def rows(self, sl: slice) -> "KVCache":
        """A view of some rows (writes go to this cache)."""
        return KVCache(self.k[:, sl], self.v[:, sl], self.key_bias[sl], self.rope)

    def select(self, keep: torch.Tensor, end: int) -> "KVCache":
        """A copy of the rows ``keep``; only the filled prefix ``[:end]`` is copied."""
        k = self.k.new_empty((self.k.shape[0], len(keep)) + self.k.shape[2:])
        v = torch.empty_like(k)
        k[:, :, :, :end] = self.k[:, keep, :, :end]
        v[:, :, :, :end] = self.v[:, keep, :, :end]
        return KVCache(k, v, self.key_bias[keep], self.rope)


def new_cache(lm: FastLM, batch: int, length: int, key_valid: torch.Tensor) -> KVCache:
    """An empty cache for ``batch`` rows of up to ``length`` positions; ``key_valid`` [B, P]
    marks the prompt's real (non-padding) tokens; positions after the prompt are all valid."""
    shape = (len(lm.layers), batch, lm.n_kv_head, length, lm.head_dim)
    P = key_valid.shape[1]
    k, v = torch.empty(shape, dtype=lm.dtype, device=lm.device), torch.empty(shape, dtype=lm.dtype, device=lm.device)
    # Padding columns may never be written (prefill skips what a whole chunk pads) but are read,
    # masked, by decode groups: they must hold finite numbers, since -inf + NaN is NaN.
    k[:, :, :, :P] = 0
    v[:, :, :, :P] = 0
    bias = torch.zeros((batch, 1, 1, length), dtype=lm.dtype, device=lm.device)
    bias[:, 0, 0, :P].masked_fill_(~key_valid, float("-inf"))
    rope = None
    if lm.inv_freq is not None:
        # the same float32 product HF's rotary module computes per position, tabulated once
        freqs = torch.arange(length, device=lm.device).float()[:, None] * lm.inv_freq.float().to(lm.device)[None]
        emb = torch.cat((freqs, freqs), dim=-1)
        rope = ((emb.cos() * lm.rope_scale).to(lm.dtype), (emb.sin() * lm.rope_scale).to(lm.dtype))
    return KVCache(k, v, bias, rope)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


def _rms(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    # HF LlamaRMSNorm: normalise in float32, cast back, then scale
    xf = x.float()
    return w * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)


def forward(lm: FastLM, ids: torch.Tensor, pos: torch.Tensor, cache: KVCache, start: int,
            groups: Optional[list[tuple[slice, int]]] = None, last_only: bool = True) -> torch.Tensor:
    """Float logits [B, V] (last position) or [B, T, V] for ``ids`` [B, T] at positions ``pos``.

    Their keys/values go to cache columns ``start .. start+T-1``. A block (T > 1, prefill) is
    the rows' first input and attends causally within itself. A decode step (T == 1) attends to
    columns ``[key_from, start]``, per group of rows ``(row slice, key_from)``: rows sorted by
    prompt length share long runs of leading padding, which a group then skips reading.
    """
    B, T = ids.shape
    end = start + T
    x = F.embedding(ids, lm.embed)
    if lm.pos_embed is not None:
        x = x + F.embedding(pos, lm.pos_embed)
    if T > 1:  # causal within the block; a (padding) query may always see itself, so no row is empty
        at = torch.arange(T, device=ids.device)
        causal = torch.zeros((T, T), dtype=lm.dtype, device=ids.device).masked_fill_(at[None] > at[:, None], float("-inf"))
        mask = (cache.key_bias[:, :, :, start:end] + causal).masked_fill_(torch.eye(T, dtype=torch.bool, device=ids.device), 0.0)
        attn = [(slice(None), start, mask)]
    else:
        attn = [(sl, k0, cache.key_bias[sl, :, :, k0:end]) for sl, k0 in (groups or [(slice(None), 0)])]
    rope = None
    if cache.rope is not None:
        rope = (cache.rope[0][pos][:, None], cache.rope[1][pos][:, None])  # [B, 1, T, D]
    block = _gpt2_block if lm.arch == "gpt2" else _llama_block
    for i, w in enumerate(lm.layers):
        x = block(lm, w, x, cache, i, start, attn, rope)
    if last_only:
        x = x[:, -1]
    if lm.arch == "gpt2":
        x = F.layer_norm(x, (x.shape[-1],), lm.norm_w, lm.norm_b, lm.eps)
    else:
        x = _rms(x, lm.norm_w, lm.eps)
    return F.linear(x, lm.lm_head).float()


def _attend(lm: FastLM, q, k, v, cache: KVCache, i: int, start: int, attn, scale: float):
    """Write the new keys/values into cache columns ``start..`` and attend, group by group."""
    B, _, T, _ = q.shape
    end = start + T
    cache.k[i, :, :, start:end] = k
    cache.v[i, :, :, start:end] = v
    extra = {"enable_gqa": True} if lm.n_kv_head != lm.n_head else {}
    if len(attn) == 1:
        sl, k0, mask = attn[0]
        o = F.scaled_dot_product_attention(q, cache.k[i, :, :, k0:end], cache.v[i, :, :, k0:end], attn_mask=mask,
                                           scale=scale, **extra)
    else:
        o = q.new_empty(q.shape)
        for sl, k0, mask in attn:
            o[sl] = F.scaled_dot_product_attention(q[sl], cache.k[i, sl, :, k0:end], cache.v[i, sl, :, k0:end],
                                                   attn_mask=mask, scale=scale, **extra)
    return o.transpose(1, 2).reshape(B, T, lm.n_head * lm.head_dim)


def _linear_t(x, w, b):
    """HF ``Conv1D``: ``addmm(bias, x, W)`` with W stored [in, out]."""
    return torch.addmm(b, x.reshape(-1, x.shape[-1]), w).view(*x.shape[:-1], w.shape[1])


def _gpt2_block(lm, w, x, cache, i, start, attn, rope):
    B, T, E = x.shape
    h = F.layer_norm(x, (E,), w["ln1_w"], w["ln1_b"], lm.eps)
    q, k, v = _linear_t(h, w["qkv_w"], w["qkv_b"]).view(B, T, 3, lm.n_head, lm.head_dim).permute(2, 0, 3, 1, 4)
    a = _attend(lm, q, k, v, cache, i, start, attn, w["scale"])
    x = x + _linear_t(a, w["o_w"], w["o_b"])
    h = F.layer_norm(x, (E,), w["ln2_w"], w["ln2_b"], lm.eps)
    return x + _linear_t(lm.act(_linear_t(h, w["fc_w"], w["fc_b"])), w["proj_w"], w["proj_b"])


def _llama_block(lm, w, x, cache, i, start, attn, rope):
    B, T, _ = x.shape
    h = _rms(x, w["n1_w"], lm.eps)
    q = F.linear(h, w["q_w"], w["q_b"]).view(B, T, lm.n_head, lm.head_dim).transpose(1, 2)
    k = F.linear(h, w["k_w"], w["k_b"]).view(B, T, lm.n_kv_head, lm.head_dim).transpose(1, 2)
    v = F.linear(h, w["v_w"], w["v_b"]).view(B, T, lm.n_kv_head, lm.head_dim).transpose(1, 2)
    q, k = _rotate(q, *rope), _rotate(k, *rope)
    a = _attend(lm, q, k, v, cache, i, start, attn, w["scale"])
    x = x + F.linear(a, w["o_w"], w["o_b"])
    h = _rms(x, w["n2_w"], lm.eps)
    return x + F.linear(F.silu(F.linear(h, w["gate_w"], w["gate_b"])) * F.linear(h, w["up_w"], w["up_b"]),
                        w["down_w"], w["down_b"])


@torch.no_grad()
def logits(model, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Optional[torch.Tensor]:
    """Logits [B, T, V] of a left-padded batch through the fast forward (None: unsupported);
    position ids follow the attention mask, as in the HF path."""
    lm = fast_lm(model)
    if lm is None:
        return None
    valid = attention_mask.bool()
    pos = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
    cache = new_cache(lm, input_ids.shape[0], input_ids.shape[1], valid)
    return forward(lm, input_ids, pos, cache, 0, last_only=False)


# --------------------------------------------------------------------------------------------
# sampling


def choose(logits: torch.Tensor, params: SamplingParams, seeds: torch.Tensor, step: int,
           vocab_ids: torch.Tensor) -> torch.Tensor:
    """Next tokens from temperature-scaled float logits [B, V], as the HF path draws them."""
    if params.temperature <= 1e-6:
        return logits.argmax(-1)
    V = logits.shape[-1]
    if not (params.top_k and params.top_k < V) and params.top_p >= 1.0:
        return (logits + gumbel_at(seeds, step, vocab_ids)).argmax(-1)
    # The kept set of hf.filter_logits, computed on one descending sort: top-k keeps every
    # logit >= the k-th, top-p then drops a token once the mass before it reaches top_p.
    vals, idx = torch.sort(logits, descending=True, dim=-1)
    if params.top_k and params.top_k < V:
        vals = vals.masked_fill(vals < vals[:, params.top_k - 1 : params.top_k], float("-inf"))
    if params.top_p < 1.0:
        probs = vals.softmax(-1)
        vals = vals.masked_fill((probs.cumsum(-1) - probs) >= params.top_p, float("-inf"))
    K = int(torch.isfinite(vals).sum(-1).max())  # kept tokens sit at the front of the sort
    vals, idx = vals[:, :K], idx[:, :K]
    pick = (vals + gumbel_at(seeds, step, idx)).argmax(-1, keepdim=True)
    return idx.gather(-1, pick).squeeze(-1)


@dataclass
class Vocab:
    """Every token's text as the HF path decodes it (``tokenizer.decode([id])``), its length, and,
    per set of stop-string first characters, which tokens contain one of them."""

    pieces: list[str]
    chars: torch.Tensor  # [V] long
    _hot: dict

    def hot(self, firsts: frozenset) -> torch.Tensor:
        if firsts not in self._hot:
            self._hot[firsts] = torch.tensor([any(c in p for c in firsts) for p in self.pieces], dtype=torch.bool)
        return self._hot[firsts]


_VOCABS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def vocab_of(tokenizer, size: int) -> Vocab:
    """The ``Vocab`` of ids below ``size``, built once per tokenizer (a large vocabulary takes
    a fraction of a second to decode piece by piece)."""
    try:
        v = _VOCABS.get(tokenizer)
    except TypeError:  # not weak-referenceable: build without caching
        v = None
    if v is None or len(v.pieces) < size:
        pieces = tokenizer.batch_decode([[i] for i in range(size)], skip_special_tokens=False)
        v = Vocab(pieces, torch.tensor([len(p) for p in pieces], dtype=torch.long), {})
        try:
            _VOCABS[tokenizer] = v
        except TypeError:
            pass
    return v


class _StopWatch:
    """Which rows completed one of their stop strings at this step (see module docstring)."""

    def __init__(self, stops: Sequence[Sequence[str]], vocab: Vocab, device: torch.device, n: int):
        self.stops = [list(s) for s in stops]
        self.pieces = vocab.pieces
        self.longest = max((len(s) for ss in self.stops for s in ss), default=0)
        self.hot = vocab.hot(frozenset(s[0] for ss in self.stops for s in ss if s)).to(device)
        self.chars = vocab.chars.to(device)
        # characters emitted since the last token holding a stop's first character
        self.gap = torch.full((n,), 1 << 30, dtype=torch.long, device=device)

    def select(self, keep: torch.Tensor) -> None:
        self.gap = self.gap[keep]

    def hits(self, nxt: torch.Tensor, live: torch.Tensor, rows: torch.Tensor, gen: torch.Tensor, t: int) -> torch.Tensor:
        """``live``: rows still running after this step's EOS check; returns a bool mask of the
        live rows whose text (tokens ``gen[row, :t+1]``) now contains one of their stops."""
        hot = self.hot[nxt]
        cand = live & (hot | (self.gap <= self.longest - 2))
        self.gap = torch.where(hot, torch.zeros_like(self.gap), self.gap + self.chars[nxt])
        out = torch.zeros_like(live)
        slots = cand.nonzero().flatten()
        if not len(slots):
            return out
        w = min(t + 1, self.longest + 1)
        in_rows = rows[slots]
        tails = gen[in_rows, t + 1 - w : t + 1].tolist()
        for slot, row, tail in zip(slots.tolist(), in_rows.tolist(), tails):
            if self.stops[row] and first_stop(self._tail_text(tail, gen, row, t), self.stops[row]) >= 0:
                out[slot] = True
        return out

    def _tail_text(self, tail: list[int], gen: torch.Tensor, row: int, t: int) -> str:
        """The last token's text plus at least ``longest - 1`` characters before it: enough to
        hold any stop that ends in the last token."""
        text = "".join(self.pieces[i] for i in tail)
        if len(text) - len(self.pieces[tail[-1]]) < self.longest - 1 and len(tail) < t + 1:
            # tokens that decode to "" (some SentencePiece pieces) made the window short
            text = "".join(self.pieces[i] for i in gen[row, : t + 1].tolist())
        return text


GROUP_ROWS = 16  # fewest rows per attention group / prefill chunk (each is one more kernel call)
MAX_GROUPS = 8


def _groups(first: list[int]) -> list[tuple[slice, int]]:
    """Consecutive row groups and the first key column any of their rows needs; ``first`` (the
    first real prompt column of each row) is sorted, so a group's rows pad alike."""
    n = len(first)
    size = max(GROUP_ROWS, -(-n // MAX_GROUPS))
    return [(slice(a, min(a + size, n)), min(first[a : a + size])) for a in range(0, n, size)]


def _worth_it(groups: list[tuple[slice, int]], end: int) -> Optional[list[tuple[slice, int]]]:
    """The groups when they skip at least a quarter of the key reads, else None (one call):
    an attention call has a fixed cost per (row, head), so splitting only pays for real padding."""
    n = groups[-1][0].stop
    read = sum((g.stop - g.start) * (end - k0) for g, k0 in groups)
    return groups if read <= 0.75 * n * end else None


def prefill(lm: FastLM, ids: torch.Tensor, pos: torch.Tensor, valid: torch.Tensor, first: list[int],
            prompts: list[tuple], cache: KVCache, share_prompts: bool = True) -> torch.Tensor:
    """Run the prompt columns ``ids`` [B, P] into ``cache``; the last column's float logits [B, V].

    Chunk by chunk (``_groups``), each from its own longest prompt on: the columns before hold only
    padding. With ``share_prompts``, rows with the same prompt (``prompts``: each slot's token
    ids; an RL step samples a group of G responses per prompt, the evaluation n per problem) run
    once, into a cache of the distinct prompts, and every row then copies its prompt's keys,
    values and logits: the same numbers at 1/G of the prefill's work.
    """
    index: dict[tuple, int] = {}  # distinct prompt -> its row in the shared prefill
    lead, of_slot = [], []  # the first slot of each distinct prompt; each slot's distinct prompt
    for j, p in enumerate(prompts):
        if p not in index:
            index[p] = len(lead)
            lead.append(j)
        of_slot.append(index[p])
    if not share_prompts or len(lead) == len(prompts):
        return torch.cat([forward(lm, ids[sl, k0:], pos[sl, k0:], cache.rows(sl), k0) for sl, k0 in _groups(first)])
    u_first = [first[j] for j in lead]  # sorted, as slots are: _groups' requirement
    lead = torch.tensor(lead, device=ids.device)
    inverse = torch.tensor(of_slot, device=ids.device)
    P = ids.shape[1]
    shared = new_cache(lm, len(lead), P, valid[lead])
    u_ids, u_pos = ids[lead], pos[lead]
    logit = torch.cat([forward(lm, u_ids[sl, k0:], u_pos[sl, k0:], shared.rows(sl), k0) for sl, k0 in _groups(u_first)])
    cache.k[:, :, :, :P] = shared.k[:, inverse]
    cache.v[:, :, :, :P] = shared.v[:, inverse]
    return logit[inverse]


@torch.no_grad()
def decode_batch(lm: FastLM, prompt_ids: list[list[int]], params: SamplingParams, eos: Optional[int],
                 stops: Sequence[Sequence[str]], vocab: Optional[Vocab], seeds: torch.Tensor,
                 on_done: Optional[Callable[[int, list[int], list[float]], None]] = None,
                 share_prompts: bool = True) -> tuple[list[list[int]], list[list[float]]]:
    """Response token ids and their log-probs for one batch (the contract of ``hf.decode_batch``).
    ``on_done(row, ids, logprobs)`` is called for each row that ends early (EOS or a stop string)
    the moment it does, with what the return value will hold for it; rows that run to
    ``max_new_tokens`` are only returned. ``share_prompts``: prefill each distinct prompt once
    (``prefill``)."""
    device = lm.device
    B, N = len(prompt_ids), params.max_new_tokens
    P = max(len(p) for p in prompt_ids)
    pad = eos if eos is not None else 0
    # Slots hold the rows longest prompt first, so that neighbouring slots pad alike.
    order = sorted(range(B), key=lambda b: -len(prompt_ids[b]))
    first = [P - len(prompt_ids[b]) for b in order]  # first real column of each slot
    ids = torch.full((B, P), pad, dtype=torch.long)
    valid = torch.zeros((B, P), dtype=torch.bool)
    for j, b in enumerate(order):
        ids[j, first[j]:] = torch.tensor(prompt_ids[b], dtype=torch.long)
        valid[j, first[j]:] = True
    ids, valid = ids.to(device), valid.to(device)
    pos = (valid.long().cumsum(-1) - 1).clamp(min=0)
    cache = new_cache(lm, B, P + N, valid)
    logit = prefill(lm, ids, pos, valid, first, [tuple(prompt_ids[b]) for b in order], cache, share_prompts)
    gen = torch.full((B, N), pad, dtype=torch.long, device=device)
    lps = torch.zeros((B, N), device=device)
    lengths = torch.full((B,), N, dtype=torch.long)
    rows = torch.tensor(order, device=device)  # slot -> input row
    seeds = seeds.to(device)[rows]
    watch = _StopWatch(stops, vocab, device, B) if vocab is not None and any(len(s) for s in stops) else None
    vocab_ids = torch.arange(lm.lm_head.shape[0], device=device)
    temp = max(params.temperature, 1e-6)
    nxt_pos = pos[:, -1:] + 1
    running = torch.ones(B, dtype=torch.bool, device=device)  # per slot
    groups = _groups(first)
    for t in range(N):
        logit = logit / temp
        nxt = choose(logit, params, seeds, t, vocab_ids)
        # slots of finished rows that are not compacted away yet write past their row's length,
        # which the final slicing drops
        gen[rows, t] = nxt
        lps[rows, t] = logit.gather(-1, nxt[:, None]).squeeze(-1) - torch.logsumexp(logit, -1)
        done = running & (nxt == eos) if eos is not None else torch.zeros_like(running)
        if watch is not None:
            done |= watch.hits(nxt, running & ~done, rows, gen, t)
        if bool(done.any()):
            lengths[rows[done].cpu()] = t + 1
            running &= ~done
            if on_done is not None:
                for b in rows[done].tolist():
                    on_done(b, gen[b, : t + 1].tolist(), lps[b, : t + 1].tolist())
        n_running = int(running.sum())
        if n_running == 0 or t == N - 1:
            break
        if n_running <= COMPACT_BELOW * len(rows):
            keep = running.nonzero().flatten()
            cache = cache.select(keep, P + t)
            rows, seeds, nxt, nxt_pos, running = rows[keep], seeds[keep], nxt[keep], nxt_pos[keep], running[keep]
            first = [first[j] for j in keep.tolist()]
            groups = _groups(first)
            if watch is not None:
                watch.select(keep)
        logit = forward(lm, nxt[:, None], nxt_pos, cache, P + t, _worth_it(groups, P + t + 1))
        nxt_pos = nxt_pos + 1
    gen, lps = gen.cpu(), lps.cpu()
    return [gen[b, : lengths[b]].tolist() for b in range(B)], [lps[b, : lengths[b]].tolist() for b in range(B)]


MEMORY_SHARE = 0.5  # share of the GPU's free memory one sampling batch may take


def memory_aware_batch(lm: FastLM, requested: int, length: int, free_bytes: Optional[int] = None) -> int:
    """The largest batch <= ``requested`` whose KV cache and logits fit in MEMORY_SHARE of the
    device's free memory (CUDA; on CPU the request stands, unless ``free_bytes`` is given).

    Per row: keys and values ``2 * layers * kv_heads * length * head_dim`` elements of the cache's
    dtype, plus a few float32 copies of the vocabulary-sized logits (sort, softmax, noise)."""
    if free_bytes is None:
        if lm.device.type != "cuda":
            return requested
        free_bytes = torch.cuda.mem_get_info(lm.device)[0]
    elem = torch.finfo(lm.dtype).bits // 8
    per_row = 2 * len(lm.layers) * lm.n_kv_head * length * lm.head_dim * elem + 4 * lm.lm_head.shape[0] * 4
    fit = max(1, int(free_bytes * MEMORY_SHARE) // per_row)
    if fit < requested:
        log.info("sampling batch %d -> %d rows to fit %.1f GiB free", requested, fit, free_bytes / 2**30)
    return min(requested, fit)


def batch_decoder(model, tokenizer, prompt_ids: Sequence[Sequence[int]], stops: Sequence[Sequence[str]],
                  params: SamplingParams) -> Optional[tuple[Callable, int]]:
    """``(decode(prompt_ids, stops, seeds, on_done=None) -> (tokens, logprobs), batch size)`` through the fast
    path (the contract of ``hf.batch_decoder``), or None when the model's architecture is not
    supported."""
    lm = fast_lm(model)
    if lm is None:
        return None
    vocab = vocab_of(tokenizer, lm.lm_head.shape[0]) if any(len(s) for s in stops) else None
    longest = max((len(p) for p in prompt_ids), default=0) + params.max_new_tokens
    eos = tokenizer.eos_token_id

    def decode(ids, row_stops, seeds, on_done=None):
        return decode_batch(lm, ids, params, eos, row_stops, vocab, seeds, on_done)

    return decode, memory_aware_batch(lm, params.batch_size, longest)
