// Assertions shared by the scenarios.
import { Outcome } from './driver';
import { RegistryClient } from './registry-client';
import { World } from './world';

/** The response is SUCCESS and the destination holds exactly `digest` under `ref`, as Data says. */
export async function expectCopied(out: Outcome, dest: RegistryClient, destHost: string, repo: string, ref: string, digest: string): Promise<void> {
  expect({ Status: out.response.Status, Reason: out.response.Reason }).toEqual({ Status: 'SUCCESS', Reason: undefined });
  const head = await dest.headManifest(repo, ref);
  expect(head?.digest).toBe(digest);
  expect(out.response.Data).toEqual(expect.objectContaining({ ImageDigest: digest, ImageUri: `${destHost}/${repo}@${digest}` }));
  expectWellFormed(out);
}

/** Fields CloudFormation requires on every response, matching the request. */
export function expectWellFormed(out: Outcome): void {
  const r = out.response;
  expect(r.RequestId).toBe(out.event.RequestId);
  expect(r.StackId).toBe(out.event.StackId);
  expect(r.LogicalResourceId).toBe(out.event.LogicalResourceId);
  expect(typeof r.PhysicalResourceId).toBe('string');
  expect(r.PhysicalResourceId.length).toBeGreaterThan(0);
  // An Update may move to a new id (CloudFormation then deletes the old one); a Delete may not.
  if (out.event.RequestType === 'Delete') expect(r.PhysicalResourceId).toBe(out.event.PhysicalResourceId);
}

/**
 * FAILED, with a Reason matching every pattern, a usable PhysicalResourceId, and the answer
 * in less than a quarter of the function timeout (CloudFormation never has to wait it out).
 */
export function expectFailed(out: Outcome, timeoutSeconds: number, ...reason: RegExp[]): void {
  const why = out.response.Reason ?? '';
  if (process.env.E2E_VERBOSE) process.stdout.write(`[${out.seconds.toFixed(2)} s] ${out.response.Status}: ${why}\n`);
  expect(out.response.Status).toBe('FAILED');
  for (const re of reason) expect(why).toMatch(re);
  expectWellFormed(out);
  expect(out.response.PhysicalResourceId).not.toMatch(/^\s*$/);
  expect(out.seconds).toBeLessThan(timeoutSeconds / 4);
}

/** No recorded secret in any handler output or response. */
export function expectNoLeaks(world: World): void {
  expect(world.leaks()).toEqual([]);
}
