#!/usr/bin/env bash
# Rebuilds fuzz/seeds/ from testdata/ (and the shared cast fixtures when present).
set -euo pipefail
cd "$(dirname "$0")"
rm -rf seeds && mkdir -p seeds
td=../testdata
for t in chunk_slice chunk_push ssh_request meta_parse sha256sum_parse summary_parse verify_store cast_reader convert stream_mapped; do mkdir -p seeds/$t; done
i=0
while IFS= read -r f; do
  i=$((i+1))
  cp "$f" seeds/chunk_slice/data-$i
  cp "$f" seeds/stream_mapped/data-$i
  tail -c +9 "$f" > seeds/chunk_push/data-$i
  case "$f" in */requests-inbound.data) tail -c +9 "$f" > seeds/convert/req-$i;; */messages-outbound.data) tail -c +9 "$f" > seeds/convert/msg-$i;; esac
done < <(find "$td/recordings" -name '*.data' | sort)
# Request payloads: 4-byte chunk type + proto3 payload, cut out of the uncompressed request files.
python3 - "$td" <<'PY'
import os, struct, sys, glob
td = sys.argv[1]
n = 0
for f in sorted(glob.glob(f"{td}/recordings/sr_[ems]*/**/requests-*.data", recursive=True)):
    b = open(f, "rb").read()[8:]
    i = 0
    while i + 29 <= len(b):
        ln = struct.unpack(">I", b[i:i+4])[0]
        ty = b[i+8:i+12]
        if ty not in (b"HEAD", b"DONE"):
            n += 1
            open(f"seeds/ssh_request/req-{n}", "wb").write(ty + b[i+25:i+25+ln])
        i += 29 + ln
PY
find "$td/recordings" -name '*.meta' | sort | while read -r f; do cp "$f" "seeds/meta_parse/$(basename "$(dirname "$f")")-$(basename "$f")"; done
find "$td/recordings" -name SHA256SUM | sort | while read -r f; do cp "$f" "seeds/sha256sum_parse/$(basename "$(dirname "$f")")"; done
find "$td/recordings" -name '*.json' | sort | while read -r f; do cp "$f" "seeds/summary_parse/$(basename "$(dirname "$f")")-$(basename "$f")"; done
cp "$td"/golden/*.cast seeds/cast_reader/ 2>/dev/null || true
# The shared cast fixtures are added at run time by run.sh (they keep their own licences).
head -c 64 /dev/zero > seeds/verify_store/zeros
printf '\x01\x00\x03\x05\x00\x00\x00\x01' > seeds/verify_store/edit
echo "seeds: $(find seeds -type f | wc -l) files"
