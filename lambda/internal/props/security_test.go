package props

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/rules"
)

// No resource property can turn TLS verification off: the handler refuses every property
// it does not know, and none of those it knows is about TLS.
func TestNoPropertyTurnsTLSVerificationOff(t *testing.T) {
	for _, k := range append(append([]string{}, known...), ignored...) {
		if l := strings.ToLower(k); strings.Contains(l, "tls") || strings.Contains(l, "insecure") ||
			strings.Contains(l, "verify") || strings.Contains(l, "cert") {
			t.Errorf("property %q looks like a TLS switch", k)
		}
	}
	for _, k := range []string{"TlsVerify", "SrcTlsVerify", "DestTLSVerify", "Insecure", "InsecureSkipTLSVerify", "SkipTlsVerify", "CaCert"} {
		raw := map[string]any{"SrcImage": "docker://a/b:1", "DestImage": "docker://r.io/c:1", k: "false"}
		_, err := Parse(raw)
		if !errors.Is(err, errs.ErrInvalidProperty) || !strings.Contains(err.Error(), `unknown property "`+k+`"`) {
			t.Errorf("%s: err = %v", k, err)
		}
	}
	// Nor does the parsed value carry anything about TLS.
	ty := reflect.TypeOf(Properties{})
	for i := range ty.NumField() {
		if l := strings.ToLower(ty.Field(i).Name); strings.Contains(l, "tls") || strings.Contains(l, "insecure") {
			t.Errorf("Properties.%s looks like a TLS switch", ty.Field(i).Name)
		}
	}
}

// Every architecture the construct accepts without a warning (the rulebook's list, which
// src/rules.ts reads too) must pass here, or a stack that synthesized fine fails at deploy.
// loong64 was once missing.
func TestConstructArchitecturesAreAccepted(t *testing.T) {
	if len(rules.KnownArchitectures()) < 9 {
		t.Fatalf("the rulebook lists %d architectures", len(rules.KnownArchitectures()))
	}
	for _, a := range rules.KnownArchitectures() {
		p, err := Parse(map[string]any{"SrcImage": "docker://a/b:1", "DestImage": "docker://r.io/c:1", "ImageArch": a})
		if err != nil || len(p.ImageArch) != 1 || p.ImageArch[0].Arch != a {
			t.Errorf("ImageArch %q: %+v, %v", a, p, err)
		}
	}
}
