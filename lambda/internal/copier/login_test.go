package copier

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cdk-ecr-deployment/handler/internal/auth"
	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/testenv"
)

// newLoginRegistry is a real docker-registry that takes Basic auth (as ECR's registry API
// takes its tokens) for user AWS and password, with an image at src/app:v1.
func newLoginRegistry(t *testing.T, password string) *testRegistry {
	t.Helper()
	env := testenv.StartRegistryWithLogin(t, "AWS", password)
	reg := &testRegistry{env: env, host: env.Host, client: env.Transport(), auth: "AWS:" + password}
	reg.pushImage(t, "src/app:v1", randomImage(t, 2))
	return reg
}

// expireOnFirstUpload makes the registry refuse the token from the first blob upload on
// (the registry now takes only next), as when an ECR token expires in the middle of a copy.
func expireOnFirstUpload(t *testing.T, reg *testRegistry, next string) {
	var once atomic.Bool
	reg.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads") && once.CompareAndSwap(false, true) {
			if err := reg.env.SetLogin("AWS", next); err != nil {
				t.Error(err)
			}
		}
		return false // on to the registry, which now refuses the old token
	})
}

// counted is a Relogin that returns password and counts its calls.
func counted(n *atomic.Int32, password string) func(context.Context) (*auth.Credentials, error) {
	return func(context.Context) (*auth.Credentials, error) {
		n.Add(1)
		return &auth.Credentials{Username: "AWS", Password: password}, nil
	}
}

func TestExpiredTokenLogsInAgainOnce(t *testing.T) {
	reg := newLoginRegistry(t, "token-1")
	old := &auth.Credentials{Username: "AWS", Password: "token-1"}
	expireOnFirstUpload(t, reg, "token-2")
	var srcLogins, destLogins atomic.Int32
	res, err := reg.copier(t).Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+reg.host+"/src/app:v1"), Dest: imageRef(t, "docker://"+reg.host+"/dst/app:v1"),
		SrcCreds:  Credentials{Current: old, Relogin: counted(&srcLogins, "token-2")},
		DestCreds: Credentials{Current: old, Relogin: counted(&destLogins, "token-2")},
		Retry:     testRetry(),
	})
	if err != nil {
		t.Fatalf("copy across a token expiry: %v", err)
	}
	if srcLogins.Load() != 1 || destLogins.Load() != 1 {
		t.Errorf("logged in again %d (source) and %d (destination) times, want 1 and 1", srcLogins.Load(), destLogins.Load())
	}
	refused := 0
	for _, r := range reg.env.Requests() {
		if r.Status == http.StatusUnauthorized {
			refused++
		}
	}
	if refused == 0 {
		t.Error("the registry never refused the old token: the test did not expire it")
	}
	reg.auth = "AWS:token-2"
	if got := reg.digestOfTag(t, "dst/app:v1"); got != res.Digest {
		t.Errorf("dst/app:v1 = %s, want %s", got, res.Digest)
	}
}

// Logging in again happens once: new credentials that are refused too fail the copy, as
// unauthorized, with no further logins.
func TestReloginIsTriedOnce(t *testing.T) {
	reg := newLoginRegistry(t, "token-1")
	old := &auth.Credentials{Username: "AWS", Password: "token-1"}
	expireOnFirstUpload(t, reg, "token-2")
	var logins atomic.Int32
	_, err := reg.copier(t).Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+reg.host+"/src/app:v1"), Dest: imageRef(t, "docker://"+reg.host+"/dst/app:v1"),
		SrcCreds:  Credentials{Current: old},
		DestCreds: Credentials{Current: old, Relogin: counted(&logins, "still-wrong")},
		Retry:     testRetry(),
	})
	if !errors.Is(err, errs.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if logins.Load() != 1 {
		t.Errorf("logged in again %d times, want 1", logins.Load())
	}
}

// Without a way to log in again (a password or a secret), a refusal mid-copy is tried once more
// on new connections (the same password again), and then fails.
func TestNoReloginWithoutASource(t *testing.T) {
	reg := newLoginRegistry(t, "token-1")
	old := &auth.Credentials{Username: "AWS", Password: "token-1"}
	expireOnFirstUpload(t, reg, "token-2")
	_, err := reg.copier(t).Copy(context.Background(), Job{
		Src: imageRef(t, "docker://"+reg.host+"/src/app:v1"), Dest: imageRef(t, "docker://"+reg.host+"/dst/app:v1"),
		SrcCreds: Credentials{Current: old}, DestCreds: Credentials{Current: old}, Retry: testRetry(),
	})
	if !errors.Is(err, errs.ErrUnauthorized) || !strings.Contains(err.Error(), "unauthorized") {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
}

// A refusal of credentials the registries took earlier in this copy (an expired bearer token)
// runs once more on new connections; a refusal before they were ever accepted (a wrong
// password at the first read) does not.
func TestRefusalMidCopyIsTriedOnceMoreOnNewConnections(t *testing.T) {
	c := New(Options{})
	for _, accepted := range []bool{false, true} {
		l := c.newLogin(Credentials{Current: &auth.Credentials{Username: "u", Password: "p"}})
		if accepted {
			l.accept()
		}
		calls := 0
		err := withRetry(context.Background(), testRetry(), "op", func(context.Context) error {
			calls++
			return fmt.Errorf("copying: %w", errs.ErrUnauthorized)
		}, l)
		want, gen := 1, 0
		if accepted {
			want, gen = 2, 1
		}
		if calls != want || !errors.Is(err, errs.ErrUnauthorized) {
			t.Errorf("accepted=%v: %d calls, err %v; want %d calls and ErrUnauthorized", accepted, calls, err, want)
		}
		if l.generation() != gen {
			t.Errorf("accepted=%v: generation %d, want %d (new connections)", accepted, l.generation(), gen)
		}
	}
}
