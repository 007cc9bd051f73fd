// Bad input at run time: properties the construct warns about or refuses at synth time (sent as hand-edited
// events, as any caller of the function could), unusable secrets, ECR tokens the registry or
// the ECR API refuses, a registry whose certificate comes from an unknown CA, and a registry
// that only speaks HTTP. Every case must give FAILED, before the function timeout, with a
// Reason containing an exact fragment; the destination must stay untouched; the rollback
// Delete must succeed; and no secret may reach any log. The synth-time half of the list is
// test/bad-input.test.ts.
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Token } from 'aws-cdk-lib';
import { SynthResource, synthExample } from '../harness/driver';
import { expectFailed, expectNothingHalfWritten, expectWellFormed, KiB } from '../harness/expect';
import { closeServer, listen } from '../harness/handles';
import { pushImage } from '../harness/images';
import { DUMMY_AWS } from '../harness/moto';
import { ECR_HOST, ECR_REGION, makePki } from '../harness/pki';
import { freePort, Proc, waitForPort } from '../harness/proc';
import { Registry } from '../harness/registry';
import { Rie } from '../harness/rie';
import { randomPassword, World } from '../harness/world';

const TIMEOUT = 60;
let fw: World;
let rie: Rie;
/** A handler whose ECR API (AWS_ENDPOINT_URL_ECR) is the fake below. */
let fakeEcrRie: Rie;
let fakeEcr: http.Server;
let fakeEcrMode: 'expired' | 'not-base64' | 'no-colon' = 'expired';
let rogue: Registry;
let plainHttp: Proc;
let plainHttpPort: number;
let asset: SynthResource;
const secretArns: Record<string, string> = {};
const tried: string[] = [];

async function createSecret(name: string, value: { SecretString?: string; SecretBinary?: Uint8Array }): Promise<string> {
  const sm = new SecretsManagerClient({
    region: ECR_REGION,
    endpoint: fw.moto.endpoint,
    credentials: { accessKeyId: DUMMY_AWS.AWS_ACCESS_KEY_ID, secretAccessKey: DUMMY_AWS.AWS_SECRET_ACCESS_KEY },
  });
  try {
    return (await sm.send(new CreateSecretCommand({ Name: name, ...value }))).ARN!;
  } finally { sm.destroy(); }
}

/** ECR's GetAuthorizationToken, answering as `fakeEcrMode` says. */
async function startFakeEcr(): Promise<number> {
  fakeEcr = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (fakeEcrMode === 'expired') {
        res.writeHead(400, { 'Content-Type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify({ __type: 'ExpiredTokenException', message: 'The security token included in the request is expired' }));
        return;
      }
      const token = fakeEcrMode === 'not-base64' ? '%%%this-is-not-base64%%%' : Buffer.from('AWS-without-a-colon').toString('base64');
      res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ authorizationData: [{ authorizationToken: token, expiresAt: 4102444800, proxyEndpoint: `https://${ECR_HOST}` }] }));
    });
  });
  return listen(fakeEcr, 'ECR API stand-in');
}

beforeAll(async () => {
  fw = await new World({ faults: true, rie: false }).start();
  const w = fw;
  const fakePort = await startFakeEcr();
  [rie, fakeEcrRie] = await Promise.all([
    fw.newRie({ timeoutSeconds: TIMEOUT, name: 'bad-input' }),
    fw.newRie({ timeoutSeconds: TIMEOUT, name: 'bad-input-fake-ecr', env: { AWS_ENDPOINT_URL_ECR: `http://127.0.0.1:${fakePort}` } }),
  ]);
  await pushImage(w.hubClient(), 'library/app', 'v1', { arch: 'amd64', layerSizes: [16 * KiB] });
  await pushImage(w.privClient(), 'team/app', '1.0', { arch: 'amd64', layerSizes: [16 * KiB] });
  [asset] = await synthExample('docker-image-asset', { src: `${w.hub.host}/library/app:v1`, dest: `${ECR_HOST}/bad:v1` });

  // A registry whose certificate is signed by a CA the handler does not trust.
  const roguePki = await makePki(path.join(w.dir, 'rogue-pki'));
  rogue = new Registry('rogue', path.join(w.dir, 'rogue'), roguePki, { kind: 'none' });
  await rogue.start();
  // A registry on plain HTTP (no TLS section at all).
  plainHttpPort = await freePort();
  const cfg = path.join(w.dir, 'plain-http.yml');
  fs.writeFileSync(cfg, [
    'version: 0.1', 'log:', '  level: info', 'storage:', '  filesystem:', `    rootdirectory: ${path.join(w.dir, 'plain-http-storage')}`,
    'http:', `  addr: 127.0.0.1:${plainHttpPort}`, '  secret: e2e-plain', '',
  ].join('\n'));
  plainHttp = new Proc('registry plain-http', 'docker-registry', ['serve', cfg], path.join(w.dir, 'plain-http.log'));
  await waitForPort(plainHttpPort, 'plain HTTP registry', plainHttp);

  secretArns.binary = await createSecret('bad/binary', { SecretBinary: Buffer.from([0x00, 0xff, 0x10, 0x80, 0x7f]) });
  const nameless = randomPassword('nameless');
  w.secrets.add(nameless);
  secretArns.noUsername = await createSecret('bad/no-username', { SecretString: JSON.stringify({ password: nameless }) });
  const userless = randomPassword('userless');
  w.secrets.add(userless);
  secretArns.noPassword = await createSecret('bad/no-password', { SecretString: JSON.stringify({ username: 'alice' }) });
  const opaque = randomPassword('opaque-token');
  w.secrets.add(opaque);
  secretArns.opaque = await createSecret('bad/opaque', { SecretString: opaque });
}, 180_000);

