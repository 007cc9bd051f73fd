// Sources the README names that the other suites copy only *to*, and NO_PROXY:
//   - ECR as a source: the handler logs in to the ECR-style host itself (moto's
//     GetAuthorizationToken; the registry accepts only that password), host spelled in any case.
//   - ECR Public as a source: `public.ecr.aws/docker/library/nginx:latest`, reached by that name
//     through HTTPS_PROXY and served by the Docker-Hub-style registry (bearer tokens, anonymous
//     pull). The handler reads it anonymously; only when that is refused does it ask
//     ecr-public:GetAuthorizationToken (moto has no ECR Public API, so that second path runs
//     against a small awsJson1.1 stand-in on AWS_ENDPOINT_URL_ECR_PUBLIC).
//   - NO_PROXY: a registry named by a host name in NO_PROXY is reached directly, never through
//     HTTPS_PROXY; the same copy without that entry goes to the proxy (which refuses it).
// public.ecr.aws and the NO_PROXY host need certificates for their names: they are issued by
// the World's own CA (the one the handler trusts through SSL_CERT_FILE) and served by a
// pass-through fault proxy in front of the hub registry.
import * as dns from 'dns';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { CustomResource, synthExample } from './harness/driver';
import { expectCopied, expectFailed, expectNoLeaks } from './harness/expect';
import { FaultProxy, startFaultProxy } from './harness/fault-proxy';
import { closeServer, listen } from './harness/handles';
import { pushImage, PushedManifest } from './harness/images';
import { run } from './harness/proc';
import { PUBLIC_ECR_HOST } from './harness/proxy';
import { Rie } from './harness/rie';
import { World } from './harness/world';

const KiB = 1024;
let w: World;
const fronts: FaultProxy[] = [];
const servers: http.Server[] = [];

beforeAll(async () => { w = await new World().start(); }, 180_000);

afterAll(async () => {
  await Promise.allSettled(fronts.map(f => f.close()));
  await Promise.allSettled(servers.map(s => closeServer(s)));
  await w?.stop();
});

/** A certificate for `dnsName`, signed by the World's CA. */
async function certFor(dnsName: string): Promise<{ certFile: string; keyFile: string }> {
  const dir = fs.mkdtempSync(path.join(w.dir, 'cert-'));
  const p = (f: string) => path.join(dir, f);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${dnsName}`, '-keyout', p('key.pem'), '-out', p('csr.pem')]);
  fs.writeFileSync(p('ext'), `subjectAltName=DNS:${dnsName}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
  await run('openssl', ['x509', '-req', '-in', p('csr.pem'), '-CA', w.pki.caCert, '-CAkey', path.join(w.pki.dir, 'ca.key'),
    '-CAcreateserial', '-CAserial', p('serial'), '-days', '2', '-extfile', p('ext'), '-out', p('cert.pem')]);
  return { certFile: p('cert.pem'), keyFile: p('key.pem') };
}

/** The hub registry served under `dnsName` (TLS with a certificate for that name), listening on `listenHost`. */
async function hubAs(dnsName: string, listenHost = '127.0.0.1'): Promise<FaultProxy> {
  const { certFile, keyFile } = await certFor(dnsName);
  const front = await startFaultProxy({
    upstreamPort: () => w.hub.port,
    caFile: w.pki.caCert,
    certFile,
    keyFile,
    listenHost,
    // The hub registry's own certificate is for localhost, not for the name served here.
    upstreamName: 'localhost',
    logFile: path.join(w.dir, `front-${dnsName}.log`),
  });
  fronts.push(front);
  return front;
}

/** Another handler (a second warm sandbox) with the World's environment plus `env`. */
async function rieWith(name: string, env: Record<string, string>): Promise<Rie> {
  return w.newRie({ timeoutSeconds: 900, name, env });
}

/** The docker-image-asset example's deployment, driven through `rie`. */
async function deployment(rie: Rie, src: string, dest: string): Promise<CustomResource> {
  const [res] = await synthExample('docker-image-asset', { src, dest });
  return new CustomResource(rie, w.receiver, res);
}

