package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/cdk-ecr-deployment/handler/internal/auth"
	"github.com/cdk-ecr-deployment/handler/internal/copier"
	"github.com/cdk-ecr-deployment/handler/internal/customresource"
	"github.com/cdk-ecr-deployment/handler/internal/logging"
	"github.com/cdk-ecr-deployment/handler/internal/props"
)

// stalledRegistry accepts connections and never answers, like a registry
// behind a black-holing firewall.
func stalledRegistry(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

func TestStalledRegistryFailsBeforeTheDeadline(t *testing.T) {
	var logs syncBuffer
	logging.Setup(&logs, "debug")
	t.Cleanup(func() { logging.Setup(io.Discard, "info") })

	host := stalledRegistry(t)
	var got customresource.Response
	var gotAt time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAt = time.Now()
		_ = json.NewDecoder(r.Body).Decode(&got)
	}))
	defer srv.Close()

	d := &Deployer{Auth: &auth.Resolver{}, Copier: copier.New(copier.Options{})}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	deadline, _ := ctx.Deadline()
	ev := cfn.Event{
		RequestType: cfn.RequestCreate, RequestID: "r", LogicalResourceID: "L", StackID: "S",
		ResponseURL: srv.URL + "/bucket/key?X-Amz-Signature=topsecretsig",
		ResourceProperties: map[string]any{
			"SrcImage": "docker://" + host + "/app:v1", "SrcCreds": "user:hunter2:more",
			"DestImage": "docker://" + host + "/copy:v1", "DestCreds": "user:hunter3",
		},
	}
	if err := customresource.New(d.Run, ProvisionalID).Handle(ctx, ev); err != nil {
		t.Fatal(err)
	}
	t.Logf("Reason: %s", got.Reason)
	if got.Status != "FAILED" || !strings.Contains(got.Reason, "deadline") || !strings.Contains(got.Reason, host+"/app:v1") {
		t.Errorf("response = %+v", got)
	}
	if !gotAt.Before(deadline) {
		t.Errorf("the response arrived at %v, after the Lambda deadline %v", gotAt, deadline)
	}
	out := logs.String()
	for _, secret := range []string{"hunter2", "hunter3", "topsecretsig", "X-Amz-Signature"} {
		if strings.Contains(out, secret) || strings.Contains(got.Reason, secret) {
			t.Errorf("%q leaked into the logs or the Reason", secret)
		}
	}
	if !strings.Contains(out, `"request_type":"Create"`) {
		t.Errorf("logs lack the request line:\n%s", out)
	}
}

func TestHostOf(t *testing.T) {
	for in, want := range map[string]string{
		"docker://nginx":                        "docker.io",
		"docker://public.ecr.aws/nginx/nginx:1": "public.ecr.aws",
		"docker://localhost:5000/a:b":           "localhost:5000",
		"s3://bucket/key":                       "",
		"docker://123456789012.dkr.ecr.us-west-2.amazonaws.com/r:t": "123456789012.dkr.ecr.us-west-2.amazonaws.com",
	} {
		p, err := props.Parse(map[string]any{"SrcImage": in, "DestImage": "docker://r.io/a:1"})
		if err != nil {
			t.Fatal(err)
		}
		if got := hostOf(p.Src); got != want {
			t.Errorf("hostOf(%q) = %q, want %q", in, got, want)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
