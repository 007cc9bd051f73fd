#!/usr/bin/env bash
# govulncheck on the handler; fails on a vulnerable function the handler can call.
# The public vulnerability service cannot be reached here, so the database is built locally
# from the golang.org/x/vulndb module (its OSV reports), which the Go module proxy serves.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export GOTOOLCHAIN=auto GOFLAGS=-mod=mod
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018
GOVULNCHECK_VERSION=v1.9.0
DB=$ROOT/.tools/vulndb-$VULNDB_VERSION
if [ ! -f "$DB/index/db.json" ]; then
  src=$(cd /tmp && go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  rm -rf "$DB.tmp"
  (cd "$src" && go run ./cmd/indexdb -vulns data/osv -out "$DB.tmp")
  mv "$DB.tmp" "$DB"
fi
cd lambda
go run "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION" -db "file://$DB" -tags "$(tr -s ' \n' ' ' < build-tags.txt)" ./...
