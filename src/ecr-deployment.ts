import * as fs from 'fs';
import * as path from 'path';
import {
  Annotations,
  CustomResource,
  Duration,
  RemovalPolicy,
  Size,
  Token,
  aws_ec2 as ec2,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_logs as logs,
} from 'aws-cdk-lib';
import { AddToPrincipalPolicyResult, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct, IConstruct } from 'constructs';
import { dependOnNamedRepositories } from './dependencies';
import { singletonUuid } from './handler-identity';
import { IImageName, ImageDirection } from './image-name';
import { bindImage } from './permissions';
import { PropWarning, archTagWarning, imageUriWarning, memoryWarning, retryWarnings, validateArch, validateTag } from './validate';

/**
 * A manifest format to write at the destination (`destManifestFormat`).
 */
export enum ManifestFormat {
  /** OCI image manifests (`application/vnd.oci.image.manifest.v1+json`). */
  OCI = 'oci',
  /** Docker image manifests, schema 2 (`application/vnd.docker.distribution.manifest.v2+json`). */
  DOCKER_V2S2 = 'v2s2',
}

export interface ECRDeploymentProps {
  /**
   * The source of the docker image.
   */
  readonly src: IImageName;

  /**
   * The destination of the docker image.
   */
  readonly dest: IImageName;

  /**
   * The image architecture or architectures to be copied.
   *
   * With one architecture, that architecture's image is copied from a multi-arch source
   * (as upstream does). With several, the destination gets an image index holding just
   * those architectures, and `imageDigest` is the digest of that index.
   *
   * Cannot be combined with `copyImageIndex`.
   *
   * @default ['amd64']
   */
  readonly imageArch?: string[];

  /**
   * Whether to copy a source docker image index (multi-arch manifest) to the destination.
   *
   * When true, copies the image index and all underlying architecture-specific
   * images in a single operation, including attestation manifests.
   *
   * @default false
   */
  readonly copyImageIndex?: boolean;

  /**
   * Tags to apply to individual architecture-specific images when
   * copyImageIndex is true.
   *
   * Can only be specified when copyImageIndex is true. Maps architecture names to
   * their respective tags. This makes individual architectures discoverable
   * by human-readable tags in addition to the image index tag.
   *
   * For example, { 'arm64': 'image-arm64', 'amd64': 'image-amd64' }.
   *
   * @default - no per-architecture tags
   */
  readonly archImageTags?: { [architecture: string]: string };

  /**
   * Whether to copy the OCI 1.1 referrers (signatures, SBOMs, attestations) of every copied
   * manifest, and cosign's `sha256-<digest>.sig`, `.att` and `.sbom` tags.
   *
   * Referrers are read through the source's referrers API, or its referrers tag
   * (`sha256-<digest>`) where it has none, and written the way the destination supports.
   * An image without referrers copies as before; a referrer that exists but cannot be
   * written fails the deployment. Needs a registry source, and cannot be combined with
   * `destManifestFormat` (a converted image has a new digest, which the referrers do not name).
   *
   * @default false
   */
  readonly copyReferrers?: boolean;

  /**
   * Converts the image to this manifest format at the destination.
   *
   * The destination then holds a new manifest, so its digest (`imageDigest`) differs from
   * the source's.
   *
   * @default - the source's manifest, byte for byte (same digest)
   */
  readonly destManifestFormat?: ManifestFormat;

  /**
   * Retry configuration to apply to when copying images such as the number of retry attempts,
   * the base amount of delay (in seconds) between each retry, and the max amount of delay (in seconds)
   * between each retry.
   *
   * Retries cover throttling (429, with Retry-After honoured), 5xx answers, connection resets and
   * timeouts; never authentication failures or missing images. All retries stop before the
   * Lambda deadline.
   *
   * For example, { 'numAttempts': 3, 'baseDelay': 1, 'maxDelay': 5 }
   *
   * @default - 3 attempts, 1 second base delay, 10 seconds max delay
   */
  readonly retryConfigs?: { [fields: string]: number };

  /**
   * The amount of memory (in MiB) to allocate to the AWS Lambda function which
   * copies the image.
   *
   * The copier streams layers with bounded memory, so large images do not need more memory;
   * more memory does give the function more CPU.
   *
   * @default 512
   */
  readonly memoryLimit?: number;

  /**
   * Execution role associated with this function.
   *
   * The role is given only the statements the copy needs, scoped to the repositories, objects
   * and secrets this deployment names where they are known at synth time.
   *
   * @default - A role is automatically created
   */
  readonly role?: iam.IRole;

  /**
   * The VPC network to place the deployment lambda handler in.
   *
   * @default - None
   */
  readonly vpc?: ec2.IVpc;

