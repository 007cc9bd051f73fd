import { ArnFormat, Aws, Stack, Token, aws_iam as iam } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { DockerImageName, IImageName, S3ArchiveName } from './image-name';
import { isCertainlyNotEcr, locateImage } from './image-uri';
import { ECR_PUBLIC_HOSTS, s3KeyCandidates } from './rules';

const ECR_PULL = ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'];
const ECR_PUSH = [
  'ecr:BatchCheckLayerAvailability',
  'ecr:BatchGetImage',
  'ecr:GetDownloadUrlForLayer',
  'ecr:InitiateLayerUpload',
  'ecr:UploadLayerPart',
  'ecr:CompleteLayerUpload',
  'ecr:PutImage',
];

// What upstream v4 grants on '*'. Kept only for registries whose host is a token we cannot read
// at synth time, where the repository (or even whether it is ECR) is unknown until deploy.
const ECR_ANY = [
  'ecr:BatchCheckLayerAvailability',
  'ecr:GetDownloadUrlForLayer',
  'ecr:GetRepositoryPolicy',
  'ecr:DescribeRepositories',
  'ecr:ListImages',
  'ecr:DescribeImages',
  'ecr:BatchGetImage',
  'ecr:ListTagsForResource',
  'ecr:DescribeImageScanFindings',
  'ecr:InitiateLayerUpload',
  'ecr:UploadLayerPart',
  'ecr:CompleteLayerUpload',
  'ecr:PutImage',
];

export interface CopyGrantOptions {
  readonly src: IImageName;
  readonly dest: IImageName;
  readonly deleteOnDestroy: boolean;
}

/**
 * Adds what the copier needs for one deployment to the handler's role, scoped to the
 * repositories, objects and secrets named by the deployment wherever they are known at synth time.
 */
export function grantCopy(scope: IConstruct, role: iam.IRole, opts: CopyGrantOptions): void {
  const stack = Stack.of(scope);
  const add = (actions: string[], resources: string[]) =>
    role.addToPrincipalPolicy(new iam.PolicyStatement({ effect: iam.Effect.ALLOW, actions, resources }));

  const src = locateImage(opts.src.uri);
  const dest = locateImage(opts.dest.uri);
  const maybeEcr = [opts.src, opts.dest].filter(i => !isCertainlyNotEcr(i.uri));
  if (maybeEcr.length > 0) {
    // GetAuthorizationToken has no resource type: IAM only accepts '*' for it.
    add(['ecr:GetAuthorizationToken'], ['*']);
  }

  // The host's own partition (aws-cn, aws-us-gov, aws-iso...) when it names one; else the stack's.
  const repoArn = (r: { account: string; region: string; repositoryName: string; partition?: string }) =>
    stack.formatArn({ partition: r.partition, service: 'ecr', account: r.account, region: r.region, resource: 'repository', resourceName: r.repositoryName });

  // DESTROY reads what each tag points at before it untags (a resource removes only what it
  // still owns): BatchGetImage is already a push action, DescribeImages is not.
  const ECR_DELETE = ['ecr:BatchDeleteImage', 'ecr:DescribeImages'];
  const pushActions = opts.deleteOnDestroy ? [...ECR_PUSH, ...ECR_DELETE] : ECR_PUSH;
  if (dest.ecr) {
    add(pushActions, [repoArn(dest.ecr)]);
  }
  if (src.ecr) {
    add(ECR_PULL, [repoArn(src.ecr)]);
  }
  const unknownEcr = maybeEcr.filter(i => !locateImage(i.uri).ecr && !locateImage(i.uri).ecrPublic);
  if (unknownEcr.length > 0) {
    const actions = opts.deleteOnDestroy && unknownEcr.includes(opts.dest) ? [...ECR_ANY, 'ecr:BatchDeleteImage'] : ECR_ANY;
    add(actions, ['*']);
  }

  const destMentionsPublic = ECR_PUBLIC_HOSTS.some(h => opts.dest.uri.includes(h));
  grantPublicEcr(scope, add, src.ecrPublic !== undefined, dest.ecrPublic, destMentionsPublic, opts.deleteOnDestroy);
  grantArchiveRead(stack, add, opts.src);
  for (const image of [opts.src, opts.dest]) {
    grantCredsSecret(stack, role, add, image);
  }
}

