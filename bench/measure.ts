// The three copiers under test, each run as one measured process through bench/tool
// (benchtool): our bootstrap and upstream's bootstrap behind the tool's own Lambda Runtime API
// server with a CloudFormation event, and skopeo as a plain command. Every process gets private
// tmpfs mounts on /tmp and /var/tmp (measured) and an empty /var/lib/containers (containers/image's
// blob-info cache, which would otherwise let later runs mount blobs across repositories).
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { AccessEntry, Registry } from '../test/e2e/harness/registry';
import { Traffic } from './traffic';

export const BENCH_DIR = __dirname;
export const OUT = path.join(BENCH_DIR, 'out');
export const TOOL = path.join(OUT, 'bin', 'benchtool');

/** The copiers under test, and `floor`: the bare transfer (bench/tool/floor.go), a reference. */
/** `base` is ours built at an earlier revision (BENCH_BASE), to compare two builds in one run. */
/** `crane` (go-containerregistry) and `regctl` (regclient) are the Go peers: registry sources only. */
export type CopierName = 'ours' | 'base' | 'upstream' | 'skopeo' | 'crane' | 'regctl' | 'floor';
export const COPIERS: CopierName[] = ['ours', 'upstream', 'skopeo'];
/** Peers that have no S3 source: they run only in the registry cases. */
export const REGISTRY_ONLY_PEERS: CopierName[] = ['crane', 'regctl'];

/** Where containers/image keeps its blob-info cache when running as root. */
export const CONTAINERS_CACHE = '/var/lib/containers/cache';

/** Runs benchtool with a JSON spec on stdin; resolves with its JSON result. */
export function tool<T>(command: string, spec: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(TOOL, [command], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', d => { out += d; });
    child.stderr.on('data', d => { err += d; });
    child.on('error', reject);
    child.on('close', code => {
      if (code !== 0) {
        reject(new Error(`benchtool ${command} exited ${code}: ${err.trim()}`));
        return;
      }
      try { resolve(JSON.parse(out)); } catch (e) { reject(new Error(`benchtool ${command}: bad output ${out.slice(0, 200)}: ${e}`)); }
    });
    child.stdin.end(JSON.stringify(spec));
  });
}

export interface Usage {
  userSec: number;
  sysSec: number;
  cpuSec: number;
  maxRssKiB: number;
  tmpPeakBytes: number;
  exit: string;
}

export interface LambdaResult extends Usage {
  execToPollMs: number;
  invokeToResponseMs: number;
  wallMs: number;
  response?: { Status: string; Reason?: string; PhysicalResourceId?: string; Data?: Record<string, string> };
  invocation: string;
  invocationBody?: string;
}

export interface ExecResult extends Usage {
  wallMs: number;
}

/** One measured copy. */
export interface Sample {
  case: string;
  /** The condition it ran under (bench/conditions.ts); absent in results from before conditions: loopback. */
  condition?: string;
  copier: CopierName;
  run: number;
  /** Exec to the CloudFormation response (handlers) or to exit (skopeo), ms. */
  wallMs: number;
  /** Exec to the first Runtime API poll (handlers only), ms. */
  initMs?: number;
  cpuSec: number;
  maxRssKiB: number;
  tmpBytes: number;
  /** Destination registry requests by method (from its access log). */
  requests: Record<string, number>;
  blobUploads: number;
  manifestPuts: number;
  /** CPU seconds the source (registry, or S3 stand-in) and the destination registry spent during the copy. */
  srcRegistryCpu: number;
  dstRegistryCpu: number;
  digest?: string;
  /** Blob bytes moved (case 9: read at the source, written at the destination; from the access logs). */
  traffic?: Traffic;
  ok: boolean;
  error?: string;
}

/** A copy to perform, in the terms of all three copiers. */
export interface Job {
  /** `docker://host/repo:tag`, or `s3://bucket/key`. */
  src: string;
  /** For skopeo when src is s3://: the same archive as a local file. */
  skopeoSrc?: string;
  /** `host/repo:tag` */
  dest: string;
  imageArch?: string;
  copyImageIndex?: boolean;
}

export interface World {
  src: Registry;
  /** CPU seconds an S3 source has used so far (moto's process, or the bench's own for the static S3). */
  s3Cpu: () => number;
  dst: Registry;
  creds: string;
  caCert: string;
  certDir: string;
  awsEnv: Record<string, string>;
  ourBin: string;
  /** Ours at BENCH_BASE's revision, when set. */
  baseBin?: string;
  upstreamBin: string;
  home: string;
  user: string;
  password: string;
  /** crane and regctl, and their scratch HOMEs (credentials, regctl's CA), set up by run.ts. */
  craneBin?: string;
  regctlBin?: string;
  craneHome?: string;
  regctlHome?: string;
  /** Under a CPU cap: the cgroup.procs every copier process joins before it execs. */
  cgroupProcs?: string;
}

const CLK_TCK = 100;

