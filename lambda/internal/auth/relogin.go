package auth

import (
	"context"
	"strings"
)

// Relogin returns how to get new credentials for req's registry after it refused the ones
// Resolve gave: a fresh ECR token (tokens expire after 12 hours), or for public.ecr.aws a
// token after an anonymous read was refused (ECR Public serves most images anonymously,
// so a source is read anonymously first). Nil when creds were given (a password or a
// secret: the same ones would come back) or the registry has no login of its own.
func (r *Resolver) Relogin(req Request) func(context.Context) (*Credentials, error) {
	if req.Creds != "" || req.Host == "" {
		return nil
	}
	if _, region, ok := ECRHost(req.Host); ok {
		return func(ctx context.Context) (*Credentials, error) { return r.ECRToken(ctx, region) }
	}
	if strings.EqualFold(req.Host, PublicECRHost) {
		return r.ECRPublicToken
	}
	return nil
}