  /**
   * Where in the VPC to place the deployment lambda handler.
   * Only used if 'vpc' is supplied.
   *
   * @default - the Vpc default strategy if not specified
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * The list of security groups to associate with the Lambda's network interfaces.
   *
   * Only used if 'vpc' is supplied.
   *
   * @default - If the function is placed within a VPC and a security group is
   * not specified, either by this or securityGroup prop, a dedicated security
   * group will be created for this function.
   */
  readonly securityGroups?: ec2.ISecurityGroup[];

  /**
   * The instruction set of the handler function. ARM_64 runs the arm64 build of the copier on Graviton.
   *
   * @default lambda.Architecture.X86_64
   */
  readonly lambdaArchitecture?: lambda.Architecture;

  /**
   * Environment variables for the handler, e.g. `HTTPS_PROXY`, `NO_PROXY` or `LOG_LEVEL`
   * (debug, info, warn or error).
   *
   * Deployments with different environments get different handler functions.
   *
   * @default - no extra environment
   */
  readonly environment?: { [key: string]: string };

  /**
   * The size of the handler's /tmp. The copier streams and writes nothing there, so the
   * default is enough; this exists for organisations that set it by policy.
   *
   * @default - 512 MiB, Lambda's default
   */
  readonly ephemeralStorageSize?: Size;

  /**
   * How long the handler's logs are kept.
   *
   * Note: CDK implements this with a log-retention custom resource of its own.
   * Prefer `logGroup` with aws-cdk-lib 2.110 or later.
   *
   * @default logs.RetentionDays.INFINITE
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * The log group the handler writes to. Needs aws-cdk-lib 2.110 or later.
   *
   * @default - `/aws/lambda/<function name>`, created by Lambda on first use
   */
  readonly logGroup?: logs.ILogGroup;

  /**
   * Extra tags for the copied image in the destination repository, applied after the copy.
   * The destination's own tag (or digest) is applied as before.
   *
   * @default - no extra tags
   */
  readonly destTags?: string[];

  /**
   * What happens to the destination tag when this resource is deleted from the stack.
   *
   * RETAIN leaves the image in place, as upstream does. DESTROY deletes the destination tag,
   * `destTags` and `archImageTags` (`BatchDeleteImage` on ECR and ECR Public, a manifest
   * DELETE elsewhere), but only those that still point at the digest this resource copied:
   * a tag re-pointed since, an image that was there before a failed create, and, outside ECR,
   * a manifest that another tag also points at are left alone. An image already gone counts
   * as deleted. Only DESTROY grants the delete permissions.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

const BIN_DIR = path.join(__dirname, '..', 'lambda-bin');

/**
 * Copies a container image from a registry or S3 archive into a registry (typically ECR)
 * when the stack deploys, through a Lambda-backed custom resource.
 */
export class ECRDeployment extends Construct {
  /**
   * The digest of the image (or image index) at the destination, e.g. `sha256:...`.
   *
   * Resolves through `Fn::GetAtt` of the custom resource.
   */
  public readonly imageDigest: string;

  /**
   * The destination image pinned by digest, `REGISTRY/REPO@sha256:...`: use it where a
   * deployment must run exactly the copied image (e.g. `ecs.ContainerImage.fromRegistry`).
   */
  public readonly imageUri: string;

  private handler: lambda.SingletonFunction;

