// Hardening (issue 16): a handler killed in the middle of a copy, a destination registry that
// restarts during one, tokens that expire during one (ECR-style and bearer), and two deployments
// writing the same tag at once. Each runs the shipped bootstrap under the RIE against real
// docker-registry instances, and after each step the registry state is checked: a tag is
// absent or at a digest whose every blob is there and intact, never half-written.
import * as fs from 'fs';
import { synthExample } from '../harness/driver';
import { expectCopied, expectNothingHalfWritten, KiB, MiB } from '../harness/expect';
import { pushImage } from '../harness/images';
import { ECR_HOST } from '../harness/pki';
import { sleep } from '../harness/proc';
import { RegistryClient } from '../harness/registry-client';
import { BOOTSTRAP, Rie } from '../harness/rie';
import { World } from '../harness/world';

const TIMEOUT = 120;
const GET_AUTHORIZATION_TOKEN = 'AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken';

let w: World;
let rie: Rie;
const table: { what: string; outcome: string }[] = [];

beforeAll(async () => {
  w = await new World({ faults: true, rie: false, recordAwsCalls: true }).start();
  rie = await w.newRie({ timeoutSeconds: TIMEOUT, name: 'hardening', recordPid: true });
}, 180_000);

afterAll(async () => {
  if (table.length) process.stdout.write(`\nhardening | outcome\n${table.map(r => `${r.what} | ${r.outcome}`).join('\n')}\n`);
  await w?.stop();
});

afterEach(() => {
  w.src.clearRules();
  w.dest.clearRules();
  w.tokenServer.setTtl(600);
});

/** Every tag of `repo` is complete (all blobs present and intact); returns tag -> digest. */
async function expectAllTagsComplete(client: RegistryClient, repo: string): Promise<Record<string, string>> {
  const tags = await client.tagDigests(repo);
  for (const t of Object.keys(tags)) expect(await expectNothingHalfWritten(client, repo, t)).toBe('complete');
  return tags;
}

