// The conditions a copier is measured under. `loopback`: every copier on this machine's cores,
// talking to the registries over loopback (the original bench). `lambda`: what a 512 MB Lambda
// function sees: the copier process held to 0.29 vCPU by a cgroup CPU quota, and every
// connection it opens (to both registries and to the S3 stand-in) going through toxiproxy with
// 15 ms latency each way and a 40 MB/s bandwidth cap per connection. The registries, the S3
// stand-ins, toxiproxy and the bench itself stay outside the cgroup. `lambda-cpu`: the CPU cap
// alone, over loopback (what issue 13's archive target, "≤ 1.5× the registry copy under the same
// cap", is stated in).
import * as fs from 'fs';
import * as path from 'path';
import { freePort, Proc, waitForPort } from '../test/e2e/harness/proc';

export type ConditionName = 'loopback' | 'lambda-cpu' | 'lambda';
export const CONDITIONS: ConditionName[] = ['loopback', 'lambda-cpu', 'lambda'];

/** Lambda at 512 MB: about 0.29 vCPU. */
export const CPU_PERIOD_US = 100_000;
export const CPU_QUOTA_US = 29_000;
/** Per direction; a round trip gains twice this. */
export const LATENCY_MS = 15;
/** toxiproxy's bandwidth toxic takes KB/s (1000 bytes) and limits each connection on its own. */
export const BANDWIDTH_KBPS = 40_000;

export interface CpuCap {
  /** The cgroup.procs file a copier's launcher writes its pid to. */
  procs: string;
  /** "cgroup v1 cpu" or "cgroup v2". */
  kind: string;
  /** cpu.stat of the cgroup (nr_periods, nr_throttled, throttled time). */
  stat: () => Record<string, number>;
  remove: () => void;
}

const CGROUP_NAME = 'cdk-ecr-bench-lambda512';

/**
 * Makes a cgroup with Lambda's CPU share, on whichever CPU controller this machine has: a
 * cgroup v2 hierarchy with the cpu controller at /sys/fs/cgroup (cpu.max), else the v1 cpu
 * controller (cpu.cfs_period_us / cpu.cfs_quota_us). Needs root.
 */
export function makeCpuCap(): CpuCap {
  const v2 = '/sys/fs/cgroup';
  const v1 = '/sys/fs/cgroup/cpu';
  const read = (f: string) => fs.readFileSync(f, 'utf8').trim();
  let dir: string;
  let kind: string;
  if (fs.existsSync(path.join(v2, 'cgroup.controllers')) && read(path.join(v2, 'cgroup.controllers')).split(/\s+/).includes('cpu')) {
    kind = 'cgroup v2';
    dir = path.join(v2, CGROUP_NAME);
    if (!read(path.join(v2, 'cgroup.subtree_control')).split(/\s+/).includes('cpu')) {
      fs.writeFileSync(path.join(v2, 'cgroup.subtree_control'), '+cpu');
    }
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'cpu.max'), `${CPU_QUOTA_US} ${CPU_PERIOD_US}`);
  } else if (fs.existsSync(path.join(v1, 'cpu.cfs_quota_us'))) {
    kind = 'cgroup v1 cpu';
    dir = path.join(v1, CGROUP_NAME);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
    fs.writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), String(CPU_QUOTA_US));
  } else {
    throw new Error('no cgroup CPU controller found (neither cgroup v2 with cpu at /sys/fs/cgroup nor v1 at /sys/fs/cgroup/cpu)');
  }
  return {
    procs: path.join(dir, 'cgroup.procs'),
    kind,
    stat: () => Object.fromEntries(read(path.join(dir, 'cpu.stat')).split('\n').map(l => l.split(' ')).map(([k, v]) => [k, Number(v)])),
    remove: () => { try { fs.rmdirSync(dir); } catch { /* still has processes, or gone */ } },
  };
}

/** A toxiproxy server with one proxy per service the copiers reach. */
export class Toxiproxy {
  private proc?: Proc;
  private port = 0;

  constructor(private readonly bin: string, private readonly logFile: string) {}

