"""Where each stage keeps its files inside its cache entry: the one place these names are spelled.

A stage writes into ``<cache>/<stage>/<key>/`` (``prmlab.pipeline``); the stages downstream find
its outputs through the helpers below, never through string paths of their own. The table of
stage → inputs → files is in docs/DESIGN.md ("Stages and their cache entries").

    tasks        problems.jsonl
    sft          policy/                      (HF checkpoint + tokenizer)
    rl_baseline  policy/  value/ (PPO)  checkpoints/c0..c{C-1}/{policy,value}
    rl           same layout as rl_baseline
    prm_collect  labels.jsonl
    prm_select   labels.jsonl                  (the selected subset)
    prm_train    prm/  (scalar-head model + tokenizer + prm_meta.json)  metrics.json  calibration.json
    eval         samples.jsonl
    gradients    gradients.jsonl  groups.jsonl

Every entry also holds ``manifest.json`` (``read_manifest``), which names its upstream entries
(``input_entry``), and, when the stage logged anything, ``metrics.jsonl``: the records it wrote to
the computing run's ``metrics.jsonl``, so that a run reusing the entry can still show its training
curves (``analysis.artifacts.load_curves`` reads them).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from prmlab.errors import PrmlabError

PROBLEMS_FILE = "problems.jsonl"
POLICY_DIR = "policy"
VALUE_DIR = "value"
CHECKPOINTS_DIR = "checkpoints"
LABELS_FILE = "labels.jsonl"
PRM_DIR = "prm"
PRM_META_FILE = "prm_meta.json"
SAMPLES_FILE = "samples.jsonl"


def policy_dir(entry: Path) -> Path:
    """The policy checkpoint of an sft / rl_baseline / rl entry, or of one of its checkpoints."""
    return entry / POLICY_DIR


def value_dir(entry: Path) -> Path:
    """The PPO critic saved beside a policy (absent for critic-free algorithms)."""
    return entry / VALUE_DIR


def checkpoint_dir(entry: Path, c: int) -> Path:
    """Checkpoint c of an RL entry (c = 0..C-1, evenly spaced; the last is the final model)."""
    return entry / CHECKPOINTS_DIR / f"c{c}"


def checkpoint_dirs(entry: Path) -> list[Path]:
    """Every checkpoint of an RL entry, in training order; an entry without any is an error."""
    dirs = sorted((entry / CHECKPOINTS_DIR).glob("c*"), key=lambda d: int(d.name[1:]))
    if not dirs:
        raise FileNotFoundError(f"no checkpoints under {entry / CHECKPOINTS_DIR}")
    return dirs


def prm_dir(entry: Path) -> Path:
    """The trained PRM of a prm_train entry."""
    return entry / PRM_DIR


MANIFEST_FILE = "manifest.json"
STAGE_METRICS_FILE = "metrics.jsonl"  # same name and format as a run dir's records


def read_manifest(entry: Path) -> dict:
    """A cache entry's manifest (stage, key, fields, inputs, summary); a missing or malformed one
    raises ``PrmlabError`` naming it."""
    path = entry / MANIFEST_FILE
    if not path.is_file():
        raise PrmlabError(f"{entry}: no {MANIFEST_FILE} (expected a cache entry)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise PrmlabError(f"{path}: not JSON ({e})") from e


def input_entry(entry: Path, name: str) -> Path:
    """The cache entry that ``entry``'s manifest names as its input ``name``: the recorded path when
    it still exists, else the entry of the same stage and key beside ``entry`` (a cache copied or
    moved elsewhere)."""
    recorded = read_manifest(entry).get("inputs", {}).get(name)
    if recorded is None:
        raise PrmlabError(f"{entry}'s manifest names no {name} input")
    recorded = Path(recorded)
    return recorded if recorded.is_dir() else entry.parent.parent / recorded.parent.name / recorded.name


# the pipeline's log lines naming a stage's entry (prmlab.pipeline logs them; stage_entry reads them back)
REUSED_LOG = "stage %s: reused cache entry %s"
COMPUTED_LOG = "stage %s: computed in %.1fs -> %s"
COMPUTED_RE = re.compile(r"stage (\S+): computed in ([0-9.]+)s -> (\S+)")  # COMPUTED_LOG read back: stage, s, entry


def stage_entry(path: Path, stage: str) -> Path:
    """A ``stage`` cache entry, given one or a run dir whose ``run.log`` names it (``REUSED_LOG`` or
    ``COMPUTED_LOG``; the last one counts); an entry of another stage raises."""
    path = Path(path)
    article = "an" if stage[0] in "aeiou" else "a"
    if not (path / MANIFEST_FILE).is_file():
        log = path / "run.log"
        if not log.is_file():
            raise PrmlabError(f"{path}: neither {article} {stage} cache entry ({MANIFEST_FILE}) nor a run dir (run.log)")
        found = re.findall(rf"stage {re.escape(stage)}: (?:computed in [0-9.]+s -> |reused cache entry )(\S+)", log.read_text())
        if not found:
            raise PrmlabError(f"{log}: names no {stage} cache entry (did the run reach its {stage} stage?)")
        path = Path(found[-1])
    got = read_manifest(path).get("stage")
    if got != stage:
        raise PrmlabError(f"{path}: a {got} entry, expected {article} {stage} entry")
    return path
