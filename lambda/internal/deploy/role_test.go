package deploy

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/cdk-ecr-deployment/handler/internal/auth"
	"github.com/cdk-ecr-deployment/handler/internal/awsenv"
	"github.com/cdk-ecr-deployment/handler/internal/copier"
	"github.com/cdk-ecr-deployment/handler/internal/props"
	"github.com/cdk-ecr-deployment/handler/internal/testenv"
)

// DESTROY removes tags through the ECR API; with DestRoleArn the destination is in the role's
// account, so those calls must be made as the role. moto keeps each account's repositories
// apart, and gives credentials from sts:AssumeRole the role's account.
func TestDestRoleArnDeletesAsTheRole(t *testing.T) {
	// Only this test of the package needs moto; StartMoto sets these, the cleanup restores them.
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_EC2_METADATA_DISABLED"} {
		t.Setenv(k, os.Getenv(k))
	}
	moto, err := testenv.StartMoto()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(moto.Stop)

	ctx := context.Background()
	const role = "arn:aws:iam::999999999999:role/ecr-pusher"
	r := &auth.Resolver{LoadConfig: awsenv.Load}
	theirs, err := r.AssumedConfig(ctx, "us-east-1", role, "DestRoleArn")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ecr.NewFromConfig(theirs).CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("theirs")}); err != nil {
		t.Fatal(err)
	}
	d := &Deployer{Auth: r, ECR: func(ctx context.Context, region string) (copier.ECRAPI, error) { return awsenv.ECR(ctx, region) }}
	describe := func(p *props.Properties) error {
		api, err := d.ecrFor(p)(ctx, "us-east-1")
		if err != nil {
			return err
		}
		_, err = api.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("theirs")})
		return err
	}
	if err := describe(&props.Properties{}); err == nil {
		t.Fatal("the handler's own account sees the other account's repository: the test cannot tell who called")
	}
	if err := describe(&props.Properties{DestRoleArn: role}); err != nil {
		t.Errorf("with DestRoleArn, the ECR API is not called as the role: %v", err)
	}
}
