package props

// RetryConfigs: the rulebook's fields and ranges, turned into the Retry the copier uses.

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cdk-ecr-deployment/handler/internal/rules"
)

// Retry bounds the retries of transient failures.
type Retry struct {
	NumAttempts int           // total attempts, >= 1
	BaseDelay   time.Duration // first backoff
	MaxDelay    time.Duration // cap of a single backoff
}

// DefaultRetry is used when RetryConfigs is absent; fields missing from
// RetryConfigs take these values too (the rulebook's defaults).
var DefaultRetry = defaultRetry()

func defaultRetry() Retry {
	var r Retry
	for _, f := range rules.RetryFields() {
		switch f.Name {
		case "numAttempts":
			r.NumAttempts = int(f.Default)
		case "baseDelay":
			r.BaseDelay = time.Duration(f.Default * float64(time.Second))
		case "maxDelay":
			r.MaxDelay = time.Duration(f.Default * float64(time.Second))
		}
	}
	return r
}

func parseRetry(v any) (Retry, error) {
	var m map[string]any
	present, err := jsonValue("RetryConfigs", v, &m)
	if err != nil || !present {
		return DefaultRetry, err
	}
	// The rulebook's fields, ranges and cross-field rule; numbers first, as CloudFormation
	// stringifies them.
	values := make(map[string]float64, len(m))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f, err := number(m[k])
		if err != nil {
			return DefaultRetry, invalid("RetryConfigs", "%s: %v", k, err)
		}
		values[k] = f
	}
	if _, err := rules.RetryProblem(values); err != nil {
		return DefaultRetry, invalid("RetryConfigs", "%v", err)
	}
	r := DefaultRetry
	for k, f := range values {
		switch k {
		case "numAttempts":
			r.NumAttempts = int(f)
		case "baseDelay":
			r.BaseDelay = time.Duration(f * float64(time.Second))
		case "maxDelay":
			r.MaxDelay = time.Duration(f * float64(time.Second))
		}
	}
	return r, nil
}

func number(v any) (float64, error) {
	switch t := v.(type) {
	case json.Number:
		return t.Float64()
	case float64:
		return t, nil
	case string:
		// CloudFormation stringifies numbers nested in objects it passes through.
		f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err != nil {
			return 0, fmt.Errorf("not a number: %q", t)
		}
		return f, nil
	default:
		return 0, fmt.Errorf("not a number: %s", typeName(v))
	}
}
