import { Aws, Stack, aws_ecr as ecr, aws_ecr_assets as ecr_assets, aws_iam as iam, aws_secretsmanager as secretsmanager } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ImageGrants, grantArchive, grantCredsSpec, grantEcrRepository, grantLocation, grantPullThroughCache } from './grants';
import { locateImage } from './image-uri';

/**
 * Which side of a copy an image is on: what the handler must be allowed to do with it.
 */
export enum ImageDirection {
  /** The image is read (pulled). */
  SOURCE = 'SOURCE',
  /** The image is written (pushed), and untagged on delete with RemovalPolicy.DESTROY. */
  DESTINATION = 'DESTINATION',
}

/**
 * What `ECRDeployment` tells an image when it binds it.
 */
export interface ImageNameBindOptions {
  /**
   * The handler's role: the image grants what the copy needs to it.
   */
  readonly handlerRole: iam.IRole;

  /**
   * Whether the image is the source or the destination.
   */
  readonly direction: ImageDirection;

  /**
   * Whether the destination's tags are deleted with the resource (RemovalPolicy.DESTROY),
   * which needs the delete permissions.
   *
   * @default false
   */
  readonly deleteOnDestroy?: boolean;
}

/**
 * What a bound image gives the custom resource.
 */
export interface ImageNameConfig {
  /**
   * The image uri, as `IImageName.uri`.
   */
  readonly uri: string;

  /**
   * The credentials, as `IImageName.creds`.
   *
   * @default - no credentials
   */
  readonly creds?: string;

  /**
   * An IAM role the handler assumes (sts:AssumeRole) before it logs in to this image's ECR registry.
   *
   * @default - the handler's own role logs in
   */
  readonly assumeRoleArn?: string;
}

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
 * An image that grants its own permissions when a deployment binds it, as aws-s3-deployment's
 * `ISource` does. `DockerImageName` and `S3ArchiveName` are bindable.
 *
 * A separate interface, not a member of `IImageName`: jsii interface methods are required in
 * Java and C#, so a new one would break implementations written before it. An `IImageName`
 * without `bind` is granted from what its `uri` and `creds` name.
 */
export interface IBindableImageName extends IImageName {
  /**
   * Grants the handler what it needs for this image and returns what the custom resource is given.
   *
   * @param scope - the `ECRDeployment` binding the image
   * @param options - the handler role and the direction of the copy
   * @returns the uri and credentials to copy with
   */
  bind(scope: Construct, options: ImageNameBindOptions): ImageNameConfig;
}

/**
 * Options for any `DockerImageName`.
 */
export interface DockerImageNameOptions {
  /**
   * An IAM role (typically in another account) that the handler assumes through STS before it
   * logs in to this image's ECR registry, e.g. to copy into another account's repository.
   *
   * The handler's role is granted `sts:AssumeRole` on exactly this role; the role itself must
   * trust the handler's role and allow the ECR pull (source) or push (destination) actions
   * and `ecr:GetAuthorizationToken`. ECR registries only.
   *
   * @default - the handler's own role logs in
   */
  readonly assumeRole?: iam.IRole;
}

/**
 * Where a repository is in an ECR pull-through cache.
 */
export interface PullThroughCacheOptions {
  /**
   * The account of the registry holding the pull-through cache rule.
   *
   * @default - the stack's account
   */
  readonly account?: string;

  /**
   * The region of the registry holding the pull-through cache rule.
   *
   * @default - the stack's region
   */
  readonly region?: string;

  /**
   * The tag, or a `sha256:` digest, of the image.
   *
   * @default 'latest'
   */
  readonly tagOrDigest?: string;

  /**
   * Whether the first pull creates the cache repository (ECR's default for a pull-through cache
   * rule), which needs `ecr:CreateRepository`. Set false when the repository already exists.
   *
   * @default true
   */
  readonly createRepository?: boolean;

  /**
   * An IAM role the handler assumes before it logs in to the cache's registry.
   *
   * @default - the handler's own role logs in
   */
  readonly assumeRole?: iam.IRole;
}

/** What a factory knows about the image beyond its uri; used at bind time. */
type Target =
  | { kind: 'name' }
  | { kind: 'repository'; repository: ecr.IRepository }
  | { kind: 'pullThroughCache'; account: string; region: string; repositoryName: string; createRepository: boolean };

/**
 * An image in a docker registry (Docker Hub, ECR, ECR Public, GHCR or any other registry).
 */
export class DockerImageName implements IBindableImageName {
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
   * An image in an ECR repository, as a source or a destination.
   *
   * The handler is granted pull (source) or push (destination) on this repository only, and
   * the uri references the repository, so CloudFormation creates a repository of the same
   * stack before the copy runs.
   *
   * @param repository - the repository, e.g. `new ecr.Repository(...)` or `ecr.Repository.fromRepositoryName(...)`
   * @param tagOrDigest - a tag, or a `sha256:` digest (sources only)
   * @param options - e.g. a role to assume for another account's repository
   * @default tagOrDigest 'latest'
   */
  public static fromRepository(repository: ecr.IRepository, tagOrDigest?: string, options?: DockerImageNameOptions): DockerImageName {
    const ref = tagOrDigest ?? 'latest';
    const name = ref.startsWith('sha256:') ? repository.repositoryUriForDigest(ref) : repository.repositoryUriForTag(ref);
    return DockerImageName.targeted(name, options, { kind: 'repository', repository });
  }

