package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/cdk-ecr-deployment/handler/internal/awsenv"
	"github.com/cdk-ecr-deployment/handler/internal/errs"
)

// ecrPublicCall is one request the fake ECR Public endpoint received.
type ecrPublicCall struct {
	target, contentType, authorization string
	body                               map[string]any
}

// fakeECRPublic is an ECR Public API endpoint (awsJson1.1, as the real api.ecr-public.us-east-1
// speaks it) answering GetAuthorizationToken with token, or with an AccessDeniedException when
// deny is set. The handler reaches it the way it reaches the real one, through awsenv.Load:
// AWS_ENDPOINT_URL_ECR_PUBLIC points the SDK's ecrpublic client at it.
func fakeECRPublic(t *testing.T, token string, deny bool) (calls func() []ecrPublicCall) {
	var mu sync.Mutex
	var got []ecrPublicCall
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		mu.Lock()
		got = append(got, ecrPublicCall{r.Header.Get("X-Amz-Target"), r.Header.Get("Content-Type"), r.Header.Get("Authorization"), body})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "SpencerFrontendService.GetAuthorizationToken" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"__type":"UnknownOperationException","message":"unexpected request"}`)
			return
		}
		if deny {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"__type":"AccessDeniedException","message":"User is not authorized to perform: ecr-public:GetAuthorizationToken"}`)
			return
		}
		fmt.Fprintf(w, `{"authorizationData":{"authorizationToken":%q,"expiresAt":1.9e9}}`, token)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL_ECR_PUBLIC", srv.URL)
	return func() []ecrPublicCall {
		mu.Lock()
		defer mu.Unlock()
		return append([]ecrPublicCall(nil), got...)
	}
}

// README: "public.ecr.aws destinations log in through ECR Public." A destination gets
// AWS:<token> from ecr-public:GetAuthorizationToken, asked in us-east-1 (the only region of the
// ECR Public API), whatever the default region is; a source is anonymous and asks nothing
// (deploy's SrcAuthFallback asks ECRPublicToken only after an anonymous read was refused).
func TestECRPublicLoginForDestinations(t *testing.T) {
	const password = "ecr-public-token-Zm9vYmFy"
	calls := fakeECRPublic(t, base64.StdEncoding.EncodeToString([]byte("AWS:"+password)), false)
	t.Setenv("AWS_REGION", "eu-west-1")
	ctx := context.Background()

	r := &Resolver{LoadConfig: awsenv.Load}
	for _, host := range []string{"public.ecr.aws", "Public.ECR.aws"} {
		c, err := r.Resolve(ctx, Request{Host: host, Role: Destination, Property: "DestCreds"})
		if err != nil {
			t.Fatalf("%s as destination: %v", host, err)
		}
		if c == nil || *c != (Credentials{Username: "AWS", Password: password}) {
			t.Fatalf("%s as destination gave %v, want AWS:<the token's password>", host, c)
		}
	}
	got := calls()
	if len(got) != 2 {
		t.Fatalf("ECR Public endpoint got %d requests, want 2 (one per Resolve)", len(got))
	}
	for _, c := range got {
		if !strings.HasPrefix(c.contentType, "application/x-amz-json-1.1") {
			t.Errorf("Content-Type %q, want application/x-amz-json-1.1", c.contentType)
		}
		if !strings.Contains(c.authorization, "/us-east-1/ecr-public/aws4_request") {
			t.Errorf("request not signed for ecr-public in us-east-1: %q", c.authorization)
		}
	}

	// The same host as a source: anonymous, and nothing is asked.
	c, err := (&Resolver{LoadConfig: awsenv.Load}).Resolve(ctx, Request{Host: "public.ecr.aws", Role: Source, Property: "SrcCreds"})
	if err != nil || c != nil {
		t.Errorf("public.ecr.aws as source: %v %v, want anonymous", c, err)
	}
	if n := len(calls()); n != 2 {
		t.Errorf("a source asked ECR Public for a token (%d requests, want still 2)", n)
	}

	// What the source fallback asks for once an anonymous read is refused.
	c, err = (&Resolver{LoadConfig: awsenv.Load}).ECRPublicToken(ctx)
	if err != nil || c == nil || c.Password != password {
		t.Errorf("ECRPublicToken: %v %v", c, err)
	}

	// Explicit DestCreds win over the login.
	c, err = (&Resolver{LoadConfig: awsenv.Load}).Resolve(ctx, Request{Creds: "me:pw", Host: "public.ecr.aws", Role: Destination})
	if err != nil || c == nil || c.Username != "me" {
		t.Errorf("explicit creds: %v %v", c, err)
	}
	if n := len(calls()); n != 3 {
		t.Errorf("ECR Public endpoint got %d requests, want 3", n)
	}
}

// A handler role without ecr-public:GetAuthorizationToken gets an unauthorized error that says
// what to grant, and no token.
func TestECRPublicLoginRefused(t *testing.T) {
	fakeECRPublic(t, "", true)
	c, err := (&Resolver{LoadConfig: awsenv.Load}).Resolve(context.Background(), Request{Host: "public.ecr.aws", Role: Destination})
	if c != nil || !errors.Is(err, errs.ErrUnauthorized) ||
		!strings.Contains(err.Error(), "grant ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken") {
		t.Errorf("refused login: %v, %v", c, err)
	}
}

// A token that is not base64 of user:password is an error, not credentials.
func TestECRPublicLoginBadToken(t *testing.T) {
	for _, tok := range []string{"not base64!", base64.StdEncoding.EncodeToString([]byte("no-colon"))} {
		t.Run(tok, func(t *testing.T) {
			fakeECRPublic(t, tok, false)
			c, err := (&Resolver{LoadConfig: awsenv.Load}).Resolve(context.Background(), Request{Host: "public.ecr.aws", Role: Destination})
			if c != nil || err == nil || !strings.Contains(err.Error(), "ecr-public:GetAuthorizationToken returned a token that is not") {
				t.Errorf("token %q: %v, %v", tok, c, err)
			}
		})
	}
}
