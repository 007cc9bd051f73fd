// Issue 14's reach, at synth time: ECR hosts of every partition get scoped permissions with
// the right ARN partition, and architecture strings are accepted as upstream accepts them
// (by the rulebook's grammar; an unknown architecture is a warning, not an error).
import * as fs from 'fs';
import * as path from 'path';
import { App, Stack, aws_ecr as ecr } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { DockerImageName, ECRDeployment, ECRDeploymentProps } from '../src';

const cases = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'lambda', 'internal', 'rules', 'cases.json'), 'utf8'));
const privateHosts: Array<{ host: string; want: { region: string; account: string; partition: string } }> =
  cases.ecrHost.filter((c: any) => c.want?.kind === 'private');

function synth(props: Partial<ECRDeploymentProps>): { stack: Stack; template: Template } {
  const stack = new Stack(new App(), 'Reach', { env: { account: '111111111111', region: 'us-east-1' } });
  new ECRDeployment(stack, 'Deploy', { src: new DockerImageName('nginx:latest'), dest: new DockerImageName('localhost:5000/x:1'), ...props });
  return { stack, template: Template.fromStack(stack) };
}

/** Every statement of the handler role's policies, resolved. */
function statements(template: Template): any[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
}

describe('ECR hosts of every partition get scoped permissions in their own partition', () => {
  test('the rulebook has a host of each partition', () => {
    expect(new Set(privateHosts.map(c => c.want.partition))).toEqual(
      new Set(['aws', 'aws-cn', 'aws-us-gov', 'aws-iso', 'aws-iso-b', 'aws-iso-e', 'aws-iso-f', 'aws-eusc']));
  });

  test.each(privateHosts.map(c => [c.host, c.want] as [string, any]))('%s as destination and source', (host, want) => {
    const arn = `arn:${want.partition}:ecr:${want.region}:${want.account}:repository/team/app`;
    for (const role of ['dest', 'src'] as const) {
      const { template } = synth({ [role]: new DockerImageName(`${host}/team/app:v1`) });
      const all = statements(template);
      const scoped = all.filter(s => s.Resource === arn);
      expect(scoped).toHaveLength(1);
      expect(scoped[0].Action).toEqual(expect.arrayContaining(role === 'dest' ? ['ecr:PutImage', 'ecr:BatchGetImage'] : ['ecr:BatchGetImage']));
      // Auto-login needs the token; nothing else ECR is granted on '*'.
      expect(all.filter(s => s.Resource === '*').flatMap(s => [s.Action].flat())).toEqual(['ecr:GetAuthorizationToken']);
    }
  });

  test('a repository uri of tokens keeps the stack partition', () => {
    const stack = new Stack(new App(), 'Tokens');
    const repo = new ecr.Repository(stack, 'Repo');
    new ECRDeployment(stack, 'Deploy', { src: new DockerImageName('nginx:latest'), dest: new DockerImageName(repo.repositoryUriForTag('v1')) });
    const all = statements(Template.fromStack(stack));
    const push = all.find(s => [s.Action].flat().includes('ecr:PutImage'));
    expect(JSON.stringify(push.Resource)).toContain('"Ref":"AWS::Partition"');
  });

  test.each(['public.ecr.aws', 'ecr-public.aws.com'])('%s (ECR Public) as destination gets the ECR Public grants', host => {
    const { template } = synth({ dest: new DockerImageName(`${host}/my-alias/app:v1`) });
    const actions = statements(template).flatMap(s => [s.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['ecr-public:GetAuthorizationToken', 'sts:GetServiceBearerToken', 'ecr-public:PutImage']));
    expect(actions).not.toContain('ecr:PutImage');
  });

  test('a host that only looks like ECR gets no ECR permissions', () => {
    const { template } = synth({ dest: new DockerImageName('123456789012.dkr.ecr.cn-north-1.amazonaws.com/app:v1') });
    expect(statements(template).flatMap(s => [s.Action].flat()).filter(a => a.startsWith('ecr'))).toEqual([]);
  });
});

describe('architecture strings as upstream accepts them', () => {
  const warnings = (stack: Stack) => Annotations.fromStack(stack).findWarning('*', Match.anyValue()).map(w => String(w.entry.data));

  test.each([['arm/v7'], ['arm64/v8'], ['linux/arm64'], ['linux/arm/v6'], ['amd64/v3'], ['freebsd/amd64'], ['amd64', 'arm/v7', 'linux/arm64/v8'], ['amd64, arm64']])(
    'known %j: synthesizes without a warning', (...imageArch: string[]) => {
      const { stack, template } = synth({ imageArch });
      template.hasResourceProperties('Custom::CDKECRDeployment', { ImageArch: imageArch.join(',') });
      expect(warnings(stack)).toEqual([]);
    });

  test.each([['banana', 'banana'], ['x86_64', 'x86_64'], ['linux/banana/v9', 'banana'], ['sparc64/v9', 'sparc64']])(
    'unknown %j: synthesizes with a warning naming it', (arch, named) => {
      const { stack, template } = synth({ imageArch: [arch] });
      template.hasResourceProperties('Custom::CDKECRDeployment', { ImageArch: arch });
      const w = warnings(stack);
      expect(w).toHaveLength(1);
      expect(w[0]).toContain(`imageArch: unknown architecture "${named}"`);
      expect(w[0]).toContain('known: amd64, arm64');
    });

  test.each([['ARM64'], ['linux/arm64/v8/x'], ['arm/x7'], ['not an arch']])('ungrammatical %j: synthesizes (as upstream), warned that the deploy will fail', arch => {
    const { stack } = synth({ imageArch: [arch] });
    const w = warnings(stack);
    expect(w).toHaveLength(1);
    expect(w[0]).toContain(`imageArch: ${JSON.stringify(arch)} is not a platform the handler accepts`);
  });

  test('archImageTags keys follow the same rule', () => {
    const { stack } = synth({ copyImageIndex: true, archImageTags: { 'arm/v7': 'v7', 'banana': 'b' } });
    const w = warnings(stack);
    expect(w).toHaveLength(1);
    expect(w[0]).toContain('archImageTags: unknown architecture "banana"');
  });
});

describe('S3 key/ref split (the rulebook)', () => {
  test('a hand-made s3:// uri grants GetObject on every key the handler may try, longest first', () => {
    const { template } = synth({ src: { uri: 's3://bucket/dir/app:v1.tar:app:latest' } });
    const get = statements(template).find(s => [s.Action].flat().includes('s3:GetObject'));
    expect(get.Resource).toEqual([
      { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::bucket/dir/app:v1.tar:app:latest']] },
      { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::bucket/dir/app:v1.tar:app']] },
      { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::bucket/dir/app:v1.tar']] },
      { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::bucket/dir/app']] },
    ]);
  });
});
