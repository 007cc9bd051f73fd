// The whole stand-in for AWS and the registries, started and stopped as one:
//   hub     Docker-Hub style: TLS + bearer tokens (anonymous pull, push needs creds)
//   private TLS + htpasswd (bcrypt)
//   ecr     TLS + htpasswd for user AWS and moto's GetAuthorizationToken password,
//           reached as 123456789012.dkr.ecr.us-east-1.amazonaws.com through the CONNECT proxy
//   open    TLS, no auth, addressed as 127.0.0.1:PORT
// plus moto (ECR API, Secrets Manager, S3), the one CONNECT proxy every handler uses as
// HTTPS_PROXY, the ResponseURL receiver and the RIE running the shipped bootstrap. Every
// password, token and ResponseURL signature is recorded for the grep.
//
// With `faults: true`, fault proxies (fault-proxy.ts) sit in front of the hub (`src`: address
// sources as `${src.host}/...`) and of the ECR-style registry (`dest`: the CONNECT proxy sends
// the ECR host name there). `newRie()` starts more RIE instances, each its own warm "sandbox"
// with an empty HOME, TMPDIR and XDG_RUNTIME_DIR, optionally with /tmp and /var/tmp overlaid
// (so that any write lands somewhere we can look) or with its bootstrap's pid recorded.
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AwsFront, startAwsFront } from './aws-front';
import { CustomResource, synthExample, SynthResource } from './driver';
import { FaultProxy, startFaultProxy } from './fault-proxy';
import { findLeaks, logFiles, walk } from './leaks';
import { DUMMY_AWS, Moto } from './moto';
import { ECR_HOST, makePki, Pki } from './pki';
import { REPO_ROOT, rmTree, tempDir } from './proc';
import { ConnectProxy, standIns, startConnectProxy } from './proxy';
import { Receiver, startReceiver } from './receiver';
import { Registry } from './registry';
import { RegistryClient } from './registry-client';
import { keepLogs } from './reports';
import { BOOTSTRAP, Rie } from './rie';
import { startTokenServer, TokenServer } from './token-server';

export function randomPassword(prefix = 'pw'): string {
  return `${prefix}-${crypto.randomBytes(12).toString('hex')}`;
}

export interface WorldOptions {
  /** Function timeout in seconds (AWS_LAMBDA_FUNCTION_TIMEOUT). Default 900, as deployed. */
  timeoutSeconds?: number;
  /** Extra handler environment. */
  env?: Record<string, string>;
  /** Start the RIE (default true); the demo and infrastructure checks may not want it. */
  rie?: boolean;
  /**
   * Which shipped build runs. arm64 runs under qemu-user (Debian's qemu-user-static), the
   * same binary a Graviton function gets.
   */
  handlerArch?: 'amd64' | 'arm64';
  /**
   * Run this bootstrap file instead of the repository's build: the one a CDK app in another
   * language staged from its package (test/e2e/langs.e2e.ts). amd64 only.
   */
  bootstrap?: string;
  /** Fault proxies in front of the hub (`src`) and the ECR-style registry (`dest`). Default false. */
  faults?: boolean;
  /**
   * Handlers reach moto through a recorder that notes each AWS API call's X-Amz-Target
   * (`awsCalls`), e.g. to see a new ecr:GetAuthorizationToken. Default false.
   */
  recordAwsCalls?: boolean;
}

export interface SandboxDirs {
  home: string;
  tmp: string;
  xdg: string;
  /** The folder the handler runs in (its cwd): the wrapper's folder, or none when not wrapped. */
  cwd?: string;
  /** Upper layers of the /tmp and /var/tmp overlays: every file written there shows up here. */
  overlayUppers: string[];
  /** Where the wrapper wrote the bootstrap's pid, one line per start (`recordPid`). */
  pidFile?: string;
}

export interface RieSpec {
  timeoutSeconds: number;
  /** Extra or overriding handler environment. */
  env?: Record<string, string>;
  /** Run the handler with /tmp and /var/tmp overlaid (needs `canOverlayTmp()`). */
  watchDisk?: boolean;
  /** Record the bootstrap's pid (a wrapper writes `$$`, then execs it); not with watchDisk. */
  recordPid?: boolean;
  name?: string;
}

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

