#!/usr/bin/env bash
# The README's test command: installs what is needed, builds everything, runs every suite
# (jest, go, end-to-end, integ snapshots, Python), then the demo (scripts/demo.sh), and prints
# `N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
export NODE_NO_WARNINGS=1

bash scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

REPORTS=$ROOT/.reports
rm -rf "$REPORTS" test-reports
mkdir -p "$REPORTS"
STEPS=$REPORTS/steps.txt
: > "$STEPS"

# Runs a named step; its exit status is recorded, and the run goes on so every suite reports.
step() {
  local name=$1; shift
  echo "=== $name"
  local start=$SECONDS
  if "$@"; then echo "ok $name" >> "$STEPS"; else echo "FAILED $name" >> "$STEPS"; fi
  echo "=== $name: $((SECONDS - start)) s"
}

# Build: Go handler (both architectures), jsii, API.md, jest unit tests, eslint, npm tarball, wheel,
# Maven repository (dist/java) and Go module (dist/go).
step build env JEST_JUNIT_OUTPUT_DIR="$REPORTS" JEST_JUNIT_OUTPUT_NAME=jest-unit.xml npx projen build
# projen owns package.json and the config files (README, Development): the build has just
# re-synthesized them (and API.md), so any difference from git, or a new file there git does
# not know, is a hand edit that projen overwrote. On CI's clean clone this must be empty.
PROJEN_OWNED=(package.json .projen .projenrc.ts tsconfig.json tsconfig.dev.json .eslintrc.json .gitignore .npmignore .gitattributes .github .mergify.yml API.md)
step projen-owned-files-unchanged bash -c 'git diff --exit-code -- "$@" && untracked=$(git ls-files --others --exclude-standard -- "$@") && { [ -z "$untracked" ] || { echo "not in git: $untracked"; false; }; }' _ "${PROJEN_OWNED[@]}"
step packages-carry-binaries bash scripts/check-packages.sh
# The quickstart as TypeScript, Python, Java and Go CDK apps, each synthesized through its own
# runtime with the packages just built (dist/python, dist/java, dist/go): equal templates.
step langs env JEST_JUNIT_OUTPUT_DIR="$REPORTS" JEST_JUNIT_OUTPUT_NAME=jest-langs.xml npx projen langs
# Go: vet, unit tests (an in-process registry, and moto for the AWS parts), and govulncheck.
export GOTOOLCHAIN=auto MOTO_SERVER=$ROOT/.venv/bin/moto_server
GO_TAGS=$(tr -s ' \n' ' ' < lambda/build-tags.txt)
step go-vet bash -c "cd lambda && CGO_ENABLED=0 go vet -tags '$GO_TAGS' ./..."
echo "=== go test"
(cd lambda && CGO_ENABLED=0 go test -tags "$GO_TAGS" -json -count=1 ./... > "$REPORTS/go.gojson" 2> "$REPORTS/go.stderr")
echo "=== go test: exit $? ($(grep -c '"Action":"pass","Package[^}]*"Test"' "$REPORTS/go.gojson" || true) passing tests)"
# Every fuzz target for a bounded time (issue 16): a crash, a broken property or a hang fails.
step fuzz env FUZZTIME=5s bash scripts/fuzz.sh
step govulncheck bash scripts/vulncheck.sh
step npm-audit npm audit --omit=dev --audit-level=low
if [ -f test/e2e/jest.config.json ]; then
  step e2e env JEST_JUNIT_OUTPUT_DIR="$REPORTS" JEST_JUNIT_OUTPUT_NAME=jest-e2e.xml npx projen e2e
fi
step integ-snapshots npx projen integ:verify
if [ -d test/python ]; then
  step python .venv/bin/python -m pytest -q test/python --junitxml="$REPORTS/pytest.xml"
fi

# The README's first command (scripts/demo.sh), counted like any step: a failing demo fails the run.
step demo bash scripts/demo.sh

echo "=== summary"
node scripts/summarize.js "$REPORTS" "$STEPS"
