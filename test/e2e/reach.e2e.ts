// The AWS reach of typed images, end to end through the shipped bootstrap under the RIE:
//   - Cross-account destination: examples/cross-account.ts (DestRoleArn). "Their" account's
//     registry, 999999999999.dkr.ecr.us-east-1.amazonaws.com, accepts only the password moto's
//     GetAuthorizationToken gives a caller of account 999999999999, which the handler has only
//     if it assumed the role through moto's STS. moto's own record of the AssumeRole call (its
//     /moto-api/data.json) is checked too, and the assumed credentials join the secret grep.
//   - Pull-through cache source: examples/pull-through-cache.ts. Debian's docker-registry in
//     its proxy (pull-through) mode, with htpasswd for moto's ECR password, serves
//     111122223333.dkr.ecr.us-east-1.amazonaws.com in front of the hub-style registry. The first
//     copy imports the image (the hub's access log shows the blob GETs); a second copy is served
//     from the cache (no new blob GET upstream).
// Both hosts get a certificate from the World's CA and are routed by the CONNECT proxy.
import * as fs from 'fs';
import * as path from 'path';
import { expectCopied, expectFailed, expectNoLeaks } from './harness/expect';
import { pushImage } from './harness/images';
import { freePort, Proc, run, waitForPort } from './harness/proc';
import { Registry } from './harness/registry';
import { RegistryClient } from './harness/registry-client';
import { World } from './harness/world';

const KiB = 1024;
const THEIR_ACCOUNT = '999999999999';
const THEIR_HOST = `${THEIR_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`;
const THEIR_ROLE = `arn:aws:iam::${THEIR_ACCOUNT}:role/ecr-pusher`;
// moto answers GetAuthorizationToken with "<caller's account>-auth-token".
const THEIR_LOGIN = { user: 'AWS', password: `${THEIR_ACCOUNT}-auth-token` };
const CACHE_ACCOUNT = '111122223333';
const CACHE_HOST = `${CACHE_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`;

let w: World;
let cert: { certFile: string; keyFile: string };
const procs: Proc[] = [];
const registries: Registry[] = [];

beforeAll(async () => {
  w = await new World().start();
  cert = await certFor([THEIR_HOST, CACHE_HOST]);
}, 180_000);

afterAll(async () => {
  await Promise.allSettled(procs.map(p => p.stop()));
  await Promise.allSettled(registries.map(r => r.stop()));
  await w?.stop();
});

/** A server certificate for `names` (and 127.0.0.1), signed by the World's CA. */
async function certFor(names: string[]): Promise<{ certFile: string; keyFile: string }> {
  const dir = fs.mkdtempSync(path.join(w.dir, 'cert-'));
  const p = (f: string) => path.join(dir, f);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${names[0]}`, '-keyout', p('key.pem'), '-out', p('csr.pem')]);
  const san = [...names.map(n => `DNS:${n}`), 'IP:127.0.0.1'].join(',');
  fs.writeFileSync(p('ext'), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
  await run('openssl', ['x509', '-req', '-in', p('csr.pem'), '-CA', w.pki.caCert, '-CAkey', path.join(w.pki.dir, 'ca.key'),
    '-CAcreateserial', '-CAserial', p('serial'), '-days', '2', '-extfile', p('ext'), '-out', p('cert.pem')]);
  return { certFile: p('cert.pem'), keyFile: p('key.pem') };
}

/** What moto recorded of sts:AssumeRole calls. */
interface AssumedRole { role_arn: string; session_name: string; access_key_id: string; secret_access_key: string; session_token: string }

async function assumedRoles(): Promise<AssumedRole[]> {
  const res = await fetch(`${w.moto.endpoint}/moto-api/data.json`);
  const data: any = await res.json();
  return data.sts?.AssumedRole ?? [];
}

describe('cross-account destination (DestRoleArn)', () => {
  let theirs: Registry;
  beforeAll(async () => {
    theirs = new Registry('theirs', path.join(w.dir, 'theirs'), { ...w.pki, serverCert: cert.certFile, serverKey: cert.keyFile },
      { kind: 'htpasswd', users: { [THEIR_LOGIN.user]: THEIR_LOGIN.password } });
    registries.push(theirs);
    await theirs.start();
    w.proxy.route(THEIR_HOST, theirs.port);
    w.addCreds(THEIR_LOGIN.user, THEIR_LOGIN.password);
  });

  test('the handler assumes the role, logs in to their registry with it, and copies; no assumed credential is printed', async () => {
    const image = await pushImage(w.openClient(), 'web/app', '1.0', { arch: 'amd64', layerSizes: [128 * KiB, 8 * KiB] });
    const d = await w.deployment('cross-account', { src: `${w.open.host}/web/app:1.0`, repository: 'shared/web' });
    expect(d.properties.DestImage).toBe(`docker://${THEIR_HOST}/shared/web:v1`);
    expect(d.properties.DestRoleArn).toBe(THEIR_ROLE);

    // Without the role, the handler's own login is refused by their registry: the check below can fail.
    const own = w.resource({ stackName: 'CrossAccountExample', logicalId: 'NoRole', properties: d.properties }, p => { delete p.DestRoleArn; });
    expectFailed(await own.create(), 900, /unauthori[sz]ed|authentication required|401/i);
    expect(await new RegistryClient(theirs.host, w.pki.caCert, THEIR_LOGIN).headManifest('shared/web', 'v1')).toBeUndefined();

    const before = (await assumedRoles()).length;
    const out = await d.create();
    await expectCopied(out, new RegistryClient(theirs.host, w.pki.caCert, THEIR_LOGIN), THEIR_HOST, 'shared/web', 'v1', image.digest);

    const assumed = (await assumedRoles()).slice(before);
    expect(assumed.map(a => ({ role: a.role_arn, session: a.session_name }))).toEqual([{ role: THEIR_ROLE, session: 'cdk-ecr-deployment' }]);
    for (const a of assumed) {
      for (const s of [a.access_key_id, a.secret_access_key, a.session_token]) w.secrets.add(s);
    }
    expectNoLeaks(w);
  });
});

