"""Reward tensors: outcome scores from verdicts, their placement on tokens, DenseReward, density."""
from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from prmlab.config import RewardConfig
from prmlab.prm.use import dense_prm_rewards
from prmlab.rewards import outcome_reward_tensor, outcome_scores, reward_density, select_groups
from prmlab.types import TestOutcome as Outcome  # aliased so pytest does not collect it
from prmlab.types import Verdict


def verdict(*passed: bool) -> Verdict:
    return Verdict(outcomes=[Outcome(passed=p, error="none" if p else "wrong_answer") for p in passed])


VERDICTS = [verdict(True, True, True, True), verdict(True, False, True, False), verdict(False, False), verdict()]


def test_binary_scores_default_and_signed():
    assert outcome_scores(VERDICTS, RewardConfig(name="binary")).tolist() == [1.0, 0.0, 0.0, 0.0]
    signed = OmegaConf.structured(RewardConfig(name="binary", pass_value=1.0, fail_value=-1.0))
    assert outcome_scores(VERDICTS, signed).tolist() == [1.0, -1.0, -1.0, -1.0]


def test_pass_rate_scores():
    # a program with no tests run (empty verdict) counts as 0, never as a pass
    assert outcome_scores(VERDICTS, RewardConfig(name="pass_rate")).tolist() == [1.0, 0.5, 0.0, 0.0]
    with pytest.raises(ValueError):
        outcome_scores(VERDICTS, RewardConfig(name="bleu"))


def test_outcome_reward_on_last_real_token():
    mask = torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    scores = torch.tensor([1.0, 0.5, -1.0, 7.0])
    r = outcome_reward_tensor(scores, mask)
    expected = torch.tensor([[0, 0, 0, 1.0], [0, 0.5, 0, 0], [-1.0, 0, 0, 0], [0, 0, 0, 0]])
    assert torch.equal(r, expected)  # the empty response has no token to carry its reward


def test_dense_prm_rewards_positions_and_values():
    r = dense_prm_rewards(
        prm_scores=[[1.0, -1.0, 0.5], [0.8, 0.6], [0.4, 0.2]],
        line_end_tokens=[[1, 4, 6], [2, 2], [0, 3]],
        passed=[False, False, True], T=8, lambda_fail=0.6, lambda_pass=0.0, length_norm=True,
    )
    expected = torch.zeros(3, 8)
    expected[0, 1], expected[0, 4], expected[0, 6] = 0.6 * 1.0 / 3, 0.6 * -1.0 / 3, 0.6 * 0.5 / 3
    expected[1, 2] = 0.6 * (0.8 + 0.6) / 2  # two lines ending in one (merged-newline) token add up
    # row 2 passed: lambda_pass = 0 switches the PRM off once a solution is found
    assert torch.allclose(r, expected, atol=1e-7)

    unnormalised = dense_prm_rewards([[1.0, -1.0, 0.5]], [[1, 4, 6]], [True], T=8,
                                     lambda_fail=0.6, lambda_pass=0.3, length_norm=False)
    assert torch.allclose(unnormalised[0, [1, 4, 6]], torch.tensor([0.3, -0.3, 0.15]))


def test_dense_prm_sum_bounded_by_lambda_with_length_norm():
    g = torch.Generator().manual_seed(0)
    lam = 0.5
    for n_lines in (1, 3, 17, 60):
        # out-of-range PRM outputs (a regression head can overshoot) are clamped to the label range
        scores = [(torch.rand(n_lines, generator=g) * 3 - 1).tolist()]
        ends = [sorted(torch.randint(0, 64, (n_lines,), generator=g).tolist())]
        r = dense_prm_rewards(scores, ends, [False], T=64, lambda_fail=lam, lambda_pass=0.0, length_norm=True)
        assert abs(r.sum().item()) <= lam + 1e-6
    all_good = dense_prm_rewards([[1.0] * 40], [list(range(40))], [False], T=40, lambda_fail=lam,
                                 lambda_pass=0.0, length_norm=True)
    assert all_good.sum().item() == pytest.approx(lam)  # writing more lines cannot earn more than lambda


def test_dense_prm_rewards_rejects_bad_input():
    with pytest.raises(ValueError):
        dense_prm_rewards([[1.0, 0.5]], [[1]], [False], T=4, lambda_fail=1, lambda_pass=0)
    with pytest.raises(ValueError):
        dense_prm_rewards([[1.0]], [[4]], [False], T=4, lambda_fail=1, lambda_pass=0)
    assert dense_prm_rewards([[]], [[]], [False], T=4, lambda_fail=1, lambda_pass=0).abs().sum() == 0


