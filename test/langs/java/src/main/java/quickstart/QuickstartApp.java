package quickstart;

import io.github.cdk_ecr_deployment.cdk.ecr.deployment.DockerImageName;
import io.github.cdk_ecr_deployment.cdk.ecr.deployment.ECRDeployment;
import software.amazon.awscdk.App;
import software.amazon.awscdk.Aws;
import software.amazon.awscdk.Environment;
import software.amazon.awscdk.Stack;
import software.amazon.awscdk.StackProps;
import software.amazon.awscdk.services.ecr.Repository;
import software.amazon.awscdk.services.ecr.TagMutability;
import software.constructs.Construct;

/** The seed's Python quickstart, line for line in Java: a destination repository and a copy of nginx:latest into it. */
public final class QuickstartApp {
    static final class MyEcrDeploymentStack extends Stack {
        MyEcrDeploymentStack(final Construct scope, final String id, final StackProps props) {
            super(scope, id, props);

            // 1. Define a destination ECR repository
            Repository destinationRepo = Repository.Builder.create(this, "MyDestinationEcrRepo")
                    .repositoryName("my-app-image-destination")
                    .imageScanOnPush(true)
                    .imageTagMutability(TagMutability.MUTABLE)
                    .build();

            // 2. Deploy a Docker image from Docker Hub (nginx:latest) to the ECR repository.
            ECRDeployment.Builder.create(this, "DeployPublicNginxImage")
                    .src(new DockerImageName("nginx:latest"))
                    .dest(new DockerImageName(Aws.ACCOUNT_ID + ".dkr.ecr." + Aws.REGION + ".amazonaws.com/"
                            + destinationRepo.getRepositoryName() + ":latest"))
                    .build();
        }
    }

    public static void main(final String[] args) {
        App app = new App();
        new MyEcrDeploymentStack(app, "CdkEcrDeploymentExampleStack", StackProps.builder()
                .env(Environment.builder()
                        .account(System.getenv("CDK_DEFAULT_ACCOUNT"))
                        .region(System.getenv("CDK_DEFAULT_REGION"))
                        .build())
                .build());
        app.synth();
    }

    private QuickstartApp() {
    }
}
