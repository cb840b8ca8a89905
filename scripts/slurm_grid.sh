#!/usr/bin/env bash
# slurm_grid.sh — run a medcolor grid folder (made by `medcolor grid`) on a SLURM cluster, one
# run per array task, with the local runner's skip/resume behaviour (docs/study.md).
#
#   scripts/slurm_grid.sh GRID_DIR [sbatch options...]
#       submits itself as a job array of N tasks, N = the runs in GRID_DIR/runs.tsv
#       (--array=1-N, or 1-N%MAX_PARALLEL), logs in GRID_DIR/logs/<job name>-<job>_<task>.out;
#       sbatch options go through (e.g. --partition gpu --time 12:00:00 --test-only)
#   sbatch --array=1-N scripts/slurm_grid.sh GRID_DIR
#       the same by hand
#   SLURM_ARRAY_TASK_ID=K scripts/slurm_grid.sh GRID_DIR      (DRY_RUN=1: print the command only)
#       task K (1-based row of runs.tsv), in or outside SLURM: runs
#       `medcolor run-grid GRID_DIR --index K`, which skips the run when it finished before,
#       resumes it from its last checkpoint when it was started (a task killed at its time limit
#       or pre-empted continues where it stopped when it is submitted again), starts it otherwise.
#       The task fails (non-zero exit) when the run fails. At the time limit SLURM sends SIGTERM:
#       medcolor writes a checkpoint after the current iteration and exits 143, so a task that is
#       submitted again loses nothing (KillWait, 30 s by default, must exceed one iteration).
#
# Several GPUs per run: submit with one task per GPU, e.g.
#   scripts/slurm_grid.sh GRID_DIR --ntasks-per-node=4 --gres=gpu:4
# Each array task then starts its run through srun on all its tasks (SLURM_NTASKS > 1): the run
# trains data-parallel, one process per GPU, each taking the GPU of its local rank
# (docs/distributed.md); the global batch is the experiment's and must divide by the tasks.
#
# Run it from the folder the grid was expanded in (the repository root): the paths in the
# experiments (cfg/..., data/...) are relative to it; a task changes to $SLURM_SUBMIT_DIR.
#
# Environment:
#   MEDCOLOR      the binary (default: ./build-gpu/medcolor when a GPU is allocated and it exists,
#                 else ./medcolor, else medcolor on PATH)
#   GPU_OPTS      >>> the GPU options given to medcolor. Default: "--gpu 0" (the first GPU SLURM
#                 allocated: CUDA_VISIBLE_DEVICES is set by SLURM) when the task has a GPU, the
#                 binary is a GPU build (linked with libcudart) and its run-grid takes --gpu; else
#                 empty (CPU). Set GPU_OPTS="" to force the CPU, or e.g. "--gpu 1". <<<
#   RUN_OPTS      more options for medcolor run-grid (default: --plain, and --threads
#                 $SLURM_CPUS_PER_TASK when set)
#   MAX_PARALLEL  at most this many tasks at once (submit mode)
#   SRUN          the srun command for runs of several tasks (default: srun); SRUN_MPI: its --mpi=
#                 plugin (default pmix, Debian's OpenMPI 4 under SLURM; "none" leaves it out)
#   SBATCH        the sbatch command (default: sbatch)
#
# The #SBATCH defaults below (one GPU, 8 cores, 32 GB, 24 h) fit one ResNet18/DenseNet121 run at
# 320x320 on CheXpert; change them here or override them on the command line.
#SBATCH --job-name=medcolor-grid
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --mem=32G
#SBATCH --time=24:00:00
#SBATCH --output=medcolor-grid-%A_%a.out
#SBATCH --open-mode=append
set -u

die() { echo "slurm_grid.sh: $*" >&2; exit 2; }

