// The copier bench: our bootstrap against upstream 4.2.65's bootstrap and skopeo, on the same
// registries, TLS, credentials and images, in one run and in alternating order. Writes
// bench/RESULTS.md. Run it through `bash bench/run.sh` (which sets up the machine and builds
// everything first).
//
// Knobs (environment): BENCH_RUNS (default 5), BENCH_COLD_RUNS (default 10), BENCH_SCALE (layer
// sizes x this; default 1), BENCH_CASES (e.g. "1,2,5"; default all; "9" alone runs only the
// same-registry case and needs no upstream handler), BENCH_PROFILE=0 (skip the
// pprof runs), BENCH_RESULTS (output file; default bench/RESULTS.md for a full run, else
// bench/out/RESULTS.partial.md), BENCH_LOG_LEVEL (handlers' LOG_LEVEL). `--render` rewrites RESULTS.md from
// bench/out/results.json without running anything. BENCH_BASE (a git revision; run.sh builds ours
// at that revision into bench/out/bin/bootstrap-base) adds that build as the copier `base`, in the
// same rotation, so a change of ours is measured against its own before in one run.
// BENCH_CONDITIONS (default "loopback"; "loopback,lambda-cpu,lambda" for the full matrix): the conditions
// of bench/conditions.ts. Under `lambda` every copier is held to 0.29 vCPU and reaches the
// registries and S3 through toxiproxy (15 ms each way, 40 MB/s per connection); only cases 1, 2,
// 3, 5 and 10 run there (no floor, no profiles); `lambda-cpu` is the cap alone, over loopback.
// BENCH_PEERS=0 leaves out crane and regctl.
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { BANDWIDTH_KBPS, CONDITIONS, ConditionName, CPU_PERIOD_US, CPU_QUOTA_US, CpuCap, LATENCY_MS, makeCpuCap, probeBandwidth, probeRoundTrips, Toxiproxy } from './conditions';
import { BENCH_DIR, COPIERS, CopierName, ExecResult, Job, LambdaResult, measure, OUT, procCpu, REGISTRY_ONLY_PEERS, Sample, sleep, tool, World } from './measure';
import { ColdSample, Meta, ProfileSummary, render, renderSameRegistry } from './report';
import { startStaticS3 } from './static-s3';
import { addTraffic, logOffset, noTraffic } from './traffic';
import { pushIndex, PushedManifest } from '../test/e2e/harness/images';
import { DUMMY_AWS, Moto } from '../test/e2e/harness/moto';
import { makePki } from '../test/e2e/harness/pki';
import { REPO_ROOT } from '../test/e2e/harness/proc';
import { Registry } from '../test/e2e/harness/registry';
import { RegistryClient } from '../test/e2e/harness/registry-client';
import { UPSTREAM_VERSION } from '../test/upstream';

const MiB = 1024 * 1024;
const KiB = 1024;

const cfg = {
  runs: Number(process.env.BENCH_RUNS ?? 5),
  coldRuns: Number(process.env.BENCH_COLD_RUNS ?? 10),
  scale: Number(process.env.BENCH_SCALE ?? 1),
  cases: (process.env.BENCH_CASES ?? '1,2,3,4,5,6,7,8,9,10').split(',').map(s => s.trim()),
  profile: process.env.BENCH_PROFILE !== '0',
  conditions: (process.env.BENCH_CONDITIONS ?? 'loopback').split(',').map(s => s.trim()) as ConditionName[],
  peers: process.env.BENCH_PEERS !== '0',
};
for (const c of cfg.conditions) {
  if (!CONDITIONS.includes(c)) throw new Error(`BENCH_CONDITIONS: unknown condition ${c} (known: ${CONDITIONS.join(', ')})`);
}
/** The cases that run under the lambda and lambda-cpu conditions. */
const LAMBDA_CASES = ['1', '2', '3', '5', '10'];
/** A full run has cases 1 to 8 (case 9 was added later; runs without it stay full). */
const isFull = (c: { scale: number; cases: string[]; runs: number }) =>
  c.scale === 1 && c.runs >= 3 && ['1', '2', '3', '4', '5', '6', '7', '8'].every(k => c.cases.includes(k));
// A run against BENCH_BASE answers one question about one change: it never replaces the reference figures.
const fullRun = isFull(cfg) && !process.env.BENCH_BASE;
/** Every case but 9 measures upstream's handler. */
const needsUpstream = cfg.cases.some(c => c !== '9');
const resultsFile = process.env.BENCH_RESULTS ?? (fullRun ? path.join(BENCH_DIR, 'RESULTS.md') : path.join(OUT, 'RESULTS.partial.md'));

const WORLD = path.join(OUT, 'world');
const IMAGES = path.join(OUT, 'images');
const PPROF = path.join(OUT, 'pprof');
const UPSTREAM_DIR = path.join(REPO_ROOT, '.tools', `upstream-${UPSTREAM_VERSION}`);
const UPSTREAM_BIN = path.join(UPSTREAM_DIR, 'package', 'lambda-bin', 'bootstrap');
const OUR_BIN = path.join(REPO_ROOT, 'lambda-bin', 'amd64', 'bootstrap');
/**
 * The commit our handler was built from, read when the bench starts (run.sh builds it just
 * before): an edit made while the bench runs must not be reported as part of what it measured.
 */
