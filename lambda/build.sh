#!/usr/bin/env bash
# Builds the handler for linux/amd64 and linux/arm64 into $OUT/<arch>/bootstrap.
# Go's build cache makes a re-run with no changes take about a second.
set -euo pipefail
cd "$(dirname "$0")"
# go.mod's toolchain line pins the Go release (a patched standard library); machines here
# default to GOTOOLCHAIN=local, which would ignore it. The module proxy serves the toolchain.
export GOTOOLCHAIN=auto
OUT="${OUT:-../lambda-bin}"
# Build tags: pure-Go OpenPGP instead of gpgme (cgo), and stubs for the
# containers-storage and docker-daemon back-ends this handler never uses.
TAGS="$(tr -s ' \n' ' ' < build-tags.txt)"
for arch in amd64 arm64; do
  mkdir -p "$OUT/$arch"
  tmp="$OUT/$arch/.bootstrap.tmp"
  CGO_ENABLED=0 GOOS=linux GOARCH="$arch" GOFLAGS= go build -trimpath \
    -ldflags='-s -w -buildid=' -tags "$TAGS" -o "$tmp" .
  # Replace only when the bytes changed, so an unchanged build leaves the
  # file (and its mtime) alone. The build is reproducible (-trimpath, no build id).
  if cmp -s "$tmp" "$OUT/$arch/bootstrap"; then rm -f "$tmp"; else mv -f "$tmp" "$OUT/$arch/bootstrap"; fi
  printf '%s/%s/bootstrap: %s bytes (%s MiB)\n' "$OUT" "$arch" \
    "$(stat -c %s "$OUT/$arch/bootstrap")" \
    "$(awk -v s="$(stat -c %s "$OUT/$arch/bootstrap")" 'BEGIN{printf "%.1f", s/1048576}')"
done
