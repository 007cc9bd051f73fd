// Successful copies through the shipped bootstrap: public-style source to the ECR-style
// destination via auto-login, S3 archives, one architecture out of an index, whole indexes.
import { expectCopied, expectFailed, expectNoLeaks } from './harness/expect';
import { DockerSave25Archive, DockerSaveArchive, dockerSave, dockerSave25, pushAttestation, pushImage, pushIndex, PushedManifest } from './harness/images';
import { ECR_HOST_CHINA, ECR_HOST_DUAL_STACK } from './harness/pki';
import { MT, RegistryClient, sha256 } from './harness/registry-client';
import { World } from './harness/world';

const KiB = 1024;
let w: World;
let hub: RegistryClient;
let ecr: RegistryClient;
let single: PushedManifest;
let amd64: PushedManifest;
let arm64: PushedManifest;
let list: { digest: string };
let ociIndex: { digest: string };
let attestation: PushedManifest;
let ociAmd64: PushedManifest;
let ociArm64: PushedManifest;
let archive: DockerSaveArchive;
let archive25: DockerSave25Archive;

beforeAll(async () => {
  w = await new World().start();
  hub = w.hubClient();
  ecr = w.ecrClient();
  single = await pushImage(hub, 'library/app', 'v1', { arch: 'amd64', layerSizes: [512 * KiB, 64 * KiB, 1 * KiB] });
  amd64 = await pushImage(hub, 'library/multi', undefined, { arch: 'amd64', layerSizes: [128 * KiB, 4 * KiB] });
  arm64 = await pushImage(hub, 'library/multi', undefined, { arch: 'arm64', layerSizes: [128 * KiB, 4 * KiB] });
  list = await pushIndex(hub, 'library/multi', 'list', [amd64, arm64], { format: 'docker' });
  ociAmd64 = await pushImage(hub, 'library/multi', undefined, { arch: 'amd64', layerSizes: [96 * KiB], format: 'oci' });
  ociArm64 = await pushImage(hub, 'library/multi', undefined, { arch: 'arm64', layerSizes: [96 * KiB], format: 'oci' });
  attestation = await pushAttestation(hub, 'library/multi');
  ociIndex = await pushIndex(hub, 'library/multi', 'oci', [ociAmd64, ociArm64], { format: 'oci', attestationFor: { attestation, subject: ociAmd64 } });
  archive = dockerSave({ repoTags: ['app:latest'], arch: 'amd64', layerSizes: [256 * KiB, 8 * KiB] });
  await w.moto.putObject('e2e-images', 'images/app.tar', archive.tarball);
  await w.moto.putObject('e2e-images', 'images/app:v1.tar', archive.tarball);
  archive25 = dockerSave25({ name: 'docker.io/library/app:latest', repoTags: ['app:latest'], layerSizes: [256 * KiB, 8 * KiB] });
  await w.moto.putObject('e2e-images', 'images/app-docker25.tar', archive25.tarball);
}, 180_000);

afterAll(async () => { await w?.stop(); });

// Issue 14: ECR hosts of every partition. The China and dual-stack names reach the same
// ECR-style registry through the CONNECT proxy (which matches hosts by the rulebook) and log in
// by GetAuthorizationToken in their own region (moto), with no creds given.
test.each([['China (aws-cn)', ECR_HOST_CHINA], ['dual-stack', ECR_HOST_DUAL_STACK]])('1b. %s ECR destination %s: auto-login and copy', async (_kind, host) => {
  const d = await w.deployment('docker-image-asset', { src: `${w.hub.host}/library/app:v1`, dest: `${host}/partition-app:v1` });
  expect(d.properties.DestImage).toBe(`docker://${host}/partition-app:v1`);
  expect(d.properties.DestCreds).toBeUndefined();
  const out = await d.create();
  await expectCopied(out, ecr, host, 'partition-app', 'v1', single.digest);
  expect(w.proxy.connects).toContain(`${host}:443`);
  expect(w.proxy.refused).toEqual([]);
  expectNoLeaks(w);
});

test('1. public-style source (bearer token, anonymous pull) to the ECR-style destination via auto-login and the proxy', async () => {
  const d = await w.deployment('docker-image-asset', { src: `${w.hub.host}/library/app:v1`, dest: `${w.ecrHost}/my-app:latest` });
  expect(d.properties.SrcCreds).toBeUndefined();
  const anonymousBefore = w.tokenServer.issued.anonymous;
  const out = await d.create();
  await expectCopied(out, ecr, w.ecrHost, 'my-app', 'latest', single.digest);
  expect(w.proxy.connects).toContain(`${w.ecrHost}:443`);
  expect(w.proxy.refused).toEqual([]);
  expect(w.tokenServer.issued.anonymous).toBeGreaterThan(anonymousBefore);
  expectNoLeaks(w);
});

test('3. S3 docker-save archive into the destination (also with a key holding \':\')', async () => {
  for (const [key, tag] of [['images/app.tar', 'from-s3'], ['images/app:v1.tar', 'from-s3-colon']]) {
    const d = await w.deployment('s3-archive', { archive: `e2e-images/${key}`, ref: 'app:latest', dest: `${w.ecrHost}/app:${tag}` });
    expect(d.properties.SrcImage).toBe(`s3://e2e-images/${key}:app:latest`);
    const out = await d.create();
    expect({ Status: out.response.Status, Reason: out.response.Reason }).toEqual({ Status: 'SUCCESS', Reason: undefined });
    const m = await ecr.getManifest('app', tag);
    // The archive has no manifest of its own: check the copy is the archive's image, and is what Data says.
    expect(m.json.config.digest).toBe(archive.configDigest);
    expect(m.json.layers).toHaveLength(archive.diffIds.length);
    // Its 256 KiB layer is random data, which gzip would not shrink: it goes as the plain tar,
    // named by its diff_id, in an OCI manifest, and the bytes the registry serves are that tar.
    expect(m.mediaType).toBe(MT.ociManifest);
    expect(m.json.layers[0]).toMatchObject({ mediaType: MT.ociLayer, digest: archive.diffIds[0] });
    expect(sha256(await ecr.getBlob('app', archive.diffIds[0]))).toBe(archive.diffIds[0]);
    await expectCopied(out, ecr, w.ecrHost, 'app', tag, m.digest);
  }
  expectNoLeaks(w);
});

