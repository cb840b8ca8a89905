#!/usr/bin/env bash
# Runs every test binary given on the command line, then the shell tests tests/cli_*.sh, each
# with its own scratch folder ($MC_TMP), and prints
#   N passed, N failed, N skipped
# followed by each skipped test with its reason and each failed one. Exit 1 when any failed.
# Used by `make test` and `make asan`.
#
# A test's exit status (automake's convention): 0 passed, 77 skipped, anything else failed.
# A skipped test prints "SKIP <name>: <reason>" (tests/test.h: mc_test_skip); the runner takes the
# reason from that line. A skip never counts as passed; exit 77 without a SKIP line, or a SKIP
# line with exit 0, counts as failed (the test broke the convention).
set -u
passed=0; failed=0; skipped=0
failed_list=(); skipped_list=()
tmp_root=$(mktemp -d "${TMPDIR:-/tmp}/medcolor-test.XXXXXX")

# run NAME CMD...: runs one test, its output shown and kept in $tmp_root/NAME.log
run() {
  local name=$1; shift
  local log="$tmp_root/$name.log"
  mkdir -p "$tmp_root/$name"
  MC_TMP="$tmp_root/$name" "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  # the reasons: every "SKIP <name>: reason" line, joined
  local reason
  reason=$(sed -n 's/^SKIP [^:]*: //p' "$log" | awk 'NR > 1 { printf "; " } { printf "%s", $0 }')
  if [ "$rc" -eq 0 ] && [ -z "$reason" ]; then
    passed=$((passed+1))
  elif [ "$rc" -eq 77 ] && [ -n "$reason" ]; then
    skipped=$((skipped+1)); skipped_list+=("$name: $reason")
  else
    failed=$((failed+1))
    if [ "$rc" -eq 77 ]; then
      failed_list+=("$name: exit 77 (skipped) without a 'SKIP $name: <reason>' line")
    elif [ "$rc" -eq 0 ]; then
      failed_list+=("$name: printed SKIP ($reason) but exited 0: a skip must exit 77")
    else
      failed_list+=("$name: exit $rc")
    fi
  fi
}

for t in "$@"; do
  run "$(basename "$t")" "$t"
done
# Shell-level tests of the command-line tool: all of them, or those MC_CLI_TESTS names ("none":
# none; make test CLI_TESTS=...)
cli_tests=${MC_CLI_TESTS:-tests/cli_*.sh}
[ "$cli_tests" = none ] && cli_tests=
for s in $cli_tests; do
  [ -e "$s" ] || continue
  run "$(basename "$s" .sh)" bash "$s"
done

echo
echo "$passed passed, $failed failed, $skipped skipped"
for s in "${skipped_list[@]+"${skipped_list[@]}"}"; do echo "  skipped: $s"; done
for f in "${failed_list[@]+"${failed_list[@]}"}"; do echo "  FAILED:  $f"; done
if [ "$failed" -ne 0 ]; then
  echo "scratch files and logs kept in $tmp_root"
  exit 1
fi
rm -rf "$tmp_root"
