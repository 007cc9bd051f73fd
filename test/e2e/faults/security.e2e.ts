// Security: the handler keeps credentials in memory only and out of every log.
// One handler runs in its own mount namespace with /tmp and /var/tmp overlaid (so any file it
// writes there is caught) and with empty HOME, TMPDIR and XDG_RUNTIME_DIR; it runs every kind
// of copy that handles a credential (anonymous bearer token, Basic auth from a user:password
// property and from Secrets Manager, ECR auto-login, an S3 archive, a delete, a refused
// password, a bare token taken for a secret name, a copy through 429s and resets) at
// LOG_LEVEL=debug. Afterwards nothing may have been
// written anywhere it could reach, and the grep over every log of the run (handler, registries,
// moto, proxies) and every response must find no password, token, secret value, Authorization
// header or ResponseURL signature. Both checks are first shown to catch a planted leak.
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { synthExample } from '../harness/driver';
import { expectCopied, expectFailed, KiB, layersOf } from '../harness/expect';
import { dockerSave, pushImage, PushedManifest } from '../harness/images';
import { findLeaks, logFiles, walk } from '../harness/leaks';
import { ECR_HOST } from '../harness/pki';
import { rmTree } from '../harness/proc';
import { Rie } from '../harness/rie';
import { canOverlayTmp, overlayWrapper, scratchOutsideTmp, World } from '../harness/world';

const TIMEOUT = 60;
let fw: World;
let rie: Rie;
let overlay: boolean;
let hubImage: PushedManifest;
let privImage: PushedManifest;

beforeAll(async () => {
  fw = await new World({ faults: true, rie: false }).start();
  overlay = canOverlayTmp();
  if (!overlay) process.stdout.write('\nno mount namespaces here: only HOME, TMPDIR, XDG_RUNTIME_DIR and the cwd are watched\n');
  rie = await fw.newRie({ timeoutSeconds: TIMEOUT, name: 'security', watchDisk: overlay });
  hubImage = await pushImage(fw.hubClient(), 'library/app', 'v1', { arch: 'amd64', layerSizes: [256 * KiB, 8 * KiB] });
  privImage = await pushImage(fw.privClient(), 'team/app', '1.0', { arch: 'amd64', layerSizes: [128 * KiB] });
}, 180_000);

afterAll(async () => { await fw?.stop(); });

const ecr = () => fw.ecrClient();

describe('the checks catch what they look for', () => {
  test('the secret grep finds a planted password, bearer token, Authorization header and signature', () => {
    const w = fw;
    const dir = scratchOutsideTmp('e2e-planted');
    try {
      const planted = path.join(dir, 'planted.log');
      fs.writeFileSync(planted, [
        `{"msg":"oops","pw":"${w.privUser.password}"}`,
        'Authorization: Basic YWxpY2U6c2VjcmV0cGFzc3dvcmQ=',
        '{"token":"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJwdXNoZXIifQ.c2lnbmF0dXJl"}',
        `PUT /cfn?X-Amz-Signature=${'ab'.repeat(32)}`,
      ].join('\n'));
      const found = findLeaks(w, [planted]).filter(f => f.endsWith('planted.log'));
      expect(found).toEqual(expect.arrayContaining([
        `${w.privUser.password.slice(0, 6)}… in planted.log`,
        'Authorization header in planted.log',
        'JWT in planted.log',
        'X-Amz-Signature in planted.log',
      ]));
    } finally { rmTree(dir); }
  });

  test('the overlaid /tmp and /var/tmp catch a write (when mount namespaces are available)', () => {
    const root = scratchOutsideTmp('e2e-control');
    try {
      if (!overlay) {
        // Then the machine really cannot mount in a namespace of ours (and the run said so).
        expect(canOverlayTmp()).toBe(false);
        return;
      }
      const { uppers, wrapper } = overlayWrapper(path.join(root, 'overlay'));
      const script = path.join(root, 'control.sh');
      const name = `e2e-control-${process.pid}-${Date.now()}`;
      fs.writeFileSync(path.join(root, 'write.sh'), `#!/bin/sh\necho x > /tmp/${name}\necho y > /var/tmp/${name}\n`, { mode: 0o755 });
      fs.writeFileSync(script, wrapper(path.join(root, 'write.sh')), { mode: 0o755 });
      execFileSync(script, { stdio: 'ignore' });
      expect(uppers.map(u => fs.readdirSync(u))).toEqual([[name], [name]]);
      expect(fs.existsSync(`/tmp/${name}`) || fs.existsSync(`/var/tmp/${name}`)).toBe(false);
    } finally { rmTree(root); }
  });
});

