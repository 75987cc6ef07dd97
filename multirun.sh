#!/usr/bin/env bash
# Regenerate the papers' tables and figures: each NAME runs its sweep (all seeds) and then the
# analysis, into one results folder with an index.
#
#   ./multirun.sh NAME [hydra overrides...]    NAME: see the list at the bottom
#   ./multirun.sh all  [hydra overrides...]    every experiment in turn, then results/index.md
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
[[ -n "$name" ]] || { sed -n '2,6p' "$0"; exit 2; }
shift
status=0
case "$name" in
  # RL core: SFT vs PPO / GRPO / RLOO x binary / pass-rate reward, 3 RL seeds from one SFT policy
  rl_core) run rl_core "$@" || status=$? ;;
  # PRM paper Table 1: SFT / RL baseline / ValueInit / DenseReward / both, by difficulty and category
  table1) run table1 "$@" || status=$? ;;
  # PRM paper Table 2: PRM data selection full / remove_hard / medium_only / revised_only
  table2) run table2 "$@" || status=$? ;;
  # PRM paper Figure 3: pass@1 by response-length bucket, with vs without PRM
  fig3_length) run fig3_length "$@" || status=$? ;;
  # PRM paper Figure 4: final pass@1 vs PRM data amount (responses collected per prompt)
  fig4_data) run fig4_data "$@" || status=$? ;;
  # Dense-reward weight lambda_fail sweep, with the reward-hacking monitors
  reward_weighting) run reward_weighting "$@" || status=$? ;;
  # Pass-rate study: binary vs pass-rate reward x GRPO/RLOO x two base models, reward density
  passrate_study) run passrate_study "$@" || status=$? ;;
  # Pass-rate study's gradient analyses: gradient direction, conflict, calibration (GRPO-binary runs)
  passrate_gradients) run passrate_gradients "$@" || status=$? ;;
  all)
    for n in rl_core table1 table2 fig3_length fig4_data reward_weighting passrate_study passrate_gradients; do
      run "$n" "$@" || status=$?
    done
    "$PYTHON" -m analysis.report --index "$RESULTS" || status=$? ;;
  *) echo "unknown experiment '$name' (rl_core table1 table2 fig3_length fig4_data reward_weighting passrate_study passrate_gradients all)"; exit 2 ;;
esac
exit $status
