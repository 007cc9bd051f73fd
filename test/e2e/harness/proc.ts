// Child processes and ports: every server the harness starts runs in its own process group,
// so stopping it ends its children too, and nothing outlives the test that started it.
import { ChildProcess, spawn, SpawnOptions } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { closed, opened } from './handles';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

/** A fresh folder under the OS temp dir, removed by `rmTree`. */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `e2e-${prefix}-`));
}

export function rmTree(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

// Ports for servers the harness starts as child processes (which bind the port themselves) are
// picked here, not by the OS. A port the OS picks (listen on 0) and we release can be taken
// again before the child binds it: by the next pick (20 emulators started at once in the load
// suite), or as the local port of any outgoing connection, since both come from the kernel's
// ephemeral range. Picked that way, 20 emulators' 40 ports held a duplicate in 16 of 300
// trials here. So ports come from below that range, where the kernel never hands out a port by
// itself, and none is handed out twice by this process.
const handedOut = new Set<number>();

/** The kernel's ephemeral port range (net.ipv4.ip_local_port_range), [low, high]. */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo > 0 && hi >= lo) return [lo, hi];
  } catch { /* not Linux: assume the IANA range */ }
  return [49152, 65535];
}

function canBind(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A port that is free on 127.0.0.1 now, outside the kernel's ephemeral range, and not handed
 * out before by this process (see above for why).
 */
export async function freePort(): Promise<number> {
  const [lo] = ephemeralRange();
  const first = 10_000;
  const last = Math.min(lo, 65536) - 1;
  if (last - first < 1000) throw new Error(`the ephemeral port range starts at ${lo}: too few ports below it for the harness`);
  for (let tries = 0; tries < 200; tries++) {
    const port = first + Math.floor(Math.random() * (last - first + 1));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await canBind(port)) return port;
  }
  throw new Error(`no free port found between ${first} and ${last}`);
}

/** The pids of the processes listening on 127.0.0.1:port (TCP), read with `ss` (iproute2). */
export async function listenerPids(port: number): Promise<number[]> {
  const out = await run('ss', ['-Hltnp', `sport = :${port}`]);
  return [...out.matchAll(/pid=(\d+)/g)].map(m => Number(m[1]));
}

/** The process group of a running pid, or undefined when it is gone. */
function processGroup(pid: number): number | undefined {
  try {
    // /proc/PID/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return undefined;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise(r => setTimeout(r, ms));
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port: number, what: string, proc?: Proc, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>(resolve => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) {
      // Something answers; make sure it is proc. Another server on the same port would otherwise
      // pass for it: two emulators given one port leave the second exited (address already in
      // use) and its invocations sent to the first, which refuses them as busy.
      if (!proc || proc.pid === undefined) return;
      const pids = await listenerPids(port);
      if (pids.some(pid => processGroup(pid) === proc.pid)) return;
      if (pids.length > 0 || proc.exited) {
        throw new Error(`${what}: address already in use: 127.0.0.1:${port} is served by pid ${pids.join(', ') || '?'}, not by ${proc.name} (pid ${proc.pid}):\n${proc.tail()}`);
      }
    } else if (proc && proc.exited) {
      throw new Error(`${what} exited (${proc.exitCode}) before listening on ${port}:\n${proc.tail()}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms${proc ? `:\n${proc.tail()}` : ''}`);
    }
    await sleep(100);
  }
}

/** A started child process whose stdout and stderr go to one log file. */
export class Proc {
  public exited = false;
  public exitCode: number | null = null;
  private readonly child: ChildProcess;
  private readonly exitPromise: Promise<void>;

  constructor(public readonly name: string, cmd: string, args: string[], public readonly logFile: string, opts: SpawnOptions = {}) {
    const fd = fs.openSync(logFile, 'a');
    this.child = spawn(cmd, args, { ...opts, detached: true, stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    opened(this, `${name} (pid ${this.child.pid})`, () => { void this.stop(0); });
    this.exitPromise = new Promise(resolve => {
      this.child.once('exit', code => { this.exited = true; this.exitCode = code; closed(this); resolve(); });
      this.child.once('error', () => { this.exited = true; closed(this); resolve(); });
    });
  }

  get pid(): number | undefined { return this.child.pid; }

  /** The whole log so far. */
  log(): string {
    try { return fs.readFileSync(this.logFile, 'utf8'); } catch { return ''; }
  }

  tail(lines = 30): string {
    return this.log().split('\n').slice(-lines).join('\n');
  }

  /** Ends the whole process group: SIGTERM, then SIGKILL after a grace period. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exited || this.child.pid === undefined) return;
    const pgid = this.child.pid;
    try { process.kill(-pgid, 'SIGTERM'); } catch { /* already gone */ }
    let t: NodeJS.Timeout | undefined;
    const timer = new Promise<'timeout'>(r => { t = setTimeout(() => r('timeout'), graceMs); });
    const first = await Promise.race([this.exitPromise.then(() => 'exited' as const), timer]);
    clearTimeout(t);
    if (first === 'timeout') {
      try { process.kill(-pgid, 'SIGKILL'); } catch { /* already gone */ }
      await this.exitPromise;
    }
    // The leader may be gone while others in its group linger.
    try { process.kill(-pgid, 'SIGKILL'); } catch { /* none left */ }
  }
}

/** Runs a command to completion; throws with its output when it fails. */
export async function run(cmd: string, args: string[], opts: SpawnOptions & { input?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', d => { out += d; });
    child.stderr!.on('data', d => { err += d; });
    child.on('error', reject);
    child.on('close', code => {
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${err}${out}`));
    });
    if (child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
  });
}
