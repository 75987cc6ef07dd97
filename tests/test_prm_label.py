"""Binary-search line labelling (prmlab.prm.label) against planted completability oracles, and the
labelled-data file (prmlab.prm.data)."""
import dataclasses
import json
import math
import random

import pytest

from prmlab.prm.label import (
    SearchItem,
    assign_prompt_categories,
    candidate_prefixes,
    is_neutral_line,
    label_responses,
    prefix_text,
    prompt_categories,
)
from prmlab.prm.data import read_labeled_jsonl, write_labeled_jsonl
from prmlab.types import LabeledResponse


def max_binary_checks(n_lines: int) -> int:
    """The bound the module docstring states: ceil(log2 M) checks for an M-line failing response."""
    return math.ceil(math.log2(n_lines)) if n_lines > 1 else 0


def code_lines(n):
    return [f"x{j} = {j}" for j in range(n)]


def threshold_oracle(thresholds):
    """check() where response i's prefix m is completable iff m <= thresholds[i]; records the calls."""
    calls = []

    def check(requests):
        calls.append(list(requests))
        return [m <= thresholds[i] for i, m in requests]

    return check, calls


def test_is_neutral_line():
    assert is_neutral_line("")
    assert is_neutral_line("   ")
    assert is_neutral_line("    # add one")
    assert is_neutral_line("#!")
    assert not is_neutral_line("    return x  # done")
    assert not is_neutral_line("s = '#'")


def test_prefix_text_keeps_line_ends():
    lines = ["a = 1", "", "return a"]
    assert prefix_text(lines, 0) == ""
    assert prefix_text(lines, 2) == "a = 1\n\n"
    assert prefix_text(lines, 3) == "a = 1\n\nreturn a\n"
    with pytest.raises(ValueError):
        prefix_text(lines, 4)


def test_binary_matches_linear_and_planted_first_error_on_code_lines():
    rng = random.Random(0)
    items, planted = [], {}
    for i in range(400):
        n = rng.randint(1, 40)
        planted[i] = rng.randint(0, n - 1)  # m*: largest completable prefix (0: none)
        items.append(SearchItem(response_index=i, lines=code_lines(n), passed=False))
    check, _ = threshold_oracle(planted)
    binary = label_responses(items, check, search="binary")
    linear = label_responses(items, check, search="linear")

    for it, b, lin in zip(items, binary, linear):
        n, m_star = len(it.lines), planted[it.response_index]
        assert b.first_error_line == lin.first_error_line == m_star
        assert b.labels == lin.labels == [1] * m_star + [-1] * (n - m_star)
        assert b.category == lin.category == ("revised" if m_star >= 1 else "wrong")
        assert b.m_star == m_star
        assert b.n_prefix_checks <= max_binary_checks(n) == (math.ceil(math.log2(n)) if n > 1 else 0)
        assert lin.n_prefix_checks == n - 1 and lin.monotone is True and b.monotone is None
    assert sum(r.n_prefix_checks for r in binary) < sum(r.n_prefix_checks for r in linear) / 3


def test_batched_rounds_ask_several_responses_once_each():
    thresholds = {0: 3, 1: 0, 2: 20, 3: 39, 4: 0}
    items = [SearchItem(i, code_lines(40), passed=False) for i in range(4)]
    items.append(SearchItem(4, code_lines(10), passed=True))
    check, calls = threshold_oracle(thresholds)
    results = label_responses(items, check)

    assert len(calls) == max(r.n_prefix_checks for r in results) <= math.ceil(math.log2(40))
    first_round = [i for i, _ in calls[0]]
    assert sorted(first_round) == [0, 1, 2, 3]  # every failing response in one call, the passing one never
    for call in calls:
        ids = [i for i, _ in call]
        assert len(ids) == len(set(ids))  # at most one pending request per response per round
    assert [r.first_error_line for r in results] == [3, 0, 20, 39, None]
    assert [r.n_prefix_checks for r in results][4] == 0


def test_linear_mode_asks_everything_in_one_round():
    items = [SearchItem(i, code_lines(5 + i), passed=False) for i in range(3)]
    check, calls = threshold_oracle({0: 2, 1: 2, 2: 2})
    label_responses(items, check, search="linear")
    assert len(calls) == 1
    assert calls[0] == [(0, m) for m in range(1, 5)] + [(1, m) for m in range(1, 6)] + [(2, m) for m in range(1, 7)]


