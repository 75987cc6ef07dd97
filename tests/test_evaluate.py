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


def test_pass1_standard_errors_by_hand():
    from prmlab.evaluate import pass1_standard_errors

    # p = 0.5 (n=10), 0.0 (n=10), 1.0 (n=4), 0.25 (n=4)
    se, se_problems = pass1_standard_errors([(10, 5), (10, 0), (4, 4), (4, 1)])
    # sampling: sqrt(0.25/9 + 0 + 0 + 0.1875/3) / 4 = sqrt(0.0902778) / 4
    assert se == pytest.approx(0.0902778 ** 0.5 / 4, rel=1e-5)
    # problems: mean 0.4375; squared deviations 0.00390625, 0.19140625, 0.31640625, 0.03515625 sum 0.546875
    assert se_problems == pytest.approx((0.546875 / 3) ** 0.5 / 2, rel=1e-9)
    # the rule of thumb: 150 problems x 10 samples at p = 0.2 is about 1.1 points of sampling error
    se150, _ = pass1_standard_errors([(10, 2)] * 150)
    assert se150 == pytest.approx((0.16 / 9 * 150) ** 0.5 / 150, rel=1e-9) and 0.010 < se150 < 0.012
    assert pass1_standard_errors([(1, 1)])[0] == 0.0


def test_summarize_reports_the_standard_errors():
    samples = [{"problem_id": p, "difficulty": "easy", "category": "nl2alg", "all_passed": ok, "pass_rate": float(ok),
                "n_tokens": 10, "n_lines": 2} for p, oks in (("a", (1, 0)), ("b", (1, 1))) for ok in oks]
    out = summarize(samples, [1], [40])
    assert out["eval/pass@1"] == pytest.approx(0.75)
    assert out["eval/pass@1_se"] == pytest.approx((0.25 / 1) ** 0.5 / 2)
    assert out["eval/pass@1_se_problems"] == pytest.approx(((0.25 ** 2 * 2) / 1) ** 0.5 / 2 ** 0.5)
