// Debian's docker-registry (CNCF distribution 2.8) on a free loopback port: TLS always, one of
// three auth styles, storage in a temp folder, and an access log that can be counted.
import * as fs from 'fs';
import * as path from 'path';
import { Pki } from './pki';
import { freePort, Proc, run, rmTree, waitForPort } from './proc';

export type RegistryAuth =
  | { kind: 'none' }
  | { kind: 'htpasswd'; users: Record<string, string> }
  | { kind: 'token'; realm: string; service: string; issuer: string; rootCertBundle: string };

export interface AccessEntry {
  method: string;
  path: string;
  status: number;
}

export class Registry {
  public port = 0;
  private proc?: Proc;
  private readonly storage: string;
  private readonly logFile: string;
  private logOffset = 0;

  constructor(public readonly name: string, private readonly dir: string, private readonly pki: Pki, private auth: RegistryAuth) {
    fs.mkdirSync(dir, { recursive: true });
    this.storage = path.join(dir, 'storage');
    this.logFile = path.join(dir, 'registry.log');
  }

  /** `127.0.0.1:PORT`, the registry part of an image reference. */
  get host(): string { return `127.0.0.1:${this.port}`; }

  /** The registry process's pid while it runs (the bench reads its CPU time from /proc). */
  get pid(): number | undefined { return this.proc?.pid; }

  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    fs.mkdirSync(this.storage, { recursive: true });
    const config = path.join(this.dir, 'config.yml');
    fs.writeFileSync(config, await this.config());
    this.proc = new Proc(`registry ${this.name}`, 'docker-registry', ['serve', config], this.logFile);
    await waitForPort(this.port, `registry ${this.name}`, this.proc);
  }

  async stop(): Promise<void> {
    await this.proc?.stop();
    this.proc = undefined;
  }

  /** Replaces the users (htpasswd registries) and restarts on the same port. */
  async setUsers(users: Record<string, string>): Promise<void> {
    this.auth = { kind: 'htpasswd', users };
    await this.restart();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Empties storage: a fresh registry on the same port. */
  async wipe(): Promise<void> {
    await this.stop();
    rmTree(this.storage);
    await this.start();
  }

  /** Access-log entries since the last `markLog()` (or since start). */
  accessLog(): AccessEntry[] {
    let text = '';
    try { text = fs.readFileSync(this.logFile, 'utf8'); } catch { return []; }
    const entries: AccessEntry[] = [];
    // Combined log format: 127.0.0.1 - - [date] "METHOD /path HTTP/1.1" STATUS SIZE "referer" "agent"
    const re = /"([A-Z]+) (\/\S*) HTTP\/[\d.]+" (\d{3}) /;
    for (const line of text.slice(this.logOffset).split('\n')) {
      const m = re.exec(line);
      if (m) entries.push({ method: m[1], path: m[2], status: Number(m[3]) });
    }
    return entries;
  }

  markLog(): void {
    try { this.logOffset = fs.statSync(this.logFile).size; } catch { this.logOffset = 0; }
  }

  /** Requests that write: blob upload steps and manifest PUTs, since the last mark. */
  writes(): { blobUploads: AccessEntry[]; manifestPuts: AccessEntry[]; deletes: AccessEntry[] } {
    const log = this.accessLog();
    return {
      blobUploads: log.filter(e => /\/blobs\/uploads\//.test(e.path) && ['POST', 'PATCH', 'PUT'].includes(e.method)),
      manifestPuts: log.filter(e => /\/manifests\//.test(e.path) && e.method === 'PUT'),
      deletes: log.filter(e => e.method === 'DELETE'),
    };
  }

  private async config(): Promise<string> {
    let auth = '';
    if (this.auth.kind === 'htpasswd') {
      const lines: string[] = [];
      for (const [u, p] of Object.entries(this.auth.users)) {
        lines.push((await run('htpasswd', ['-Bbn', u, p])).trim());
      }
      const file = path.join(this.dir, 'htpasswd');
      fs.writeFileSync(file, lines.join('\n') + '\n');
      auth = `auth:\n  htpasswd:\n    realm: basic-realm\n    path: ${file}\n`;
    } else if (this.auth.kind === 'token') {
      auth = `auth:\n  token:\n    realm: ${this.auth.realm}\n    service: ${this.auth.service}\n    issuer: ${this.auth.issuer}\n    rootcertbundle: ${this.auth.rootCertBundle}\n`;
    }
    return [
      'version: 0.1',
      'log:',
      '  level: info',
      '  accesslog:',
      '    disabled: false',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${this.storage}`,
      '  delete:',
      '    enabled: true',
      '  maintenance:',
      '    uploadpurging:',
      '      enabled: false',
      'http:',
      `  addr: 127.0.0.1:${this.port}`,
      `  secret: e2e-${this.name}`,
      '  tls:',
      `    certificate: ${this.pki.serverCert}`,
      `    key: ${this.pki.serverKey}`,
      '  debug:',
      '    addr: ""',
      auth,
    ].join('\n');
  }
}