test('3b. a Docker 25+ docker save archive (OCI layout) from S3 keeps the digest its index gives the image', async () => {
  const d = await w.deployment('s3-archive', { archive: 'e2e-images/images/app-docker25.tar', ref: 'app:latest', dest: `${w.ecrHost}/app:from-s3-25` });
  const out = await d.create();
  await expectCopied(out, ecr, w.ecrHost, 'app', 'from-s3-25', archive25.manifestDigest);
  expectNoLeaks(w);
});

test('3c. with copyImageIndex, a Docker 25+ archive keeps its index digest and its attestation', async () => {
  const d = await w.deployment('s3-archive', { archive: 'e2e-images/images/app-docker25.tar', ref: 'app:latest', dest: `${w.ecrHost}/app:from-s3-25-index` },
    p => { p.CopyImageIndex = 'true'; });
  const out = await d.create();
  await expectCopied(out, ecr, w.ecrHost, 'app', 'from-s3-25-index', archive25.indexDigest);
  expect((await ecr.headManifest('app', archive25.attestationDigest))?.mediaType).toBe(MT.ociManifest);
  expectNoLeaks(w);
});

test('4. imageArch arm64 picks the arm64 child out of a Docker manifest list and out of an OCI index with an attestation', async () => {
  for (const [srcTag, child] of [['list', arm64], ['oci', ociArm64]] as const) {
    const destTag = `${srcTag}-arm64`;
    const d = await w.deployment('specific-architecture', { src: `${w.hub.host}/library/multi:${srcTag}`, dest: `${w.ecrHost}/multi:${destTag}` });
    expect(d.properties.ImageArch).toBe('arm64');
    const out = await d.create();
    await expectCopied(out, ecr, w.ecrHost, 'multi', destTag, child.digest);
  }
  expectNoLeaks(w);
});

test('5. copyImageIndex with archImageTags onto a registry addressed as 127.0.0.1:PORT', async () => {
  const open = w.openClient();
  for (const [srcTag, index, [a, b]] of [['list', list, [amd64, arm64]], ['oci', ociIndex, [ociAmd64, ociArm64]]] as const) {
    const d = await w.deployment('multi-arch-index', { src: `${w.hub.host}/library/multi:${srcTag}`, dest: `${w.open.host}/nginx/${srcTag}:stable` });
    expect(JSON.parse(d.properties.ArchImageTags)).toEqual({ amd64: 'stable-amd64', arm64: 'stable-arm64' });
    const out = await d.create();
    await expectCopied(out, open, w.open.host, `nginx/${srcTag}`, 'stable', index.digest);
    expect(await open.tags(`nginx/${srcTag}`)).toEqual(['stable', 'stable-amd64', 'stable-arm64']);
    expect((await open.headManifest(`nginx/${srcTag}`, 'stable-amd64'))?.digest).toBe(a.digest);
    expect((await open.headManifest(`nginx/${srcTag}`, 'stable-arm64'))?.digest).toBe(b.digest);
  }
  // The whole index, attestation included.
  expect((await open.headManifest('nginx/oci', attestation.digest))?.mediaType).toBe(MT.ociManifest);
  expectNoLeaks(w);
});

// Issue 14: architecture strings as upstream takes them. os/arch[/variant] selects by the
// rulebook's grammar; an architecture the index lacks fails with the platforms it does hold.
test('4c. imageArch linux/arm64/v8 selects the arm64 child; banana fails naming what the index has', async () => {
  const d = await w.deployment('specific-architecture', { src: `${w.hub.host}/library/multi:list`, dest: `${w.ecrHost}/multi:os-form` },
    p => { p.ImageArch = 'linux/arm64/v8'; });
  await expectCopied(await d.create(), ecr, w.ecrHost, 'multi', 'os-form', arm64.digest);

  const bad = await w.deployment('specific-architecture', { src: `${w.hub.host}/library/multi:list`, dest: `${w.ecrHost}/multi:banana` },
    p => { p.ImageArch = 'banana'; });
  const out = await bad.create();
  expectFailed(out, w.rie.timeoutSeconds, /has no linux\/banana image \(it has linux\/amd64, linux\/arm64\/v8\): check ImageArch/);
  expect(await ecr.headManifest('multi', 'banana')).toBeUndefined();
  expectNoLeaks(w);
});

test('4b. imageArch amd64,arm64 gives an index of just those two children', async () => {
  const d = await w.deployment('specific-architecture', { src: `${w.hub.host}/library/multi:oci`, dest: `${w.ecrHost}/multi:two-arch` },
    p => { p.ImageArch = 'amd64,arm64'; });
  const out = await d.create();
  expect({ Status: out.response.Status, Reason: out.response.Reason }).toEqual({ Status: 'SUCCESS', Reason: undefined });
  const m = await ecr.getManifest('multi', 'two-arch');
  expect(m.json.manifests.map((c: any) => c.digest).sort()).toEqual([ociAmd64.digest, ociArm64.digest].sort());
  await expectCopied(out, ecr, w.ecrHost, 'multi', 'two-arch', m.digest);
  expectNoLeaks(w);
});
