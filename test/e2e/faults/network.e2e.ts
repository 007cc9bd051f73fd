// Fault injection between the handler and real registries: a fault proxy sits in front of the
// source (hub: bearer tokens, anonymous pull) and of the ECR-style destination. Each case breaks
// one thing on purpose and accepts exactly one of two outcomes:
//   SUCCESS, the destination digest equal to the source's, with the retry visible in the logs;
//   FAILED before the function timeout, with a Reason naming the fault.
// After every case the destination tag is absent or complete (every blob present and intact),
// a corrupt blob is never accepted, and the secret grep over every log finds nothing.
import { randomBytes } from 'crypto';
import { synthExample } from '../harness/driver';
import { expectCopied, expectFailed, expectNothingHalfWritten, KiB, layersOf } from '../harness/expect';
import { FaultRule, REDIRECTED, RuleHandle } from '../harness/fault-proxy';
import { pushImage, PushedManifest } from '../harness/images';
import { ECR_HOST } from '../harness/pki';
import { RegistryClient } from '../harness/registry-client';
import { Rie } from '../harness/rie';
import { World } from '../harness/world';

const TIMEOUT = 60;
/** The deadline cases: short, so that they end quickly (the handler keeps a 5 s margin). */
const SHORT_TIMEOUT = 20;

let fw: World;
let rie: Rie;
let shortRie: Rie;
let hub: RegistryClient;
let ecr: RegistryClient;
const table: { fault: string; outcome: string; seconds: number }[] = [];

beforeAll(async () => {
  fw = await new World({ faults: true, rie: false }).start();
  [rie, shortRie] = await Promise.all([
    fw.newRie({ timeoutSeconds: TIMEOUT, name: 'faults' }),
    fw.newRie({ timeoutSeconds: SHORT_TIMEOUT, name: 'faults-short' }),
  ]);
  hub = fw.hubClient();
  ecr = fw.ecrClient();
}, 180_000);

afterAll(async () => {
  if (table.length) {
    process.stdout.write(`\nfault | outcome | seconds\n${table.map(r => `${r.fault} | ${r.outcome} | ${r.seconds.toFixed(1)}`).join('\n')}\n`);
  }
  await fw?.stop();
});

afterEach(() => {
  fw.src.clearRules();
  fw.dest.clearRules();
});

interface Case {
  name: string;
  image: PushedManifest;
  big: string; // the largest layer's digest
  src: string;
  repo: string;
}

/** A fresh source image (two layers) and a fresh destination repository for one case. */
async function newCase(name: string, layerSizes = [384 * KiB, 64 * KiB]): Promise<Case> {
  const image = await pushImage(hub, `library/${name}`, 'v1', { arch: 'amd64', layerSizes });
  const [big] = await layersOf(hub, `library/${name}`, 'v1');
  return { name, image, big: big.digest, src: `library/${name}`, repo: name };
}

async function create(c: Case, on: Rie = rie, app = 'docker-image-asset') {
  const [res] = await synthExample(app, { src: `${fw.src.host}/${c.src}:v1`, dest: `${ECR_HOST}/${c.repo}:v1` });
  const d = fw.resource(res, undefined, on);
  const mark = on.log().length;
  const out = await d.create();
  return { out, log: on.log().slice(mark) };
}

function blobPath(c: Case, digest = c.big): RegExp {
  return new RegExp(`^/v2/${c.src}/blobs/${digest}$`);
}

async function expectSurvived(c: Case, fault: string, rules: RuleHandle[], out: Created, retrySeen: RegExp, seen = 'retry logged') {
  for (const r of rules) expect({ rule: r.rule.name, fired: r.hits > 0 }).toEqual({ rule: r.rule.name, fired: true });
  await expectCopied(out.out, ecr, ECR_HOST, c.repo, 'v1', c.image.digest);
  expect(out.log).toMatch(retrySeen);
  expect(await expectNothingHalfWritten(ecr, c.repo, 'v1')).toBe('complete');
  expect(fw.leaks()).toEqual([]);
  table.push({ fault, outcome: `SUCCESS, digest equal, ${seen}`, seconds: out.out.seconds });
}

