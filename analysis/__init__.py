"""Analysis of prmlab run records: tables, figures and statistics over seeds.

Reads records only (``config.yaml``, ``summary.json``, ``metrics.jsonl``, ``samples.jsonl`` of each
run and, for PRM figures, the stage-cache entries a run names), never live training state.

- ``collect``: sweep dirs (or a W&B group) → one ``pandas`` row per run (``Collection``).
- ``artifacts``: a collection's training curves, evaluation samples and stage-cache entries.
- ``overrides``: parsing a run's overrides, the jobs of a sweep, the swept factors.
- ``conf``: the names read from ``conf/`` (experiments, keys that do not change results).
- ``stats``: mean and 95% Student-t interval over seeds; paired t and Welch comparisons, MDE, verdicts.
- ``power``: the noise study (seed-to-seed SD, MDE against the number of seeds).
- ``tables``: Table 1, Table 2, the pass-rate study's table (Markdown, LaTeX, CSV).
- ``figures``: Figure 3, Figure 4, training curves, reward density, hacking monitors, PRM calibration.
- ``report``: one results folder with ``index.md`` per experiment (what ``multirun.sh`` calls).
- ``wandb_report``: the same tables and figures as a W&B Report.
"""