def test_non_monotone_oracle_flagged_in_linear_mode():
    items = [SearchItem(7, code_lines(6), passed=False)]
    truth = {1: True, 2: False, 3: True, 4: False, 5: False}
    res = label_responses(items, lambda reqs: [truth[m] for _, m in reqs], search="linear")[0]
    assert res.monotone is False
    assert res.checks == sorted(truth.items())
    assert res.labels == [1, -1, 1, -1, -1, -1]  # each line labelled by its own prefix
    assert res.first_error_line == 1 and res.category == "revised"
    # the binary search probes 3 (True), then 4 (False): it reports the last transition instead
    b = label_responses(items, lambda reqs: [truth[m] for _, m in reqs], search="binary")[0]
    assert b.first_error_line == 3 and b.checks == [(3, True), (4, False)]


def test_comment_and_blank_lines_get_neutral_label():
    lines = ["a = 1", "# explain", "", "b = a", "return b"]
    check, _ = threshold_oracle({0: 4})  # prefixes up to "b = a" complete; the return line is wrong
    res = label_responses([SearchItem(0, lines, passed=False)], check, skip_neutral=False)[0]
    assert res.labels == [1, 0, 0, 1, -1]
    assert res.first_error_line == 4
    plain = label_responses([SearchItem(0, lines, passed=False)], check, skip_neutral=False, neutral_label=False)[0]
    assert plain.labels == [1, 1, 1, 1, -1]


def test_neutral_lines_are_not_prefix_boundaries():
    lines = ["# start", "a = 1", "# why", "", "b = a", "c = b", "# end", "return c"]
    assert candidate_prefixes(lines) == [2, 5, 6]
    assert candidate_prefixes(lines, skip_neutral=False) == list(range(1, 8))

    def comment_blind(k):  # completable iff the prefix holds at most k code lines
        return lambda reqs: [sum(not is_neutral_line(x) for x in lines[:m]) <= k for _, m in reqs]

    item = [SearchItem(0, lines, passed=False)]
    # first code line good, second bad: comments after "a = 1" inherit its completability
    res = label_responses(item, comment_blind(1), neutral_label=False)[0]
    assert all(m in (2, 5, 6) for m, _ in res.checks)
    assert res.labels == [1, 1, 1, 1, -1, -1, -1, -1] and res.first_error_line == 4
    assert label_responses(item, comment_blind(1))[0].labels == [0, 1, 0, 0, -1, -1, 0, -1]
    # first code line already bad: the leading comment is not a completable code prefix -> wrong
    res = label_responses(item, comment_blind(0), neutral_label=False)[0]
    assert res.category == "wrong" and res.labels == [-1] * 8 and res.first_error_line == 0
    # every checked code prefix completes but the response failed: the error is the stop, the last line
    res = label_responses(item, comment_blind(8), neutral_label=False)[0]
    assert res.category == "revised" and res.first_error_line == 7 and res.labels == [1] * 7 + [-1]


def test_skip_neutral_binary_agrees_with_linear_on_random_commented_responses():
    rng = random.Random(1)
    items, ks = [], {}
    for i in range(300):
        n = rng.randint(1, 40)
        lines = [rng.choice(["# note", "", f"y = {j}"]) if rng.random() < 0.3 else f"y = {j}" for j in range(n)]
        items.append(SearchItem(i, lines, passed=False))
        ks[i] = rng.randint(0, n)
    code_pos = {it.response_index: [j for j, x in enumerate(it.lines) if not is_neutral_line(x)] for it in items}

    def check(reqs):
        return [sum(not is_neutral_line(x) for x in items[i].lines[:m]) <= ks[i] for i, m in reqs]

    binary = label_responses(items, check)
    linear = label_responses(items, check, search="linear")
    for it, b, lin in zip(items, binary, linear):
        i = it.response_index
        assert (b.labels, b.first_error_line, b.category) == (lin.labels, lin.first_error_line, lin.category)
        cands = candidate_prefixes(it.lines)
        assert b.n_prefix_checks <= math.ceil(math.log2(len(cands) + 1)) <= max_binary_checks(len(it.lines))
        k, pos = ks[i], code_pos[i]
        if 1 <= k < len(pos):
            assert b.first_error_line == pos[k]  # the planted first wrong code line
            assert not is_neutral_line(it.lines[b.first_error_line])