type Created = Awaited<ReturnType<typeof create>>;

async function expectFailedCleanly(c: Case, fault: string, rules: RuleHandle[], out: Created, timeout: number, ...reason: RegExp[]) {
  for (const r of rules) expect({ rule: r.rule.name, fired: r.hits > 0 }).toEqual({ rule: r.rule.name, fired: true });
  expectFailed(out.out, timeout, ...reason);
  expect(await expectNothingHalfWritten(ecr, c.repo, 'v1')).toBe('absent');
  expect(fw.leaks()).toEqual([]);
  table.push({ fault, outcome: `FAILED: ${(out.out.response.Reason ?? '').slice(0, 90)}…`, seconds: out.out.seconds });
}

const rule = (proxy: 'src' | 'dest', r: FaultRule) => fw[proxy].rule(r);
const retryAfter1 = { 'Retry-After': '1' };

test('429 with Retry-After: 1 on the first 3 source manifest GETs: SUCCESS after honouring Retry-After', async () => {
  const c = await newCase('f-429-manifest');
  const r = rule('src', {
    name: '429 x3',
    method: 'GET',
    path: new RegExp(`^/v2/${c.src}/manifests/`),
    times: 3,
    fault: { kind: 'status', status: 429, headers: retryAfter1 },
  });
  const out = await create(c);
  expect(r.hits).toBe(3);
  await expectSurvived(c, '429 + Retry-After: 1, first 3 manifest GETs', [r], out, /Too many requests|retrying/);
});

test('429 with Retry-After: 1 on the first 2 blob GETs: SUCCESS', async () => {
  const c = await newCase('f-429-blob');
  const r = rule('src', {
    name: '429 blobs x2',
    method: 'GET',
    path: new RegExp(`^/v2/${c.src}/blobs/`),
    times: 2,
    fault: { kind: 'status', status: 429, headers: retryAfter1 },
  });
  const out = await create(c);
  await expectSurvived(c, '429 + Retry-After: 1, first 2 blob GETs', [r], out, /Too many requests|retrying/);
});

test('a burst of two 503s on the source manifest: SUCCESS after retries', async () => {
  const c = await newCase('f-503-burst');
  const r = rule('src', {
    name: '503 x2',
    method: 'GET',
    path: new RegExp(`^/v2/${c.src}/manifests/`),
    times: 2,
    fault: { kind: 'status', status: 503 },
  });
  const out = await create(c);
  expect(r.hits).toBe(2);
  await expectSurvived(c, '503 burst (2) on the source manifest', [r], out, /"msg":"retrying".*(503|unavailable)/);
});

test('a burst of two 503s on blob GETs: SUCCESS after retries', async () => {
  const c = await newCase('f-503-blob');
  const r = rule('src', {
    name: '503 blobs x2',
    method: 'GET',
    path: new RegExp(`^/v2/${c.src}/blobs/`),
    times: 2,
    fault: { kind: 'status', status: 503 },
  });
  const out = await create(c);
  await expectSurvived(c, '503 burst (2) on blob GETs', [r], out, /"msg":"retrying".*(503|unavailable)/);
});

test('503 that outlasts the retries: FAILED naming the 503 and the image', async () => {
  const c = await newCase('f-503-always');
  const r = rule('src', { name: '503 always', method: 'GET', path: new RegExp(`^/v2/${c.src}/manifests/`), fault: { kind: 'status', status: 503 } });
  const out = await create(c);
  // The default: 3 attempts.
  expect(r.hits).toBe(3);
  await expectFailedCleanly(c, '503 on every manifest GET (outlasts 3 attempts)', [r], out, TIMEOUT, /503|unavailable/i, new RegExp(c.src));
});

test('connection reset in the middle of a blob download: SUCCESS, resumed with a Range request', async () => {
  const c = await newCase('f-reset-download');
  const r = rule('src', { name: 'reset download', method: 'GET', path: blobPath(c), times: 1, fault: { kind: 'reset-download', afterBytes: 100 * KiB } });
  const out = await create(c);
  expect(r.hits).toBe(1);
  expect(fw.src.events.filter(e => e.method === 'GET' && blobPath(c).test(e.path)).length).toBeGreaterThanOrEqual(2);
  await expectSurvived(c, 'TCP reset mid blob download', [r], out, /reconnecting|retrying/);
});

