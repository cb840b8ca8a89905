#!/usr/bin/env bash
# cli_grid.sh — the study tools end to end on generated data (the demo generator), with a tiny
# T -> E -> C network: `medcolor grid` expands a 2 configurations x 2 seeds grid; one run is
# interrupted (train --stop-after) and another broken; `run-grid` resumes the first (its results
# equal an uninterrupted run's), reports the broken one and goes on (exit 1), skips finished runs;
# `report` is checked against an independent Python computation (mean, sample std, paired t-test
# from the t density, Benjamini–Hochberg: tests/data/stats_ref.py) from the runs' results.csv;
# scripts/slurm_grid.sh: a task run outside SLURM (SLURM_ARRAY_TASK_ID), the submission with a
# stand-in sbatch (array size, log paths), `sbatch --test-only` when a SLURM controller answers,
# and a real array (--wait) with MC_TEST_SLURM=1.
set -u
BIN=${MC_BIN:-./medcolor}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
T=${MC_TMP:-$(mktemp -d)}
PY=/usr/bin/python3
fail=0
bad() { echo "FAIL cli_grid: $*"; fail=1; }
rm -rf "$T/runs" "$T/ref" "$T/rep" "$T/runs_s" "$T/cfg"
mkdir -p "$T/cfg"

# ---- data, networks, the grid ----------------------------------------------------------------
"$BIN" demo-data "$T/demo" --train 64 --valid 32 --width 32 --height 40 >/dev/null || { echo "FAIL cli_grid: demo-data"; exit 1; }
cat > "$T/demo.data" <<EOF
format = chexpert
root = demo
train = CheXpert-v1.0-small/train.csv
valid = CheXpert-v1.0-small/valid.csv
labels = Atelectasis:ones, Cardiomegaly:zeros, Consolidation:zeros, Edema:ones, Pleural Effusion:ones
EOF
E='[convolutional]\nname=e1\ngroup=backbone\nfilters=8\nsize=3\nstride=2\npadding=1\nbatch_normalize=1\nactivation=relu\n[convolutional]\nname=e2\ngroup=backbone\nfilters=16\nsize=3\nstride=2\npadding=1\nbatch_normalize=1\nactivation=relu\n[avgpool]\ngroup=backbone\n[connected]\nname=head\ngroup=head\noutput=5\n[cost]\ngroup=head\n'
# the baseline: the grey channel copied to 3 (no parameters in T); the module: two convolutions
printf "[net]\nbatch=8\nwidth=32\nheight=32\nchannels=1\n[route]\nname=grey3\ngroup=color\nlayers=input,input,input\n$E" > "$T/cfg/tiny.cfg"
printf "[net]\nbatch=8\nwidth=32\nheight=32\nchannels=1\n[convolutional]\nname=t1\ngroup=color\nfilters=4\nsize=3\npadding=1\nbatch_normalize=1\nactivation=leaky\n[convolutional]\nname=t2\ngroup=color\nfilters=3\nsize=1\n$E" > "$T/cfg/tiny-color.cfg"
cat > "$T/study.grid" <<EOF
[grid]
data = $T/demo.data
cfg_dir = $T/cfg
backbones = tiny
seeds = 1, 2
batch = 8
workers = 1
threads = 1
epochs = 2
max_iters = 12
checkpoint_every = 4
max_lr = 1e-2
[chain]
modules = none
stages = baseline-all
[chain]
modules = color
stages = color, all
EOF
out=$("$BIN" grid "$T/study.grid" -o "$T/runs" --list) || bad "grid: $out"
[ "$(tail -n +2 "$T/runs/runs.tsv" | wc -l)" = 4 ] || bad "runs.tsv: $(cat "$T/runs/runs.tsv")"
for r in tiny_baseline-all_seed1 tiny_baseline-all_seed2 tiny-color_color+all_seed1 tiny-color_color+all_seed2; do
  [ -f "$T/runs/$r/experiment.exp" ] || bad "no $r/experiment.exp"
