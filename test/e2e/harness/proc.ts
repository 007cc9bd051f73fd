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

/** A port free on 127.0.0.1 right now (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise(r => setTimeout(r, ms));
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port: number, what: string, proc?: Proc, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc && proc.exited) {
      throw new Error(`${what} exited (${proc.exitCode}) before listening on ${port}:\n${proc.tail()}`);
    }
    const ok = await new Promise<boolean>(resolve => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
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
