#!/usr/bin/env bash
# Refreshes vendor/asciinema-player/ from the npm registry (asciinema-player 3.18.x, Apache-2.0)
# and checks the files against vendor/asciinema-player/SHA256SUMS.
#
#   scripts/refresh-player.sh           fetch the pinned version, copy, check (fails on any change)
#   scripts/refresh-player.sh --update  fetch, copy, and rewrite SHA256SUMS (review the diff!)
#   scripts/refresh-player.sh --check   only check the committed files against SHA256SUMS
#
# The version comes from vendor/asciinema-player/VERSION (set PLAYER_VERSION to change it).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/vendor/asciinema-player"
files=(asciinema-player.min.js asciinema-player.css LICENSE)

check() {
    (cd "$dest" && sha256sum --check --strict SHA256SUMS)
}

mode="${1:-}"
if [ "$mode" = "--check" ]; then
    check
    exit 0
fi

version="${PLAYER_VERSION:-$(cat "$dest/VERSION")}"
case "$version" in
    3.18.*) ;;
    *) echo "refusing version $version: this page is written for asciinema-player 3.18.x" >&2; exit 1 ;;
esac

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "asciinema-player@$version" >/dev/null)
tar -xzf "$work"/asciinema-player-*.tgz -C "$work"
got="$(node -p "require('$work/package/package.json').version")"
lic="$(node -p "require('$work/package/package.json').license")"
[ "$lic" = "Apache-2.0" ] || { echo "unexpected licence $lic" >&2; exit 1; }

mkdir -p "$dest"
cp "$work/package/dist/bundle/asciinema-player.min.js" "$dest/"
cp "$work/package/dist/bundle/asciinema-player.css" "$dest/"
cp "$work/package/LICENSE" "$dest/"
echo "$got" >"$dest/VERSION"

if [ "$mode" = "--update" ]; then
    (cd "$dest" && sha256sum "${files[@]}" >SHA256SUMS)
    echo "vendor/asciinema-player: $got; SHA256SUMS rewritten"
else
    check
    echo "vendor/asciinema-player: $got matches SHA256SUMS"
fi
