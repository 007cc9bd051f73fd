// Shared by the fault, load, bad-input and security suites: a World whose source and ECR-style
// destination registries sit behind fault proxies, extra RIE instances (each its own warm
// "sandbox" with an empty HOME, TMPDIR and XDG_RUNTIME_DIR, optionally with /tmp and /var/tmp
// overlaid so that any write lands somewhere we can look), the checks every failure must pass
// (FAILED before the function timeout, nothing half-written), and the secret grep over every
// log file the run produced.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CustomResource, Outcome, SynthResource } from '../harness/driver';
import { expectWellFormed } from '../harness/expect';
import { FaultProxy, startFaultProxy, startTunnel, Tunnel } from '../harness/fault-proxy';
import { DUMMY_AWS } from '../harness/moto';
import { rmTree, tempDir } from '../harness/proc';
import { isEcrHost } from '../harness/proxy';
import { ACCEPT_ALL, RegistryClient, sha256 } from '../harness/registry-client';
import { BOOTSTRAP, Rie } from '../harness/rie';
import { DOCKER_HUB_HOST, World, WorldOptions } from '../harness/world';

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** Whether this machine lets us give the handler a private mount namespace and mount in it (root with CAP_SYS_ADMIN). */
export function canOverlayTmp(): boolean {
  const probe = tempDir('probe');
  try {
    execFileSync('unshare', ['-m', 'sh', '-c', `mount -t tmpfs none ${probe}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmTree(probe);
  }
}

export interface SandboxDirs {
  home: string;
  tmp: string;
  xdg: string;
  /** The folder the handler runs in (its cwd): the wrapper's folder, or none when not wrapped. */
  cwd?: string;
  /** Upper layers of the /tmp and /var/tmp overlays: every file written there shows up here. */
  overlayUppers: string[];
}

export interface RieSpec {
  timeoutSeconds: number;
  /** Extra or overriding handler environment. */
  env?: Record<string, string>;
  /** Run the handler with /tmp and /var/tmp overlaid (needs `canOverlayTmp()`). */
  watchDisk?: boolean;
  name?: string;
}

export class FaultWorld {
  public w: World;
  /** In front of the hub registry (bearer tokens, anonymous pull): address sources as `${src.host}/...`. */
  public src!: FaultProxy;
  /** In front of the ECR-style registry: the handler reaches the ECR host name through it. */
  public dest!: FaultProxy;
  /** HTTPS_PROXY of the handlers: the ECR host to `dest`, Docker Hub's to hub, loopback passed through, all else refused. */
  public connect!: Tunnel;
  public readonly ries: { rie: Rie; dirs: SandboxDirs }[] = [];
  private readonly diskRoot: string;

  constructor(opts: WorldOptions = {}) {
    this.w = new World({ ...opts, rie: false });
    // Overlay upper layers must not live under the /tmp they cover.
    this.diskRoot = scratchOutsideTmp('e2e-sandboxes');
  }

  async start(): Promise<this> {
    await this.w.start();
    const { pki } = this.w;
    const proxyOpts = { caFile: pki.caCert, certFile: pki.serverCert, keyFile: pki.serverKey };
    this.src = await startFaultProxy({ ...proxyOpts, upstreamPort: () => this.w.hub.port, logFile: path.join(this.w.dir, 'fault-proxy-src.log') });
    this.dest = await startFaultProxy({ ...proxyOpts, upstreamPort: () => this.w.ecr.port, logFile: path.join(this.w.dir, 'fault-proxy-dest.log') });
    this.connect = await startTunnel((host, port) => {
      if (isEcrHost(host) && port === 443) return this.dest.port;
      if (host === DOCKER_HUB_HOST && port === 443) return this.w.hub.port;
      if (host === '127.0.0.1' || host === 'localhost') return port;
      return undefined;
    });
    return this;
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.ries.map(r => r.rie.stop()));
    await Promise.allSettled([this.src?.close(), this.dest?.close(), this.connect?.close()]);
    await this.w.stop();
    rmTree(this.diskRoot);
  }

  /** The handler environment the harness's World uses, with the ECR host routed through the dest fault proxy. */
  handlerEnv(): Record<string, string> {
    const w = this.w;
    return {
      ...DUMMY_AWS,
      AWS_DEFAULT_REGION: DUMMY_AWS.AWS_REGION,
      AWS_ENDPOINT_URL: w.moto.endpoint,
      SSL_CERT_FILE: w.pki.caCert,
      HTTPS_PROXY: this.connect.url,
      NO_PROXY: '127.0.0.1,localhost',
      LOG_LEVEL: 'debug',
    };
  }

  /** Starts one more RIE (one more warm Lambda sandbox) running the shipped bootstrap. */
  async newRie(spec: RieSpec): Promise<Rie> {
    const n = this.ries.length;
    const box = fs.mkdtempSync(path.join(this.diskRoot, `${spec.name ?? 'rie'}-${n}-`));
    const dirs: SandboxDirs = { home: path.join(box, 'home'), tmp: path.join(box, 'tmp'), xdg: path.join(box, 'xdg'), overlayUppers: [] };
    for (const d of [dirs.home, dirs.tmp, dirs.xdg]) fs.mkdirSync(d, { mode: 0o700 });
    let bootstrap = BOOTSTRAP;
    const env: Record<string, string> = { ...this.handlerEnv(), HOME: dirs.home, TMPDIR: dirs.tmp, XDG_RUNTIME_DIR: dirs.xdg, ...spec.env };
    if (spec.watchDisk) {
      const wrapDir = path.join(box, 'task');
      fs.mkdirSync(wrapDir);
      const { uppers, wrapper } = overlayWrapper(path.join(box, 'overlay'));
      dirs.overlayUppers.push(...uppers);
      bootstrap = path.join(wrapDir, 'bootstrap');
      fs.writeFileSync(bootstrap, wrapper(BOOTSTRAP), { mode: 0o755 });
      dirs.cwd = wrapDir;
    }
    const rie = new Rie({ bootstrap, timeoutSeconds: spec.timeoutSeconds, logFile: path.join(this.w.dir, `handler-${spec.name ?? 'rie'}-${n}.log`), env });
    this.ries.push({ rie, dirs });
    await rie.start();
    return rie;
  }

  /** A custom resource driven through `rie`, from a synthesized resource with optional edits. */
  resource(rie: Rie, res: SynthResource, edit?: (props: Record<string, any>) => void): CustomResource {
    const copy: SynthResource = { ...res, properties: JSON.parse(JSON.stringify(res.properties)) };
    edit?.(copy.properties);
    return new CustomResource(rie, this.w.receiver, copy);
  }

  /** Everything every handler printed so far. */
  handlerLogs(): string {
    return this.ries.map(r => r.rie.log()).join('\n');
  }

  /** Files and folders the handlers left in their HOME, TMPDIR, XDG_RUNTIME_DIR, cwd or overlaid /tmp and /var/tmp. */
  diskWrites(): string[] {
    const found: string[] = [];
    for (const { dirs } of this.ries) {
      for (const d of [dirs.home, dirs.tmp, dirs.xdg, ...dirs.overlayUppers]) found.push(...walk(d));
      if (dirs.cwd) found.push(...walk(dirs.cwd).filter(f => f !== path.join(dirs.cwd!, 'bootstrap')));
    }
    return found;
  }

  /** Recorded secrets found anywhere in the run's logs or responses; see `findLeaks`. */
  leaks(): string[] {
    return findLeaks(this.w, logFiles(this.w.dir));
  }
}

/**
 * A shell script that runs a program in a private mount namespace where /tmp and /var/tmp are
 * overlays: the program still reads both as usual (the CA file lives in /tmp), but whatever it
 * writes there lands in the returned upper layers, which must sit outside /tmp.
 */
export function overlayWrapper(root: string): { uppers: string[]; wrapper: (program: string) => string } {
  const uppers: string[] = [];
  const mounts: string[] = [];
  for (const [name, target] of [['tmp', '/tmp'], ['vartmp', '/var/tmp']]) {
    const upper = path.join(root, name, 'upper');
    const work = path.join(root, name, 'work');
    fs.mkdirSync(upper, { recursive: true });
    fs.mkdirSync(work, { recursive: true });
    uppers.push(upper);
    mounts.push(`mount -t overlay overlay -o lowerdir=${target},upperdir=${upper},workdir=${work} ${target}`);
  }
  return { uppers, wrapper: program => `#!/bin/sh\nexec unshare -m --propagation private sh -c '${mounts.join(' && ')} && exec "$0"' ${program}\n` };
}

/** Fresh folders for sandboxes and overlay layers: on /dev/shm (outside /tmp) when there is one. */
export function scratchOutsideTmp(prefix: string): string {
  const shm = '/dev/shm';
  return fs.mkdtempSync(path.join(fs.existsSync(shm) ? shm : os.homedir(), `${prefix}-`));
}

export function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) out.push(...walk(p));
  }
  return out;
}

