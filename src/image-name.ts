import { aws_iam as iam, aws_secretsmanager as secretsmanager } from 'aws-cdk-lib';

/**
 * A container image location the copier understands, with optional credentials.
 */
export interface IImageName {
  /**
   * The uri of the docker image.
   *
   * The uri spec follows https://github.com/containers/skopeo: `docker://REGISTRY/REPO[:TAG|@DIGEST]`
   * or `s3://BUCKET/KEY[:REF]`.
   */
  readonly uri: string;

  /**
   * The credentials of the docker image. Format `user:password` or `AWS Secrets Manager secret arn` or `AWS Secrets Manager secret name`.
   *
   * If specifying an AWS Secrets Manager secret, the format of the secret should be either plain text (`user:password`) or
   * JSON (`{"username":"<username>","password":"<password>"}`).
   *
   * For more details on JSON format, see https://docs.aws.amazon.com/AmazonECS/latest/developerguide/private-auth.html
   *
   * @default - no credentials: anonymous access, or ECR auto-login for ECR registries
   */
  creds?: string;
}

/**
 * An image in a docker registry (Docker Hub, ECR, ECR Public, GHCR or any other registry).
 */
export class DockerImageName implements IImageName {
  /**
   * An image whose registry credentials are held in a Secrets Manager secret.
   *
   * The deployment's handler is granted read access to the secret (and decrypt on its KMS key,
   * if it has one), so no extra policy is needed. The secret holds `user:password` or
   * `{"username":"...","password":"..."}`.
   *
   * @param name - The name of the image, e.g. `ghcr.io/org/app:1.0`
   * @param secret - The secret holding the registry credentials
   */
  public static fromSecret(name: string, secret: secretsmanager.ISecret): DockerImageName {
    const image = new DockerImageName(name, secret.secretArn);
    image.credsSecret = secret;
    return image;
  }

  /**
   * The secret passed to `fromSecret`, granted to the handler at bind time.
   */
  private credsSecret?: secretsmanager.ISecret;

  /**
   * @param name - The name of the image, e.g. retrieved from `DockerImageAsset.imageUri`
   * @param creds - The credentials of the docker image. Format `user:password` or `AWS Secrets Manager secret arn` or `AWS Secrets Manager secret name`.
   *     If specifying an AWS Secrets Manager secret, the format of the secret should be either plain text (`user:password`) or
   *     JSON (`{"username":"<username>","password":"<password>"}`).
   *     For more details on JSON format, see https://docs.aws.amazon.com/AmazonECS/latest/developerguide/private-auth.html
   */
  constructor(private name: string, public creds?: string) {}

  /**
   * The image uri, `docker://NAME`.
   */
  public get uri(): string {
    return `docker://${this.name}`;
  }

  /**
   * Grants the principal read access to the secret given to `fromSecret`, if any.
   *
   * @returns whether a secret was granted
   */
  public grantCredsRead(grantee: iam.IGrantable): boolean {
    if (!this.credsSecret) {
      return false;
    }
    this.credsSecret.grantRead(grantee);
    return true;
  }
}

/**
 * A `docker save` tarball stored in Amazon S3.
 */
export class S3ArchiveName implements IImageName {
  private name: string;

  /**
   * The bucket and key of the archive, without the reference part.
   */
  public readonly objectPath: string;

  /**
   * @param p - the S3 bucket name and path of the archive (a S3 URI without the s3://)
   * @param ref - appended to the end of the name with a `:`, e.g. `:latest`
   * @param creds - The credentials of the docker image. Format `user:password` or `AWS Secrets Manager secret arn` or `AWS Secrets Manager secret name`.
   *     If specifying an AWS Secrets Manager secret, the format of the secret should be either plain text (`user:password`) or
   *     JSON (`{"username":"<username>","password":"<password>"}`).
   *     For more details on JSON format, see https://docs.aws.amazon.com/AmazonECS/latest/developerguide/private-auth.html
   */
  constructor(p: string, ref?: string, public creds?: string) {
    this.objectPath = p;
    this.name = p;
    if (ref) {
      this.name += ':' + ref;
    }
  }

  /**
   * The archive uri, `s3://BUCKET/KEY[:REF]`.
   */
  public get uri(): string {
    return `s3://${this.name}`;
  }
}
