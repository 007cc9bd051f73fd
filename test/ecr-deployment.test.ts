import { App, Aws, CfnParameter, RemovalPolicy, Size, Stack, aws_ec2 as ec2, aws_ecr as ecr, aws_iam as iam, aws_kms as kms, aws_lambda as lambda, aws_logs as logs, aws_secretsmanager as sm } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { DockerImageName, ECRDeployment, ECRDeploymentProps, ManifestFormat, S3ArchiveName } from '../src';

const ECR_DEST = `${Aws.ACCOUNT_ID}.dkr.ecr.${Aws.REGION}.amazonaws.com/my-repo:latest`;

function newStack(): Stack {
  return new Stack(new App(), 'Test', { env: { account: '123456789012', region: 'us-east-1' } });
}

function deploy(props: Partial<ECRDeploymentProps> = {}, stack = newStack()): { stack: Stack; template: Template; deployment: ECRDeployment } {
  const deployment = new ECRDeployment(stack, 'Deploy', {
    src: new DockerImageName('nginx:latest'),
    dest: new DockerImageName(ECR_DEST),
    ...props,
  });
  // Synthesis freezes the tree, so the template is made only when a test asks for it.
  return { stack, deployment, get template() { return Template.fromStack(stack); } };
}

/** Every statement of every IAM policy in the template, flattened. */
function statements(template: Template): any[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
}

function actionsOn(template: Template, action: string): any[] {
  return statements(template).filter(s => [s.Action].flat().includes(action)).map(s => s.Resource);
}