describe('ECR as a source', () => {
  let image: PushedManifest;
  beforeAll(async () => {
    image = await pushImage(w.ecrClient(), 'team/base', '1.0', { arch: 'amd64', layerSizes: [256 * KiB, 16 * KiB] });
  });

  test('copies FROM the ECR-style host with auto-login (no SrcCreds), the host name in any case', async () => {
    const open = w.openClient();
    // A repository of its own per spelling, so that each copy reads every blob.
    for (const [host, repo] of [[w.ecrHost, 'from-ecr'], [w.ecrHost.toUpperCase(), 'from-ecr-upper']]) {
      const d = await w.deployment('docker-image-asset', { src: `${host}/team/base:1.0`, dest: `${w.open.host}/${repo}:1.0` });
      expect(d.properties.SrcCreds).toBeUndefined();
      w.ecr.markLog();
      const connectsBefore = w.proxy.connects.length;
      const out = await d.create();
      await expectCopied(out, open, w.open.host, repo, '1.0', image.digest);
      // The source really was read from the ECR-style registry (which accepts only moto's
      // token), through HTTPS_PROXY by its ECR name.
      const reads = w.ecr.accessLog().filter(e => e.method === 'GET' && e.status === 200 && e.path.startsWith('/v2/team/base/'));
      expect(reads.some(e => /\/blobs\/sha256:/.test(e.path))).toBe(true);
      // The CONNECT carries the name as spelled (upper case included); the proxy matches it as DNS does.
      expect(w.proxy.connects.slice(connectsBefore)).toContain(`${host}:443`);
    }
    expect(w.proxy.refused).toEqual([]);
    expectNoLeaks(w);
  });
});

describe('ECR Public as a source', () => {
  let image: PushedManifest;
  let front: FaultProxy;
  beforeAll(async () => {
    image = await pushImage(w.hubClient(), 'docker/library/nginx', 'latest', { arch: 'amd64', layerSizes: [192 * KiB, 8 * KiB] });
    front = await hubAs(PUBLIC_ECR_HOST);
    w.proxy.route(PUBLIC_ECR_HOST, front.port);
  });

  test('public.ecr.aws/docker/library/nginx:latest copies anonymously (no SrcCreds, no login)', async () => {
    const d = await w.deployment('docker-image-asset', { src: 'public.ecr.aws/docker/library/nginx:latest', dest: `${w.ecrHost}/nginx:latest` });
    expect(d.properties.SrcImage).toBe('docker://public.ecr.aws/docker/library/nginx:latest');
    expect(d.properties.SrcCreds).toBeUndefined();
    const issued = { ...w.tokenServer.issued };
    const connectsBefore = w.proxy.connects.length;
    const out = await d.create();
    await expectCopied(out, w.ecrClient(), w.ecrHost, 'nginx', 'latest', image.digest);
    expect(w.proxy.connects.slice(connectsBefore)).toContain(`${PUBLIC_ECR_HOST}:443`);
    // Read through public.ecr.aws: its manifest and blobs went through the front for that name.
    expect(front.events.filter(e => e.method === 'GET' && e.status === 200 && e.path.startsWith('/v2/docker/library/nginx/blobs/')).length)
      .toBeGreaterThan(0);
    // Anonymously: the token service issued anonymous pull tokens only, and no 401 was refused.
    expect(w.tokenServer.issued.anonymous).toBeGreaterThan(issued.anonymous);
    expect(w.tokenServer.issued.authenticated).toBe(issued.authenticated);
    expect(w.tokenServer.issued.refused).toBe(issued.refused);
    expectNoLeaks(w);
  });

  test('an anonymous read that is refused falls back to an ecr-public:GetAuthorizationToken login', async () => {
    // ECR Public's API as the handler's AWS SDK sees it (awsJson1.1 on AWS_ENDPOINT_URL_ECR_PUBLIC):
    // its token is user:password for the hub's token service, which then issues an authenticated token.
    const asked: { target: string; scope: string }[] = [];
    const api = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        asked.push({ target: String(req.headers['x-amz-target'] ?? ''), scope: /Credential=[^/]+\/\d+\/([^/]+\/[^/]+)\//.exec(String(req.headers.authorization ?? ''))?.[1] ?? '' });
        const token = Buffer.from(`${w.hubPusher.user}:${w.hubPusher.password}`).toString('base64');
        res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify({ authorizationData: { authorizationToken: token, expiresAt: Math.floor(Date.now() / 1000) + 3600 } }));
      });
    });
    servers.push(api);
    const apiPort = await listen(api, 'ECR Public API stand-in');
    const rie = await rieWith('ecr-public-login', { AWS_ENDPOINT_URL_ECR_PUBLIC: `http://127.0.0.1:${apiPort}` });
    // The first manifest GET is refused as a registry refuses an anonymous caller.
    const refuse = front.rule({
      name: 'anonymous refused',
      method: 'GET',
      path: /^\/v2\/docker\/library\/nginx\/manifests\//,
      times: 1,
      fault: { kind: 'status', status: 401, body: JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }) },
    });
    try {
      const d = await deployment(rie, 'public.ecr.aws/docker/library/nginx:latest', `${w.ecrHost}/nginx:login`);
      const issued = { ...w.tokenServer.issued };
      const out = await d.create();
      await expectCopied(out, w.ecrClient(), w.ecrHost, 'nginx', 'login', image.digest);
      expect(refuse.hits).toBe(1);
      expect(asked).toEqual([{ target: 'SpencerFrontendService.GetAuthorizationToken', scope: 'us-east-1/ecr-public' }]);
      expect(w.tokenServer.issued.authenticated).toBeGreaterThan(issued.authenticated);
      expectNoLeaks(w);
    } finally {
      front.clearRules();
    }
  });
});

