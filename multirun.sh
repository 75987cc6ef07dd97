#!/usr/bin/env bash
# Regenerate the papers' tables and figures: each NAME runs its sweep (all seeds) and then the
# analysis, into one results folder with an index.
#
#   ./multirun.sh NAME [hydra overrides...]    NAME: an experiment, conf/experiment/NAME.yaml
#   ./multirun.sh all  [hydra overrides...]    every experiment in turn, then results/index.md
#
# The experiments are the conf/experiment/*.yaml files that declare a sweep (hydra.sweeper.params;
# each file's header says what it reproduces); `python -m analysis.conf experiments` lists them in
# the order `all` runs them. smoke.yaml is no experiment: it is the size overlay SMOKE=1 adds.
#
# Writes results/NAME/index.md (tables in tables/*.md|.tex|.csv, figures in figures/*.png|.pdf,
# the run table runs.csv). The run records go to outputs/sweeps/NAME/<time>/, handed to Hydra as
# hydra.sweep.dir so the analysis step reads exactly this sweep.
#
# Launcher: a Hydra override on the command line (default: basic, one job after the other).
#   ./multirun.sh table2 hydra/launcher=joblib hydra.launcher.n_jobs=2 threads=1    # parallel jobs, one machine
#   PRMLAB_CACHE=/shared/prmlab_cache ./multirun.sh table2 hydra/launcher=submitit_slurm \
#       hydra.launcher.partition=gpu hydra.launcher.gpus_per_node=1 hydra.launcher.timeout_min=240   # SLURM
#   ./multirun.sh table2 hydra/launcher=submitit_local                                # submitit, this machine
# joblib/submitit need `pip install -e ".[cluster]"`. Parallel jobs share upstream stages through
# the stage cache (file locks): a stage is computed once, the other jobs wait and reuse it. On a
# cluster the cache must be on a shared file system (PRMLAB_CACHE).
#
# Other overrides pass through to every job: seed=0,1,2,3,4 (more seeds), logger=none (no W&B
# files), model=hf model.path=/ckpt, ... A failing job ends a Hydra sweep; the analysis still runs
# and lists the failed and never-started jobs in index.md, and the script exits non-zero.
#
# Resuming: rerun the same command; finished stages are reused from the cache and a killed RL stage
# resumes from its step checkpoint. `python -m analysis.plan experiment=NAME [overrides] --jobs 2` (or
# `all`) says what is left and projects its cost.
#
# Environment: SMOKE=1 runs each experiment at the seconds-scale smoke size ('experiment=[smoke,NAME]')
# to check the wiring; RESULTS (default results) and SWEEPS (default outputs/sweeps) move the outputs.
set -uo pipefail
cd "$(dirname "$0")"
RESULTS=${RESULTS:-results}
SWEEPS=${SWEEPS:-outputs/sweeps}
PYTHON=${PYTHON:-python}

run() {  # run NAME [overrides...]: the sweep, then the analysis into $RESULTS/NAME
  local name=$1; shift
  local exp=$name; [[ -n "${SMOKE:-}" ]] && exp="[smoke,$name]"
  local sweep_dir="$SWEEPS/$name/$(date +%Y-%m-%d_%H-%M-%S)_$$"
  local cmd=("$PYTHON" -m prmlab.run -m "experiment=$exp" "$@" "hydra.sweep.dir=$sweep_dir")
  echo "== $name: ${cmd[*]}"
  local t0=$SECONDS status=0
  "${cmd[@]}" || status=$?
  local sweep_s=$((SECONDS - t0))
  "$PYTHON" -m analysis.report "$sweep_dir" --name "$name" --out "$RESULTS/$name" --sweep-seconds "$sweep_s" \
      --command "./multirun.sh $name $*" --command "${cmd[*]}" || status=$?
  return $status
}

name=${1:-}
experiments=$("$PYTHON" -m analysis.conf experiments | tr '\n' ' ') || experiments=""
[[ -n "$name" ]] || { sed -n '2,6p' "$0"; echo "NAME: ${experiments:-(cannot list: \`$PYTHON -m analysis.conf experiments\` failed)}"; exit 2; }
[[ -n "$experiments" ]] || { echo "cannot list the experiments: \`$PYTHON -m analysis.conf experiments\` failed"; exit 2; }
shift
status=0
if [[ "$name" == all ]]; then
  for n in $experiments; do
    run "$n" "$@" || status=$?
  done
  "$PYTHON" -m analysis.report --index "$RESULTS" || status=$?
elif [[ " $experiments " == *" $name "* ]]; then
  run "$name" "$@" || status=$?
else
  echo "unknown experiment '$name' (${experiments}all)"; exit 2
fi
exit $status
