package auth

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
)

// sessionName shows in the other account's CloudTrail as the assumed role's session.
const sessionName = "cdk-ecr-deployment"

// AssumedConfig returns the AWS config of region whose credentials are those of roleArn,
// assumed with the handler's own credentials (SrcRoleArn/DestRoleArn: cross-account copies).
//
// The role is assumed here, once per role and region, rather than lazily by the SDK on the
// first ECR call, so that a role the handler may not assume fails as that, not as an ECR
// error. The assumed credentials stay in the returned config; nothing logs them.
func (r *Resolver) AssumedConfig(ctx context.Context, region, roleArn, property string) (aws.Config, error) {
	key := region + "\x00" + roleArn
	r.mu.Lock()
	cfg, ok := r.assumed[key]
	r.mu.Unlock()
	if ok {
		return cfg, nil
	}
	base, err := r.awsConfig(ctx, region)
	if err != nil {
		return aws.Config{}, err
	}
	cfg = base.Copy()
	provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(base), roleArn, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = sessionName
	})
	cfg.Credentials = aws.NewCredentialsCache(provider)
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		if errs.IsAWSAccessDenied(err) {
			return aws.Config{}, fmt.Errorf("%w: sts:AssumeRole on %s (%s): %v: the role must trust the handler's role, and the handler's role needs sts:AssumeRole on it",
				errs.ErrUnauthorized, roleArn, property, err)
		}
		return aws.Config{}, fmt.Errorf("sts:AssumeRole on %s (%s): %w", roleArn, property, err)
	}
	r.mu.Lock()
	if r.assumed == nil {
		r.assumed = map[string]aws.Config{}
	}
	r.assumed[key] = cfg
	r.mu.Unlock()
	return cfg, nil
}

// ecrTokenAs logs in to the ECR registries of region as roleArn.
func (r *Resolver) ecrTokenAs(ctx context.Context, region, roleArn, property string) (*Credentials, error) {
	cfg, err := r.AssumedConfig(ctx, region, roleArn, property)
	if err != nil {
		return nil, err
	}
	return ecrTokenWith(ctx, cfg, region)
}
