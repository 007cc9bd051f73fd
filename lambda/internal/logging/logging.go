// Package logging sets up the handler's JSON logger and keeps secrets out of it.
//
// containers/image logs through logrus; its messages are forwarded into slog
// after redaction so that there is exactly one log format and one place where
// redaction happens.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"

	"github.com/sirupsen/logrus"
)

// Setup installs a JSON slog logger writing to w at the level named by the
// LOG_LEVEL value (debug, info, warn, error; default info) and routes logrus
// into it. It returns the logger.
func Setup(w io.Writer, levelName string) *slog.Logger {
	level, ok := ParseLevel(levelName)
	logger := slog.New(redacting{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})})
	slog.SetDefault(logger)
	if !ok {
		logger.Warn("LOG_LEVEL not understood; using info", "value", Redact(levelName), "allowed", "debug, info, warn, error")
	}
	routeLogrus(logger, level)
	return logger
}

// FromEnv is Setup(os.Stdout, $LOG_LEVEL).
func FromEnv() *slog.Logger { return Setup(os.Stdout, os.Getenv("LOG_LEVEL")) }

// ParseLevel maps a LOG_LEVEL value to a slog level; ok is false (and the
// level info) when the value is not understood. Empty means info.
func ParseLevel(s string) (slog.Level, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return slog.LevelInfo, true
	case "debug", "trace":
		return slog.LevelDebug, true
	case "info":
		return slog.LevelInfo, true
	case "warn", "warning":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return slog.LevelInfo, false
}

var (
	// scheme://user:pass@host -> scheme://REDACTED@host. The optional digest
	// algorithm after the @ lets redactUserinfo recognise docker://nginx@sha256:...,
	// a digest reference that has no userinfo in it.
	userinfoRe = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@((?:sha256|sha384|sha512):)?`)
	// Authorization: Bearer xyz, Basic xyz; also "Authorization":"Basic xyz" when the
	// JSON is itself quoted (\"Authorization\":\"Basic xyz\"), as %q and JSON strings do.
	authHeaderRe = regexp.MustCompile(`(?i)(authorization(?:\\*["'])?\s*[:=]\s*(?:\\*["'])?)(bearer|basic)?\s*[^\s"',\\]+`)
	// The query string (and fragment) of any scheme://... URL. Presigned blob
	// URLs put their credentials there under names that differ per registry
	// backend (S3: X-Amz-Signature, Azure blob SAS as used by GHCR's CDN: sig,
	// GCS behind Google Artifact Registry: X-Goog-Signature/X-Goog-Credential),
	// so no list of names is trusted: the whole query goes. The URL ends at
	// white space, a quote or angle bracket; \" is allowed inside because
	// Go's %q (url.Error) escapes a quote that way, and stopping there would
	// leave the rest of the query behind; the same holds for the path (a JSON string
	// writes & in it as \u0026). No \b before the scheme: a URL glued to a digit or
	// '_' ("_https://…") is still a URL.
	urlQueryRe = regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://(?:[^\s"'<>?#\\]|\\.)*)[?#](?:[^\s"'<>\\]|\\.)+`)
	// Signatures and tokens in query strings that are not part of a
	// scheme://... URL (a host/path?query without scheme, a bare query).
	sigQueryRe = regexp.MustCompile(`(?i)([?&](x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential|sig|signature|awsaccesskeyid|token|access_token|password)=)[^&\s"]+`)
	// Registry tokens by their shape, wherever they stand (a bare token given as SrcCreds is
	// such a value): GitHub's (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_), GitLab's personal
	// access tokens (glpat-) and Docker Hub's (dckr_pat_); the prefix stays, to say what was
	// there. And JWTs: header and payload are base64url JSON objects, so both start with eyJ.
	prefixTokenRe = regexp.MustCompile(`(gh[pousr]_|github_pat_|glpat-|dckr_pat_)[A-Za-z0-9_-]{8,}`)
	jwtRe         = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.?[A-Za-z0-9_-]*`)
)

// Redact removes credentials that may appear inside a free-form message:
// URL userinfo, Authorization header values, the query string of every
// scheme://... URL, signed query parameters anywhere else, and values shaped
// like registry tokens or JWTs.
func Redact(s string) string {
	s = redactUserinfo(s)
	s = authHeaderRe.ReplaceAllString(s, "${1}REDACTED")
	s = urlQueryRe.ReplaceAllString(s, "${1}?REDACTED")
	s = sigQueryRe.ReplaceAllString(s, "${1}REDACTED")
	s = prefixTokenRe.ReplaceAllString(s, "${1}REDACTED")
	s = jwtRe.ReplaceAllString(s, "JWT-REDACTED")
	return s
}

func redactUserinfo(s string) string {
	return userinfoRe.ReplaceAllStringFunc(s, func(m string) string {
		sub := userinfoRe.FindStringSubmatch(m)
		// Only docker:// references carry name@digest; in any other URL a host that
		// happens to be called sha256 (https://user:pass@sha256:5000/) is still a host.
		if sub[2] != "" && strings.EqualFold(sub[1], "docker://") {
			return m // name@digest, not user@host
		}
		return sub[1] + "REDACTED@"
	})
}

// redacting passes every message and string-valued attribute (errors and
// Stringers included) through Redact before the JSON handler sees it, so an
// error that quotes a URL (Go's url.Error does, e.g. a presigned S3 blob URL
// after an ECR redirect) cannot carry a signature or token into the log.
type redacting struct{ next slog.Handler }

func (h redacting) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h redacting) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h redacting) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redactAttr(a)
	}
	return redacting{h.next.WithAttrs(red)}
}

func (h redacting) WithGroup(name string) slog.Handler { return redacting{h.next.WithGroup(name)} }

func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Redact(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]any, len(g))
		for i, ga := range g {
			red[i] = redactAttr(ga)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, Redact(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, Redact(x.String()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

type logrusHook struct{ logger *slog.Logger }

func (h logrusHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h logrusHook) Fire(e *logrus.Entry) error {
	var lvl slog.Level
	switch e.Level {
	case logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel:
		lvl = slog.LevelError
	case logrus.WarnLevel:
		lvl = slog.LevelWarn
	case logrus.InfoLevel:
		lvl = slog.LevelInfo
	default:
		lvl = slog.LevelDebug
	}
	// Fields are dropped on purpose: they are free-form and not worth the
	// risk of carrying a credential past the redactor.
	h.logger.Log(context.Background(), lvl, Redact(e.Message), "source", "containers/image")
	return nil
}

func routeLogrus(logger *slog.Logger, level slog.Level) {
	logrus.SetOutput(io.Discard)
	logrus.StandardLogger().ReplaceHooks(logrus.LevelHooks{})
	logrus.AddHook(logrusHook{logger: logger})
	// containers/image's info-level chatter duplicates our own progress
	// logging, so it only comes through at debug.
	if level <= slog.LevelDebug {
		logrus.SetLevel(logrus.DebugLevel)
	} else {
		logrus.SetLevel(logrus.WarnLevel)
	}
}
