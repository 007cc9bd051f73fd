// The seed's Python quickstart, line for line in Go: a destination repository and a copy of
// nginx:latest into it. It builds against the package `npx projen build` just produced (the
// replace in go.mod points at dist/go); the CDK libraries come from the Go module proxy.
package main

import (
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdk-ecr-deployment/cdk-ecr-deployment-go/cdkecrdeployment"
)

func newMyEcrDeploymentStack(scope constructs.Construct, id string, props *awscdk.StackProps) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String(id), props)

	// 1. Define a destination ECR repository
	destinationRepo := awsecr.NewRepository(stack, jsii.String("MyDestinationEcrRepo"), &awsecr.RepositoryProps{
		RepositoryName:     jsii.String("my-app-image-destination"),
		ImageScanOnPush:    jsii.Bool(true),
		ImageTagMutability: awsecr.TagMutability_MUTABLE,
	})

	// 2. Deploy a Docker image from Docker Hub (nginx:latest) to the ECR repository.
	cdkecrdeployment.NewECRDeployment(stack, jsii.String("DeployPublicNginxImage"), &cdkecrdeployment.ECRDeploymentProps{
		Src: cdkecrdeployment.NewDockerImageName(jsii.String("nginx:latest"), nil, nil),
		Dest: cdkecrdeployment.NewDockerImageName(jsii.String(*awscdk.Aws_ACCOUNT_ID()+".dkr.ecr."+*awscdk.Aws_REGION()+
			".amazonaws.com/"+*destinationRepo.RepositoryName()+":latest"), nil, nil),
	})
	return stack
}

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	newMyEcrDeploymentStack(app, "CdkEcrDeploymentExampleStack", &awscdk.StackProps{
		Env: &awscdk.Environment{Account: getenv("CDK_DEFAULT_ACCOUNT"), Region: getenv("CDK_DEFAULT_REGION")},
	})
	app.Synth(nil)
}

// getenv is os.getenv of the Python quickstart: unset is nil (an environment-agnostic stack), not "".
func getenv(name string) *string {
	if v, ok := os.LookupEnv(name); ok {
		return jsii.String(v)
	}
	return nil
}