/** Every *.log file under dir: handler (RIE) logs, registries, moto, fault proxies. */
export function logFiles(dir: string): string[] {
  return walk(dir).filter(f => f.endsWith('.log') && fs.statSync(f).isFile());
}

/**
 * The secret grep. Looks in every given log file and in every response sent to the ResponseURL
 * for: each recorded password and secret value (raw, URL-encoded, base64; Basic-auth forms
 * included), the ECR token, the dummy AWS secret key, each ResponseURL signature, and, by
 * pattern, any Authorization header value, any JWT (bearer tokens from the token server) and
 * any unredacted X-Amz-Signature. Returns a short description of each hit.
 */
export function findLeaks(w: World, files: string[], extraSecrets: string[] = []): string[] {
  const haystacks = files.map(f => ({ name: path.basename(f), text: fs.readFileSync(f, 'utf8') }));
  haystacks.push({ name: 'responses', text: JSON.stringify([...w.receiver.responses.values()]) });
  const needles = [...w.secrets, ...w.receiver.signatures, DUMMY_AWS.AWS_SECRET_ACCESS_KEY, ...extraSecrets];
  const found: string[] = [];
  for (const n of needles) {
    const variants = [n, encodeURIComponent(n), Buffer.from(n).toString('base64')];
    for (const h of haystacks) {
      if (variants.some(v => h.text.includes(v))) found.push(`${n.slice(0, 6)}… in ${h.name}`);
    }
  }
  const patterns: [string, RegExp][] = [
    ['Authorization header', /authorization["']?\s*[:=]\s*["']?(basic|bearer)\s+(?!REDACTED)[A-Za-z0-9+/=._~-]{8,}/i],
    ['JWT', /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+/],
    ['X-Amz-Signature', /x-amz-signature=(?!REDACTED)[0-9a-f]{16,}/i],
  ];
  for (const h of haystacks) {
    for (const [what, re] of patterns) if (re.test(h.text)) found.push(`${what} in ${h.name}`);
  }
  return found;
}

/**
 * FAILED, with a Reason matching every pattern, the fields CloudFormation needs, and an answer
 * that came back on its own before the function timeout (the only timed assertion we make).
 */
export function expectFailedBeforeTimeout(out: Outcome, timeoutSeconds: number, ...reason: RegExp[]): void {
  const why = out.response.Reason ?? '';
  if (process.env.E2E_VERBOSE) process.stdout.write(`[${out.seconds.toFixed(2)} s] ${out.response.Status}: ${why}\n`);
  expect({ Status: out.response.Status, Reason: why }).toEqual({ Status: 'FAILED', Reason: expect.any(String) });
  for (const re of reason) expect(why).toMatch(re);
  expectWellFormed(out);
  expect(out.seconds).toBeLessThan(timeoutSeconds);
  expect(out.invoke.status).toBe(200);
}

const scope = (repo: string) => `repository:${repo}:pull`;

/** Digests of every blob (and child manifest) a manifest or index references. */
async function referenced(client: RegistryClient, repo: string, ref: string): Promise<{ blobs: string[]; children: string[] }> {
  const m = await client.getManifest(repo, ref);
  if (Array.isArray(m.json.manifests)) return { blobs: [], children: m.json.manifests.map((c: any) => c.digest) };
  return { blobs: [m.json.config.digest, ...m.json.layers.map((l: any) => l.digest)], children: [] };
}

/**
 * Nothing half-written: the tag is absent, or everything it points at is present and intact
 * (each blob's bytes hash to its digest, so a corrupt blob was never accepted).
 * Returns 'absent' or 'complete'.
 */
export async function expectNothingHalfWritten(client: RegistryClient, repo: string, tag: string): Promise<'absent' | 'complete'> {
  const head = await client.headManifest(repo, tag);
  if (!head) return 'absent';
  const todo = [tag];
  while (todo.length) {
    const { blobs, children } = await referenced(client, repo, todo.pop()!);
    for (const c of children) {
      const res = await client.request('HEAD', `/v2/${repo}/manifests/${c}`, scope(repo), { Accept: ACCEPT_ALL });
      expect({ child: c, status: res.status }).toEqual({ child: c, status: 200 });
      todo.push(c);
    }
    for (const b of blobs) {
      const data = await client.getBlob(repo, b);
      expect(sha256(data)).toBe(b);
    }
  }
  return 'complete';
}

/** The layer digests of an image in a registry, largest first. */
export async function layersOf(client: RegistryClient, repo: string, ref: string): Promise<{ digest: string; size: number }[]> {
  const m = await client.getManifest(repo, ref);
  return [...m.json.layers].sort((a: any, b: any) => b.size - a.size);
}