describe('NO_PROXY', () => {
  // A host name that resolves on this machine but is not `localhost` (Go never proxies
  // `localhost` or loopback IP literals, whatever NO_PROXY says): the machine's own name.
  const name = os.hostname().toLowerCase();
  let addr: string;
  let front: FaultProxy;
  let image: PushedManifest;

  beforeAll(async () => {
    if (!name || name === 'localhost' || net.isIP(name)) throw new Error(`the machine's host name (${name}) cannot stand for a registry host`);
    addr = (await dns.promises.lookup(name, { family: 4 })).address;
    front = await hubAs(name, addr);
    image = await pushImage(w.hubClient(), 'library/noproxy', 'v1', { arch: 'amd64', layerSizes: [128 * KiB] });
  });

  test('a registry named in NO_PROXY is reached directly; without it the handler goes through HTTPS_PROXY', async () => {
    const src = `${name}:${front.port}/library/noproxy:v1`;
    const target = `${name}:${front.port}`;
    const direct = await rieWith('no-proxy', { NO_PROXY: `127.0.0.1,localhost,${name}` });

    const connectsBefore = w.proxy.connects.length;
    const out = await (await deployment(direct, src, `${w.ecrHost}/noproxy:direct`)).create();
    await expectCopied(out, w.ecrClient(), w.ecrHost, 'noproxy', 'direct', image.digest);
    const connects = w.proxy.connects.slice(connectsBefore).map(c => c.toLowerCase());
    expect(connects.filter(c => c === target)).toEqual([]);
    // HTTPS_PROXY is still used for everything else (the ECR-style destination).
    expect(connects).toContain(`${w.ecrHost}:443`);
    // And the source really was read, at the front for that name.
    expect(front.events.some(e => e.method === 'GET' && e.status === 200 && e.path.startsWith('/v2/library/noproxy/blobs/'))).toBe(true);

    // Control: the World's handler has NO_PROXY=127.0.0.1,localhost only; the same source then goes
    // to the proxy, which refuses any host it does not stand in for.
    const refusedBefore = w.proxy.refused.length;
    const ctl = await (await deployment(w.rie, src, `${w.ecrHost}/noproxy:via-proxy`)).create();
    expectFailed(ctl, w.rie.timeoutSeconds / 4, new RegExp(`docker://${name}:${front.port}/library/noproxy:v1`));
    expect(w.proxy.refused.slice(refusedBefore).map(c => c.toLowerCase())).toContain(target);
    expect(await w.ecrClient().headManifest('noproxy', 'via-proxy')).toBeUndefined();
    expectNoLeaks(w);
  });
});
