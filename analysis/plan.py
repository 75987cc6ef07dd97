"""What a run or a sweep would compute, what the stage cache already holds, and what is left.

    python -m analysis.plan experiment=credit [overrides]   # the jobs of `python -m prmlab.run -m experiment=credit`
    python -m analysis.plan all [overrides]                 # every experiment of `./multirun.sh all`, in its order
    python -m analysis.plan testbed=long algo=grpo          # one run
    python -m analysis.plan experiment=credit --jobs 2 --left   # wall time at 2 parallel jobs; list what is left
    python -m analysis.plan all cache_dir=/tmp/fresh --times-from ~/.prmlab_cache --jobs 2   # cost from scratch
    python -m analysis.plan --backtest                      # how far off the stand-in rule is on this cache

Nothing runs and no model loads. Every job is composed exactly as ``python -m prmlab.run -m`` composes
it (``prmlab.run.compose_jobs``) and validated like a run, so a bad value exits 2 naming the field.
Each job's stage plan and cache keys (``prmlab.stages.build_plan``, ``prmlab.pipeline.plan_keys``) are
looked up in the job's stage cache. An entry is ``done`` (its manifest exists), ``running`` (a job
holds its lock now), ``partial`` (a killed attempt left files in the entry's scratch dir; RL resumes
from its last step checkpoint) or ``left``.
An entry that several jobs share, or for ``all`` several experiments, is counted once, where it is
first needed: the sweep computes it once and the others reuse it.

Projected cost of what is left, per entry: the median compute time of the cache's finished entries of
the same stage with the same fields but for their seeds, on the same problem suite (the same
``tasks`` key). Where none is timed, another config stands in: among the finished entries of the same
stage, suite and algorithm (else stage and suite; else stage), those whose fields differ from the
entry's in the fewest places. A stand-in's time is then scaled by what those fields cost elsewhere: the
median time ratio of other pairs of timed configs of the stage that differ in exactly those fields, with
the entry's values on one side and the stand-in's on the other (``algo.oversample=4`` against ``=1`` for
dynamic sampling, which samples about 4x the tokens, where another algorithm ran both). The table says how
many rows are stand-ins, in which fields they differ, and how many of them no such pair could scale: an
unscaled stand-in that does less work per step makes the projection a floor, not an estimate. Times come
from the entries' manifests (``seconds``, written since 2026-12-06) and, for older entries, from the
pipeline's "computed in" lines in the run logs under ``--records``. They were measured under whatever else ran then (1-2 parallel jobs on this
machine's sweeps), so the projection is a guide, not a benchmark. Wall time is compute / ``--jobs``
(parallel jobs on 2 cores each run slower; the recorded times of 2-job sweeps already include that).
"""
from __future__ import annotations

import hashlib
import json
import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, NamedTuple, Optional, Sequence

from filelock import FileLock, Timeout

from prmlab.layout import COMPUTED_RE, MANIFEST_FILE
from prmlab.pipeline import StageCache

STATUSES = ("done", "running", "partial", "left")


@dataclass(frozen=True)
class Entry:
    """One stage cache entry a job needs."""

    stage: str
    key: str
    cache: Path  # the cache root it lives (or will live) in
    suite: str  # the job's ``tasks`` key: which problem suite (testbed) it runs on
    algo: str  # the job's ``algo.name`` where the stage reads it, else ""
    shape: str  # a digest of the stage's fields less every ``seed``: entries that differ by seed only
    fields: dict = field(default_factory=dict, compare=False, hash=False, repr=False)  # as its key and manifest hold them

    @property
    def path(self) -> Path:
        return StageCache(self.cache).entry(self.stage, self.key)

    def status(self) -> str:
        cache = StageCache(self.cache)  # names the entry's manifest, lock and scratch dir as the pipeline does
        if cache.is_complete(self.stage, self.key):
            return "done"
        lock = cache.lock(self.stage, self.key)
        if lock.is_file():  # the pipeline computes an entry holding this lock
            try:
                with FileLock(str(lock), timeout=0):
                    pass
            except Timeout:
                return "running"
        scratch = cache.scratch(self.stage, self.key)
        return "partial" if scratch.is_dir() and any(scratch.iterdir()) else "left"


@dataclass
class Job:
    overrides: list[str]  # the job's overrides, as Hydra launches it
    entries: list[Entry]  # its stage plan's entries, upstream first