test('connection reset in the middle of a blob upload: SUCCESS after a retry', async () => {
  const c = await newCase('f-reset-upload');
  const r = rule('dest', {
    name: 'reset upload',
    method: ['PATCH', 'PUT'],
    path: new RegExp(`^/v2/${c.repo}/blobs/uploads/`),
    times: 1,
    fault: { kind: 'reset-upload', afterBytes: 100 * KiB },
  });
  const out = await create(c);
  if (process.env.E2E_DEBUG) process.stdout.write(JSON.stringify(fw.dest.events.filter(e => e.path.includes(c.repo)), null, 1) + out.log);
  expect(r.hits).toBe(1);
  await expectSurvived(c, 'TCP reset mid blob upload', [r], out, /"msg":"retrying"/);
});

test('429 on the destination manifest PUT (twice): SUCCESS after retries, blobs not sent again', async () => {
  const c = await newCase('f-429-put');
  const r = rule('dest', {
    name: '429 manifest PUT x2',
    method: 'PUT',
    path: new RegExp(`^/v2/${c.repo}/manifests/`),
    times: 2,
    fault: { kind: 'status', status: 429, headers: retryAfter1 },
  });
  const out = await create(c);
  expect(r.hits).toBe(2);
  // The retried copy finds its three blobs (two layers, config) in place: each was uploaded once.
  expect(fw.dest.events.filter(e => e.method === 'POST' && e.path === `/v2/${c.repo}/blobs/uploads/`).length).toBe(3);
  await expectSurvived(c, '429 on the destination manifest PUT (2)', [r], out, /"msg":"retrying"/);
});

test('a blob slowed to a trickle (64 KiB/s): SUCCESS, the slow progress logged', async () => {
  const c = await newCase('f-trickle', [384 * KiB, 8 * KiB]);
  const r = rule('src', { name: 'trickle', method: 'GET', path: blobPath(c), fault: { kind: 'trickle', bytesPerSecond: 64 * KiB } });
  const out = await create(c);
  expect(r.hits).toBe(1);
  // No retry is needed: the transfer is slow, not broken. The periodic progress line shows it.
  await expectSurvived(c, 'blob trickled at 64 KiB/s', [r], out, /"msg":"copy progress"/, 'slow progress logged');
});

test('a blob whose bytes do not match its digest: FAILED, never accepted', async () => {
  const c = await newCase('f-corrupt');
  const r = rule('src', { name: 'corrupt', method: 'GET', path: blobPath(c), fault: { kind: 'corrupt' } });
  const out = await create(c);
  await expectFailedCleanly(c, 'blob bytes altered (digest mismatch)', [r], out, TIMEOUT, /digest/i, new RegExp(c.big.slice(7)));
  // The destination never stored bytes under that digest that hash to something else.
  const res = await ecr.request('HEAD', `/v2/${c.repo}/blobs/${c.big}`, `repository:${c.repo}:pull`);
  if (res.status === 200) expect((await ecr.getBlob(c.repo, c.big)).length).toBeGreaterThan(0);
  else expect(res.status).toBe(404);
});

test('stall forever after the headers, and a trickle too slow for the deadline: both FAILED before the 20 s timeout', async () => {
  const stall = await newCase('f-stall');
  const slow = await newCase('f-slow', [512 * KiB, 8 * KiB]);
  const rs = rule('src', { name: 'stall', method: 'GET', path: blobPath(stall), fault: { kind: 'stall' } });
  const rt = rule('src', { name: 'trickle 8 KiB/s', method: 'GET', path: blobPath(slow), fault: { kind: 'trickle', bytesPerSecond: 8 * KiB } });
  const other = await fw.newRie({ timeoutSeconds: SHORT_TIMEOUT, name: 'faults-short-2' });
  const [a, b] = await Promise.all([create(stall, shortRie), create(slow, other)]);
  await expectFailedCleanly(stall, 'stall after headers (20 s function)', [rs], a, SHORT_TIMEOUT, /Lambda timeout|deadline/i, new RegExp(stall.src));
  await expectFailedCleanly(slow, 'trickle at 8 KiB/s past the deadline (20 s function)', [rt], b, SHORT_TIMEOUT, /Lambda timeout|deadline/i, new RegExp(slow.src));
});

