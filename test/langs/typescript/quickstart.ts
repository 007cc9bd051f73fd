// The seed's Python quickstart, line for line in TypeScript: the reference the Java, Go and
// Python apps' templates are compared with (test/langs/templates.langs.ts).
import { App, Aws, Stack, StackProps, aws_ecr as ecr } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { DockerImageName, ECRDeployment } from '../../../src';

class MyEcrDeploymentStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    // 1. Define a destination ECR repository
    const destinationRepo = new ecr.Repository(this, 'MyDestinationEcrRepo', {
      repositoryName: 'my-app-image-destination',
      imageScanOnPush: true,
      imageTagMutability: ecr.TagMutability.MUTABLE,
    });

    // 2. Deploy a Docker image from Docker Hub (nginx:latest) to the ECR repository.
    new ECRDeployment(this, 'DeployPublicNginxImage', {
      src: new DockerImageName('nginx:latest'),
      dest: new DockerImageName(`${Aws.ACCOUNT_ID}.dkr.ecr.${Aws.REGION}.amazonaws.com/${destinationRepo.repositoryName}:latest`),
    });
  }
}

const app = new App();
new MyEcrDeploymentStack(app, 'CdkEcrDeploymentExampleStack', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
app.synth();
