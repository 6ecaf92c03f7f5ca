#!/usr/bin/env bash
# One comparison run of the whole toolkit against what a user would otherwise run.
#   bash benches/compare.sh            full run (1 GiB recording, 200 recordings, 16-byte stress; ~10 min)
#   bash benches/compare.sh --smoke    tiny inputs, one repetition (CI)
#   bash benches/compare.sh --big      also a 6 GB recording
# Writes docs/PERFORMANCE.md (not in smoke mode, which writes bench-out/PERFORMANCE.smoke.md).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p bsr-verify -p bsr-asciicast -p bsr-benches
exec python3 benches/compare.py "$@"
