#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS NAME...: runs each fuzz target of build-fuzz/ for SECONDS (or
# $FUZZ_RUNS executions when that is set and comes first) on its corpus, and prints per target:
# executions, wall time, corpus size, crashes. Exit 1 when a target crashed (its input is kept
# as build-fuzz/crashes/NAME-*: replay it with build-fuzz/fuzz_NAME FILE, then add it to
# tests/regress/NAME/). Used by make fuzz and make fuzz-smoke (docs/robustness.md). Leaks inside
# third-party libraries are suppressed (tests/lsan.supp), as in make asan; malloc stacks are unwound
# the slow way, through libraries built without frame pointers (GDCM), so that they match.
set -u
secs=$1; shift
B=${FUZZ_BUILD:-build-fuzz}
runs=${FUZZ_RUNS:-0}
mkdir -p "$B/crashes" "$B/logs"
fail=0
printf '%-12s %12s %8s %8s %8s  %s\n' target executions seconds corpus crashes log
for t in "$@"; do
  corpus="$B/corpus/$t"
  mkdir -p "$corpus"
  dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  extra=()
  [ "$runs" != 0 ] && extra=(-runs="$runs")
  log="$B/logs/$t.log"
  start=$(date +%s)
  ASAN_OPTIONS=fast_unwind_on_malloc=0${ASAN_OPTIONS:+:$ASAN_OPTIONS} \
  LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0:fast_unwind_on_malloc=0${LSAN_OPTIONS:+:$LSAN_OPTIONS} \
  "$B/fuzz_$t" -max_total_time="$secs" "${extra[@]}" "${dict[@]}" -timeout=20 -rss_limit_mb=3072 \
      -print_final_stats=1 -artifact_prefix="$B/crashes/$t-" "$corpus" "tests/fuzz/seeds/$t" > "$log" 2>&1
  rc=$?
  end=$(date +%s)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  size=$(ls "$corpus" | wc -l)
  crashes=0
  if [ $rc -ne 0 ]; then crashes=1; fail=1; fi
  printf '%-12s %12s %8d %8d %8d  %s\n' "$t" "${execs:-?}" $((end - start)) "$size" $crashes "$log"
  if [ $rc -ne 0 ]; then
    grep -a -m3 -E 'ERROR|runtime error|fuzz:|Test unit written' "$log" | sed 's/^/    /'
  fi
done
exit $fail
