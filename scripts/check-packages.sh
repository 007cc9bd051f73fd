#!/usr/bin/env bash
# The npm tarball and the Python wheel must both carry the amd64 and arm64 handler binaries,
# and no Go sources.
set -euo pipefail
cd "$(dirname "$0")/.."
tgz=$(ls dist/js/cdk-ecr-deployment-*.tgz | head -1)
whl=$(ls dist/python/*.whl)
listing=$(tar tzf "$tgz")
for arch in amd64 arm64; do
  grep -qx "package/lambda-bin/$arch/bootstrap" <<<"$listing" || { echo "$tgz lacks lambda-bin/$arch/bootstrap"; exit 1; }
done
if grep -E '\.go$|^package/lambda/' <<<"$listing"; then echo "$tgz ships Go sources"; exit 1; fi
echo "$tgz: carries both bootstraps, no Go sources"
# jsii wheels embed the npm tarball; look inside it.
python3 - "$whl" <<'PY'
import io, sys, tarfile, zipfile
whl = zipfile.ZipFile(sys.argv[1])
inner = [n for n in whl.namelist() if n.endswith('.tgz')]
assert inner, 'wheel has no jsii tarball'
names = tarfile.open(fileobj=io.BytesIO(whl.read(inner[0]))).getnames()
for arch in ('amd64', 'arm64'):
    assert f'package/lambda-bin/{arch}/bootstrap' in names, f'wheel lacks lambda-bin/{arch}/bootstrap'
print(f'{sys.argv[1]}: carries both bootstraps')
PY
ls -l "$tgz" "$whl"