/** Docker Hub's registry host: the proxy sends it to the hub-style registry, so `nginx:latest` resolves locally. */
export const DOCKER_HUB_HOST = 'registry-1.docker.io';

/** A bootstrap that runs the shipped arm64 build under qemu-user, as RIE's handler. */
function armBootstrap(dir: string): string {
  const wrapper = path.join(dir, 'arm64', 'bootstrap');
  fs.mkdirSync(path.dirname(wrapper), { recursive: true });
  const binary = path.join(REPO_ROOT, 'lambda-bin', 'arm64', 'bootstrap');
  // Each start leaves a line in `started`, so a test can tell this build really ran.
  fs.writeFileSync(wrapper, `#!/bin/sh\necho "${binary}" >> "${path.join(dir, 'arm64', 'started')}"\nexec /usr/bin/qemu-aarch64-static "${binary}" "$@"\n`, { mode: 0o755 });
  return wrapper;
}

export class World {
  public readonly dir = tempDir('world');
  public pki!: Pki;
  public tokenServer!: TokenServer;
  public hub!: Registry;
  public priv!: Registry;
  public ecr!: Registry;
  public open!: Registry;
  public moto!: Moto;
  public proxy!: ConnectProxy;
  public receiver!: Receiver;
  public rie!: Rie;
  /** With `faults`: in front of the hub registry (bearer tokens, anonymous pull): address sources as `${src.host}/...`. */
  public src!: FaultProxy;
  /** With `faults`: in front of the ECR-style registry; the handler reaches the ECR host name through it. */
  public dest!: FaultProxy;
  /** The RIE instances started with `newRie`, each with its sandbox folders. */
  public readonly ries: { rie: Rie; dirs: SandboxDirs }[] = [];
  /** With `recordAwsCalls`: each AWS API call the handlers made, in order (X-Amz-Target). */
  public readonly awsCalls: string[] = [];
  /** The handlers' AWS endpoint: moto behind aws-front.ts (ECR's BatchDeleteImage rule, the call record). */
  private awsFront!: AwsFront;
  private sandboxRoot?: string;

  /** Values that must never appear in handler output. */
  public readonly secrets = new Set<string>();

  public readonly hubPusher = { user: 'pusher', password: randomPassword('hub') };
  public readonly privUser = { user: 'alice', password: randomPassword('priv') };
  /** A second private user whose password contains ':' (the creds split must be at the first ':'). */
  public readonly colonUser = { user: 'bob', password: `${randomPassword('colon')}:with:colons` };
  public ecrLogin!: { user: string; password: string; token: string };

  constructor(private readonly opts: WorldOptions = {}) {}

  get ecrHost(): string { return ECR_HOST; }