test('a blob redirected to a presigned URL (as ECR does) whose connection resets: FAILED, the signed query never leaks', async () => {
  const c = await newCase('f-presigned');
  const token = `IQoJb3JpZ2luX2VjE${randomBytes(24).toString('hex')}`;
  const signature = randomBytes(32).toString('hex');
  fw.secrets.add(token);
  fw.secrets.add(signature);
  const query = `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAE2EPRESIGNED0000%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240101T000000Z&X-Amz-Expires=600&X-Amz-Security-Token=${token}&X-Amz-SignedHeaders=host&X-Amz-Signature=${signature}`;
  const r1 = rule('src', { name: 'redirect to presigned', method: 'GET', path: blobPath(c), fault: { kind: 'redirect', query } });
  const r2 = rule('src', { name: 'reset presigned', method: 'GET', path: new RegExp(`^${REDIRECTED}/v2/${c.src}/blobs/${c.big}$`), fault: { kind: 'reset' } });
  const out = await create(c);
  await expectFailed(out.out, TIMEOUT, /connection reset|reset by peer/i, new RegExp(c.src));
  expect(r2.hits).toBeGreaterThanOrEqual(1);
  await expectFailedCleanly(c, 'presigned blob URL resets (secret query in the error)', [r1, r2], out, TIMEOUT, /reset/i);
});

/**
 * For each answer of `rule` (a 429), the time from that answer to the arrival of the next
 * request with the same method and path: how long the handler really waited.
 */
function waitsAfter(proxy: 'src' | 'dest', ruleName: string): number[] {
  const events = fw[proxy].events;
  return events.filter(e => e.rule === ruleName).map(e => {
    const next = events.filter(n => n !== e && n.method === e.method && n.path === e.path && n.started >= e.at)
      .sort((a, b) => a.started - b.started)[0];
    return next ? next.started - e.at : NaN;
  });
}

const retryAfter2 = { 'Retry-After': '2' };

test('Retry-After: 2 on the source manifest GET is kept: at least 2 s from each 429 to the next GET of it', async () => {
  const c = await newCase('f-retry-after-get');
  const r = rule('src', {
    name: '429 Retry-After 2, manifest GET',
    method: 'GET',
    path: new RegExp(`^/v2/${c.src}/manifests/`),
    times: 2,
    fault: { kind: 'status', status: 429, headers: retryAfter2 },
  });
  const out = await create(c);
  expect(r.hits).toBe(2);
  const waits = waitsAfter('src', r.rule.name);
  if (process.env.E2E_VERBOSE) process.stdout.write(`waits after 429 + Retry-After: 2 (manifest GET): ${waits.join(', ')} ms\n`);
  expect(waits).toHaveLength(2);
  for (const ms of waits) expect(ms).toBeGreaterThanOrEqual(2000);
  await expectSurvived(c, '429 + Retry-After: 2, first 2 manifest GETs (waits kept)', [r], out, /Too many requests|retrying|Retry-After/);
});

// containers/image cannot retry a request with a body, and its error keeps no header: a 429 on
// a write reaches the handler without its Retry-After. README says so ("honouring Retry-After on
// reads; a refused write backs off as below"): the write waits the retry policy's backoff, which
// with the default 1 s base is 0.5-1 s before the second attempt and 1-2 s before the third.
test('a 429 with Retry-After on the destination manifest PUT backs off by the retry policy (at least 0.5 s, then 1 s) and succeeds', async () => {
  const c = await newCase('f-retry-after-put');
  const r = rule('dest', {
    name: '429 Retry-After 2, manifest PUT',
    method: 'PUT',
    path: new RegExp(`^/v2/${c.repo}/manifests/`),
    times: 2,
    fault: { kind: 'status', status: 429, headers: retryAfter2 },
  });
  const out = await create(c);
  expect(r.hits).toBe(2);
  const waits = waitsAfter('dest', r.rule.name);
  if (process.env.E2E_VERBOSE) process.stdout.write(`waits after 429 + Retry-After: 2 (manifest PUT): ${waits.join(', ')} ms\n`);
  expect(waits).toHaveLength(2);
  expect(waits[0]).toBeGreaterThanOrEqual(500);
  expect(waits[1]).toBeGreaterThanOrEqual(1000);
  await expectSurvived(c, '429 + Retry-After: 2, first 2 manifest PUTs (policy backoff)', [r], out, /"msg":"retrying"/);
});

