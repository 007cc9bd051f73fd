import * as path from 'path';
import { App, Aspects, Aws, RemovalPolicy, Stack, aws_ecr as ecr, aws_ecr_assets as assets, aws_iam as iam } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DockerImageName, ECRDeployment, IImageName, S3ArchiveName } from '../src';

function newStack(app = new App()): Stack {
  return new Stack(app, 'Test', { env: { account: '123456789012', region: 'us-east-1' } });
}

/** Every statement of every IAM policy in the template, flattened. */
function statements(template: Template): any[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
}

function resourcesOf(template: Template, action: string): any[] {
  return statements(template).filter(s => [s.Action].flat().includes(action)).map(s => s.Resource);
}

function customResource(template: Template): any {
  const [r] = Object.values(template.findResources('Custom::CDKECRDeployment'));
  return r;
}

function logicalId(stack: Stack, c: any): string {
  return stack.getLogicalId(c.node.defaultChild ?? c);
}

describe('sources that bind', () => {
  test('a user IImageName without bind keeps working through the uri fallback', () => {
    const stack = newStack();
    // What a user wrote against upstream: an object with uri and creds only.
    const mine: IImageName = { uri: 'docker://111122223333.dkr.ecr.eu-west-1.amazonaws.com/theirs:1', creds: 'my-secret' };
    new ECRDeployment(stack, 'Deploy', { src: mine, dest: new DockerImageName('registry.example.com/x:1') });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('Custom::CDKECRDeployment', { SrcImage: mine.uri, SrcCreds: 'my-secret' });
    // A literal ECR host names its partition (the rulebook's): aws for amazonaws.com.
    expect(resourcesOf(template, 'ecr:BatchGetImage')).toEqual(['arn:aws:ecr:eu-west-1:111122223333:repository/theirs']);
    expect(resourcesOf(template, 'secretsmanager:GetSecretValue')).toHaveLength(1);
  });

  test('creds stays settable (public API), and the value at construction time is what is deployed', () => {
    const src = new DockerImageName('ghcr.io/org/app:1');
    src.creds = 'user:pass';
    const stack = newStack();
    new ECRDeployment(stack, 'Deploy', { src, dest: new DockerImageName('registry.example.com/x:1') });
    Template.fromStack(stack).hasResourceProperties('Custom::CDKECRDeployment', { SrcCreds: 'user:pass' });
  });

  test('the same image bound by two deployments grants each its own role', () => {
    const stack = newStack();
    const src = new S3ArchiveName('bucket/app.tar');
    const roleA = new iam.Role(stack, 'A', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const roleB = new iam.Role(stack, 'B', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    new ECRDeployment(stack, 'D1', { src, dest: new DockerImageName('registry.example.com/x:1'), role: roleA });
    new ECRDeployment(stack, 'D2', { src, dest: new DockerImageName('registry.example.com/y:1'), role: roleB });
    const policies = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy')) as any[];
    expect(policies).toHaveLength(2);
    for (const p of policies) {
      expect(JSON.stringify(p.Properties.PolicyDocument)).toContain('s3:GetObject');
    }
  });
});

describe('DockerImageName.fromRepository', () => {
  test('as destination: push on that repository only, and the uri references it', () => {
    const stack = newStack();
    const repo = new ecr.Repository(stack, 'Repo');
    new ECRDeployment(stack, 'Deploy', { src: new DockerImageName('nginx:latest'), dest: DockerImageName.fromRepository(repo, 'v1') });
    const template = Template.fromStack(stack);
    const repoArn = { 'Fn::GetAtt': [logicalId(stack, repo), 'Arn'] };
    expect(resourcesOf(template, 'ecr:PutImage')).toEqual([repoArn]);
    expect(resourcesOf(template, 'ecr:GetAuthorizationToken')).toEqual(['*']);
    // CloudFormation orders the copy after the repository through the reference.
    const dest = JSON.stringify(customResource(template).Properties.DestImage);
    expect(dest).toContain(`{"Ref":"${logicalId(stack, repo)}"}`);
    expect(dest).toContain(':v1');
  });

  test('as source: pull only; a digest gives an @sha256 reference', () => {
    const stack = newStack();
    const repo = new ecr.Repository(stack, 'Repo');
    const digest = 'sha256:' + 'a'.repeat(64);
    new ECRDeployment(stack, 'Deploy', { src: DockerImageName.fromRepository(repo, digest), dest: new DockerImageName('registry.example.com/x:1') });
    const template = Template.fromStack(stack);
    expect(resourcesOf(template, 'ecr:BatchGetImage')).toEqual([{ 'Fn::GetAtt': [logicalId(stack, repo), 'Arn'] }]);
    expect(resourcesOf(template, 'ecr:PutImage')).toEqual([]);
    expect(JSON.stringify(customResource(template).Properties.SrcImage)).toContain(`@${digest}`);
  });

  test('an imported repository, DESTROY adds the delete actions; the tag defaults to latest', () => {
    const stack = newStack();
    const repo = ecr.Repository.fromRepositoryName(stack, 'Imported', 'team/app');
    new ECRDeployment(stack, 'Deploy', {
      src: new DockerImageName('nginx:latest'),
      dest: DockerImageName.fromRepository(repo),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const template = Template.fromStack(stack);
    const [arn] = resourcesOf(template, 'ecr:BatchDeleteImage');
    expect(JSON.stringify(arn)).toContain(':repository/team/app');
    expect(JSON.stringify(customResource(template).Properties.DestImage)).toContain('/team/app:latest');
  });
});

describe('DockerImageName.fromAsset', () => {
  test('pull on the assets repository only, the asset-hash tag as the source', () => {
    const stack = newStack();
    const asset = new assets.DockerImageAsset(stack, 'Image', { directory: path.join(__dirname, '..', 'examples', 'docker') });
    new ECRDeployment(stack, 'Deploy', { src: DockerImageName.fromAsset(asset), dest: new DockerImageName('registry.example.com/x:1') });
    const template = Template.fromStack(stack);
    const [pull] = resourcesOf(template, 'ecr:BatchGetImage');
    expect(JSON.stringify(pull)).toContain('container-assets');
    expect(resourcesOf(template, 'ecr:PutImage')).toEqual([]);
    expect(JSON.stringify(customResource(template).Properties.SrcImage)).toContain(`:${asset.assetHash}`);
  });
});

describe('literal repository names get their dependency', () => {
  // The seed quickstart (Python), reproduced: a repository with a literal name, and the
  // destination spelled from Aws.ACCOUNT_ID, Aws.REGION and a name.
  function quickstart(nameInUri: (repo: ecr.Repository) => string): { stack: Stack; repo: ecr.Repository; template: Template } {
    const app = new App();
    const stack = new Stack(app, 'CdkEcrDeploymentExampleStack', { env: { account: '123456789012', region: 'us-east-1' } });
    const repo = new ecr.Repository(stack, 'MyDestinationEcrRepo', {
      repositoryName: 'my-app-image-destination',
      imageScanOnPush: true,
      imageTagMutability: ecr.TagMutability.MUTABLE,
    });
    new ECRDeployment(stack, 'DeployPublicNginxImage', {
      src: new DockerImageName('nginx:latest'),
      dest: new DockerImageName(`${Aws.ACCOUNT_ID}.dkr.ecr.${Aws.REGION}.amazonaws.com/${nameInUri(repo)}:latest`),
    });
    return { stack, repo, template: Template.fromStack(stack) };
  }

  test('the name as a literal string: the custom resource DependsOn the repository', () => {
    const { stack, repo, template } = quickstart(() => 'my-app-image-destination');
    const [id] = Object.keys(template.findResources('Custom::CDKECRDeployment'));
    expect(template.toJSON().Resources[id].DependsOn).toEqual([logicalId(stack, repo)]);
  });

  test('the name as the seed writes it (repository_name): a Ref orders it, no DependsOn needed', () => {
    const { stack, repo, template } = quickstart(r => r.repositoryName);
    const resource = customResource(template);
    expect(JSON.stringify(resource.Properties.DestImage)).toContain(`{"Ref":"${logicalId(stack, repo)}"}`);
    expect(resource.DependsOn).toBeUndefined();
  });

  test('another account or region, or another name, adds no dependency', () => {
    for (const host of ['999999999999.dkr.ecr.us-east-1.amazonaws.com', '123456789012.dkr.ecr.eu-west-1.amazonaws.com']) {
      const stack = newStack();
      new ecr.Repository(stack, 'Repo', { repositoryName: 'my-app' });
      new ECRDeployment(stack, 'Deploy', { src: new DockerImageName('nginx:latest'), dest: new DockerImageName(`${host}/my-app:1`) });
      expect(customResource(Template.fromStack(stack)).DependsOn).toBeUndefined();
    }
    const stack = newStack();
    new ecr.Repository(stack, 'Repo', { repositoryName: 'my-app' });
    new ECRDeployment(stack, 'Deploy', { src: new DockerImageName('nginx:latest'), dest: new DockerImageName('123456789012.dkr.ecr.us-east-1.amazonaws.com/my-app-2:1') });
    expect(customResource(Template.fromStack(stack)).DependsOn).toBeUndefined();
  });

  test('a repository in another stack of the app: the deployment stack depends on it', () => {
    const app = new App();
    const env = { account: '123456789012', region: 'us-east-1' };
    const repos = new Stack(app, 'Repos', { env });
    new ecr.Repository(repos, 'Repo', { repositoryName: 'shared/app' });
    const stack = new Stack(app, 'Deploys', { env });
    new ECRDeployment(stack, 'Deploy', { src: new DockerImageName('nginx:latest'), dest: new DockerImageName('123456789012.dkr.ecr.us-east-1.amazonaws.com/shared/app:1') });
    // Cross-stack construct dependencies become stack dependencies when the app synthesizes.
    const assembly = app.synth();
    expect(assembly.getStackByName('Deploys').dependencies.map(a => a.id)).toContain('Repos');
    expect(assembly.getStackByName('Repos').dependencies.map(a => a.id)).not.toContain('Deploys');
  });
});

describe('DockerImageName.fromPullThroughCache', () => {
  test('pull, BatchImportUpstreamImage and CreateRepository on the cache repository; the rule is deployed first', () => {
    const stack = newStack();
    const rule = new ecr.CfnPullThroughCacheRule(stack, 'Rule', { ecrRepositoryPrefix: 'docker-hub', upstreamRegistryUrl: 'registry-1.docker.io' });
    new ECRDeployment(stack, 'Deploy', {
      src: DockerImageName.fromPullThroughCache('docker-hub', 'library/nginx', { tagOrDigest: '1.27' }),
      dest: new DockerImageName('registry.example.com/x:1'),
    });
    const template = Template.fromStack(stack);
    const cacheArn = {
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ecr:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':repository/docker-hub/library/nginx']],
    };
    expect(resourcesOf(template, 'ecr:BatchImportUpstreamImage')).toEqual([cacheArn]);
    expect(resourcesOf(template, 'ecr:CreateRepository')).toEqual([cacheArn]);
    expect(resourcesOf(template, 'ecr:BatchGetImage')).toEqual([cacheArn]);
    const resource = customResource(template);
    expect(resource.Properties.SrcImage).toEqual({
      'Fn::Join': ['', ['docker://', { Ref: 'AWS::AccountId' }, '.dkr.ecr.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }, '/docker-hub/library/nginx:1.27']],
    });
    expect(resource.DependsOn).toEqual([stack.getLogicalId(rule)]);
  });

  test('createRepository false: no CreateRepository; another account and region are used as given', () => {
    const stack = newStack();
    new ECRDeployment(stack, 'Deploy', {
      src: DockerImageName.fromPullThroughCache('ghcr', 'org/app', { account: '111122223333', region: 'eu-west-1', createRepository: false }),
      dest: new DockerImageName('registry.example.com/x:1'),
    });
    const template = Template.fromStack(stack);
    expect(resourcesOf(template, 'ecr:CreateRepository')).toEqual([]);
    expect(resourcesOf(template, 'ecr:BatchImportUpstreamImage')).toEqual([
      { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ecr:eu-west-1:111122223333:repository/ghcr/org/app']] },
    ]);
    expect(JSON.stringify(customResource(template).Properties.SrcImage)).toContain('111122223333.dkr.ecr.eu-west-1.');
  });
});

describe('cross-account roles', () => {
  test('sts:AssumeRole on exactly that role, DestRoleArn/SrcRoleArn in the properties, no ECR grant for the handler itself', () => {
    const stack = newStack();
    const destRole = iam.Role.fromRoleArn(stack, 'DestRole', 'arn:aws:iam::999999999999:role/ecr-pusher');
    const srcRole = iam.Role.fromRoleArn(stack, 'SrcRole', 'arn:aws:iam::888888888888:role/ecr-puller');
    const destRepo = ecr.Repository.fromRepositoryArn(stack, 'Theirs', 'arn:aws:ecr:us-east-1:999999999999:repository/theirs');
    new ECRDeployment(stack, 'Deploy', {
      src: new DockerImageName('888888888888.dkr.ecr.us-east-1.amazonaws.com/base:1', undefined, { assumeRole: srcRole }),
      dest: DockerImageName.fromRepository(destRepo, 'v1', { assumeRole: destRole }),
    });
    const template = Template.fromStack(stack);
    expect(resourcesOf(template, 'sts:AssumeRole')).toEqual([
      'arn:aws:iam::999999999999:role/ecr-pusher',
      'arn:aws:iam::888888888888:role/ecr-puller',
    ]);
    expect(resourcesOf(template, 'ecr:PutImage')).toEqual([]);
    expect(resourcesOf(template, 'ecr:BatchGetImage')).toEqual([]);
    template.hasResourceProperties('Custom::CDKECRDeployment', {
      SrcRoleArn: 'arn:aws:iam::888888888888:role/ecr-puller',
      DestRoleArn: 'arn:aws:iam::999999999999:role/ecr-pusher',
    });
  });

  test('a role for a registry that is not ECR, or next to creds, is a synth-time error naming the prop', () => {
    const stack = newStack();
    const role = iam.Role.fromRoleArn(stack, 'R', 'arn:aws:iam::999999999999:role/x');
    expect(() => new ECRDeployment(stack, 'A', {
      src: new DockerImageName('ghcr.io/org/app:1', undefined, { assumeRole: role }),
      dest: new DockerImageName('registry.example.com/x:1'),
    })).toThrow(/^ECRDeployment: src: assumeRole is used to log in to an ECR registry, and "docker:\/\/ghcr.io\/org\/app:1" is not one/);
    expect(() => new ECRDeployment(stack, 'B', {
      src: new DockerImageName('nginx:1'),
      dest: new DockerImageName('999999999999.dkr.ecr.us-east-1.amazonaws.com/x:1', 'user:pw', { assumeRole: role }),
    })).toThrow('ECRDeployment: dest: give creds or assumeRole, not both');
  });

  test('no role: the properties have no role fields', () => {
    const stack = newStack();
    new ECRDeployment(stack, 'Deploy', { src: new DockerImageName('nginx:latest'), dest: new DockerImageName('123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1') });
    const props = customResource(Template.fromStack(stack)).Properties;
    expect(props.SrcRoleArn).toBeUndefined();
    expect(props.DestRoleArn).toBeUndefined();
  });
});

test('cdk-nag: the new factories add no IAM5 finding beyond ecr:GetAuthorizationToken', () => {
  const app = new App();
  const stack = newStack(app);
  const repo = new ecr.Repository(stack, 'Repo');
  const asset = new assets.DockerImageAsset(stack, 'Image', { directory: path.join(__dirname, '..', 'examples', 'docker') });
  const role = iam.Role.fromRoleArn(stack, 'Cross', 'arn:aws:iam::999999999999:role/ecr-pusher');
  new ECRDeployment(stack, 'FromAsset', { src: DockerImageName.fromAsset(asset), dest: DockerImageName.fromRepository(repo, 'a') });
  new ECRDeployment(stack, 'FromCache', { src: DockerImageName.fromPullThroughCache('docker-hub', 'library/nginx'), dest: DockerImageName.fromRepository(repo, 'b') });
  new ECRDeployment(stack, 'CrossAccount', {
    src: DockerImageName.fromRepository(repo, 'a'),
    dest: new DockerImageName('999999999999.dkr.ecr.us-east-1.amazonaws.com/theirs:1', undefined, { assumeRole: role }),
  });
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  const iam5 = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-IAM5'));
  expect(iam5.map(f => f.entry.data)).toEqual([expect.stringContaining('Resource::*')]);
  const wildcard = statements(Template.fromStack(stack)).filter(s => [s.Resource].flat().some((r: any) => JSON.stringify(r).includes('*')));
  expect(wildcard.map(s => s.Action)).toEqual(['ecr:GetAuthorizationToken']);
});