def jobs_of(argv: Sequence[str]) -> list[Job]:
    """The jobs ``python -m prmlab.run -m ARGV`` launches, each with its stage plan's entries."""
    from prmlab.config import register_configs
    from prmlab.pipeline import plan_keys, select_fields
    from prmlab.run import compose_jobs, job_config
    from prmlab.stages import build_plan

    register_configs()
    out = []
    for job in compose_jobs(["-m", *argv]) or []:
        overrides = list(job.hydra.overrides.task)
        cfg = job_config(job)
        plan = plan_keys(cfg, build_plan(cfg))
        cache = Path(cfg.cache_dir)
        suite = plan[0].key  # the tasks stage comes first in every plan
        entries = []
        for p in plan:
            fields = select_fields(cfg, p.stage.reads, p.stage.optional_reads)
            algo = (fields.get("algo") or {}).get("name", "")
            entries.append(Entry(p.stage.name, p.key, cache, suite, algo, shape(fields), fields))
        out.append(Job(overrides, entries))
    return out


# ---------------------------------------------------------------------------------------------
# what finished entries cost


def shape(fields: dict) -> str:
    """A digest of a stage's fields with every ``seed`` left out (the same work, another draw)."""
    def strip(x):
        return {k: strip(v) for k, v in x.items() if k != "seed"} if isinstance(x, dict) else x
    return hashlib.sha256(json.dumps(strip(fields), sort_keys=True, default=str).encode()).hexdigest()[:16]


_ABSENT = object()  # a field one side has and the other lacks (older manifests hold fewer)


def differing(a, b, prefix: str = "") -> set[str]:
    """The dotted names of the fields where two stages' fields differ, every ``seed`` left out."""
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return set() if a == b else {prefix[:-1] or "(fields)"}
    out: set[str] = set()
    for k in sorted((a.keys() | b.keys()) - {"seed"}):
        out |= differing(a.get(k, _ABSENT), b.get(k, _ABSENT), f"{prefix}{k}.")
    return out


Profile = tuple[str, str, str, str]  # (stage, suite, algo, shape)


@dataclass
class Times:
    """Compute seconds of finished entries by profile, and each profile's fields (those of any of its seeds)."""

    seconds: dict[Profile, list[float]]
    fields: dict[Profile, dict]


class Projection(NamedTuple):
    seconds: Optional[float]  # None where no finished entry of the stage is timed
    exact: bool  # from entries of the same config but for the seed
    differs: frozenset = frozenset()  # where a stand-in's fields differ from the entry's
    scaled: bool = False  # a stand-in's time scaled by pairs of other configs that differ only there


def _suite(manifest: dict, entry_key: str) -> str:
    """The ``tasks`` key a finished entry ran on: its own key for a tasks entry, else its ``tasks``
    input's, else (``prm_select`` reads only the collection) the first upstream entry's, recursively."""
    if manifest.get("stage") == "tasks":
        return entry_key
    inputs = manifest.get("inputs", {})
    if inputs.get("tasks"):
        return Path(inputs["tasks"]).name
    upstream = next(iter(inputs.values()), None)
    try:
        return _suite(json.loads((Path(upstream) / MANIFEST_FILE).read_text()), Path(upstream).name) if upstream else ""
    except (OSError, json.JSONDecodeError):
        return ""


def _profile(manifest: dict, entry_key: str) -> Profile:
    """(stage, suite, algo, shape) of a finished entry, from its manifest."""
    stage = manifest.get("stage", "")
    suite = _suite(manifest, entry_key)
    fields = manifest.get("fields", {})
    return stage, suite, (fields.get("algo") or {}).get("name", ""), shape(fields)


def recorded_times(caches: Iterable[Path], records: Iterable[Path] = ()) -> Times:
    """Compute seconds of finished entries by profile: from each manifest's ``seconds``,
    else from a "computed in" line of a run log under ``records`` naming the entry."""
    from_logs: dict[Path, float] = {}
    for root in records:
        for log in Path(root).rglob("run.log"):
            for stage, seconds, path in COMPUTED_RE.findall(log.read_text(errors="replace")):
                from_logs[Path(path).resolve()] = float(seconds)
    times: dict[Profile, list[float]] = defaultdict(list)
    fields: dict[Profile, dict] = {}
    for cache in caches:
        for manifest in Path(cache).glob(f"*/*/{MANIFEST_FILE}"):
            entry = manifest.parent
            try:
                m = json.loads(manifest.read_text())
            except (OSError, json.JSONDecodeError):
                continue  # an unreadable manifest is the pipeline's to report, not a projection's
            seconds = m.get("seconds", from_logs.get(entry.resolve()))
            if seconds is not None:
                profile = _profile(m, entry.name)
                times[profile].append(float(seconds))
                fields[profile] = m.get("fields", {})
    return Times(dict(times), fields)


SUITE = "the problem suite"  # a pseudo-field: the entries' ``tasks`` keys differ


def _differs(fields_a: dict, suite_a: str, fields_b: dict, suite_b: str) -> frozenset[str]:
    return frozenset(differing(fields_a, fields_b) | ({SUITE} if suite_a != suite_b else set()))