  async start(): Promise<this> {
    this.pki = await makePki(path.join(this.dir, 'pki'), [DOCKER_HUB_HOST]);
    for (const u of [this.hubPusher, this.privUser, this.colonUser]) this.addCreds(u.user, u.password);

    this.tokenServer = await startTokenServer({
      keyFile: this.pki.tokenKey,
      certFile: this.pki.tokenCert,
      users: { [this.hubPusher.user]: this.hubPusher.password },
    });
    this.hub = new Registry('hub', path.join(this.dir, 'hub'), this.pki, {
      kind: 'token', realm: this.tokenServer.realm, service: this.tokenServer.service, issuer: this.tokenServer.issuer, rootCertBundle: this.pki.tokenCert,
    });
    this.priv = new Registry('private', path.join(this.dir, 'private'), this.pki, {
      kind: 'htpasswd', users: { [this.privUser.user]: this.privUser.password, [this.colonUser.user]: this.colonUser.password },
    });
    this.open = new Registry('open', path.join(this.dir, 'open'), this.pki, { kind: 'none' });

    this.moto = new Moto(this.dir);
    await Promise.all([this.hub.start(), this.priv.start(), this.open.start(), this.moto.start()]);

    // The ECR-style registry accepts exactly what moto's GetAuthorizationToken hands out.
    this.ecrLogin = await this.moto.ecrLogin();
    this.addCreds(this.ecrLogin.user, this.ecrLogin.password);
    this.secrets.add(this.ecrLogin.token);
    this.ecr = new Registry('ecr', path.join(this.dir, 'ecr'), this.pki, { kind: 'htpasswd', users: { [this.ecrLogin.user]: this.ecrLogin.password } });
    await this.ecr.start();

    if (this.opts.faults) {
      const { pki } = this;
      const proxyOpts = { caFile: pki.caCert, certFile: pki.serverCert, keyFile: pki.serverKey };
      this.src = await startFaultProxy({ ...proxyOpts, upstreamPort: () => this.hub.port, logFile: path.join(this.dir, 'fault-proxy-src.log') });
      this.dest = await startFaultProxy({ ...proxyOpts, upstreamPort: () => this.ecr.port, logFile: path.join(this.dir, 'fault-proxy-dest.log') });
    }
    this.proxy = await startConnectProxy(standIns(() => this.dest?.port ?? this.ecr.port, () => ({ [DOCKER_HUB_HOST]: this.hub.port })));
    this.awsFront = await startAwsFront(() => this.moto.port, this.opts.recordAwsCalls ? this.awsCalls : undefined);
    this.receiver = await startReceiver();
    if (this.opts.rie !== false) {
      this.rie = new Rie({
        bootstrap: this.opts.handlerArch === 'arm64' ? armBootstrap(this.dir) : this.opts.bootstrap,
        timeoutSeconds: this.opts.timeoutSeconds ?? 900,
        logFile: path.join(this.dir, 'handler.log'),
        env: { ...this.handlerEnv(), ...this.opts.env },
      });
      await this.rie.start();
    }
    return this;
  }

  async stop(): Promise<void> {
    const closers: Promise<unknown>[] = [];
    for (const c of [this.rie, ...this.ries.map(r => r.rie)]) if (c) closers.push(c.stop());
    await Promise.allSettled(closers);
    closers.length = 0;
    for (const c of [this.hub, this.priv, this.ecr, this.open, this.moto]) if (c) closers.push(c.stop());
    for (const c of [this.proxy, this.receiver, this.tokenServer, this.src, this.dest, this.awsFront]) if (c) closers.push(c.close());
    await Promise.allSettled(closers);
    keepLogs(this.dir);
    rmTree(this.dir);
    if (this.sandboxRoot) rmTree(this.sandboxRoot);
  }

  /** The environment every handler gets: dummy AWS credentials, moto, the harness CA, the CONNECT proxy, debug logs. */
  handlerEnv(): Record<string, string> {
    return {
      ...DUMMY_AWS,
      AWS_DEFAULT_REGION: DUMMY_AWS.AWS_REGION,
      AWS_ENDPOINT_URL: this.awsFront.endpoint,
      SSL_CERT_FILE: this.pki.caCert,
      HTTPS_PROXY: this.proxy.url,
      NO_PROXY: '127.0.0.1,localhost',
      // The most verbose level: a secret printed at any level must show up in the grep.
      LOG_LEVEL: 'debug',
    };
  }

