// A copy into another account's repository: the handler assumes a role there (sts:AssumeRole
// on exactly that role) and logs in to that account's ECR registry with it. The role must
// trust this account and allow the ECR push actions and ecr:GetAuthorizationToken.
// Context `targetAccount`, `roleName`, `repository` and `src` point it at other places (used
// by the end-to-end tests).
import { App, Stack, aws_ecr as ecr, aws_iam as iam } from 'aws-cdk-lib';
import { DockerImageName, ECRDeployment } from '../src';

const app = new App();
const stack = new Stack(app, 'CrossAccountExample', { env: { region: 'us-east-1' } });
const targetAccount: string = app.node.tryGetContext('targetAccount') ?? '999999999999';
const role = iam.Role.fromRoleArn(stack, 'Pusher', `arn:aws:iam::${targetAccount}:role/${app.node.tryGetContext('roleName') ?? 'ecr-pusher'}`);
const repository = ecr.Repository.fromRepositoryArn(stack, 'Theirs',
  `arn:aws:ecr:us-east-1:${targetAccount}:repository/${app.node.tryGetContext('repository') ?? 'shared/web'}`);

new ECRDeployment(stack, 'CopyToTheirs', {
  src: new DockerImageName(app.node.tryGetContext('src') ?? 'nginx:1.27'),
  dest: DockerImageName.fromRepository(repository, 'v1', { assumeRole: role }),
});
app.synth();
