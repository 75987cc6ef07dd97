"""Soak test (slow): >= 10,000 mixed executions leave no processes, fds or temp dirs behind, and
the memory of the pool's parent and of its worker processes stays flat. Run with
``python -m pytest -m slow -s tests/test_sandbox_soak.py`` (``-s`` shows the figures recorded in
docs/BENCHMARKS.md)."""
from __future__ import annotations

import glob
import os
import random
import sys
import time

import pytest

from prmlab.sandbox import Sandbox, SandboxConfig
from prmlab.types import Problem
from prmlab.types import TestCase as Case  # not "Test*": pytest would try to collect it

FUNC = Problem(id="sq", prompt="", entry_point="f", tests=[Case("functional", [i], i * i) for i in range(4)]
               + [Case("assert", "assert candidate(5) == 25"),
                  Case("assert", "for i in range(3):\n    assert candidate(i) == i * i")])
STDIO = Problem(id="add", prompt="", tests=[Case("stdio", f"{i} {i + 1}\n", f"{2 * i + 1}\n") for i in range(3)])

PROGRAMS = [  # (weight, problem, program, passes)
    (30, FUNC, "def f(x):\n    return x * x\n", True),
    (15, FUNC, "def f(x):\n    return x + x\n", False),
    (10, FUNC, "def f(x)\n    return x\n", False),
    (8, FUNC, "def f(x):\n    return [][x]\n", False),
    (5, FUNC, "import os\ndef f(x):\n    os._exit(0)\n", False),
    (4, FUNC, "import sys\nsys.exit(0)\n", False),
    (4, FUNC, "def f(x):\n    return bytearray(10 ** 10)\n", False),
    (4, FUNC, "def f(x):\n    return type('I', (int,), {})(x * x)\n", False),
    (4, FUNC, "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\ndef f(x):\n    return x * x\n",
     True),
    (3, FUNC, "import os\nos.makedirs('d/e')\nopen('d/e/y', 'w').close()\nos.chmod('d', 0)\n"
              "def f(x):\n    open('scratch.txt', 'w').write('x' * 1000)\n    return x * x\n", True),
    (10, STDIO, "a, b = map(int, input().split())\nprint(a + b)\n", True),
    (3, STDIO, "while True:\n    print('flood' * 100)\n", False),
    (1, FUNC, "def f(x):\n    while True:\n        pass\n", False),
]


def _rss_mb(pid="self") -> float:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("VmRSS")).split()[1]) / 1024


def _interpreter_pid(root: int) -> int:
    """The worker/judge interpreter in the process tree of ``root`` (below bwrap's processes): the
    first process, breadth first, that runs this interpreter (the programs below it do too)."""
    exe = os.path.realpath(sys.executable)
    todo = [root]
    while todo:
        pid = todo.pop(0)
        if os.readlink(f"/proc/{pid}/exe") == exe:
            return pid
        for path in glob.glob(f"/proc/{pid}/task/*/children"):
            todo.extend(int(k) for k in open(path).read().split())
    raise LookupError(f"no worker.py below {root}")


def _pool_rss(sb: Sandbox) -> dict:
    """MB of resident memory: this process, and each worker and judge interpreter."""
    procs = [s.worker for s in sb._slots] + [s.judge for s in sb._slots if s.judge is not None]
    return {"parent": _rss_mb(), "workers": [_rss_mb(_interpreter_pid(p.popen.pid)) for p in procs]}


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _descendants(pids: list[int]) -> list[tuple[int, int, str]]:
    out, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        for path in glob.glob(f"/proc/{pid}/task/*/children"):
            try:
                kids = [int(k) for k in open(path).read().split()]
            except OSError:
                continue
            for k in kids:
                try:
                    state = open(f"/proc/{k}/stat").read().rsplit(")", 1)[1].split()[0]
                    out.append((k, os.stat(f"/proc/{k}").st_uid, state))
                except OSError:
                    pass
            todo.extend(kids)
    return out


def _batch(rng: random.Random, n: int):
    weights = [w for w, *_ in PROGRAMS]
    picks = rng.choices(PROGRAMS, weights=weights, k=n)
    # a unique comment per sample defeats no cache (it is off) but keeps every program distinct
    return [p for _, p, _, _ in picks], [prog + f"# {rng.random()}\n" for _, _, prog, _ in picks], \
        [ok for *_, ok in picks]


