// Bad input at synth time: every case throws from the ECRDeployment constructor, before
// anything is added to the tree (so before any deploy), with an exact message fragment.
// The run-time half (hand-sent properties, bad secrets, refused tokens, untrusted TLS, plain
// HTTP) is test/e2e/faults/bad-input.e2e.ts.
import * as fs from 'fs';
import * as path from 'path';
import { App, Aws, CfnParameter, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { DockerImageName, ECRDeployment, ECRDeploymentProps, ManifestFormat, S3ArchiveName } from '../src';

const ECR_DEST = `${Aws.ACCOUNT_ID}.dkr.ecr.${Aws.REGION}.amazonaws.com/my-repo:latest`;

function newStack(): Stack {
  return new Stack(new App(), 'BadInput', { env: { account: '123456789012', region: 'us-east-1' } });
}

function props(overrides: Partial<ECRDeploymentProps>): ECRDeploymentProps {
  return { src: new DockerImageName('nginx:latest'), dest: new DockerImageName(ECR_DEST), ...overrides };
}

/** Throws with `fragment`, and the stack is left without any deployment (or handler) in it. */
function expectRefused(stack: Stack, p: ECRDeploymentProps, fragment: string): void {
  expect(() => new ECRDeployment(stack, 'Deploy', p)).toThrow(fragment);
  expect(stack.node.tryFindChild('Deploy')).toBeUndefined();
  const template = Template.fromStack(stack);
  template.resourceCountIs('Custom::CDKECRDeployment', 0);
  template.resourceCountIs('AWS::Lambda::Function', 0);
}

const long = 'a'.repeat(129);

describe('tokens where literals are required', () => {
  test('memoryLimit', () => {
    const stack = newStack();
    const mem = new CfnParameter(stack, 'Mem', { type: 'Number' }).valueAsNumber;
    expectRefused(stack, props({ memoryLimit: mem }), 'Can\'t use tokens when specifying "memoryLimit" since we use it to identify the singleton custom resource handler');
  });

  test('retryConfigs value', () => {
    const stack = newStack();
    const n = new CfnParameter(stack, 'Attempts', { type: 'Number' }).valueAsNumber;
    expectRefused(stack, props({ retryConfigs: { numAttempts: n } }), 'ECRDeployment: retryConfigs: numAttempts must be a literal number, not a token');
  });
});

describe('refused props', () => {
  test.each<[string, Partial<ECRDeploymentProps>, string]>([
    ['empty src', { src: new DockerImageName('') }, 'ECRDeployment: src: image uri "docker://" names no image'],
    ['empty dest', { dest: new DockerImageName('') }, 'ECRDeployment: dest: image uri "docker://" names no image'],
    ['no src at all', { src: undefined as any }, 'ECRDeployment: src: an image is required'],
    ['no dest at all', { dest: undefined as any }, 'ECRDeployment: dest: an image is required'],
    ['imageArch: []', { imageArch: [] }, 'ECRDeployment: imageArch: must name at least one architecture; omit it for the default (amd64)'],
    ['retryConfigs negative', { retryConfigs: { baseDelay: -1 } }, 'ECRDeployment: retryConfigs: baseDelay must be a number of at least 0, got -1'],
    ['retryConfigs fractional attempts', { retryConfigs: { numAttempts: 2.5 } }, 'ECRDeployment: retryConfigs: numAttempts must be a whole number, got 2.5'],
    ['retryConfigs zero attempts', { retryConfigs: { numAttempts: 0 } }, 'ECRDeployment: retryConfigs: numAttempts must be a number of at least 1, got 0'],
    ['retryConfigs base delay above the default maximum', { retryConfigs: { baseDelay: 20 } }, 'ECRDeployment: retryConfigs: baseDelay (20) must not exceed maxDelay (10)'],
    ['retryConfigs unknown field', { retryConfigs: { retries: 3 } }, 'ECRDeployment: retryConfigs: unknown field "retries"; allowed: numAttempts, baseDelay, maxDelay'],
    ['retryConfigs NaN', { retryConfigs: { maxDelay: NaN } }, 'ECRDeployment: retryConfigs: maxDelay must be a number of at least 0, got NaN'],
    ['retryConfigs string value', { retryConfigs: { baseDelay: '1' as any } }, 'ECRDeployment: retryConfigs: baseDelay must be a number of at least 0, got "1"'],
    ['a URI with spaces', { src: new DockerImageName('nginx: latest') }, 'ECRDeployment: src: image uri "docker://nginx: latest" contains white space'],
    ['a URI with a tab', { dest: new DockerImageName('localhost:5000/repo:\tv1') }, 'ECRDeployment: dest: image uri "docker://localhost:5000/repo:\\tv1" contains white space'],
    ['an upper-case repository name', { dest: new DockerImageName('localhost:5000/MyRepo:latest') },
      'ECRDeployment: dest: invalid repository name in "docker://localhost:5000/MyRepo:latest": path component "MyRepo" must be lowercase'],
    ['an upper-case Docker Hub name', { src: new DockerImageName('Library/Nginx') }, 'ECRDeployment: src: invalid repository name in "docker://Library/Nginx"'],
    ['an s3:// destination', { dest: new S3ArchiveName('bucket/image.tar') },
      'ECRDeployment: dest: the destination must be a registry image (docker://); an s3:// archive can only be a source'],
    ['an over-long tag', { dest: new DockerImageName(`localhost:5000/repo:${long}`) }, `ECRDeployment: dest: invalid tag "${long}": a tag is 1 to 128 characters`],
    ['a tag starting with "-"', { dest: new DockerImageName('localhost:5000/repo:-v1') }, 'ECRDeployment: dest: invalid tag "-v1"'],
    ['an over-long destTags entry', { destTags: ['ok', long] }, `ECRDeployment: destTags: invalid tag "${long}"`],
    ['an invalid digest', { src: new DockerImageName('nginx@sha256:1234') }, 'ECRDeployment: src: invalid digest in "docker://nginx@sha256:1234"'],
    ['a destination with a tag and a digest', { dest: new DockerImageName(`localhost:5000/repo:v1@sha256:${'b'.repeat(64)}`) },
      `ECRDeployment: dest: image uri "docker://localhost:5000/repo:v1@sha256:${'b'.repeat(64)}" has both a tag and a digest; give a tag or a digest, not both`],
    ['an unknown transport', { src: { uri: 'ftp://example.com/app.tar' } }, 'ECRDeployment: src: unsupported image uri "ftp://example.com/app.tar"'],
    ['an s3:// source without a key', { src: new S3ArchiveName('') }, 'ECRDeployment: src: image uri "s3://" names no image'],
    ['imageArch with copyImageIndex', { imageArch: ['arm64'], copyImageIndex: true }, 'imageArch and copyImageIndex cannot both be set'],
    ['archImageTags without copyImageIndex', { archImageTags: { arm64: 'a' } }, 'archImageTags can only be specified when copyImageIndex is true'],
    ['memoryLimit out of range', { memoryLimit: 20000 }, 'ECRDeployment: memoryLimit: must be between 128 and 10240 MiB, got 20000'],
    ['copyReferrers with destManifestFormat', { copyReferrers: true, destManifestFormat: ManifestFormat.OCI },
      'ECRDeployment: copyReferrers: cannot be combined with destManifestFormat'],
    ['copyReferrers from an s3:// archive', { copyReferrers: true, src: new S3ArchiveName('bucket/image.tar') },
      'ECRDeployment: copyReferrers: needs a registry source (docker://), got s3://bucket/image.tar'],
  ])('%s', (_name, overrides, fragment) => {
    expectRefused(newStack(), props(overrides), fragment);
  });
});

// Upstream v4 did not validate image names, so what Renovate writes (name:tag@digest) must
// synthesize; the handler copies the digest and keeps the tag as a comment.
describe('a source with a tag and a digest', () => {
  const digest = `sha256:${'0123456789abcdef'.repeat(4)}`;
  test.each([
    `nginx:1.25@${digest}`,
    `docker.io/library/nginx:1.25-alpine@${digest}`,
    `localhost:5000/team/app:v1.2.3@${digest}`,
    `public.ecr.aws/docker/library/node:20@${digest}`,
  ])('%s', name => {
    const stack = newStack();
    new ECRDeployment(stack, 'Deploy', props({ src: new DockerImageName(name) }));
    Template.fromStack(stack).hasResourceProperties('Custom::CDKECRDeployment', { SrcImage: `docker://${name}` });
  });

  test('a destination by digest alone is still accepted', () => {
    const stack = newStack();
    expect(() => new ECRDeployment(stack, 'Deploy', props({ dest: new DockerImageName(`localhost:5000/repo@${digest}`) }))).not.toThrow();
  });
});

describe('TLS verification cannot be turned off by a resource property', () => {
  // ServiceTimeout is CloudFormation's (CustomResource serviceTimeout); the handler validates and ignores it.
  const ALLOWED = ['ServiceToken', 'ServiceTimeout', 'SrcImage', 'SrcCreds', 'DestImage', 'DestCreds', 'ImageArch', 'CopyImageIndex',
    'ArchImageTags', 'RetryConfigs', 'DestTags', 'RemovalPolicy', 'SrcRoleArn', 'DestRoleArn', 'CopyReferrers', 'DestManifestFormat'];

  test('props that look like TLS switches are not synthesized into the resource', () => {
    const stack = newStack();
    new ECRDeployment(stack, 'Deploy', {
      ...props({}),
      ...({ tlsVerify: false, insecure: true, srcTlsVerify: false, destTlsVerify: false, skipTlsVerify: true } as any),
    });
    const resources = Template.fromStack(stack).findResources('Custom::CDKECRDeployment');
    const keys = Object.values(resources).flatMap((r: any) => Object.keys(r.Properties));
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.filter(k => !ALLOWED.includes(k))).toEqual([]);
  });

  test('the handler accepts no property beyond that list (its allow-list: the rulebook, which props.go reads)', () => {
    const rules = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'lambda', 'internal', 'rules', 'rules.json'), 'utf8'));
    const known: string[] = rules.properties.known;
    const ignored: string[] = rules.properties.ignored;
    expect([...known, ...ignored].sort()).toEqual([...ALLOWED].sort());
    expect(known.filter(k => /tls|insecure|verify|cert/i.test(k))).toEqual([]);
  });
});

