"""prm_collect's prefix checks: what they sample with (the sampler, the model and the sandbox stubbed)."""
from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from prmlab.prm import collect
from prmlab.types import Problem, Rollout, TestCase as Case, TestOutcome as Outcome, Verdict

LINES = ["    a = 1", "    b = 2", "    return a + b"]


def _rollout(pid: str) -> Rollout:
    return Rollout(problem_id=pid, prompt_ids=[1, 2], response_ids=[5, 6, 7], response="\n".join(LINES) + "\n",
                   lines=LINES, line_end_tokens=[0, 1, 2])


class _Execution:
    """The sandbox's stream: every response fails, every completion passes."""

    def __init__(self, passing: bool):
        self.passing, self.n = passing, 0

    def feed(self, probs, heads=None):
        def on_rollout(row, rollout):
            self.n += 1
        return on_rollout

    def verdicts(self):
        return [Verdict([Outcome(self.passing)]) for _ in range(self.n)]


@pytest.mark.parametrize("completion_temperature,want", [(None, 1.0), (0.4, 0.4)])
def test_prefix_checks_sample_at_the_completion_temperature(monkeypatch, completion_temperature, want):
    temps = []  # the temperature of every sample() call: the responses', then the prefix checks'

    def fake_sample(policy, tokenizer, prompts, params, **kw):
        temps.append(params.temperature)
        rollouts = [_rollout("p") for _ in prompts]
        for i, r in enumerate(rollouts):
            kw["on_rollout"](i, r)
        return rollouts

    calls = []

    class _Runtime:
        device, dtype, fast_sampler = torch.device("cpu"), torch.float32, True

        def execution(self):
            calls.append(0)
            return _Execution(passing=len(calls) > 1)  # the first stream runs the responses

        def progress(self, total, desc):
            return type("Bar", (), {"total": 0, "close": lambda self: None})()

    monkeypatch.setattr(collect, "sample", fake_sample)
    tokenizer = type("Tok", (), {"decode": lambda self, ids, skip_special_tokens=True: "x" * len(ids)})()
    monkeypatch.setattr(collect, "load_tokenizer", lambda d: tokenizer)
    monkeypatch.setattr(collect, "load_policy", lambda d, device, dtype: torch.nn.Identity())
    cfg = OmegaConf.create({
        "algo": {"temperature": 1.0, "top_p": 1.0, "top_k": 0, "max_new_tokens": 16},
        "prm": {"samples_per_prompt": 2, "completions": 3, "search": "binary", "neutral_label": True,
                "skip_neutral": True, **({} if completion_temperature is None else
                                         {"completion_temperature": completion_temperature})}})
    problem = Problem(id="p", prompt="def f():\n", tests=[Case("functional", "[]", 3)])
    records = collect.collect_checkpoint(0, "unused", [problem], cfg, _Runtime(), seed=0)
    assert temps[0] == 1.0 and len(temps) > 1  # the responses at the RL temperature, then prefix checks
    assert set(temps[1:]) == {want}
    assert all(r.category == "revised" for r in records)  # completions pass: the last prefix is completable