/** utime + stime of a process, in seconds (0 when it is gone). */
export function procCpu(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is state (field 3); utime and stime are fields 14 and 15.
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

export function countRequests(log: AccessEntry[]): { requests: Record<string, number>; blobUploads: number; manifestPuts: number } {
  const requests: Record<string, number> = {};
  for (const e of log) requests[e.method] = (requests[e.method] ?? 0) + 1;
  return {
    requests,
    blobUploads: log.filter(e => /\/blobs\/uploads\//.test(e.path) && ['POST', 'PATCH', 'PUT'].includes(e.method)).length,
    manifestPuts: log.filter(e => /\/manifests\//.test(e.path) && e.method === 'PUT').length,
  };
}

/** The CloudFormation ResourceProperties both handlers receive for job. */
export function resourceProperties(w: World, job: Job): Record<string, unknown> {
  return {
    ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:bench-CustomCDKECRDeployment',
    SrcImage: job.src,
    ...(job.src.startsWith('docker://') ? { SrcCreds: w.creds } : {}),
    DestImage: `docker://${job.dest}`,
    DestCreds: w.creds,
    ...(job.imageArch ? { ImageArch: job.imageArch } : {}),
    // CloudFormation delivers booleans as strings.
    ...(job.copyImageIndex ? { CopyImageIndex: 'true' } : {}),
  };
}

export interface HandlerRun {
  requestType: 'Create' | 'Update';
  physicalId?: string;
  pprofDir?: string;
  log: string;
  timeoutSec?: number;
}

export function handlerEvent(w: World, job: Job, r: HandlerRun): Record<string, unknown> {
  const props = resourceProperties(w, job);
  return {
    RequestType: r.requestType,
    ServiceToken: props.ServiceToken,
    StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/EcrDeploymentBench/8e1f8f00-0000-4000-8000-000000000001',
    LogicalResourceId: 'DeployImageCustomResource',
    ResourceType: 'Custom::CDKECRDeployment',
    ResourceProperties: props,
    ...(r.requestType === 'Update' ? { PhysicalResourceId: r.physicalId ?? 'bench', OldResourceProperties: props } : {}),
  };
}

/** Runs one handler invocation. */
export function runHandler(w: World, bin: string, job: Job, r: HandlerRun): Promise<LambdaResult> {
  return tool<LambdaResult>('lambda', {
    bin,
    // BENCH_LOG_LEVEL=debug makes the handlers' logs (bench/out/logs/) show every request.
    env: { SSL_CERT_FILE: w.caCert, ...w.awsEnv, ...(process.env.BENCH_LOG_LEVEL ? { LOG_LEVEL: process.env.BENCH_LOG_LEVEL } : {}) },
    event: handlerEvent(w, job, r),
    timeoutSec: r.timeoutSec ?? 900,
    sandbox: true,
    masks: ['/var/lib/containers'],
    cgroupProcs: w.cgroupProcs ?? '',
    pprofDir: r.pprofDir ?? '',
    log: r.log,
  });
}

export function skopeoArgs(w: World, job: Job): string[] {
  const args = ['skopeo', '--insecure-policy', 'copy', '--dest-creds', w.creds, '--dest-cert-dir', w.certDir];
  if (job.src.startsWith('docker://')) args.push('--src-creds', w.creds, '--src-cert-dir', w.certDir);
  if (job.copyImageIndex) args.push('--all');
  if (job.imageArch) args.push('--override-arch', job.imageArch);
  args.push(job.skopeoSrc ?? job.src, `docker://${job.dest}`);
  return args;
}

export function runSkopeo(w: World, job: Job, log: string): Promise<ExecResult> {
  return tool<ExecResult>('exec', {
    argv: skopeoArgs(w, job),
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: w.home },
    sandbox: true,
    masks: ['/var/lib/containers'],
    cgroupProcs: w.cgroupProcs ?? '',
    log,
    timeoutSec: 900,
  });
}

/** `docker://host/repo:tag` -> `host/repo:tag` (crane and regctl take plain references). */
function plainRef(ref: string): string {
  if (!ref.startsWith('docker://')) throw new Error(`crane and regctl copy from registries only, not ${ref}`);
  return ref.slice('docker://'.length);
}

/**
 * crane copies an index whole unless --platform picks one image; it trusts the CA through
 * SSL_CERT_FILE and reads credentials from $HOME/.docker/config.json (`crane auth login`).
 * regctl copies an index whole unless --platform; its CA and credentials are in
 * $HOME/.regctl/config.json (`regctl registry set --cacert`, `regctl registry login`).
 * Neither gets --insecure or anything like it.
 */
export function peerArgs(w: World, copier: 'crane' | 'regctl', job: Job): string[] {
  const platform = job.imageArch ? ['--platform', `linux/${job.imageArch}`] : [];
  if (copier === 'crane') return [w.craneBin!, 'copy', ...platform, plainRef(job.src), job.dest];
  return [w.regctlBin!, 'image', 'copy', ...platform, plainRef(job.src), job.dest];
}

export function runPeer(w: World, copier: 'crane' | 'regctl', job: Job, log: string): Promise<ExecResult> {
  const env: Record<string, string> = copier === 'crane' ?
    { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: w.craneHome!, SSL_CERT_FILE: w.caCert } :
    { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: w.regctlHome! };
  return tool<ExecResult>('exec', {
    argv: peerArgs(w, copier, job),
    env,
    sandbox: true,
    masks: ['/var/lib/containers'],
    cgroupProcs: w.cgroupProcs ?? '',
    log,
    timeoutSec: 900,
  });
}

/** Deletes containers/image's on-disk blob-info caches (skopeo's, and upstream's as root). */
export function clearBlobCaches(): void {
  for (const f of ['blob-info-cache-v1.boltdb', 'blob-info-cache-v1.sqlite']) {
    fs.rmSync(path.join(CONTAINERS_CACHE, f), { force: true });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise(r => setTimeout(r, ms));
}

/** The bootstrap a handler copier runs. */
function handlerBin(w: World, copier: CopierName): string {
  if (copier === 'ours') return w.ourBin;
  if (copier === 'upstream') return w.upstreamBin;
  if (copier === 'base' && w.baseBin) return w.baseBin;
  throw new Error(`no bootstrap for copier ${copier}`);
}

/**
 * Runs one copier on job and measures it: registry CPU around the run, the destination's
 * access log since the run started, the copier's process figures.
 */
export async function measure(w: World, caseId: string, copier: CopierName, run: number, job: Job, opts: {
  requestType?: 'Create' | 'Update';
  physicalId?: string;
  pprofDir?: string;
  logName?: string;
  timeoutSec?: number;
  /** Runs this bootstrap instead of the copier's own (the profiling build). */
  bin?: string;
} = {}): Promise<Sample & { physicalId?: string }> {
  clearBlobCaches();
  w.dst.markLog();
  const s3 = job.src.startsWith('s3://');
  const srcCpu = () => s3 ? w.s3Cpu() : procCpu(w.src.pid);
  const srcCpu0 = srcCpu();
  const dstCpu0 = procCpu(w.dst.pid);
  const log = path.join(OUT, 'logs', `${opts.logName ?? `${caseId}-${copier}-${run}`}.log`);
  const sample: Sample & { physicalId?: string } = {
    case: caseId,
    copier,
    run,
    wallMs: NaN,
    cpuSec: NaN,
    maxRssKiB: NaN,
    tmpBytes: NaN,
    requests: {},
    blobUploads: 0,
    manifestPuts: 0,
    srcRegistryCpu: 0,
    dstRegistryCpu: 0,
    ok: false,
  };
  try {
    if (copier === 'skopeo') {
      const r = await runSkopeo(w, job, log);
      Object.assign(sample, { wallMs: r.wallMs, cpuSec: r.cpuSec, maxRssKiB: r.maxRssKiB, tmpBytes: r.tmpPeakBytes, ok: true });
    } else if (copier === 'crane' || copier === 'regctl') {
      const r = await runPeer(w, copier, job, log);
      Object.assign(sample, { wallMs: r.wallMs, cpuSec: r.cpuSec, maxRssKiB: r.maxRssKiB, tmpBytes: r.tmpPeakBytes, ok: true });
    } else if (copier === 'floor') {
      const src = /^docker:\/\/([^/]+)\/(.+):([^:/]+)$/.exec(job.src);
      const dst = /^([^/]+)\/(.+):([^:/]+)$/.exec(job.dest);
      if (!src || !dst) throw new Error(`floor: cannot parse ${job.src} / ${job.dest}`);
      const r = await tool<{ wallMs: number; cpuSec: number }>('floor', {
        src: src[1], srcRepo: src[2], ref: src[3], dst: dst[1], dstRepo: dst[2], tag: dst[3], user: w.user, password: w.password, ca: w.caCert,
      });
      Object.assign(sample, { wallMs: r.wallMs, cpuSec: r.cpuSec, maxRssKiB: NaN, tmpBytes: 0, ok: true });
    } else {
      const bin = opts.bin ?? handlerBin(w, copier);
      const r = await runHandler(w, bin, job, {
        requestType: opts.requestType ?? 'Create', physicalId: opts.physicalId, pprofDir: opts.pprofDir, log, timeoutSec: opts.timeoutSec,
      });
      Object.assign(sample, {
        wallMs: r.wallMs,
        initMs: r.execToPollMs,
        cpuSec: r.cpuSec,
        maxRssKiB: r.maxRssKiB,
        tmpBytes: r.tmpPeakBytes,
        ok: r.response?.Status === 'SUCCESS',
        physicalId: r.response?.PhysicalResourceId,
      });
      if (!sample.ok) sample.error = `${r.response?.Status ?? 'no response'}: ${r.response?.Reason ?? ''}`.slice(0, 400);
    }
  } catch (e: any) {
    sample.error = String(e.message ?? e).slice(0, 400);
  }
  // The registry writes its access-log line right after answering; give it a moment.
  await sleep(100);
  Object.assign(sample, countRequests(w.dst.accessLog()));
  sample.srcRegistryCpu = srcCpu() - srcCpu0;
  sample.dstRegistryCpu = procCpu(w.dst.pid) - dstCpu0;
  return sample;
}
