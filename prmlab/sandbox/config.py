"""Typed config of the sandbox (the ``sandbox:`` node). No torch import here."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass
class SandboxConfig:
    isolation: str = "auto"  # namespaces | process | auto (best the machine allows, logged)
    workers: int = 0  # worker processes; 0 = one per CPU core
    test_timeout: float = 2.0  # seconds of wall clock per test
    program_timeout: float = 10.0  # seconds of wall clock for all tests of one program
    memory_mb: int = 512  # address-space limit per program
    max_output_bytes: int = 65536  # stdout/stderr cap per program
    float_tol: float = 1e-6  # relative/absolute tolerance for numeric stdio/functional comparison
    cache_size: int = 100000  # entries of the (program, tests) dedupe cache; 0 disables it
    uid: Optional[int] = None  # unprivileged uid to run programs as (None = nobody when root)
