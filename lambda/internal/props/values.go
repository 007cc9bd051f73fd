package props

// How raw property values are read: CloudFormation sends every scalar as a string, direct
// invocations send JSON values; these helpers accept both and name the property when not.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

func requiredString(raw map[string]any, name string) (string, error) {
	s, err := optionalString(raw, name)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", invalid(name, "is required")
	}
	return s, nil
}

func optionalString(raw map[string]any, name string) (string, error) {
	v, ok := raw[name]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", invalid(name, "must be a string, got %s", typeName(v))
	}
	return strings.TrimSpace(s), nil
}

func typeName(v any) string {
	switch v.(type) {
	case bool:
		return "boolean"
	case float64, int, json.Number:
		return "number"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	default:
		return fmt.Sprintf("%T", v)
	}
}

func parseBool(raw map[string]any, name string) (bool, error) {
	switch t := raw[name].(type) {
	case nil:
		return false, nil
	case bool:
		return t, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(t)) {
		case "", "false":
			return false, nil
		case "true":
			return true, nil
		}
		return false, invalid(name, "must be \"true\" or \"false\", got %q", t)
	default:
		return false, invalid(name, "must be a boolean, got %s", typeName(t))
	}
}

// jsonValue accepts either a JSON document in a string (what CDK synthesizes)
// or the already-decoded value.
func jsonValue(prop string, v any, into any) (present bool, err error) {
	var data []byte
	switch t := v.(type) {
	case nil:
		return false, nil
	case string:
		if strings.TrimSpace(t) == "" {
			return false, nil
		}
		data = []byte(t)
	default:
		data, err = json.Marshal(t)
		if err != nil {
			return false, invalid(prop, "%v", err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(into); err != nil {
		return false, invalid(prop, "not valid JSON of the expected shape: %v", err)
	}
	return true, nil
}