done
[[ "$out" == *"4 runs in $T/runs (4 new, 0 started, 0 done)"* ]] || bad "grid summary: $out"

# ---- an interrupted run, a broken run ---------------------------------------------------------
R2=tiny-color_color+all_seed2
"$BIN" train "$T/runs/$R2/experiment.exp" -o "$T/runs/$R2" --stop-after 5 --quiet >/dev/null 2>&1 || bad "train --stop-after"
[ -f "$T/runs/$R2/1-color/checkpoint.safetensors" ] && [ ! -f "$T/runs/$R2/1-color/DONE" ] || bad "stop-after left no resumable state"
out=$("$BIN" run-grid "$T/runs" --dry-run) || bad "dry run: $out"
[[ "$out" == *"$R2: would resume (0 of 2 stages finished)"* && "$out" == *"tiny_baseline-all_seed1: would start"* ]] || bad "dry run: $out"
[ ! -f "$T/runs/tiny_baseline-all_seed1/log.csv" ] || bad "dry run trained"
B=tiny_baseline-all_seed2
cp "$T/runs/$B/experiment.exp" "$T/saved.exp"
sed -i "s|^net = .*|net = $T/cfg/missing.cfg|" "$T/runs/$B/experiment.exp"
out=$("$BIN" run-grid "$T/runs" --quiet 2>"$T/err"); rc=$?
[ $rc = 1 ] || bad "run-grid with a broken run: exit $rc, expected 1"
grep -q "$B: FAILED: .*missing.cfg" "$T/err" || bad "the failure is not reported: $(cat "$T/err")"
[[ "$out" == *"4 runs: 0 finished before, 3 finished now, 0 stopped, 1 failed"* ]] || bad "summary: $out"
[[ "$out" == *"[4/4] $R2: resume"* ]] || bad "the interrupted run was not resumed: $out"
cp "$T/saved.exp" "$T/runs/$B/experiment.exp"
out=$("$BIN" run-grid "$T/runs" --quiet 2>&1); rc=$?
[ $rc = 0 ] || bad "second run-grid: exit $rc: $out"
[[ "$out" == *"4 runs: 3 finished before, 1 finished now, 0 stopped, 0 failed"* ]] || bad "second run-grid: $out"
out=$("$BIN" run-grid "$T/runs" --only 'tiny-color*' 2>&1); rc=$?
[ $rc = 0 ] && [[ "$out" == *"2 runs: 2 finished before, 0 finished now"* ]] || bad "--only glob: $out"
"$BIN" run-grid "$T/runs" --only nothing-matches >/dev/null 2>&1 && bad "--only matching nothing should fail"
# the resumed run ends as an uninterrupted run of the same experiment (seconds aside)
"$BIN" train "$T/runs/$R2/experiment.exp" -o "$T/ref" --quiet >/dev/null 2>&1 || bad "reference run"
if ! diff <(cut -d, -f1-7 "$T/runs/$R2/results.csv") <(cut -d, -f1-7 "$T/ref/results.csv") >/dev/null; then
  bad "resumed run differs from an uninterrupted one"
fi

# ---- report against an independent computation ----------------------------------------------
out=$("$BIN" report "$T/runs" -o "$T/rep" --compare color/color+all:none/baseline-all \
      --compare color/color:none/baseline-all --per-label 2>&1); rc=$?
[ $rc = 0 ] || bad "report: exit $rc: $out"
for f in report.txt runs.csv summary.csv compare.csv; do [ -s "$T/rep/$f" ] || bad "report: no $f"; done
[[ "$out" == *"Baseline All"*"color+all"* ]] || bad "report table: $out"
PYTHONPATH=tests/data "$PY" - "$T/runs" "$T/rep" <<'EOF' || bad "report values differ from the Python reference"
import csv, math, statistics, sys
from stats_ref import paired, bh
runs, rep = sys.argv[1], sys.argv[2]
index = list(csv.DictReader(open(runs + "/runs.tsv"), delimiter="\t"))
groups = {}   # (module, stages) -> {seed: {label: auc}}
for r in index:
    rows = list(csv.DictReader(open(runs + "/" + r["name"] + "/results.csv")))
    chain = r["stages"].split("+")
    for k in range(1, len(chain) + 1):
        key = (r["module"], "+".join(chain[:k]))
        groups.setdefault(key, {})[int(r["seed"])] = {x["label"]: float(x["auc"]) for x in rows if int(x["stage_index"]) == k}