afterAll(async () => {
  process.stdout.write(`\nrun-time bad inputs tried: ${tried.length}\n${tried.map(t => `  ${t}`).join('\n')}\n`);
  await Promise.allSettled([rogue?.stop(), plainHttp?.stop(), fakeEcr ? closeServer(fakeEcr) : undefined]);
  await fw?.stop();
});

/** Create fails with the fragment, the destination is untouched, and the rollback Delete succeeds. */
async function expectRejected(res: SynthResource, fragment: string, opts: {
  on?: Rie; edit?: (p: Record<string, any>) => void; destRepo?: string; afterCreate?: (reason: string) => Promise<void>;
} = {}) {
  const d = fw.resource(res, opts.edit, opts.on ?? rie);
  const out = await d.create();
  expectFailed(out, TIMEOUT);
  expect(out.response.Reason).toContain(fragment);
  await opts.afterCreate?.(out.response.Reason!);
  expect(await expectNothingHalfWritten(fw.ecrClient(), opts.destRepo ?? 'bad', 'v1')).toBe('absent');
  const rollback = await d.delete();
  expect({ Status: rollback.response.Status, Reason: rollback.response.Reason }).toEqual({ Status: 'SUCCESS', Reason: undefined });
  expectWellFormed(rollback);
  expect(fw.leaks()).toEqual([]);
  tried.push(`${fragment}`);
}

const longTag = 'a'.repeat(129);

describe('properties the construct warns about (or refuses) at synth time, sent anyway', () => {
  test.each<[string, (p: Record<string, any>) => void, string]>([
    ['empty SrcImage', p => { p.SrcImage = ''; }, 'SrcImage: is required'],
    ['empty DestImage', p => { p.DestImage = ''; }, 'DestImage: is required'],
    // An unknown architecture only warns at synth time (upstream takes any string): the copy then
    // fails, naming what the source is and what ImageArch asked for.
    ['unknown architecture (warned at synth time)', p => { p.ImageArch = 'sparc'; },
      'is a single linux/amd64 image, not an index; ImageArch asks for sparc'],
    ['x86_64 is not an OCI architecture name (warned at synth time)', p => { p.ImageArch = 'amd64,x86_64'; },
      'is a single linux/amd64 image, not an index; ImageArch asks for amd64, x86_64'],
    ['an architecture that is no platform (warned at synth time)', p => { p.ImageArch = 'ARM64'; },
      'ImageArch: not a platform: "ARM64"; write arch, arch/variant or os/arch[/variant]'],
    ['negative retry delay', p => { p.RetryConfigs = '{"baseDelay":-1}'; }, 'RetryConfigs: baseDelay must be a number of at least 0, got -1'],
    ['fractional numAttempts', p => { p.RetryConfigs = '{"numAttempts":2.5}'; }, 'RetryConfigs: numAttempts must be a whole number, got 2.5'],
    ['unknown retry field', p => { p.RetryConfigs = '{"attempts":3}'; }, 'RetryConfigs: unknown field "attempts"; allowed: numAttempts, baseDelay, maxDelay'],
    // What upstream 4.2.65 synthesizes, ours synthesizes with a warning (issue 14); the handler refuses it.
    ['baseDelay above the default maxDelay', p => { p.RetryConfigs = '{"baseDelay":20}'; }, 'RetryConfigs: baseDelay (20) must not exceed maxDelay (10)'],
    ['a number token written by JSON.stringify', p => { p.RetryConfigs = JSON.stringify({ numAttempts: Token.asNumber({ resolve: () => 3 }) }); },
      'RetryConfigs: numAttempts must be a number of at least 1'],
    ['an invalid archImageTags tag', p => { p.CopyImageIndex = 'true'; p.ArchImageTags = '{"arm64":"not ok"}'; }, 'ArchImageTags: tag "not ok" for arm64 is not a valid tag'],
    ['a destination with a tag and a digest', p => { p.DestImage = `docker://${ECR_HOST}/bad:v1@sha256:${'b'.repeat(64)}`; },
      `DestImage: "docker://${ECR_HOST}/bad:v1@sha256:${'b'.repeat(64)}" has both a tag and a digest`],
    ['a short digest', p => { p.SrcImage = 'docker://nginx@sha256:1234'; }, 'SrcImage: "nginx@sha256:1234" is not a valid image reference'],
    ['a space in the source URI', p => { p.SrcImage = 'docker://nginx: latest'; }, 'SrcImage: "docker://nginx: latest" contains whitespace'],
    ['an upper-case repository', p => { p.DestImage = `docker://${ECR_HOST}/MyApp:v1`; }, `DestImage: "${ECR_HOST}/MyApp:v1": repository names must be lowercase`],
    ['an s3:// destination', p => { p.DestImage = 's3://bucket/image.tar'; }, 'DestImage: "s3://bucket/image.tar" must start with docker://'],
    ['an over-long destination tag', p => { p.DestImage = `docker://${ECR_HOST}/bad:${longTag}`; }, `DestImage: "${ECR_HOST}/bad:${longTag}" is not a valid image reference`],
    ['an over-long extra tag', p => { p.DestTags = JSON.stringify([longTag]); }, `DestTags: "${longTag}" is not a valid tag (max 128`],
    ['an unknown transport', p => { p.SrcImage = 'ftp://example.com/app.tar'; }, 'SrcImage: "ftp://example.com/app.tar" has an unsupported transport'],
    ['ImageArch with CopyImageIndex', p => { p.ImageArch = 'arm64'; p.CopyImageIndex = 'true'; }, 'ImageArch: cannot be combined with CopyImageIndex'],
    ['creds without a user', p => { p.SrcCreds = ':only-a-password'; }, 'SrcCreds: expected "user:password"'],
  ])('%s', async (_name, edit, fragment) => {
    await expectRejected(asset, fragment, { edit });
  });
});