describe('handler function', () => {
  test('provided.al2023, bootstrap, 15 minutes, 512 MiB by default', () => {
    const { template } = deploy();
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'provided.al2023',
      Handler: 'bootstrap',
      Timeout: 900,
      MemorySize: 512,
      Architectures: Match.absent(),
    });
  });

  test('default uses upstream singleton identity', () => {
    const { template } = deploy();
    const ids = Object.keys(template.findResources('AWS::Lambda::Function'));
    expect(ids).toEqual([expect.stringMatching(/^CustomCDKECRDeploymentbd07c930edb94112a20f03f096f53666512MiB[0-9A-F]{8}$/)]);
  });

  test('memoryLimit sets memory and the singleton identity', () => {
    const stack = newStack();
    deploy({ memoryLimit: 1024 }, stack);
    new ECRDeployment(stack, 'Other', { src: new DockerImageName('a:1'), dest: new DockerImageName(ECR_DEST) });
    const template = Template.fromStack(stack);
    const fns = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(fns).sort()).toEqual([
      expect.stringMatching(/^CustomCDKECRDeploymentbd07c930edb94112a20f03f096f536661024MiB/),
      expect.stringMatching(/^CustomCDKECRDeploymentbd07c930edb94112a20f03f096f53666512MiB/),
    ]);
    expect(Object.values(fns).map((f: any) => f.Properties.MemorySize).sort()).toEqual([1024, 512]);
  });

  test('deployments with the same configuration share one function', () => {
    const stack = newStack();
    for (const id of ['A', 'B', 'C']) {
      new ECRDeployment(stack, id, { src: new DockerImageName(`img-${id.toLowerCase()}:1`), dest: new DockerImageName(ECR_DEST), environment: { LOG_LEVEL: 'debug' } });
    }
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.resourceCountIs('Custom::CDKECRDeployment', 3);
  });

  test.each<[string, Partial<ECRDeploymentProps>]>([
    ['architecture', { lambdaArchitecture: lambda.Architecture.ARM_64 }],
    ['environment', { environment: { HTTPS_PROXY: 'http://proxy:3128' } }],
    ['ephemeral storage', { ephemeralStorageSize: Size.gibibytes(2) }],
    ['log retention', { logRetention: logs.RetentionDays.ONE_WEEK }],
  ])('a different %s gives another function', (_name, extra) => {
    const stack = newStack();
    deploy({}, stack);
    new ECRDeployment(stack, 'Other', { src: new DockerImageName('a:1'), dest: new DockerImageName(ECR_DEST), ...extra });
    // logRetention brings CDK's own log-retention function; count only copier handlers.
    const handlers = Template.fromStack(stack).findResources('AWS::Lambda::Function', { Properties: { Handler: 'bootstrap' } });
    expect(Object.keys(handlers)).toHaveLength(2);
  });

  test('a different role or VPC gives another function, the first keeps upstream identity', () => {
    const stack = newStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0, subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    deploy({}, stack);
    new ECRDeployment(stack, 'InVpc', { src: new DockerImageName('a:1'), dest: new DockerImageName(ECR_DEST), vpc });
    const role = new iam.Role(stack, 'R', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    new ECRDeployment(stack, 'WithRole', { src: new DockerImageName('a:1'), dest: new DockerImageName(ECR_DEST), role });
    const ids = Object.keys(Template.fromStack(stack).findResources('AWS::Lambda::Function'));
    expect(ids).toHaveLength(3);
    expect(ids.filter(id => /^CustomCDKECRDeploymentbd07c930edb94112a20f03f096f53666512MiB[0-9A-F]{8}$/.test(id))).toHaveLength(1);
  });

  test('ARM_64 uses the arm64 bootstrap asset', () => {
    const { template, stack } = deploy({ lambdaArchitecture: lambda.Architecture.ARM_64 });
    template.hasResourceProperties('AWS::Lambda::Function', { Architectures: ['arm64'] });
    const assets = stack.node.findAll().filter(c => c.node.id === 'Code' || c.node.id === 'Stage');
    expect(assets.length).toBeGreaterThan(0);
    const armAsset = Object.values(template.findResources('AWS::Lambda::Function'))[0] as any;
    const x86 = Object.values(deploy().template.findResources('AWS::Lambda::Function'))[0] as any;
    expect(armAsset.Properties.Code.S3Key).not.toEqual(x86.Properties.Code.S3Key);
  });

  test('environment, ephemeral storage, log group and VPC are passed through', () => {
    const stack = newStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0, subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    const sg = new ec2.SecurityGroup(stack, 'Sg', { vpc });
    const logGroup = new logs.LogGroup(stack, 'Logs');
    deploy({
      environment: { HTTPS_PROXY: 'http://proxy:3128', LOG_LEVEL: 'debug' },
      ephemeralStorageSize: Size.gibibytes(1),
      logGroup,
      vpc,
      securityGroups: [sg],
    }, stack);
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { HTTPS_PROXY: 'http://proxy:3128', LOG_LEVEL: 'debug' } },
      EphemeralStorage: { Size: 1024 },
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('Logs') } },
      VpcConfig: { SecurityGroupIds: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^Sg'), 'GroupId'] }] },
    });
  });
});

