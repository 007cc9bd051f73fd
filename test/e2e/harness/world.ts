// The whole stand-in for AWS and the registries, started and stopped as one:
//   hub     Docker-Hub style: TLS + bearer tokens (anonymous pull, push needs creds)
//   private TLS + htpasswd (bcrypt)
//   ecr     TLS + htpasswd for user AWS and moto's GetAuthorizationToken password,
//           reached as 123456789012.dkr.ecr.us-east-1.amazonaws.com through the CONNECT proxy
//   open    TLS, no auth, addressed as 127.0.0.1:PORT
// plus moto (ECR API, Secrets Manager, S3), the ResponseURL receiver and the RIE running the
// shipped bootstrap. Every password, token and ResponseURL signature is recorded for the grep.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { CustomResource, synthExample, SynthResource } from './driver';
import { DUMMY_AWS, Moto } from './moto';
import { ECR_HOST, makePki, Pki } from './pki';
import { REPO_ROOT, rmTree, tempDir } from './proc';
import { ConnectProxy, startConnectProxy } from './proxy';
import { Receiver, startReceiver } from './receiver';
import { Registry } from './registry';
import { RegistryClient } from './registry-client';
import { Rie } from './rie';
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

    this.proxy = await startConnectProxy(() => this.ecr.port, () => ({ [DOCKER_HUB_HOST]: this.hub.port }));
    this.receiver = await startReceiver();
    if (this.opts.rie !== false) {
      this.rie = new Rie({
        bootstrap: this.opts.handlerArch === 'arm64' ? armBootstrap(this.dir) : this.opts.bootstrap,
        timeoutSeconds: this.opts.timeoutSeconds ?? 900,
        logFile: path.join(this.dir, 'handler.log'),
        env: {
          ...DUMMY_AWS,
          AWS_DEFAULT_REGION: DUMMY_AWS.AWS_REGION,
          AWS_ENDPOINT_URL: this.moto.endpoint,
          SSL_CERT_FILE: this.pki.caCert,
          HTTPS_PROXY: this.proxy.url,
          NO_PROXY: '127.0.0.1,localhost',
          // The most verbose level: a secret printed at any level must show up in the grep.
          LOG_LEVEL: 'debug',
          ...this.opts.env,
        },
      });
      await this.rie.start();
    }
    return this;
  }

  async stop(): Promise<void> {
    const closers: Promise<unknown>[] = [];
    for (const c of [this.rie, this.hub, this.priv, this.ecr, this.open, this.moto]) if (c) closers.push(c.stop());
    for (const c of [this.proxy, this.receiver, this.tokenServer]) if (c) closers.push(c.close());
    await Promise.allSettled(closers);
    rmTree(this.dir);
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

  resource(res: SynthResource, edit?: (props: Record<string, any>) => void): CustomResource {
    const copy: SynthResource = { ...res, properties: JSON.parse(JSON.stringify(res.properties)) };
    edit?.(copy.properties);
    return new CustomResource(this.rie, this.receiver, copy);
  }

  /**
   * Every recorded secret (passwords, secret values, ECR token and password, ResponseURL
   * signatures) found in the handler's output or in any response sent to CloudFormation.
   */
  leaks(): string[] {
    const haystacks = [this.rie?.log() ?? '', JSON.stringify([...this.receiver.responses.values()])];
    const needles = [...this.secrets, ...this.receiver.signatures];
    const found: string[] = [];
    for (const n of needles) {
      const variants = [n, encodeURIComponent(n), Buffer.from(n).toString('base64')];
      if (variants.some(v => haystacks.some(h => h.includes(v)))) found.push(n.slice(0, 6) + '…');
    }
    return found;
  }
}
