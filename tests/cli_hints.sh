#!/usr/bin/env bash
# cli_hints.sh — every subcommand parses its options through the shared parser (src/cli/args.c):
# a misspelt option exits 2 with one line naming it and the option meant ("did you mean"),
# before anything runs; --help exits 0 and lists every option; a far-off option gets no hint.
set -u
BIN=${MC_BIN:-./medcolor}
fail=0
bad() { echo "FAIL cli_hints: $*"; fail=1; }
# command, misspelt option, the option it should suggest, the rest of the arguments
hint() {
  local cmd=$1 typo=$2 want=$3; shift 3
  local out rc
  out=$("$BIN" "$cmd" "$@" "$typo" 2>&1 >/dev/null); rc=$?
  [ $rc -eq 2 ] || bad "$cmd $typo: exit $rc (expected 2): $out"
  [[ "$out" == "medcolor $cmd: unknown option '${typo%%=*}' (did you mean $want? see medcolor $cmd --help)" ]] ||
    bad "$cmd $typo: no hint for $want: $out"
}
hint subset  --fract     --frac    in.csv -o out.csv
hint subset  --seeed=3   --seed    in.csv
hint subset  --outptu    --output  in.csv
hint subset  --no-headr  --no-header in.csv
hint stats   --skipbad   --skip-bad x.data
hint stats   --chek-files --check-files x.data
hint stats   --splt      --split   x.data
hint info    --breif     --brief   cfg/resnet18.cfg
hint import  --parital   --partial a.cfg b.safetensors -o c.weights
hint import  --bsae      --base    a.cfg b.safetensors
hint predict --bacth     --batch   a.cfg b.weights c.png
hint predict --lables    --labels  a.cfg b.weights c.png
hint predict --thread    --threads a.cfg b.weights c.png
# the commands that always used the shared parser
hint train    --epocs    --epochs  x.exp
hint eval     --spilt    --split   a b c
hint grid     --lsit     --list    x.grid
hint run-grid --dryrun   --dry-run dir
hint report   --percnet  --percent dir
hint lrfind   --iter     --iters   a b
hint colorize --thread   --threads a b c
hint demo-data --seeed   --seed    dir
# no hint for an option far from every other; still exit 2
for c in subset stats info import predict export; do
  out=$("$BIN" $c --zzzzzzzz x 2>&1); rc=$?
  [ $rc -eq 2 ] && [[ "$out" == *"unknown option '--zzzzzzzz'"* && "$out" != *"did you mean"* ]] || bad "$c --zzzzzzzz: $rc: $out"
done
# --help: exit 0, every option listed
check_help() {
  local cmd=$1; shift
  local out rc
  out=$("$BIN" "$cmd" --help 2>&1); rc=$?
  [ $rc -eq 0 ] || bad "$cmd --help: exit $rc"
  for o in "$@"; do [[ "$out" == *"$o"* ]] || bad "$cmd --help does not list $o"; done
}
check_help subset "--frac F" "--seed S" "-o, --output OUT" "--root DIR" "--no-header" "--skip-bad" "-h, --help"
check_help stats "--root DIR" "--split LIST" "--skip-bad" "--check-files"
check_help info "--brief"
check_help import "-o FILE" "--partial" "--seed N" "--base FILE"
check_help export "-o FILE" "--names" "--set"
check_help eval "--level" "--bootstrap" "--bootstrap-seed" "--stratified" "--spec" "--compare"
check_help predict "-o FILE" "--labels A,B" "--batch N" "--threads N" "--gpu N"
# values: missing, malformed, out of range -> 2
"$BIN" subset in.csv -o >/dev/null 2>&1; [ $? -eq 2 ] || bad "subset -o without a value"
"$BIN" subset in.csv --frac 0 --seed 1 -o x.csv >/dev/null 2>&1; [ $? -eq 2 ] || bad "subset --frac 0"
"$BIN" subset in.csv --frac 0.1 --seed 4294967296 -o x.csv >/dev/null 2>&1; [ $? -eq 2 ] || bad "subset --seed 2^32"
"$BIN" import a b -o c --seed -1 >/dev/null 2>&1; [ $? -eq 2 ] || bad "import --seed -1"
"$BIN" predict a b c --batch 0 >/dev/null 2>&1; [ $? -eq 2 ] || bad "predict --batch 0"
"$BIN" stats a.data b.data >/dev/null 2>&1; [ $? -eq 2 ] || bad "stats with two files"
"$BIN" export a.weights -o x.safetensors --names timm >/dev/null 2>&1; [ $? -eq 2 ] || bad "export --names timm"
"$BIN" export a.weights >/dev/null 2>&1; [ $? -eq 2 ] || bad "export without -o"
"$BIN" eval a.weights --level 1 >/dev/null 2>&1; [ $? -eq 2 ] || bad "eval --level 1"
"$BIN" eval a.weights --stratified 2 >/dev/null 2>&1; [ $? -eq 2 ] || bad "eval --stratified 2"
"$BIN" eval a.weights --spec 1.5 >/dev/null 2>&1; [ $? -eq 2 ] || bad "eval --spec 1.5"
[ $fail -eq 0 ] && echo "cli_hints                      did-you-mean hints and --help of every command ok"
exit $fail
