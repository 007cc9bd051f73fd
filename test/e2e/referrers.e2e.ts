// copyReferrers and destManifestFormat through the shipped bootstrap, checked with the real
// tools: an image signed with cosign (a key pair, no transparency log) and given an SBOM by
// oras attach (an OCI 1.1 referrer with a subject) on the open registry; after the copy into
// the ECR-style registry (auto-login, through the CONNECT proxy), `cosign verify` and
// `oras discover` run against the destination. (The public-style registry is not the source:
// its token realm is plain http, which oras refuses for an https registry.)
//
// Debian's docker-registry (distribution 2.8) has no referrers API, so both ends hold
// referrers in the referrers tag schema (sha256-<hex> index tags): that is the path this
// suite exercises. The API path is covered by the Go test TestCopyReferrersAPI.
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { promisify } from 'util';
import { expectCopied, expectNoLeaks } from './harness/expect';
import { pushImage, PushedManifest } from './harness/images';
import { ECR_HOST } from './harness/pki';
import { REPO_ROOT, tempDir } from './harness/proc';
import { MT, RegistryClient } from './harness/registry-client';
import { World } from './harness/world';

const run = promisify(execFile);
const TOOLS = path.join(REPO_ROOT, '.tools', 'bin');
const SBOM_TYPE = 'application/spdx+json';

let w: World;
let ecr: RegistryClient;
let image: PushedManifest;
let sbomDigest: string;
let env: NodeJS.ProcessEnv;
let keyDir: string;