describe('TLS verification cannot be turned off by a resource property', () => {
  test.each(['TlsVerify', 'SrcTlsVerify', 'DestTLSVerify', 'Insecure', 'InsecureSkipTLSVerify'])('%s: false is refused', async prop => {
    await expectRejected(asset, `unknown property "${prop}"`, { edit: p => { p[prop] = 'false'; } });
  });

  test('a registry whose certificate comes from an unknown CA', async () => {
    const [res] = await synthExample('docker-image-asset', { src: `${rogue.host}/library/app:v1`, dest: `${ECR_HOST}/bad:v1` });
    await expectRejected(res, 'x509: certificate signed by unknown authority');
  });

  test('a registry that only speaks HTTP', async () => {
    const [res] = await synthExample('docker-image-asset', { src: `127.0.0.1:${plainHttpPort}/library/app:v1`, dest: `${ECR_HOST}/bad:v1` });
    await expectRejected(res, 'server gave HTTP response to HTTPS client');
  });
});

describe('credentials', () => {
  const privSrc = () => `${fw.priv.host}/team/app:1.0`;
  test.each<[string, () => string, string]>([
    ['a binary secret', () => secretArns.binary, 'is binary; store "user:password" or {"username","password"} as a secret string'],
    ['a JSON secret without username', () => secretArns.noUsername, 'JSON is missing "username"'],
    ['a JSON secret without password', () => secretArns.noPassword, 'JSON is missing "password"'],
    ['a secret that is neither user:password nor JSON', () => secretArns.opaque, 'expected "user:password" or JSON {"username": ..., "password": ...}'],
  ])('%s', async (_name, arn, fragment) => {
    const [res] = await synthExample('private-registry-credentials', { src: privSrc(), dest: `${ECR_HOST}/bad:v1`, secretName: 'unused' });
    await expectRejected(res, fragment, { edit: p => { p.SrcCreds = arn(); } });
  });

  test('an ECR token the registry no longer accepts (expired)', async () => {
    const w = fw;
    const restore = () => w.ecr.setUsers({ [w.ecrLogin.user]: w.ecrLogin.password });
    await w.ecr.setUsers({ [w.ecrLogin.user]: randomPassword('rotated') });
    try {
      await expectRejected(asset, 'check DestCreds (or, for ECR, the handler role\'s permissions)', {
        afterCreate: async reason => {
          expect(reason).toMatch(new RegExp(`^unauthorized reading docker://${ECR_HOST.replace(/\./g, '\\.')}/bad:v1`));
          await restore(); // so that the destination can be checked with the current login
        },
      });
    } finally {
      await restore();
    }
  });

  test.each<['expired' | 'not-base64' | 'no-colon', string]>([
    ['expired', 'unauthorized: ecr:GetAuthorizationToken in us-east-1'],
    ['not-base64', 'ecr:GetAuthorizationToken returned a token that is not base64'],
    ['no-colon', 'ecr:GetAuthorizationToken returned a token that is not user:password'],
  ])('ECR API answers GetAuthorizationToken with: %s', async (mode, fragment) => {
    fakeEcrMode = mode;
    await expectRejected(asset, fragment, { on: fakeEcrRie });
  });
});
