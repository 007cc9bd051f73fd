package cfn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
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
}

// MaxBody is kept below CloudFormation's 4096-byte response limit.
const MaxBody = 3800

// Body serializes r, shortening Reason so the body fits in MaxBody.
func (r Response) Body() ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil || len(b) <= MaxBody {
		return b, err
	}
	reason := r.Reason
	r.Reason = ""
	empty, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	// JSON escaping can grow the text up to 6x (\u00XX); shrink until it fits.
	budget := MaxBody - len(empty) - len(`,"Reason":""`)
	for keep := min(len(reason), budget); keep > 0; keep = keep * 3 / 4 {
		r.Reason = truncate(reason, keep)
		if b, err = json.Marshal(r); err == nil && len(b) <= MaxBody {
			return b, nil
		}
	}
	r.Reason = ""
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

// send PUTs the response, retrying network errors and 5xx a few times.
func send(ctx context.Context, client *http.Client, url string, r Response) error {
	body, err := r.Body()
	if err != nil {
		return fmt.Errorf("encoding the response: %w", err)
	}
	// The work may have used up ctx; the response still deserves a try.
	ctx = context.WithoutCancel(ctx)
	delay := 500 * time.Millisecond
	var last error
	for attempt := 1; attempt <= 4; attempt++ {
		last = put(ctx, client, url, body)
		if last == nil {
			slog.Info("response sent", "status", r.Status, "bytes", len(body))
			return nil
		}
		if !retryablePut(last) {
			return last
		}
		slog.Warn("response PUT failed; retrying", "attempt", attempt, "error", last.Error())
		time.Sleep(delay)
		delay *= 2
	}
	return last
}

type statusError struct{ code int }

func (e statusError) Error() string { return fmt.Sprintf("response PUT answered HTTP %d", e.code) }

var errBadURL = errors.New("the ResponseURL is not a valid URL")

func retryablePut(err error) bool {
	if err == errBadURL {
		return false
	}
	if se, ok := err.(statusError); ok {
		return se.code >= 500 || se.code == http.StatusTooManyRequests
	}
	return true // network errors
}

func put(ctx context.Context, client *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(body))
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
		if ue, ok := err.(interface{ Unwrap() error }); ok && ue.Unwrap() != nil {
			return fmt.Errorf("response PUT: %w", ue.Unwrap())
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
