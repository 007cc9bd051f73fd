#!/usr/bin/env bash
# The main job, end to end on this machine: set up, build, then copy a demo image with the
# real handler binary under the Lambda Runtime Interface Emulator, from a local Docker-Hub-style
# registry to a local ECR-style registry (auto-login against moto), answering a local
# stand-in for CloudFormation. Prints status, source, destination, digest, bytes and seconds.
set -euo pipefail
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
cd "$(dirname "$0")/.."

bash scripts/setup.sh
echo "demo: building (lambda/build.sh via projen compile)"
npx projen compile >/dev/null
echo "demo: starting the local stand-ins and copying"
exec npx ts-node --transpile-only --project tsconfig.dev.json test/e2e/demo.ts
