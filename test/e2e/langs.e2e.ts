// The seed quickstart written as a Go and as a Java CDK app (test/langs/go, test/langs/java),
// built against the packages `npx projen build` put in dist/go and dist/java and synthesized
// through their own runtimes (`go run .`, `mvn compile exec:java`). Each app's custom-resource
// events go through the bootstrap that app's package staged into the cloud assembly (unpacked by
// the jsii kernel from the package's embedded tarball), under the Lambda RIE. `nginx:latest` is
// Docker Hub's name: the proxy sends registry-1.docker.io to the hub-style registry.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { resolve, RESOURCE_TYPE, SynthResource } from './harness/driver';
import { expectCopied, expectNoLeaks } from './harness/expect';
import { pushImage, PushedManifest } from './harness/images';
import { REPO_ROOT, rmTree, run, tempDir } from './harness/proc';
import { DOCKER_HUB_HOST, World } from './harness/world';

const STACK = 'CdkEcrDeploymentExampleStack';
const sha = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');

describe.each(['go', 'java'] as const)('the %s quickstart app', (lang) => {
  const out = tempDir(`${lang}-app`);
  let w: World;
  let nginx: PushedManifest;
  let deployment: SynthResource;
  let stagedBootstrap: string;

  beforeAll(async () => {
    // Environment-agnostic, as the e2e resolver expects: AWS::AccountId/Region resolve to the test account.
    const env: NodeJS.ProcessEnv = { ...process.env, CDK_OUTDIR: out, CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:enable-asset-metadata': true }) };
    delete env.CDK_DEFAULT_ACCOUNT;
    delete env.CDK_DEFAULT_REGION;
    await run('bash', [path.join(REPO_ROOT, 'test', 'langs', 'synth.sh'), lang], { cwd: REPO_ROOT, env });

    const template = JSON.parse(fs.readFileSync(path.join(out, `${STACK}.template.json`), 'utf8'));
    const [[logicalId, res]] = Object.entries<any>(template.Resources).filter(([, r]) => r.Type === RESOURCE_TYPE);
    deployment = { stackName: STACK, logicalId, properties: resolve(res.Properties, template) };

    // The handler function's code is the asset the app staged: run exactly that file.
    const [fn] = Object.values<any>(template.Resources).filter(r => r.Type === 'AWS::Lambda::Function');
    stagedBootstrap = path.join(out, fn.Metadata['aws:asset:path'], 'bootstrap');

    w = await new World({ bootstrap: stagedBootstrap }).start();
    nginx = await pushImage(w.hubClient(), 'library/nginx', 'latest', { arch: 'amd64', layerSizes: [256 * 1024, 16 * 1024] });
  }, 900_000);

  afterAll(async () => {
    await w?.stop();
    rmTree(out);
  });

  test('the staged bootstrap is the amd64 build that ships in every package', () => {
    // Executable, as Lambda needs.
    expect(() => fs.accessSync(stagedBootstrap, fs.constants.X_OK)).not.toThrow();
    expect(sha(stagedBootstrap)).toBe(sha(path.join(REPO_ROOT, 'lambda-bin', 'amd64', 'bootstrap')));
  });

  test('copies nginx:latest into its ECR repository, through its package\'s bootstrap', async () => {
    expect(deployment.properties.SrcImage).toBe('docker://nginx:latest');
    expect(deployment.properties.DestImage).toBe(`docker://${w.ecrHost}/my-app-image-destination:latest`);

    const d = w.resource(deployment);
    const created = await d.create();
    await expectCopied(created, w.ecrClient(), w.ecrHost, 'my-app-image-destination', 'latest', nginx.digest);
    expect(w.proxy.connects).toEqual(expect.arrayContaining([`${DOCKER_HUB_HOST}:443`, `${w.ecrHost}:443`]));
    expect(w.proxy.refused).toEqual([]);
    // The emulator ran the file the app staged, not the repository's lambda-bin build.
    expect(w.rie.opts.bootstrap).toBe(stagedBootstrap);

    const deleted = await d.delete();
    expect(deleted.response.Status).toBe('SUCCESS');
    // The default removal policy keeps the image.
    expect((await w.ecrClient().headManifest('my-app-image-destination', 'latest'))?.digest).toBe(nginx.digest);
    expectNoLeaks(w);
  }, 600_000);
});