function grantPublicEcr(
  scope: IConstruct,
  add: (actions: string[], resources: string[]) => void,
  srcIsPublic: boolean,
  destPublic: { repositoryName: string } | undefined,
  destMentionsPublic: boolean,
  deleteOnDestroy: boolean,
): void {
  if (!srcIsPublic && !destPublic && !destMentionsPublic) {
    return;
  }
  // Neither action has a resource type; ECR Public tokens come through STS bearer tokens.
  add(['ecr-public:GetAuthorizationToken', 'sts:GetServiceBearerToken'], ['*']);
  if (destPublic || destMentionsPublic) {
    add(
      [
        'ecr-public:BatchCheckLayerAvailability',
        'ecr-public:InitiateLayerUpload',
        'ecr-public:UploadLayerPart',
        'ecr-public:CompleteLayerUpload',
        'ecr-public:PutImage',
        // ECR Public's registry has no manifest DELETE: DESTROY lists the tags and untags
        // through the API.
        ...(deleteOnDestroy ? ['ecr-public:DescribeImageTags', 'ecr-public:BatchDeleteImage'] : []),
      ],
      // ECR Public exists only in the 'aws' partition, and its ARNs have no region.
      [Stack.of(scope).formatArn({
        partition: 'aws',
        service: 'ecr-public',
        region: '',
        account: Aws.ACCOUNT_ID,
        resource: 'repository',
        resourceName: destPublic?.repositoryName ?? '*',
      })],
    );
  }
}

function grantArchiveRead(stack: Stack, add: (actions: string[], resources: string[]) => void, src: IImageName): void {
  const loc = locateImage(src.uri);
  if (loc.transport !== 's3') {
    return;
  }
  const objectArn = (path: string) => `arn:${stack.partition}:s3:::${path}`;
  if (src instanceof S3ArchiveName) {
    // The copier looks for the longest existing key first, so it may probe `key:ref` too.
    const paths = src.uri === `s3://${src.objectPath}` ? [src.objectPath] : [src.objectPath, src.uri.slice('s3://'.length)];
    add(['s3:GetObject'], paths.map(objectArn));
    return;
  }
  if (!loc.s3) {
    add(['s3:GetObject'], ['*']);
    return;
  }
  // A hand-made s3:// uri: every key the handler may try (the rulebook's key/ref split).
  const candidates = s3KeyCandidates(loc.s3.keyWithRef).map(([key]) => key);
  add(['s3:GetObject'], candidates.map(k => objectArn(`${loc.s3!.bucket}/${k}`)));
}

function grantCredsSecret(
  stack: Stack,
  role: iam.IRole,
  add: (actions: string[], resources: string[]) => void,
  image: IImageName,
): void {
  if (image instanceof DockerImageName && image.grantCredsRead(role)) {
    return;
  }
  const creds = image.creds;
  // A token may be `user:password` built from parameters, or a secret reference: we cannot tell,
  // so nothing is granted; DockerImageName.fromSecret() gives an exact grant instead.
  if (!creds || Token.isUnresolved(creds)) {
    return;
  }
  if (creds.startsWith('arn:')) {
    // A partial ARN (without the 6-character suffix Secrets Manager adds) matches with '-??????'.
    add(['secretsmanager:GetSecretValue'], [creds, `${creds}-??????`]);
    return;
  }
  if (!creds.includes(':')) {
    add(['secretsmanager:GetSecretValue'], [
      stack.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `${creds}-??????`, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
    ]);
  }
}
