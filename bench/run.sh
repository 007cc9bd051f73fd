#!/usr/bin/env bash
# The one command of the copier bench: sets the machine up, builds our handler (and a profiling
# build of it), packs upstream's published handler, builds bench/tool, runs every case and writes
# bench/RESULTS.md. See bench/README.md. Needs root (private tmpfs mounts per copier process).
# Takes about 10 minutes on 2 cores; knobs (BENCH_RUNS, BENCH_SCALE, BENCH_CASES, ...) are
# described at the top of bench/run.ts. `BENCH_CASES=9 bash bench/run.sh` runs only case 9 (a copy
# within one registry, with the cross-registry copy interleaved as its reference; ~2 minutes).
# BENCH_CONDITIONS=loopback,lambda-cpu,lambda adds the Lambda-like conditions (0.29 vCPU cgroup quota,
# alone, and with toxiproxy at 15 ms each way and 40 MB/s per connection) for cases 1, 2, 3, 5, 10.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
say() { printf 'bench: %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
  echo "bench: needs root (each copier runs in its own mount namespace with a private /tmp)" >&2
  exit 1
fi

bash scripts/setup.sh

# go.mod's toolchain line pins the Go release; GOTOOLCHAIN=auto lets the go command fetch it.
export GOTOOLCHAIN=auto
say "building the handler (lambda/build.sh)"
bash lambda/build.sh

# toxiproxy (the lambda condition's link), crane and regctl (peers), pinned, into .tools/bin.
bash bench/install-tools.sh

mkdir -p bench/out/bin
say "building bench/tool"
(cd bench/tool && CGO_ENABLED=0 go build -trimpath -o "$ROOT/bench/out/bin/benchtool" .)

# The profiling build: the same package plus bench/pprof/hook.go, added through an overlay so
# that lambda/ is not touched. Not stripped, so that profiles have symbols.
say "building the profiling handler (bench/out/bin/bootstrap-pprof)"
printf '{"Replace":{"%s/lambda/zz_bench_pprof.go":"%s/bench/pprof/hook.go"}}\n' "$ROOT" "$ROOT" > bench/out/overlay.json
TAGS="$(tr -s ' \n' ' ' < lambda/build-tags.txt)"
(cd lambda && CGO_ENABLED=0 go build -trimpath -tags "$TAGS benchpprof" -overlay "$ROOT/bench/out/overlay.json" \
  -o "$ROOT/bench/out/bin/bootstrap-pprof" .)

# BENCH_BASE=REV: ours at an earlier revision, built from that revision's own lambda/ (its
# go.mod, build tags and build script), runs as the copier `base` beside today's build.
if [ -n "${BENCH_BASE:-}" ]; then
  say "building ours at $BENCH_BASE (bench/out/bin/bootstrap-base)"
  rm -rf bench/out/base-src && mkdir -p bench/out/base-src
  git archive "$BENCH_BASE" lambda | tar -x -C bench/out/base-src
  OUT="$ROOT/bench/out/base-bin" bash bench/out/base-src/lambda/build.sh
  cp bench/out/base-bin/amd64/bootstrap bench/out/bin/bootstrap-base
fi

# Upstream's published handler, packed the same way test/upstream.ts does it. Case 9 alone
# (BENCH_CASES=9: the same-registry copy) measures ours and skopeo only, and needs no npm.
UPSTREAM_VERSION="$(sed -n "s/^export const UPSTREAM_VERSION = '\(.*\)';/\1/p" test/upstream.ts)"
UP=".tools/upstream-$UPSTREAM_VERSION"
if [ "${BENCH_CASES:-}" != 9 ] && [ ! -x "$UP/package/lambda-bin/bootstrap" ]; then
  say "packing cdk-ecr-deployment@$UPSTREAM_VERSION into $UP"
  mkdir -p "$UP"
  (cd "$UP" && npm pack "cdk-ecr-deployment@$UPSTREAM_VERSION" --silent >/dev/null && tar xzf "cdk-ecr-deployment-$UPSTREAM_VERSION.tgz")
  chmod +x "$UP/package/lambda-bin/bootstrap"
fi

say "running the cases"
# The harness the bench reuses reads the rulebook through its generated TypeScript module.
node scripts/rules-ts.js
exec node_modules/.bin/ts-node --transpile-only --project tsconfig.dev.json bench/run.ts
