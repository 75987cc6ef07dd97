"""Do two run dirs hold the same results? For checking that a refactor or a speed change left the
numbers alone: same config and seed must give the same samples, verdicts and metrics.

    python scripts/same_results.py RUN_A RUN_B [--rtol R]

Compares ``samples.jsonl`` (every sample, its verdict and its per-test outcomes), ``metrics.jsonl``
(every logged value) and ``summary.json`` (every final figure), ignoring what measures time or
place rather than results: ``perf/*`` metrics, the step-time breakdown (``<stage>/time_*_s``,
``<stage>/steps_timed``), wall
times, timestamps, stage statuses, cache keys and paths, and the sandbox's counters (how many
programs ran versus came from its cache depends on timing under ``overlap``). Exits 0 when everything else is equal, 1 with
the first differences otherwise.

``--rtol R`` lets the numbers of ``metrics.jsonl`` and ``summary.json`` differ by a relative R (a
change that only reorders float sums, e.g. ``algo.micro_tokens``, moves losses in the last digits);
``samples.jsonl`` (every sample, verdict and test outcome) must still be identical.
"""
from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

IGNORED_KEYS = {"time", "wall_time", "wall_time_s", "stages", "overrides"}
IGNORED_PREFIXES = ("perf/", "sandbox/")
# a stage's step-time breakdown and how many steps it timed (prmlab.rl.clock): a resumed run times
# only the steps it executed
IGNORED_PATTERN = re.compile(r"[a-z_]+/(time_[a-z_]+_s|steps_timed)")


def _clean(obj):
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()
                if k not in IGNORED_KEYS and not k.startswith(IGNORED_PREFIXES) and not IGNORED_PATTERN.fullmatch(k)}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    return obj


def _rows(path: Path) -> list:
    if path.suffix == ".jsonl":
        return [_clean(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
    return [_clean(json.loads(path.read_text()))]


ATOL = 1e-6  # with --rtol: the absolute floor, for figures that are rounding noise around 0


def _close(x, y, rtol: float) -> bool:
    """Equal (NaN equals NaN), except that numbers (not bools) may differ by a relative ``rtol``
    (or by ``ATOL``)."""
    if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
        return True
    if rtol and isinstance(x, (int, float)) and isinstance(y, (int, float)) \
            and not isinstance(x, bool) and not isinstance(y, bool):
        return x == y or abs(x - y) <= ATOL + rtol * max(abs(x), abs(y))
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_close(x[k], y[k], rtol) for k in x)
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(_close(u, v, rtol) for u, v in zip(x, y))
    return x == y


def differences(a: Path, b: Path, limit: int = 10, rtol: float = 0.0) -> list[str]:
    out = []
    for name in ("samples.jsonl", "metrics.jsonl", "summary.json"):
        ra, rb = _rows(a / name), _rows(b / name)
        tol = 0.0 if name == "samples.jsonl" else rtol
        if len(ra) != len(rb):
            out.append(f"{name}: {len(ra)} vs {len(rb)} rows")
            continue
        for i, (x, y) in enumerate(zip(ra, rb)):
            if not _close(x, y, tol):
                keys = sorted(k for k in set(x) | set(y) if not _close(x.get(k), y.get(k), tol))
                out.append(f"{name} row {i}: " + ", ".join(f"{k}: {x.get(k)!r:.60} vs {y.get(k)!r:.60}" for k in keys[:4]))
                if len(out) >= limit:
                    return out
    return out


def main(argv: list[str]) -> int:
    rtol = 0.0
    if "--rtol" in argv:
        i = argv.index("--rtol")
        try:
            rtol = float(argv[i + 1])
        except (IndexError, ValueError):
            print("--rtol needs a number, e.g. --rtol 1e-4", file=sys.stderr)
            return 2
        argv = argv[:i] + argv[i + 2:]
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    diffs = differences(Path(argv[0]), Path(argv[1]), rtol=rtol)
    for d in diffs:
        print(d)
    print("same results" if not diffs else f"{len(diffs)}+ differences")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
