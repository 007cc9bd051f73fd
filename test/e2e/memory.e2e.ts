// Memory stays bounded (README: "Memory stays bounded"): the shipped bootstrap copies an image
// whose one layer is 512 MiB of random bytes (gzip), and its peak resident set size stays far
// below the layer's size. The peak is the kernel's own figure for the bootstrap process itself:
// VmHWM in /proc/PID/status, read while the process is still alive (the RIE keeps it warm
// between invocations, as Lambda does); the pid is the one a wrapper wrote just before it
// exec'd the bootstrap, and /proc/PID/exe is checked to be that binary. No timing is asserted.
import * as fs from 'fs';
import { synthExample } from './harness/driver';
import { expectCopied } from './harness/expect';
import { pushImage, PushedManifest } from './harness/images';
import { findLeaks, logFiles } from './harness/leaks';
import { BOOTSTRAP, Rie } from './harness/rie';
import { World } from './harness/world';

const MiB = 1024 * 1024;
const LAYER = 512 * MiB;
/** The bound asserted: a fraction of the layer, well above the measured figure (see test/README.md). */
const BOUND_KIB = 64 * 1024;

let w: World;
let rie: Rie;
let image: PushedManifest;

beforeAll(async () => {
  w = await new World({ rie: false }).start();
  rie = await w.newRie({ timeoutSeconds: 900, name: 'memory', recordPid: true });
  image = await pushImage(w.hubClient(), 'library/big', 'v1', { arch: 'amd64', layerSizes: [LAYER] });
}, 300_000);

afterAll(async () => {
  await w?.stop();
});

/** VmHWM and VmRSS of a live process, in KiB. */
function memoryOf(pid: number): { hwm: number; rss: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1]);
  return { hwm: kib('VmHWM'), rss: kib('VmRSS') };
}

test(`a 512 MiB layer copies with the bootstrap's peak RSS below ${BOUND_KIB / 1024} MiB`, async () => {
  expect(image.blobBytes).toBeGreaterThan(LAYER);
  const [res] = await synthExample('docker-image-asset', { src: `${w.hub.host}/library/big:v1`, dest: `${w.ecrHost}/big:v1` });
  const out = await w.resource(res, undefined, rie).create();
  await expectCopied(out, w.ecrClient(), w.ecrHost, 'big', 'v1', image.digest);
  // The whole layer reached the destination.
  const [layer] = (await w.ecrClient().getManifest('big', 'v1')).json.layers;
  expect(layer.size).toBeGreaterThan(LAYER);
  // It was uploaded by this copy (the upload's closing PUT names its digest), not found there.
  expect(w.ecr.accessLog().some(e => e.method === 'PUT' && e.status === 201 && /\/blobs\/uploads\//.test(e.path) && e.path.includes(layer.digest.slice(7)))).toBe(true);

  // One bootstrap process served the invocation, and it is still alive (warm).
  const pids = w.bootstrapPids(rie);
  expect(pids).toHaveLength(1);
  const [pid] = pids;
  expect(fs.realpathSync(`/proc/${pid}/exe`)).toBe(fs.realpathSync(BOOTSTRAP));
  const mem = memoryOf(pid);
  process.stdout.write(`\nbootstrap pid ${pid}: peak RSS (VmHWM) ${(mem.hwm / 1024).toFixed(1)} MiB, RSS now ${(mem.rss / 1024).toFixed(1)} MiB, `
    + `layer ${(layer.size / MiB).toFixed(1)} MiB, copy ${out.seconds.toFixed(1)} s\n`);
  // A real figure for a Go program that did the copy (not a process that never ran it)...
  expect(mem.hwm).toBeGreaterThan(4 * 1024);
  // ...and far below the layer it streamed.
  expect(mem.hwm).toBeLessThan(BOUND_KIB);
  expect(findLeaks(w, logFiles(w.dir))).toEqual([]);
});
