// Copy one architecture (arm64) out of a multi-arch image.
import { App, Aws, Stack } from 'aws-cdk-lib';
import { DockerImageName, ECRDeployment } from '../src';

const app = new App();
const stack = new Stack(app, 'SpecificArchitectureExample');

new ECRDeployment(stack, 'DeployArm64', {
  src: new DockerImageName(app.node.tryGetContext('src') ?? 'public.ecr.aws/docker/library/nginx:stable'),
  dest: new DockerImageName(app.node.tryGetContext('dest') ?? `${Aws.ACCOUNT_ID}.dkr.ecr.${Aws.REGION}.amazonaws.com/nginx:stable-arm64`),
  imageArch: ['arm64'],
});
app.synth();
