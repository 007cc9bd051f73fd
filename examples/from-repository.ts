// Typed destinations and sources: an image copied into a repository of this stack, then from
// that repository into a second one. Each deployment is granted push or pull on its own
// repository only, and references it, so CloudFormation creates the repository first.
// Context `src` replaces the public source image (used by the end-to-end tests).
import { App, Stack, aws_ecr as ecr } from 'aws-cdk-lib';
import { DockerImageName, ECRDeployment } from '../src';

const app = new App();
const stack = new Stack(app, 'FromRepositoryExample');
const mirror = new ecr.Repository(stack, 'Mirror', { repositoryName: 'mirror/nginx' });
const release = new ecr.Repository(stack, 'Release', { repositoryName: 'release/web' });

const mirrored = new ECRDeployment(stack, 'CopyToMirror', {
  src: new DockerImageName(app.node.tryGetContext('src') ?? 'nginx:1.27'),
  dest: DockerImageName.fromRepository(mirror, '1.27'),
});

// From one repository of the stack to another; the copy waits for the first one.
const promoted = new ECRDeployment(stack, 'Promote', {
  src: DockerImageName.fromRepository(mirror, '1.27'),
  dest: DockerImageName.fromRepository(release, 'stable'),
});
promoted.node.addDependency(mirrored);
app.synth();
