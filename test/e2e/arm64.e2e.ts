// The arm64 build (what `lambdaArchitecture: ARM_64` ships) under qemu-user, copying a whole
// index with per-arch tags and extra destination tags (`destTags`).
import * as fs from 'fs';
import * as path from 'path';
import { expectCopied, expectNoLeaks } from './harness/expect';
import { pushImage, pushIndex } from './harness/images';
import { World } from './harness/world';

let w: World;

beforeAll(async () => { w = await new World({ handlerArch: 'arm64' }).start(); }, 180_000);
afterAll(async () => { await w?.stop(); });

test('arm64 handler: index with arch tags, plus destTags on the same digest', async () => {
  const hub = w.hubClient();
  const amd64 = await pushImage(hub, 'library/multi', undefined, { arch: 'amd64', layerSizes: [64 * 1024] });
  const arm64 = await pushImage(hub, 'library/multi', undefined, { arch: 'arm64', layerSizes: [64 * 1024] });
  const index = await pushIndex(hub, 'library/multi', 'v2', [amd64, arm64], { format: 'oci' });

  const d = await w.deployment('multi-arch-index', { src: `${w.hub.host}/library/multi:v2`, dest: `${w.ecrHost}/multi:v2` },
    props => { props.DestTags = JSON.stringify(['v2.0', 'stable']); });
  const out = await d.create();
  await expectCopied(out, w.ecrClient(), w.ecrHost, 'multi', 'v2', index.digest);
  const ecr = w.ecrClient();
  for (const tag of ['v2.0', 'stable']) expect((await ecr.headManifest('multi', tag))?.digest).toBe(index.digest);
  expect((await ecr.headManifest('multi', 'stable-amd64'))?.digest).toBe(amd64.digest);
  expect((await ecr.headManifest('multi', 'stable-arm64'))?.digest).toBe(arm64.digest);
  // The handler that ran is the shipped arm64 build (ELF e_machine 0xB7, AArch64), under qemu.
  const started = fs.readFileSync(path.join(w.dir, 'arm64', 'started'), 'utf8').trim().split('\n');
  expect(started.length).toBeGreaterThan(0);
  expect(fs.readFileSync(started[0]).readUInt16LE(18)).toBe(0xb7);
  expectNoLeaks(w);
}, 300_000);
