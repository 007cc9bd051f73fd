import { App, Aspects, Stack, aws_ecr as ecr } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DockerImageName, ECRDeployment } from '../src';

test('cdk-nag AwsSolutions: no IAM5 wildcard finding except ecr:GetAuthorizationToken', () => {
  const app = new App();
  const stack = new Stack(app, 'Nag', { env: { account: '123456789012', region: 'us-east-1' } });
  const repo = new ecr.Repository(stack, 'Repo');
  new ECRDeployment(stack, 'Deploy', {
    src: new DockerImageName('nginx:latest'),
    dest: new DockerImageName(repo.repositoryUriForTag('latest')),
  });
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  const iam5 = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-IAM5'));
  // The only wildcard left is the action that has no resource type at all.
  expect(iam5.map(f => f.entry.data)).toEqual([
    expect.stringContaining('Resource::*'),
  ]);
  const policy = Object.values(app.synth().getStackByName('Nag').template.Resources)
    .find((r: any) => r.Type === 'AWS::IAM::Policy') as any;
  const wildcard = policy.Properties.PolicyDocument.Statement.filter((s: any) => [s.Resource].flat().includes('*'));
  expect(wildcard).toEqual([expect.objectContaining({ Action: 'ecr:GetAuthorizationToken' })]);
});
