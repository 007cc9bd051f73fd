// The seed quickstart (a destination repository and a copy of nginx:latest into it) written in
// TypeScript, Python, Java and Go, each synthesized through its own language runtime with the
// package `npx projen build` just produced (test/langs/synth.sh). Every language's template must
// EQUAL the TypeScript app's: logical ids, resource types, every property, the handler asset's
// hash and the metadata. Nothing is normalized: the handler asset is hashed by content, and every
// package ships the same bootstrap bytes, so even the asset hashes agree.
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const STACK = 'CdkEcrDeploymentExampleStack';
const LANGS = ['typescript', 'python', 'java', 'go'] as const;
type Lang = typeof LANGS[number];

// What `cdk synth` hands an app: an environment, and path and asset metadata turned on (so the
// construct paths and the asset properties are compared too).
const ENV = {
  CDK_DEFAULT_ACCOUNT: '123456789012',
  CDK_DEFAULT_REGION: 'us-east-1',
  CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:enable-path-metadata': true, 'aws:cdk:enable-asset-metadata': true }),
};

interface Synth { dir: string; seconds: number }
const out = {} as Record<Lang, Synth>;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'langs-'));

function synth(lang: Lang): Synth {
  const dir = path.join(work, lang);
  fs.mkdirSync(dir);
  const start = Date.now();
  try {
    execFileSync('bash', [path.join(ROOT, 'test', 'langs', 'synth.sh'), lang], {
      cwd: ROOT,
      env: { ...process.env, ...ENV, CDK_OUTDIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (e: any) {
    throw new Error(`${lang} synth failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
  return { dir, seconds: (Date.now() - start) / 1000 };
}

const read = (lang: Lang, file: string) => JSON.parse(fs.readFileSync(path.join(out[lang].dir, file), 'utf8'));
const template = (lang: Lang) => read(lang, `${STACK}.template.json`);
const sha256 = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

beforeAll(() => {
  // One after the other: the JVM and the Go compiler each want the machine's cores.
  for (const lang of LANGS) out[lang] = synth(lang);
  // eslint-disable-next-line no-console
  console.log(LANGS.map(l => `${l} synth ${out[l].seconds.toFixed(1)} s`).join(', '));
});

afterAll(() => { fs.rmSync(work, { recursive: true, force: true }); });

test('the TypeScript reference is the quickstart: one repository and a copy of nginx:latest into it', () => {
  const resources = template('typescript').Resources as Record<string, any>;
  const repos = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::ECR::Repository');
  const copies = Object.values(resources).filter(r => r.Type === 'Custom::CDKECRDeployment');
  expect(repos).toHaveLength(1);
  expect(copies).toHaveLength(1);
  const [repoId, repo] = repos[0];
  expect(repo.Properties).toMatchObject({ RepositoryName: 'my-app-image-destination', ImageScanningConfiguration: { ScanOnPush: true }, ImageTagMutability: 'MUTABLE' });
  expect(copies[0].Properties.SrcImage).toBe('docker://nginx:latest');
  expect(copies[0].Properties.DestImage).toEqual({
    'Fn::Join': ['', ['docker://', { Ref: 'AWS::AccountId' }, '.dkr.ecr.', { Ref: 'AWS::Region' }, '.amazonaws.com/', { Ref: repoId }, ':latest']],
  });
  // Path metadata is on, so the construct paths are part of what the other languages must match.
  expect(copies[0].Metadata['aws:cdk:path']).toMatch(/^CdkEcrDeploymentExampleStack\/DeployPublicNginxImage\//);
});

describe.each(['python', 'java', 'go'] as const)('%s', (lang) => {
  test('synthesizes a template equal to the TypeScript app\'s', () => {
    expect(template(lang)).toEqual(template('typescript'));
  });

  test('stages the same handler asset, and it holds the bootstrap that ships', () => {
    // The asset manifest names the same zip, built from the same directory hash, published to the same place.
    expect(read(lang, `${STACK}.assets.json`)).toEqual(read('typescript', `${STACK}.assets.json`));
    expect(read(lang, 'manifest.json').artifacts[STACK].environment).toBe('aws://123456789012/us-east-1');
    const assets = fs.readdirSync(out[lang].dir).filter(n => n.startsWith('asset.'));
    expect(assets).toHaveLength(1);
    // The jsii kernel unpacked this package's embedded tarball; its bootstrap is the one built here.
    expect(sha256(path.join(out[lang].dir, assets[0], 'bootstrap'))).toBe(sha256(path.join(ROOT, 'lambda-bin', 'amd64', 'bootstrap')));
  });
});

test('the Go app builds against dist/go, through the replace in its go.mod', () => {
  const dir = execFileSync('go', ['list', '-mod=readonly', '-m', '-f', '{{.Dir}}', 'github.com/cdk-ecr-deployment/cdk-ecr-deployment-go/cdkecrdeployment'], {
    cwd: path.join(ROOT, 'test', 'langs', 'go'),
    env: { ...process.env, CGO_ENABLED: '0' },
  }).toString().trim();
  expect(fs.realpathSync(dir)).toBe(fs.realpathSync(path.join(ROOT, 'dist', 'go', 'cdkecrdeployment')));
});
