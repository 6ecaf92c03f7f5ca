#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 60) on the stable toolchain
# (`cargo fuzz run --sanitizer none`). Any crash fails the run. Prints executions per target.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^bsr-fuzz$')
cargo fuzz build --sanitizer none -O >/dev/null
status=0
for t in $targets; do
  corpus=$(mktemp -d)
  cp -r seeds/"$t"/. "$corpus"/ 2>/dev/null || true
  if [ "$t" = cast_reader ] && [ -d ../../shared/cast-fixtures ]; then cp ../../shared/cast-fixtures/*.cast ../../shared/cast-fixtures/*.json "$corpus"/; fi
  log=$(mktemp)
  if cargo fuzz run --sanitizer none -O "$t" "$corpus" -- -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    echo "fuzz $t: ${execs:-?} executions in ${secs}s, 0 crashes"
  else
    echo "fuzz $t: CRASH (artifact in fuzz/artifacts/$t/)"
    tail -40 "$log"
    status=1
  fi
  rm -rf "$corpus" "$log"
done
# stream_mapped writes its input to a file per fuzzing process.
rm -rf "${TMPDIR:-/tmp}"/bsr-fuzz-stream-mapped-*
exit $status