const OUR_REV = {
  rev: sh('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD']),
  dirty: sh('git', ['-C', REPO_ROOT, 'status', '--porcelain', '--', 'lambda']) !== '',
};
const PPROF_BIN = path.join(OUT, 'bin', 'bootstrap-pprof');
const BASE_REV = process.env.BENCH_BASE;
const BASE_BIN = BASE_REV ? path.join(OUT, 'bin', 'bootstrap-base') : undefined;
/** Every copier of this run: with BENCH_BASE, ours at that revision too. */
const RUN_COPIERS: CopierName[] = BASE_BIN ? [...COPIERS, 'base'] : COPIERS;
/** The handlers (bootstraps) of this run. */
const HANDLERS: CopierName[] = BASE_BIN ? ['ours', 'base', 'upstream'] : ['ours', 'upstream'];
/** The copiers of the registry cases: with BENCH_PEERS (default), crane and regctl too. */
const REGISTRY_COPIERS: CopierName[] = cfg.peers ? [...RUN_COPIERS, ...REGISTRY_ONLY_PEERS] : RUN_COPIERS;
const TOOLS_BIN = path.join(REPO_ROOT, '.tools', 'bin');
const CRANE_BIN = path.join(TOOLS_BIN, 'crane');
const REGCTL_BIN = path.join(TOOLS_BIN, 'regctl');
const TOXIPROXY_BIN = path.join(TOOLS_BIN, 'toxiproxy-server');

const sz = (n: number) => Math.max(4 * KiB, Math.round(n * cfg.scale));
const want = (c: string) => cfg.cases.includes(c);

