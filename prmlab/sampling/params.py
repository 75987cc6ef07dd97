"""Sampling parameters shared by both decode paths."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SamplingParams:
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_new_tokens: int = 128
    batch_size: int = 256
    fast: bool = True  # use the fast decode path where the architecture allows (GPT-2, Llama); else the HF path