describe('custom resource', () => {
  test('upstream property names and formats', () => {
    const { template } = deploy({
      src: new DockerImageName('localhost:5000/a/b:t', 'user:pa:ss'),
      dest: new DockerImageName(ECR_DEST, 'secret-name'),
      copyImageIndex: true,
      archImageTags: { arm64: 'latest-arm64' },
      retryConfigs: { numAttempts: 4, baseDelay: 1, maxDelay: 8 },
    });
    template.hasResourceProperties('Custom::CDKECRDeployment', {
      SrcImage: 'docker://localhost:5000/a/b:t',
      SrcCreds: 'user:pa:ss',
      DestImage: { 'Fn::Join': ['', ['docker://', { Ref: 'AWS::AccountId' }, '.dkr.ecr.', { Ref: 'AWS::Region' }, '.amazonaws.com/my-repo:latest']] },
      DestCreds: 'secret-name',
      CopyImageIndex: true,
      ArchImageTags: '{"arm64":"latest-arm64"}',
      RetryConfigs: '{"numAttempts":4,"baseDelay":1,"maxDelay":8}',
      ImageArch: Match.absent(),
    });
  });

  test('optional properties are absent by default', () => {
    const { template } = deploy();
    const props = (Object.values(template.findResources('Custom::CDKECRDeployment'))[0] as any).Properties;
    expect(Object.keys(props).sort()).toEqual(['DestImage', 'ServiceToken', 'SrcImage']);
  });

  test('one architecture is a plain string, several are comma-joined', () => {
    deploy({ imageArch: ['arm64'] }).template.hasResourceProperties('Custom::CDKECRDeployment', { ImageArch: 'arm64' });
    deploy({ imageArch: ['amd64', 'arm64'] }).template.hasResourceProperties('Custom::CDKECRDeployment', { ImageArch: 'amd64,arm64' });
  });

  test('s3 uris with and without a reference', () => {
    expect(new S3ArchiveName('bucket/dir/img.tar', 'app:latest').uri).toBe('s3://bucket/dir/img.tar:app:latest');
    expect(new S3ArchiveName('bucket/img.tar').uri).toBe('s3://bucket/img.tar');
    expect(new DockerImageName('nginx').uri).toBe('docker://nginx');
    deploy({ src: new S3ArchiveName('bucket/img.tar', 'app:1') }).template
      .hasResourceProperties('Custom::CDKECRDeployment', { SrcImage: 's3://bucket/img.tar:app:1' });
  });

  test('destTags and removalPolicy DESTROY', () => {
    const { template } = deploy({ destTags: ['v1', 'stable'], removalPolicy: RemovalPolicy.DESTROY });
    template.hasResourceProperties('Custom::CDKECRDeployment', { DestTags: '["v1","stable"]', RemovalPolicy: 'destroy' });
    expect(deploy({ removalPolicy: RemovalPolicy.RETAIN }).template.toJSON()).not.toHaveProperty('Resources.DeployCustomResourceE6CC9AEA.Properties.RemovalPolicy');
  });

  test('copyReferrers and destManifestFormat are emitted only when set', () => {
    deploy({ copyReferrers: true }).template.hasResourceProperties('Custom::CDKECRDeployment', { CopyReferrers: true, DestManifestFormat: Match.absent() });
    deploy({ destManifestFormat: ManifestFormat.OCI }).template.hasResourceProperties('Custom::CDKECRDeployment', { DestManifestFormat: 'oci', CopyReferrers: Match.absent() });
    deploy({ destManifestFormat: ManifestFormat.DOCKER_V2S2 }).template.hasResourceProperties('Custom::CDKECRDeployment', { DestManifestFormat: 'v2s2' });
    deploy({ copyReferrers: false }).template.hasResourceProperties('Custom::CDKECRDeployment', { CopyReferrers: Match.absent() });
  });

  test('imageDigest and imageUri resolve through Fn::GetAtt', () => {
    const { stack, deployment } = deploy();
    expect(stack.resolve(deployment.imageDigest)).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^DeployCustomResource/), 'ImageDigest'] });
    expect(stack.resolve(deployment.imageUri)).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^DeployCustomResource/), 'ImageUri'] });
  });
});