def _values(fields: dict, suite: str, names: Iterable[str]) -> tuple[str, ...]:
    """A config's values at the dotted field ``names`` (in sorted order), comparable across configs."""
    out = []
    for name in sorted(names):
        x = suite if name == SUITE else fields
        for part in ([] if name == SUITE else name.split(".")):
            x = x.get(part, _ABSENT) if isinstance(x, dict) else _ABSENT
        out.append("(absent)" if x is _ABSENT else json.dumps(x, sort_keys=True, default=str))
    return tuple(out)


def field_ratio(times: Times, stage: str, names: frozenset, want: tuple[dict, str], have: tuple[dict, str]) -> Optional[float]:
    """What changing ``names`` from a stand-in's values (``have``: fields, suite) to an entry's (``want``)
    costs: the median time ratio over pairs of timed configs of ``stage`` that differ in exactly ``names``
    and hold those values. None where no pair does."""
    median = {k: statistics.median(v) for k, v in times.seconds.items() if k[0] == stage}
    holding = lambda values: [k for k in median if _values(times.fields[k], k[1], names) == values]  # noqa: E731
    ratios = [median[p] / median[q] for p in holding(_values(*want, names)) for q in holding(_values(*have, names))
              if median[q] > 0  # a sub-second entry may be logged as 0.0 s
              and _differs(times.fields[p], p[1], times.fields[q], q[1]) == names]
    return statistics.median(ratios) if ratios else None


def projected_seconds(e: Entry, times: Times) -> Projection:
    """The median recorded time of the closest kind of finished entry (see the module docstring)."""
    exact = times.seconds.get((e.stage, e.suite, e.algo, e.shape))
    if exact:
        return Projection(statistics.median(exact), True)
    for match in (lambda k: k[:3] == (e.stage, e.suite, e.algo), lambda k: k[:2] == (e.stage, e.suite),
                  lambda k: k[0] == e.stage):
        found = {k: _differs(e.fields, e.suite, times.fields[k], k[1]) for k in times.seconds if match(k)}
        if found:
            fewest = min(len(d) for d in found.values())
            nearest = [k for k, d in found.items() if len(d) == fewest]
            ratio = {k: field_ratio(times, e.stage, found[k], (e.fields, e.suite), (times.fields[k], k[1]))
                     for k in nearest}
            seconds = [s * (1.0 if ratio[k] is None else ratio[k]) for k in nearest for s in times.seconds[k]]
            return Projection(statistics.median(seconds), False, frozenset().union(*(found[k] for k in nearest)),
                              all(r is not None for r in ratio.values()))
    return Projection(None, False)


def backtest(times: Times) -> list[tuple[str, float, float]]:
    """How far the stand-in rule is off here: each timed config (entries equal but for the seed) projected
    from the other configs alone, as if it had never run. (stage, actual, projected) median seconds, for
    the configs that take at least a second and have another config to stand in."""
    out = []
    for prof, secs in times.seconds.items():
        actual = statistics.median(secs)
        if actual < 1.0:
            continue
        others = Times({k: v for k, v in times.seconds.items() if k != prof},
                       {k: v for k, v in times.fields.items() if k != prof})
        stage, suite, algo, digest = prof
        guess = projected_seconds(Entry(stage, "", Path(), suite, algo, digest, times.fields[prof]), others)
        if guess.seconds is not None:
            out.append((stage, actual, guess.seconds))
    return out


