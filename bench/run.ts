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
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { BENCH_DIR, COPIERS, CopierName, Job, LambdaResult, measure, OUT, procCpu, Sample, sleep, tool, World } from './measure';
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
  cases: (process.env.BENCH_CASES ?? '1,2,3,4,5,6,7,8,9').split(',').map(s => s.trim()),
  profile: process.env.BENCH_PROFILE !== '0',
};
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
const PPROF_BIN = path.join(OUT, 'bin', 'bootstrap-pprof');
const BASE_REV = process.env.BENCH_BASE;
const BASE_BIN = BASE_REV ? path.join(OUT, 'bin', 'bootstrap-base') : undefined;
/** Every copier of this run: with BENCH_BASE, ours at that revision too. */
const RUN_COPIERS: CopierName[] = BASE_BIN ? [...COPIERS, 'base'] : COPIERS;
/** The handlers (bootstraps) of this run. */
const HANDLERS: CopierName[] = BASE_BIN ? ['ours', 'base', 'upstream'] : ['ours', 'upstream'];

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
  for (const f of [OUR_BIN, ...(BASE_BIN ? [BASE_BIN] : []), ...(needsUpstream ? [UPSTREAM_BIN] : []), path.join(OUT, 'bin', 'benchtool')]) {
    if (!fs.existsSync(f)) throw new Error(`${f} is missing: run bench/run.sh`);
  }
  const loadStart = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

  log('starting the registries');
  const pki = await makePki(path.join(WORLD, 'pki'));
  const user = 'AWS';
  const password = `bench-${crypto.randomBytes(12).toString('hex')}`;
  const src = new Registry('src', path.join(WORLD, 'src'), pki, { kind: 'htpasswd', users: { [user]: password } });
  const dst = new Registry('dst', path.join(WORLD, 'dst'), pki, { kind: 'htpasswd', users: { [user]: password } });
  const moto = new Moto(WORLD);
  await Promise.all([src.start(), dst.start(), want('5') ? moto.start() : Promise.resolve()]);
  const staticS3 = want('5') ? await startStaticS3(path.join(WORLD, 's3')) : undefined;

  const w: World = {
    src,
    dst,
    s3Cpu: () => w.awsEnv.AWS_ENDPOINT_URL === moto.endpoint ? procCpu(moto.pid) : nodeCpu(),
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
  };
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
    if (want('5')) {
      log('uploading the docker-save archive to moto S3 and the static S3');
      await moto.putObject('bench', 'img3.tar', fs.readFileSync(img3.savePath!));
      fs.mkdirSync(path.join(WORLD, 's3', 'bench'), { recursive: true });
      fs.linkSync(img3.savePath!, path.join(WORLD, 's3', 'bench', 'img3.tar'));
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

    const record = (s: Sample) => {
      samples.push(s);
      const req = Object.entries(s.requests).map(([k, v]) => `${k} ${v}`).join(', ');
      log(`  case ${s.case} ${s.copier.padEnd(8)} run ${s.run}: ${s.ok ? 'ok' : 'FAILED'} ${(s.wallMs / 1000).toFixed(3)} s, ` +
        `${s.cpuSec.toFixed(2)} CPU-s, ${(s.maxRssKiB / 1024).toFixed(1)} MiB, tmp ${s.tmpBytes} B, dest [${req}]` +
        `${s.traffic ? `, blob bytes read ${s.traffic.read} written ${s.traffic.written}, mounts ${s.traffic.mounts}` : ''}${s.error ? ` ${s.error}` : ''}`);
    };

    /** Fresh copies (destination wiped first), each optionally followed by a re-run into the same tag. */
    const freshRuns = async (caseId: string, rerunId: string | undefined, job: Job, repo: string,
      check: (m: { digest: string; json: any }) => string | undefined, copiers: CopierName[] = RUN_COPIERS, timeoutSec?: number, floor = false) => {
      for (let r = 0; r < cfg.runs; r++) {
        // The floor (a reference, not a copier) takes its turn in the rotation too.
        for (const copier of rotate([...copiers, ...(floor ? ['floor' as CopierName] : [])], r)) {
          await dst.wipe();
          const s = await measure(w, caseId, copier, r, job, { timeoutSec });
          await verify(s, repo, check);
          record(s);
          if (rerunId && s.ok && copier !== 'floor') {
            const s2 = await measure(w, rerunId, copier, r, job, { requestType: 'Update', physicalId: s.physicalId });
            await verify(s2, repo, check);
            record(s2);
          }
        }
      }
    };

    /** One profiled run of our copier (not part of the figures). */
    const profileRun = async (caseId: string, job: Job, rerun = false) => {
      if (!cfg.profile) return;
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

    // ---- cases --------------------------------------------------------------------------
    const destRepo = (c: string) => `bench/case${c}`;
    const jobTo = (c: string, j: Omit<Job, 'dest'>): Job => ({ ...j, dest: `${dst.host}/${destRepo(c)}:latest` });

    if (want('1') || want('2')) {
      log('case 1 (fresh 3-layer copy) and case 2 (re-run into the same tag)');
      const job = jobTo('1', { src: `docker://${src.host}/bench/img3:v1` });
      await freshRuns('1', want('2') ? '2' : undefined, job, destRepo('1'), digestIs(img3.digest), RUN_COPIERS, undefined, true);
      if (want('1')) await profileRun('1', job);
      if (want('2')) await profileRun('2', job, true);
    }
    if (want('3')) {
      log('case 3 (two-arch index, CopyImageIndex: fresh, then re-run)');
      const job = jobTo('3', { src: `docker://${src.host}/bench/multi:v1`, copyImageIndex: true });
      await freshRuns('3', '3r', job, destRepo('3'), digestIs(indexDigest), RUN_COPIERS, undefined, true);
      await profileRun('3', job);
    }
    if (want('4')) {
      log('case 4 (imageArch arm64 out of the index)');
      const job = jobTo('4', { src: `docker://${src.host}/bench/multi:v1`, imageArch: 'arm64' });
      await freshRuns('4', undefined, job, destRepo('4'), digestIs(arm64!.digest));
      await profileRun('4', job);
    }
    if (want('5')) {
      log('case 5 (S3 docker-save archive; skopeo reads the same archive as a local file)');
      const job = jobTo('5', { src: 's3://bench/img3.tar', skopeoSrc: `docker-archive:${img3.savePath}` });
      await freshRuns('5', undefined, job, destRepo('5'), configIs(img3.configDigest), RUN_COPIERS, 600);
      await profileRun('5', job);
      // The same archive from the bench's own S3 stand-in (ranged GETs served from a file), to
      // tell moto's cost from ours.
      const saved = w.awsEnv.AWS_ENDPOINT_URL;
      w.awsEnv.AWS_ENDPOINT_URL = staticS3!.endpoint;
      await freshRuns('5s', undefined, job, destRepo('5'), configIs(img3.configDigest), HANDLERS, 600);
      await profileRun('5s', job);
      w.awsEnv.AWS_ENDPOINT_URL = saved;
    }
    if (want('6')) {
      log('case 6 (one 1 GiB layer)');
      const job = jobTo('6', { src: `docker://${src.host}/bench/big:v1` });
      await freshRuns('6', undefined, job, destRepo('6'), digestIs(big!.digest), RUN_COPIERS, undefined, true);
      await profileRun('6', job);
    }
    if (want('7')) {
      log('case 7 (20 small layers)');
      const job = jobTo('7', { src: `docker://${src.host}/bench/many:v1` });
      await freshRuns('7', undefined, job, destRepo('7'), digestIs(many!.digest), RUN_COPIERS, undefined, true);
      await profileRun('7', job);
    }
    if (want('9')) {
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
    if (want('8')) {
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

    const meta = collectMeta(loadStart, (Date.now() - t0) / 1000, notes);
    fs.writeFileSync(path.join(OUT, 'results.json'), JSON.stringify({ cfg, meta, samples, cold, profiles }, null, 2));
    fs.writeFileSync(resultsFile, render({ cfg, meta, samples, cold, profiles, fullRun }));
    log(`wrote ${path.relative(REPO_ROOT, resultsFile)} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    const failed = samples.filter(s => !s.ok);
    if (failed.length) {
      log(`${failed.length} runs failed`);
      process.exitCode = 1;
    }
  } finally {
    await Promise.allSettled([src.stop(), dst.stop(), moto.stop(), staticS3?.close()]);
  }
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

function collectMeta(loadStart: string, seconds: number, notes: string[]): Meta {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? 'unknown';
  const cores = (cpuinfo.match(/^processor\s*:/gm) ?? []).length;
  const memKiB = Number(/MemTotal:\s*(\d+)/.exec(fs.readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
  const osRelease = /PRETTY_NAME="([^"]*)"/.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'unknown';
  const goOf = (bin: string) => /: (go\S+)/.exec(sh('go', ['version', bin]))?.[1] ?? 'unknown';
  const rev = sh('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD']);
  const dirty = sh('git', ['-C', REPO_ROOT, 'status', '--porcelain', '--', 'lambda']) !== '';
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
