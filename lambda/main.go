// Command bootstrap is the cdk-ecr-deployment custom-resource handler.
package main

import (
	"context"
	"log/slog"
	"runtime"

	awscfn "github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/cdk-ecr-deployment/handler/internal/auth"
	"github.com/cdk-ecr-deployment/handler/internal/awsenv"
	"github.com/cdk-ecr-deployment/handler/internal/copier"
	"github.com/cdk-ecr-deployment/handler/internal/customresource"
	"github.com/cdk-ecr-deployment/handler/internal/deploy"
	"github.com/cdk-ecr-deployment/handler/internal/logging"
	"github.com/cdk-ecr-deployment/handler/internal/s3archive"
)

func main() {
	logging.FromEnv()
	d := &deploy.Deployer{
		Auth: &auth.Resolver{LoadConfig: awsenv.Load},
		Copier: copier.New(copier.Options{S3: func(ctx context.Context, region string) (s3archive.API, error) {
			return awsenv.S3(ctx, region)
		}}),
		ECR: func(ctx context.Context, region string) (copier.ECRAPI, error) {
			return awsenv.ECR(ctx, region)
		},
		ECRPublic: func(ctx context.Context) (copier.ECRPublicAPI, error) {
			return awsenv.ECRPublic(ctx)
		},
	}
	h := customresource.New(d.Run, deploy.ProvisionalID)
	lambda.Start(func(ctx context.Context, ev awscfn.Event) error {
		// Logged once the response is sent: the soak test (test/e2e/soak.e2e.ts) checks that
		// goroutines do not pile up from one warm invocation to the next.
		defer func() { slog.Debug("invocation done", "goroutines", runtime.NumGoroutine()) }()
		return h.Handle(ctx, ev)
	})
}
