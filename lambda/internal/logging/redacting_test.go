package logging

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

// presigned is the kind of URL ECR redirects blob GETs to; Go's url.Error quotes it in full.
const presigned = "https://prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com/x/y?" +
	"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLE%2F20240101%2Fus-east-1%2Fs3%2Faws4_request" +
	"&X-Amz-Security-Token=IQoJsessiontoken&X-Amz-SignedHeaders=host&X-Amz-Signature=0123456789abcdef"

var presignedSecrets = []string{"ASIAEXAMPLE", "IQoJsessiontoken", "0123456789abcdef"}

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

func TestEverySlogLineIsRedacted(t *testing.T) {
	var buf bytes.Buffer
	logger := Setup(&buf, "debug")
	urlErr := &url.Error{Op: "Get", URL: presigned, Err: errors.New("read: connection reset by peer")}

	logger.Error("request failed", "error", urlErr.Error())
	logger.Warn("as error value", "error", fmt.Errorf("reading blob: %w", urlErr))
	logger.Info("as stringer", "v", stringer{presigned})
	logger.Info("in a group", slog.Group("g", slog.String("url", presigned)))
	logger.With("ctx", presigned).Info("with attrs")
	slog.Info("message itself " + presigned)
	logger.Info("basic", "h", "Authorization: Basic QVdTOnNlY3JldA==")

	out := buf.String()
	for _, s := range append(presignedSecrets, "QVdTOnNlY3JldA==") {
		if strings.Contains(out, s) {
			t.Errorf("%q reached the log:\n%s", s, out)
		}
	}
	if n := strings.Count(out, "\n"); n != 7 {
		t.Errorf("%d lines logged, want 7:\n%s", n, out)
	}
	// What is not secret stays readable.
	for _, keep := range []string{"connection reset by peer", "starport-layer-bucket", "request failed", `"ctx":`} {
		if !strings.Contains(out, keep) {
			t.Errorf("%q missing from the log:\n%s", keep, out)
		}
	}
}

func TestRedactPresignedQuery(t *testing.T) {
	out := Redact(`Get "` + presigned + `": EOF`)
	for _, s := range presignedSecrets {
		if strings.Contains(out, s) {
			t.Errorf("Redact left %q: %s", s, out)
		}
	}
}
