"""Executing generated programs against unit tests: isolation, limits, result protocol, pool, cache.

    from prmlab.sandbox import Sandbox, SandboxConfig, SandboxUnavailable
    with Sandbox(SandboxConfig(isolation="auto")) as sb:
        verdicts = sb.evaluate(problems, responses)   # list[Verdict], same order
        sb.isolation, sb.stats()

Isolation (details and guarantees in ``pool``'s docstring): ``auto`` means Linux namespaces
(bubblewrap) or ``SandboxUnavailable``, a ``PrmlabError`` saying how to get them; it never falls
back to the weaker ``process`` level, which must be asked for explicitly.

Importing this package never imports torch (the workers are separate fresh interpreters).
Modules: ``pool`` (Sandbox), ``worker`` (what runs inside the sandbox), ``compare`` (pass/fail in
the parent), ``config`` (SandboxConfig), ``__main__`` (the CLI).
"""
from prmlab.sandbox.config import SandboxConfig
from prmlab.sandbox.pool import Sandbox, SandboxUnavailable

__all__ = ["Sandbox", "SandboxConfig", "SandboxUnavailable"]
