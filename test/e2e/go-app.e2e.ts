// The seed quickstart written as a Go CDK app (test/langs/go), built against the Go module
// `npx projen build` put in dist/go and synthesized with `go run .`. Its custom-resource events go
// through the bootstrap the Go package itself staged into the cloud assembly (unpacked by the jsii
// kernel from the module's embedded tarball), under the Lambda RIE. `nginx:latest` is Docker
// Hub's name: the proxy sends registry-1.docker.io to the hub-style registry.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { resolve, RESOURCE_TYPE, SynthResource } from './harness/driver';
import { expectCopied, expectNoLeaks } from './harness/expect';
import { pushImage, PushedManifest } from './harness/images';
import { REPO_ROOT, rmTree, run, tempDir } from './harness/proc';
import { DOCKER_HUB_HOST, World } from './harness/world';

const STACK = 'CdkEcrDeploymentExampleStack';
const out = tempDir('go-app');
let w: World;
let nginx: PushedManifest;
let deployment: SynthResource;
let stagedBootstrap: string;

beforeAll(async () => {
  // Environment-agnostic, as the e2e resolver expects: AWS::AccountId/Region resolve to the test account.
  const env = { ...process.env, CDK_OUTDIR: out, CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:enable-asset-metadata': true }) };
  delete env.CDK_DEFAULT_ACCOUNT;
  delete env.CDK_DEFAULT_REGION;
  await run('bash', [path.join(REPO_ROOT, 'test', 'langs', 'synth.sh'), 'go'], { cwd: REPO_ROOT, env });

  const template = JSON.parse(fs.readFileSync(path.join(out, `${STACK}.template.json`), 'utf8'));
  const [[logicalId, res]] = Object.entries<any>(template.Resources).filter(([, r]) => r.Type === RESOURCE_TYPE);
  deployment = { stackName: STACK, logicalId, properties: resolve(res.Properties, template) };

  // The handler function's code is the asset the Go app staged: run exactly that file.
  const [fn] = Object.values<any>(template.Resources).filter(r => r.Type === 'AWS::Lambda::Function');
  stagedBootstrap = path.join(out, fn.Metadata['aws:asset:path'], 'bootstrap');

  w = await new World({ bootstrap: stagedBootstrap }).start();
  nginx = await pushImage(w.hubClient(), 'library/nginx', 'latest', { arch: 'amd64', layerSizes: [256 * 1024, 16 * 1024] });
}, 900_000);

afterAll(async () => {
  await w?.stop();
  rmTree(out);
});

test('the Go app\'s staged bootstrap is the amd64 build that ships in every package', () => {
  const sha = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
  // Executable by its owner, as Lambda needs.
  expect(() => fs.accessSync(stagedBootstrap, fs.constants.X_OK)).not.toThrow();
  expect(sha(stagedBootstrap)).toBe(sha(path.join(REPO_ROOT, 'lambda-bin', 'amd64', 'bootstrap')));
});

test('the Go quickstart copies nginx:latest into its ECR repository, through the Go package\'s bootstrap', async () => {
  expect(deployment.properties.SrcImage).toBe('docker://nginx:latest');
  expect(deployment.properties.DestImage).toBe(`docker://${w.ecrHost}/my-app-image-destination:latest`);

  const d = w.resource(deployment);
  const created = await d.create();
  await expectCopied(created, w.ecrClient(), w.ecrHost, 'my-app-image-destination', 'latest', nginx.digest);
  expect(w.proxy.connects).toEqual(expect.arrayContaining([`${DOCKER_HUB_HOST}:443`, `${w.ecrHost}:443`]));
  expect(w.proxy.refused).toEqual([]);
  // The emulator ran the file the Go app staged, not the repository's lambda-bin build.
  expect(w.rie.opts.bootstrap).toBe(stagedBootstrap);

  const deleted = await d.delete();
  expect(deleted.response.Status).toBe('SUCCESS');
  // The default removal policy keeps the image.
  expect((await w.ecrClient().headManifest('my-app-image-destination', 'latest'))?.digest).toBe(nginx.digest);
  expectNoLeaks(w);
}, 600_000);
