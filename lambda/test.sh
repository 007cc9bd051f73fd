#!/usr/bin/env bash
# Runs vet and the tests with the same build tags as build.sh. The tags are
# required: without containers_image_openpgp, containers/image needs cgo and
# the gpgme headers. Tests start moto_server ($MOTO_SERVER or PATH).
set -euo pipefail
cd "$(dirname "$0")"
# go.mod's toolchain line pins the Go release (a patched standard library); machines here
# default to GOTOOLCHAIN=local, which would ignore it. The module proxy serves the toolchain.
export GOTOOLCHAIN=auto
TAGS="$(tr -s ' \n' ' ' < build-tags.txt)"
export CGO_ENABLED=0
go vet -tags "$TAGS" ./...
go test -tags "$TAGS" "$@" ./...