def test_correct_responses_need_no_checks():
    def check(reqs):
        raise AssertionError("no check expected")

    items = [SearchItem(0, ["a = 1", "# c", "return a"], passed=True), SearchItem(1, [], passed=True)]
    for search in ("binary", "linear"):
        res = label_responses(items, check, search=search)
        assert res[0].labels == [1, 0, 1] and res[0].category == "correct" and res[0].first_error_line is None
        assert res[0].n_prefix_checks == 0 and res[0].m_star == 3
        assert res[1].labels == [] and res[1].category == "correct"
    assert label_responses(items[:1], check, neutral_label=False)[0].labels == [1, 1, 1]


def test_degenerate_failing_responses():
    res = label_responses([SearchItem(0, ["return 1"], passed=False), SearchItem(1, [], passed=False)],
                          lambda reqs: pytest.fail("nothing to check"))
    assert res[0].labels == [-1] and res[0].category == "wrong" and res[0].first_error_line == 0
    assert res[1].labels == [] and res[1].category == "wrong" and res[1].first_error_line is None


def test_driver_rejects_bad_input():
    items = [SearchItem(0, code_lines(4), passed=False)]
    with pytest.raises(ValueError, match="binary, linear"):
        label_responses(items, lambda r: [True] * len(r), search="ternary")
    with pytest.raises(ValueError, match="1 requests"):
        label_responses(items, lambda r: [])
    with pytest.raises(ValueError, match="unique"):
        label_responses(items * 2, lambda r: [True] * len(r))


def rec(pid, category, checkpoint=0, lines=("a = 1", "return a"), labels=(1, 1), first=None, **kw):
    return LabeledResponse(problem_id=pid, checkpoint=checkpoint, response="\n".join(lines) + "\n",
                           lines=list(lines), labels=list(labels), first_error_line=first, category=category, **kw)


def test_prompt_categories_pool_checkpoints():
    records = [rec("e", "correct"), rec("e", "correct", 1), rec("h", "wrong"), rec("h", "wrong", 3),
               rec("m", "correct"), rec("m", "wrong", 1), rec("r", "revised"), rec("r", "revised", 2)]
    assert prompt_categories(records) == {"e": "easy", "h": "hard", "m": "medium", "r": "medium"}
    assert [r.prompt_category for r in assign_prompt_categories(records)] == ["easy"] * 2 + ["hard"] * 2 + ["medium"] * 4
    assert records[0].prompt_category == ""  # inputs are not mutated
    with pytest.raises(ValueError, match="bogus"):
        prompt_categories([rec("x", "bogus")])


def test_jsonl_round_trip(tmp_path):
    records = [rec("p1", "correct", prompt_category="medium", pass_rate=1.0, difficulty="easy"),
               rec("p1", "revised", 2, lines=("a = 1", "# c", "return 2"), labels=(1, 0, -1), first=2,
                   prompt_category="medium", n_prefix_checks=2, n_completions=8, n_executions=8,
                   generated_tokens=123, pass_rate=0.5)]
    path = tmp_path / "labels.jsonl"
    assert write_labeled_jsonl(path, records) == 2
    assert read_labeled_jsonl(path) == records
    first = json.loads(path.read_text().splitlines()[0])
    assert list(first)[:7] == ["problem_id", "checkpoint", "response", "lines", "labels", "first_error_line", "category"]


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(labels=[1, 2]), "field 'labels' expected a list of -1/0/1 integers"),
    (lambda d: d.pop("category"), "missing field 'category'"),
    (lambda d: d.update(category="almost"), "field 'category' expected one of correct, revised, wrong"),
    (lambda d: d.update(labels=[1]), "one label per line"),
    (lambda d: d.update(first_error_line=-1), "field 'first_error_line'"),
    (lambda d: d.update(extra=1), "unknown field"),
])
def test_malformed_line_names_file_line_and_field(tmp_path, mutate, message):
    good = json.dumps(dataclasses.asdict(rec("p", "correct")))
    bad = json.loads(good)
    mutate(bad)
    path = tmp_path / "bad.jsonl"
    path.write_text(good + "\n\n" + json.dumps(bad) + "\n")
    with pytest.raises(ValueError) as err:
        read_labeled_jsonl(path)
    assert str(err.value).startswith(f"{path}, line 3: ") and message in str(err.value)


def test_invalid_json_names_the_line(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"problem_id": \n')
    with pytest.raises(ValueError, match=r"broken.jsonl, line 1: not valid JSON"):
        read_labeled_jsonl(path)