describe('pull-through cache source', () => {
  let cache: { port: number; proc: Proc };
  beforeAll(async () => {
    // Debian's docker-registry in proxy mode: it pulls what it does not hold from remoteurl and
    // keeps it. It does not strip a prefix as ECR does (docker-hub/library/nginx reads
    // upstream library/nginx), so the upstream holds the image under the full path.
    const dir = path.join(w.dir, 'cache');
    fs.mkdirSync(path.join(dir, 'storage'), { recursive: true });
    const htpasswd = path.join(dir, 'htpasswd');
    fs.writeFileSync(htpasswd, (await run('htpasswd', ['-Bbn', w.ecrLogin.user, w.ecrLogin.password])).trim() + '\n');
    const port = await freePort();
    const config = path.join(dir, 'config.yml');
    fs.writeFileSync(config, [
      'version: 0.1',
      'log:',
      '  level: info',
      '  accesslog:',
      '    disabled: false',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${path.join(dir, 'storage')}`,
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '  secret: e2e-cache',
      '  tls:',
      `    certificate: ${cert.certFile}`,
      `    key: ${cert.keyFile}`,
      '  debug:',
      '    addr: ""',
      'auth:',
      '  htpasswd:',
      '    realm: basic-realm',
      `    path: ${htpasswd}`,
      'proxy:',
      `  remoteurl: https://${w.hub.host}`,
      '',
    ].join('\n'));
    // The cache reaches the hub and its token service over TLS from our CA.
    const proc = new Proc('registry cache', 'docker-registry', ['serve', config], path.join(dir, 'registry.log'),
      { env: { ...process.env, SSL_CERT_FILE: w.pki.caCert } });
    procs.push(proc);
    await waitForPort(port, 'registry cache', proc);
    cache = { port, proc };
    w.proxy.route(CACHE_HOST, port);
  });

  test('the first copy imports the image from upstream, the second is served from the cache', async () => {
    const image = await pushImage(w.hubClient(), 'docker-hub/library/nginx', '1.27', { arch: 'amd64', layerSizes: [160 * KiB, 8 * KiB] });
    const blobGets = () => w.hub.accessLog().filter(e => e.method === 'GET' && /^\/v2\/docker-hub\/library\/nginx\/blobs\/sha256:/.test(e.path));

    const copy = async (dest: string) => {
      const d = await w.deployment('pull-through-cache', { cacheAccount: CACHE_ACCOUNT, tag: '1.27', dest: `${w.open.host}/${dest}:1.27` });
      expect(d.properties.SrcImage).toBe(`docker://${CACHE_HOST}/docker-hub/library/nginx:1.27`);
      return d.create();
    };

    w.hub.markLog();
    const first = await copy('first');
    await expectCopied(first, w.openClient(), w.open.host, 'first', '1.27', image.digest);
    // Imported: the cache read every blob from upstream.
    expect(blobGets().filter(e => e.status === 200).length).toBeGreaterThanOrEqual(2);
    // The cache really was in the path, as the ECR host.
    expect(cache.proc.log()).toMatch(/GET \/v2\/docker-hub\/library\/nginx\/blobs\/sha256:/);

    w.hub.markLog();
    const cacheBlobGets = () => (cache.proc.log().match(/"GET \/v2\/docker-hub\/library\/nginx\/blobs\/sha256:[0-9a-f]{64} HTTP\/[\d.]+" 200 /g) ?? []).length;
    const servedBefore = cacheBlobGets();
    // Another destination repository, so the handler reads every blob again (from the cache).
    const second = await copy('second');
    await expectCopied(second, w.openClient(), w.open.host, 'second', '1.27', image.digest);
    expect(blobGets()).toEqual([]);
    expect(cacheBlobGets()).toBeGreaterThanOrEqual(servedBefore + 2);
    expect(w.proxy.refused).toEqual([]);
    expectNoLeaks(w);
  });
});
