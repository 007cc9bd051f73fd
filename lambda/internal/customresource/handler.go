// Package customresource speaks the CloudFormation custom-resource protocol: it parses
// the event, runs the work under a deadline that ends before the Lambda's,
// recovers panics, and always sends exactly one response to the ResponseURL.
//
// aws-lambda-go's cfn.LambdaWrap is not used because it falls back to the log
// stream name as PhysicalResourceId, which changes between invocations and
// makes CloudFormation replace the resource.
package customresource

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/logging"
)

// Request is one event as the work sees it: the protocol's fields and the properties as
// CloudFormation sent them. What they mean is the work's business.
type Request struct {
	Type cfn.RequestType
	// PhysicalID is the resource's id (Update and Delete).
	PhysicalID string
	// Properties are the ResourceProperties; OldProperties the OldResourceProperties of an
	// Update (nil otherwise).
	Properties    map[string]any
	OldProperties map[string]any
}

// Result is the work's answer. PhysicalID is the id to report, success or failure; when it is
// empty the handler answers with the id the resource had, or a fallback (see fallbackID).
type Result struct {
	PhysicalID string
	Data       map[string]string
}

// Work does the resource's job; the returned data becomes the response's Data
// (Fn::GetAtt attributes).
type Work func(ctx context.Context, req Request) (Result, error)

// ProvisionalID is the PhysicalResourceId of a Create whose work gave none (it failed before
// deciding one, timed out or panicked), from the event's properties; "" when they name none.
type ProvisionalID func(properties map[string]any) string

// Handler is the Lambda entry point for custom-resource events.
type Handler struct {
	work          Work
	provisionalID ProvisionalID
	// client sends the response: a 30s timeout, proxies from the environment.
	client *http.Client
	// margin computes how long before the Lambda deadline the work must stop.
	margin func(remaining time.Duration) time.Duration
}

// New returns a Handler running work; provisionalID (may be nil) names a failed Create.
func New(work Work, provisionalID ProvisionalID) *Handler {
	return &Handler{work: work, provisionalID: provisionalID, client: &http.Client{Timeout: 30 * time.Second}, margin: Margin}
}

// Margin is the time kept free before the Lambda deadline for sending the
// response: 10% of the remaining time, at most 60s, and at least 5s (or
// half the remaining time when less than 10s remain).
func Margin(remaining time.Duration) time.Duration {
	m := min(remaining/10, 60*time.Second)
	floor := min(5*time.Second, remaining/2)
	return max(m, floor)
}

// fallbackID is the id answered when the work gives none (invalid properties, a timeout, a
// panic): the id CloudFormation sent, or for a Create the work's provisional id, or a hash
// of the stack and logical id when there is none. Never empty: CloudFormation rejects an
// empty id with "Invalid PhysicalResourceId".
func (h *Handler) fallbackID(ev cfn.Event) string {
	if ev.PhysicalResourceID != "" {
		return ev.PhysicalResourceID
	}
	if h.provisionalID != nil {
		if id := h.provisionalID(ev.ResourceProperties); id != "" {
			return id
		}
	}
	sum := sha256.Sum256([]byte(ev.StackID + "/" + ev.LogicalResourceID))
	return "ecr-deployment-" + hex.EncodeToString(sum[:8])
}

// Handle runs one event. It returns an error only when no response could be
// delivered, so that the failure shows in the Lambda's metrics.
func (h *Handler) Handle(ctx context.Context, ev cfn.Event) error {
	start := time.Now()
	log := slog.With("request_type", string(ev.RequestType), "logical_id", ev.LogicalResourceID, "request_id", ev.RequestID)

	res, err := h.run(ctx, ev, log)
	id, data := res.PhysicalID, res.Data
	if id == "" {
		id = h.fallbackID(ev)
	}
	resp := Response{
		Status:             "SUCCESS",
		PhysicalResourceID: id,
		StackID:            ev.StackID,
		RequestID:          ev.RequestID,
		LogicalResourceID:  ev.LogicalResourceID,
		Data:               data,
	}
	if err != nil {
		resp.Status = "FAILED"
		resp.Data = nil
		// Errors can quote URLs (Go's url.Error does), e.g. a presigned S3 blob URL after an
		// ECR redirect; the Reason is shown in the console, so it is redacted like the logs.
		reason := logging.Redact(err.Error())
		resp.Reason = reason
		if lc, ok := lambdacontext.FromContext(ctx); ok && lc != nil && lambdacontext.LogStreamName != "" {
			// Kept apart so that shortening a long Reason (Body) cannot cut it off.
			resp.LogPointer = " (log stream: " + lambdacontext.LogStreamName + ")"
		}
		log.Error("request failed", "physical_id", id, "error", reason, "duration", time.Since(start).Round(time.Millisecond).String())
	} else {
		log.Info("request succeeded", "physical_id", id, "data", data, "duration", time.Since(start).Round(time.Millisecond).String())
	}
	if ev.ResponseURL == "" {
		return errors.New("the event has no ResponseURL; nothing to answer")
	}
	if err := send(ctx, h.client, ev.ResponseURL, resp); err != nil {
		log.Error("sending the response to CloudFormation failed", "error", err.Error())
		return err
	}
	return nil
}

// run executes the work under the deadline and turns panics into errors.
func (h *Handler) run(ctx context.Context, ev cfn.Event, log *slog.Logger) (Result, error) {
	req := Request{Type: ev.RequestType, PhysicalID: ev.PhysicalResourceID, Properties: ev.ResourceProperties}
	if ev.RequestType == cfn.RequestUpdate {
		req.OldProperties = ev.OldResourceProperties
	}

	ctx = context.WithValue(ctx, logKey{}, log)
	workCtx := ctx
	var budget time.Duration
	if dl, ok := ctx.Deadline(); ok {
		remaining := time.Until(dl)
		budget = remaining - h.margin(remaining)
		var cancel context.CancelFunc
		workCtx, cancel = context.WithTimeoutCause(ctx, budget, errs.ErrDeadline)
		defer cancel()
	}

	type result struct {
		res Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic", "value", fmt.Sprint(r), "stack", string(debug.Stack()))
				done <- result{err: fmt.Errorf("%w (panic: %v); this is a bug in cdk-ecr-deployment", errs.ErrInternal, r)}
			}
		}()
		res, err := h.work(workCtx, req)
		done <- result{res, err}
	}()

	var res result
	select {
	case res = <-done:
	case <-workCtx.Done():
		// Give the work a moment to return its own, more precise error;
		// then answer anyway, because CloudFormation must hear back.
		select {
		case res = <-done:
		case <-time.After(h.margin(budget) / 2):
			res = result{err: context.Cause(workCtx)}
		}
	}
	if res.err != nil && workCtx.Err() != nil && errors.Is(context.Cause(workCtx), errs.ErrDeadline) {
		if !errors.Is(res.err, errs.ErrDeadline) {
			res.err = fmt.Errorf("%w: the work did not finish within %s, before the Lambda timeout: %v",
				errs.ErrDeadline, budget.Round(time.Second), res.err)
		} else {
			res.err = fmt.Errorf("%v (stopped after %s, before the Lambda timeout)", res.err, budget.Round(time.Second))
		}
	}
	return res.res, res.err
}

type logKey struct{}

// Log is the logger of the request ctx belongs to: its lines carry the request type, the
// logical id and the request id. slog's default logger outside a request.
func Log(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(logKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
