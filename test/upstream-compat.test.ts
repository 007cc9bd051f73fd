// The product rule of issue 14: every app that synthesizes with upstream 4.2.65 synthesizes with
// ours (the only exception is a deliberate widening, such as several imageArch values). Each
// case below is an app with a value that the handler refuses at deploy time. It is first
// synthesized with upstream itself, which proves the case is one the rule covers; then with
// ours, which must synthesize too, write the same custom-resource properties, and warn naming
// the prop.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Aws, CfnParameter, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { loadUpstream } from './upstream';
import * as ours from '../src';

type Lib = typeof ours;

/** The props of one app, built the same way with either library. */
type PropsOf = (lib: Lib, stack: Stack) => any;

const ecrDest = (tag: string) => `${Aws.ACCOUNT_ID}.dkr.ecr.${Aws.REGION}.amazonaws.com/my-repo:${tag}`;
const digest = (c: string) => `sha256:${c.repeat(64)}`;

// Each synthesis goes to one folder removed afterwards, and the handler asset (20 MiB) is not
// copied: 60-odd synthesized apps would otherwise leave over a gigabyte in the temp folder.
const outRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'upstream-compat-'));
afterAll(() => fs.rmSync(outRoot, { recursive: true, force: true }));

function build(lib: Lib, propsOf: PropsOf): { stack: Stack; template: any } {
  const app = new App({ outdir: fs.mkdtempSync(path.join(outRoot, 'app-')), context: { 'aws:cdk:disable-asset-staging': true } });
  const stack = new Stack(app, 'Compat', { env: { account: '123456789012', region: 'us-east-1' } });
  new lib.ECRDeployment(stack, 'Deploy', {
    src: new lib.DockerImageName('nginx:latest'),
    dest: new lib.DockerImageName(ecrDest('latest')),
    ...propsOf(lib, stack),
  });
  return { stack, template: app.synth().getStackByName('Compat').template };
}

const customResources = (template: any) => Object.values(template.Resources)
  .filter((r: any) => r.Type === 'Custom::CDKECRDeployment')
  .map((r: any) => r.Properties);

