"""Give cache entries written before the pipeline kept their stage's records a copy of them.

Since the pipeline copies what a stage logs into its cache entry (``metrics.jsonl``, see
prmlab/pipeline.py), a sweep that reuses an RL stage from an earlier sweep still shows its
training curves. Entries computed before that have no copy; this script takes it from the run
records that computed them:

    python scripts/backfill_stage_records.py SWEEP_OR_RUN_DIR [...] [--cache DIR] [--dry-run]

For every run dir under the given dirs and every stage its ``summary.json`` marks ``computed``,
the run's records of that stage are written into the entry (the path the summary recorded, else
``<cache>/<stage>/<key>``, ``--cache`` defaulting to ``$PRMLAB_CACHE``) unless the entry already
has the file. Entries that no longer exist are skipped. Prints one line per entry written.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, not installed

from analysis.collect import find_run_dirs  # noqa: E402
from prmlab.layout import MANIFEST_FILE, STAGE_METRICS_FILE  # noqa: E402


def entry_of(info: dict, stage: str, cache: Path | None) -> Path | None:
    """The entry the summary recorded if it still exists, else ``<cache>/<stage>/<key>``."""
    candidates = ([Path(info["path"])] if info.get("path") else []) + ([cache / stage / info["key"]] if cache else [])
    return next((c for c in candidates if (c / MANIFEST_FILE).is_file()), None)


def backfill(dirs: list[Path], cache: Path | None, dry_run: bool = False) -> list[Path]:
    written = []
    for root in dirs:
        for run in find_run_dirs(root):
            summary_path, records = run / "summary.json", run / STAGE_METRICS_FILE
            if not summary_path.is_file() or not records.is_file():
                continue
            stages = json.loads(summary_path.read_text()).get("stages", {})
            lines = [l for l in records.read_text().splitlines() if l.strip()]
            for stage, info in stages.items():
                if info.get("status") != "computed":
                    continue
                entry = entry_of(info, stage, cache)
                if entry is None or (entry / STAGE_METRICS_FILE).exists():
                    continue
                mine = [l for l in lines if json.loads(l).get("stage") == stage]
                if not mine:
                    continue
                if not dry_run:
                    tmp = entry / f".{STAGE_METRICS_FILE}.tmp"
                    tmp.write_text("".join(l + "\n" for l in mine))
                    os.replace(tmp, entry / STAGE_METRICS_FILE)
                written.append(entry)
                print(f"{entry}: {len(mine)} records from {run}")
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dirs", nargs="+", type=Path, help="sweep dirs or run dirs")
    ap.add_argument("--cache", type=Path, default=os.environ.get("PRMLAB_CACHE") or None,
                    help="stage cache root (default $PRMLAB_CACHE)")
    ap.add_argument("--dry-run", action="store_true", help="say what would be written, write nothing")
    args = ap.parse_args(argv)
    missing = [d for d in args.dirs if not d.exists()]
    if missing:
        print(f"error: no such dir: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    n = len(backfill(args.dirs, args.cache, args.dry_run))
    print(f"{n} entr{'y' if n == 1 else 'ies'} {'would be ' if args.dry_run else ''}written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
