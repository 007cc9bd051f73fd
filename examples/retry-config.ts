// Ride out registry throttling (Docker Hub's 429s) with more attempts and longer back-off.
import { App, Aws, Stack } from 'aws-cdk-lib';
import { DockerImageName, ECRDeployment } from '../src';

const app = new App();
const stack = new Stack(app, 'RetryConfigExample');

new ECRDeployment(stack, 'DeployWithRetries', {
  src: new DockerImageName(app.node.tryGetContext('src') ?? 'nginx:latest'),
  dest: new DockerImageName(app.node.tryGetContext('dest') ?? `${Aws.ACCOUNT_ID}.dkr.ecr.${Aws.REGION}.amazonaws.com/nginx:latest`),
  retryConfigs: { numAttempts: 5, baseDelay: 2, maxDelay: 30 },
});
app.synth();
