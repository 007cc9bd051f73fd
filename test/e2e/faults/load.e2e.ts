// Load: one stack with 20 ECR deployments, synthesized for real. CloudFormation sends the 20
// Create events at once and Lambda runs them in 20 sandboxes: here, 20 RIE instances of the
// shipped bootstrap, all copying into the one ECR-style destination registry. The destination
// sits behind the fault proxy, which counts manifest PUTs in flight (per repository and in
// total) and, like ECR, allows at most 10 PutImage per second (429 + Retry-After: 1 above that).
// The same 20 copies then run one after another on one warm function, for comparison.
// Figures are printed (and written to $E2E_LOAD_REPORT when set) for bench/load.md.
import * as fs from 'fs';
import { CustomResource, Outcome, synthExample } from '../harness/driver';
import { expectCopied, expectNothingHalfWritten, KiB, MiB } from '../harness/expect';
import { pushImage, PushedManifest, randomLayer } from '../harness/images';
import { ECR_HOST } from '../harness/pki';
import { Rie } from '../harness/rie';
import { World } from '../harness/world';

const N = 20;
const TIMEOUT = 300;
const LAYERS = [2 * MiB, 1 * MiB];
/** The copier copies one image (and so PUTs one manifest) at a time per invocation. */
const COPIER_MANIFEST_PUT_LIMIT = 1;
const ECR_PUT_IMAGE_PER_SECOND = 10;

let fw: World;
let images: PushedManifest[];

beforeAll(async () => {
  fw = await new World({ faults: true, rie: false }).start();
  const hub = fw.hubClient();
  images = [];
  for (let i = 0; i < N; i++) images.push(await pushImage(hub, `library/load-${i}`, 'v1', { arch: 'amd64', layerSizes: LAYERS }));
}, 300_000);

afterAll(async () => { await fw?.stop(); });

async function deployments(prefix: string): Promise<{ logicalId: string; props: Record<string, any> }[]> {
  const res = await synthExample('../test/e2e/faults/apps/many-deployments', {
    srcs: images.map((_, i) => `${fw.hub.host}/library/load-${i}:v1`),
    dests: images.map((_, i) => `${prefix}-${i}:v1`),
  });
  expect(res).toHaveLength(N);
  // One singleton handler serves them all, as in the real stack.
  expect(new Set(res.map(r => r.properties.ServiceToken)).size).toBe(1);
  return res.map(r => ({ logicalId: r.logicalId, props: r.properties }));
}

function repoOfDest(props: Record<string, any>): string {
  return /\/([^/:]+):v1$/.exec(props.DestImage)![1];
}

async function expectAllCopied(outs: Outcome[], deps: { props: Record<string, any> }[]): Promise<void> {
  const ecr = fw.ecrClient();
  for (let i = 0; i < N; i++) {
    const repo = repoOfDest(deps[i].props);
    const src = /library\/load-(\d+):v1$/.exec(deps[i].props.SrcImage)![1];
    await expectCopied(outs[i], ecr, ECR_HOST, repo, 'v1', images[Number(src)].digest);
    expect(await expectNothingHalfWritten(ecr, repo, 'v1')).toBe('complete');
  }
}

