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
    'cross-account.ts',
    'docker-image-asset.ts',
    'from-asset.ts',
    'from-repository.ts',
    'multi-arch-index.ts',
    'private-registry-credentials.ts',
    'pull-through-cache.ts',
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

function policyStatements(template: any): any[] {
  return Object.values(template.Resources).filter((r: any) => r.Type === 'AWS::IAM::Policy')
    .flatMap((r: any) => r.Properties.PolicyDocument.Statement);
}

function resourcesFor(template: any, action: string): string[] {
  return policyStatements(template).filter(s => [s.Action].flat().includes(action)).map(s => JSON.stringify(s.Resource));
}

function customResources(template: any): [string, any][] {
  return Object.entries(template.Resources).filter(([, r]: [string, any]) => r.Type === 'Custom::CDKECRDeployment') as [string, any][];
}

function logicalIdOf(template: any, type: string): string {
  const [id] = Object.entries(template.Resources).find(([, r]: [string, any]) => r.Type === type)!;
  return id;
}

test('from-repository: push on each destination, pull on the promoted source, each copy after its repositories', () => {
  const template = synthExample('from-repository.ts');
  const ids = Object.entries(template.Resources).filter(([, r]: [string, any]) => r.Type === 'AWS::ECR::Repository').map(([id]) => id).sort();
  expect(ids).toEqual([expect.stringMatching(/^Mirror/), expect.stringMatching(/^Release/)]);
  const [mirror, release] = ids;
  expect(resourcesFor(template, 'ecr:PutImage').sort()).toEqual([
    JSON.stringify({ 'Fn::GetAtt': [mirror, 'Arn'] }), JSON.stringify({ 'Fn::GetAtt': [release, 'Arn'] }),
  ].sort());
  const deploys = Object.fromEntries(customResources(template).map(([id, r]) => [id.startsWith('Promote') ? 'promote' : 'mirror', r]));
  expect(JSON.stringify(deploys.mirror.Properties.DestImage)).toContain(`{"Ref":"${mirror}"}`);
  expect(JSON.stringify(deploys.promote.Properties.SrcImage)).toContain(`{"Ref":"${mirror}"}`);
  expect(JSON.stringify(deploys.promote.Properties.DestImage)).toContain(`{"Ref":"${release}"}`);
});

test('from-asset: pull on the assets repository, push on the destination repository', () => {
  const template = synthExample('from-asset.ts');
  const [props] = deployments(template);
  expect(JSON.stringify(props.SrcImage)).toContain('container-assets');
  expect(resourcesFor(template, 'ecr:BatchGetImage').some(r => r.includes('container-assets'))).toBe(true);
  expect(resourcesFor(template, 'ecr:PutImage')).toEqual([JSON.stringify({ 'Fn::GetAtt': [logicalIdOf(template, 'AWS::ECR::Repository'), 'Arn'] })]);
});

test('pull-through-cache: import grants on the cache repository, after the rule', () => {
  const template = synthExample('pull-through-cache.ts');
  const [[, resource]] = customResources(template);
  expect(resourcesFor(template, 'ecr:BatchImportUpstreamImage')).toEqual([expect.stringContaining(':repository/docker-hub/library/nginx')]);
  expect(resourcesFor(template, 'ecr:CreateRepository')).toEqual([expect.stringContaining(':repository/docker-hub/library/nginx')]);
  expect(resource.DependsOn).toEqual([logicalIdOf(template, 'AWS::ECR::PullThroughCacheRule')]);
});

test('cross-account: AssumeRole on exactly the role, DestRoleArn set, no push grant to the handler', () => {
  const template = synthExample('cross-account.ts');
  const [props] = deployments(template);
  expect(props.DestRoleArn).toBe('arn:aws:iam::999999999999:role/ecr-pusher');
  expect(resourcesFor(template, 'sts:AssumeRole')).toEqual([JSON.stringify('arn:aws:iam::999999999999:role/ecr-pusher')]);
  expect(resourcesFor(template, 'ecr:PutImage')).toEqual([]);
});
