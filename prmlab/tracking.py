"""Run records on disk and on W&B, behind one small interface.

Every run dir holds ``config.yaml`` (resolved), ``metrics.jsonl`` (one JSON object per logged
step: ``{"stage", "step", "time", <metric>: value, ...}``), ``summary.json`` (final figures and
which stages were computed or reused) and ``samples.jsonl`` (evaluation samples, copied from the
eval stage). ``logger=wandb`` sends the same metric names to W&B (offline by default, so it
works without network): ``group`` = experiment name, ``job_type`` = the run's last training
stage, ``name`` = the run's overrides, ``tags`` from the experiment file, config resolved.
``finish`` is always called (also on failure, with a non-zero exit code).
"""
from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any, Optional

log = logging.getLogger(__name__)


def _clean(v: Any) -> Any:
    if hasattr(v, "item") and callable(v.item):
        v = v.item()
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None if math.isnan(v) else (1e308 if v > 0 else -1e308)
    return v


class Tracker:
    def __init__(self, run_dir: str | os.PathLike, logger_cfg=None, *, config: Optional[dict] = None,
                 group: str = "default", job_type: str = "run", name: str = "", tags: tuple = ()):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.metrics_path = self.run_dir / "metrics.jsonl"
        self._f = open(self.metrics_path, "a", buffering=1)
        self.stage = "run"
        self._steps: dict[str, int] = {}
        self.wandb = None
        if logger_cfg is not None and logger_cfg.name == "wandb" and logger_cfg.mode != "disabled":
            import wandb

            os.environ.setdefault("WANDB_SILENT", "true")
            self.wandb = wandb.init(
                project=logger_cfg.project, entity=logger_cfg.entity, mode=logger_cfg.mode,
                dir=str(logger_cfg.dir or self.run_dir), group=group, job_type=job_type, name=name or None,
                tags=list(tags), config=config, reinit="finish_previous",
            )
            log.info("W&B run %s (%s mode) in %s", self.wandb.id, logger_cfg.mode, self.wandb.dir)

    def log(self, metrics: dict, step: Optional[int] = None) -> None:
        """Append one record; ``step`` counts within the current stage (auto-increments if None)."""
        if step is None:
            step = self._steps.get(self.stage, -1) + 1
        self._steps[self.stage] = step
        rec = {"stage": self.stage, "step": step, "time": time.time()}
        rec.update({k: _clean(v) for k, v in metrics.items()})
        self._f.write(json.dumps(rec) + "\n")
        if self.wandb is not None:
            self.wandb.log({**{k: _clean(v) for k, v in metrics.items()}, f"{self.stage}/step": step})

    def summary(self, summary: dict) -> None:
        if self.wandb is not None:
            for k, v in summary.items():
                if isinstance(v, (int, float, str, bool)) or v is None:
                    self.wandb.summary[k] = v

    def finish(self, exit_code: int = 0) -> None:
        self._f.close()
        if self.wandb is not None:
            self.wandb.finish(exit_code=exit_code)
            self.wandb = None
