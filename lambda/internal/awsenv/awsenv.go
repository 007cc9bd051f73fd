// Package awsenv builds AWS SDK clients from the Lambda environment.
//
// config.LoadDefaultConfig reads AWS_REGION, the execution role's
// credentials, AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>; the SDK's
// default HTTP transport honours HTTPS_PROXY and SSL_CERT_FILE. Nothing here
// has a code path of its own for tests.
package awsenv

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Load returns the configuration for region ("" = the default region).
func Load(ctx context.Context, region string) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, fmt.Errorf("loading AWS configuration: %w", err)
	}
	return cfg, nil
}

// S3 returns an S3 client for region.
func S3(ctx context.Context, region string) (*s3.Client, error) {
	cfg, err := Load(ctx, region)
	if err != nil {
		return nil, err
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		// Custom endpoints (moto, MinIO, some VPC set-ups) have no
		// per-bucket DNS names, so address buckets by path there.
		if o.BaseEndpoint != nil {
			o.UsePathStyle = true
		}
	}), nil
}

// ECR returns an ECR client for region.
func ECR(ctx context.Context, region string) (*ecr.Client, error) {
	cfg, err := Load(ctx, region)
	if err != nil {
		return nil, err
	}
	return ecr.NewFromConfig(cfg), nil
}
