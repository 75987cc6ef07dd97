"""The PRM data's regime figures, broken down by tier and prompt style: where does line-level signal come from?

Reads one ``prm_collect`` cache entry (its ``labels.jsonl``) and the ``tasks`` entry upstream of it
(named in its manifest's ``inputs``, so the problems' tiers and categories are the ones the
collection saw), and prints, for all responses and per tier (easy, medium, hard, long) and prompt
style (contest, nl2alg):

* responses, the share that pass, and the failing ones;
* **revised share of failing** (some prefix completable; under binary search the same count as
  m* > 0, the issue's two regime figures);
* prompts by the PRM paper's category (Easy: every response Correct, Hard: every response Wrong,
  i.e. no response passes and none has a completable prefix, Medium: the rest), and the share of
  failing responses that sit on Hard prompts;
* for revised responses, the median position of the first error (m* / M, lines);
* for failing responses, how many leading lines equal the problem's reference: the share with at
  least one (such a prefix is completable, since the reference completes it, so a perfect oracle
  would call the response revised whatever best-of-K finds) and the median count;
* for failing responses, the pass-rate study's calibration: Spearman's rho between the test pass
  rate and progress, the completable share of lines m*/M (``prmlab.gradients.label_calibration``, the
  figure the gradients stage logs as ``grad/calibration_spearman_rho``), and the share of those
  responses at the floor, m* = 0 (the rank correlation is mostly ties there).

    python benchmarks/prm_regime.py CACHE_DIR/prm_collect/KEY              # every slice of one collection
    python benchmarks/prm_regime.py CACHE_DIR/prm_collect/KEY1 CACHE_DIR/prm_collect/KEY2 ...  # the 'all' rows, their mean
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prmlab.errors import PrmlabError  # noqa: E402
from prmlab.gradients import label_calibration  # noqa: E402
from prmlab.layout import LABELS_FILE, PROBLEMS_FILE, input_entry  # noqa: E402
from prmlab.prm.data import read_labeled_jsonl  # noqa: E402
from prmlab.tasks import read_problems  # noqa: E402
from prmlab.tasks.synthetic import tier_of  # noqa: E402
from prmlab.types import LabeledResponse, Problem  # noqa: E402


def _fail(message: str) -> None:
    print(f"prm_regime: {message}", file=sys.stderr)
    sys.exit(2)


def reference_prefix_lines(r: LabeledResponse, reference: Optional[str]) -> Optional[int]:
    """How many leading lines of the response equal the reference's (trailing spaces ignored); None
    without a reference. Such a prefix is completable (the reference completes it), whatever best-of-K
    finds."""
    if reference is None:
        return None
    ref = reference.rstrip("\n").split("\n")
    k = 0
    while k < min(len(ref), len(r.lines)) and r.lines[k].rstrip() == ref[k].rstrip():
        k += 1
    return k


def regime(recs: list[LabeledResponse], problems: Optional[dict[str, Problem]] = None) -> dict:
    """The regime figures of one slice of labelled responses (shares in percent, NaN when empty).
    With ``problems``, also the reference-prefix figures of the failing responses."""
    pct = lambda k, n: 100 * k / n if n else math.nan  # noqa: E731
    failing = [r for r in recs if r.category != "correct"]
    revised = [r for r in failing if r.category == "revised"]
    prompts = {r.problem_id: r.prompt_category for r in recs}  # filled by prm_collect from all of a prompt's responses
    pos = [r.m_star / len(r.lines) for r in revised if r.m_star > 0]
    refs = {pid: p.reference for pid, p in (problems or {}).items()}
    ref = [k for r in failing if (k := reference_prefix_lines(r, refs.get(r.problem_id))) is not None]
    graded = [r for r in failing if r.lines]  # label_calibration's population
    return {"responses": len(recs), "pass_pct": pct(len(recs) - len(failing), len(recs)), "failing": len(failing),
            "revised_pct": pct(len(revised), len(failing)),
            "mstar_positive_pct": pct(sum(r.m_star > 0 for r in failing), len(failing)),
            "prompts": len(prompts), **{f"prompts_{c}": list(prompts.values()).count(c) for c in ("easy", "medium", "hard")},
            "failing_on_hard_pct": pct(sum(r.prompt_category == "hard" for r in failing), len(failing)),
            "first_error_position": statistics.median(pos) if pos else math.nan,
            "reference_prefix_pct": pct(sum(k > 0 for k in ref), len(ref)),
            "reference_prefix_lines": statistics.median(ref) if ref else math.nan,
            "calibration_rho": label_calibration(failing)["spearman_rho"],
            "progress_floor_pct": pct(sum(r.m_star <= 0 for r in graded), len(graded))}


def slices(recs: list[LabeledResponse], problems: dict[str, Problem]) -> dict[str, dict]:
    """``regime`` of all responses, then per tier, per prompt style and per tier/style."""
    groups = defaultdict(list)
    for r in recs:
        p = problems[r.problem_id]
        for name in (tier_of(p), p.category, f"{tier_of(p)}/{p.category}"):
            groups[name].append(r)
    return {"all": regime(recs, problems),
            **{n: regime(groups[n], problems) for n in sorted(groups, key=lambda n: ("/" in n, n))}}


_COLUMNS = (("responses", "resp", "6d"), ("pass_pct", "pass%", "6.1f"), ("failing", "fail", "6d"),
            ("revised_pct", "rev%", "6.1f"), ("mstar_positive_pct", "m*>0%", "6.1f"), ("prompts", "prm", "5d"),
            ("prompts_easy", "easy", "5d"), ("prompts_medium", "med", "5d"), ("prompts_hard", "hard", "5d"),
            ("failing_on_hard_pct", "onH%", "6.1f"), ("first_error_position", "m*/M", "6.2f"),
            ("reference_prefix_pct", "refP%", "6.1f"), ("reference_prefix_lines", "refL", "5.1f"),
            ("calibration_rho", "rho", "7.3f"), ("progress_floor_pct", "floor%", "7.1f"))


def _load(entry: Path) -> dict[str, dict]:
    if not (entry / LABELS_FILE).is_file():
        _fail(f"{entry} holds no {LABELS_FILE}: expected a prm_collect cache entry")
    try:
        problems = {p.id: p for p in read_problems(input_entry(entry, "tasks") / PROBLEMS_FILE)}
        return slices(read_labeled_jsonl(entry / LABELS_FILE), problems)
    except (PrmlabError, OSError, ValueError) as e:  # a missing or malformed file names itself (and its line)
        _fail(str(e))


def _row(name: str, row: dict) -> str:
    # a mean of counts is no integer: the count columns then print one decimal at the same width
    fmts = [fmt if isinstance(row[key], int) or not fmt.endswith("d") else fmt[:-1] + ".1f" for key, _, fmt in _COLUMNS]
    return f"{name:20s}" + " ".join(format(row[key], fmt) for (key, _, _), fmt in zip(_COLUMNS, fmts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("entries", type=Path, nargs="+", metavar="entry",
                    help="prm_collect cache entries (CACHE_DIR/prm_collect/KEY); several (e.g. one per seed): "
                         "each one's 'all' row, then the mean over them with a 95%% Student-t interval")
    args = ap.parse_args()
    print(f"{'':20s}" + " ".join(f"{head:>{fmt[:-1].split('.')[0]}s}" for _, head, fmt in _COLUMNS))
    if len(args.entries) == 1:
        for name, row in _load(args.entries[0]).items():
            print(_row(name, row))
    else:
        from analysis.stats import mean_ci  # the reports' interval, so these figures read like theirs

        alls = [_load(e)["all"] for e in args.entries]
        for e, row in zip(args.entries, alls):
            print(_row(e.name, row))
        print(_row(f"mean of {len(alls)}", {k: statistics.fmean(r[k] for r in alls) for k, _, _ in _COLUMNS}))
        for key, head in (("revised_pct", "rev%"), ("calibration_rho", "rho"), ("progress_floor_pct", "floor%")):
            est = mean_ci([r[key] for r in alls])
            print(f"{head}: {est.mean:.3f} [{est.lo:.3f}, {est.hi:.3f}] (mean [95% t interval] over {est.n} entries)")
    print("rev% = revised share of failing responses (m*>0% is the same count under binary search); onH% = share of"
          " failing responses on Hard prompts; m*/M = median share of a revised response's lines before its first error;"
          " refP% = share of failing responses whose first line(s) equal the reference's (a prefix the reference"
          " completes: a perfect oracle would call them revised), refL = median count of such leading lines;"
          " rho = Spearman's rho of failing responses' pass rate against m*/M, floor% = their share with m* = 0")


if __name__ == "__main__":
    main()
