// Pull from a private registry with credentials kept in Secrets Manager.
// The secret holds `user:password` or {"username": "...", "password": "..."};
// the handler is granted read access to it automatically.
import { App, Aws, Stack, aws_secretsmanager as secretsmanager } from 'aws-cdk-lib';
import { DockerImageName, ECRDeployment } from '../src';

const app = new App();
const stack = new Stack(app, 'PrivateRegistryCredentialsExample');

const secretName = app.node.tryGetContext('secretName') ?? 'registry-credentials';
const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'RegistrySecret', secretName);

new ECRDeployment(stack, 'DeployPrivateImage', {
  src: DockerImageName.fromSecret(app.node.tryGetContext('src') ?? 'registry.example.com/team/app:1.0', secret),
  dest: new DockerImageName(app.node.tryGetContext('dest') ?? `${Aws.ACCOUNT_ID}.dkr.ecr.${Aws.REGION}.amazonaws.com/app:1.0`),
});
app.synth();