def backtest_table(rows: list[tuple[str, float, float]]) -> str:
    lines = [f"{'stage':<12} {'configs':>7}  {'median |error|':>14}  {'projected / actual':>18}"]
    for stage in sorted({r[0] for r in rows}) + ["all"]:
        rs = [r for r in rows if stage in ("all", r[0])]
        err = statistics.median(abs(p - a) / a for _, a, p in rs)
        lines.append(f"{stage:<12} {len(rs):>7}  {err:>14.0%}  {sum(p for *_, p in rs) / sum(a for _, a, _ in rs):>18.2f}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# the report


def hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


@dataclass
class Part:
    """One experiment's (or one run's) share of a plan: the entries it is the first to need."""

    name: str
    jobs: list[Job]
    entries: list[Entry]  # distinct, in first-needed order, less those an earlier part needs
    first_job: dict[Entry, Job]  # the job of this part that needs each entry first


def summarise(part: Part, times, n_jobs: int, left: bool) -> tuple[str, float, int]:
    """The part's table (one row per stage), its projected compute seconds and unprojected entries."""
    by_stage: dict[str, dict[str, list[Entry]]] = defaultdict(lambda: {s: [] for s in STATUSES})
    for e in part.entries:
        by_stage[e.stage][e.status()].append(e)
    lines = [f"== {part.name}: {len(part.jobs)} job(s), {len(part.entries)} new stage entries",
             f"{'stage':<12} {'entries':>7} {'done':>5} {'running':>7} {'partial':>7} {'left':>5}  {'median s':>8}  projected"]
    total, unknown = 0.0, 0
    for stage, st in by_stage.items():
        todo = st["running"] + st["partial"] + st["left"]
        est = [projected_seconds(e, times) for e in todo]
        known = [p.seconds for p in est if p.seconds is not None]
        stand_ins = [p for p in est if p.seconds is not None and not p.exact]
        unknown += len(est) - len(known)
        total += sum(known)
        med = f"{statistics.median(known):8.0f}" if known else f"{'-':>8}"
        proj = hms(sum(known)) if known else ("-" if not todo else "no timing")
        if stand_ins:
            names = sorted(frozenset().union(*(p.differs for p in stand_ins)))
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
            unscaled = sum(not p.scaled for p in stand_ins)
            proj += (f" ({len(stand_ins)} from another config of the stage, which differs in {shown}"
                     + (f"; {unscaled} unscaled, no other pair of configs differs only there)" if unscaled else ")"))
        n = sum(len(v) for v in st.values())
        lines.append(f"{stage:<12} {n:>7} {len(st['done']):>5} {len(st['running']):>7} {len(st['partial']):>7} "
                     f"{len(st['left']):>5}  {med}  {proj}")
        if left:
            lines += [f"    {e.status():<7} {e.path}  ({' '.join(part.first_job[e].overrides)})" for e in todo]
    wall = f", about {hms(total / n_jobs)} wall at {n_jobs} parallel jobs" if n_jobs > 1 else ""
    more = f" (+{unknown} entries with no recorded time to project from)" if unknown else ""
    lines.append(f"left: projected {hms(total)} of compute{wall}{more}")
    return "\n".join(lines), total, unknown


def parts_of(names_and_argvs: Sequence[tuple[str, list[str]]]) -> list[Part]:
    """Each named job list's new entries, an entry counted where it is first needed."""
    seen: set[tuple[Path, str, str]] = set()
    parts = []
    for name, argv in names_and_argvs:
        jobs = jobs_of(argv)
        first: dict[Entry, Job] = {}
        for j in jobs:
            for e in j.entries:
                if (e.cache, e.stage, e.key) not in seen:
                    seen.add((e.cache, e.stage, e.key))
                    first[e] = j
        parts.append(Part(name, jobs, list(first), first))
    return parts


def main(argv: Optional[Sequence[str]] = None) -> int:
    import argparse

    from prmlab.errors import ConfigError

    ap = argparse.ArgumentParser(prog="python -m analysis.plan", description=__doc__.split("\n")[0])
    ap.add_argument("overrides", nargs="*", help="'all', or Hydra overrides as for `python -m prmlab.run -m`")
    ap.add_argument("--jobs", type=int, default=1, help="parallel jobs the sweep runs (wall = compute / jobs)")
    ap.add_argument("--left", action="store_true", help="list every entry not done yet")
    ap.add_argument("--records", action="append", type=Path, default=None,
                    help="run records to read older entries' compute times from (default: outputs)")
    ap.add_argument("--times-from", action="append", type=Path, default=[], metavar="CACHE",
                    help="another stage cache whose entries' times to project from (e.g. to project a fresh "
                         "cache_dir's cost from this machine's usual cache)")
    ap.add_argument("--backtest", action="store_true",
                    help="instead: project each timed config from the others and print how far off that is")
    args = ap.parse_args(argv)
    if args.jobs < 1:
        print(f"error: --jobs: expected an integer >= 1, got {args.jobs}", file=sys.stderr)
        return 2
    overrides = list(args.overrides)
    try:
        if overrides[:1] == ["all"]:
            from analysis.conf import experiments

            parts = parts_of([(n, [f"experiment={n}", *overrides[1:]]) for n in experiments()])
        else:
            exp = next((o.split("=", 1)[1] for o in overrides if o.startswith("experiment=")), None)
            parts = parts_of([(exp or "run", overrides)])
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    caches = {e.cache for p in parts for e in p.entries} | set(args.times_from)
    times = recorded_times(caches, args.records if args.records is not None else [Path("outputs")])
    if args.backtest:
        rows = backtest(times)
        print(backtest_table(rows) if rows else "backtest: fewer than two timed configs of any stage")
        return 0
    grand, unknown = 0.0, 0
    for p in parts:
        text, total, unk = summarise(p, times, args.jobs, args.left)
        print(text + "\n")
        grand, unknown = grand + total, unknown + unk
    if len(parts) > 1:
        wall = f", about {hms(grand / args.jobs)} wall at {args.jobs} parallel jobs" if args.jobs > 1 else ""
        more = f" (+{unknown} entries with no recorded time)" if unknown else ""
        print(f"all: projected {hms(grand)} of compute{wall}{more}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
