// Package crash turns a panic in one of the handler's goroutines into an error of that
// goroutine, so that the request still fails with a response instead of killing the process
// (CloudFormation would then wait an hour for an answer).
package crash

import (
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
)

// Recover, deferred directly (defer crash.Recover(&err, "what")), turns a panic of the
// calling goroutine into *errp: an error wrapping errs.ErrInternal. The stack is logged.
func Recover(errp *error, where string) {
	if v := recover(); v != nil {
		slog.Error("panic", "in", where, "value", fmt.Sprint(v), "stack", string(debug.Stack()))
		*errp = fmt.Errorf("%w (panic in %s: %v); this is a bug in cdk-ecr-deployment", errs.ErrInternal, where, v)
	}
}
