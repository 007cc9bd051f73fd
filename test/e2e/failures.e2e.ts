// Failures CloudFormation must hear about quickly and clearly: FAILED with a Reason naming the
// cause, a non-empty PhysicalResourceId that is the same when the same Create is retried (so
// the rollback Delete can name it), and an answer in a fraction of the function timeout.
// The rollback Delete of each failed Create must then succeed.
import { CustomResource, Outcome } from './harness/driver';
import { expectFailed, expectNoLeaks, expectWellFormed } from './harness/expect';
import { pushImage, pushIndex } from './harness/images';
import { freePort } from './harness/proc';
import { World } from './harness/world';

let w: World;
let timeout: number;

beforeAll(async () => {
  w = await new World().start();
  timeout = w.rie.timeoutSeconds;
  const hub = w.hubClient();
  await pushImage(hub, 'library/app', 'v1', { arch: 'amd64', layerSizes: [16 * 1024] });
  await pushImage(w.privClient(), 'team/app', '1.0', { arch: 'amd64', layerSizes: [16 * 1024] });
  const a = await pushImage(hub, 'library/multi', undefined, { arch: 'amd64', layerSizes: [8 * 1024] });
  const b = await pushImage(hub, 'library/multi', undefined, { arch: 'arm64', layerSizes: [8 * 1024] });
  await pushIndex(hub, 'library/multi', 'list', [a, b], { format: 'docker' });
  await w.moto.putObject('e2e-images', 'images/corrupt.tar', Buffer.from('this is not a tar archive, only some text that goes on for a while\n'.repeat(40)));
}, 180_000);

afterAll(async () => { await w?.stop(); });

/** Create fails as expected, a retried Create gets the same id, and the rollback Delete succeeds. */
async function expectCreateFails(d: CustomResource, ...reason: RegExp[]): Promise<Outcome> {
  const first = await d.create();
  // Bad input fails fast: within a quarter of the function timeout.
  expectFailed(first, timeout / 4, ...reason);
  const retried = await d.create();
  expectFailed(retried, timeout / 4, ...reason);
  expect(retried.response.PhysicalResourceId).toBe(first.response.PhysicalResourceId);
  expect(first.response.PhysicalResourceId).not.toContain(first.event.RequestId);
  const rollback = await d.delete();
  expect({ Status: rollback.response.Status, Reason: rollback.response.Reason }).toEqual({ Status: 'SUCCESS', Reason: undefined });
  expectWellFormed(rollback);
  expectNoLeaks(w);
  return first;
}

const asset = (src: string, dest = `${w.ecrHost}/my-app:latest`) => w.deployment('docker-image-asset', { src, dest });

test('missing source tag', async () => {
  await expectCreateFails(await asset(`${w.hub.host}/library/app:no-such-tag`), /no-such-tag/, /not found|unknown|does not exist/i);
});

test('wrong password', async () => {
  const d = await w.deployment('private-registry-credentials', { src: `${w.priv.host}/team/app:1.0`, dest: `${w.ecrHost}/app:x`, secretName: 'unused' },
    p => { p.SrcCreds = `${w.privUser.user}:wrong-${w.privUser.password}`; });
  w.secrets.add(`wrong-${w.privUser.password}`);
  await expectCreateFails(d, /team\/app/, /unauthori[sz]ed|authenticat|credential|denied/i);
});

test('a secret that does not exist: the Reason names the prop, never the creds value', async () => {
  const d = await w.deployment('private-registry-credentials', { src: `${w.priv.host}/team/app:1.0`, dest: `${w.ecrHost}/app:x`, secretName: 'no/such/secret' });
  const out = await expectCreateFails(d, /the secret named in SrcCreds/, /not found/i);
  // A value given as creds may be a token mistaken for a secret name: it is never quoted.
  expect(out.response.Reason).not.toContain('no/such/secret');
});

test('a malformed URI', async () => {
  const d = await asset(`${w.hub.host}/library/app:v1`);
  await expectCreateFails(w.resource({ stackName: 'S', logicalId: 'Bad', properties: { ...d.properties, SrcImage: 'docker://Not A//Valid::Ref' } }),
    /SrcImage|source/i, /invalid|malformed|parse/i);
});

test('an unknown transport', async () => {
  const d = await asset(`${w.hub.host}/library/app:v1`);
  await expectCreateFails(w.resource({ stackName: 'S', logicalId: 'Bad', properties: { ...d.properties, SrcImage: 'ftp://example/app:v1' } }),
    /ftp/, /transport|scheme|unsupported|unknown/i);
});

test('an arch not in the index', async () => {
  const d = await w.deployment('specific-architecture', { src: `${w.hub.host}/library/multi:list`, dest: `${w.ecrHost}/multi:x` },
    p => { p.ImageArch = 'ppc64le'; });
  const out = await expectCreateFails(d, /ppc64le/, /amd64|arm64|not (found|in)|no (image|match)/i);
  // The index exists: the Reason must not send the user hunting for a wrong name or tag.
  expect(out.response.Reason).not.toMatch(/does not exist|check the image name and tag/);
});

test('malformed ArchImageTags JSON', async () => {
  const d = await w.deployment('multi-arch-index', { src: `${w.hub.host}/library/multi:list`, dest: `${w.ecrHost}/multi:idx` },
    p => { p.ArchImageTags = '{"amd64": "x",'; });
  await expectCreateFails(d, /ArchImageTags/, /JSON|invalid|malformed|parse/i);
});

test('malformed RetryConfigs JSON', async () => {
  const d = await w.deployment('retry-config', { src: `${w.hub.host}/library/app:v1`, dest: `${w.ecrHost}/my-app:r` },
    p => { p.RetryConfigs = '{numAttempts: 5'; });
  await expectCreateFails(d, /RetryConfigs/, /JSON|invalid|malformed|parse/i);
});

test('a missing S3 object', async () => {
  const d = await w.deployment('s3-archive', { archive: 'e2e-images/images/missing.tar', ref: 'app:latest', dest: `${w.ecrHost}/app:s3` });
  await expectCreateFails(d, /images\/missing\.tar/, /not found|NoSuchKey|does not exist|no such/i);
});

test('a corrupt tarball', async () => {
  const d = await w.deployment('s3-archive', { archive: 'e2e-images/images/corrupt.tar', ref: 'app:latest', dest: `${w.ecrHost}/app:s3` });
  await expectCreateFails(d, /corrupt\.tar/, /tar|archive|manifest\.json|invalid/i);
});

test('an unreachable registry (closed port)', async () => {
  const port = await freePort();
  await expectCreateFails(await asset(`127.0.0.1:${port}/library/app:v1`), new RegExp(`127\\.0\\.0\\.1:${port}`), /refused|connect|unreachable/i);
});