// [case, props, the start of our warning (it names the prop)]
const cases: Array<[string, PropsOf, string]> = [
  // image uris
  ['a space in the source', lib => ({ src: new lib.DockerImageName('nginx: latest') }), 'ECRDeployment: src: image uri "docker://nginx: latest" contains white space'],
  ['a tab in the destination', lib => ({ dest: new lib.DockerImageName('localhost:5000/repo:\tv1') }), 'ECRDeployment: dest: image uri "docker://localhost:5000/repo:\\tv1" contains white space'],
  ['an upper-case destination repository', lib => ({ dest: new lib.DockerImageName('localhost:5000/MyRepo:latest') }),
    'ECRDeployment: dest: invalid repository name in "docker://localhost:5000/MyRepo:latest": path component "MyRepo" must be lowercase'],
  ['an upper-case Docker Hub source', lib => ({ src: new lib.DockerImageName('Library/Nginx') }), 'ECRDeployment: src: invalid repository name in "docker://Library/Nginx"'],
  ['a destination with a tag and a digest', lib => ({ dest: new lib.DockerImageName(`localhost:5000/repo:v1@${digest('b')}`) }),
    `ECRDeployment: dest: image uri "docker://localhost:5000/repo:v1@${digest('b')}" has both a tag and a digest`],
  ['a short digest', lib => ({ src: new lib.DockerImageName('nginx@sha256:1234') }), 'ECRDeployment: src: invalid digest in "docker://nginx@sha256:1234"'],
  ['an upper-case digest', lib => ({ src: new lib.DockerImageName(`nginx@${digest('A')}`) }), `ECRDeployment: src: invalid digest in "docker://nginx@${digest('A')}"`],
  ['an empty source name', lib => ({ src: new lib.DockerImageName('') }), 'ECRDeployment: src: image uri "docker://" names no image'],
  ['an empty destination name', lib => ({ dest: new lib.DockerImageName('') }), 'ECRDeployment: dest: image uri "docker://" names no image'],
  ['an s3:// destination', lib => ({ dest: new lib.S3ArchiveName('bucket/image.tar') }), 'ECRDeployment: dest: the destination must be a registry image (docker://)'],
  ['an s3:// source without a key', lib => ({ src: new lib.S3ArchiveName('') }), 'ECRDeployment: src: image uri "s3://" names no image'],
  ['an unknown transport', () => ({ src: { uri: 'ftp://example.com/app.tar' } }), 'ECRDeployment: src: unsupported image uri "ftp://example.com/app.tar"'],
  ['an over-long destination tag', lib => ({ dest: new lib.DockerImageName(`localhost:5000/repo:${'a'.repeat(129)}`) }), `ECRDeployment: dest: invalid tag "${'a'.repeat(129)}"`],
  ['a destination tag starting with "."', lib => ({ dest: new lib.DockerImageName('localhost:5000/repo:.v1') }), 'ECRDeployment: dest: invalid tag ".v1"'],
  // archImageTags
  ['an archImageTags tag with a space', () => ({ copyImageIndex: true, archImageTags: { arm64: 'not ok' } }), 'ECRDeployment: archImageTags: invalid tag "not ok" for "arm64": a tag is 1 to 128 characters'],
  ['an archImageTags tag starting with "-"', () => ({ copyImageIndex: true, archImageTags: { amd64: 'ok', arm64: '-arm' } }), 'ECRDeployment: archImageTags: invalid tag "-arm" for "arm64"'],
  ['an empty archImageTags tag', () => ({ copyImageIndex: true, archImageTags: { arm64: '' } }), 'ECRDeployment: archImageTags: invalid tag "" for "arm64"'],
  // retryConfigs
  ['retryConfigs: an unknown field', () => ({ retryConfigs: { retries: 3 } }), 'ECRDeployment: retryConfigs: unknown field "retries"; allowed: numAttempts, baseDelay, maxDelay'],
  ['retryConfigs: a negative delay', () => ({ retryConfigs: { baseDelay: -1 } }), 'ECRDeployment: retryConfigs: baseDelay must be a number of at least 0, got -1'],
  ['retryConfigs: zero attempts', () => ({ retryConfigs: { numAttempts: 0 } }), 'ECRDeployment: retryConfigs: numAttempts must be a number of at least 1, got 0'],
  ['retryConfigs: fractional attempts', () => ({ retryConfigs: { numAttempts: 2.5 } }), 'ECRDeployment: retryConfigs: numAttempts must be a whole number, got 2.5'],
  ['retryConfigs: baseDelay above the default maxDelay (10)', () => ({ retryConfigs: { baseDelay: 20 } }), 'ECRDeployment: retryConfigs: baseDelay (20) must not exceed maxDelay (10)'],
  ['retryConfigs: baseDelay above maxDelay', () => ({ retryConfigs: { baseDelay: 5, maxDelay: 1 } }), 'ECRDeployment: retryConfigs: baseDelay (5) must not exceed maxDelay (1)'],
  ['retryConfigs: NaN', () => ({ retryConfigs: { maxDelay: NaN } }), 'ECRDeployment: retryConfigs: maxDelay must be a number of at least 0, got NaN'],
  ['retryConfigs: a string value', () => ({ retryConfigs: { baseDelay: '1' } }), 'ECRDeployment: retryConfigs: baseDelay must be a number of at least 0, got "1"'],
  ['retryConfigs: a token', (_lib, stack) => ({ retryConfigs: { numAttempts: new CfnParameter(stack, 'Attempts', { type: 'Number' }).valueAsNumber } }),
    'ECRDeployment: retryConfigs: numAttempts must be a literal number, not a token'],
  // imageArch and archImageTags keys: any string, as upstream
  ['imageArch: an unknown architecture', () => ({ imageArch: ['banana'] }), 'ECRDeployment: imageArch: unknown architecture "banana"'],
  ['imageArch: upper case', () => ({ imageArch: ['ARM64'] }), 'ECRDeployment: imageArch: "ARM64" is not a platform the handler accepts'],
  ['imageArch: four parts', () => ({ imageArch: ['linux/arm64/v8/extra'] }), 'ECRDeployment: imageArch: "linux/arm64/v8/extra" is not a platform the handler accepts'],
  ['archImageTags: an unknown architecture key', () => ({ copyImageIndex: true, archImageTags: { sparc: 's' } }), 'ECRDeployment: archImageTags: unknown architecture "sparc"'],
  // memoryLimit: upstream passes it to Lambda
  ['memoryLimit above Lambda\'s range', () => ({ memoryLimit: 20000 }), 'ECRDeployment: memoryLimit: must be between 128 and 10240 MiB, got 20000'],
  ['memoryLimit below Lambda\'s range', () => ({ memoryLimit: 64 }), 'ECRDeployment: memoryLimit: must be between 128 and 10240 MiB, got 64'],
];

describe('every app upstream 4.2.65 synthesizes, ours synthesizes, with a warning naming the prop', () => {
  const upstream = loadUpstream() as Lib;

  test('the table is not trivial', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  test.each(cases)('%s', (_name, propsOf, warning) => {
    // Upstream synthesizes it: the case is one the rule covers.
    const theirs = build(upstream, propsOf);
    expect(customResources(theirs.template)).toHaveLength(1);
    // Ours synthesizes it too, with the same resource properties (and more than upstream never).
    const mine = build(ours, propsOf);
    expect(customResources(mine.template)).toEqual(customResources(theirs.template));
    const warnings = Annotations.fromStack(mine.stack).findWarning('/Compat/Deploy', Match.anyValue()).map(w => String(w.entry.data));
    expect(warnings.filter(w => w.startsWith(warning))).toHaveLength(1);
  });
});

// The other half of the rule: what ours still refuses among upstream's props, upstream refuses too.
describe('what ours refuses among upstream\'s props, upstream 4.2.65 refuses too', () => {
  const upstream = loadUpstream() as Lib;

  test.each<[string, PropsOf]>([
    ['imageArch: []', () => ({ imageArch: [] })],
    ['a duplicate imageArch', () => ({ imageArch: ['arm64', 'arm64'] })],
    ['imageArch with copyImageIndex', () => ({ imageArch: ['arm64'], copyImageIndex: true })],
    ['archImageTags without copyImageIndex', () => ({ archImageTags: { arm64: 'a' } })],
    ['a token memoryLimit', (_lib, stack) => ({ memoryLimit: new CfnParameter(stack, 'Mem', { type: 'Number' }).valueAsNumber })],
    ['no src', () => ({ src: undefined })],
    ['no dest', () => ({ dest: undefined })],
  ])('%s', (_name, propsOf) => {
    expect(() => build(upstream, propsOf)).toThrow();
    expect(() => build(ours, propsOf)).toThrow();
  });
});
