package deploy

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/cdk-ecr-deployment/handler/internal/copier"
	"github.com/cdk-ecr-deployment/handler/internal/props"
)

// ecrFor gives the ECR API clients that remove the destination's tags: as DestRoleArn when
// it is set, since the destination is then in another account, else the handler's own.
func (d *Deployer) ecrFor(p *props.Properties) func(ctx context.Context, region string) (copier.ECRAPI, error) {
	if p.DestRoleArn == "" || d.ECR == nil {
		return d.ECR
	}
	return func(ctx context.Context, region string) (copier.ECRAPI, error) {
		cfg, err := d.Auth.AssumedConfig(ctx, region, p.DestRoleArn, "DestRoleArn")
		if err != nil {
			return nil, err
		}
		return ecr.NewFromConfig(cfg), nil
	}
}
