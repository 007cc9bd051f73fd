package copier

// The retry policy. Every registry and S3 operation of a copy or a delete runs through
// withRetry: each attempt's error is classified once (errs.Classify), and only
// errs.ErrTransient and stalls are retried.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/props"
)

// Retryable reports whether err is transient, with a short reason for the log (see
// errs.Retryable).
func Retryable(err error) (bool, string) { return errs.Retryable(err) }

// Backoff is the jittered delay before attempt n+1 (n >= 1): uniform in
// [d/2, d] where d = min(max, base*2^(n-1)). rnd returns a value in [0,1).
func Backoff(r props.Retry, n int, rnd func() float64) time.Duration {
	d := r.BaseDelay
	for i := 1; i < n && d < r.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, r.MaxDelay)
	return d/2 + time.Duration(rnd()*float64(d/2))
}

// withRetry runs fn up to r.NumAttempts times while its errors are
// transient. A wait that would end after ctx's deadline is not started. The error
// returned is classified (errs.Classify).
//
// logins are the registries fn talks to: when one refuses the credentials (an ECR token
// that expired, or an anonymous read of ECR Public), those that can log in again do, once,
// and fn runs again at once; that extra run is not counted as an attempt. When none can log in
// again but all took the same credentials earlier in this copy (an expired bearer token), fn
// runs once more on new connections.
func withRetry(ctx context.Context, r props.Retry, what string, fn func(context.Context) error, logins ...*login) error {
	attempts := max(r.NumAttempts, 1)
	relogged := false
	for n := 1; ; n++ {
		err := errs.Classify(fn(ctx))
		if err == nil {
			return nil
		}
		if errors.Is(err, errs.ErrUnauthorized) && !relogged && ctx.Err() == nil {
			relogged = true
			ok, lerr := reloginAll(ctx, logins)
			if lerr != nil {
				return fmt.Errorf("%w (and %v)", err, lerr)
			}
			if ok {
				slog.Warn("the registry refused the credentials; logged in again", "op", what)
				n--
				continue
			}
			if acceptedBefore(logins) {
				// Credentials the registries took earlier in this copy: a token that expired.
				// A wrong password is refused at the first read, before any login is accepted.
				for _, l := range logins {
					if l != nil {
						l.reconnect()
					}
				}
				slog.Warn("the registry refused credentials it accepted earlier in this copy; trying once more on new connections", "op", what)
				n--
				continue
			}
		}
		ok, reason := errs.Retryable(err)
		if !ok || n >= attempts || ctx.Err() != nil {
			return err
		}
		wait := Backoff(r, n, rand.Float64)
		if dl, has := ctx.Deadline(); has && time.Until(dl) < wait {
			slog.Warn("not retrying: the deadline is too close", "op", what, "reason", reason, "attempt", n)
			return err
		}
		slog.Warn("retrying", "op", what, "reason", reason, "attempt", n, "of", attempts, "wait", wait.String())
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// isUnauthorized and isNotFound are errs.Classify's verdicts.
func isUnauthorized(err error) bool { return errors.Is(errs.Classify(err), errs.ErrUnauthorized) }
func isNotFound(err error) bool     { return errors.Is(errs.Classify(err), errs.ErrNotFound) }
