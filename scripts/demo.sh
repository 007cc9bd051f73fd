#!/usr/bin/env bash
# The main job, end to end on this machine: set up, build, then copy a demo image with the
# real handler binary under the Lambda Runtime Interface Emulator, from a local Docker-Hub-style
# registry to a local ECR-style registry (auto-login against moto), answering a local
# stand-in for CloudFormation. Prints status, source, destination, digest, bytes and seconds.
#
# Works on a fresh clone where nothing was built. The only build the demo needs is the Go
# handler (lambda-bin/{amd64,arm64}/bootstrap, which the construct stages as the function's
# code and the emulator runs) and the rulebook's generated TypeScript module. No jsii compile is needed: test/e2e/demo.ts and the example it
# synthesizes (examples/docker-image-asset.ts, which imports ../src) both run from TypeScript
# source through ts-node --transpile-only. (`npx projen compile` would not do: it runs only jsii,
# not the pre-compile task that builds the handler.)
set -euo pipefail
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
cd "$(dirname "$0")/.."

bash scripts/setup.sh
echo "demo: building the Go handler (lambda/build.sh)"
bash lambda/build.sh
# The construct reads the rulebook (lambda/internal/rules/rules.json) through a generated,
# gitignored module; the build tasks write it, and the demo runs no build task.
node scripts/rules-ts.js
echo "demo: starting the local stand-ins and copying"
exec npx ts-node --transpile-only --project tsconfig.dev.json test/e2e/demo.ts
