#!/usr/bin/env bash
# Runs every Go fuzz target of the handler (lambda/internal/*/..._fuzz_test.go) for a bounded
# time, one after another, and prints one line per target with its executions. Exits non-zero
# when any target fails (a crash, a broken property, a hang past its time, a build error);
# failing inputs are written by go test to lambda/internal/<pkg>/testdata/fuzz/<Target>/.
#
#   FUZZTIME=10s          time per target (anything -fuzztime takes: 30s, 2m, 5000x)
#   FUZZPARALLEL=1        fuzzing workers per target (the default is kind to shared machines)
#   FUZZMINIMIZETIME=200x executions spent minimizing each value of a new input
#                         (-fuzzminimizetime). A count, not a duration: with a duration, go
#                         test (1.27) gives the coordinator one deadline for all the values of
#                         an input but each value the whole duration in the worker, kills the
#                         worker when its deadline passes first, and then hangs.
#   FUZZ_TARGETS="FuzzParse FuzzRedact"   run only these targets
#   MOTO_SERVER           moto_server binary (the auth, copier and s3archive test binaries start
#                         one in TestMain, also when fuzzing)
#
# scripts/test.sh runs it with FUZZTIME=5s (a step of its own).
set -uo pipefail
cd "$(dirname "$0")/../lambda"

FUZZTIME=${FUZZTIME:-10s}
FUZZPARALLEL=${FUZZPARALLEL:-1}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-200x}
export GOTOOLCHAIN=auto CGO_ENABLED=0
export MOTO_SERVER=${MOTO_SERVER:-$PWD/../.venv/bin/moto_server}
TAGS="$(tr -s ' \n' ' ' < build-tags.txt)"

# package target, in the order they run
TARGETS=(
  "./internal/props FuzzParse"
  "./internal/props FuzzParsePlatform"
  "./internal/rules FuzzParseECRHost"
  "./internal/props FuzzNormalizedName"
  "./internal/deploy FuzzOwnedDigest"
  "./internal/copier FuzzParseImageName"
  "./internal/copier FuzzManifestBytes"
  "./internal/copier FuzzRetryable"
  "./internal/copier FuzzRegistryResponse"
  "./internal/s3archive FuzzIndexArchive"
  "./internal/s3archive FuzzArchiveEntries"
  "./internal/auth FuzzParseSecret"
  "./internal/logging FuzzRedact"
)

# A target gets its fuzz time plus this much (build, baseline coverage, minimizing) before
# it counts as hung.
seconds() {
  if [[ $1 =~ ^([0-9]+)(\.[0-9]+)?s$ ]]; then echo "${BASH_REMATCH[1]}"
  elif [[ $1 =~ ^([0-9]+)m$ ]]; then echo $(( BASH_REMATCH[1] * 60 ))
  elif [[ $1 =~ ^([0-9]+)h$ ]]; then echo $(( BASH_REMATCH[1] * 3600 ))
  else echo 600 # a count (5000x) or a compound duration: allow ten minutes
  fi
}
LIMIT=$(( $(seconds "$FUZZTIME") + 240 ))

LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT
failed=0
printf '%-22s %-22s %12s  %s\n' target package execs result
for entry in "${TARGETS[@]}"; do
  read -r pkg target <<< "$entry"
  if [ -n "${FUZZ_TARGETS:-}" ] && [[ " $FUZZ_TARGETS " != *" $target "* ]]; then
    continue
  fi
  log=$LOGS/$target.log
  sidfile=$LOGS/$target.sid
  # Each target runs in a session of its own, so that whatever it leaves behind (a
  # moto_server whose fuzz worker crashed before TestMain could stop it) is found by session
  # id and ended, by process id, afterwards.
  setsid -w sh -c 'echo $$ > "$0"; exec "$@"' "$sidfile" \
    timeout -k 10 "$LIMIT" go test -tags "$TAGS" "$pkg" -run '^$' -fuzz "^${target}\$" \
      -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZETIME" -parallel "$FUZZPARALLEL" \
    > "$log" 2>&1
  rc=$?
  if [ -s "$sidfile" ]; then
    sid=$(cat "$sidfile")
    for p in $(ps -eo pid=,sid= | awk -v s="$sid" '$2 == s { print $1 }'); do
      kill "$p" 2>/dev/null || true
    done
  fi
  execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  if [ "$rc" -eq 0 ] && grep -q '^ok' "$log"; then
    result=ok
  else
    failed=1
    case $rc in
      124|137) result="FAILED: no result within ${LIMIT}s (hang)" ;;
      *) result="FAILED (exit $rc)" ;;
    esac
    crash=$(grep -o 'Failing input written to [^ ]*' "$log" | head -1 | sed 's/Failing input written to //')
    [ -n "$crash" ] && result="$result: input in lambda/${pkg#./}/$crash"
  fi
  printf '%-22s %-22s %12s  %s\n' "$target" "${pkg#./internal/}" "${execs:-0}" "$result"
  if [ "$result" != ok ]; then
    # The failure itself (the property or the panic), not the progress lines.
    grep -v '^fuzz: elapsed' "$log" | grep -v 'fp=0x' | head -40 | sed 's/^/    /'
  fi
done
exit "$failed"