describe('every credential path, at LOG_LEVEL=debug', () => {
  test('anonymous bearer-token pull to the ECR destination via auto-login', async () => {
    const [res] = await synthExample('docker-image-asset', { src: `${fw.hub.host}/library/app:v1`, dest: `${ECR_HOST}/sec:anon` });
    const out = await fw.resource(res, undefined, rie).create();
    await expectCopied(out, ecr(), ECR_HOST, 'sec', 'anon', hubImage.digest);
  });

  test('Basic auth from user:password (with \':\' in it) and from a Secrets Manager JSON secret', async () => {
    const w = fw;
    const arn = await w.moto.createSecret('sec/json', JSON.stringify({ username: w.privUser.user, password: w.privUser.password }));
    for (const [tag, creds] of [['plain', `${w.colonUser.user}:${w.colonUser.password}`], ['secret', arn]]) {
      const [res] = await synthExample('private-registry-credentials', { src: `${w.priv.host}/team/app:1.0`, dest: `${ECR_HOST}/sec:${tag}`, secretName: 'unused' });
      const out = await fw.resource(res, p => { p.SrcCreds = creds; }, rie).create();
      await expectCopied(out, ecr(), ECR_HOST, 'sec', tag, privImage.digest);
    }
  });

  test('an S3 archive source (nothing spilled to disk)', async () => {
    const archive = dockerSave({ repoTags: ['app:latest'], arch: 'amd64', layerSizes: [512 * KiB, 8 * KiB] });
    await fw.moto.putObject('sec-images', 'app.tar', archive.tarball);
    const [res] = await synthExample('s3-archive', { archive: 'sec-images/app.tar', ref: 'app:latest', dest: `${ECR_HOST}/sec:s3` });
    const out = await fw.resource(res, undefined, rie).create();
    expect({ Status: out.response.Status, Reason: out.response.Reason }).toEqual({ Status: 'SUCCESS', Reason: undefined });
    expect((await ecr().getManifest('sec', 's3')).json.config.digest).toBe(archive.configDigest);
  });

  test('Create and Delete with RemovalPolicy destroy (credentials on the delete path too)', async () => {
    const w = fw;
    const [res] = await synthExample('private-registry-credentials', { src: `${w.priv.host}/team/app:1.0`, dest: `${w.open.host}/sec:gone`, secretName: 'unused' });
    const d = fw.resource(res, p => { p.SrcCreds = `${w.privUser.user}:${w.privUser.password}`; p.RemovalPolicy = 'destroy'; }, rie);
    await expectCopied(await d.create(), w.openClient(), w.open.host, 'sec', 'gone', privImage.digest);
    const del = await d.delete();
    expect({ Status: del.response.Status, Reason: del.response.Reason }).toEqual({ Status: 'SUCCESS', Reason: undefined });
    expect(await w.openClient().headManifest('sec', 'gone')).toBeUndefined();
  });

  test('a refused password', async () => {
    const w = fw;
    const wrong = `wrong-${w.privUser.password}`;
    w.secrets.add(wrong);
    const [res] = await synthExample('private-registry-credentials', { src: `${w.priv.host}/team/app:1.0`, dest: `${ECR_HOST}/sec:refused`, secretName: 'unused' });
    const mark = rie.log().length;
    const out = await fw.resource(res, p => { p.SrcCreds = `${w.privUser.user}:${wrong}`; }, rie).create();
    expectFailed(out, TIMEOUT, /unauthorized/, /check SrcCreds/);
    // Refused at the first read: not retried, not even with a new login (README: Retries).
    expect(rie.log().slice(mark)).not.toMatch(/logged in again|on new connections|"msg":"retrying"/);
    // The README's example Reason (When something fails), word for word up to the registry's
    // own error: what failed, for which image, and what to do.
    const prefix = `unauthorized reading docker://${w.priv.host}/team/app:1.0: check SrcCreds (or, for ECR, the handler role's permissions): `;
    expect(out.response.Reason?.slice(0, prefix.length)).toBe(prefix);
    expect(out.response.Reason!.length).toBeGreaterThan(prefix.length);
  });

  test('a bare token given as SrcCreds: read as a secret name, and never quoted', async () => {
    const w = fw;
    // A value without ':' names a Secrets Manager secret; none has this name.
    const token = `ghp_${crypto.randomBytes(18).toString('hex')}`;
    w.secrets.add(token);
    const [res] = await synthExample('private-registry-credentials', { src: `${w.priv.host}/team/app:1.0`, dest: `${ECR_HOST}/sec:token`, secretName: 'unused' });
    const out = await fw.resource(res, p => { p.SrcCreds = token; }, rie).create();
    expectFailed(out, TIMEOUT, /^not found: the secret named in SrcCreds was not found in Secrets Manager \(us-east-1\)/);
    expect(out.response.Reason).not.toContain(token.slice(4));
  });

  test('a copy through 429s and connection resets (retries log URLs at debug level)', async () => {
    const image = await pushImage(fw.hubClient(), 'library/flaky', 'v1', { arch: 'amd64', layerSizes: [256 * KiB, 8 * KiB] });
    const [big] = await layersOf(fw.hubClient(), 'library/flaky', 'v1');
    const r1 = fw.src.rule({ name: '429', method: 'GET', path: /^\/v2\/library\/flaky\/manifests\//, times: 2, fault: { kind: 'status', status: 429, headers: { 'Retry-After': '1' } } });
    const r2 = fw.src.rule({ name: 'reset', method: 'GET', path: new RegExp(`/blobs/${big.digest}$`), times: 1, fault: { kind: 'reset-download', afterBytes: 64 * KiB } });
    const r3 = fw.dest.rule({ name: 'reset upload', method: 'PATCH', path: /^\/v2\/sec-flaky\/blobs\/uploads\//, times: 1, fault: { kind: 'reset-upload', afterBytes: 64 * KiB } });
    try {
      const [res] = await synthExample('docker-image-asset', { src: `${fw.src.host}/library/flaky:v1`, dest: `${ECR_HOST}/sec-flaky:v1` });
      const out = await fw.resource(res, undefined, rie).create();
      await expectCopied(out, ecr(), ECR_HOST, 'sec-flaky', 'v1', image.digest);
      expect([r1.hits, r2.hits, r3.hits]).toEqual([2, 1, 1]);
    } finally {
      fw.src.clearRules();
      fw.dest.clearRules();
    }
  });
});

describe('afterwards', () => {
  test('no secret in any log line of the run or in any response: 0 hits', () => {
    const files = logFiles(fw.dir);
    // The handler, the registries, moto and both fault proxies all logged something.
    expect(files.map(f => path.basename(f))).toEqual(expect.arrayContaining(['handler-security-0.log', 'moto.log', 'fault-proxy-src.log', 'fault-proxy-dest.log']));
    expect(rie.log()).toMatch(/"level":"DEBUG"/);
    expect(findLeaks(fw, files)).toEqual([]);
  });

  test('the handler wrote nothing to disk: no auth.json, nothing under HOME, TMPDIR, XDG_RUNTIME_DIR, its cwd, /tmp or /var/tmp', () => {
    const [{ dirs }] = fw.ries;
    expect(dirs.overlayUppers.length).toBe(overlay ? 2 : 0);
    for (const d of [dirs.home, dirs.tmp, dirs.xdg, ...dirs.overlayUppers]) expect(fs.existsSync(d)).toBe(true);
    expect(fw.diskWrites()).toEqual([]);
    const everywhere = [dirs.home, dirs.tmp, dirs.xdg, ...dirs.overlayUppers].flatMap(walk);
    expect(everywhere.filter(f => /auth\.json$|config\.json$|\.docker|containers/.test(f))).toEqual([]);
  });
});

describe('the log format (README: "one JSON line per step")', () => {
  /** The emulator's own lines (its `[INFO] (rapid)` log and the START/END/REPORT lines Lambda writes too); everything else is the handler's. */
  const RIE_LINE = [
    /^\d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2}(,\d+)? \[[A-Z]+\] \((rapid|rie|runtime)\) /,
    /^(START|END|REPORT|INIT_START|INIT_REPORT) RequestId: /,
  ];

  /** Checks every line a handler printed; returns its own lines (JSON objects). */
  function expectOnlyJsonLines(log: string): any[] {
    const lines = log.split('\n').filter(l => l.trim() !== '');
    const rieLines = lines.filter(l => RIE_LINE.some(re => re.test(l)));
    const own = lines.filter(l => !RIE_LINE.some(re => re.test(l)));
    const parsed: any[] = [];
    const bad: string[] = [];
    for (const l of own) {
      try {
        const j = JSON.parse(l);
        if (typeof j === 'object' && j !== null && !Array.isArray(j) && typeof j.level === 'string' && typeof j.msg === 'string' && j.msg !== '') parsed.push(j);
        else bad.push(l);
      } catch {
        bad.push(l);
      }
    }
    // Counted, with a few examples: a diff of thousands of lines would help nobody.
    expect({ notJson: bad.length, examples: [...new Set(bad.map(l => l.slice(0, 200)))].slice(0, 5) }).toEqual({ notJson: 0, examples: [] });
    // The filter leaves out only the emulator's lines, so it cannot hide handler output.
    expect(rieLines.length).toBeGreaterThan(0);
    for (const l of rieLines) expect(l).not.toMatch(/^\s*\{/);
    return parsed;
  }

  test('every line the handler wrote in this suite (LOG_LEVEL=debug) is one JSON object with a level and a msg', () => {
    const own = expectOnlyJsonLines(rie.log());
    // The suite ran every kind of copy above, so there is a lot to check, at every level.
    expect(own.length).toBeGreaterThan(50);
    expect([...new Set(own.map(j => j.level))]).toEqual(expect.arrayContaining(['DEBUG', 'INFO', 'WARN', 'ERROR']));
  });

  test('the same at the default level (LOG_LEVEL=info), for a registry copy and an S3 archive copy', async () => {
    const info = await fw.newRie({ timeoutSeconds: TIMEOUT, name: 'info-level', env: { LOG_LEVEL: 'info' } });
    const [res] = await synthExample('docker-image-asset', { src: `${fw.hub.host}/library/app:v1`, dest: `${ECR_HOST}/sec-info:anon` });
    await expectCopied(await fw.resource(res, undefined, info).create(), ecr(), ECR_HOST, 'sec-info', 'anon', hubImage.digest);
    const archive = dockerSave({ repoTags: ['app:latest'], arch: 'amd64', layerSizes: [256 * KiB, 8 * KiB] });
    await fw.moto.putObject('sec-images', 'info.tar', archive.tarball);
    const [res2] = await synthExample('s3-archive', { archive: 'sec-images/info.tar', ref: 'app:latest', dest: `${ECR_HOST}/sec-info:s3` });
    const out = await fw.resource(res2, undefined, info).create();
    expect({ Status: out.response.Status, Reason: out.response.Reason }).toEqual({ Status: 'SUCCESS', Reason: undefined });
    const own = expectOnlyJsonLines(info.log());
    expect(own.length).toBeGreaterThan(0);
    expect(own.filter(j => j.level === 'DEBUG')).toEqual([]);
  });
});
