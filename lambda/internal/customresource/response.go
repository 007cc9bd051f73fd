package customresource

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
	"unicode/utf8"
)

// Response is the JSON body CloudFormation expects at the ResponseURL.
type Response struct {
	Status             string            `json:"Status"`
	Reason             string            `json:"Reason,omitempty"`
	PhysicalResourceID string            `json:"PhysicalResourceId"`
	StackID            string            `json:"StackId"`
	RequestID          string            `json:"RequestId"`
	LogicalResourceID  string            `json:"LogicalResourceId"`
	Data               map[string]string `json:"Data,omitempty"`
	// LogPointer is appended to Reason by Body, after Reason has been shortened,
	// so the pointer to the full log survives any truncation.
	LogPointer string `json:"-"`
}

// MaxBody is kept below CloudFormation's 4096-byte response limit.
const MaxBody = 3800

// Body serializes r, shortening Reason so the body fits in MaxBody; the
// LogPointer is appended to the (shortened) Reason intact.
func (r Response) Body() ([]byte, error) {
	reason, pointer := r.Reason, r.LogPointer
	r.Reason = reason + pointer
	b, err := json.Marshal(r)
	if err != nil || len(b) <= MaxBody {
		return b, err
	}
	r.Reason = pointer
	withPointer, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	if len(withPointer) > MaxBody {
		// Only an absurd pointer gets here (log stream names are at most 512
		// characters); the error text is worth more than the pointer.
		pointer, r.Reason = "", ""
		if withPointer, err = json.Marshal(r); err != nil {
			return nil, err
		}
	}
	// JSON escaping can grow the text up to 6x (\u00XX); shrink until it fits.
	budget := MaxBody - len(withPointer)
	if pointer == "" {
		budget -= len(`,"Reason":""`) // omitted while empty
	}
	for keep := min(len(reason), budget); keep > 0; keep = keep * 3 / 4 {
		r.Reason = truncate(reason, keep) + pointer
		if b, err = json.Marshal(r); err == nil && len(b) <= MaxBody {
			return b, nil
		}
	}
	r.Reason = pointer
	return json.Marshal(r)
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	const mark = " [truncated]"
	if len(s) <= n {
		return s
	}
	cut := max(n-len(mark), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// Bounds of the response PUT's retries.
const (
	putAttempts = 4
	firstDelay  = 500 * time.Millisecond
	// minAttempt is the least time an attempt is given: a retry that cannot
	// have this much before the Lambda deadline is not started, and the first
	// attempt gets it even when the deadline is (nearly) gone.
	minAttempt = 200 * time.Millisecond
)

// send PUTs the response, retrying network errors and 5xx a few times. ctx
// is the invocation's context: its deadline is the Lambda's, and no attempt
// or backoff is allowed to run past it. The first attempt is always made.
func send(ctx context.Context, client *http.Client, target string, r Response) error {
	body, err := r.Body()
	if err != nil {
		return fmt.Errorf("encoding the response: %w", err)
	}
	deadline, bounded := ctx.Deadline()
	// The work may have used up ctx (or a caller cancelled it); the response
	// still deserves its attempts, limited by the deadline only.
	base := context.WithoutCancel(ctx)
	delay := firstDelay
	var last error
	for attempt := 1; attempt <= putAttempts; attempt++ {
		timeout := client.Timeout // 0: none
		if bounded {
			left := time.Until(deadline)
			if attempt == 1 {
				left = max(left, minAttempt)
			}
			if timeout == 0 || left < timeout {
				timeout = left
			}
		}
		last = putWithin(base, timeout, client, target, body)
		if last == nil {
			slog.Info("response sent", "status", r.Status, "bytes", len(body), "attempts", attempt)
			return nil
		}
		if !retryablePut(last) || attempt == putAttempts {
			return last
		}
		if bounded && time.Until(deadline) < delay+minAttempt {
			return fmt.Errorf("%w (stopped after attempt %d: too little time left before the Lambda deadline for another)", last, attempt)
		}
		slog.Warn("response PUT failed; retrying", "attempt", attempt, "error", last.Error())
		time.Sleep(delay)
		delay *= 2
	}
	return last
}

// putWithin is put with the attempt bounded by timeout (0: unbounded).
func putWithin(ctx context.Context, timeout time.Duration, client *http.Client, target string, body []byte) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return put(ctx, client, target, body)
}

type statusError struct{ code int }

func (e statusError) Error() string { return fmt.Sprintf("response PUT answered HTTP %d", e.code) }

var errBadURL = errors.New("the ResponseURL is not a valid URL")

func retryablePut(err error) bool {
	if errors.Is(err, errBadURL) {
		return false
	}
	var se statusError
	if errors.As(err, &se) {
		return se.code >= 500 || se.code == http.StatusTooManyRequests
	}
	return true // network errors
}

func put(ctx context.Context, client *http.Client, target string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, target, bytes.NewReader(body))
	if err != nil {
		// The URL itself is not logged: it is a presigned secret.
		return errBadURL
	}
	// The presigned S3 URL is signed without a content type, so none may be sent.
	req.Header["Content-Type"] = []string{""}
	req.ContentLength = int64(len(body))
	resp, err := client.Do(req)
	if err != nil {
		// url.Error would print the presigned URL; keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) && ue.Err != nil {
			return fmt.Errorf("response PUT: %w", ue.Err)
		}
		return fmt.Errorf("response PUT failed")
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return statusError{code: resp.StatusCode}
	}
	return nil
}
