// Scenario 8: the seed's Python quickstart, exactly as written, synthesized with the built
// wheel; its events go through the shipped bootstrap. `nginx:latest` is Docker Hub's name:
// the proxy sends registry-1.docker.io to the hub-style registry, so nothing is rewritten.
import { synthPythonQuickstart } from './harness/driver';
import { expectCopied, expectNoLeaks } from './harness/expect';
import { pushImage, PushedManifest } from './harness/images';
import { DOCKER_HUB_HOST, World } from './harness/world';

let w: World;
let nginx: PushedManifest;

beforeAll(async () => {
  w = await new World().start();
  nginx = await pushImage(w.hubClient(), 'library/nginx', 'latest', { arch: 'amd64', layerSizes: [256 * 1024, 16 * 1024] });
}, 600_000);

afterAll(async () => { await w?.stop(); });

test('8. the Python quickstart copies nginx:latest into its ECR repository', async () => {
  const [res] = await synthPythonQuickstart();
  const d = w.resource(res);
  expect(d.properties.SrcImage).toBe('docker://nginx:latest');
  expect(d.properties.DestImage).toBe(`docker://${w.ecrHost}/my-app-image-destination:latest`);

  const created = await d.create();
  await expectCopied(created, w.ecrClient(), w.ecrHost, 'my-app-image-destination', 'latest', nginx.digest);
  expect(w.proxy.connects).toEqual(expect.arrayContaining([`${DOCKER_HUB_HOST}:443`, `${w.ecrHost}:443`]));
  expect(w.proxy.refused).toEqual([]);

  const deleted = await d.delete();
  expect(deleted.response.Status).toBe('SUCCESS');
  // The default removal policy keeps the image.
  expect((await w.ecrClient().headManifest('my-app-image-destination', 'latest'))?.digest).toBe(nginx.digest);
  expectNoLeaks(w);
}, 600_000);