  constructor(scope: Construct, id: string, props: ECRDeploymentProps) {
    // All checks run before anything is added to the tree, so a bad prop leaves no half-built construct.
    const warnings = validateProps(props);
    super(scope, id);
    for (const w of warnings) {
      const annotations = Annotations.of(this);
      // addWarningV2 (acknowledgeable) is newer than the oldest aws-cdk-lib this library supports.
      if (typeof annotations.addWarningV2 === 'function') {
        annotations.addWarningV2(`cdk-ecr-deployment:${w.id}`, w.message);
      } else {
        annotations.addWarning(w.message);
      }
    }

    const memoryLimit = props.memoryLimit ?? 512;
    const architecture = props.lambdaArchitecture ?? lambda.Architecture.X86_64;
    const options = handlerOptions(props);
    this.handler = new lambda.SingletonFunction(this, 'CustomResourceHandler', {
      uuid: singletonUuid(this, { memoryLimit, upstreamOptions: options.upstreamIdentity, extraOptions: options.extraIdentity }),
      code: lambda.Code.fromAsset(handlerBinaryDir(architecture)),
      // Not Runtime.PROVIDED_AL2023, which aws-cdk-lib < 2.105 lacks; the peer range starts at 2.80.
      runtime: new lambda.Runtime('provided.al2023', lambda.RuntimeFamily.OTHER),
      handler: 'bootstrap',
      lambdaPurpose: 'Custom::CDKECRDeployment',
      description: 'Custom resource handler for copying Docker images between docker registries.',
      timeout: Duration.minutes(15),
      memorySize: memoryLimit,
      ...options.functionProps,
    });

    const destroy = props.removalPolicy === RemovalPolicy.DESTROY;
    const handlerRole = this.handlerRole();
    // The destination binds first: its statements come first in the policy, as they always have.
    const dest = bindImage(this, props.dest, { handlerRole, direction: ImageDirection.DESTINATION, deleteOnDestroy: destroy });
    const src = bindImage(this, props.src, { handlerRole, direction: ImageDirection.SOURCE });

    const imageArch = props.imageArch ? props.imageArch.join(',') : '';
    const resource = new CustomResource(this, 'CustomResource', {
      serviceToken: this.handler.functionArn,
      // The type name is upstream's; changing it would replace every deployed resource.
      resourceType: 'Custom::CDKECRDeployment',
      properties: {
        SrcImage: src.uri,
        SrcCreds: src.creds,
        DestImage: dest.uri,
        DestCreds: dest.creds,
        ...(src.assumeRoleArn ? { SrcRoleArn: src.assumeRoleArn } : {}),
        ...(dest.assumeRoleArn ? { DestRoleArn: dest.assumeRoleArn } : {}),
        ...(imageArch ? { ImageArch: imageArch } : {}),
        ...(props.copyImageIndex ? { CopyImageIndex: props.copyImageIndex } : {}),
        ...(props.archImageTags ? { ArchImageTags: JSON.stringify(props.archImageTags) } : {}),
        ...(props.retryConfigs ? { RetryConfigs: JSON.stringify(props.retryConfigs) } : {}),
        ...(props.destTags && props.destTags.length > 0 ? { DestTags: JSON.stringify(props.destTags) } : {}),
        ...(destroy ? { RemovalPolicy: 'destroy' } : {}),
        ...(props.copyReferrers ? { CopyReferrers: true } : {}),
        ...(props.destManifestFormat ? { DestManifestFormat: props.destManifestFormat } : {}),
      },
    });
    // A repository named by a literal string gives CloudFormation no reference to order by.
    dependOnNamedRepositories(resource, [src.uri, dest.uri]);
    this.imageDigest = resource.getAttString('ImageDigest');
    this.imageUri = resource.getAttString('ImageUri');
  }

  /**
   * Adds a statement to the handler's role, e.g. for a KMS key or a secret the construct cannot see.
   */
  public addToPrincipalPolicy(statement: PolicyStatement): AddToPrincipalPolicyResult {
    return this.handlerRole().addToPrincipalPolicy(statement);
  }

