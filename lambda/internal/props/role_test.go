package props

import (
	"errors"
	"strings"
	"testing"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
)

func TestRoleArn(t *testing.T) {
	for _, ok := range []string{
		"arn:aws:iam::999999999999:role/ecr-pusher",
		"arn:aws:iam::999999999999:role/path/to/ecr-pusher",
		"arn:aws-cn:iam::999999999999:role/x",
		"arn:aws-us-gov:iam::999999999999:role/a+b=c,d.e@f-g_h",
		"arn:aws-iso-b:iam::999999999999:role/x",
	} {
		p, err := Parse(with("DestRoleArn", ok, "SrcRoleArn", ok))
		if err != nil {
			t.Errorf("%s: %v", ok, err)
			continue
		}
		if p.DestRoleArn != ok || p.SrcRoleArn != ok {
			t.Errorf("%s: got %q / %q", ok, p.SrcRoleArn, p.DestRoleArn)
		}
	}
	for _, bad := range []any{
		"ecr-pusher",
		"arn:aws:iam::999999999999:user/alice",
		"arn:aws:iam::99999:role/x",
		"arn:aws:sts::999999999999:assumed-role/x/y",
		"arn:aws:iam::999999999999:role/",
		"arn:aws:iam::999999999999:role/x y",
		42,
	} {
		for _, prop := range []string{"SrcRoleArn", "DestRoleArn"} {
			_, err := Parse(with(prop, bad))
			if !errors.Is(err, errs.ErrInvalidProperty) || !strings.Contains(err.Error(), prop) {
				t.Errorf("%s=%v: want an invalid-property error naming %s, got %v", prop, bad, prop, err)
			}
		}
	}
	p, err := Parse(base())
	if err != nil || p.SrcRoleArn != "" || p.DestRoleArn != "" {
		t.Errorf("absent roles: %+v, %v", p, err)
	}
}
