// Assertions shared by the scenarios.
import { Outcome } from './driver';
import { ACCEPT_ALL, RegistryClient, sha256 } from './registry-client';
import { World } from './world';

export const KiB = 1024;
export const MiB = 1024 * KiB;

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
 * The request failed, and said so properly: FAILED, with a Reason matching every pattern, the
 * fields CloudFormation needs, a PhysicalResourceId that is not blank, an invoke the RIE
 * answered (200: the handler returned, it did not crash), and an answer that came back on its
 * own within `withinSeconds` (callers pass the function timeout, or a fraction of it when the
 * failure must come fast).
 */
export function expectFailed(out: Outcome, withinSeconds: number, ...reason: RegExp[]): void {
  const why = out.response.Reason ?? '';
  if (process.env.E2E_VERBOSE) process.stdout.write(`[${out.seconds.toFixed(2)} s] ${out.response.Status}: ${why}\n`);
  expect({ Status: out.response.Status, Reason: why }).toEqual({ Status: 'FAILED', Reason: expect.any(String) });
  for (const re of reason) expect(why).toMatch(re);
  expectWellFormed(out);
  expect(out.response.PhysicalResourceId).not.toMatch(/^\s*$/);
  expect(out.seconds).toBeLessThan(withinSeconds);
  expect(out.invoke.status).toBe(200);
}

/** No recorded secret in any handler output or response. */
export function expectNoLeaks(world: World): void {
  expect(world.leaks()).toEqual([]);
}

const scope = (repo: string) => `repository:${repo}:pull`;

/** Digests of every blob (and child manifest) a manifest or index references. */
async function referenced(client: RegistryClient, repo: string, ref: string): Promise<{ blobs: string[]; children: string[] }> {
  const m = await client.getManifest(repo, ref);
  if (Array.isArray(m.json.manifests)) return { blobs: [], children: m.json.manifests.map((c: any) => c.digest) };
  return { blobs: [m.json.config.digest, ...m.json.layers.map((l: any) => l.digest)], children: [] };
}

/**
 * Nothing half-written: the tag is absent, or everything it points at is present and intact
 * (each blob's bytes hash to its digest, so a corrupt blob was never accepted).
 * Returns 'absent' or 'complete'.
 */
export async function expectNothingHalfWritten(client: RegistryClient, repo: string, tag: string): Promise<'absent' | 'complete'> {
  const head = await client.headManifest(repo, tag);
  if (!head) return 'absent';
  const todo = [tag];
  while (todo.length) {
    const { blobs, children } = await referenced(client, repo, todo.pop()!);
    for (const c of children) {
      const res = await client.request('HEAD', `/v2/${repo}/manifests/${c}`, scope(repo), { Accept: ACCEPT_ALL });
      expect({ child: c, status: res.status }).toEqual({ child: c, status: 200 });
      todo.push(c);
    }
    for (const b of blobs) {
      const data = await client.getBlob(repo, b);
      expect(sha256(data)).toBe(b);
    }
  }
  return 'complete';
}

/** The layer digests of an image in a registry, largest first. */
export async function layersOf(client: RegistryClient, repo: string, ref: string): Promise<{ digest: string; size: number }[]> {
  const m = await client.getManifest(repo, ref);
  return [...m.json.layers].sort((a: any, b: any) => b.size - a.size);
}