def _run_soak(sb: Sandbox, total: int, batch: int, rng: random.Random) -> tuple[dict, dict, dict]:
    """Run ``total`` programs; RSS (``_pool_rss``) after the first batch, after a fifth, at the end."""
    done, rss = 0, []
    while done < total:
        problems, programs, ok = _batch(rng, batch)
        verdicts = sb.run(programs, problems)
        wrong = [(prog, v.error) for prog, v, want in zip(programs, verdicts, ok) if v.all_passed != want]
        assert not wrong, wrong[:3]
        done += batch
        if len(rss) == 0 or (len(rss) == 1 and done >= total // 5):
            rss.append(_pool_rss(sb))
    return rss[0], rss[1], _pool_rss(sb)


@pytest.mark.slow
def test_soak_namespaces():
    rng = random.Random(0)
    fds0 = _fds()
    host_tmp0 = set(glob.glob("/tmp/prmlab-sandbox-*"))
    cfg = SandboxConfig(isolation="namespaces", test_timeout=0.3, program_timeout=1.0, memory_mb=256, cache_size=0)
    t0 = time.time()
    with Sandbox(cfg) as sb:
        rss_start, rss_warm, rss_end = _run_soak(sb, 10_000, 250, rng)
        stats = sb.stats()
        assert stats["sandbox/executed"] == 10_000 and stats["sandbox/worker_restarts"] == 0
        roots = [s.worker.popen.pid for s in sb._slots]  # (judges run as uid 65534 too)
        all_roots = roots + [s.judge.popen.pid for s in sb._slots if s.judge is not None]
        time.sleep(0.5)
        sb.run(["def f(x):\n    return x * x\n"], [FUNC])  # lets the workers reap what they killed last
        live = [p for p in _descendants(roots) if p[1] == 65534 and p[2] != "Z"]
        assert not live, live
        # each worker's private /tmp holds only the temp dir of the program that is running
        probe = Problem(id="tmp", prompt="", entry_point="f", tests=[Case("functional", [], 1)])
        for v in sb.run([f"import os\ndef f():\n    return len(os.listdir('/tmp'))\n# {i}\n"
                         for i in range(4 * len(sb._slots))], [probe] * (4 * len(sb._slots))):
            assert v.all_passed, v
    mb = lambda xs: "/".join(f"{x:.1f}" for x in xs)  # noqa: E731
    print(f"\nsoak: {stats['sandbox/executed']} programs ({stats['sandbox/tests']} tests) in {time.time() - t0:.0f} s, "
          f"{sb.n_workers} workers; RSS MB at first batch -> 20% -> end: parent {rss_start['parent']:.1f} -> "
          f"{rss_warm['parent']:.1f} -> {rss_end['parent']:.1f}; worker and judge interpreters "
          f"{mb(rss_start['workers'])} -> {mb(rss_warm['workers'])} -> {mb(rss_end['workers'])}")
    assert rss_end["parent"] - rss_warm["parent"] < 20, (rss_warm, rss_end)
    assert all(end - warm < 10 for warm, end in zip(rss_warm["workers"], rss_end["workers"])), (rss_warm, rss_end)
    assert not _descendants(all_roots)  # workers, judges and everything below them are gone
    assert _fds() <= fds0 + 2
    assert set(glob.glob("/tmp/prmlab-sandbox-*")) == host_tmp0


@pytest.mark.slow
def test_soak_process_isolation_cleans_host_temp_dirs():
    rng = random.Random(1)
    before = set(glob.glob("/tmp/prmlab-sandbox-*"))
    fds0 = _fds()
    cfg = SandboxConfig(isolation="process", test_timeout=0.3, program_timeout=2.0, memory_mb=256, cache_size=0)
    with Sandbox(cfg) as sb:
        _run_soak(sb, 1000, 250, rng)
        roots = [s.worker.hello["tmp_root"] for s in sb._slots]
        for r in roots:  # only directories of programs still held (none between batches)
            assert os.listdir(r) == [], os.listdir(r)
    assert set(glob.glob("/tmp/prmlab-sandbox-*")) == before
    assert _fds() <= fds0 + 2
