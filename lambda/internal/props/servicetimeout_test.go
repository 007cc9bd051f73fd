package props

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
)

// CloudFormation passes a custom resource's ServiceTimeout on in ResourceProperties;
// refusing it as unknown failed every stack that set it.
func TestServiceTimeoutAccepted(t *testing.T) {
	for _, v := range []any{"1", "300", " 3600 ", 300.0, json.Number("900"), 60} {
		p, err := Parse(with("ServiceTimeout", v))
		if err != nil {
			t.Errorf("ServiceTimeout %#v: %v", v, err)
			continue
		}
		if p.SrcImage != "docker://nginx:latest" {
			t.Errorf("ServiceTimeout %#v changed other properties: %+v", v, p)
		}
	}
}

func TestServiceTimeoutValidated(t *testing.T) {
	for _, v := range []any{"0", "-5", "3601", "1.5", "5m", "", 0.0, 3601.0, 12.5, true, []any{"30"}} {
		_, err := Parse(with("ServiceTimeout", v))
		if !errors.Is(err, errs.ErrInvalidProperty) || !strings.Contains(err.Error(), "ServiceTimeout") {
			t.Errorf("ServiceTimeout %#v: err = %v, want an invalid-property error naming ServiceTimeout", v, err)
			continue
		}
		if strings.Contains(err.Error(), "unknown property") {
			t.Errorf("ServiceTimeout %#v reported as unknown: %v", v, err)
		}
	}
}
