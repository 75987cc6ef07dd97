"""Where an RL step's wall time goes: the run summary's step-time breakdown.

A step has four timed phases and the rest:

    generate   sampling the step's rollouts from the policy
    execute    running them in the sandbox (verdicts)
    prm_score  the rewards: the outcome score and, under DenseReward, the PRM's forward over every
               sampled rollout (the outcome part is a few tensor ops, so without a PRM this is ~0)
    train      the update's batch (old/reference log-probs, critic values) and the update itself
    other      everything else in the step: drawing prompts, dynamic sampling's selection, metrics,
               logging and checkpoints

Each step's phases are logged as ``perf/time_<phase>``; the stage's sums go into its summary
(``<stage>/time_<phase>_s`` and ``<stage>/steps_timed``), which ``prmlab.run`` prints. Steps a resumed
run did not execute are not counted.
"""
from __future__ import annotations

import time

PHASES = ("generate", "execute", "prm_score", "train", "other")


class StepClock:
    """``start()`` at the top of a step, ``lap(phase)`` after each timed phase, ``stop()`` at its end."""

    def __init__(self) -> None:
        self.total = dict.fromkeys(PHASES, 0.0)
        self.steps = 0
        self.now = dict.fromkeys(PHASES, 0.0)  # the current step's phases
        self._t0 = self._t = 0.0

    def start(self) -> None:
        self.now = dict.fromkeys(PHASES, 0.0)
        self._t0 = self._t = time.perf_counter()

    def lap(self, phase: str) -> None:
        t = time.perf_counter()
        self.now[phase] += t - self._t
        self._t = t

    def step_metrics(self) -> dict:
        """``perf/time_<phase>`` of the timed phases so far (``other`` is known only at ``stop``)."""
        return {f"perf/time_{p}": self.now[p] for p in PHASES if p != "other"}

    def stop(self) -> None:
        self.now["other"] = time.perf_counter() - self._t0 - sum(self.now[p] for p in PHASES if p != "other")
        for p in PHASES:
            self.total[p] += self.now[p]
        self.steps += 1

    def summary(self, stage: str) -> dict:
        return {**{f"{stage}/time_{p}_s": round(self.total[p], 2) for p in PHASES}, f"{stage}/steps_timed": self.steps}


def breakdown_line(summary: dict, stage: str) -> str | None:
    """One line of the run summary: the stage's time per step by phase, with shares; None when the
    stage ran no timed step in this run (reused from the cache, or algo=none)."""
    n = summary.get(f"{stage}/steps_timed", 0)
    if not n:
        return None
    secs = {p: summary.get(f"{stage}/time_{p}_s", 0.0) for p in PHASES}
    total = sum(secs.values()) or 1e-9
    cells = "  ".join(f"{p} {secs[p] / n:.2f}s ({100 * secs[p] / total:.0f}%)" for p in PHASES)
    return f"  {stage} step {total / n:.2f}s over {n} steps: {cells}"
