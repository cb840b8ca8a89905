#!/usr/bin/env bash
# Runs every test binary given on the command line, each with its own scratch folder, and
# fails (exit 1) when any of them fails. Used by `make test` and `make asan`.
set -u
fail=0; n=0
tmp_root=$(mktemp -d "${TMPDIR:-/tmp}/medcolor-test.XXXXXX")
for t in "$@"; do
  n=$((n+1))
  name=$(basename "$t")
  mkdir -p "$tmp_root/$name"
  if ! MC_TMP="$tmp_root/$name" "$t"; then
    echo "FAILED: $name"
    fail=$((fail+1))
  fi
done
# Shell-level tests of the command-line tool
for s in tests/cli_*.sh; do
  [ -e "$s" ] || continue
  n=$((n+1))
  name=$(basename "$s" .sh)
  mkdir -p "$tmp_root/$name"
  if ! MC_TMP="$tmp_root/$name" bash "$s"; then
    echo "FAILED: $name"
    fail=$((fail+1))
  fi
done
if [ "$fail" -ne 0 ]; then
  echo "$fail of $n test programs FAILED (scratch files kept in $tmp_root)"
  exit 1
fi
rm -rf "$tmp_root"
echo "all $n test programs passed"