ok = True
def close(a, b, tol=1e-9):
    return abs(a - b) <= tol * max(1.0, abs(b))
summary = list(csv.DictReader(open(rep + "/summary.csv")))
if len(summary) != 3 * 6:
    print("summary.csv: %d rows, expected 18" % len(summary)); ok = False
for s in summary:
    vals = [v[s["label"]] for v in groups[(s["module"], s["stages"])].values()]
    if int(s["n"]) != len(vals) or not close(float(s["mean"]), statistics.mean(vals)) or not close(float(s["std"]), statistics.stdev(vals)):
        print("summary mismatch", s, statistics.mean(vals), statistics.stdev(vals)); ok = False
cmp = list(csv.DictReader(open(rep + "/compare.csv")))
for fam in ("mean", "label"):
    rows = [c for c in cmp if c["family"] == fam]
    ps = []
    for c in rows:
        a, b = groups[tuple(c["a"].split("/"))], groups[tuple(c["b"].split("/"))]
        seeds = sorted(set(a) & set(b))
        t, p = paired([a[s][c["label"]] for s in seeds], [b[s][c["label"]] for s in seeds])
        ps.append(p)
        if int(c["n"]) != len(seeds) or not close(float(c["t"]), t, 1e-8) or not close(float(c["p"]), p, 1e-7):
            print("t-test mismatch", c, t, p); ok = False
    for c, q in zip(rows, bh(ps)):
        if not close(float(c["p_bh"]), q, 1e-7):
            print("BH mismatch", c, q); ok = False
if len([c for c in cmp if c["family"] == "mean"]) != 2 or len([c for c in cmp if c["family"] == "label"]) != 10:
    print("compare.csv: wrong number of rows"); ok = False
sys.exit(0 if ok else 1)
EOF
"$BIN" report "$T/runs" --compare nope/color:none/baseline-all -o "$T/rep" >/dev/null 2>&1 && bad "an unknown strategy should fail"
"$BIN" report "$T/runs" --compare nonsense -o "$T/rep" >/dev/null 2>&1; [ $? = 2 ] || bad "a malformed --compare should exit 2"

# ---- scripts/slurm_grid.sh ---------------------------------------------------------------------
S=scripts/slurm_grid.sh
bash -n "$S" || bad "$S: syntax"
grep -q '^#SBATCH --gres=gpu:1' "$S" && grep -q '^#SBATCH --time=' "$S" && grep -q '^#SBATCH --output=.*%A_%a' "$S" ||
  bad "$S: #SBATCH lines (gres, time, output with %A_%a)"
