#!/usr/bin/env bash
# Every published artifact -- the npm tarball, the Python wheel, the Maven jar and the Go module --
# must carry the amd64 and arm64 handler binaries, byte for byte the ones in the npm tarball, and
# no Go sources of the handler. The wheel, the jar and the Go module carry them the way jsii ships
# them: inside the embedded jsii tarball (the same npm package the kernel loads at run time).
set -euo pipefail
cd "$(dirname "$0")/.."
tgz=$(ls dist/js/cdk-ecr-deployment-*.tgz | head -1)
whl=$(ls dist/python/*.whl)
jar=$(ls dist/java/io/github/cdk-ecr-deployment/cdk-ecr-deployment/*/cdk-ecr-deployment-*.jar | grep -v -- '-\(sources\|javadoc\)\.jar$')
gomod=dist/go/cdkecrdeployment
[ -f "$gomod/go.mod" ] || { echo "$gomod/go.mod missing"; exit 1; }
python3 - "$tgz" "$whl" "$jar" "$gomod" lambda/go.mod <<'PY'
import glob, hashlib, io, os, re, sys, tarfile, zipfile

tgz, whl, jar, gomod, handler_gomod = sys.argv[1:]
ARCHES = ('amd64', 'arm64')
failures = []


def check_tarball(what, data):
    """Returns {arch: sha256} of the bootstraps in an npm-style tarball; records what is wrong."""
    tf = tarfile.open(fileobj=io.BytesIO(data))
    names = tf.getnames()
    go_sources = [n for n in names if n.endswith('.go') or n.startswith('package/lambda/')]
    if go_sources:
        failures.append(f'{what} ships Go sources: {go_sources[:5]}')
    sums = {}
    for arch in ARCHES:
        name = f'package/lambda-bin/{arch}/bootstrap'
        if name not in names:
            failures.append(f'{what} lacks lambda-bin/{arch}/bootstrap')
            continue
        member = tf.getmember(name)
        if not member.mode & 0o100:
            failures.append(f'{what}: lambda-bin/{arch}/bootstrap is not executable')
        sums[arch] = hashlib.sha256(tf.extractfile(member).read()).hexdigest()
    return sums


def inner_tarball(what, zf, suffix):
    inner = [n for n in zf.namelist() if n.endswith(suffix)]
    if len(inner) != 1:
        failures.append(f'{what} holds {len(inner)} jsii tarballs, want 1: {inner}')
        return None
    return zf.read(inner[0])


reference = check_tarball(tgz, open(tgz, 'rb').read())
artifacts = {}

whl_tgz = inner_tarball(whl, zipfile.ZipFile(whl), '.tgz')
if whl_tgz is not None:
    artifacts[whl] = check_tarball(f'{whl} (embedded jsii tarball)', whl_tgz)

jar_tgz = inner_tarball(jar, zipfile.ZipFile(jar), '.jsii.tgz')
if jar_tgz is not None:
    artifacts[jar] = check_tarball(f'{jar} (embedded jsii tarball)', jar_tgz)

# The Go module embeds the tarball with //go:embed in jsii/jsii.go.
go_tgzs = glob.glob(os.path.join(gomod, 'jsii', '*.tgz'))
if len(go_tgzs) != 1:
    failures.append(f'{gomod}/jsii holds {len(go_tgzs)} tarballs, want 1')
else:
    embed = open(os.path.join(gomod, 'jsii', 'jsii.go')).read()
    if f'//go:embed {os.path.basename(go_tgzs[0])}' not in embed:
        failures.append(f'{gomod}/jsii/jsii.go does not embed {os.path.basename(go_tgzs[0])}')
    artifacts[gomod] = check_tarball(f'{go_tgzs[0]}', open(go_tgzs[0], 'rb').read())

# The Go module's own .go files are the generated bindings; none of the handler's code or its
# dependencies may come along: its go.mod must require none of the handler's modules.
required = lambda text: set(re.findall(r'^\s*(?:require\s+)?([a-z0-9.\-]+\.[a-z]+/\S+)\s+v\S+', text, re.M))
handler_modules = required(open(handler_gomod).read())
binding_modules = required(open(os.path.join(gomod, 'go.mod')).read())
if not handler_modules or not binding_modules:
    failures.append(f'could not read the requirements of {handler_gomod} or {gomod}/go.mod')
leaked = handler_modules & binding_modules
if leaked:
    failures.append(f'{gomod}/go.mod requires handler modules: {sorted(leaked)}')
for path in glob.glob(os.path.join(gomod, '**', '*.go'), recursive=True):
    if re.search(r'^package main\b', open(path).read(), re.M):
        failures.append(f'{path} is a main package, not a binding')

for what, sums in artifacts.items():
    for arch in ARCHES:
        if arch in sums and arch in reference and sums[arch] != reference[arch]:
            failures.append(f'{what}: {arch} bootstrap differs from {tgz} ({sums[arch][:12]} vs {reference[arch][:12]})')

if failures:
    print('\n'.join(failures))
    sys.exit(1)
for what in [tgz, *artifacts]:
    print(f'{what}: carries both bootstraps (amd64 {reference["amd64"][:12]}, arm64 {reference["arm64"][:12]}), no Go sources')
PY
ls -l "$tgz" "$whl" "$jar"
du -sh "$gomod"
