package rules

import (
	"strings"
	"testing"
)

// FuzzParseECRHost: a host name comes from the user's image uri. Whatever is accepted is
// a host of the rulebook's forms: a 12-digit account inside the host, a region its partition
// claims (or a new one under a known suffix), and nothing before the account.
func FuzzParseECRHost(f *testing.F) {
	c, err := loadCases()
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range c.ECRHost {
		f.Add(c.Host)
	}
	f.Fuzz(func(t *testing.T, host string) {
		h, ok := ParseECRHost(host)
		if !ok {
			if h != (ECRHost{}) {
				t.Fatalf("ParseECRHost(%q) = %+v without ok", host, h)
			}
			return
		}
		lower := strings.ToLower(host)
		if h.Public {
			if h.Account != "" || h.Partition != rb.ECR.PublicPartition {
				t.Fatalf("ParseECRHost(%q) = %+v", host, h)
			}
			return
		}
		if len(h.Account) != 12 || !strings.HasPrefix(lower, h.Account+".") || !strings.Contains(lower, "."+h.Region+".") ||
			!strings.HasSuffix(lower, "."+h.DNSSuffix) || h.Partition == "" {
			t.Fatalf("ParseECRHost(%q) = %+v", host, h)
		}
	})
}
