// Package auth turns a creds property (SrcCreds/DestCreds) and a registry host
// into registry credentials.
//
// Resolution order:
//  1. "user:password" text (split on the first ':' so passwords may hold ':').
//  2. A Secrets Manager secret ARN ("arn:aws...:secretsmanager:...") or name
//     (any value without ':'), holding "user:password" or
//     {"username": ..., "password": ...}.
//  3. No creds: ECR private hosts get a token from ecr:GetAuthorizationToken in
//     the host's region; public.ecr.aws as a destination gets a token from
//     ecr-public:GetAuthorizationToken (us-east-1); anything else is anonymous.
//
// Credentials stay in memory; nothing is written to disk.
package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecrpublic"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/rules"
)

// Credentials are a registry username and password.
type Credentials struct {
	Username string
	Password string
}

// String never shows the password, so Credentials are safe in %v.
func (c Credentials) String() string { return c.Username + ":REDACTED" }

// GoString keeps %#v safe too.
func (c Credentials) GoString() string { return "auth.Credentials{" + c.String() + "}" }

// Role says whether a registry is read from or written to.
type Role int

const (
	Source Role = iota
	Destination
)

// publicECRRegion is the only region serving ecr-public:GetAuthorizationToken.
var publicECRRegion = rules.ECRPublicRegion()

// ECRHost reports whether host is an ECR private registry (any partition, FIPS and
// dual-stack forms: the rulebook's), and its account and region.
func ECRHost(host string) (account, region string, ok bool) {
	h, ok := rules.ParseECRHost(host)
	if !ok || h.Public {
		return "", "", false
	}
	return h.Account, h.Region, true
}

// IsECRPublic reports whether host is ECR Public's registry (public.ecr.aws or its dual-stack name).
func IsECRPublic(host string) bool {
	h, ok := rules.ParseECRHost(host)
	return ok && h.Public
}

// Resolver resolves credentials.
type Resolver struct {
	// LoadConfig returns an AWS config for region ("" = default region),
	// e.g. awsenv.Load.
	LoadConfig func(ctx context.Context, region string) (aws.Config, error)

	mu      sync.Mutex
	cached  map[string]aws.Config
	assumed map[string]aws.Config // by region and role ARN, see AssumedConfig
}

func (r *Resolver) awsConfig(ctx context.Context, region string) (aws.Config, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cfg, ok := r.cached[region]; ok {
		return cfg, nil
	}
	cfg, err := r.LoadConfig(ctx, region)
	if err != nil {
		return cfg, err
	}
	if r.cached == nil {
		r.cached = map[string]aws.Config{}
	}
	r.cached[region] = cfg
	return cfg, nil
}

// Request names what to resolve.
type Request struct {
	Creds    string // the SrcCreds/DestCreds value, may be empty
	Property string // "SrcCreds" or "DestCreds", for messages
	Host     string // registry host[:port], empty for non-registry sources
	Role     Role
	// RoleArn is the SrcRoleArn/DestRoleArn value, may be empty: the IAM role assumed to log
	// in to an ECR registry (cross-account copies).
	RoleArn      string
	RoleProperty string // "SrcRoleArn" or "DestRoleArn", for messages
}

// Resolve returns the credentials for req, or nil for anonymous access.
func (r *Resolver) Resolve(ctx context.Context, req Request) (*Credentials, error) {
	if req.RoleArn != "" {
		_, region, ok := ECRHost(req.Host)
		if !ok {
			return nil, fmt.Errorf("%w: %s: a role is assumed only to log in to an ECR registry, and %q is not one; remove %s",
				errs.ErrInvalidProperty, req.RoleProperty, req.Host, req.RoleProperty)
		}
		if req.Creds != "" {
			return nil, fmt.Errorf("%w: %s: give %s or %s, not both", errs.ErrInvalidProperty, req.RoleProperty, req.Property, req.RoleProperty)
		}
		return r.ecrTokenAs(ctx, region, req.RoleArn, req.RoleProperty)
	}
	if req.Creds != "" {
		return r.fromSpec(ctx, req)
	}
	if req.Host == "" {
		return nil, nil
	}
	if _, region, ok := ECRHost(req.Host); ok {
		return r.ECRToken(ctx, region)
	}
	if IsECRPublic(req.Host) && req.Role == Destination {
		return r.ECRPublicToken(ctx)
	}
	return nil, nil
}

// IsSecretRef reports whether a creds value names a Secrets Manager secret
// rather than holding "user:password".
func IsSecretRef(spec string) bool {
	// An ARN contains ':' too, so it must be recognized before the split.
	if strings.HasPrefix(spec, "arn:") {
		return true
	}
	return !strings.Contains(spec, ":")
}

// ParsePlain splits "user:password" at the first ':'.
func ParsePlain(spec string) (*Credentials, error) {
	user, pass, ok := strings.Cut(spec, ":")
	if !ok || user == "" {
		return nil, errors.New(`expected "user:password"`)
	}
	return &Credentials{Username: user, Password: pass}, nil
}

func (r *Resolver) fromSpec(ctx context.Context, req Request) (*Credentials, error) {
	if !IsSecretRef(req.Creds) {
		c, err := ParsePlain(req.Creds)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", errs.ErrInvalidProperty, req.Property, err)
		}
		return c, nil
	}
	return r.fromSecret(ctx, req)
}

