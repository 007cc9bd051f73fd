#!/usr/bin/env bash
# Creates (or brings up to date) a Python venv holding the built wheel (dist/python/*.whl)
# plus aws-cdk-lib and constructs from PyPI, and prints the venv's path as the last line.
#
#   bash test/python/make_venv.sh [VENV_DIR]
#
# VENV_DIR defaults to .tools/pyvenv-<hash of this script and the Python version>, shared by
# the pytest suite and the e2e harness. Idempotent and cheap when nothing changed:
#   - the venv is recreated only when the Python version or the aws-cdk-lib/constructs pins change;
#   - the wheel is reinstalled (without touching its dependencies) only when its sha256 changes.
# The aws-cdk-lib and constructs versions follow package.json's devDependencies, so the
# Python synth uses the same aws-cdk-lib as the jest suites. Concurrent runs are serialized.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="${PYTHON:-python3}"
PIP_FLAGS=(--disable-pip-version-check -q)
say() { printf 'make_venv: %s\n' "$*" >&2; }

shopt -s nullglob
wheels=("$ROOT"/dist/python/*.whl)
if [ ${#wheels[@]} -ne 1 ]; then
  say "expected exactly one wheel in dist/python/, found ${#wheels[@]}: run 'npx projen build' first"
  exit 2
fi
WHEEL="${wheels[0]}"
WHEEL_SHA="$(sha256sum "$WHEEL" | cut -d' ' -f1)"

PYVER="$("$PY" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
if [ $# -ge 1 ]; then
  VENV="$1"
else
  key="$( { cat "$HERE/make_venv.sh"; echo "$PYVER"; } | sha256sum | cut -c1-12)"
  VENV="$ROOT/.tools/pyvenv-$key"
fi
case "$VENV" in /*) ;; *) VENV="$PWD/$VENV" ;; esac

# pip requirement specifiers from package.json's devDependencies: "2.257.0" pins exactly,
# "^10.5.1" means >=10.5.1,<11 (the npm and PyPI packages share version numbers).
DEPS="$("$PY" - "$ROOT/package.json" <<'PYEOF'
import json, re, sys
dev = json.load(open(sys.argv[1]))["devDependencies"]
out = []
for npm, pypi in (("aws-cdk-lib", "aws-cdk-lib"), ("constructs", "constructs")):
    v = dev[npm]
    m = re.fullmatch(r"(\^|~)?(\d+)\.(\d+)\.(\d+)", v)
    if not m:
        sys.exit(f"make_venv: cannot map {npm}@{v} to a pip requirement")
    op, major, minor, patch = m.groups()
    base = f"{major}.{minor}.{patch}"
    if op is None:
        out.append(f"{pypi}=={base}")
    elif op == "^":
        out.append(f"{pypi}>={base},<{int(major) + 1}")
    else:
        out.append(f"{pypi}>={base},<{major}.{int(minor) + 1}")
print(" ".join(out))
PYEOF
)"
read -r -a DEP_SPECS <<< "$DEPS"
DEPS_STAMP="python $PYVER; $DEPS"

mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9

if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.deps-stamp" 2>/dev/null)" = "$DEPS_STAMP" ]; then
  if [ "$(cat "$VENV/.wheel-sha256" 2>/dev/null)" != "$WHEEL_SHA" ]; then
    say "reinstalling $(basename "$WHEEL") (sha256 ${WHEEL_SHA:0:12}) into $VENV"
    rm -f "$VENV/.wheel-sha256"
    "$VENV/bin/pip" install "${PIP_FLAGS[@]}" --no-deps --force-reinstall "$WHEEL"
    # A no-op unless the wheel's own requirements changed.
    "$VENV/bin/pip" install "${PIP_FLAGS[@]}" "$WHEEL" "${DEP_SPECS[@]}"
    echo "$WHEEL_SHA" > "$VENV/.wheel-sha256"
  fi
else
  say "creating $VENV with $(basename "$WHEEL") ${DEP_SPECS[*]} (pip install from PyPI; takes a minute or two)"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install "${PIP_FLAGS[@]}" "$WHEEL" "${DEP_SPECS[@]}"
  echo "$WHEEL_SHA" > "$VENV/.wheel-sha256"
  echo "$DEPS_STAMP" > "$VENV/.deps-stamp"
fi
echo "$VENV"