/** Digests of the blobs whose upload the ECR-style registry completed (201) since its log was marked. */
function storedBlobs(): string[] {
  return w.ecr.accessLog()
    .filter(e => e.method === 'PUT' && e.status === 201 && /\/blobs\/uploads\//.test(e.path))
    .map(e => decodeURIComponent(/[?&]digest=([^&]+)/.exec(e.path)?.[1] ?? ''));
}

/** The pid of the bootstrap serving `on` right now (the last one its wrapper started), checked to be alive. */
function livePid(on: Rie): number {
  const pids = w.bootstrapPids(on);
  const pid = pids[pids.length - 1];
  expect(pid).toBeGreaterThan(1);
  process.kill(pid, 0);
  return pid;
}

describe('a handler killed in the middle of a copy (SIGKILL, as Lambda ends a crashed or timed-out function)', () => {
  test('the tag stays at its old digest until the re-invoked event succeeds; the re-run reuses the blobs already uploaded', async () => {
    // The bench image's shape at a smaller size: a few layers of random (incompressible) data.
    const LAYERS = [4 * MiB, 16 * MiB, 64 * MiB];
    const hub = w.hubClient();
    const ecr = w.ecrClient();
    const image = await pushImage(hub, 'library/crash', 'v1', { arch: 'amd64', layerSizes: LAYERS });
    const old = await pushImage(ecr, 'crash', 'v1', { arch: 'amd64', layerSizes: [64 * KiB] });
    const [res] = await synthExample('docker-image-asset', { src: `${w.hub.host}/library/crash:v1`, dest: `${ECR_HOST}/crash:v1` });
    const d = w.resource(res, undefined, rie);
    const event = d.createEvent();
    const upload = /^\/v2\/crash\/blobs\/uploads\//;
    const t0 = Date.now();

    // Start the copy, and watch the destination while it runs.
    w.ecr.markLog();
    const invoked = rie.invoke(event).catch(e => ({ status: 0, body: String(e) }));
    const seen = new Set<string>();
    let committed: string[] = [];
    for (;;) {
      const tag = await ecr.headManifest('crash', 'v1');
      seen.add(tag?.digest ?? 'absent');
      committed = storedBlobs();
      // Halfway: the config and the two smaller layers are stored, the large one is on its way.
      if (committed.length >= 3) break;
      if (Date.now() - t0 > 60_000) throw new Error('the copy never got halfway');
      await sleep(20);
    }
    const pid = livePid(rie);
    expect(fs.realpathSync(`/proc/${pid}/exe`)).toBe(fs.realpathSync(BOOTSTRAP));
    process.kill(pid, 'SIGKILL');
    const killedAt = Date.now();
    const crashed = await invoked;
    const uploadedBeforeCrash = w.dest.bytesIn(['PATCH', 'PUT'], upload, t0);

    // No manifest was written, and no response was sent: the handler died before answering.
    expect(w.dest.events.filter(e => e.at >= t0 && e.at <= killedAt && e.method === 'PUT' && /\/manifests\//.test(e.path))).toEqual([]);
    expect(w.receiver.responses.get(event.RequestId)).toBeUndefined();
    // Until now the tag was only ever at its old digest, and it still is, complete.
    expect([...seen]).toEqual([old.digest]);
    expect((await ecr.headManifest('crash', 'v1'))?.digest).toBe(old.digest);
    expect(await expectAllTagsComplete(ecr, 'crash')).toEqual({ v1: old.digest });

    // Lambda runs the same event again, in a new process.
    const t1 = Date.now();
    w.ecr.markLog();
    const again = await d.deliver(event);
    await expectCopied(again, ecr, ECR_HOST, 'crash', 'v1', image.digest);
    expect(await expectAllTagsComplete(ecr, 'crash')).toEqual({ v1: image.digest });
    const pids = w.bootstrapPids(rie);
    expect(pids[pids.length - 1]).not.toBe(pid);
    // The blobs stored before the crash were not sent again.
    const uploadedAfter = w.dest.bytesIn(['PATCH', 'PUT'], upload, t1);
    const storedAgain = storedBlobs();
    for (const c of committed) expect(storedAgain).not.toContain(c);
    expect(storedAgain.length).toBeGreaterThan(0);
    expect(uploadedAfter).toBeGreaterThan(0);
    expect(uploadedAfter).toBeLessThan(image.blobBytes);
    table.push({
      what: `SIGKILL halfway through a ${(image.blobBytes / MiB).toFixed(0)} MiB copy (${committed.length} of ${LAYERS.length + 1} blobs stored)`,
      outcome: `tag stayed at the old digest (complete); invoke answered ${crashed.status}; re-run SUCCESS in ${again.seconds.toFixed(1)} s, `
        + `uploaded ${(uploadedAfter / MiB).toFixed(1)} MiB of ${(image.blobBytes / MiB).toFixed(1)} MiB (${(uploadedBeforeCrash / MiB).toFixed(1)} MiB before the crash)`,
    });
  });
});

describe('the destination registry restarts during a copy', () => {
  test('stopped and started again (same storage, same port) while blobs upload: the copy retries to SUCCESS', async () => {
    const hub = w.hubClient();
    const open = w.openClient();
    const image = await pushImage(hub, 'library/restart', 'v1', { arch: 'amd64', layerSizes: [48 * MiB, 48 * MiB, 8 * MiB] });
    const [res] = await synthExample('docker-image-asset', { src: `${w.hub.host}/library/restart:v1`, dest: `${w.open.host}/restart:v1` });
    const d = w.resource(res, undefined, rie);
    w.open.markLog();
    const port = w.open.port;
    const mark = rie.log().length;
    const out = d.create();
    // As soon as an upload has started, the registry goes away and comes back.
    const t0 = Date.now();
    while (!w.open.accessLog().some(e => e.method === 'POST' && /^\/v2\/restart\/blobs\/uploads\/$/.test(e.path))) {
      if (Date.now() - t0 > 60_000) throw new Error('no upload started');
      await sleep(10);
    }
    const down = Date.now();
    await w.open.stop();
    await sleep(1500);
    await w.open.start();
    const downSeconds = (Date.now() - down) / 1000;
    expect(w.open.port).toBe(port);
    const done = await out;
    await expectCopied(done, open, w.open.host, 'restart', 'v1', image.digest);
    expect(await expectAllTagsComplete(open, 'restart')).toEqual({ v1: image.digest });
    expect(rie.log().slice(mark)).toMatch(/"msg":"retrying"/);
    expect(done.seconds).toBeLessThan(TIMEOUT);
    table.push({ what: `destination registry stopped for ${downSeconds.toFixed(1)} s mid-upload`, outcome: `SUCCESS after retries in ${done.seconds.toFixed(1)} s` });
  });
});

describe('tokens that expire during a copy', () => {
  test('ECR: the registry refuses the token after N requests until a new GetAuthorizationToken: the handler logs in again and succeeds', async () => {
    const hub = w.hubClient();
    const ecr = w.ecrClient();
    const image = await pushImage(hub, 'library/expiry', 'v1', { arch: 'amd64', layerSizes: [256 * KiB, 256 * KiB, 128 * KiB, 64 * KiB] });
    const [res] = await synthExample('docker-image-asset', { src: `${w.hub.host}/library/expiry:v1`, dest: `${ECR_HOST}/expiry:v1` });
    const logins = () => w.awsCalls.filter(c => c === GET_AUTHORIZATION_TOKEN).length;
    let atExpiry: number | undefined;
    const expired = w.dest.rule({
      name: 'ECR token expired',
      path: /^\/v2\//,
      fault: {
        kind: 'expired-token',
        afterRequests: 8,
        renewed: () => { atExpiry ??= logins(); return logins() > atExpiry; },
      },
    });
    const before = logins();
    const mark = rie.log().length;
    const out = await w.resource(res, undefined, rie).create();
    await expectCopied(out, ecr, ECR_HOST, 'expiry', 'v1', image.digest);
    expect(await expectAllTagsComplete(ecr, 'expiry')).toEqual({ v1: image.digest });
    // The token really was refused mid-copy, and a second login really happened.
    expect(expired.hits).toBeGreaterThan(0);
    expect(atExpiry).toBeDefined();
    expect(logins() - before).toBeGreaterThanOrEqual(2);
    // The retry policy's line for a renewed ECR token (copier/retry.go).
    expect(rie.log().slice(mark)).toMatch(/the registry refused the credentials; logged in again/);
    expect(w.leaks()).toEqual([]);
    table.push({ what: 'ECR token refused after 8 requests', outcome: `SUCCESS in ${out.seconds.toFixed(1)} s; ${expired.hits} requests refused, ${logins() - before} GetAuthorizationToken calls` });
  });

  test('bearer tokens that expire 3 s after issue: a push that outlasts its token still succeeds', async () => {
    const hub = w.hubClient();
    const image = await pushImage(hub, 'library/bearer-src', 'v1', { arch: 'amd64', layerSizes: [512 * KiB, 64 * KiB] });
    const [big] = (await hub.getManifest('library/bearer-src', 'v1')).json.layers.sort((a: any, b: any) => b.size - a.size);
    const [res] = await synthExample('docker-image-asset', { src: `${w.src.host}/library/bearer-src:v1`, dest: `${w.hub.host}/library/bearer-dest:v1` });
    w.tokenServer.setTtl(3);
    // The large layer is read slowly the first time, so its upload to the destination (which
    // streams from that read) ends well after the push token expired.
    const slow = w.src.rule({ name: 'trickle', method: 'GET', path: new RegExp(`/blobs/${big.digest}$`), times: 1, fault: { kind: 'trickle', bytesPerSecond: 96 * KiB } });
    const issued = { ...w.tokenServer.issued };
    w.hub.markLog();
    const mark = rie.log().length;
    const out = await w.resource(res, p => { p.DestCreds = `${w.hubPusher.user}:${w.hubPusher.password}`; }, rie).create();
    expect(slow.hits).toBe(1);
    await expectCopied(out, hub, w.hub.host, 'library/bearer-dest', 'v1', image.digest);
    expect(await expectAllTagsComplete(hub, 'library/bearer-dest')).toEqual({ v1: image.digest });
    // The registry did refuse an expired token during the copy, and new tokens were issued.
    const refused = w.hub.accessLog().filter(e => e.status === 401 && /^\/v2\/library\/bearer-dest\//.test(e.path));
    expect(refused.length).toBeGreaterThan(0);
    expect(w.tokenServer.issued.authenticated - issued.authenticated).toBeGreaterThanOrEqual(2);
    expect(w.leaks()).toEqual([]);
    table.push({
      what: 'bearer tokens valid 3 s, a push lasting longer',
      outcome: `SUCCESS in ${out.seconds.toFixed(1)} s; ${refused.length} requests refused for an expired token; `
        + `${/logged in again|trying once more on new connections/.test(rie.log().slice(mark)) ? 'the handler tried once more on new connections' : 'containers/image refreshed the token itself'}`,
    });
  });
});

describe('concurrent writers', () => {
  test('two deployments copy different images to the same tag at once (3 rounds): the tag ends complete at one of them, both answers honest', async () => {
    const hub = w.hubClient();
    const ecr = w.ecrClient();
    const other = await w.newRie({ timeoutSeconds: TIMEOUT, name: 'race' });
    const outcomes: string[] = [];
    for (let round = 0; round < 3; round++) {
      const a = await pushImage(hub, 'library/race-a', `r${round}`, { arch: 'amd64', layerSizes: [2 * MiB, 256 * KiB] });
      const b = await pushImage(hub, 'library/race-b', `r${round}`, { arch: 'amd64', layerSizes: [2 * MiB, 256 * KiB] });
      const [ra] = await synthExample('docker-image-asset', { src: `${w.hub.host}/library/race-a:r${round}`, dest: `${ECR_HOST}/race:r${round}` });
      const [rb] = await synthExample('docker-image-asset', { src: `${w.hub.host}/library/race-b:r${round}`, dest: `${ECR_HOST}/race:r${round}` });
      const [oa, ob] = await Promise.all([w.resource(ra, undefined, rie).create(), w.resource(rb, undefined, other).create()]);
      const final = (await ecr.headManifest('race', `r${round}`))?.digest;
      // The tag ends at one of the two, and complete.
      expect([a.digest, b.digest]).toContain(final);
      expect(await expectNothingHalfWritten(ecr, 'race', `r${round}`)).toBe('complete');
      for (const [out, img, name] of [[oa, a, 'A'], [ob, b, 'B']] as const) {
        const r = out.response;
        if (r.Status === 'SUCCESS') {
          // ImageDigest is the digest this deployment wrote: that manifest is in the repository,
          // complete, whether or not the other writer moved the tag on afterwards.
          expect(r.Data?.ImageDigest).toBe(img.digest);
          expect(await expectNothingHalfWritten(ecr, 'race', img.digest)).toBe('complete');
        } else {
          expect(r.Reason ?? '').toMatch(/race:r\d/);
          expect((r.Reason ?? '').length).toBeGreaterThan(20);
        }
        outcomes.push(`round ${round} ${name}: ${r.Status}${r.Status === 'SUCCESS' ? ` (${img.digest === final ? 'the tag' : 'overwritten by the other'})` : `: ${r.Reason}`}`);
      }
      // The later writer's answer is the tag's digest when both succeeded: one of them says so.
      if (oa.response.Status === 'SUCCESS' && ob.response.Status === 'SUCCESS') {
        expect([oa.response.Data?.ImageDigest, ob.response.Data?.ImageDigest]).toContain(final);
      }
    }
    expect(await expectAllTagsComplete(ecr, 'race')).toBeDefined();
    table.push({ what: 'two writers, one tag, 3 rounds', outcome: outcomes.join('; ') });
  });
});
