// A stack with many ECR deployments, as the load test needs: context `srcs` (image names) and
// `dests` (repository:tag in the stack's own ECR registry), one ECRDeployment per pair. All of
// them share the one singleton handler function, as in a real stack, and CloudFormation sends
// their Create events at the same time.
import { App, Aws, Stack } from 'aws-cdk-lib';
import { DockerImageName, ECRDeployment } from '../../../../src';

const app = new App();
const stack = new Stack(app, 'ManyDeploymentsStack');
const srcs: string[] = app.node.tryGetContext('srcs') ?? [];
const dests: string[] = app.node.tryGetContext('dests') ?? [];
if (srcs.length === 0 || srcs.length !== dests.length) {
  throw new Error('context srcs and dests must be lists of the same, non-zero length');
}
srcs.forEach((src, i) => new ECRDeployment(stack, `Deploy${i}`, {
  src: new DockerImageName(src),
  dest: new DockerImageName(`${Aws.ACCOUNT_ID}.dkr.ecr.${Aws.REGION}.amazonaws.com/${dests[i]}`),
}));
app.synth();