/** CPU seconds of this process (it serves the static S3). */
function nodeCpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function log(msg: string): void {
  process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** The copiers in the order of run r: each copier goes first, second and third in turn. */
function rotate<T>(xs: T[], r: number): T[] {
  const k = r % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

interface Image {
  digest: string;
  size: number;
  mediaType: string;
  arch: string;
  configDigest: string;
  blobBytes: number;
  layers: { digest: string; size: number }[];
  savePath?: string;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  for (const d of [path.join(OUT, 'logs'), PPROF]) {
    fs.rmSync(d, { recursive: true, force: true });
    fs.mkdirSync(d, { recursive: true });
  }
  fs.rmSync(WORLD, { recursive: true, force: true });
  fs.mkdirSync(path.join(WORLD, 'home'), { recursive: true });
  for (const f of [OUR_BIN, ...(BASE_BIN ? [BASE_BIN] : []), ...(needsUpstream ? [UPSTREAM_BIN] : []), path.join(OUT, 'bin', 'benchtool'),
    ...(cfg.peers ? [CRANE_BIN, REGCTL_BIN] : []), ...(cfg.conditions.includes('lambda') ? [TOXIPROXY_BIN] : [])]) {
    if (!fs.existsSync(f)) throw new Error(`${f} is missing: run bench/run.sh`);
  }
  const loadStart = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  // Generated layers (tar and gzip), the archives, both registries' storage and moto's copy of
  // the archives: about 8 GB at scale 1. A registry that runs out of disk answers 500 to blob
  // uploads, which reads as a copier failure; refuse to start instead.
  const st = fs.statfsSync(OUT);
  const freeGB = (st.bavail * st.bsize) / 1e9;
  const needGB = 8 * cfg.scale + 0.5;
  if (freeGB < needGB) throw new Error(`${OUT} has ${freeGB.toFixed(1)} GB free; this run needs about ${needGB.toFixed(1)} GB`);

  log('starting the registries');
  const pki = await makePki(path.join(WORLD, 'pki'));
  const user = 'AWS';
  const password = `bench-${crypto.randomBytes(12).toString('hex')}`;
  const src = new Registry('src', path.join(WORLD, 'src'), pki, { kind: 'htpasswd', users: { [user]: password } });
  const dst = new Registry('dst', path.join(WORLD, 'dst'), pki, { kind: 'htpasswd', users: { [user]: password } });
  const moto = new Moto(WORLD);
  const archives = want('5') || want('10');
  await Promise.all([src.start(), dst.start(), archives ? moto.start() : Promise.resolve()]);
  const staticS3 = archives ? await startStaticS3(path.join(WORLD, 's3')) : undefined;
  /** Whether the S3 source of the copy being measured is moto (else the static S3 in this process). */
  let s3IsMoto = true;

  const w: World = {
    src,
    dst,
    s3Cpu: () => s3IsMoto ? procCpu(moto.pid) : nodeCpu(),
    creds: `${user}:${password}`,
    caCert: pki.caCert,
    certDir: pki.certDir,
    awsEnv: { ...DUMMY_AWS, AWS_DEFAULT_REGION: DUMMY_AWS.AWS_REGION, AWS_ENDPOINT_URL: moto.endpoint },
    ourBin: OUR_BIN,
    baseBin: BASE_BIN,
    upstreamBin: UPSTREAM_BIN,
    home: path.join(WORLD, 'home'),
    user,
    password,
    ...(cfg.peers ? { craneBin: CRANE_BIN, regctlBin: REGCTL_BIN, craneHome: path.join(WORLD, 'home-crane'), regctlHome: path.join(WORLD, 'home-regctl') } : {}),
  };
  /** crane's and regctl's scratch HOMEs: credentials (both) and the CA (regctl) for host. */
  const peerLogin = (host: string) => {
    if (!cfg.peers) return;
    for (const d of [w.craneHome!, w.regctlHome!]) fs.mkdirSync(d, { recursive: true });
    const runIn = (home: string, argv: string[], env: Record<string, string> = {}) =>
      execFileSync(argv[0], argv.slice(1), { env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: home, ...env }, input: password, stdio: ['pipe', 'pipe', 'pipe'] });
    runIn(w.craneHome!, [CRANE_BIN, 'auth', 'login', host, '-u', user, '--password-stdin'], { SSL_CERT_FILE: pki.caCert });
    // The CA first (unchecked: the registry wants credentials), then the login, which checks both.
    runIn(w.regctlHome!, [REGCTL_BIN, 'registry', 'set', '--skip-check', '--cacert', fs.readFileSync(pki.caCert, 'utf8'), host]);
    runIn(w.regctlHome!, [REGCTL_BIN, 'registry', 'login', host, '-u', user, '--pass-stdin']);
  };
  let toxiproxy: Toxiproxy | undefined;
  let cpuCap: CpuCap | undefined;
  const srcClient = new RegistryClient(src.host, pki.caCert, { user, password });
  const dstClient = new RegistryClient(dst.host, pki.caCert, { user, password });
  const samples: Sample[] = [];
  const cold: ColdSample[] = [];
  const profiles: ProfileSummary[] = [];
  const notes: string[] = [];

  const pushImage = async (repo: string, tag: string | undefined, arch: string, layers: number[], seed: number, save?: string): Promise<Image> => {
    return tool<Image>('image', {
      cache: IMAGES,
      arch,
      layers,
      seed,
      push: { registry: src.host, repo, tag: tag ?? '', user, password, ca: pki.caCert },
      ...(save ? { save: { path: save, repoTag: `${repo}:${tag}` } } : {}),
    });
  };

  try {
    // ---- images -------------------------------------------------------------------------
    log(`generating and pushing test images (scale ${cfg.scale})`);
    const threeLayers = [sz(200 * MiB), sz(50 * MiB), sz(1 * MiB)];
    const img3 = await pushImage('bench/img3', 'v1', 'amd64', threeLayers, 1,
      want('5') ? path.join(IMAGES, `img3-${cfg.scale}.tar`) : undefined);
    let amd64: Image | undefined; let arm64: Image | undefined; let indexDigest = '';
    if (want('3') || want('4')) {
      amd64 = await pushImage('bench/multi', undefined, 'amd64', threeLayers, 2);
      arm64 = await pushImage('bench/multi', undefined, 'arm64', threeLayers, 3);
      const idx = await pushIndex(srcClient, 'bench/multi', 'v1', [amd64, arm64].map(i => ({ ...i } as PushedManifest)), { format: 'docker' });
      indexDigest = idx.digest;
    }
    const big = want('6') ? await pushImage('bench/big', 'v1', 'amd64', [sz(1024 * MiB)], 4) : undefined;
    const many = want('7') ? await pushImage('bench/many', 'v1', 'amd64', Array.from({ length: 20 }, () => sz(256 * KiB)), 5) : undefined;
    // Case 10: case 1's image (same layers) as `docker save` of Docker 25+ writes it.
    const docker25 = want('10') ? (await tool<Image & { docker25: { path: string; indexDigest: string; imageDigest: string } }>('image', {
      cache: IMAGES,
      arch: 'amd64',
      layers: threeLayers,
      seed: 1,
      saveDocker25: { path: path.join(IMAGES, `img3-docker25-${cfg.scale}.tar`), repoTag: 'bench/img3:v1' },
    })).docker25 : undefined;
    if (archives) fs.mkdirSync(path.join(WORLD, 's3', 'bench'), { recursive: true });
    if (want('5')) {
      log('uploading the docker-save archive to moto S3 and the static S3');
      await moto.putObject('bench', 'img3.tar', fs.readFileSync(img3.savePath!));
      fs.linkSync(img3.savePath!, path.join(WORLD, 's3', 'bench', 'img3.tar'));
    }
    if (docker25) {
      log('uploading the Docker 25 archive to moto S3 and the static S3');
      await moto.putObject('bench', 'img3-docker25.tar', fs.readFileSync(docker25.path));
      fs.linkSync(docker25.path, path.join(WORLD, 's3', 'bench', 'img3-docker25.tar'));
    }

    const verify = async (s: Sample, repo: string, check: (m: { digest: string; json: any }) => string | undefined, client = dstClient) => {
      if (!s.ok) return;
      try {
        const m = await client.getManifest(repo, 'latest');
        s.digest = m.digest;
        const err = check(m);
        if (err) { s.ok = false; s.error = err; }
      } catch (e: any) {
        s.ok = false; s.error = `verify: ${e.message ?? e}`;
      }
    };
    const digestIs = (d: string) => (m: { digest: string }) => m.digest === d ? undefined : `destination digest ${m.digest}, want ${d}`;
    const configIs = (d: string) => (m: { json: any }) => m.json?.config?.digest === d ? undefined : `destination config ${m.json?.config?.digest}, want ${d}`;

    let condition: ConditionName = 'loopback';
    const record = (s: Sample) => {
      s.condition = condition;
      samples.push(s);
      const req = Object.entries(s.requests).map(([k, v]) => `${k} ${v}`).join(', ');
      log(`  ${condition} case ${s.case} ${s.copier.padEnd(8)} run ${s.run}: ${s.ok ? 'ok' : 'FAILED'} ${(s.wallMs / 1000).toFixed(3)} s, ` +
        `${s.cpuSec.toFixed(2)} CPU-s (${(s.cpuSec / (s.wallMs / 1000)).toFixed(2)} of a core), ${(s.maxRssKiB / 1024).toFixed(1)} MiB, tmp ${s.tmpBytes} B, dest [${req}]` +
        `${s.traffic ? `, blob bytes read ${s.traffic.read} written ${s.traffic.written}, mounts ${s.traffic.mounts}` : ''}${s.error ? ` ${s.error}` : ''}`);
    };

    /** Fresh copies (destination wiped first), each optionally followed by a re-run into the same tag. */
    const freshRuns = async (caseId: string, rerunId: string | undefined, job: Job, repo: string,
      check: (m: { digest: string; json: any }) => string | undefined, copiers: CopierName[] = RUN_COPIERS, timeoutSec?: number, floor = false) => {
      for (let r = 0; r < cfg.runs; r++) {
        // The floor (a reference, not a copier) takes its turn in the rotation too.
        for (const copier of rotate([...copiers, ...(floor ? ['floor' as CopierName] : [])], r)) {
          await dst.wipe();
          const s = await measure(w, caseId, copier, r, job, { timeoutSec, logName: `${condition}-${caseId}-${copier}-${r}` });
          await verify(s, repo, check);
          record(s);
          if (rerunId && s.ok && copier !== 'floor') {
            const s2 = await measure(w, rerunId, copier, r, job, { requestType: 'Update', physicalId: s.physicalId, logName: `${condition}-${rerunId}-${copier}-${r}` });
            await verify(s2, repo, check);
            record(s2);
          }
        }
      }
    };

    /** One profiled run of our copier (not part of the figures). */
    const profileRun = async (caseId: string, job: Job, rerun = false) => {
      if (!cfg.profile || condition !== 'loopback') return;
      const dir = path.join(PPROF, `case${caseId}`);
      fs.mkdirSync(dir, { recursive: true });
      await dst.wipe();
      if (rerun) await measure(w, caseId, 'ours', 0, job, { logName: `case${caseId}-pprof-setup` });
      const s = await measure(w, caseId, 'ours', 0, job, {
        requestType: rerun ? 'Update' : 'Create', pprofDir: dir, logName: `case${caseId}-pprof`, bin: PPROF_BIN,
      });
      if (!s.ok) { notes.push(`profiling run of case ${caseId} failed: ${s.error}`); return; }
      profiles.push(summarizeProfile(caseId, dir, s));
    };

    // ---- cases, once per condition ---------------------------------------------------------
    const destRepo = (c: string) => `bench/case${c}`;
    for (condition of cfg.conditions) {
      // What the copiers are pointed at: the services themselves, or toxiproxy in front of them.
      let SRC = src.host;
      let DST = dst.host;
      let MOTO = moto.endpoint;
      let STATIC = staticS3?.endpoint;
      // lambda-cpu: the CPU cap alone (loopback network), the condition issue 13's archive
      // target is stated in; lambda: the cap and the WAN link.
      const capped = condition === 'lambda' || condition === 'lambda-cpu';
      const wan = condition === 'lambda';
      const lambda = capped;
      const inCase = (c: string) => want(c) && (!lambda || LAMBDA_CASES.includes(c));
      if (capped) {
        cpuCap = makeCpuCap();
        w.cgroupProcs = cpuCap.procs;
        log(`condition ${condition}: copiers held to ${CPU_QUOTA_US / CPU_PERIOD_US} vCPU (${cpuCap.kind})` +
          `${wan ? `, every connection through toxiproxy (${LATENCY_MS} ms each way, ${BANDWIDTH_KBPS} KB/s per connection)` : ', registries over loopback'}`);
        notes.push(`${condition}: CPU cap by ${cpuCap.kind} (quota ${CPU_QUOTA_US} µs per ${CPU_PERIOD_US} µs period)`);
        await checkCpuCap(cpuCap, condition, notes);
      } else {
        log('condition loopback: copiers on all cores, registries over loopback');
        w.cgroupProcs = undefined;
      }
      if (wan) {
        toxiproxy = new Toxiproxy(TOXIPROXY_BIN, path.join(WORLD, 'toxiproxy.log'));
        await toxiproxy.start();
        SRC = `127.0.0.1:${await toxiproxy.proxy('src', src.port)}`;
        DST = `127.0.0.1:${await toxiproxy.proxy('dst', dst.port)}`;
        if (archives) {
          MOTO = `http://127.0.0.1:${await toxiproxy.proxy('moto', Number(new URL(moto.endpoint).port))}`;
          STATIC = `http://127.0.0.1:${await toxiproxy.proxy('static-s3', Number(new URL(staticS3!.endpoint).port))}`;
        }
        notes.push(`${condition}: toxiproxy src: ${await toxiproxy.describe('src')}`);
        await checkWan(SRC, src.host, pki.caCert, img3.layers[0], user, password, condition, notes);
      }
      peerLogin(SRC);
      peerLogin(DST);
      w.awsEnv.AWS_ENDPOINT_URL = MOTO;
      s3IsMoto = true;
      const jobTo = (c: string, j: Omit<Job, 'dest'>): Job => ({ ...j, dest: `${DST}/${destRepo(c)}:latest` });
      const cpuStat0 = cpuCap?.stat();

      if (inCase('1') || inCase('2')) {
        log('case 1 (fresh 3-layer copy) and case 2 (re-run into the same tag)');
        const job = jobTo('1', { src: `docker://${SRC}/bench/img3:v1` });
        await freshRuns('1', inCase('2') ? '2' : undefined, job, destRepo('1'), digestIs(img3.digest), REGISTRY_COPIERS, undefined, !lambda);
        if (inCase('1')) await profileRun('1', job);
        if (inCase('2')) await profileRun('2', job, true);
      }
      if (inCase('3')) {
        log('case 3 (two-arch index, CopyImageIndex: fresh, then re-run)');
        const job = jobTo('3', { src: `docker://${SRC}/bench/multi:v1`, copyImageIndex: true });
        await freshRuns('3', '3r', job, destRepo('3'), digestIs(indexDigest), REGISTRY_COPIERS, undefined, !lambda);
        await profileRun('3', job);
      }
      if (inCase('4')) {
        log('case 4 (imageArch arm64 out of the index)');
        const job = jobTo('4', { src: `docker://${SRC}/bench/multi:v1`, imageArch: 'arm64' });
        await freshRuns('4', undefined, job, destRepo('4'), digestIs(arm64!.digest), REGISTRY_COPIERS);
        await profileRun('4', job);
      }
      if (inCase('5')) {
        log('case 5 (S3 docker-save archive; skopeo reads the same archive as a local file)');
        const job = jobTo('5', { src: 's3://bench/img3.tar', skopeoSrc: `docker-archive:${img3.savePath}` });
        await freshRuns('5', undefined, job, destRepo('5'), configIs(img3.configDigest), RUN_COPIERS, 600);
        await profileRun('5', job);
        // The same archive from the bench's own S3 stand-in (ranged GETs served from a file), to
        // tell moto's cost from ours.
        w.awsEnv.AWS_ENDPOINT_URL = STATIC!;
        s3IsMoto = false;
        await freshRuns('5s', undefined, job, destRepo('5'), configIs(img3.configDigest), HANDLERS, 600);
        await profileRun('5s', job);
        w.awsEnv.AWS_ENDPOINT_URL = MOTO;
        s3IsMoto = true;
      }
      if (inCase('10')) {
        // The digest check is the point: a copy that rewrites the archive's manifests (as the
        // handler did before it read OCI layouts) fails here, and the report says so.
        log('case 10 (S3 Docker 25 archive: OCI layout + manifest.json, index + attestation; CopyImageIndex; skopeo: oci-archive: of the same file)');
        const job = jobTo('10', { src: 's3://bench/img3-docker25.tar', copyImageIndex: true, skopeoSrc: `oci-archive:${docker25!.path}` });
        await freshRuns('10', undefined, job, destRepo('10'), digestIs(docker25!.indexDigest), RUN_COPIERS, 600);
        await profileRun('10', job);
        // The same archive from the static S3 (as case 5s): ours only, the figure without
        // moto's cost per ranged GET.
        w.awsEnv.AWS_ENDPOINT_URL = STATIC!;
        s3IsMoto = false;
        await freshRuns('10s', undefined, job, destRepo('10'), digestIs(docker25!.indexDigest), ['ours'], 600);
        w.awsEnv.AWS_ENDPOINT_URL = MOTO;
        s3IsMoto = true;
      }
      if (inCase('6')) {
        log('case 6 (one 1 GiB layer)');
        const job = jobTo('6', { src: `docker://${SRC}/bench/big:v1` });
        await freshRuns('6', undefined, job, destRepo('6'), digestIs(big!.digest), RUN_COPIERS, undefined, true);
        await profileRun('6', job);
      }
      if (inCase('7')) {
        log('case 7 (20 small layers)');
        const job = jobTo('7', { src: `docker://${SRC}/bench/many:v1` });
        await freshRuns('7', undefined, job, destRepo('7'), digestIs(many!.digest), RUN_COPIERS, undefined, true);
        await profileRun('7', job);
      }
      if (inCase('9')) {
        log('case 9 (same registry, another repository), interleaved with the same copy across registries');
        const m = await srcClient.getManifest('bench/img3', 'v1');
        const sizes: Record<string, number> = { [m.json.config.digest]: m.json.config.size };
        for (const l of m.json.layers) sizes[l.digest] = l.size;
        const logs = [path.join(WORLD, 'src', 'registry.log'), path.join(WORLD, 'dst', 'registry.log')];
        const sameRepo = 'bench/case9';
        const same: Job = { src: `docker://${src.host}/bench/img3:v1`, dest: `${src.host}/${sameRepo}:latest` };
        const across = jobTo('9x', { src: `docker://${src.host}/bench/img3:v1` });
        // measure() counts requests and CPU at w.dst: for the same-registry copy that is the source.
        const sameWorld: World = { ...w, dst: src };
        const order: { caseId: '9' | '9x'; copier: CopierName }[] = [
          { caseId: '9', copier: 'ours' }, { caseId: '9', copier: 'skopeo' }, { caseId: '9x', copier: 'ours' }, { caseId: '9x', copier: 'skopeo' },
        ];
        for (let r = 0; r < cfg.runs; r++) {
          for (const o of rotate(order, r)) {
            if (o.caseId === '9') {
              // A fresh destination repository; the blobs stay (they are bench/img3's).
              fs.rmSync(path.join(WORLD, 'src', 'storage', 'docker', 'registry', 'v2', 'repositories', ...sameRepo.split('/')), { recursive: true, force: true });
              await src.restart();
            } else {
              await dst.wipe();
            }
            const offsets = logs.map(logOffset);
            const s = await measure(o.caseId === '9' ? sameWorld : w, o.caseId, o.copier, r, o.caseId === '9' ? same : across);
            s.traffic = noTraffic();
            logs.forEach((f, i) => addTraffic(s.traffic!, f, offsets[i], sizes));
            await verify(s, o.caseId === '9' ? sameRepo : destRepo('9x'), digestIs(img3.digest), o.caseId === '9' ? srcClient : dstClient);
            record(s);
          }
        }
        const section = renderSameRegistry({ cfg, samples: samples.filter(x => x.case === '9' || x.case === '9x') });
        fs.writeFileSync(path.join(OUT, 'case9.md'), [...section, '',
          `Measured on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with \`BENCH_CASES=${cfg.cases.join(',')} BENCH_RUNS=${cfg.runs} bash bench/run.sh\`` +
          ` (load average ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}).`, ''].join('\n'));
      }
      if (inCase('8')) {
        log(`case 8 (cold init: exec to first Runtime API poll, ${cfg.coldRuns} runs each)`);
        for (let r = 0; r < cfg.coldRuns; r++) {
          for (const copier of rotate<CopierName>(HANDLERS, r)) {
            const res = await tool<LambdaResult>('lambda', {
              bin: copier === 'ours' ? OUR_BIN : copier === 'base' ? BASE_BIN! : UPSTREAM_BIN,
              env: { SSL_CERT_FILE: pki.caCert, ...w.awsEnv },
              event: {},
              cold: true,
              sandbox: false,
              log: path.join(OUT, 'logs', `8-${copier}-${r}.log`),
            });
            cold.push({ copier, run: r, initMs: res.execToPollMs, maxRssKiB: res.maxRssKiB, cpuSec: res.cpuSec });
            await sleep(50);
          }
        }
      }
      if (cpuCap) {
        const cpuStat = cpuCap.stat();
        const d = (k: string) => (cpuStat[k] ?? 0) - (cpuStat0?.[k] ?? 0);
        notes.push(`${condition}: the CPU cgroup was throttled in ${d('nr_throttled')} of ${d('nr_periods')} periods ` +
          `(${((d('throttled_time') || d('throttled_usec') * 1000) / 1e9).toFixed(1)} s throttled in all)`);
        w.cgroupProcs = undefined;
        cpuCap.remove();
        cpuCap = undefined;
      }
      if (toxiproxy) {
        await toxiproxy.stop();
        toxiproxy = undefined;
      }
    }

    // A shared machine's disk can fill up mid-run: the registry then answers 500 to uploads.
    for (const r of [src, dst]) {
      const full = (fs.readFileSync(path.join(WORLD, r.name, 'registry.log'), 'utf8').match(/no space left on device/g) ?? []).length;
      if (full) {
        notes.push(`registry ${r.name} ran out of disk ${full} times in this run ("no space left on device" in its log): ` +
          'copier failures with HTTP 500 on uploads are the disk\'s, not the copier\'s; run again with more free disk');
        log(`registry ${r.name} ran out of disk ${full} times (see the notes)`);
      }
    }
    const meta = collectMeta(loadStart, (Date.now() - t0) / 1000, notes);
    // A partial run keeps its samples apart: `--render` re-renders RESULTS.md from the full run's.
    fs.writeFileSync(path.join(OUT, fullRun ? 'results.json' : 'results.partial.json'), JSON.stringify({ cfg, meta, samples, cold, profiles }, null, 2));
    fs.writeFileSync(resultsFile, render({ cfg, meta, samples, cold, profiles, fullRun }));
    log(`wrote ${path.relative(REPO_ROOT, resultsFile)} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    const failed = samples.filter(s => !s.ok);
    if (failed.length) {
      log(`${failed.length} runs failed`);
      process.exitCode = 1;
    }
  } finally {
    await Promise.allSettled([src.stop(), dst.stop(), moto.stop(), staticS3?.close(), toxiproxy?.stop()]);
    cpuCap?.remove();
  }
}

/**
 * Proves the CPU cap is in force before measuring under it, and fails the run if not: a
 * CPU-bound shell loop launched the way copiers are (joining the cgroup before exec) must use at
 * most the quota (+10%) in CPU-s per wall second, and the cgroup must have throttled it.
 */
async function checkCpuCap(cap: CpuCap, condition: string, notes: string[]): Promise<void> {
  const burn = ['sh', '-c', 'i=0; while [ $i -lt 1000000 ]; do i=$((i+1)); done'];
  const probe = (cgroupProcs: string, name: string) => tool<ExecResult>('exec', {
    argv: burn, env: { PATH: '/usr/bin:/bin' }, sandbox: true, masks: [], cgroupProcs, log: path.join(OUT, 'logs', `${condition}-${name}.log`), timeoutSec: 120,
  });
  const stat0 = cap.stat();
  const capped = await probe(cap.procs, 'cpu-probe');
  const throttled = cap.stat().nr_throttled - stat0.nr_throttled;
  const free = await probe('', 'free-cpu-probe');
  const share = capped.cpuSec / (capped.wallMs / 1000);
  const freeShare = free.cpuSec / (free.wallMs / 1000);
  const note = `CPU probe (a shell loop): in the cgroup ${capped.cpuSec.toFixed(2)} CPU-s in ${(capped.wallMs / 1000).toFixed(2)} s = ` +
    `${share.toFixed(3)} CPU-s per second, throttled in ${throttled} periods; outside it ${free.cpuSec.toFixed(2)} CPU-s in ${(free.wallMs / 1000).toFixed(2)} s = ${freeShare.toFixed(3)}`;
  log(`  ${note}`);
  if (!(share <= (CPU_QUOTA_US / CPU_PERIOD_US) * 1.1) || throttled === 0) throw new Error(`the CPU cap does not hold: ${note}`);
  notes.push(`${condition}: ${note}`);
}

/**
 * Proves the WAN link is in the path, and fails the run if not: a fresh TLS request through the
 * source registry's proxy must take at least one added round trip (2 x 15 ms) more than direct,
 * and one blob GET through it must not beat the per-connection cap (+10%).
 */
async function checkWan(proxied: string, direct: string, ca: string, layer: { digest: string; size: number },
  user: string, password: string, condition: string, notes: string[]): Promise<void> {
  const viaProxy = await probeRoundTrips(proxied, ca);
  const straight = await probeRoundTrips(direct, ca);
  const rttNote = `latency probe (fresh TLS connection + GET /v2/, median of 5): through toxiproxy ${viaProxy.toFixed(1)} ms, direct ${straight.toFixed(1)} ms ` +
    `(+${(viaProxy - straight).toFixed(1)} ms; ${2 * LATENCY_MS} ms per round trip)`;
  log(`  ${rttNote}`);
  if (viaProxy - straight < 2 * LATENCY_MS) throw new Error(`the latency toxic is not in the path: ${rttNote}`);
  // The largest layer of case 1's image, read once through the proxy and once directly.
  const bwProxy = await probeBandwidth(proxied, ca, 'bench/img3', layer.digest, layer.size, user, password);
  const bwDirect = await probeBandwidth(direct, ca, 'bench/img3', layer.digest, layer.size, user, password);
  const bwNote = `bandwidth probe (one ${(layer.size / 1e6).toFixed(1)} MB blob GET, one connection): through toxiproxy ${bwProxy.toFixed(1)} MB/s, ` +
    `direct ${bwDirect.toFixed(1)} MB/s (cap ${BANDWIDTH_KBPS / 1000} MB/s per connection)`;
  log(`  ${bwNote}`);
  if (bwProxy > (BANDWIDTH_KBPS / 1000) * 1.1) throw new Error(`the bandwidth toxic does not hold: ${bwNote}`);
  notes.push(`${condition}: ${rttNote}`, `${condition}: ${bwNote}`);
}

/** CPU and allocation top lists of one profiled run, via `go tool pprof`. */
function summarizeProfile(caseId: string, dir: string, s: Sample): ProfileSummary {
  const pprof = (args: string[]) => execFileSync('go', ['tool', 'pprof', ...args], {
    cwd: path.join(REPO_ROOT, 'lambda'), env: { ...process.env, GOTOOLCHAIN: 'auto' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  });
  const cpu = pprof(['-top', '-nodecount=10', PPROF_BIN, path.join(dir, 'cpu.pprof')]);
  const cpuCum = pprof(['-top', '-cum', '-nodecount=20', PPROF_BIN, path.join(dir, 'cpu.pprof')]);
  const alloc = pprof(['-top', '-sample_index=alloc_space', '-nodecount=8', PPROF_BIN, path.join(dir, 'heap.pprof')]);
  fs.writeFileSync(path.join(dir, 'cpu.txt'), cpu + '\n' + cpuCum);
  fs.writeFileSync(path.join(dir, 'alloc.txt'), alloc);
  return { caseId, dir: path.relative(REPO_ROOT, dir), wallMs: s.wallMs, cpuSec: s.cpuSec, cpuTop: cpu, cpuCum, allocTop: alloc };
}

function sh(cmd: string, args: string[]): string {
  try { return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim(); } catch { return 'unknown'; }
}

/** The main module and its version of a go-installed binary, and the Go release that built it. */
function modVersion(bin: string): string {
  const info = sh('go', ['version', '-m', bin]);
  const mod = /^\s+mod\s+(\S+)\s+(\S+)/m.exec(info);
  const go = /: (go\S+)/.exec(info)?.[1] ?? 'unknown';
  return mod ? `${mod[1]} ${mod[2]} (go install), ${go}` : 'unknown';
}

function collectMeta(loadStart: string, seconds: number, notes: string[]): Meta {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? 'unknown';
  const cores = (cpuinfo.match(/^processor\s*:/gm) ?? []).length;
  const memKiB = Number(/MemTotal:\s*(\d+)/.exec(fs.readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
  const osRelease = /PRETTY_NAME="([^"]*)"/.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'unknown';
  const goOf = (bin: string) => /: (go\S+)/.exec(sh('go', ['version', bin]))?.[1] ?? 'unknown';
  const { rev, dirty } = OUR_REV;
  const size = (f: string) => fs.existsSync(f) ? fs.statSync(f).size : 0;
  return {
    date: new Date().toISOString(),
    seconds,
    machine: { model, cores, memGiB: memKiB / 1024 / 1024, kernel: sh('uname', ['-r']), os: osRelease, loadStart, loadEnd: fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') },
    versions: {
      ours: `${rev}${dirty ? ' + uncommitted lambda/ changes' : ''}, ${goOf(OUR_BIN)}`,
      ...(BASE_BIN ? { base: `ours at ${sh('git', ['-C', REPO_ROOT, 'rev-parse', '--short', BASE_REV!])} (BENCH_BASE=${BASE_REV}), ${goOf(BASE_BIN)}` } : {}),
      upstream: `cdk-ecr-deployment@${UPSTREAM_VERSION} (npm), ${goOf(UPSTREAM_BIN)}`,
      skopeo: sh('skopeo', ['--version']).replace(/^skopeo version /, ''),
      ...(cfg.peers ? { crane: `${modVersion(CRANE_BIN)}`, regctl: `${modVersion(REGCTL_BIN)}` } : {}),
      ...(cfg.conditions.includes('lambda') ? { toxiproxy: modVersion(TOXIPROXY_BIN) } : {}),
      registry: sh('docker-registry', ['--version']).split(' ').slice(-1)[0],
      moto: sh(path.join(REPO_ROOT, '.venv', 'bin', 'python'), ['-c', 'import moto; print(moto.__version__)']),
      node: process.version,
    },
    sizes: {
      oursAmd64: size(OUR_BIN),
      oursArm64: size(path.join(REPO_ROOT, 'lambda-bin', 'arm64', 'bootstrap')),
      upstream: size(UPSTREAM_BIN),
    },
    notes,
  };
}

/** `--render`: writes RESULTS.md again from bench/out/results.json (after editing ANALYSIS.md), without running anything. */
function renderOnly(): void {
  const saved = JSON.parse(fs.readFileSync(path.join(OUT, 'results.json'), 'utf8'));
  const full = isFull(saved.cfg);
  const file = process.env.BENCH_RESULTS ?? (full ? path.join(BENCH_DIR, 'RESULTS.md') : path.join(OUT, 'RESULTS.partial.md'));
  fs.writeFileSync(file, render({ ...saved, fullRun: full }));
  log(`rendered ${path.relative(REPO_ROOT, file)} from bench/out/results.json`);
}

if (process.argv.includes('--render')) {
  renderOnly();
} else {
  main().catch(e => {
    process.stderr.write(`bench failed: ${e.stack ?? e}\n`);
    process.exit(1);
  });
}
