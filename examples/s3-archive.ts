// Copy a `docker save` tarball kept in S3 into a registry.
import { App, Aws, Stack } from 'aws-cdk-lib';
import { DockerImageName, ECRDeployment, S3ArchiveName } from '../src';

const app = new App();
const stack = new Stack(app, 'S3ArchiveExample');

new ECRDeployment(stack, 'DeployFromArchive', {
  // bucket/key of the archive, and the image reference inside it
  src: new S3ArchiveName(app.node.tryGetContext('archive') ?? 'my-image-bucket/images/app.tar', app.node.tryGetContext('ref') ?? 'app:latest'),
  dest: new DockerImageName(app.node.tryGetContext('dest') ?? `${Aws.ACCOUNT_ID}.dkr.ecr.${Aws.REGION}.amazonaws.com/app:latest`),
});
app.synth();
