package crash

import (
	"errors"
	"strings"
	"testing"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
)

func TestRecoverTurnsAPanicIntoAnError(t *testing.T) {
	f := func() (err error) {
		defer Recover(&err, "a test goroutine")
		var m map[string]int
		m["x"] = 1 // a real runtime panic
		return nil
	}
	err := f()
	if !errors.Is(err, errs.ErrInternal) || !strings.Contains(err.Error(), "panic in a test goroutine") ||
		!strings.Contains(err.Error(), "this is a bug in cdk-ecr-deployment") {
		t.Fatalf("got %v", err)
	}
	ok := func() (err error) {
		defer Recover(&err, "x")
		return errors.New("plain")
	}
	if err := ok(); err == nil || err.Error() != "plain" {
		t.Fatalf("an error without a panic changed: %v", err)
	}
}
