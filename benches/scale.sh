#!/usr/bin/env bash
# Verifying a large archive: peak RSS and time to the first result, local folder and S3.
#   bash benches/scale.sh           10,000 and 100,000 recordings in a local folder, 100,000 through S3 (~35 min)
#   bash benches/scale.sh --smoke   a few hundred (CI)
# Writes docs/PERFORMANCE-SCALE.md (bench-out/PERFORMANCE-SCALE.smoke.md in smoke mode).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p bsr-verify -p bsr-benches
exec python3 benches/scale.py "$@"
