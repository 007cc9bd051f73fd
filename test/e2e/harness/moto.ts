// moto server on a free loopback port, standing in for ECR (GetAuthorizationToken),
// Secrets Manager and S3, seeded through the AWS SDK for JavaScript v3.
import { createHash } from 'crypto';
import * as path from 'path';
import {
  BatchGetImageCommand, CreateRepositoryCommand, ECRClient, GetAuthorizationTokenCommand, ListImagesCommand, PutImageCommand,
} from '@aws-sdk/client-ecr';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ECR_REGION } from './pki';
import { freePort, Proc, REPO_ROOT, waitForPort } from './proc';

// The harness runs on the machine's Node 20; the SDK's notice about Node 22 is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** Dummy credentials: moto accepts anything; real ones must never be needed. */
export const DUMMY_AWS = { AWS_ACCESS_KEY_ID: 'AKIAE2ETESTDUMMYKEY0', AWS_SECRET_ACCESS_KEY: 'e2e-dummy-secret-access-key', AWS_REGION: ECR_REGION };

export class Moto {
  public port = 0;
  private proc?: Proc;

  constructor(private readonly dir: string) {}

  get endpoint(): string { return `http://127.0.0.1:${this.port}`; }

  /** The moto_server process's pid while it runs (the bench reads its CPU time from /proc). */
  get pid(): number | undefined { return this.proc?.pid; }

  async start(): Promise<void> {
    this.port = await freePort();
    this.proc = new Proc('moto', path.join(REPO_ROOT, '.venv', 'bin', 'moto_server'), ['-H', '127.0.0.1', '-p', String(this.port)],
      path.join(this.dir, 'moto.log'));
    await waitForPort(this.port, 'moto_server', this.proc, 60_000);
  }

  async stop(): Promise<void> {
    await this.proc?.stop();
  }

  private clientConfig() {
    return {
      region: ECR_REGION,
      endpoint: this.endpoint,
      credentials: { accessKeyId: DUMMY_AWS.AWS_ACCESS_KEY_ID, secretAccessKey: DUMMY_AWS.AWS_SECRET_ACCESS_KEY },
    };
  }

  /** Creates a secret; returns its full ARN (with moto's random suffix). */
  async createSecret(name: string, value: string): Promise<string> {
    const sm = new SecretsManagerClient(this.clientConfig());
    try {
      const out = await sm.send(new CreateSecretCommand({ Name: name, SecretString: value }));
      return out.ARN!;
    } finally { sm.destroy(); }
  }

  async putObject(bucket: string, key: string, body: Buffer): Promise<void> {
    const s3 = new S3Client({ ...this.clientConfig(), forcePathStyle: true });
    try {
      try { await s3.send(new CreateBucketCommand({ Bucket: bucket })); } catch (e: any) {
        if (!/BucketAlreadyOwnedByYou|BucketAlreadyExists/.test(e.name)) throw e;
      }
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    } finally { s3.destroy(); }
  }

  async createRepository(name: string): Promise<void> {
    const ecr = new ECRClient(this.clientConfig());
    try {
      try { await ecr.send(new CreateRepositoryCommand({ repositoryName: name })); } catch (e: any) {
        if (e.name !== 'RepositoryAlreadyExistsException') throw e;
      }
    } finally { ecr.destroy(); }
  }

  /**
   * ecr:PutImage with the exact manifest bytes. `imageDigest` is always sent: without it moto
   * makes up a digest (sha256 of the concatenated layer digests, or a random one for an index)
   * instead of the sha256 of the manifest bytes that ECR and every registry use. Returns the
   * digest moto recorded and the sha256 of the manifest it stores (read back with
   * BatchGetImage), so a caller can check both against the registry's digest. Pushing a tag that
   * already points at the same manifest is not an error (ECR's ImageAlreadyExistsException).
   */
  async putImage(repo: string, manifest: Buffer, mediaType: string, tag: string | undefined, digest: string):
  Promise<{ digest: string; storedSha256: string }> {
    await this.createRepository(repo);
    const ecr = new ECRClient(this.clientConfig());
    try {
      let recorded: string | undefined;
      try {
        const out = await ecr.send(new PutImageCommand({
          repositoryName: repo, imageManifest: manifest.toString('utf8'), imageManifestMediaType: mediaType, imageTag: tag, imageDigest: digest,
        }));
        recorded = out.image?.imageId?.imageDigest;
      } catch (e: any) {
        if (e.name !== 'ImageAlreadyExistsException') throw e;
      }
      const got = await ecr.send(new BatchGetImageCommand({
        repositoryName: repo, imageIds: [{ imageDigest: digest }], acceptedMediaTypes: [mediaType],
      }));
      const img = got.images?.[0];
      if (!img?.imageManifest) throw new Error(`moto: BatchGetImage ${repo}@${digest} found nothing right after PutImage`);
      const storedSha256 = 'sha256:' + createHash('sha256').update(Buffer.from(img.imageManifest, 'utf8')).digest('hex');
      return { digest: recorded ?? img.imageId?.imageDigest ?? '', storedSha256 };
    } finally { ecr.destroy(); }
  }

  /** Every tag of an ECR repository with the digest it points at (untagged images left out); {} when the repository does not exist. */
  async listTags(repo: string): Promise<Record<string, string>> {
    const ecr = new ECRClient(this.clientConfig());
    try {
      const tags: Record<string, string> = {};
      let nextToken: string | undefined;
      do {
        let out;
        try {
          out = await ecr.send(new ListImagesCommand({ repositoryName: repo, nextToken }));
        } catch (e: any) {
          if (e.name === 'RepositoryNotFoundException') return {};
          throw e;
        }
        for (const id of out.imageIds ?? []) if (id.imageTag) tags[id.imageTag] = id.imageDigest!;
        nextToken = out.nextToken;
      } while (nextToken);
      return tags;
    } finally { ecr.destroy(); }
  }

  /** What the handler's ECR auto-login will get: the decoded `AWS:password` token. */
  async ecrLogin(): Promise<{ user: string; password: string; token: string }> {
    const ecr = new ECRClient(this.clientConfig());
    try {
      const out = await ecr.send(new GetAuthorizationTokenCommand({}));
      const token = out.authorizationData![0].authorizationToken!;
      const decoded = Buffer.from(token, 'base64').toString();
      const i = decoded.indexOf(':');
      return { user: decoded.slice(0, i), password: decoded.slice(i + 1), token };
    } finally { ecr.destroy(); }
  }
}