[ $# -ge 1 ] || die "usage: scripts/slurm_grid.sh GRID_DIR [sbatch options...] (see the comment at its top)"
GRID=$1
shift

if [ -z "${SLURM_ARRAY_TASK_ID:-}" ]; then
  # ---- submit mode ----------------------------------------------------------------------
  [ -f "$GRID/runs.tsv" ] || die "$GRID/runs.tsv: no such file (expand a grid first: medcolor grid FILE.grid -o $GRID)"
  N=$(awk -F'\t' 'NR > 1 && $1 ~ /^[0-9]+$/ { n++ } END { print n + 0 }' "$GRID/runs.tsv")
  [ "$N" -ge 1 ] || die "$GRID/runs.tsv lists no runs"
  ARRAY="1-$N"
  [ -n "${MAX_PARALLEL:-}" ] && ARRAY="$ARRAY%$MAX_PARALLEL"
  mkdir -p "$GRID/logs" || die "cannot create $GRID/logs"
  SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
  echo "slurm_grid.sh: submitting $N runs of $GRID as an array ($ARRAY), logs in $GRID/logs/" >&2
  exec ${SBATCH:-sbatch} --array="$ARRAY" --output="$GRID/logs/%x-%A_%a.out" "$@" "$SELF" "$GRID"
fi

# ---- task mode ----------------------------------------------------------------------------
[ $# -eq 0 ] || die "task mode takes only GRID_DIR (got: $*)"
[ -n "${SLURM_SUBMIT_DIR:-}" ] && { cd "$SLURM_SUBMIT_DIR" || die "cannot cd to $SLURM_SUBMIT_DIR"; }
[ -f "$GRID/runs.tsv" ] || die "$GRID/runs.tsv: no such file (in $(pwd))"
K=$SLURM_ARRAY_TASK_ID
[[ "$K" =~ ^[0-9]+$ ]] || die "SLURM_ARRAY_TASK_ID=$K is not a run index"
NAME=$(awk -F'\t' -v k="$K" 'NR > 1 && $1 == k { print $2 }' "$GRID/runs.tsv")
[ -n "$NAME" ] || die "no run $K in $GRID/runs.tsv"

has_gpu=0
if [ -n "${CUDA_VISIBLE_DEVICES:-}${SLURM_JOB_GPUS:-}${SLURM_STEP_GPUS:-}" ] && [ "${CUDA_VISIBLE_DEVICES:-}" != "NoDevFiles" ]; then
  has_gpu=1
fi
if [ -z "${MEDCOLOR:-}" ]; then
  if [ $has_gpu = 1 ] && [ -x ./build-gpu/medcolor ]; then MEDCOLOR=./build-gpu/medcolor
  elif [ -x ./medcolor ]; then MEDCOLOR=./medcolor
  else MEDCOLOR=medcolor
  fi
fi
command -v "$MEDCOLOR" >/dev/null 2>&1 || die "$MEDCOLOR: not found (set MEDCOLOR=/path/to/medcolor)"

# >>> GPU options (see the comment at the top) <<<
if [ -z "${GPU_OPTS+set}" ]; then
  GPU_OPTS=""
  if [ $has_gpu = 1 ] && "$MEDCOLOR" run-grid --help 2>/dev/null | grep -q -- '--gpu' &&
     ldd "$(command -v "$MEDCOLOR")" 2>/dev/null | grep -q libcudart; then
    GPU_OPTS="--gpu 0"
  fi
fi
if [ -z "${RUN_OPTS+set}" ]; then
  RUN_OPTS="--plain"
  [ -n "${SLURM_CPUS_PER_TASK:-}" ] && RUN_OPTS="$RUN_OPTS --threads $SLURM_CPUS_PER_TASK"
fi

# several tasks in this array task: the run goes data-parallel over them through srun
LAUNCH=()
if [ "${SLURM_NTASKS:-1}" -gt 1 ] 2>/dev/null; then
  SRUN_MPI=${SRUN_MPI:-pmix}
  LAUNCH=(${SRUN:-srun} --kill-on-bad-exit=1)
  [ "$SRUN_MPI" != none ] && LAUNCH+=(--mpi="$SRUN_MPI")
fi
# shellcheck disable=SC2206  # the option strings are meant to split into words
cmd=("${LAUNCH[@]}" "$MEDCOLOR" run-grid "$GRID" --index "$K" $RUN_OPTS $GPU_OPTS)
echo "slurm_grid.sh: job ${SLURM_ARRAY_JOB_ID:-none} task $K on $(hostname) at $(date '+%F %T'): run $NAME${LAUNCH[0]:+ on ${SLURM_NTASKS} tasks}"
echo "slurm_grid.sh: ${cmd[*]}"
[ -n "${DRY_RUN:-}" ] && exit 0
"${cmd[@]}"
rc=$?
echo "slurm_grid.sh: task $K ($NAME) exit status $rc at $(date '+%F %T')"
exit $rc
