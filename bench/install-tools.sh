#!/usr/bin/env bash
# The bench's Go-installed tools, into .tools/bin (idempotent: a binary already built from the
# pinned module version is kept). The pins are versions the Go module proxy serves:
#   toxiproxy-server, toxiproxy-cli  github.com/Shopify/toxiproxy/v2 (the `lambda` condition's WAN link)
#   crane                            github.com/google/go-containerregistry (a peer copier)
#   regctl                           github.com/regclient/regclient (a peer copier)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$PWD/.tools/bin"
mkdir -p "$BIN"
export GOTOOLCHAIN=auto CGO_ENABLED=0

TOXIPROXY_VERSION=v2.5.0
CRANE_VERSION=v0.22.1
REGCTL_VERSION=v0.11.7

# install NAME PACKAGE VERSION: go install PACKAGE@VERSION as .tools/bin/NAME.
install() {
  local name=$1 pkg=$2 version=$3
  if [ -x "$BIN/$name" ] && go version -m "$BIN/$name" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]].*[[:space:]]$version([[:space:]]|$)"; then
    return
  fi
  printf 'bench: go install %s@%s\n' "$pkg" "$version"
  local tmp
  tmp="$(mktemp -d)"
  GOBIN="$tmp" go install "$pkg@$version"
  mv "$tmp/$(basename "$pkg")" "$BIN/$name"
  rm -rf "$tmp"
}

install toxiproxy-server github.com/Shopify/toxiproxy/v2/cmd/server "$TOXIPROXY_VERSION"
install toxiproxy-cli github.com/Shopify/toxiproxy/v2/cmd/cli "$TOXIPROXY_VERSION"
install crane github.com/google/go-containerregistry/cmd/crane "$CRANE_VERSION"
install regctl github.com/regclient/regclient/cmd/regctl "$REGCTL_VERSION"
