#!/usr/bin/env bash
# Installs everything the end-to-end harness and the demo need, on a fresh Debian bookworm
# machine (as root) or again on one already set up (then it only checks, in a few seconds).
# Everything comes through apt, PyPI, npm or the Go module proxy; nothing else is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

say() { printf 'setup: %s\n' "$*"; }

# --- Debian packages --------------------------------------------------------------------
# maven and a JDK: jsii-pacmak's Java target and the Java quickstart app (test/langs/java).
# iproute2 (ss) and procps (ps): the e2e harness checks which process serves a port, and snapshots
# the processes running when each suite starts and ends (test/e2e/harness/proc.ts, reports.ts).
APT_PKGS=(docker-registry skopeo umoci apache2-utils openssl curl time jq qemu-user-static maven openjdk-17-jdk-headless iproute2 procps)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine has no package lists; update only when something must be installed.
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "apt: all present (${APT_PKGS[*]})"
fi

# --- Python venv with moto (AWS API stand-in) and pytest ---------------------------------
# moto is pinned: the e2e harness leans on how it answers (ECR, S3, Secrets Manager), and an
# unpinned install would give a fresh clone whatever PyPI released last.
MOTO_VERSION=5.2.6
if [ -x .venv/bin/python ] && .venv/bin/python -c "import moto.server, pytest, flask, moto; assert moto.__version__ == '$MOTO_VERSION'" 2>/dev/null; then
  say "python: .venv has moto[server] $MOTO_VERSION and pytest"
else
  say "python: creating .venv with moto[server] $MOTO_VERSION and pytest"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION" pytest
fi

# --- Go tools ------------------------------------------------------------------------------
# go_tool BINARY PACKAGE@VERSION: installs a pinned command from the Go module proxy into
# .tools/bin, once.
go_tool() {
  if [ -x ".tools/bin/$1" ]; then
    say "go: .tools/bin/$1 present"
  else
    say "go: installing $2 into .tools/bin"
    mkdir -p .tools/bin
    GOBIN="$ROOT/.tools/bin" CGO_ENABLED=0 go install "$2"
  fi
}
# The Lambda Runtime Interface Emulator runs the real bootstrap in the end-to-end tests.
go_tool aws-lambda-rie github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d
# cosign and oras: the referrers end-to-end test (test/e2e/referrers.e2e.ts) signs, attaches and
# verifies with the real tools.
go_tool cosign github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5
go_tool oras oras.land/oras/cmd/oras@v1.3.6

# --- npm -------------------------------------------------------------------------------------
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  say "npm: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules
else
  say "npm: node_modules up to date"
fi

# --- Maven and Go module caches ----------------------------------------------------------------
# jsii-pacmak (Java) and the Java app resolve into ~/.m2/repository, the Go target and the Go app
# into the Go module cache; both are kept between runs (a cold machine fills them on first build).
mkdir -p "$HOME/.m2/repository"
say "caches: ~/.m2/repository $(du -sh "$HOME/.m2/repository" 2>/dev/null | cut -f1), Go modules $(go env GOMODCACHE)"

say "done"
