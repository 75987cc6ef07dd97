"""pass@k and the evaluation breakdowns against hand-computed values."""
import pytest

from prmlab.evaluate import length_bucket, pass_at_k, summarize


def test_pass_at_k_hand_values():
    assert pass_at_k(10, 0, 1) == 0.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    # 1 - C(7,5)/C(10,5) = 1 - 21/252
    assert pass_at_k(10, 3, 5) == pytest.approx(1 - 21 / 252)
    assert pass_at_k(10, 8, 5) == 1.0  # fewer than k failures: some k-subset always passes
    assert pass_at_k(2, 1, 2) == 1.0
    # 1 - C(3,2)/C(4,2) = 1 - 3/6
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 5)


def test_length_bucket():
    assert length_bucket(10, [40, 80]) == "0-40"
    assert length_bucket(40, [40, 80]) == "40-80"
    assert length_bucket(200, [40, 80]) == "80+"


def _s(pid, ok, diff="easy", cat="nl2alg", n=10, rate=None):
    return {"problem_id": pid, "all_passed": ok, "difficulty": diff, "category": cat, "n_tokens": n, "n_lines": 2,
            "pass_rate": rate if rate is not None else float(ok)}


def test_summarize_breakdowns():
    samples = [_s("a", True), _s("a", False), _s("b", False, "hard", "contest", n=90), _s("b", False, "hard", "contest", n=90)]
    m = summarize(samples, [1, 2], [40, 80])
    assert m["eval/pass@1"] == pytest.approx(0.25)  # (0.5 + 0) / 2
    assert m["eval/pass@2"] == pytest.approx(0.5)
    assert m["eval/pass@1/easy"] == pytest.approx(0.5) and m["eval/pass@1/hard"] == 0.0
    assert m["eval/pass@1/contest"] == 0.0 and m["eval/n_problems/nl2alg"] == 1
    assert m["eval/pass@1/len_0-40"] == pytest.approx(0.5) and m["eval/pass@1/len_80+"] == 0.0
    assert m["eval/pass_rate"] == pytest.approx(0.25)
