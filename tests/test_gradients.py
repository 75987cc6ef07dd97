"""The pass-rate study's gradient analyses: hand-checked conflict figures and exact per-sample grads."""
import math

import pytest
import torch

from prmlab.gradients import calibration, conflict_stats, cosine, per_sample_logprob_grads


def test_conflict_stats_hand_values():
    aligned = torch.tensor([[1.0, 0.0], [2.0, 0.0]])
    st = conflict_stats(aligned)
    assert st["mean_cos"] == pytest.approx(1.0) and st["cancel_ratio"] == pytest.approx(1.0)
    opposed = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    st = conflict_stats(opposed)
    assert st["mean_cos"] == pytest.approx(-1.0) and st["cancel_ratio"] == pytest.approx(0.0)
    ortho = torch.tensor([[3.0, 0.0], [0.0, 4.0]])
    st = conflict_stats(ortho)  # |(3,4)| / (3 + 4) = 5/7
    assert st["mean_cos"] == pytest.approx(0.0) and st["cancel_ratio"] == pytest.approx(5 / 7)
    assert math.isnan(conflict_stats(torch.tensor([[1.0, 0.0], [0.0, 0.0]]))["cancel_ratio"])  # one non-zero row


def test_cosine_and_calibration():
    assert cosine(torch.tensor([1.0, 1.0]), torch.tensor([2.0, 2.0])) == pytest.approx(1.0)
    assert math.isnan(cosine(torch.zeros(2), torch.ones(2)))
    cal = calibration([0.1, 0.5, 0.9, 0.3], [0.0, 0.5, 1.0, 0.2])
    assert cal["spearman_rho"] == pytest.approx(1.0) and cal["n"] == 4
    assert calibration([0.9, 0.5, 0.1], [0.0, 0.5, 1.0])["spearman_rho"] == pytest.approx(-1.0)


def test_per_sample_grads_match_batched_sum():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=20, n_positions=16, n_embd=16, n_layer=1, n_head=2,
                                       resid_pdrop=0, embd_pdrop=0, attn_pdrop=0)).eval()
    ids = torch.randint(0, 20, (3, 7))
    attn = torch.ones_like(ids)
    attn[0, :2] = 0  # a left-padded prompt
    mask = torch.tensor([[1.0, 1, 1, 0], [1, 1, 1, 1], [1, 1, 0, 0]])
    lps, G = per_sample_logprob_grads(model, ids, attn, mask, 3)
    assert G.shape == (3, sum(p.numel() for p in model.parameters()))
    from prmlab.algos.core import sequence_logprobs

    model.zero_grad()
    lp, _ = sequence_logprobs(model, ids, attn, 3)
    total = (lp * mask).sum()
    total.backward()
    flat = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    assert torch.allclose(G.sum(0), flat, atol=1e-5)
    assert torch.allclose(lps.sum(), total.detach(), atol=1e-5)