  /**
   * The image a `DockerImageAsset` builds and CDK publishes to the bootstrap assets repository.
   *
   * The handler is granted pull on the assets repository only. The asset's tag is its source
   * hash, so the name already pins the build; CDK gives no registry digest at synth time.
   *
   * @param asset - the image asset
   */
  public static fromAsset(asset: ecr_assets.DockerImageAsset): DockerImageName {
    return DockerImageName.targeted(asset.imageUri, undefined, { kind: 'repository', repository: asset.repository });
  }

  /**
   * An image pulled through an ECR pull-through cache rule: `ACCOUNT.dkr.ecr.REGION.amazonaws.com/PREFIX/REPOSITORY`.
   *
   * The handler is granted pull, `ecr:BatchImportUpstreamImage` (and `ecr:CreateRepository`
   * unless `createRepository` is false) on that cache repository only. A pull-through cache
   * rule of the same stack with this prefix is deployed before the copy.
   *
   * @param prefix - the rule's ECR repository prefix, e.g. `docker-hub`
   * @param repository - the upstream repository, e.g. `library/nginx`
   * @param options - where the rule is, the tag, and whether the cache creates the repository
   */
  public static fromPullThroughCache(prefix: string, repository: string, options: PullThroughCacheOptions = {}): DockerImageName {
    const repositoryName = `${prefix}/${repository}`;
    const ref = options.tagOrDigest ?? 'latest';
    const path = `${repositoryName}${ref.startsWith('sha256:') ? '@' : ':'}${ref}`;
    const account = options.account ?? Aws.ACCOUNT_ID;
    const region = options.region ?? Aws.REGION;
    return DockerImageName.targeted(`${account}.dkr.ecr.${region}.${Aws.URL_SUFFIX}/${path}`, { assumeRole: options.assumeRole }, {
      kind: 'pullThroughCache', account, region, repositoryName, createRepository: options.createRepository ?? true,
    });
  }

  private static targeted(name: string, options: DockerImageNameOptions | undefined, target: Target): DockerImageName {
    const image = new DockerImageName(name, undefined, options);
    image.target = target;
    return image;
  }

  /**
   * The secret passed to `fromSecret`, granted to the handler at bind time.
   */
  private credsSecret?: secretsmanager.ISecret;

  private target: Target = { kind: 'name' };
  private readonly assumeRole?: iam.IRole;

  /**
   * @param name - The name of the image, e.g. retrieved from `DockerImageAsset.imageUri`
   * @param creds - The credentials of the docker image. Format `user:password` or `AWS Secrets Manager secret arn` or `AWS Secrets Manager secret name`.
   *     If specifying an AWS Secrets Manager secret, the format of the secret should be either plain text (`user:password`) or
   *     JSON (`{"username":"<username>","password":"<password>"}`).
   *     For more details on JSON format, see https://docs.aws.amazon.com/AmazonECS/latest/developerguide/private-auth.html
   * @param options - e.g. a role to assume before logging in to an ECR registry
   */
  constructor(private name: string, public creds?: string, options?: DockerImageNameOptions) {
    this.assumeRole = options?.assumeRole;
  }

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

  /**
   * Grants the handler what this image needs: pull or push on ECR repositories, the
   * credentials secret, the role to assume.
   */
  public bind(scope: Construct, options: ImageNameBindOptions): ImageNameConfig {
    const stack = Stack.of(scope);
    const grants = new ImageGrants(stack, options.handlerRole);
    const destination = options.direction === ImageDirection.DESTINATION;
    const deleteOnDestroy = destination && (options.deleteOnDestroy ?? false);
    const uri = this.uri;
    if (this.assumeRole) {
      checkAssumeRole(uri, this.creds, destination ? 'dest' : 'src');
      // The assumed role pulls or pushes: the handler's own role only needs to assume it.
      grants.add(['sts:AssumeRole'], [this.assumeRole.roleArn]);
    } else if (this.target.kind === 'repository') {
      grantEcrRepository(grants, this.target.repository.repositoryArn, destination, deleteOnDestroy);
    } else if (this.target.kind === 'pullThroughCache') {
      grantPullThroughCache(grants, stack.formatArn({
        service: 'ecr',
        account: this.target.account,
        region: this.target.region,
        resource: 'repository',
        resourceName: this.target.repositoryName,
      }), this.target.createRepository);
    } else {
      grantLocation(grants, locateImage(uri), destination, deleteOnDestroy);
    }
    if (!this.grantCredsRead(options.handlerRole)) {
      grantCredsSpec(grants, this.creds);
    }
    return { uri, creds: this.creds, assumeRoleArn: this.assumeRole?.roleArn };
  }
}

/** The handler assumes a role only to log in to ECR: anything else cannot deploy. */
function checkAssumeRole(uri: string, creds: string | undefined, prop: string): void {
  const loc = locateImage(uri);
  if (!loc.ecr && !loc.maybeEcr) {
    throw new Error(`ECRDeployment: ${prop}: assumeRole is used to log in to an ECR registry, and ${JSON.stringify(uri)} is not one; remove assumeRole`);
  }
  if (creds !== undefined) {
    throw new Error(`ECRDeployment: ${prop}: give creds or assumeRole, not both`);
  }
}

/**
 * A `docker save` tarball stored in Amazon S3.
 */
export class S3ArchiveName implements IBindableImageName {
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

  /**
   * Grants the handler s3:GetObject on the archive (and the credentials secret, if any).
   */
  public bind(scope: Construct, options: ImageNameBindOptions): ImageNameConfig {
    const grants = new ImageGrants(Stack.of(scope), options.handlerRole);
    // The copier looks for the longest existing key first, so it may probe `key:ref` too.
    grantArchive(grants, this.name === this.objectPath ? [this.objectPath] : [this.objectPath, this.name]);
    grantCredsSpec(grants, this.creds);
    return { uri: this.uri, creds: this.creds };
  }
}
