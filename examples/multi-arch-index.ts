// Copy a whole multi-arch index, and tag each architecture's image as well.
import { App, Aws, Stack } from 'aws-cdk-lib';
import { DockerImageName, ECRDeployment } from '../src';

const app = new App();
const stack = new Stack(app, 'MultiArchIndexExample');

const dest = app.node.tryGetContext('dest') ?? `${Aws.ACCOUNT_ID}.dkr.ecr.${Aws.REGION}.amazonaws.com/nginx:stable`;
new ECRDeployment(stack, 'DeployIndex', {
  src: new DockerImageName(app.node.tryGetContext('src') ?? 'public.ecr.aws/docker/library/nginx:stable'),
  dest: new DockerImageName(dest),
  copyImageIndex: true,
  archImageTags: { amd64: 'stable-amd64', arm64: 'stable-arm64' },
});
app.synth();
