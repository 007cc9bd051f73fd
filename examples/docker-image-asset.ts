// A locally built image (DockerImageAsset) copied to a repository with a readable tag.
// `cdk deploy` builds and pushes the asset to the CDK assets repository first; the copy then
// gives it a stable name. Context `src` replaces the asset with an existing image (used by tests
// on machines without Docker).
import * as path from 'path';
import { App, Stack, aws_ecr as ecr, aws_ecr_assets as assets } from 'aws-cdk-lib';
import { DockerImageName, ECRDeployment } from '../src';

const app = new App();
const stack = new Stack(app, 'DockerImageAssetExample');
const repo = new ecr.Repository(stack, 'Repo', { repositoryName: 'my-app' });

const srcContext = app.node.tryGetContext('src');
const src = srcContext
  ? new DockerImageName(srcContext)
  : new DockerImageName(new assets.DockerImageAsset(stack, 'Image', { directory: path.join(__dirname, 'docker') }).imageUri);

const deployment = new ECRDeployment(stack, 'DeployImage', {
  src,
  dest: new DockerImageName(app.node.tryGetContext('dest') ?? repo.repositoryUriForTag('latest')),
});
// The copied image pinned by digest, ready for a task definition.
deployment.imageUri;
app.synth();
