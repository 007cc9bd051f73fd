#!/usr/bin/env bash
# Synthesizes the seed quickstart (a destination repository and a copy of nginx:latest into it)
# through one language's own runtime, with the package `npx projen build` just produced:
#
#   CDK_OUTDIR=DIR [CDK_CONTEXT_JSON=...] [CDK_DEFAULT_ACCOUNT=... CDK_DEFAULT_REGION=...] \
#     bash test/langs/synth.sh typescript|python|java|go
#
# typescript: test/langs/typescript/quickstart.ts with ts-node (the source the packages are built from)
# python:     the seed's own quickstart code with the built wheel (test/python/synth_app.py)
# java:       test/langs/java with Maven (`mvn compile exec:java`, as `cdk init --language java` runs it),
#             the jar from dist/java, aws-cdk-lib from Maven Central (cached in ~/.m2)
# go:         test/langs/go with `go run .`, the module from dist/go (go.mod replace), awscdk/v2
#             from the Go module proxy (cached in the Go module cache)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
lang=${1:?usage: synth.sh typescript|python|java|go}
: "${CDK_OUTDIR:?set CDK_OUTDIR to the folder to synthesize into}"
export CDK_OUTDIR JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
case "$lang" in
  typescript)
    exec "$ROOT/node_modules/.bin/ts-node" --transpile-only --project "$ROOT/tsconfig.dev.json" "$HERE/typescript/quickstart.ts"
    ;;
  python)
    venv=$(bash "$ROOT/test/python/make_venv.sh" | tail -1)
    exec "$venv/bin/python" "$ROOT/test/python/synth_app.py"
    ;;
  java)
    jar=$(ls "$ROOT"/dist/java/io/github/cdk-ecr-deployment/cdk-ecr-deployment/0.0.0/cdk-ecr-deployment-0.0.0.jar)
    m2="${MAVEN_LOCAL_REPOSITORY:-$HOME/.m2/repository}"
    cached="$m2/io/github/cdk-ecr-deployment/cdk-ecr-deployment/0.0.0/cdk-ecr-deployment-0.0.0.jar"
    # Every build is version 0.0.0 and Maven never re-fetches a release it holds, so drop the copy
    # an earlier build left in the local repository; Maven then takes this build's from dist/java.
    # Serialized: another checkout on this machine may be doing the same.
    mkdir -p "$m2"
    exec 9>"$m2/.cdk-ecr-deployment.lock"
    flock 9
    rm -rf "$m2/io/github/cdk-ecr-deployment"
    cd "$HERE/java"
    mvn -B -q -e -Dstyle.color=never -Dmaven.repo.local="$m2" compile exec:java
    # The app must have run on this build's jar, not on a stale or foreign one.
    if ! cmp -s "$jar" "$cached"; then
      echo "synth.sh: the Java app did not resolve $jar (local repository holds: $(ls -l "$cached" 2>&1))" >&2
      exit 1
    fi
    ;;
  go)
    cd "$HERE/go"
    # -mod=readonly: go.mod and go.sum are committed; a missing checksum fails rather than being added.
    CGO_ENABLED=0 exec go run -mod=readonly .
    ;;
  *)
    echo "synth.sh: unknown language '$lang'" >&2
    exit 2
    ;;
esac
