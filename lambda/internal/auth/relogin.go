package auth

import (
	"context"
)

// Relogin returns how to get new credentials for req's registry after it refused the ones
// Resolve gave: a fresh ECR token (as RoleArn when req names one) (tokens expire after 12 hours), or for public.ecr.aws a
// token after an anonymous read was refused (ECR Public serves most images anonymously,
// so a source is read anonymously first). Nil when creds were given (a password or a
// secret: the same ones would come back) or the registry has no login of its own.
func (r *Resolver) Relogin(req Request) func(context.Context) (*Credentials, error) {
	if req.Creds != "" || req.Host == "" {
		return nil
	}
	if _, region, ok := ECRHost(req.Host); ok {
		if req.RoleArn != "" {
			// The role's own token: a fresh login must be as the role again.
			return func(ctx context.Context) (*Credentials, error) {
				return r.ecrTokenAs(ctx, region, req.RoleArn, req.RoleProperty)
			}
		}
		return func(ctx context.Context) (*Credentials, error) { return r.ECRToken(ctx, region) }
	}
	if IsECRPublic(req.Host) {
		return r.ECRPublicToken
	}
	return nil
}
