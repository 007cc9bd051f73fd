import { ArnFormat, Aws, Stack, Token, aws_iam as iam } from 'aws-cdk-lib';
import { ImageLocation } from './image-uri';
import { s3KeyCandidates } from './rules';

// The statements one image needs, each added by the image that needs it (see IImageName.bind).
// Identical statements from the source and the destination (the ECR token) are merged by CDK's
// policy document.

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
// DESTROY reads what each tag points at before it untags (a resource removes only what it
// still owns): BatchGetImage is already a push action, DescribeImages is not.
const ECR_DELETE = ['ecr:BatchDeleteImage', 'ecr:DescribeImages'];

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

/**
 * Adds statements to the handler role for one image.
 */
export class ImageGrants {
  constructor(readonly stack: Stack, readonly role: iam.IRole) {}

  add(actions: string[], resources: string[]): void {
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ effect: iam.Effect.ALLOW, actions, resources }));
  }

  /** GetAuthorizationToken has no resource type: IAM only accepts '*' for it. */
  ecrLogin(): void {
    this.add(['ecr:GetAuthorizationToken'], ['*']);
  }
}

/** Pull (source) or push (destination) on one ECR repository. */
export function grantEcrRepository(grants: ImageGrants, repositoryArn: string, destination: boolean, deleteOnDestroy: boolean): void {
  grants.ecrLogin();
  if (!destination) {
    grants.add(ECR_PULL, [repositoryArn]);
    return;
  }
  grants.add(deleteOnDestroy ? [...ECR_PUSH, ...ECR_DELETE] : ECR_PUSH, [repositoryArn]);
}

/**
 * A source in a pull-through cache: the first pull imports the upstream image into the cache
 * repository (BatchImportUpstreamImage), creating the repository if the rule does.
 */
export function grantPullThroughCache(grants: ImageGrants, repositoryArn: string, createRepository: boolean): void {
  grantEcrRepository(grants, repositoryArn, false, false);
  grants.add(['ecr:BatchImportUpstreamImage', ...(createRepository ? ['ecr:CreateRepository'] : [])], [repositoryArn]);
}

/** `s3:GetObject` on the given `bucket/key` paths. */
export function grantArchive(grants: ImageGrants, paths: string[]): void {
  grants.add(['s3:GetObject'], paths.map(p => `arn:${grants.stack.partition}:s3:::${p}`));
}

/**
 * What an image needs, judged from its uri alone (a plain `DockerImageName`, or a user's own
 * `IImageName`): scoped to the repository or object where the uri names one at synth time.
 */
export function grantLocation(grants: ImageGrants, loc: ImageLocation, destination: boolean, deleteOnDestroy: boolean): void {
  if (loc.transport === 's3') {
    grantHandMadeArchive(grants, loc);
    return;
  }
  if (loc.ecr) {
    // The host's own partition (aws-cn, aws-us-gov, aws-iso...) when it names one; else the stack's.
    const arn = grants.stack.formatArn({
      partition: loc.ecr.partition,
      service: 'ecr',
      account: loc.ecr.account,
      region: loc.ecr.region,
      resource: 'repository',
      resourceName: loc.ecr.repositoryName,
    });
    grantEcrRepository(grants, arn, destination, deleteOnDestroy);
    return;
  }
  if (loc.ecrPublic) {
    // Upstream v4 grants the ECR token to any ECR-looking image; kept so no policy shrinks under users.
    grants.ecrLogin();
    grantEcrPublic(grants, loc.ecrPublic.repositoryName, destination, deleteOnDestroy);
    return;
  }
  if (loc.maybeEcr) {
    grants.ecrLogin();
    grants.add(destination && deleteOnDestroy ? [...ECR_ANY, 'ecr:BatchDeleteImage'] : ECR_ANY, ['*']);
  }
  if (loc.maybeEcrPublic && destination) {
    // public.ecr.aws with a token path: the repository is unknown until deploy.
    grantEcrPublic(grants, '*', destination, deleteOnDestroy);
  }
}

function grantEcrPublic(grants: ImageGrants, repositoryName: string, destination: boolean, deleteOnDestroy: boolean): void {
  // Neither action has a resource type; ECR Public tokens come through STS bearer tokens.
  grants.add(['ecr-public:GetAuthorizationToken', 'sts:GetServiceBearerToken'], ['*']);
  if (!destination) {
    return;
  }
  grants.add(
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
    [grants.stack.formatArn({
      partition: 'aws',
      service: 'ecr-public',
      region: '',
      account: Aws.ACCOUNT_ID,
      resource: 'repository',
      resourceName: repositoryName,
    })],
  );
}

function grantHandMadeArchive(grants: ImageGrants, loc: ImageLocation): void {
  if (!loc.s3) {
    grants.add(['s3:GetObject'], ['*']);
    return;
  }
  // A hand-made s3:// uri: every key the handler may try (the rulebook's key/ref split).
  const candidates = s3KeyCandidates(loc.s3.keyWithRef).map(([key]) => key);
  grantArchive(grants, candidates.map(k => `${loc.s3!.bucket}/${k}`));
}

/**
 * `secretsmanager:GetSecretValue` on the secret a creds string names, if it names one.
 */
export function grantCredsSpec(grants: ImageGrants, creds: string | undefined): void {
  // A token may be `user:password` built from parameters, or a secret reference: we cannot tell,
  // so nothing is granted; DockerImageName.fromSecret() gives an exact grant instead.
  if (!creds || Token.isUnresolved(creds)) {
    return;
  }
  if (creds.startsWith('arn:')) {
    // A partial ARN (without the 6-character suffix Secrets Manager adds) matches with '-??????'.
    grants.add(['secretsmanager:GetSecretValue'], [creds, `${creds}-??????`]);
    return;
  }
  if (!creds.includes(':')) {
    grants.add(['secretsmanager:GetSecretValue'], [
      grants.stack.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `${creds}-??????`, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
    ]);
  }
}
