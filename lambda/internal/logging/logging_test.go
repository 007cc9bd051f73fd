package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

func TestRedact(t *testing.T) {
	for in, bad := range map[string]string{
		"GET https://user:hunter2@reg.io/v2/":                           "hunter2",
		"Authorization: Bearer abc.def.ghi":                             "abc.def.ghi",
		`{"authorization":"Basic dXNlcjpwYXNz"}`:                        "dXNlcjpwYXNz",
		"PUT https://s3.amazonaws.com/b/k?X-Amz-Signature=deadbeef&x=1": "deadbeef",
	} {
		if out := Redact(in); strings.Contains(out, bad) {
			t.Errorf("Redact(%q) = %q", in, out)
		}
	}
}

func TestLevels(t *testing.T) {
	for in, want := range map[string]slog.Level{"": slog.LevelInfo, "DEBUG": slog.LevelDebug, "warn": slog.LevelWarn, "error": slog.LevelError} {
		if got, ok := ParseLevel(in); !ok || got != want {
			t.Errorf("ParseLevel(%q) = %v %v", in, got, ok)
		}
	}
	var buf bytes.Buffer
	Setup(&buf, "loud")
	if !strings.Contains(buf.String(), "LOG_LEVEL not understood") {
		t.Errorf("no warning for a bad LOG_LEVEL: %s", buf.String())
	}
	buf.Reset()
	slog.Debug("hidden")
	slog.Info("shown")
	if strings.Contains(buf.String(), "hidden") || !strings.Contains(buf.String(), "shown") {
		t.Errorf("bad level fallback: %s", buf.String())
	}
}

func TestLogrusIsRoutedAndRedacted(t *testing.T) {
	var buf bytes.Buffer
	Setup(&buf, "info")
	logrus.Debugf("debug chatter")
	logrus.Warnf("retrying https://AWS:tok3n@reg.io/v2/")
	out := buf.String()
	if strings.Contains(out, "debug chatter") || strings.Contains(out, "tok3n") {
		t.Errorf("logrus output not filtered: %s", out)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &rec); err != nil || rec["source"] != "containers/image" || rec["level"] != "WARN" {
		t.Errorf("logrus line not in slog JSON: %s (%v)", out, err)
	}
}