"$BIN" grid "$T/study.grid" -o "$T/runs_s" >/dev/null || bad "grid runs_s"
# a task outside SLURM: run 3 of the index, then again (skipped)
out=$(SLURM_ARRAY_TASK_ID=3 MEDCOLOR="$BIN" RUN_OPTS=--quiet bash "$S" "$T/runs_s" 2>&1); rc=$?
[ $rc = 0 ] && [[ "$out" == *"task 3 on"*"run tiny-color_color+all_seed1"* ]] || bad "task 3: exit $rc: $out"
[ -f "$T/runs_s/tiny-color_color+all_seed1/2-all/DONE" ] || bad "task 3 did not run tiny-color_color+all_seed1"
[ ! -e "$T/runs_s/tiny-color_color+all_seed2/log.csv" ] || bad "task 3 ran another run too"
out=$(SLURM_ARRAY_TASK_ID=3 MEDCOLOR="$BIN" bash "$S" "$T/runs_s" 2>&1)
[[ "$out" == *"finished before, skipped"* ]] || bad "task 3 again: $out"
[[ "$out" != *"--gpu"* ]] || bad "GPU options without a GPU: $out"
out=$(SLURM_ARRAY_TASK_ID=9 MEDCOLOR="$BIN" bash "$S" "$T/runs_s" 2>&1); rc=$?
[ $rc = 2 ] && [[ "$out" == *"no run 9 in"* ]] || bad "task 9: exit $rc: $out"
# several tasks per array task (a run on several GPUs): the run-grid goes through srun over them
out=$(DRY_RUN=1 SLURM_ARRAY_TASK_ID=2 SLURM_NTASKS=4 GPU_OPTS="--gpu 0" RUN_OPTS=--plain MEDCOLOR="$BIN" bash "$S" "$T/runs_s" 2>&1)
[[ "$out" == *"slurm_grid.sh: srun --kill-on-bad-exit=1 --mpi=pmix $BIN run-grid $T/runs_s --index 2 --plain --gpu 0"* ]] ||
  bad "4 tasks: no srun line: $out"
out=$(DRY_RUN=1 SLURM_ARRAY_TASK_ID=2 SLURM_NTASKS=1 RUN_OPTS=--plain MEDCOLOR="$BIN" bash "$S" "$T/runs_s" 2>&1)
[[ "$out" == *"slurm_grid.sh: $BIN run-grid $T/runs_s --index 2 --plain"* && "$out" != *srun* ]] || bad "1 task: $out"
# submission: array sized from runs.tsv, log paths; a stand-in sbatch records its arguments
printf '#!/bin/sh\nprintf "%%s\\n" "$@" > "%s/sbatch.args"\necho "Submitted batch job 7"\n' "$T" > "$T/sbatch"
chmod +x "$T/sbatch"
out=$(SBATCH="$T/sbatch" MAX_PARALLEL=2 bash "$S" "$T/runs_s" --partition gpu 2>&1) || bad "submit: $out"
args=$(tr '\n' ' ' < "$T/sbatch.args")
[ "$args" = "--array=1-4%2 --output=$T/runs_s/logs/%x-%A_%a.out --partition gpu $(pwd)/$S $T/runs_s " ] || bad "sbatch arguments: $args"
[ -d "$T/runs_s/logs" ] || bad "no logs folder"
# a real SLURM when one answers
if command -v sbatch >/dev/null 2>&1 && scontrol ping 2>/dev/null | grep -q UP; then
  out=$(bash "$S" "$T/runs_s" --test-only --mem=200M --cpus-per-task=1 2>&1); rc=$?
  [ $rc = 0 ] && [[ "$out" == *"to start at"* ]] || bad "sbatch --test-only: exit $rc: $out"
  if [ "${MC_TEST_SLURM:-0}" = 1 ]; then
    out=$(MEDCOLOR="$BIN" RUN_OPTS=--quiet bash "$S" "$T/runs_s" --wait --mem=200M --cpus-per-task=1 2>&1); rc=$?
    [ $rc = 0 ] || bad "SLURM array: exit $rc: $out"
    out=$("$BIN" run-grid "$T/runs_s" --dry-run)
    [[ "$out" == *"4 runs selected, 4 finished before"* ]] || bad "after the SLURM array: $out"
    grep -q "finished before, skipped" "$T"/runs_s/logs/*_3.out || bad "SLURM task 3 did not skip its finished run"
    echo "cli_grid                       real SLURM array of 4 tasks ok"
  else
    echo "cli_grid                       sbatch --test-only ok (MC_TEST_SLURM=1 also runs the array)"
  fi
else
  echo "cli_grid                       no SLURM controller here: task mode and submission (stand-in sbatch) only"
fi
[ $fail -eq 0 ] && echo "cli_grid                       grid, run-grid (resume, failure, skip), report vs Python, slurm script ok"
exit $fail
