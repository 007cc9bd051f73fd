// Integ test, the CDK way: deploys a repository and copies a public image into it, then asserts
// through the ECR API (DescribeImages) that the tag exists with the digest the copier reported.
// Offline, `npx projen integ:verify` checks the committed snapshot; with an account,
// `npx integ-runner --directory test --language typescript --update-on-failed` deploys it.
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, RemovalPolicy, Stack, aws_ecr as ecr } from 'aws-cdk-lib';
import { DockerImageName, ECRDeployment } from '../src';

const app = new App();
const stack = new Stack(app, 'EcrDeploymentIntegStack');

const repo = new ecr.Repository(stack, 'Repo', {
  removalPolicy: RemovalPolicy.DESTROY,
  emptyOnDelete: true,
});

const single = new ECRDeployment(stack, 'SingleArch', {
  src: new DockerImageName('public.ecr.aws/docker/library/busybox:stable'),
  dest: new DockerImageName(repo.repositoryUriForTag('single')),
  imageArch: ['arm64'],
});

new ECRDeployment(stack, 'WholeIndex', {
  src: new DockerImageName('public.ecr.aws/docker/library/busybox:stable'),
  dest: new DockerImageName(repo.repositoryUriForTag('index')),
  copyImageIndex: true,
  archImageTags: { amd64: 'index-amd64', arm64: 'index-arm64' },
  destTags: ['index-extra'],
  removalPolicy: RemovalPolicy.DESTROY,
});

const integ = new IntegTest(app, 'EcrDeploymentInteg', { testCases: [stack] });

integ.assertions
  .awsApiCall('ECR', 'describeImages', { repositoryName: repo.repositoryName, imageIds: [{ imageTag: 'single' }] })
  .expect(ExpectedResult.objectLike({ imageDetails: [{ imageDigest: single.imageDigest }] }));

for (const tag of ['index', 'index-amd64', 'index-arm64', 'index-extra']) {
  integ.assertions
    .awsApiCall('ECR', 'describeImages', { repositoryName: repo.repositoryName, imageIds: [{ imageTag: tag }] })
    .expect(ExpectedResult.objectLike({ imageDetails: [{ repositoryName: repo.repositoryName }] }));
}
