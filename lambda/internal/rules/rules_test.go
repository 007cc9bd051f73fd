package rules

import (
	_ "embed"
	"encoding/json"
	"errors"
	"testing"
)

//go:embed cases.json
var casesJSON []byte

// cases.json is shared with test/rules.test.ts: both languages must agree on every row.
type cases struct {
	ECRHost []struct {
		Host string `json:"host"`
		Want *struct {
			Kind      string `json:"kind"`
			Account   string `json:"account"`
			Region    string `json:"region"`
			Partition string `json:"partition"`
			DNSSuffix string `json:"dnsSuffix"`
			FIPS      bool   `json:"fips"`
			DualStack bool   `json:"dualStack"`
		} `json:"want"`
	} `json:"ecrHost"`
	Platform []struct {
		In   string `json:"in"`
		Want *struct {
			OS           string `json:"os"`
			Architecture string `json:"architecture"`
			Variant      string `json:"variant"`
		} `json:"want"`
		Known bool `json:"known"`
	} `json:"platform"`
	Tag []struct {
		In    string `json:"in"`
		Valid bool   `json:"valid"`
	} `json:"tag"`
	Retry []struct {
		In    map[string]float64 `json:"in"`
		Valid bool               `json:"valid"`
		Field string             `json:"field"`
	} `json:"retry"`
	S3KeyCandidates []struct {
		In   string      `json:"in"`
		Want [][2]string `json:"want"`
	} `json:"s3KeyCandidates"`
}

func loadCases() (cases, error) {
	var c cases
	err := json.Unmarshal(casesJSON, &c)
	return c, err
}

func load(t *testing.T) cases {
	t.Helper()
	c, err := loadCases()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ECRHost) == 0 || len(c.Platform) == 0 || len(c.Tag) == 0 || len(c.Retry) == 0 || len(c.S3KeyCandidates) == 0 {
		t.Fatal("cases.json has an empty table")
	}
	return c
}

func TestECRHostCases(t *testing.T) {
	for _, c := range load(t).ECRHost {
		got, ok := ParseECRHost(c.Host)
		if c.Want == nil {
			if ok {
				t.Errorf("ParseECRHost(%q) = %+v, want no match", c.Host, got)
			}
			continue
		}
		kind := "private"
		if got.Public {
			kind = "public"
		}
		if !ok || kind != c.Want.Kind || got.Account != c.Want.Account || got.Region != c.Want.Region || got.Partition != c.Want.Partition ||
			got.DNSSuffix != c.Want.DNSSuffix || got.FIPS != c.Want.FIPS || got.DualStack != c.Want.DualStack {
			t.Errorf("ParseECRHost(%q) = %+v, %v; want %+v", c.Host, got, ok, *c.Want)
		}
	}
}

func TestPlatformCases(t *testing.T) {
	for _, c := range load(t).Platform {
		got, err := ParsePlatform(c.In)
		if c.Want == nil {
			if err == nil || !errors.Is(err, ErrPlatformGrammar) {
				t.Errorf("ParsePlatform(%q) = %+v, %v; want ErrPlatformGrammar", c.In, got, err)
			}
			continue
		}
		if err != nil || got != (Platform{OS: c.Want.OS, Architecture: c.Want.Architecture, Variant: c.Want.Variant}) {
			t.Errorf("ParsePlatform(%q) = %+v, %v; want %+v", c.In, got, err, *c.Want)
		}
		if IsKnownArchitecture(got.Architecture) != c.Known {
			t.Errorf("IsKnownArchitecture(%q) = %v, want %v", got.Architecture, !c.Known, c.Known)
		}
	}
}

func TestTagCases(t *testing.T) {
	for _, c := range load(t).Tag {
		if ValidTag(c.In) != c.Valid {
			t.Errorf("ValidTag(%q) = %v, want %v", c.In, !c.Valid, c.Valid)
		}
	}
}

func TestRetryCases(t *testing.T) {
	for _, c := range load(t).Retry {
		field, err := RetryProblem(c.In)
		if (err == nil) != c.Valid || field != c.Field {
			t.Errorf("RetryProblem(%v) = %q, %v; want valid=%v field %q", c.In, field, err, c.Valid, c.Field)
		}
	}
}

func TestS3KeyCandidateCases(t *testing.T) {
	for _, c := range load(t).S3KeyCandidates {
		got := S3KeyCandidates(c.In)
		if len(got) != len(c.Want) {
			t.Errorf("S3KeyCandidates(%q) = %q, want %q", c.In, got, c.Want)
			continue
		}
		for i := range got {
			if got[i] != c.Want[i] {
				t.Errorf("S3KeyCandidates(%q) = %q, want %q", c.In, got, c.Want)
				break
			}
		}
	}
}

// A rulebook that does not compile must be refused at once, not at a deploy.
func TestCompileRefusesBrokenPatterns(t *testing.T) {
	if _, err := compile([]byte(`{"tag": {"pattern": "("}}`)); err == nil {
		t.Error("compile accepted a broken tag pattern")
	}
	if _, err := compile([]byte(`{"ecr": {"account": "(", "privateHosts": [{"form": "{account}.x"}]}}`)); err == nil {
		t.Error("compile accepted a broken host pattern")
	}
}