  /** Starts one more RIE (one more warm Lambda sandbox) running the shipped bootstrap. */
  async newRie(spec: RieSpec): Promise<Rie> {
    // Overlay upper layers must not live under the /tmp they cover.
    this.sandboxRoot ??= scratchOutsideTmp('e2e-sandboxes');
    const n = this.ries.length;
    const box = fs.mkdtempSync(path.join(this.sandboxRoot, `${spec.name ?? 'rie'}-${n}-`));
    const dirs: SandboxDirs = { home: path.join(box, 'home'), tmp: path.join(box, 'tmp'), xdg: path.join(box, 'xdg'), overlayUppers: [] };
    for (const d of [dirs.home, dirs.tmp, dirs.xdg]) fs.mkdirSync(d, { mode: 0o700 });
    let bootstrap = BOOTSTRAP;
    const env: Record<string, string> = { ...this.handlerEnv(), HOME: dirs.home, TMPDIR: dirs.tmp, XDG_RUNTIME_DIR: dirs.xdg, ...spec.env };
    if (spec.watchDisk || spec.recordPid) {
      const wrapDir = path.join(box, 'task');
      fs.mkdirSync(wrapDir);
      bootstrap = path.join(wrapDir, 'bootstrap');
      if (spec.watchDisk) {
        const { uppers, wrapper } = overlayWrapper(path.join(box, 'overlay'));
        dirs.overlayUppers.push(...uppers);
        fs.writeFileSync(bootstrap, wrapper(BOOTSTRAP), { mode: 0o755 });
      } else {
        // exec keeps the pid: the pid written is the bootstrap's own.
        dirs.pidFile = path.join(box, 'pid');
        fs.writeFileSync(bootstrap, `#!/bin/sh\necho $$ >> "${dirs.pidFile}"\nexec "${BOOTSTRAP}" "$@"\n`, { mode: 0o755 });
      }
      dirs.cwd = wrapDir;
    }
    const rie = new Rie({ bootstrap, timeoutSeconds: spec.timeoutSeconds, logFile: path.join(this.dir, `handler-${spec.name ?? 'rie'}-${n}.log`), env });
    this.ries.push({ rie, dirs });
    await rie.start();
    return rie;
  }

  /** The sandbox folders of a RIE started with `newRie`. */
  sandboxOf(rie: Rie): SandboxDirs {
    const found = this.ries.find(r => r.rie === rie);
    if (!found) throw new Error('not a RIE started with newRie');
    return found.dirs;
  }

  /** The pids a `recordPid` sandbox's bootstrap started with, in order (a new one after each crash). */
  bootstrapPids(rie: Rie): number[] {
    const f = this.sandboxOf(rie).pidFile;
    if (!f || !fs.existsSync(f)) return [];
    return fs.readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map(Number);
  }

  /** Everything every handler started with `newRie` printed so far. */
  handlerLogs(): string {
    return this.ries.map(r => r.rie.log()).join('\n');
  }

  /** Files and folders the `newRie` handlers left in their HOME, TMPDIR, XDG_RUNTIME_DIR, cwd or overlaid /tmp and /var/tmp. */
  diskWrites(): string[] {
    const found: string[] = [];
    for (const { dirs } of this.ries) {
      for (const d of [dirs.home, dirs.tmp, dirs.xdg, ...dirs.overlayUppers]) found.push(...walk(d));
      if (dirs.cwd) found.push(...walk(dirs.cwd).filter(f => f !== path.join(dirs.cwd!, 'bootstrap')));
    }
    return found;
  }

  /** Clients for pushing test images and reading results, with write access everywhere. */
  hubClient(): RegistryClient { return new RegistryClient(this.hub.host, this.pki.caCert, this.hubPusher); }
  privClient(): RegistryClient { return new RegistryClient(this.priv.host, this.pki.caCert, this.privUser); }
  ecrClient(): RegistryClient { return new RegistryClient(this.ecr.host, this.pki.caCert, this.ecrLogin); }
  openClient(): RegistryClient { return new RegistryClient(this.open.host, this.pki.caCert); }

  /** Records a password and its Basic-auth form as secrets. */
  addCreds(user: string, password: string): void {
    this.secrets.add(password);
    this.secrets.add(Buffer.from(`${user}:${password}`).toString('base64'));
  }

  /** Synthesizes an example app and wraps its one ECR deployment resource. */
  async deployment(app: string, context: Record<string, unknown>, edit?: (props: Record<string, any>) => void): Promise<CustomResource> {
    const [res] = await synthExample(app, context);
    return this.resource(res, edit);
  }

  /** A custom resource driven through `on` (default: the World's RIE), from a synthesized resource with optional edits. */
  resource(res: SynthResource, edit?: (props: Record<string, any>) => void, on: Rie = this.rie): CustomResource {
    const copy: SynthResource = { ...res, properties: JSON.parse(JSON.stringify(res.properties)) };
    edit?.(copy.properties);
    return new CustomResource(on, this.receiver, copy);
  }

  /** The secret grep (leaks.ts) over every log file of this World and every response sent to CloudFormation. */
  leaks(): string[] {
    return findLeaks(this, logFiles(this.dir));
  }
}
