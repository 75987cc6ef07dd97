"""Task sources and the ``tasks`` stage.

One module per source (``synthetic``, ``humaneval``, ``livecodebench``), each returning
``Problem`` records. The ``tasks`` stage materialises the configured source into
``problems.jsonl`` (one ``Problem.to_dict()`` per line, with its ``split``), so every later stage
reads the same problems whatever the source was.
"""
from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

from prmlab.errors import PrmlabError
from prmlab.layout import PROBLEMS_FILE
from prmlab.types import Problem

SOURCES = ("synthetic", "humaneval", "livecodebench")


def load_source(task_cfg) -> list[Problem]:
    name = task_cfg.name
    if name == "synthetic":
        from prmlab.tasks.synthetic import generate_suite

        return generate_suite(task_cfg.seed, task_cfg.n_train, task_cfg.n_val, task_cfg.n_test, task_cfg.n_rl,
                              long_share=task_cfg.long_share,
                              long_constants=task_cfg.get("long_constants"),  # null: not in the stage's fields
                              long_comments=task_cfg.get("long_comments"))  # likewise
    if name == "humaneval":
        from prmlab.tasks.humaneval import load_humaneval

        problems = load_humaneval()
    elif name == "livecodebench":
        from prmlab.tasks.livecodebench import load_livecodebench

        if not task_cfg.path:
            raise PrmlabError("task.path: task=livecodebench needs task.path=FILE.jsonl (LiveCodeBench code_generation rows)")
        if not Path(task_cfg.path).is_file():
            raise PrmlabError(f"task.path: file not found: {task_cfg.path}")
        try:
            problems = load_livecodebench(task_cfg.path, date_from=task_cfg.date_from, date_to=task_cfg.date_to)
        except ValueError as e:
            raise PrmlabError(str(e)) from e
    else:
        raise PrmlabError(f"task.name: unknown task source {name!r}; expected one of {SOURCES}")
    return split_external(problems, task_cfg.train_fraction, task_cfg.seed)


def split_external(problems: list[Problem], train_fraction: float, seed: int) -> list[Problem]:
    """External benchmarks are test sets; optionally carve a seeded training share out of them."""
    order = list(range(len(problems)))
    random.Random(seed).shuffle(order)
    n_train = int(round(train_fraction * len(problems)))
    train = set(order[:n_train])
    for i, p in enumerate(problems):
        p.split = "train" if i in train else "test"
    return problems


def write_problems(problems: list[Problem], path: Path) -> None:
    with open(path, "w") as f:
        for p in problems:
            f.write(json.dumps(p.to_dict()) + "\n")


def read_problems(path: Path, split: str | None = None) -> list[Problem]:
    """Read ``problems.jsonl``; a malformed line raises PrmlabError naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise PrmlabError(f"problems file not found: {path}")
    problems = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                p = Problem.from_dict(json.loads(line))
            except (ValueError, KeyError, TypeError) as e:
                raise PrmlabError(
                    f"{path}:{lineno}: malformed problem line ({type(e).__name__}: {e}); expected a JSON object "
                    "with fields id, prompt, tests[{kind,input,expected}], entry_point, difficulty, category, ..."
                ) from e
            if split is None or p.split == split:
                problems.append(p)
    return problems


def rl_problems(path: Path) -> list[Problem]:
    """The prompts RL trains on (and PRM data / gradient analyses are drawn from): the ``rl`` split
    when the source has one (the synthetic suite with ``task.n_rl > 0``), else the ``train`` split."""
    problems = read_problems(path)
    split = "rl" if any(p.split == "rl" for p in problems) else "train"
    return [p for p in problems if p.split == split]


def tasks_stage(ctx) -> dict:
    problems = load_source(ctx.cfg.task)
    limit = ctx.cfg.task.limit
    if limit:
        kept, seen = [], Counter()
        for p in problems:
            if seen[p.split] < limit:
                kept.append(p)
                seen[p.split] += 1
        problems = kept
    if not problems:
        raise PrmlabError(f"task {ctx.cfg.task.name}: no problems loaded")
    write_problems(problems, ctx.out / PROBLEMS_FILE)
    counts = Counter(p.split for p in problems)
    summary = {f"tasks/n_{s}": counts.get(s, 0) for s in ("train", "rl", "val", "test")}
    for d, n in Counter(p.difficulty for p in problems if p.split == "test").items():
        summary[f"tasks/n_test_{d}"] = n
    return summary