/** Runs a tool from .tools/bin with the scratch HOME (docker config) and the test CA. */
async function tool(name: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string }> {
  try {
    const opts = { env: { ...env, ...extraEnv }, cwd: keyDir, maxBuffer: 16 * 1024 * 1024, timeout: 120_000 };
    const { stdout, stderr } = await run(path.join(TOOLS, name), args, opts);
    return { code: 0, out: stdout + stderr };
  } catch (e: any) {
    return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}${e.message ?? ''}` };
  }
}

async function mustTool(name: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await tool(name, args, extraEnv);
  if (r.code !== 0) throw new Error(`${name} ${args.join(' ')} failed (${r.code}):\n${r.out}`);
  return r.out;
}

/** Every object with a digest anywhere in oras discover's JSON output. */
function descriptors(v: any): { digest: string; artifactType?: string }[] {
  if (Array.isArray(v)) return v.flatMap(descriptors);
  if (v && typeof v === 'object') {
    const own = typeof v.digest === 'string' ? [{ digest: v.digest, artifactType: v.artifactType }] : [];
    return [...own, ...Object.values(v).flatMap(descriptors)];
  }
  return [];
}

beforeAll(async () => {
  for (const t of ['cosign', 'oras']) {
    if (!fs.existsSync(path.join(TOOLS, t))) throw new Error(`${TOOLS}/${t} is missing: run bash scripts/setup.sh`);
  }
  w = await new World().start();
  ecr = w.ecrClient();
  image = await pushImage(w.openClient(), 'src/signed', 'v1', { arch: 'amd64', layerSizes: [64 * 1024, 1024] });

  // A scratch HOME: the docker config holds the ECR-style registry's login for cosign and oras;
  // the open registry takes anyone. The ECR host is reached through the CONNECT proxy.
  keyDir = tempDir('referrers');
  const home = path.join(keyDir, 'home');
  fs.mkdirSync(path.join(home, '.docker'), { recursive: true });
  const auth = Buffer.from(`${w.ecrLogin.user}:${w.ecrLogin.password}`).toString('base64');
  fs.writeFileSync(path.join(home, '.docker', 'config.json'), JSON.stringify({ auths: { [ECR_HOST]: { auth } } }));
  env = {
    PATH: process.env.PATH,
    HOME: home,
    DOCKER_CONFIG: path.join(home, '.docker'),
    SSL_CERT_FILE: w.pki.caCert,
    HTTPS_PROXY: w.proxy.url,
    NO_PROXY: '127.0.0.1,localhost',
    COSIGN_PASSWORD: '',
    COSIGN_YES: 'true',
  };

  await mustTool('cosign', ['generate-key-pair']);
  const ref = `${w.open.host}/src/signed@${image.digest}`;
  await mustTool('cosign', ['sign', '--key', 'cosign.key', '--tlog-upload=false', '-y', ref]);
  fs.writeFileSync(path.join(keyDir, 'sbom.spdx.json'), JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'signed' }));
  const attached = await mustTool('oras', ['attach', '--artifact-type', SBOM_TYPE, '--format', 'json', ref, `sbom.spdx.json:${SBOM_TYPE}`]);
  sbomDigest = JSON.parse(attached.slice(attached.indexOf('{'))).digest;
  expect(sbomDigest).toMatch(/^sha256:[0-9a-f]{64}$/);

  // The source holds what the tests expect: the signature verifies there, oras finds the SBOM.
  await mustTool('cosign', ['verify', '--key', 'cosign.pub', '--insecure-ignore-tlog=true', ref]);
  const found = descriptors(JSON.parse(await mustTool('oras', ['discover', '--format', 'json', ref])));
  expect(found.map(d => d.digest)).toContain(sbomDigest);
}, 300_000);

afterAll(async () => { await w?.stop(); });

test('R1. copyReferrers: cosign verify and oras discover succeed at the destination; without it, verify fails there', async () => {
  // Control first: the same copy without copyReferrers.
  const plain = await w.deployment('docker-image-asset', { src: `${w.open.host}/src/signed:v1`, dest: `${ECR_HOST}/plain:v1` });
  expect(plain.properties.CopyReferrers).toBeUndefined();
  await expectCopied(await plain.create(), ecr, ECR_HOST, 'plain', 'v1', image.digest);
  const unsigned = await tool('cosign', ['verify', '--key', 'cosign.pub', '--insecure-ignore-tlog=true', `${ECR_HOST}/plain@${image.digest}`]);
  expect(unsigned.code).not.toBe(0);
  expect(unsigned.out).toMatch(/no signatures found|no matching signatures/i);

  const d = await w.deployment('docker-image-asset', { src: `${w.open.host}/src/signed:v1`, dest: `${ECR_HOST}/signed:v1` },
    p => { p.CopyReferrers = true; });
  expect(d.properties.CopyReferrers).toBe(true);
  const out = await d.create();
  await expectCopied(out, ecr, ECR_HOST, 'signed', 'v1', image.digest);

  const dest = `${ECR_HOST}/signed@${image.digest}`;
  const verified = await tool('cosign', ['verify', '--key', 'cosign.pub', '--insecure-ignore-tlog=true', dest]);
  expect({ code: verified.code, out: verified.code === 0 ? '' : verified.out }).toEqual({ code: 0, out: '' });
  const found = descriptors(JSON.parse(await mustTool('oras', ['discover', '--format', 'json', dest])));
  expect(found).toContainEqual(expect.objectContaining({ digest: sbomDigest, artifactType: SBOM_TYPE }));
  // One referrer (the SBOM) and one cosign tag (.sig), as the handler logs them.
  expect(w.rie.log()).toMatch(/"msg":"referrers copied","referrers":1,"cosign_tags":1,"listed_but_missing":0/);
  // The tag schema's index at the destination names the SBOM (docker-registry has no referrers API).
  const tagIndex = await ecr.getManifest('signed', image.digest.replace(':', '-'));
  expect(tagIndex.mediaType).toBe(MT.ociIndex);
  expect(tagIndex.json.manifests.map((m: any) => m.digest)).toContain(sbomDigest);
  expectNoLeaks(w);
});

test('R2. destManifestFormat oci converts a Docker v2s2 image: new digest, reported in Data; the default keeps the source digest', async () => {
  expect(image.mediaType).toBe(MT.dockerManifest);
  const d = await w.deployment('docker-image-asset', { src: `${w.open.host}/src/signed:v1`, dest: `${ECR_HOST}/converted:v1` },
    p => { p.DestManifestFormat = 'oci'; });
  const out = await d.create();
  expect({ Status: out.response.Status, Reason: out.response.Reason }).toEqual({ Status: 'SUCCESS', Reason: undefined });
  const m = await ecr.getManifest('converted', 'v1');
  expect(m.mediaType).toBe(MT.ociManifest);
  expect(m.digest).not.toBe(image.digest);
  await expectCopied(out, ecr, ECR_HOST, 'converted', 'v1', m.digest);
  expect(w.rie.log()).toMatch(/DestManifestFormat asks for a conversion/);

  const kept = await w.deployment('docker-image-asset', { src: `${w.open.host}/src/signed:v1`, dest: `${ECR_HOST}/kept:v1` });
  await expectCopied(await kept.create(), ecr, ECR_HOST, 'kept', 'v1', image.digest);
  expect((await ecr.getManifest('kept', 'v1')).mediaType).toBe(MT.dockerManifest);
  expectNoLeaks(w);
});