def test_reward_density():
    scores = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.5, 0.25, 0.75])
    groups = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2, 3, 3])
    d = reward_density(scores, groups)
    # groups 0 and 3 have variance; 1 (all zero) and 2 (all .5) do not. 5 of 10 scores are non-zero.
    assert d == {"reward/nonzero_group_var_frac": 0.5, "reward/nonzero_frac": 0.5}


def test_select_groups_prefers_groups_that_disagree():
    # groups 7, 3, 5, 9 (in order of appearance): 7 uniform, 3 varied, 5 uniform, 9 varied
    gids = torch.tensor([7, 7, 3, 3, 5, 5, 9, 9])
    returns = torch.tensor([0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.2, 0.7])
    rows, varied = select_groups(returns, gids, 2)
    assert rows.tolist() == [2, 3, 6, 7] and varied == 2
    rows, varied = select_groups(returns, gids, 3)  # too few varied groups: filled with the first uniform one
    assert rows.tolist() == [0, 1, 2, 3, 6, 7] and varied == 2
    rows, varied = select_groups(returns, gids, 1)
    assert rows.tolist() == [2, 3] and varied == 1
    rows, varied = select_groups(torch.zeros(4), torch.tensor([0, 0, 1, 1]), 1)
    assert rows.tolist() == [0, 1] and varied == 0


def test_select_groups_ranks_outcome_disagreement_before_dense_only():
    """Under DenseReward nearly every group's returns differ; selection must still put the groups
    whose unit-test outcomes disagree first, then all-failing groups the PRM tells apart, then the rest."""
    gids = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    outcomes = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0])  # only group 2 disagrees
    dense = torch.tensor([0.1, -0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])  # group 0: dense-only disagreement
    returns = outcomes + dense
    rows, varied = select_groups(returns, gids, 1, outcomes=outcomes)
    assert rows.tolist() == [4, 5] and varied == 1
    rows, varied = select_groups(returns, gids, 2, outcomes=outcomes)
    assert rows.tolist() == [0, 1, 4, 5] and varied == 1
    rows, _ = select_groups(returns, gids, 3, outcomes=outcomes)  # then uniform groups in order
    assert rows.tolist() == [0, 1, 2, 3, 4, 5]
    # ranking on returns alone would have taken group 0 first
    assert select_groups(returns, gids, 1)[0].tolist() == [0, 1]


def test_dense_normaliser_all_lines_vs_code_lines_under_comment_padding():
    """A failing 2-line response with PRM -0.5 on both code lines, then padded with 2 comment lines
    (PRM 0, the neutral label). all_lines (the paper's M): 0.5 * (-1.0) / 2 = -0.25 unpadded, but
    -0.125 padded, so padding halves the penalty; code_lines: -0.25 both ways."""
    code, padded = ["x = 1", "return x"], ["x = 1", "# step", "#", "return x"]
    kw = dict(passed=[False], T=8, lambda_fail=0.5, lambda_pass=0.0, length_norm=True)
    plain = dense_prm_rewards([[-0.5, -0.5]], [[1, 3]], lines=[code], **kw)
    pad_all = dense_prm_rewards([[-0.5, 0.0, 0.0, -0.5]], [[1, 2, 3, 5]], lines=[padded], **kw)
    pad_code = dense_prm_rewards([[-0.5, 0.0, 0.0, -0.5]], [[1, 2, 3, 5]], lines=[padded], norm="code_lines", **kw)
    assert plain.sum().item() == pytest.approx(-0.25)
    assert pad_all.sum().item() == pytest.approx(-0.125)
    assert pad_code.sum().item() == pytest.approx(-0.25)
    assert dense_prm_rewards([[-0.5, -0.5]], [[1, 3]], lines=[code], norm="code_lines", **kw).sum().item() == \
        pytest.approx(-0.25)
    with pytest.raises(ValueError, match="dense normaliser"):
        dense_prm_rewards([[1.0]], [[0]], lines=[["x"]], norm="tokens", **kw)
    with pytest.raises(ValueError, match="needs the responses' lines"):
        dense_prm_rewards([[1.0]], [[0]], norm="code_lines", **kw)