describe('validation', () => {
  test.each<[string, Partial<ECRDeploymentProps>, string]>([
    ['imageArch with copyImageIndex', { imageArch: ['arm64'], copyImageIndex: true }, 'imageArch and copyImageIndex cannot both be set'],
    ['archImageTags without copyImageIndex', { archImageTags: { arm64: 'x' } }, 'archImageTags can only be specified when copyImageIndex is true'],
    ['empty imageArch', { imageArch: [] }, 'imageArch: must name at least one architecture'],
    ['duplicate arch', { imageArch: ['arm64', 'arm64'] }, 'imageArch: duplicate architecture'],
    ['bad destTag', { destTags: ['ok', 'not ok'] }, 'destTags: invalid tag "not ok"'],
  ])('%s: an error', (_name, props, message) => {
    const stack = newStack();
    expect(() => deploy(props, stack)).toThrow(message);
    // Nothing was added to the tree before the error.
    expect(stack.node.tryFindChild('Deploy')).toBeUndefined();
  });

  // Upstream 4.2.65 synthesizes each of these, so ours does too (issue 14), with a warning.
  test.each<[string, Partial<ECRDeploymentProps>, string]>([
    ['bad arch tag', { copyImageIndex: true, archImageTags: { arm64: '-bad' } }, 'archImageTags: invalid tag "-bad"'],
    ['unknown retry field', { retryConfigs: { attempts: 3 } }, 'retryConfigs: unknown field "attempts"'],
    ['negative retry delay', { retryConfigs: { baseDelay: -1 } }, 'retryConfigs: baseDelay must be a number of at least 0'],
    ['fractional attempts', { retryConfigs: { numAttempts: 2.5 } }, 'retryConfigs: numAttempts must be a whole number'],
    ['base above max', { retryConfigs: { baseDelay: 5, maxDelay: 1 } }, 'retryConfigs: baseDelay (5) must not exceed maxDelay (1)'],
    ['s3 destination', { dest: new S3ArchiveName('bucket/key.tar') }, 'dest: the destination must be a registry image'],
    ['empty src', { src: new DockerImageName('') }, 'src: image uri "docker://" names no image'],
    ['space in uri', { src: new DockerImageName('nginx: latest') }, 'src: image uri "docker://nginx: latest" contains white space'],
    ['uppercase repository', { dest: new DockerImageName('localhost:5000/MyRepo:latest') }, 'dest: invalid repository name'],
    ['over-long tag', { dest: new DockerImageName(`localhost:5000/repo:${'a'.repeat(129)}`) }, 'dest: invalid tag'],
    ['bad digest', { src: new DockerImageName('nginx@sha256:abc') }, 'src: invalid digest'],
    ['unknown transport', { src: { uri: 'oci-archive:/tmp/x.tar' } }, 'src: unsupported image uri'],
    ['memory out of range', { memoryLimit: 64 }, 'memoryLimit: must be between 128 and 10240 MiB'],
  ])('%s: a warning', (_name, props, message) => {
    const stack = newStack();
    deploy(props, stack);
    Annotations.fromStack(stack).hasWarning('/Test/Deploy', Match.stringLikeRegexp(`ECRDeployment: ${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*The deployment will fail`));
  });

  test('memoryLimit token', () => {
    const stack = newStack();
    const mem = new CfnParameter(stack, 'Mem', { type: 'Number' }).valueAsNumber;
    expect(() => deploy({ memoryLimit: mem }, stack)).toThrow('Can\'t use tokens when specifying "memoryLimit"');
  });

  test('token architecture: synthesizes (as upstream), with a warning', () => {
    const stack = newStack();
    const arch = new CfnParameter(stack, 'Arch').valueAsString;
    deploy({ imageArch: [arch] }, stack);
    Annotations.fromStack(stack).hasWarning('/Test/Deploy', Match.stringLikeRegexp('imageArch: an architecture given as a token cannot be checked at synth time'));
    Template.fromStack(stack).hasResourceProperties('Custom::CDKECRDeployment', { ImageArch: { Ref: 'Arch' } });
  });

  test('tokens in image uris are accepted', () => {
    const stack = newStack();
    const tag = new CfnParameter(stack, 'Tag').valueAsString;
    expect(() => deploy({ dest: new DockerImageName(`${Aws.ACCOUNT_ID}.dkr.ecr.${Aws.REGION}.amazonaws.com/repo:${tag}`) }, stack)).not.toThrow();
  });
});