  async start(): Promise<void> {
    this.port = await freePort();
    this.proc = new Proc('toxiproxy', this.bin, ['-host', '127.0.0.1', '-port', String(this.port)], this.logFile);
    await waitForPort(this.port, 'toxiproxy', this.proc);
  }

  private async api(method: string, p: string, body?: unknown): Promise<any> {
    const res = await fetch(`http://127.0.0.1:${this.port}${p}`, {
      method, headers: { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`toxiproxy ${method} ${p}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }

  /**
   * A proxy on a new loopback port in front of 127.0.0.1:upstreamPort, with the WAN toxics in
   * both directions. Returns the proxy's port: TLS passes through untouched, so a registry's
   * certificate for 127.0.0.1 still matches.
   */
  async proxy(name: string, upstreamPort: number): Promise<number> {
    const port = await freePort();
    await this.api('POST', '/proxies', { name, listen: `127.0.0.1:${port}`, upstream: `127.0.0.1:${upstreamPort}`, enabled: true });
    for (const stream of ['upstream', 'downstream']) {
      await this.api('POST', `/proxies/${name}/toxics`, { name: `latency_${stream}`, type: 'latency', stream, toxicity: 1, attributes: { latency: LATENCY_MS, jitter: 0 } });
      await this.api('POST', `/proxies/${name}/toxics`, { name: `bandwidth_${stream}`, type: 'bandwidth', stream, toxicity: 1, attributes: { rate: BANDWIDTH_KBPS } });
    }
    return port;
  }

  /** The toxics as the server reports them (for the results' notes). */
  async describe(name: string): Promise<string> {
    const toxics: any[] = await this.api('GET', `/proxies/${name}/toxics`);
    return toxics.map(t => `${t.type}/${t.stream} ${JSON.stringify(t.attributes)}`).join(', ');
  }

  async stop(): Promise<void> {
    await this.proc?.stop();
  }
}

/**
 * Milliseconds from opening a fresh TLS connection to host (host:port) to the end of the
 * answer to `GET /v2/` (a TLS handshake and one request: about two round trips), median of
 * `tries`. Through the proxy it must be at least one added round trip (2 x LATENCY_MS) above
 * the direct figure, or the latency toxic is not in the path.
 */
export async function probeRoundTrips(host: string, caFile: string, tries = 5): Promise<number> {
  const https = await import('https');
  const ca = fs.readFileSync(caFile);
  const [hostname, port] = host.split(':');
  const one = () => new Promise<number>((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = https.get({ hostname, port: Number(port), path: '/v2/', ca, agent: false }, res => {
      res.resume();
      res.on('end', () => resolve(Number(process.hrtime.bigint() - t0) / 1e6));
    });
    req.on('error', reject);
  });
  const xs: number[] = [];
  for (let i = 0; i < tries; i++) xs.push(await one());
  xs.sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)];
}

/**
 * MB/s (10^6 bytes) of one blob GET from host over one fresh connection (Basic auth). Through
 * the proxy it must not beat the per-connection cap (BANDWIDTH_KBPS), give or take 10%.
 */
export async function probeBandwidth(host: string, caFile: string, repo: string, digest: string, size: number,
  user: string, password: string): Promise<number> {
  const https = await import('https');
  const [hostname, port] = host.split(':');
  const ca = fs.readFileSync(caFile);
  return new Promise<number>((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let first = 0n;
    let n = 0;
    const req = https.get({ hostname, port: Number(port), path: `/v2/${repo}/blobs/${digest}`, ca, agent: false, auth: `${user}:${password}` }, res => {
      if (res.statusCode !== 200) { reject(new Error(`blob GET ${host}: ${res.statusCode}`)); res.resume(); return; }
      res.on('data', (d: Buffer) => { if (!first) first = process.hrtime.bigint(); n += d.length; });
      res.on('end', () => {
        if (n !== size) { reject(new Error(`blob GET ${host}: ${n} bytes, want ${size}`)); return; }
        // From the first body byte: the handshake's round trips are not bandwidth.
        resolve(n / 1e6 / (Number(process.hrtime.bigint() - (first || t0)) / 1e9));
      });
    });
    req.on('error', reject);
  });
}