test(`${N} deployments in parallel (${N} sandboxes), then the same ${N} in sequence on one warm function`, async () => {
  const puts = fw.dest.gauge('PUT', /^\/v2\/.+\/manifests\//);
  const limit = fw.dest.rule({
    name: `ECR PutImage ${ECR_PUT_IMAGE_PER_SECOND}/s`,
    method: 'PUT',
    path: /^\/v2\/.+\/manifests\//,
    fault: { kind: 'rate-limit', perSecond: ECR_PUT_IMAGE_PER_SECOND },
  });

  // Parallel: one RIE per deployment.
  const par = await deployments('par');
  const ries: Rie[] = await Promise.all(par.map((_, i) => fw.newRie({ timeoutSeconds: TIMEOUT, name: `load-${i}` })));
  fw.ecr.markLog();
  const t0 = Date.now();
  const parOuts = await Promise.all(par.map((d, i) =>
    new CustomResource(ries[i], fw.receiver, { stackName: 'ManyDeploymentsStack', logicalId: d.logicalId, properties: d.props }).create()));
  const parallelSeconds = (Date.now() - t0) / 1000;
  const parUploads = fw.ecr.writes().blobUploads.filter(e => e.method === 'POST').length;
  await expectAllCopied(parOuts, par);
  const parallel = { maxInFlight: puts.max, maxPerRepo: Math.max(...puts.maxByKey.values()), manifestPuts: puts.total, throttled: limit.hits };
  const retriedAfter429 = ries.filter(r => /"msg":"retrying".*(429|toomanyrequests|too many requests)/i.test(r.log())).length;

  // Sequential: the same copies, into fresh repositories, one after another on one warm function.
  puts.reset();
  const throttledBefore = limit.hits;
  const seq = await deployments('seq');
  const warm = ries[0];
  fw.ecr.markLog();
  const t1 = Date.now();
  const seqOuts: Outcome[] = [];
  for (const d of seq) {
    seqOuts.push(await new CustomResource(warm, fw.receiver, { stackName: 'ManyDeploymentsStack', logicalId: d.logicalId, properties: d.props }).create());
  }
  const sequentialSeconds = (Date.now() - t1) / 1000;
  const seqUploads = fw.ecr.writes().blobUploads.filter(e => e.method === 'POST').length;
  await expectAllCopied(seqOuts, seq);

  const figures = {
    invocations: N,
    image: `${LAYERS.length} layers, ${LAYERS.map(b => `${b / MiB} MiB`).join(' + ')} of random data`,
    parallelSeconds,
    sequentialSeconds,
    speedup: Number((sequentialSeconds / parallelSeconds).toFixed(2)),
    parallelPerCopySeconds: parOuts.map(o => Number(o.seconds.toFixed(2))),
    sequentialPerCopySeconds: seqOuts.map(o => Number(o.seconds.toFixed(2))),
    blobUploadsStarted: { parallel: parUploads, sequential: seqUploads },
    manifestPuts: {
      parallel,
      sequential: {
        maxInFlight: puts.max,
        maxPerRepo: Math.max(...puts.maxByKey.values()),
        manifestPuts: puts.total,
        throttled: limit.hits - throttledBefore,
      },
    },
    invocationsThatRetriedAfter429: retriedAfter429,
  };
  process.stdout.write(`\nload figures: ${JSON.stringify(figures, null, 1)}\n`);
  if (process.env.E2E_LOAD_REPORT) fs.writeFileSync(process.env.E2E_LOAD_REPORT, JSON.stringify(figures, null, 1) + '\n');

  // Same work both ways: every blob of every image uploaded once (3 blobs per image).
  expect(parUploads).toBe(N * (LAYERS.length + 1));
  expect(seqUploads).toBe(N * (LAYERS.length + 1));
  // The registry never saw more manifest PUTs at once than the copier allows per invocation,
  // per repository, and never more than one per running invocation in total.
  expect(parallel.maxPerRepo).toBeLessThanOrEqual(COPIER_MANIFEST_PUT_LIMIT);
  expect(parallel.maxInFlight).toBeLessThanOrEqual(N * COPIER_MANIFEST_PUT_LIMIT);
  expect(figures.manifestPuts.sequential.maxInFlight).toBeLessThanOrEqual(COPIER_MANIFEST_PUT_LIMIT);
  // Each throttled PUT was retried by the handler (visible in its log) and then succeeded.
  expect(parallel.manifestPuts).toBe(N);
  if (parallel.throttled > 0) expect(retriedAfter429).toBeGreaterThan(0);
  expect(fw.leaks()).toEqual([]);
});

test(`${N} deployments in parallel into ONE repository, sharing a base layer (upload and mount races): all succeed, every manifest complete`, async () => {
  // Half the sources are on the hub (the shared layer is uploaded by whichever copy gets there
  // first, the others race it), half in another repository of the destination registry itself
  // (the shared layer is mounted, racing the uploads of the same blob).
  const base = randomLayer(1 * MiB);
  const hub = fw.hubClient();
  const ecr = fw.ecrClient();
  const srcs: { src: string; image: PushedManifest }[] = [];
  for (let i = 0; i < N; i++) {
    const onHub = i % 2 === 0;
    const image = await pushImage(onHub ? hub : ecr, onHub ? `library/shared-${i}` : 'shared-src', onHub ? 'v1' : `s${i}`, { arch: 'amd64', layerSizes: [64 * KiB], baseLayers: [base] });
    srcs.push({ src: onHub ? `${fw.hub.host}/library/shared-${i}:v1` : `${ECR_HOST}/shared-src:s${i}`, image });
  }
  const [res] = await synthExample('docker-image-asset', { src: srcs[0].src, dest: `${ECR_HOST}/shared:t0` });
  const ries = fw.ries.map(r => r.rie).slice(0, N);
  while (ries.length < N) ries.push(await fw.newRie({ timeoutSeconds: TIMEOUT, name: `shared-${ries.length}` }));
  fw.ecr.markLog();
  const outs = await Promise.all(srcs.map((s, i) => fw.resource(res, p => {
    p.SrcImage = `docker://${s.src}`;
    p.DestImage = `docker://${ECR_HOST}/shared:t${i}`;
  }, ries[i]).create()));
  const log = fw.ecr.accessLog();
  const baseUploads = log.filter(e => e.method === 'PUT' && e.status === 201 && /\/v2\/shared\/blobs\/uploads\//.test(e.path) && e.path.includes(base.digest.slice(7))).length;
  const baseMounts = log.filter(e => e.method === 'POST' && e.status === 201 && /\/v2\/shared\/blobs\/uploads\/\?.*mount=/.test(e.path) && e.path.includes(base.digest.slice(7))).length;
  for (let i = 0; i < N; i++) {
    await expectCopied(outs[i], ecr, ECR_HOST, 'shared', `t${i}`, srcs[i].image.digest);
    expect(await expectNothingHalfWritten(ecr, 'shared', `t${i}`)).toBe('complete');
  }
  expect(Object.keys(await ecr.tagDigests('shared')).sort()).toEqual(srcs.map((_, i) => `t${i}`).sort());
  process.stdout.write(`\nshared-repository race: ${N} SUCCESS; the shared 1 MiB layer was uploaded ${baseUploads} time(s) and mounted ${baseMounts} time(s) into it\n`);
  // The shared layer did reach the repository, by upload or by mount, at least once.
  expect(baseUploads + baseMounts).toBeGreaterThan(0);
  expect(fw.leaks()).toEqual([]);
});
