// Bad input at synth time. Every app that synthesizes with upstream 4.2.65 synthesizes with ours
// (issue 14): a bad value of a prop upstream has synthesizes with a warning naming the prop (the
// handler refuses it at deploy time: test/e2e/faults/bad-input.e2e.ts). Only what upstream
// refuses too, props upstream does not have, and what cannot be built throw from the
// ECRDeployment constructor, before anything is added to the tree. test/upstream-compat.test.ts
// synthesizes the warned cases with upstream itself.
import * as fs from 'fs';
import * as path from 'path';
import { App, Aws, CfnParameter, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { DockerImageName, ECRDeployment, ECRDeploymentProps, ManifestFormat, S3ArchiveName } from '../src';

const ECR_DEST = `${Aws.ACCOUNT_ID}.dkr.ecr.${Aws.REGION}.amazonaws.com/my-repo:latest`;

function newStack(): Stack {
  // The handler asset (20 MiB) is not copied into each test's temp folder.
  return new Stack(new App({ context: { 'aws:cdk:disable-asset-staging': true } }), 'BadInput', { env: { account: '123456789012', region: 'us-east-1' } });
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

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Synthesizes, with a warning on the deployment that starts with `fragment` (which names the
 * prop) and says the deployment will fail, with the acknowledgeable id `cdk-ecr-deployment:<id>`.
 */
function expectWarned(stack: Stack, p: ECRDeploymentProps, fragment: string, id: string): void {
  new ECRDeployment(stack, 'Deploy', p);
  Template.fromStack(stack).resourceCountIs('Custom::CDKECRDeployment', 1);
  Annotations.fromStack(stack).hasWarning('/BadInput/Deploy',
    Match.stringLikeRegexp(`^${escapeRe(fragment)}.*The deployment will fail \\(.*\\); .*\\[ack: cdk-ecr-deployment:${escapeRe(id)}\\]$`));
}

const long = 'a'.repeat(129);

describe('tokens where literals are required', () => {
  test('memoryLimit (upstream refuses it too)', () => {
    const stack = newStack();
    const mem = new CfnParameter(stack, 'Mem', { type: 'Number' }).valueAsNumber;
    expectRefused(stack, props({ memoryLimit: mem }), 'Can\'t use tokens when specifying "memoryLimit" since we use it to identify the singleton custom resource handler');
  });

  test('retryConfigs value: synthesizes (as upstream) with a warning naming the prop', () => {
    const stack = newStack();
    const n = new CfnParameter(stack, 'Attempts', { type: 'Number' }).valueAsNumber;
    expectWarned(stack, props({ retryConfigs: { numAttempts: n } }), 'ECRDeployment: retryConfigs: numAttempts must be a literal number, not a token', 'retryConfigs');
  });
});

describe('refused props: upstream refuses them too, upstream lacks the prop, or nothing can be built', () => {
  test.each<[string, Partial<ECRDeploymentProps>, string]>([
    ['no src at all', { src: undefined as any }, 'ECRDeployment: src: an image is required'],
    ['no dest at all', { dest: undefined as any }, 'ECRDeployment: dest: an image is required'],
    ['imageArch: [] (upstream: "must contain exactly 1 element")', { imageArch: [] }, 'ECRDeployment: imageArch: must name at least one architecture; omit it for the default (amd64)'],
    ['a duplicate imageArch (two entries: upstream refuses any)', { imageArch: ['arm64', 'arm64'] }, 'ECRDeployment: imageArch: duplicate architecture in ["arm64","arm64"]'],
    ['an over-long destTags entry (upstream has no destTags)', { destTags: ['ok', long] }, `ECRDeployment: destTags: invalid tag "${long}"`],
    ['a destTags entry with a space', { destTags: ['not ok'] }, 'ECRDeployment: destTags: invalid tag "not ok"'],
    ['imageArch with copyImageIndex', { imageArch: ['arm64'], copyImageIndex: true }, 'imageArch and copyImageIndex cannot both be set'],
    ['archImageTags without copyImageIndex', { archImageTags: { arm64: 'a' } }, 'archImageTags can only be specified when copyImageIndex is true'],
    ['copyReferrers with destManifestFormat (new props)', { copyReferrers: true, destManifestFormat: ManifestFormat.OCI },
      'ECRDeployment: copyReferrers: cannot be combined with destManifestFormat'],
    ['copyReferrers from an s3:// archive', { copyReferrers: true, src: new S3ArchiveName('bucket/image.tar') },
      'ECRDeployment: copyReferrers: needs a registry source (docker://), got s3://bucket/image.tar'],
  ])('%s', (_name, overrides, fragment) => {
    expectRefused(newStack(), props(overrides), fragment);
  });
});

describe('synthesizes as with upstream, with a warning naming the prop (the handler refuses it at deploy time)', () => {
  test.each<[string, Partial<ECRDeploymentProps>, string, string]>([
    ['empty src', { src: new DockerImageName('') }, 'ECRDeployment: src: image uri "docker://" names no image', 'src'],
    ['empty dest', { dest: new DockerImageName('') }, 'ECRDeployment: dest: image uri "docker://" names no image', 'dest'],
    ['retryConfigs negative', { retryConfigs: { baseDelay: -1 } }, 'ECRDeployment: retryConfigs: baseDelay must be a number of at least 0, got -1', 'retryConfigs'],
    ['retryConfigs fractional attempts', { retryConfigs: { numAttempts: 2.5 } }, 'ECRDeployment: retryConfigs: numAttempts must be a whole number, got 2.5', 'retryConfigs'],
    ['retryConfigs zero attempts', { retryConfigs: { numAttempts: 0 } }, 'ECRDeployment: retryConfigs: numAttempts must be a number of at least 1, got 0', 'retryConfigs'],
    ['retryConfigs base delay above the default maximum', { retryConfigs: { baseDelay: 20 } }, 'ECRDeployment: retryConfigs: baseDelay (20) must not exceed maxDelay (10)', 'retryConfigs'],
    ['retryConfigs unknown field', { retryConfigs: { retries: 3 } }, 'ECRDeployment: retryConfigs: unknown field "retries"; allowed: numAttempts, baseDelay, maxDelay', 'retryConfigs'],
    ['retryConfigs NaN', { retryConfigs: { maxDelay: NaN } }, 'ECRDeployment: retryConfigs: maxDelay must be a number of at least 0, got NaN', 'retryConfigs'],
    ['retryConfigs string value', { retryConfigs: { baseDelay: '1' as any } }, 'ECRDeployment: retryConfigs: baseDelay must be a number of at least 0, got "1"', 'retryConfigs'],
    ['a URI with spaces', { src: new DockerImageName('nginx: latest') }, 'ECRDeployment: src: image uri "docker://nginx: latest" contains white space', 'src'],
    ['a URI with a tab', { dest: new DockerImageName('localhost:5000/repo:\tv1') }, 'ECRDeployment: dest: image uri "docker://localhost:5000/repo:\\tv1" contains white space', 'dest'],
    ['an upper-case repository name', { dest: new DockerImageName('localhost:5000/MyRepo:latest') },
      'ECRDeployment: dest: invalid repository name in "docker://localhost:5000/MyRepo:latest": path component "MyRepo" must be lowercase', 'dest'],
    ['an upper-case Docker Hub name', { src: new DockerImageName('Library/Nginx') }, 'ECRDeployment: src: invalid repository name in "docker://Library/Nginx"', 'src'],
    ['an s3:// destination', { dest: new S3ArchiveName('bucket/image.tar') },
      'ECRDeployment: dest: the destination must be a registry image (docker://); an s3:// archive can only be a source', 'dest'],
    ['an over-long tag', { dest: new DockerImageName(`localhost:5000/repo:${long}`) }, `ECRDeployment: dest: invalid tag "${long}": a tag is 1 to 128 characters`, 'dest'],
    ['a tag starting with "-"', { dest: new DockerImageName('localhost:5000/repo:-v1') }, 'ECRDeployment: dest: invalid tag "-v1"', 'dest'],
    ['an invalid digest', { src: new DockerImageName('nginx@sha256:1234') }, 'ECRDeployment: src: invalid digest in "docker://nginx@sha256:1234"', 'src'],
    ['a destination with a tag and a digest', { dest: new DockerImageName(`localhost:5000/repo:v1@sha256:${'b'.repeat(64)}`) },
      `ECRDeployment: dest: image uri "docker://localhost:5000/repo:v1@sha256:${'b'.repeat(64)}" has both a tag and a digest`, 'dest'],
    ['an unknown transport', { src: { uri: 'ftp://example.com/app.tar' } }, 'ECRDeployment: src: unsupported image uri "ftp://example.com/app.tar"', 'src'],
    ['an s3:// source without a key', { src: new S3ArchiveName('') }, 'ECRDeployment: src: image uri "s3://" names no image', 'src'],
    ['an archImageTags tag with a space', { copyImageIndex: true, archImageTags: { arm64: 'not ok' } },
      'ECRDeployment: archImageTags: invalid tag "not ok" for "arm64": a tag is 1 to 128 characters', 'archImageTags'],
    ['memoryLimit above Lambda\'s range', { memoryLimit: 20000 }, 'ECRDeployment: memoryLimit: must be between 128 and 10240 MiB, got 20000', 'memoryLimit'],
    ['memoryLimit below Lambda\'s range', { memoryLimit: 64 }, 'ECRDeployment: memoryLimit: must be between 128 and 10240 MiB, got 64', 'memoryLimit'],
  ])('%s', (_name, overrides, fragment, id) => {
    expectWarned(newStack(), props(overrides), fragment, id);
  });

  test('each problem gets its own warning, and a good deployment none', () => {
    const stack = newStack();
    new ECRDeployment(stack, 'Deploy', props({ src: new DockerImageName('nginx: latest'), retryConfigs: { retries: 1 }, memoryLimit: 64 }));
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.anyValue()).map(w => String(w.entry.data));
    expect(warnings.map(w => /^ECRDeployment: (\w+):/.exec(w)?.[1]).sort()).toEqual(['memoryLimit', 'retryConfigs', 'src']);
    const good = newStack();
    new ECRDeployment(good, 'Deploy', props({ retryConfigs: { numAttempts: 5, baseDelay: 2, maxDelay: 20 }, memoryLimit: 1024 }));
    expect(Annotations.fromStack(good).findWarning('*', Match.anyValue())).toEqual([]);
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

