"""Completability credit (prmlab/prm/credit.py): the two variants against hand-computed values and
a per-token reference implementation, the guard against comment padding, the critic-free
advantages with the credit added, and the config guards."""
from __future__ import annotations

import math
import random

import pytest
import torch

from prmlab.algos import grpo, rloo
from prmlab.config import AlgoConfig
from prmlab.errors import ConfigError
from prmlab.prm.credit import (
    RMS_FLOOR, completable_share, credit_coef, shaped_bonus, step_credit_tensor, step_differences,
)
from prmlab.prm.label import is_neutral_line
from prmlab.types import RolloutBatch
from prmlab.validation import validate

# One group of three: response 0 passes; 1 and 2 fail. Response 1 has a comment line.
LINES = [["a = 1", "return a"], ["x = 1", "# c", "y = 2", "return y"], ["z = 0", "return z"]]
SCORES = [[0.9, 1.0], [0.5, 0.4, -0.5, -1.0], [0.2, 0.6]]
ENDS = [[1, 3], [1, 3, 5, 7], [0, 2]]
PASSED = [True, False, False]
GROUPS = torch.tensor([0, 0, 0])


def test_step_differences_by_hand():
    # code lines: 0.5 - 0, (comment: 0), -0.5 - 0.5, -1 - (-0.5); they telescope to the last code line's score
    assert step_differences(SCORES[1], LINES[1]) == pytest.approx([0.5, 0.0, -1.0, -0.5])
    assert step_differences([1.7, -3.0], ["a", "b"]) == pytest.approx([1.0, -2.0])  # clamped to [-1, 1]
    with pytest.raises(ValueError, match="2 PRM scores for 1 lines"):
        step_differences([0.1, 0.2], ["a"])


def test_step_credit_tensor_by_hand():
    out = step_credit_tensor(SCORES, LINES, ENDS, PASSED, GROUPS, T=9, coef=0.5)
    # the group's failing code-line credits: 0.5, -1, -0.5 (response 1) and 0.2, 0.4 (response 2)
    rms = math.sqrt((0.25 + 1.0 + 0.25 + 0.04 + 0.16) / 5)
    c = lambda d: 0.5 * d / rms  # noqa: E731
    expect = torch.tensor([
        [0.0] * 9,  # passes: no credit
        [c(0.5), c(0.5), 0.0, 0.0, c(-1.0), c(-1.0), c(-0.5), c(-0.5), 0.0],  # the comment's tokens 2-3: 0
        [c(0.2), c(0.4), c(0.4), 0, 0, 0, 0, 0, 0],
    ])
    assert torch.allclose(out, expect, atol=1e-6)


def test_step_credit_groups_are_scaled_apart_and_floored():
    lines, scores, ends = [["a"], ["b"]], [[-1.0], [0.01]], [[0], [0]]
    out = step_credit_tensor(scores, lines, ends, [False, False], torch.tensor([0, 1]), T=1, coef=1.0)
    # group 0: d = -1, rms 1 -> -1; group 1: d = 0.01, rms 0.01 < floor -> 0.01 / RMS_FLOOR
    assert out[:, 0].tolist() == pytest.approx([-1.0, 0.01 / RMS_FLOOR])


def test_step_credit_shared_line_end_adds_to_that_token():
    # lines 1 and 2 both end in token 2 (BPE merged "\n\n"): line 2's credit lands on token 2
    out = step_credit_tensor([[0.5, -0.5, -1.0]], [["a", "b", "c"]], [[0, 2, 2]], [False], torch.tensor([0]), T=3, coef=1.0)
    rms = math.sqrt((0.25 + 1.0 + 0.25) / 3)
    assert out[0].tolist() == pytest.approx([0.5 / rms, -1.0 / rms, (-1.0 - 0.5) / rms])


def _reference_step_credit(scores, lines, ends, passed, groups, T, coef):
    """Independent per-token implementation: token t belongs to the first line whose end is >= t;
    the group scale from all failing code-line differences, computed separately."""
    d_all = []
    for s, ls, ok in zip(scores, lines, passed):
        d, prev = [], 0.0
        for v, line in zip(s, ls):
            if is_neutral_line(line):
                d.append(0.0)
            else:
                v = max(-1.0, min(1.0, v))
                d.append(v - prev)
                prev = v
        d_all.append(d if not ok else [0.0] * len(s))
    out = torch.zeros(len(scores), T)
    for i in range(len(scores)):
        if passed[i]:
            continue
        g = groups[i]
        pool = [x for k in range(len(scores)) if groups[k] == g and not passed[k]
                for x, line in zip(d_all[k], lines[k]) if not is_neutral_line(line)]
        scale = max(math.sqrt(sum(x * x for x in pool) / len(pool)), RMS_FLOOR) if pool else RMS_FLOOR
        for t in range(T):
            j = next((j for j, e in enumerate(ends[i]) if e >= t), None)
            if j is not None:
                out[i, t] = coef * d_all[i][j] / scale
    return out


