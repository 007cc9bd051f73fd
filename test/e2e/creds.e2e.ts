// Private sources: credentials as `user:password`, as a Secrets Manager name, as an ARN
// (partial, as synthesized, and full), and as a JSON secret; one password contains ':'.
import { expectCopied, expectNoLeaks } from './harness/expect';
import { pushImage, PushedManifest } from './harness/images';
import { RegistryClient } from './harness/registry-client';
import { World } from './harness/world';

let w: World;
let ecr: RegistryClient;
let image: PushedManifest;
const secretArns: Record<string, string> = {};

beforeAll(async () => {
  w = await new World().start();
  ecr = w.ecrClient();
  image = await pushImage(w.privClient(), 'team/app', '1.0', { arch: 'amd64', layerSizes: [200 * 1024, 3 * 1024] });
  const { privUser: alice, colonUser: bob } = w;
  secretArns.plain = await w.moto.createSecret('registry/plain', `${bob.user}:${bob.password}`);
  secretArns.json = await w.moto.createSecret('registry/json', JSON.stringify({ username: alice.user, password: alice.password }));
  secretArns.jsonColon = await w.moto.createSecret('registry/json-colon', JSON.stringify({ username: bob.user, password: bob.password }));
}, 180_000);

afterAll(async () => { await w?.stop(); });

async function copyWith(tag: string, secretName: string, srcCreds?: string) {
  const d = await w.deployment('private-registry-credentials', { src: `${w.priv.host}/team/app:1.0`, dest: `${w.ecrHost}/app:${tag}`, secretName },
    srcCreds === undefined ? undefined : p => { p.SrcCreds = srcCreds; });
  const out = await d.create();
  await expectCopied(out, ecr, w.ecrHost, 'app', tag, image.digest);
  return d;
}

test('2a. creds as plain user:password (password with \':\')', async () => {
  await copyWith('plain-text', 'unused', `${w.colonUser.user}:${w.colonUser.password}`);
  expectNoLeaks(w);
});

test('2b. creds as a Secrets Manager name holding user:password (password with \':\')', async () => {
  await copyWith('secret-name', 'unused', 'registry/plain');
  expectNoLeaks(w);
});

test('2c. creds as the synthesized (partial) secret ARN of a JSON secret', async () => {
  const d = await copyWith('partial-arn', 'registry/json');
  expect(d.properties.SrcCreds).toBe('arn:aws:secretsmanager:us-east-1:123456789012:secret:registry/json');
  expectNoLeaks(w);
});

test('2d. creds as a full secret ARN; JSON secrets with and without \':\' in the password', async () => {
  await copyWith('full-arn-plain', 'unused', secretArns.plain);
  await copyWith('full-arn-json', 'unused', secretArns.json);
  await copyWith('json-colon', 'registry/json-colon');
  expectNoLeaks(w);
});