describe('least-privilege IAM', () => {
  const repoArn = (name: string) => ({
    'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ecr:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:repository/${name}`]],
  });

  test('push actions scoped to the destination repository; GetAuthorizationToken on *', () => {
    const { template } = deploy();
    expect(actionsOn(template, 'ecr:PutImage')).toEqual([repoArn('my-repo')]);
    expect(actionsOn(template, 'ecr:GetAuthorizationToken')).toEqual(['*']);
    expect(actionsOn(template, 's3:GetObject')).toEqual([]);
    expect(actionsOn(template, 'ecr:BatchDeleteImage')).toEqual([]);
    // No statement other than GetAuthorizationToken uses a wildcard resource.
    const wildcards = statements(template).filter(s => [s.Resource].flat().includes('*'));
    expect(wildcards.map(s => s.Action)).toEqual(['ecr:GetAuthorizationToken']);
  });

  test('repositoryUriForTag of a repository in the stack', () => {
    const stack = newStack();
    const repo = new ecr.Repository(stack, 'Repo');
    const { template } = deploy({ dest: new DockerImageName(repo.repositoryUriForTag('v1')) }, stack);
    const [resource] = actionsOn(template, 'ecr:PutImage');
    const repoId = stack.getLogicalId(repo.node.defaultChild as ecr.CfnRepository);
    expect(JSON.stringify(resource)).toContain(`"Ref":"${repoId}"`);
    expect(JSON.stringify(resource)).toContain(':repository/');
  });

  test('ECR source gets pull actions on its repository only', () => {
    const { template } = deploy({ src: new DockerImageName('111122223333.dkr.ecr.eu-west-1.amazonaws.com/base/img:1') });
    const pulls = statements(template).filter(s => [s.Action].flat().includes('ecr:BatchGetImage'));
    expect(pulls.map(s => s.Resource)).toEqual(expect.arrayContaining([
      // The host names its partition (aws), so the ARN is literal; see test/reach.test.ts for the others.
      'arn:aws:ecr:eu-west-1:111122223333:repository/base/img',
    ]));
    expect(pulls.find(s => JSON.stringify(s.Resource).includes('base/img')).Action).not.toContain('ecr:PutImage');
  });

  test('DESTROY grants BatchDeleteImage on the destination only', () => {
    const { template } = deploy({ removalPolicy: RemovalPolicy.DESTROY });
    expect(actionsOn(template, 'ecr:BatchDeleteImage')).toEqual([repoArn('my-repo')]);
    // The handler reads what each tag points at before it untags (ownership check).
    expect(actionsOn(template, 'ecr:DescribeImages')).toEqual([repoArn('my-repo')]);
  });

  test('DESTROY on an ECR Public destination untags through the ECR Public API', () => {
    const arn = { 'Fn::Join': ['', ['arn:aws:ecr-public::', { Ref: 'AWS::AccountId' }, ':repository/my-repo']] };
    const destroy = deploy({ dest: new DockerImageName('public.ecr.aws/my-alias/my-repo:latest'), removalPolicy: RemovalPolicy.DESTROY });
    expect(actionsOn(destroy.template, 'ecr-public:BatchDeleteImage')).toEqual([arn]);
    expect(actionsOn(destroy.template, 'ecr-public:DescribeImageTags')).toEqual([arn]);
    const retain = deploy({ dest: new DockerImageName('public.ecr.aws/my-alias/my-repo:latest') });
    expect(actionsOn(retain.template, 'ecr-public:BatchDeleteImage')).toEqual([]);
  });

  test('S3 archive grants GetObject on the object only', () => {
    const { template } = deploy({ src: new S3ArchiveName('bucket/images/app.tar', 'app:latest') });
    expect(actionsOn(template, 's3:GetObject')).toEqual([[
      { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::bucket/images/app.tar']] },
      { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::bucket/images/app.tar:app:latest']] },
    ]]);
  });

  test('secret named in creds gets GetSecretValue', () => {
    const { template } = deploy({ src: new DockerImageName('ghcr.io/org/app:1', 'my-registry-secret') });
    expect(actionsOn(template, 'secretsmanager:GetSecretValue')).toEqual([
      { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':secretsmanager:us-east-1:123456789012:secret:my-registry-secret-??????']] },
    ]);
  });

  test('secret ARN in creds gets GetSecretValue on that ARN', () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:creds-AbCdEf';
    const { template } = deploy({ src: new DockerImageName('ghcr.io/org/app:1', arn) });
    expect(actionsOn(template, 'secretsmanager:GetSecretValue')).toEqual([[arn, `${arn}-??????`]]);
  });

  test('user:password creds grant nothing', () => {
    const { template } = deploy({ src: new DockerImageName('ghcr.io/org/app:1', 'user:p@ss') });
    expect(actionsOn(template, 'secretsmanager:GetSecretValue')).toEqual([]);
  });

  test('fromSecret grants read and KMS decrypt', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key');
    const secret = new sm.Secret(stack, 'Secret', { encryptionKey: key });
    const { template } = deploy({ src: DockerImageName.fromSecret('ghcr.io/org/app:1', secret) }, stack);
    template.hasResourceProperties('Custom::CDKECRDeployment', { SrcCreds: { Ref: Match.stringLikeRegexp('^Secret') } });
    expect(actionsOn(template, 'secretsmanager:GetSecretValue')).toEqual([{ Ref: Match.stringLikeRegexp('^Secret') }].map(() => expect.anything()));
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Action: 'kms:Decrypt', Principal: { AWS: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] } } })]) },
    });
  });

  test('non-ECR registries get no ECR permissions', () => {
    const { template } = deploy({ src: new DockerImageName('nginx:latest'), dest: new DockerImageName('registry.example.com:5000/app:1') });
    expect(statements(template).filter(s => JSON.stringify(s.Action).includes('ecr:'))).toEqual([]);
  });

  test('an unreadable token registry falls back to upstream broad ECR actions', () => {
    const stack = newStack();
    const uri = new CfnParameter(stack, 'Uri').valueAsString;
    const { template } = deploy({ dest: new DockerImageName(uri) }, stack);
    expect(actionsOn(template, 'ecr:PutImage')).toEqual(['*']);
  });

  test('public ECR destination gets ecr-public statements scoped to the repository', () => {
    const { template } = deploy({ dest: new DockerImageName('public.ecr.aws/my-alias/my-repo:latest') });
    expect(actionsOn(template, 'ecr-public:GetAuthorizationToken')).toEqual(['*']);
    expect(actionsOn(template, 'ecr-public:PutImage')).toEqual([
      { 'Fn::Join': ['', ['arn:aws:ecr-public::', { Ref: 'AWS::AccountId' }, ':repository/my-repo']] },
    ]);
  });

  test('public ECR source gets only the token statements', () => {
    const { template } = deploy({ src: new DockerImageName('public.ecr.aws/docker/library/nginx:latest') });
    expect(actionsOn(template, 'sts:GetServiceBearerToken')).toEqual(['*']);
    expect(actionsOn(template, 'ecr-public:PutImage')).toEqual([]);
  });

  test('a user role gets the scoped statements, no wildcards beyond the token', () => {
    const stack = newStack();
    const role = new iam.Role(stack, 'UserRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const { template } = deploy({ role }, stack);
    const policy = Object.values(template.findResources('AWS::IAM::Policy'))[0] as any;
    expect(policy.Properties.Roles).toEqual([{ Ref: Match.stringLikeRegexp('UserRole') }].map(() => expect.objectContaining({ Ref: expect.stringMatching(/^UserRole/) })));
    const wildcards = statements(template).filter(s => [s.Resource].flat().includes('*'));
    expect(wildcards.map(s => s.Action)).toEqual(['ecr:GetAuthorizationToken']);
  });

  test('addToPrincipalPolicy adds to the handler role', () => {
    const { deployment, stack } = deploy();
    deployment.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: ['arn:aws:kms:us-east-1:123456789012:key/abc'] }));
    expect(actionsOn(Template.fromStack(stack), 'kms:Decrypt')).toEqual(['arn:aws:kms:us-east-1:123456789012:key/abc']);
  });
});