def test_step_credit_matches_a_per_token_reference():
    rng = random.Random(0)
    for _ in range(20):
        B, T = 6, 30
        lines, scores, ends, passed = [], [], [], []
        for _ in range(B):
            n = rng.randint(1, 6)
            cuts = sorted(rng.sample(range(T), n))  # distinct line ends
            lines.append([rng.choice(["x = 1", "# note", "", "return x", "y = x + 1"]) for _ in range(n)])
            scores.append([rng.uniform(-1.3, 1.3) for _ in range(n)])
            ends.append(cuts)
            passed.append(rng.random() < 0.3)
        groups = [i // 3 for i in range(B)]
        got = step_credit_tensor(scores, lines, ends, passed, torch.tensor(groups), T, 0.7)
        want = _reference_step_credit(scores, lines, ends, passed, groups, T, 0.7)
        assert torch.allclose(got, want, atol=1e-6)


def test_comment_padding_cannot_raise_either_credit():
    """Inserting comment lines (with any PRM score) leaves every code line's step credit, the
    shaped bonus and hence the shaped reward unchanged; the comments' tokens get no credit."""
    base = step_credit_tensor(SCORES, LINES, ENDS, PASSED, GROUPS, T=9, coef=0.5)
    padded_lines = [LINES[0], ["# plan", "x = 1", "# c", "# more", "y = 2", "", "return y"], LINES[2]]
    padded_scores = [SCORES[0], [1.0, 0.5, 0.4, 1.0, -0.5, 1.0, -1.0], SCORES[2]]
    padded_ends = [ENDS[0], [1, 3, 5, 7, 9, 11, 13], ENDS[2]]
    padded = step_credit_tensor(padded_scores, padded_lines, padded_ends, PASSED, GROUPS, T=15, coef=0.5)
    code = {1: (2, 3), 4: (8, 9), 6: (12, 13)}  # padded line index -> its tokens
    orig = {1: (0, 1), 4: (4, 5), 6: (6, 7)}
    for j, (a, b) in code.items():
        assert torch.allclose(padded[1, a : b + 1], base[1, orig[j][0] : orig[j][1] + 1])
    for a, b in [(0, 1), (4, 5), (6, 7), (10, 11)]:  # the comment and blank lines' tokens
        assert padded[1, a : b + 1].abs().sum() == 0
    assert torch.equal(padded[2, :9], base[2])  # the other response's credit: the group scale is unchanged
    b0 = shaped_bonus(SCORES, LINES, PASSED, 0.5, 0.0, 1.0)
    b1 = shaped_bonus(padded_scores, padded_lines, PASSED, 0.5, 0.0, 1.0)
    assert torch.equal(b0, b1)


def test_shaped_bonus_by_hand_and_below_a_pass():
    # response 1's code lines: (0.5+1)/2, (-0.5+1)/2, (-1+1)/2 -> share 1/3; response 2: (0.6, 0.8) -> 0.7
    assert completable_share(SCORES[1], LINES[1]) == pytest.approx(1 / 3)
    assert completable_share([0.3], ["# only a comment"]) == 0.0
    bonus = shaped_bonus(SCORES, LINES, PASSED, 0.5, 0.0, 1.0)
    assert bonus.tolist() == pytest.approx([0.0, 0.5 / 3, 0.35])
    top = shaped_bonus([[1.0, 5.0]], [["a", "b"]], [False], 0.9, -1.0, 1.0)  # a perfect PRM: kappa (hi - lo)
    assert top.item() == pytest.approx(1.8) and -1.0 + top.item() < 1.0


def _batch(credit=None):
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    scores = torch.tensor([1.0, 0.0, 0.0, 0.0])
    rewards = torch.zeros(4, 3)
    rewards[0, 2] = 1.0
    return RolloutBatch(
        input_ids=torch.zeros(4, 4, dtype=torch.long), attention_mask=torch.ones(4, 4, dtype=torch.long),
        response_mask=mask, logprobs=torch.zeros(4, 3), ref_logprobs=torch.zeros(4, 3), rewards=rewards,
        scores=scores, group_ids=torch.tensor([0, 0, 1, 1]), prompt_len=1, credit=credit,
    )


def test_critic_free_advantages_add_the_step_credit_by_hand():
    credit = torch.tensor([[0.0, 0.0, 0.0], [0.2, -0.4, 9.0], [-0.3, 9.0, 9.0], [0.1, 0.1, -0.2]])  # 9: padding
    cfg = AlgoConfig(scale_by_std=False)
    adv, _ = grpo.compute_advantages(_batch(credit), cfg)
    # group 0 scores (1, 0): +-0.5; group 1 (0, 0): all-fail, the credit is the only signal
    expect = torch.tensor([[0.5, 0.5, 0.5], [-0.3, -0.9, 0.0], [-0.3, 0.0, 0.0], [0.1, 0.1, -0.2]])
    assert torch.allclose(adv, expect)
    adv_loo, _ = rloo.compute_advantages(_batch(credit), cfg)
    assert torch.allclose(adv_loo, torch.tensor([[1.0] * 3, [-0.8, -1.4, 0.0], [-0.3, 0, 0], [0.1, 0.1, -0.2]]))
    plain, _ = grpo.compute_advantages(_batch(), cfg)
    assert torch.allclose(plain, torch.tensor([[0.5] * 3, [-0.5, -0.5, 0.0], [0.0] * 3, [0.0] * 3]))


def test_credit_coef_default():
    assert credit_coef({"credit_coef": None}) == 0.5 and credit_coef({"credit_coef": 0.2}) == 0.2


@pytest.mark.parametrize("overrides,field", [
    (["algo=ppo", "prm=step_credit"], "prm.credit"),
    (["algo=grpo", "prm=step_credit", "prm.dense=true"], "prm.dense"),
    (["algo=grpo", "prm=shaped_credit", "reward=pass_rate"], "reward.name"),
    (["algo=rloo", "prm=shaped_credit", "prm.credit_coef=1.0"], "prm.credit_coef"),
    (["algo=grpo", "prm.credit=bogus", "prm=none"], "prm.credit"),
    (["algo=grpo", "prm=step_credit", "prm.credit_coef=-1"], "prm.credit_coef"),
])
def test_credit_guards(compose, overrides, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        validate(compose(overrides))


@pytest.mark.parametrize("algo", ["grpo", "rloo"])
@pytest.mark.parametrize("arm", ["step_credit", "shaped_credit"])
def test_credit_configs_validate_and_plan_the_prm_chain(compose, algo, arm):
    from prmlab.stages import build_plan
    cfg = compose([f"algo={algo}", f"prm={arm}"])
    validate(cfg)
    assert [p.stage.name for p in build_plan(cfg)][-3:] == ["prm_train", "rl", "eval"]


def test_credit_report_rows_and_verdicts():
    """analysis: experiment=credit's table has one row per arm in the sweep's order, and its claims pair
    each credit arm with its algorithm's binary arm by seed (grpo_step +2 points at every seed: resolved)."""
    import pandas as pd

    from analysis import report
    from analysis.collect import Collection

    rows = []
    for arm, gain in (("grpo_binary", 0.0), ("grpo_step", 0.02), ("ppo_prm", 0.01)):
        for seed in range(4):
            rows.append({"run_id": f"{arm}{seed}", "seed": seed, "experiment": "credit", "arm": arm,
                         "cfg.algo.name": arm.split("_")[0], "cfg.reward.name": "binary", "cfg.model.name": "tiny",
                         "cfg.model.arch": "gpt2", "cfg.prm.dense": arm == "ppo_prm", "cfg.prm.value_init": arm == "ppo_prm",
                         "cfg.eval.length_edges": [40, 80, 120], "eval/pass@1": 0.15 + 0.003 * seed + gain,
                         "eval/pass@1/len_0-40": 0.3, "stage.eval.key": f"{arm}{seed}"})
    rep = report.build(Collection(runs=pd.DataFrame(rows)), "credit")
    assert [r[0] for r in rep.tables[0].rows] == ["grpo_binary", "grpo_step", "ppo_prm"]
    claim = [c for c in rep.claims if c.paper.startswith("GRPO + completability step credit beats")][0]
    assert claim.verdict == "reproduced (resolved)" and "+2.0" in claim.here
    vs_ppo = [c for c in rep.claims if c.paper.startswith("GRPO + completability step credit vs PRM-PPO")][0]
    assert "+1.0" in vs_ppo.here


def test_credit_report_one_table_and_claim_set_per_evaluated_split():
    """experiment=credit evaluates every run on the test and the rl split: one table per split (test
    first), the rl split's claims marked with it and computed from its own rows only."""
    import pandas as pd

    from analysis import report
    from analysis.collect import Collection

    rows = []
    for split, gain in (("rl", 0.04), ("test", 0.0)):  # rl rows first: the report still puts test first
        for arm in ("grpo_binary", "grpo_step"):
            for seed in range(4):
                rows.append({"run_id": f"{split}{arm}{seed}", "seed": seed, "experiment": "credit", "arm": arm,
                             "cfg.algo.name": "grpo", "cfg.reward.name": "binary", "cfg.model.name": "tiny",
                             "cfg.model.arch": "gpt2", "cfg.prm.dense": False, "cfg.prm.value_init": False,
                             "cfg.eval.split": split, "cfg.eval.length_edges": [40, 80, 120],
                             "eval/pass@1": 0.15 + 0.003 * seed + (gain if arm == "grpo_step" else 0.0),
                             "eval/pass@1/len_0-40": 0.3, "stage.eval.key": f"{split}{arm}{seed}",
                             "stage.rl.key": f"{arm}{seed}"})
    rep = report.build(Collection(runs=pd.DataFrame(rows)), "credit")
    assert [t.name for t in rep.tables] == ["credit", "credit_rl", "credit_length"]
    assert "held-out" in rep.tables[0].title and "eval.split=rl" in rep.tables[1].title
    test_claim, rl_claim = [c for c in rep.claims if "step credit beats" in c.paper]
    assert not test_claim.paper.startswith("[") and "+0.0" in test_claim.here
    assert rl_claim.paper.startswith("[rl split] ") and "+4.0" in rl_claim.here
    assert rl_claim.verdict == "reproduced (resolved)"
    assert "each table's title says which split" in report.eval_split_note(pd.DataFrame(rows))