  private handlerRole(): iam.IRole {
    const role = this.handler.role;
    if (!role) {
      throw new Error('lambda.SingletonFunction should have created a Role');
    }
    return role;
  }
}

/**
 * Throws where upstream 4.2.65 throws too, for props upstream does not have, and where the
 * construct cannot be built; returns warnings for values of upstream's props that synthesize
 * with upstream but that the handler (or Lambda) refuses at deploy time. Every app that
 * synthesizes with upstream synthesizes with ours (issue 14); several imageArch values are a
 * deliberate widening.
 */
function validateProps(props: ECRDeploymentProps): PropWarning[] {
  const warnings: Array<PropWarning | undefined> = [];
  const archWarning = (prop: string, a: string) => {
    const w = validateArch(prop, a);
    return w === undefined ? undefined : { id: 'architecture', message: `ECRDeployment: ${w}` };
  };
  // Upstream v4's messages, kept word for word: users' tests match on them.
  if (props.imageArch && props.copyImageIndex) {
    throw new Error('imageArch and copyImageIndex cannot both be set');
  }
  if (!props.copyImageIndex && props.archImageTags) {
    throw new Error('archImageTags can only be specified when copyImageIndex is true');
  }
  if (props.memoryLimit !== undefined && Token.isUnresolved(props.memoryLimit)) {
    throw new Error('Can\'t use tokens when specifying "memoryLimit" since we use it to identify the singleton custom resource handler');
  }

  // Upstream fails on these too (it reads props.dest.uri), and there is nothing to copy.
  if (!props.src || !props.dest) {
    throw new Error(`ECRDeployment: ${props.src ? 'dest' : 'src'}: an image is required`);
  }
  // copyReferrers and destManifestFormat are new props (upstream has neither): refused outright.
  if (props.copyReferrers && props.destManifestFormat) {
    throw new Error('ECRDeployment: copyReferrers: cannot be combined with destManifestFormat (a converted image gets a new digest, and signatures and referrers name the source\'s digest)');
  }
  if (props.copyReferrers && !Token.isUnresolved(props.src.uri) && !props.src.uri.startsWith('docker://')) {
    throw new Error(`ECRDeployment: copyReferrers: needs a registry source (docker://), got ${props.src.uri}: archives carry no referrers`);
  }
  warnings.push(imageUriWarning('src', props.src.uri, { destination: false }));
  warnings.push(imageUriWarning('dest', props.dest.uri, { destination: true }));
  if (props.imageArch) {
    // Upstream refuses any length but 1; several are our deliberate widening, none stays refused.
    if (props.imageArch.length === 0) {
      throw new Error('ECRDeployment: imageArch: must name at least one architecture; omit it for the default (amd64)');
    }
    // Upstream sends [''] as no ImageArch at all; so do we (the join is empty).
    const archs = props.imageArch.length === 1 && props.imageArch[0] === '' ? [] : props.imageArch;
    // The handler splits ImageArch at ',' and trims, so 'amd64, arm64' in one entry is two.
    archs.flatMap(a => (Token.isUnresolved(a) ? [a] : a.split(',').map(p => p.trim())))
      .forEach(a => warnings.push(archWarning('imageArch', a)));
    // Only reachable with two entries or more, which upstream refuses.
    if (new Set(props.imageArch).size !== props.imageArch.length) {
      throw new Error(`ECRDeployment: imageArch: duplicate architecture in ${JSON.stringify(props.imageArch)}`);
    }
  }
  for (const [arch, tag] of Object.entries(props.archImageTags ?? {})) {
    warnings.push(archWarning('archImageTags', arch));
    warnings.push(archTagWarning(arch, tag));
  }
  if (props.retryConfigs) {
    warnings.push(...retryWarnings(props.retryConfigs));
  }
  // destTags is ours alone: no upstream app can hold a bad one, so it stays a synth-time error.
  (props.destTags ?? []).forEach(t => validateTag('destTags', t));
  if (props.memoryLimit !== undefined) {
    warnings.push(memoryWarning(props.memoryLimit));
  }
  return warnings.filter((w): w is PropWarning => w !== undefined);
}

/**
 * The handler function's options, each listed once with how it counts in the singleton's
 * identity. The identity keys are fixed: they are hashed into the function's logical id.
 */
function handlerOptions(props: ECRDeploymentProps): {
  functionProps: Partial<lambda.FunctionOptions>;
  upstreamIdentity: { [key: string]: unknown };
  extraIdentity: { [key: string]: unknown };
} {
  const environment = props.environment && Object.keys(props.environment).length > 0 ? props.environment : undefined;
  const nodePath = (c: IConstruct) => c.node.path;
  // [function prop, value, identity key, identity of the value, upstream has it]
  const table: Array<[keyof lambda.FunctionOptions, any, string, (v: any) => unknown, boolean]> = [
    ['role', props.role, 'role', nodePath, true],
    ['vpc', props.vpc, 'vpc', nodePath, true],
    ['vpcSubnets', props.vpcSubnets, 'vpcSubnets', describeSubnets, true],
    ['securityGroups', props.securityGroups, 'securityGroups', (sgs: ec2.ISecurityGroup[]) => sgs.map(nodePath), true],
    ['architecture', props.lambdaArchitecture, 'architecture',
      (a: lambda.Architecture) => a.name === lambda.Architecture.X86_64.name ? undefined : a.name, false],
    ['environment', environment, 'environment', v => v, false],
    ['ephemeralStorageSize', props.ephemeralStorageSize, 'ephemeralStorageMiB', (s: Size) => s.toMebibytes(), false],
    ['logRetention', props.logRetention, 'logRetention', v => v, false],
    ['logGroup', props.logGroup, 'logGroup', nodePath, false],
  ];
  const functionProps: { [key: string]: unknown } = {};
  const upstreamIdentity: { [key: string]: unknown } = {};
  const extraIdentity: { [key: string]: unknown } = {};
  for (const [prop, value, key, identity, upstream] of table) {
    const id = value === undefined ? undefined : identity(value);
    (upstream ? upstreamIdentity : extraIdentity)[key] = id;
    if (value !== undefined) {
      functionProps[prop] = value;
    }
  }
  return { functionProps: functionProps as Partial<lambda.FunctionOptions>, upstreamIdentity, extraIdentity };
}

function describeSubnets(selection: ec2.SubnetSelection): unknown {
  return {
    ...selection,
    subnets: selection.subnets?.map(s => (s as IConstruct).node.path),
    subnetFilters: selection.subnetFilters ? selection.subnetFilters.length : undefined,
  };
}

function handlerBinaryDir(architecture: lambda.Architecture): string {
  const dir = path.join(BIN_DIR, architecture.name === lambda.Architecture.ARM_64.name ? 'arm64' : 'amd64');
  if (!fs.existsSync(path.join(dir, 'bootstrap'))) {
    throw new Error(`ECRDeployment: the handler binary is missing at ${dir}/bootstrap; build it with 'npx projen pre-compile' (bash lambda/build.sh)`);
  }
  return dir;
}
