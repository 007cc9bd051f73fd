import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const EXAMPLES = path.join(__dirname, '..', 'examples');

/** Runs an example app the way `cdk synth` would, into a scratch folder, and returns its template. */
function synthExample(file: string, context: Record<string, string> = {}): any {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'example-'));
  const saved = { outdir: process.env.CDK_OUTDIR, context: process.env.CDK_CONTEXT_JSON };
  process.env.CDK_OUTDIR = outdir;
  process.env.CDK_CONTEXT_JSON = JSON.stringify(context);
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    jest.isolateModules(() => require(path.join(EXAMPLES, file)));
  } finally {
    process.env.CDK_OUTDIR = saved.outdir;
    process.env.CDK_CONTEXT_JSON = saved.context;
    if (saved.outdir === undefined) delete process.env.CDK_OUTDIR;
    if (saved.context === undefined) delete process.env.CDK_CONTEXT_JSON;
  }
  const templates = fs.readdirSync(outdir).filter(f => f.endsWith('.template.json'));
  expect(templates).toHaveLength(1);
  return JSON.parse(fs.readFileSync(path.join(outdir, templates[0]), 'utf8'));
}

function deployments(template: any): any[] {
  return Object.values(template.Resources).filter((r: any) => r.Type === 'Custom::CDKECRDeployment').map((r: any) => r.Properties);
}

const examples = fs.readdirSync(EXAMPLES).filter(f => f.endsWith('.ts'));

test('there is an example per scenario', () => {
  expect(examples.sort()).toEqual([
    'docker-image-asset.ts',
    'multi-arch-index.ts',
    'private-registry-credentials.ts',
    'retry-config.ts',
    's3-archive.ts',
    'specific-architecture.ts',
  ]);
});

test('docker-image-asset: copies the asset image into the repository', () => {
  const [props] = deployments(synthExample('docker-image-asset.ts'));
  expect(JSON.stringify(props.SrcImage)).toContain('container-assets');
  expect(JSON.stringify(props.DestImage)).toContain(':latest');
});

test('specific-architecture: arm64 only', () => {
  expect(deployments(synthExample('specific-architecture.ts'))).toEqual([expect.objectContaining({ ImageArch: 'arm64' })]);
});

test('multi-arch-index: index with per-arch tags', () => {
  expect(deployments(synthExample('multi-arch-index.ts'))).toEqual([expect.objectContaining({
    CopyImageIndex: true,
    ArchImageTags: '{"amd64":"stable-amd64","arm64":"stable-arm64"}',
  })]);
});

test('retry-config: retry settings reach the handler', () => {
  expect(deployments(synthExample('retry-config.ts'))).toEqual([expect.objectContaining({
    RetryConfigs: '{"numAttempts":5,"baseDelay":2,"maxDelay":30}',
  })]);
});

test('s3-archive: s3 uri with reference, and context overrides', () => {
  expect(deployments(synthExample('s3-archive.ts'))).toEqual([expect.objectContaining({ SrcImage: 's3://my-image-bucket/images/app.tar:app:latest' })]);
  expect(deployments(synthExample('s3-archive.ts', { archive: 'b/k.tar', ref: 'x:1', dest: 'localhost:5000/x:1' }))).toEqual([
    expect.objectContaining({ SrcImage: 's3://b/k.tar:x:1', DestImage: 'docker://localhost:5000/x:1' }),
  ]);
});

test('private-registry-credentials: creds are the secret ARN, and the secret is granted', () => {
  const template = synthExample('private-registry-credentials.ts');
  const [props] = deployments(template);
  expect(JSON.stringify(props.SrcCreds)).toContain(':secret:registry-credentials');
  const policy: any = Object.values(template.Resources).find((r: any) => r.Type === 'AWS::IAM::Policy');
  expect(JSON.stringify(policy.Properties.PolicyDocument)).toContain('secretsmanager:GetSecretValue');
});
