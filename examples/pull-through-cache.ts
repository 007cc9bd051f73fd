// A source read through an ECR pull-through cache rule: the handler is granted pull,
// ecr:BatchImportUpstreamImage and ecr:CreateRepository on that cache repository only, and the
// rule (same stack, same prefix) is created before the copy. Context `cacheAccount`, `dest`
// and `tag` point it at other places (used by the end-to-end tests).
import { App, Stack, aws_ecr as ecr } from 'aws-cdk-lib';
import { DockerImageName, ECRDeployment } from '../src';

const app = new App();
const stack = new Stack(app, 'PullThroughCacheExample');
new ecr.CfnPullThroughCacheRule(stack, 'DockerHubCache', {
  ecrRepositoryPrefix: 'docker-hub',
  upstreamRegistryUrl: 'registry-1.docker.io',
  // Docker Hub rules need credentials in a secret whose name starts with ecr-pullthroughcache/.
  credentialArn: `arn:aws:secretsmanager:${stack.region}:${stack.account}:secret:ecr-pullthroughcache/docker-hub`,
});
const repo = new ecr.Repository(stack, 'Repo', { repositoryName: 'base/nginx' });

new ECRDeployment(stack, 'FromCache', {
  src: DockerImageName.fromPullThroughCache('docker-hub', 'library/nginx', {
    tagOrDigest: app.node.tryGetContext('tag') ?? '1.27',
    account: app.node.tryGetContext('cacheAccount'),
  }),
  dest: app.node.tryGetContext('dest') ? new DockerImageName(app.node.tryGetContext('dest')) : DockerImageName.fromRepository(repo, '1.27'),
});
app.synth();
