"""RL algorithms: one module per algorithm (``ppo``, ``grpo``, ``rloo``), shared math in ``core``.

Each algorithm module exposes the same two functions, so the trainer can pick one by name:

    compute_advantages(batch, cfg) -> (advantages [B,T], returns [B,T] or None)
    update(policy, optimizer, batch, advantages, returns, cfg, *, value_model=None,
           value_optimizer=None) -> dict of mean ``losses/*`` stats
"""
from __future__ import annotations

import importlib
from types import ModuleType

ALGOS = ("ppo", "grpo", "rloo")


def get_algo(name: str) -> ModuleType:
    """The algorithm module called ``name`` (ppo | grpo | rloo)."""
    if name not in ALGOS:
        raise ValueError(f"unknown algorithm {name!r}; expected one of {ALGOS}")
    return importlib.import_module(f"prmlab.algos.{name}")
