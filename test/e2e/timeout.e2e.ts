// A registry that accepts connections and never answers: with a 30 s function timeout, the
// handler must give up and answer FAILED before Lambda kills it (CloudFormation would
// otherwise wait an hour for an answer that never comes).
//
// And a registry that completes TLS and then never answers, with the default 15-minute
// function: the stall watchdog (lambda/internal/copier/stall.go, StallTimeout = 40 s per
// attempt, 3 attempts) must answer FAILED within 3 minutes, not at the deadline margin
// (about 14 minutes), with a Reason that names the host and the stall.
import { Blackhole, startBlackhole } from './harness/blackhole';
import { CustomResource, synthExample } from './harness/driver';
import { expectNoLeaks, expectWellFormed } from './harness/expect';
import { Rie } from './harness/rie';
import { World } from './harness/world';

const TIMEOUT_SECONDS = 30;
const DEFAULT_TIMEOUT_SECONDS = 900;
let w: World;
let hole: Blackhole;
let tlsHole: Blackhole;
let rie900: Rie;

beforeAll(async () => {
  w = await new World({ timeoutSeconds: TIMEOUT_SECONDS }).start();
  hole = await startBlackhole();
  tlsHole = await startBlackhole({ tls: { cert: w.pki.serverCert, key: w.pki.serverKey } });
  // The same handler and environment (and log file, for the leak grep) with the default timeout.
  rie900 = new Rie({ ...w.rie.opts, timeoutSeconds: DEFAULT_TIMEOUT_SECONDS });
  await rie900.start();
}, 180_000);

afterAll(async () => {
  await rie900?.stop();
  await tlsHole?.close();
  await hole?.close();
  await w?.stop();
});

test('a registry that never answers: FAILED before the function timeout', async () => {
  const d = await w.deployment('docker-image-asset', { src: `127.0.0.1:${hole.port}/library/app:v1`, dest: `${w.ecrHost}/my-app:latest` });
  const out = await d.create();
  if (process.env.E2E_VERBOSE) process.stdout.write(`[${out.seconds.toFixed(2)} s] ${out.response.Status}: ${out.response.Reason}\n`);
  expect(hole.accepted()).toBeGreaterThan(0);
  expect(out.response.Status).toBe('FAILED');
  expect(out.response.Reason).toMatch(new RegExp(`127\\.0\\.0\\.1:${hole.port}`));
  expect(out.response.Reason).toMatch(/time(d)? ?out|deadline/i);
  expectWellFormed(out);
  expect(out.seconds).toBeLessThan(TIMEOUT_SECONDS);
  // The handler returned by itself: the invoke was not cut off by the emulator.
  expect(out.invoke.status).toBe(200);
  expectNoLeaks(w);
});

test('a registry that completes TLS and never answers, 15-minute function: FAILED within 3 minutes, naming the host and the stall', async () => {
  const [res] = await synthExample('docker-image-asset', { src: `127.0.0.1:${tlsHole.port}/library/app:v1`, dest: `${w.ecrHost}/my-app:latest` });
  const d = new CustomResource(rie900, w.receiver, res);
  const out = await d.create();
  const why = out.response.Reason ?? '';
  if (process.env.E2E_VERBOSE) process.stdout.write(`[${out.seconds.toFixed(2)} s] ${out.response.Status}: ${why}\n`);
  // TLS was completed and requests were sent, once per attempt (3, the default).
  expect(tlsHole.accepted()).toBeGreaterThanOrEqual(3);
  expect(tlsHole.received()).toBeGreaterThan(0);
  expect(out.response.Status).toBe('FAILED');
  expect(why).toMatch(new RegExp(`no response from 127\\.0\\.0\\.1:${tlsHole.port}\\b`));
  expect(why).toMatch(/stall/i);
  expectWellFormed(out);
  expect(out.seconds).toBeLessThan(180);
  // The real N: three attempts of 40 s each, not an early failure of another kind.
  expect(out.seconds).toBeGreaterThan(100);
  expect(out.invoke.status).toBe(200);
  expectNoLeaks(w);
}, 400_000);
