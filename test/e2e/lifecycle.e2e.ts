// The custom resource's life as CloudFormation drives it: Create, a re-run that must write
// nothing, Update to a new tag (with the clean-up Delete of the old id), and Delete.
import { expectCopied, expectNoLeaks, expectWellFormed } from './harness/expect';
import { pushImage, PushedManifest } from './harness/images';
import { ID_FINGERPRINT } from './harness/lifecycle';
import { RegistryClient } from './harness/registry-client';
import { World } from './harness/world';

/** The id the handler answers for name@digest: that, then the fingerprint of the properties that wrote it. */
const idOf = (nameAtDigest: string) => new RegExp(`^${nameAtDigest.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${ID_FINGERPRINT.source}`);

let w: World;
let ecr: RegistryClient;
let image: PushedManifest;

beforeAll(async () => {
  w = await new World().start();
  ecr = w.ecrClient();
  image = await pushImage(w.hubClient(), 'library/app', 'v1', { arch: 'amd64', layerSizes: [300 * 1024, 20 * 1024, 512] });
}, 180_000);

afterAll(async () => { await w?.stop(); });

test('7. a re-run with the same properties writes nothing: no blob upload, no manifest PUT', async () => {
  const d = await w.deployment('docker-image-asset', { src: `${w.hub.host}/library/app:v1`, dest: `${w.ecrHost}/rerun:latest` });
  const first = await d.create();
  await expectCopied(first, ecr, w.ecrHost, 'rerun', 'latest', image.digest);
  expect(first.response.PhysicalResourceId).toMatch(idOf(`${w.ecrHost}/rerun:latest@${image.digest}`));
  expect(w.ecr.writes().manifestPuts.length).toBeGreaterThan(0);

  w.ecr.markLog();
  // CloudFormation re-sends a Create when it retries, and an Update with equal properties.
  const again = await w.deployment('docker-image-asset', { src: `${w.hub.host}/library/app:v1`, dest: `${w.ecrHost}/rerun:latest` });
  await expectCopied(await again.create(), ecr, w.ecrHost, 'rerun', 'latest', image.digest);
  const rerun = await d.update(d.properties);
  await expectCopied(rerun, ecr, w.ecrHost, 'rerun', 'latest', image.digest);
  // Same digest as the id says: the id is kept (no clean-up Delete follows).
  expect(rerun.response.PhysicalResourceId).toBe(first.response.PhysicalResourceId);
  const writes = w.ecr.writes();
  expect(writes.blobUploads).toEqual([]);
  expect(writes.manifestPuts).toEqual([]);
  expect(w.ecr.accessLog().length).toBeGreaterThan(0); // it did look
  expectNoLeaks(w);
});

test('6. Update to a new tag, then Delete: the destination is retained', async () => {
  const d = await w.deployment('docker-image-asset', { src: `${w.hub.host}/library/app:v1`, dest: `${w.ecrHost}/my-app:v1` });
  const created = await d.create();
  await expectCopied(created, ecr, w.ecrHost, 'my-app', 'v1', image.digest);
  // <normalized destination name:tag>@<the digest this resource copied>#<fingerprint of the properties>
  expect(created.response.PhysicalResourceId).toMatch(idOf(`${w.ecrHost}/my-app:v1@${image.digest}`));
  const oldProps = d.properties;
  const oldId = d.physicalResourceId!;

  const next = await w.deployment('docker-image-asset', { src: `${w.hub.host}/library/app:v1`, dest: `${w.ecrHost}/my-app:v2` });
  const updated = await d.update(next.properties);
  expect(updated.event.OldResourceProperties).toEqual(oldProps);
  expect(updated.event.PhysicalResourceId).toBe(oldId);
  await expectCopied(updated, ecr, w.ecrHost, 'my-app', 'v2', image.digest);
  // The same digest was copied: the id stays, so CloudFormation sends no clean-up Delete.
  expect(updated.response.PhysicalResourceId).toBe(oldId);
  expect(d.pendingCleanup).toBeUndefined();

  w.ecr.markLog();
  if (d.pendingCleanup) {
    // A new physical id makes CloudFormation delete the old one (old id, old properties) during clean-up.
    const cleanup = await d.cleanupDelete();
    expect(cleanup.event.PhysicalResourceId).toBe(oldId);
    expect(cleanup.event.ResourceProperties).toEqual(oldProps);
    expect(cleanup.response.Status).toBe('SUCCESS');
    expectWellFormed(cleanup);
  }
  const deleted = await d.delete();
  expect({ Status: deleted.response.Status, Reason: deleted.response.Reason }).toEqual({ Status: 'SUCCESS', Reason: undefined });
  expectWellFormed(deleted);
  // RemovalPolicy RETAIN (the default): both tags still there, nothing deleted.
  expect((await ecr.headManifest('my-app', 'v1'))?.digest).toBe(image.digest);
  expect((await ecr.headManifest('my-app', 'v2'))?.digest).toBe(image.digest);
  expect(w.ecr.writes().deletes).toEqual([]);
  expectNoLeaks(w);
});

test('6b. RemovalPolicy destroy: Delete removes the destination tag (a manifest DELETE outside ECR)', async () => {
  const open = w.openClient();
  const d = await w.deployment('docker-image-asset', { src: `${w.hub.host}/library/app:v1`, dest: `${w.open.host}/gone:v1` },
    p => { p.RemovalPolicy = 'destroy'; });
  const created = await d.create();
  await expectCopied(created, open, w.open.host, 'gone', 'v1', image.digest);
  expect(created.response.PhysicalResourceId).toMatch(idOf(`${w.open.host}/gone:v1@${image.digest}`));
  w.open.markLog();
  const deleted = await d.delete();
  expect({ Status: deleted.response.Status, Reason: deleted.response.Reason }).toEqual({ Status: 'SUCCESS', Reason: undefined });
  expectWellFormed(deleted);
  expect(await open.headManifest('gone', 'v1')).toBeUndefined();
  expect(w.open.writes().deletes.length).toBeGreaterThan(0);
  // Deleting again (CloudFormation retries) finds nothing and still succeeds.
  const again = await d.delete();
  expect(again.response.Status).toBe('SUCCESS');
  expectNoLeaks(w);
});
