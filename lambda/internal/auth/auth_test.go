package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/cdk-ecr-deployment/handler/internal/awsenv"
	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/testenv"
)

func TestMain(m *testing.M) { testenv.RunWithMoto(m, "auth") }

func TestParsePlain(t *testing.T) {
	c, err := ParsePlain("AWS:pa:ss:word")
	if err != nil || c.Username != "AWS" || c.Password != "pa:ss:word" {
		t.Errorf("got %v %v", c, err)
	}
	if _, err := ParsePlain(":nouser"); err == nil {
		t.Error("empty user accepted")
	}
	if s := fmt.Sprintf("%v %+v %#v %s", *c, *c, *c, c); strings.Contains(s, "pa:ss") {
		t.Errorf("formatting leaks the password: %s", s)
	}
}

func TestIsSecretRef(t *testing.T) {
	for in, want := range map[string]bool{
		"my-secret": true,
		"arn:aws:secretsmanager:us-west-2:123456789012:secret:creds-AbCdEf": true,
		"arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:x":        true,
		"user:pass":         false,
		"user:arn:whatever": false,
	} {
		if got := IsSecretRef(in); got != want {
			t.Errorf("IsSecretRef(%q) = %v", in, got)
		}
	}
}

func TestParseSecret(t *testing.T) {
	good := map[string]Credentials{
		`u:p:x`:                                 {"u", "p:x"},
		`{"username":"u","password":"p"}`:       {"u", "p"},
		` {"username":"u","password":"","x":1}`: {"u", ""},
	}
	for in, want := range good {
		c, err := ParseSecret(in)
		if err != nil || *c != want {
			t.Errorf("ParseSecret(%q) = %v, %v", in, c, err)
		}
	}
	for in, want := range map[string]string{
		`{"username":"u"}`: `missing "password"`,
		`{"password":"p"}`: `missing "username"`,
		`{"user":"u"`:      "not valid JSON",
		`nocolon`:          `"user:password"`,
	} {
		if _, err := ParseSecret(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSecret(%q) error %v, want %q", in, err, want)
		}
	}
}

func TestECRHost(t *testing.T) {
	for host, want := range map[string]string{
		"123456789012.dkr.ecr.us-east-1.amazonaws.com":          "us-east-1",
		"123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com": "us-gov-west-1",
		"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn":      "cn-north-1",
		"12345.dkr.ecr.us-east-1.amazonaws.com":                 "",
		"public.ecr.aws":                                        "",
		"123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.com": "",
	} {
		_, region, ok := ECRHost(host)
		if ok != (want != "") || region != want {
			t.Errorf("ECRHost(%q) = %q, %v", host, region, ok)
		}
	}
}

func smClient(t *testing.T) *secretsmanager.Client {
	cfg, err := awsenv.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return secretsmanager.NewFromConfig(cfg)
}

