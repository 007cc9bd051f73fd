// A locally built image (DockerImageAsset) copied with DockerImageName.fromAsset: the handler
// is granted pull on the CDK assets repository only, and the destination by fromRepository.
import * as path from 'path';
import { App, Stack, aws_ecr as ecr, aws_ecr_assets as assets } from 'aws-cdk-lib';
import { DockerImageName, ECRDeployment } from '../src';

const app = new App();
const stack = new Stack(app, 'FromAssetExample');
const repo = new ecr.Repository(stack, 'Repo', { repositoryName: 'my-app' });
const image = new assets.DockerImageAsset(stack, 'Image', { directory: path.join(__dirname, 'docker') });

new ECRDeployment(stack, 'DeployImage', {
  src: DockerImageName.fromAsset(image),
  dest: DockerImageName.fromRepository(repo, 'latest'),
});
app.synth();