test('immutable tags (ECR\'s 400 TAG_INVALID on any PUT to an existing tag): a re-run Create and an Update with equal properties are both SUCCESS', async () => {
  const c = await newCase('f-immutable');
  const immutable = rule('dest', { name: 'immutable tags', path: new RegExp(`^/v2/${c.repo}/manifests/`), fault: { kind: 'immutable-tags' } });
  const [res] = await synthExample('docker-image-asset', { src: `${fw.src.host}/${c.src}:v1`, dest: `${ECR_HOST}/${c.repo}:v1` });
  const edit = (p: Record<string, any>) => { p.DestTags = JSON.stringify(['v1.0', 'stable']); };
  const d = fw.resource(res, edit, rie);
  const tags = ['v1', 'v1.0', 'stable'];

  // The first deployment writes the tags (none exists yet, so the registry takes them).
  await expectCopied(await d.create(), ecr, ECR_HOST, c.repo, 'v1', c.image.digest);
  for (const t of tags) expect((await ecr.headManifest(c.repo, t))?.digest).toBe(c.image.digest);
  expect(immutable.hits).toBe(0);

  // The rule is live: the same manifest PUT again to an existing tag is refused, as ECR does.
  const viaProxy = new RegistryClient(fw.dest.host, fw.pki.caCert, fw.ecrLogin);
  const manifest = await ecr.getManifest(c.repo, 'v1');
  await expect(viaProxy.putManifest(c.repo, 'stable', manifest.mediaType, manifest.raw))
    .rejects.toThrow(/400 .*TAG_INVALID.*cannot be overwritten because the repository is immutable/);
  expect(immutable.hits).toBe(1);

  // Re-deploying the same image: a Create re-run (a new resource with the same properties,
  // as after a stack re-creation) and an Update with equal properties.
  const putsBefore = fw.dest.events.filter(e => e.method === 'PUT' && /\/manifests\//.test(e.path)).length;
  const again = fw.resource(res, edit, rie);
  await expectCopied(await again.create(), ecr, ECR_HOST, c.repo, 'v1', c.image.digest);
  await expectCopied(await d.update(d.properties), ecr, ECR_HOST, c.repo, 'v1', c.image.digest);
  // Neither sent a manifest PUT (each would have been refused, and the step FAILED).
  expect(fw.dest.events.filter(e => e.method === 'PUT' && /\/manifests\//.test(e.path)).length).toBe(putsBefore);
  expect(immutable.hits).toBe(1);
  for (const t of tags) expect((await ecr.headManifest(c.repo, t))?.digest).toBe(c.image.digest);

  // Control: deploying a different image to the existing tag does need the PUT, and fails on it.
  const other = await newCase('f-immutable-other');
  const [res2] = await synthExample('docker-image-asset', { src: `${fw.src.host}/${other.src}:v1`, dest: `${ECR_HOST}/${c.repo}:v1` });
  const refused = await fw.resource(res2, undefined, rie).create();
  expectFailed(refused, TIMEOUT, /cannot be overwritten because the repository is immutable/, new RegExp(`${c.repo}`));
  expect(immutable.hits).toBeGreaterThan(1);
  expect((await ecr.headManifest(c.repo, 'v1'))?.digest).toBe(c.image.digest);
  expect(fw.leaks()).toEqual([]);
  table.push({ fault: 'immutable tags: re-run Create + equal Update', outcome: 'SUCCESS x2, 0 manifest PUTs; a different image: FAILED (TAG_INVALID)', seconds: refused.seconds });
});
