"""Counter-based randomness: the one hash behind every sampled token.

Row i draws its token at step t by the Gumbel-max trick with noise ``hash(seed_i, t, token)``,
so a sequence's sample depends only on its own seed and logits — not on which other sequences
share its batch, the batch size or the number of data-parallel ranks (a 2-process run samples
exactly what the 1-process run samples for the same seeds). Both decode paths draw their noise
from ``gumbel_at``: the HF path over the whole vocabulary (``gumbel_noise``), the fast path only
at the token ids its top-k/top-p filter keeps; being a pure function of (seed, step, token), the
noise at a token is the same either way.
"""
from __future__ import annotations

import torch

MASK62 = (1 << 62) - 1


def mix(x: torch.Tensor) -> torch.Tensor:
    """A splitmix-style integer hash on int64 tensors (kept non-negative by masking)."""
    x = (x ^ (x >> 31)) * 0x5BD1E9955BD1E995 & MASK62
    x = (x ^ (x >> 29)) * 0x27D4EB2F165667C5 & MASK62
    return x ^ (x >> 32)


def row_seeds(base: int, n: int) -> list[int]:
    """Distinct, well-mixed per-row seeds derived from one integer."""
    return mix(torch.arange(n, dtype=torch.long) + ((base * 0x3C6EF372FE94F82B) & MASK62) & MASK62).tolist()


def gumbel_at(seeds: torch.Tensor, step: int, tokens: torch.Tensor) -> torch.Tensor:
    """Gumbel(0, 1) noise at ``tokens`` ([V] shared by all rows, or [B, K] per row) for the rows
    of ``seeds`` [B]: a pure function of (seed_b, step, token), shape [B, V] or [B, K]."""
    x = mix(seeds[:, None] * 0x2545F4914F6CDD1D + ((step + 1) * 0x9E3779B97F4A7C1 & MASK62) & MASK62)
    tok = tokens if tokens.dim() == 2 else tokens[None, :]
    x = mix(x + tok * 0x632BE59BD9B4E019 & MASK62)
    u = ((x >> 9) & ((1 << 53) - 1)).double() / float(1 << 53)
    u = u.clamp(1e-12, 1 - 1e-12)
    return -torch.log(-torch.log(u)).float()


def gumbel_noise(seeds: torch.Tensor, step: int, vocab: int) -> torch.Tensor:
    """Gumbel(0, 1) noise [B, V] over every token id below ``vocab``."""
    return gumbel_at(seeds, step, torch.arange(vocab, device=seeds.device, dtype=torch.long))
