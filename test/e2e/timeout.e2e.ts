// A registry that accepts connections and never answers: with a 30 s function timeout, the
// handler must give up and answer FAILED before Lambda kills it (CloudFormation would
// otherwise wait an hour for an answer that never comes).
import { startBlackhole } from './harness/blackhole';
import { expectNoLeaks, expectWellFormed } from './harness/expect';
import { World } from './harness/world';

const TIMEOUT_SECONDS = 30;
let w: World;
let hole: Awaited<ReturnType<typeof startBlackhole>>;

beforeAll(async () => {
  w = await new World({ timeoutSeconds: TIMEOUT_SECONDS }).start();
  hole = await startBlackhole();
}, 180_000);

afterAll(async () => {
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
