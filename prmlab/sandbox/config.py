"""Typed config of the sandbox (the ``sandbox:`` node). No torch import here.

Defaults suit RL on generated code: short per-test timeouts (a tiny model writes many infinite
loops), one worker per core, a large dedupe cache (groups of samples repeat a lot).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from prmlab.rules import choice_of, nonneg, positive


@dataclass
class SandboxConfig:
    isolation: str = choice_of("auto", "prmlab.sandbox.pool:ISOLATION_LEVELS")  # namespaces | process | auto (namespaces, else an error; never process)
    workers: int = nonneg(0)  # worker processes; 0 = one per CPU core
    # Generated code often loops forever, and one looping sample holds a worker for the whole program
    # timeout: RL steps on the synthetic suite (tests run in microseconds) spent ~20% of their time
    # waiting on 10 s program timeouts, and still a third of their execute time on 4 s ones (a correct
    # program's test takes microseconds). Raise both for heavier sources (LiveCodeBench stdio: e.g. 6 / 30).
    test_timeout: float = positive(0.5)  # seconds of wall clock per test
    program_timeout: float = positive(1.0)  # seconds of wall clock for all tests of one program
    memory_mb: int = positive(512)  # address-space limit per program
    max_output_bytes: int = positive(65536)  # stdout cap per stdio run (more fails the test; stderr is discarded)
    float_tol: float = nonneg(1e-6)  # relative/absolute tolerance for numeric stdio/functional comparison
    cache_size: int = nonneg(100000)  # entries of the (program, tests) dedupe cache; 0 disables it (and in-batch dedupe)
    uid: Optional[int] = nonneg(None)  # unprivileged uid to run programs as (None = nobody when root)
    max_result_bytes: int = positive(4194304)  # cap on the encoded size of a program's return values (all tests)
    max_processes: int = positive(256)  # RLIMIT_NPROC of the program uid (counts all its processes/threads on the host)
    file_size_mb: int = positive(16)  # RLIMIT_FSIZE: largest file a program may write
    open_files: int = positive(64)  # RLIMIT_NOFILE of a program
    tmpfs_mb: int = positive(64)  # namespaces: size of each worker's private /tmp, where programs' temp dirs live
    hide_paths: List[str] = field(default_factory=list)  # namespaces: more host paths to hide from programs
