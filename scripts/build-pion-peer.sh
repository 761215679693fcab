#!/usr/bin/env bash
# Builds test/interop/pion-peer (the Pion WebRTC v3 peer of the interop harness) from Debian's
# packages only: golang-go and golang-github-pion-webrtc.v3-dev (scripts/install-deps.sh
# --interop). No Go module proxy and no network: GOPATH mode (GO111MODULE=off) over Debian's
# sources in /usr/share/gocode/src.
#
#   scripts/build-pion-peer.sh OUT      writes the program to OUT (its scratch GOPATH and build
#                                       cache go in OUT.d/)
#
# Go modules at major version >= 2 are imported as PATH/vN (github.com/pion/webrtc/v3), while
# Debian installs some of them at PATH: the scratch GOPATH, searched first, links each missing
# PATH/vN onto Debian's PATH. Fails (exit 1) with the reason when Go or a Pion source is missing.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: build-pion-peer.sh OUT" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "$1")
work=$out.d
gocode=/usr/share/gocode/src
src=$root/test/interop/pion-peer

command -v go >/dev/null 2>&1 ||
    { echo "build-pion-peer: no go (Debian golang-go: scripts/install-deps.sh --interop)" >&2; exit 1; }
[ -d "$gocode/github.com/pion/webrtc" ] ||
    { echo "build-pion-peer: no $gocode/github.com/pion/webrtc (Debian golang-github-pion-webrtc.v3-dev: scripts/install-deps.sh --interop)" >&2; exit 1; }

rm -rf "$work/gopath"
mkdir -p "$work/gopath/src" "$work/cache"
# Every PATH/vN that Pion's sources (and ours) import but Debian has only as PATH.
linked=()
for m in $(grep -rhoE '"github\.com/pion/[a-z0-9_-]+/v[0-9]+' "$gocode/github.com/pion" "$src" --include='*.go' |
           tr -d '"' | sort -u); do
    [ -d "$gocode/$m" ] && continue
    base=${m%/v*}
    [ -d "$gocode/$base" ] || { echo "build-pion-peer: $m: neither it nor $gocode/$base exists" >&2; exit 1; }
    mkdir -p "$work/gopath/src/$base"
    ln -s "$gocode/$base" "$work/gopath/src/$m"
    linked+=("$m")
done
echo "build-pion-peer: $(go version); linked ${linked[*]:-nothing}"
cd "$src"
env GO111MODULE=off GOPATH="$work/gopath:/usr/share/gocode" GOCACHE="$work/cache" GOPROXY=off \
    GOFLAGS= CGO_ENABLED=0 go build -o "$out" .
echo "build-pion-peer: built $out"
