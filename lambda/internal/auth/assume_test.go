package auth

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cdk-ecr-deployment/handler/internal/awsenv"
	"github.com/cdk-ecr-deployment/handler/internal/errs"
)

// moto's GetAuthorizationToken password is "<caller's account>-auth-token", and moto gives
// credentials from sts:AssumeRole the role's account: so the password tells whose
// credentials logged in.
func TestAssumeRoleLogsInAsTheRole(t *testing.T) {
	ctx := context.Background()
	r := &Resolver{LoadConfig: awsenv.Load}
	const host = "999999999999.dkr.ecr.us-east-1.amazonaws.com"
	own, err := r.Resolve(ctx, Request{Host: host, Role: Destination})
	if err != nil {
		t.Fatal(err)
	}
	if own.Password != "123456789012-auth-token" {
		t.Fatalf("without a role, moto should answer for the default account, got %q", own.Password)
	}
	c, err := r.Resolve(ctx, Request{Host: host, Role: Destination,
		RoleArn: "arn:aws:iam::999999999999:role/ecr-pusher", RoleProperty: "DestRoleArn"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Username != "AWS" || c.Password != "999999999999-auth-token" {
		t.Errorf("with a role: got %v (password %q), want the role's account's token", c, c.Password)
	}

	cfg, err := r.AssumedConfig(ctx, "us-east-1", "arn:aws:iam::999999999999:role/ecr-pusher", "DestRoleArn")
	if err != nil {
		t.Fatal(err)
	}
	assumed, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := awsenv.Load(ctx, "us-east-1")
	mine, _ := base.Credentials.Retrieve(ctx)
	if assumed.AccessKeyID == mine.AccessKeyID || assumed.SessionToken == "" {
		t.Errorf("the assumed credentials are the handler's own: %s", assumed.AccessKeyID)
	}
}

func TestAssumeRoleMisuse(t *testing.T) {
	r := &Resolver{LoadConfig: awsenv.Load}
	role := "arn:aws:iam::999999999999:role/ecr-pusher"
	for _, c := range []struct {
		req  Request
		want string
	}{
		{Request{Host: "ghcr.io", RoleArn: role, RoleProperty: "SrcRoleArn", Property: "SrcCreds"}, `SrcRoleArn: a role is assumed only to log in to an ECR registry, and "ghcr.io" is not one`},
		{Request{Host: "public.ecr.aws", RoleArn: role, RoleProperty: "DestRoleArn", Property: "DestCreds"}, `DestRoleArn: a role is assumed only to log in to an ECR registry`},
		{Request{Host: "999999999999.dkr.ecr.us-east-1.amazonaws.com", Creds: "u:p", RoleArn: role, RoleProperty: "DestRoleArn", Property: "DestCreds"}, "give DestCreds or DestRoleArn, not both"},
	} {
		_, err := r.Resolve(context.Background(), c.req)
		if !errors.Is(err, errs.ErrInvalidProperty) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.req, err, c.want)
		}
	}
}