func TestSecretsManager(t *testing.T) {
	ctx := context.Background()
	sm := smClient(t)
	mk := func(name string, in *secretsmanager.CreateSecretInput) string {
		in.Name = aws.String(name)
		out, err := sm.CreateSecret(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return *out.ARN
	}
	plainARN := mk("plain", &secretsmanager.CreateSecretInput{SecretString: aws.String("bot:s3cr:et")})
	mk("json", &secretsmanager.CreateSecretInput{SecretString: aws.String(`{"username":"bot","password":"pw"}`)})
	mk("binary", &secretsmanager.CreateSecretInput{SecretBinary: []byte{1, 2, 3}})
	mk("nokeys", &secretsmanager.CreateSecretInput{SecretString: aws.String(`{"user":"bot"}`)})

	r := &Resolver{LoadConfig: awsenv.Load}
	c, err := r.Resolve(ctx, Request{Creds: plainARN, Property: "SrcCreds"})
	if err != nil || *c != (Credentials{"bot", "s3cr:et"}) {
		t.Errorf("by ARN: %v %v", c, err)
	}
	c, err = r.Resolve(ctx, Request{Creds: "json", Property: "SrcCreds"})
	if err != nil || *c != (Credentials{"bot", "pw"}) {
		t.Errorf("by name, JSON: %v %v", c, err)
	}
	_, err = r.Resolve(ctx, Request{Creds: "binary", Property: "DestCreds"})
	if !errors.Is(err, errs.ErrSecret) || !strings.Contains(err.Error(), "binary") || !strings.Contains(err.Error(), "DestCreds") {
		t.Errorf("binary secret: %v", err)
	}
	_, err = r.Resolve(ctx, Request{Creds: "nokeys", Property: "SrcCreds"})
	if !errors.Is(err, errs.ErrSecret) || !strings.Contains(err.Error(), `"username"`) {
		t.Errorf("JSON without keys: %v", err)
	}
	_, err = r.Resolve(ctx, Request{Creds: "foo", Property: "SrcCreds"})
	if !errors.Is(err, errs.ErrNotFound) || !strings.Contains(err.Error(), "the secret named in SrcCreds was not found in Secrets Manager (us-east-1)") {
		t.Errorf("missing secret: %v", err)
	}
}

func TestECRAutoLogin(t *testing.T) {
	r := &Resolver{LoadConfig: awsenv.Load}
	c, err := r.Resolve(context.Background(), Request{Host: "123456789012.dkr.ecr.us-east-1.amazonaws.com", Role: Destination})
	if err != nil {
		t.Fatal(err)
	}
	if c == nil || c.Username != "AWS" || c.Password == "" {
		t.Errorf("ECR login gave %v", c)
	}
	// Explicit creds win over auto-login.
	c, err = r.Resolve(context.Background(), Request{Creds: "me:pw", Host: "123456789012.dkr.ecr.us-east-1.amazonaws.com"})
	if err != nil || c.Username != "me" {
		t.Errorf("explicit creds: %v %v", c, err)
	}
	// Other registries, and ECR Public as a source, are anonymous.
	for _, req := range []Request{{Host: "docker.io", Role: Source}, {Host: "public.ecr.aws", Role: Source}, {Host: ""}} {
		if c, err := r.Resolve(context.Background(), req); c != nil || err != nil {
			t.Errorf("%+v: %v %v, want anonymous", req, c, err)
		}
	}
}

// Every private ECR host form of the rulebook (lambda/internal/rules/cases.json: FIPS,
// dual-stack, China, GovCloud, ISO) logs in with GetAuthorizationToken in its own region.
func TestECRAutoLoginEveryPartition(t *testing.T) {
	raw, err := os.ReadFile("../rules/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases struct {
		ECRHost []struct {
			Host string `json:"host"`
			Want *struct {
				Kind, Region, Partition string
			} `json:"want"`
		} `json:"ecrHost"`
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	partitions := map[string]bool{}
	for _, c := range cases.ECRHost {
		if c.Want == nil || c.Want.Kind != "private" {
			continue
		}
		partitions[c.Want.Partition] = true
		var asked []string
		r := &Resolver{LoadConfig: func(ctx context.Context, region string) (aws.Config, error) {
			asked = append(asked, region)
			return awsenv.Load(ctx, region)
		}}
		got, err := r.Resolve(context.Background(), Request{Host: c.Host, Role: Destination, Property: "DestCreds"})
		if err != nil || got == nil || got.Username != "AWS" || got.Password == "" {
			t.Errorf("%s: login gave %v, %v", c.Host, got, err)
		}
		if len(asked) != 1 || asked[0] != c.Want.Region {
			t.Errorf("%s: GetAuthorizationToken asked in %q, want %s", c.Host, asked, c.Want.Region)
		}
	}
	for _, p := range []string{"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f"} {
		if !partitions[p] {
			t.Errorf("no host of partition %s was tried", p)
		}
	}
}
