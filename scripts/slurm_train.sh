#!/usr/bin/env bash
# slurm_train.sh — ONE medcolor run on several GPUs and nodes: data-parallel training, one process
# per GPU, started by srun (docs/distributed.md). For many runs of a grid, one GPU each, see
# scripts/slurm_grid.sh (docs/study.md).
#
#   sbatch [sbatch options] scripts/slurm_train.sh EXPERIMENT.exp [medcolor train options...]
#       e.g. sbatch --nodes 2 --gpus-per-node 4 --ntasks-per-node 4 scripts/slurm_train.sh \
#                   experiments/paper.exp -o runs/paper-8gpu
#       Submit it again with --resume added to continue a run stopped by the time limit.
#   DRY_RUN=1 scripts/slurm_train.sh EXPERIMENT.exp [...]
#       prints the srun command line it would run (in or outside an allocation) and exits.
#
# Inside the job: one task per GPU (--ntasks-per-node = --gpus-per-node); every task sees the
# node's GPUs and takes the one of its local rank (medcolor's --gpu N counts from N); rank 0
# writes the run folder (on a file system every node sees) and prints the progress. The global
# batch is the experiment's (16 in the paper): it must divide by the number of tasks, or set
# batch_per_rank = 1 in the experiment. At the time limit SLURM sends SIGTERM to every task: all
# ranks stop at the same iteration and rank 0 writes a checkpoint (KillWait must exceed one
# iteration). A task that dies ends the job (--kill-on-bad-exit).
#
# Environment:
#   MEDCOLOR   the binary (default ./build-gpu/medcolor when GPUs are allocated and it exists, else
#              ./medcolor, else medcolor on PATH); it must be built with MPI (make MPI=1, the
#              default when OpenMPI is installed; a GPU build then links NCCL)
#   GPU_OPTS   default "--gpu 0" when the job has GPUs; "" forces the CPU (one task per core share)
#   RUN_OPTS   more options for medcolor train (default: --plain, and --threads
#              $SLURM_CPUS_PER_TASK when set)
#   SRUN       the srun command (default: srun); SRUN_MPI: its --mpi= plugin (default pmix, what
#              Debian's OpenMPI 4 uses under SLURM; "none" leaves it out)
#
# The #SBATCH defaults: 2 nodes x 4 GPUs, a task per GPU with 8 cores each, 24 h.
#SBATCH --job-name=medcolor-train
#SBATCH --nodes=2
#SBATCH --gpus-per-node=4
#SBATCH --ntasks-per-node=4
#SBATCH --cpus-per-task=8
#SBATCH --mem=0
#SBATCH --time=24:00:00
#SBATCH --output=medcolor-train-%j.out
#SBATCH --open-mode=append
set -u

die() { echo "slurm_train.sh: $*" >&2; exit 2; }

[ $# -ge 1 ] || die "usage: sbatch scripts/slurm_train.sh EXPERIMENT.exp [medcolor train options...] (see the comment at its top)"
case $1 in
  *.exp) ;;
  *) die "$1: the first argument is the experiment (.exp) to train" ;;
esac
[ -n "${SLURM_SUBMIT_DIR:-}" ] && { cd "$SLURM_SUBMIT_DIR" || die "cannot cd to $SLURM_SUBMIT_DIR"; }
[ -f "$1" ] || die "$1: no such experiment (in $(pwd))"

has_gpu=0
if [ -n "${SLURM_JOB_GPUS:-}${SLURM_GPUS_ON_NODE:-}${CUDA_VISIBLE_DEVICES:-}" ] && [ "${CUDA_VISIBLE_DEVICES:-}" != "NoDevFiles" ]; then
  has_gpu=1
fi
if [ -z "${MEDCOLOR:-}" ]; then
  if [ $has_gpu = 1 ] && [ -x ./build-gpu/medcolor ]; then MEDCOLOR=./build-gpu/medcolor
  elif [ -x ./medcolor ]; then MEDCOLOR=./medcolor
  else MEDCOLOR=medcolor
  fi
fi
[ -n "${GPU_OPTS+set}" ] || { GPU_OPTS=""; [ $has_gpu = 1 ] && GPU_OPTS="--gpu 0"; }
if [ -z "${RUN_OPTS+set}" ]; then
  RUN_OPTS="--plain"
  [ -n "${SLURM_CPUS_PER_TASK:-}" ] && RUN_OPTS="$RUN_OPTS --threads $SLURM_CPUS_PER_TASK"
fi
SRUN_MPI=${SRUN_MPI:-pmix}
MPI_OPT=""
[ "$SRUN_MPI" != none ] && MPI_OPT="--mpi=$SRUN_MPI"

# shellcheck disable=SC2206  # the option strings are meant to split into words
cmd=(${SRUN:-srun} $MPI_OPT --kill-on-bad-exit=1 "$MEDCOLOR" train "$@" $RUN_OPTS $GPU_OPTS)
echo "slurm_train.sh: job ${SLURM_JOB_ID:-none} on ${SLURM_JOB_NUM_NODES:-?} node(s) (${SLURM_JOB_NODELIST:-?}), ${SLURM_NTASKS:-?} tasks, at $(date '+%F %T')"
echo "slurm_train.sh: ${cmd[*]}"
[ -n "${DRY_RUN:-}" ] && exit 0
command -v "$MEDCOLOR" >/dev/null 2>&1 || die "$MEDCOLOR: not found (set MEDCOLOR=/path/to/medcolor)"
"${cmd[@]}"
rc=$?
echo "slurm_train.sh: exit status $rc at $(date '+%F %T')"
exit $rc