// fromSecret reads the secret req.Creds names. Its messages never quote req.Creds: a value
// without ':' is taken for a secret name, and a bare registry token (ghp_..., glpat-...) is
// such a value. Secrets Manager's own messages can quote the SecretId, so they are scrubbed.
func (r *Resolver) fromSecret(ctx context.Context, req Request) (*Credentials, error) {
	id := req.Creds
	named := "the secret named in " + req.Property
	region := ""
	if strings.HasPrefix(id, "arn:") {
		a, err := arn.Parse(id)
		if err != nil || a.Service != "secretsmanager" {
			return nil, fmt.Errorf("%w: %s starts with arn: but is not a Secrets Manager secret ARN", errs.ErrInvalidProperty, req.Property)
		}
		region = a.Region
	}
	cfg, err := r.awsConfig(ctx, region)
	if err != nil {
		return nil, err
	}
	out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		err = scrubbed{err: err, value: id, as: "the " + req.Property + " value"}
		var nf *smtypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("%w: %s was not found in Secrets Manager (%s); a value without ':' is read as a secret name, so give a registry token as user:token",
				errs.ErrNotFound, named, cfg.Region)
		}
		if errs.IsAWSAccessDenied(err) {
			return nil, fmt.Errorf("%w: reading %s (%s): %v: grant secretsmanager:GetSecretValue (and kms:Decrypt for a customer key) to the handler role", errs.ErrUnauthorized, named, cfg.Region, err)
		}
		return nil, fmt.Errorf("reading %s (%s): %w", named, cfg.Region, err)
	}
	if out.SecretString == nil {
		return nil, fmt.Errorf("%w: %s is binary; store \"user:password\" or {\"username\",\"password\"} as a secret string", errs.ErrSecret, named)
	}
	c, err := ParseSecret(*out.SecretString)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errs.ErrSecret, named, err)
	}
	return c, nil
}

// scrubbed is an error whose text has value replaced by as; it unwraps to err, so it is
// classified (retried, access denied) as err is.
type scrubbed struct {
	err       error
	value, as string
}

func (s scrubbed) Error() string { return strings.ReplaceAll(s.err.Error(), s.value, s.as) }
func (s scrubbed) Unwrap() error { return s.err }

// ParseSecret reads a secret string holding JSON {"username","password"} or "user:password".
func ParseSecret(s string) (*Credentials, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") {
		var v struct {
			Username *string `json:"username"`
			Password *string `json:"password"`
		}
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return nil, fmt.Errorf("not valid JSON: %v", err)
		}
		var missing []string
		if v.Username == nil || *v.Username == "" {
			missing = append(missing, `"username"`)
		}
		if v.Password == nil {
			missing = append(missing, `"password"`)
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("JSON is missing %s", strings.Join(missing, " and "))
		}
		return &Credentials{Username: *v.Username, Password: *v.Password}, nil
	}
	c, err := ParsePlain(s)
	if err != nil {
		return nil, errors.New(`expected "user:password" or JSON {"username": ..., "password": ...}`)
	}
	return c, nil
}

// ECRToken logs in to the ECR private registries of region.
func (r *Resolver) ECRToken(ctx context.Context, region string) (*Credentials, error) {
	cfg, err := r.awsConfig(ctx, region)
	if err != nil {
		return nil, err
	}
	return ecrTokenWith(ctx, cfg, region)
}

func ecrTokenWith(ctx context.Context, cfg aws.Config, region string) (*Credentials, error) {
	out, err := ecr.NewFromConfig(cfg).GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		if errs.IsAWSAccessDenied(err) {
			return nil, fmt.Errorf("%w: ecr:GetAuthorizationToken in %s: %v", errs.ErrUnauthorized, region, err)
		}
		return nil, fmt.Errorf("ecr:GetAuthorizationToken in %s: %w", region, err)
	}
	if len(out.AuthorizationData) == 0 || out.AuthorizationData[0].AuthorizationToken == nil {
		return nil, fmt.Errorf("ecr:GetAuthorizationToken in %s returned no token", region)
	}
	return decodeToken(*out.AuthorizationData[0].AuthorizationToken, "ecr:GetAuthorizationToken")
}

// ECRPublicToken logs in to public.ecr.aws.
func (r *Resolver) ECRPublicToken(ctx context.Context) (*Credentials, error) {
	cfg, err := r.awsConfig(ctx, publicECRRegion)
	if err != nil {
		return nil, err
	}
	out, err := ecrpublic.NewFromConfig(cfg).GetAuthorizationToken(ctx, &ecrpublic.GetAuthorizationTokenInput{})
	if err != nil {
		if errs.IsAWSAccessDenied(err) {
			return nil, fmt.Errorf("%w: ecr-public:GetAuthorizationToken: %v: grant ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken", errs.ErrUnauthorized, err)
		}
		return nil, fmt.Errorf("ecr-public:GetAuthorizationToken: %w", err)
	}
	if out.AuthorizationData == nil || out.AuthorizationData.AuthorizationToken == nil {
		return nil, errors.New("ecr-public:GetAuthorizationToken returned no token")
	}
	return decodeToken(*out.AuthorizationData.AuthorizationToken, "ecr-public:GetAuthorizationToken")
}

func decodeToken(tok, api string) (*Credentials, error) {
	raw, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		return nil, fmt.Errorf("%s returned a token that is not base64", api)
	}
	c, err := ParsePlain(string(raw))
	if err != nil {
		return nil, fmt.Errorf("%s returned a token that is not user:password", api)
	}
	return c, nil
}
