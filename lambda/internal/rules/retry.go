package rules

import (
	"fmt"
	"slices"
	"strings"
)

// RetryField is one field RetryConfigs accepts.
type RetryField struct {
	Name    string   `json:"name"`
	Min     float64  `json:"min"`
	Max     *float64 `json:"max"` // nil: no bound
	Integer bool     `json:"integer"`
	Default float64  `json:"default"`
}

// RetryFields lists the RetryConfigs fields in the rulebook's order.
func RetryFields() []RetryField { return slices.Clone(rb.Retry.Fields) }

func retryFieldNames() []string {
	names := make([]string, len(rb.Retry.Fields))
	for i, f := range rb.Retry.Fields {
		names[i] = f.Name
	}
	return names
}

// RetryProblem checks one RetryConfigs value (fields already numbers) and
// returns the field at fault and what is wrong, or "" and nil. Missing fields take
// their defaults before the cross-field rules (baseDelay not above maxDelay) apply.
func RetryProblem(values map[string]float64) (field string, err error) {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		i := slices.IndexFunc(rb.Retry.Fields, func(f RetryField) bool { return f.Name == k })
		if i < 0 {
			return k, fmt.Errorf("unknown field %q; allowed: %s", k, strings.Join(retryFieldNames(), ", "))
		}
		f, v := rb.Retry.Fields[i], values[k]
		switch {
		case v < f.Min:
			return k, fmt.Errorf("%s must be a number of at least %v, got %v", k, f.Min, v)
		case f.Max != nil && v > *f.Max:
			return k, fmt.Errorf("%s of %v is too large (at most %v)", k, v, *f.Max)
		case f.Integer && v != float64(int64(v)):
			return k, fmt.Errorf("%s must be a whole number, got %v", k, v)
		}
	}
	get := func(name string) float64 {
		if v, ok := values[name]; ok {
			return v
		}
		for _, f := range rb.Retry.Fields {
			if f.Name == name {
				return f.Default
			}
		}
		return 0
	}
	for _, pair := range rb.Retry.NotAbove {
		if lo, hi := get(pair[0]), get(pair[1]); lo > hi {
			return pair[0], fmt.Errorf("%s (%v) must not exceed %s (%v)", pair[0], lo, pair[1], hi)
		}
	}
	return "", nil
}
