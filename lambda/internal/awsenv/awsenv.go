// Package awsenv builds AWS SDK clients from the Lambda environment.
//
// config.LoadDefaultConfig reads AWS_REGION, the execution role's
// credentials, AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>; the SDK's
// default HTTP transport honours HTTPS_PROXY and SSL_CERT_FILE. Nothing here
// has a code path of its own for tests.
package awsenv

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecrpublic"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithylog "github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// IdleTimeout is how long an AWS request may go without receiving anything: the wait for
// the response headers (ResponseHeaderTimeout) and every wait for body bytes (the SDK's
// read timeout, which restarts with each byte, so a slow but live transfer never trips
// it). It is the handler's one stall threshold, copier.StallTimeout; stall.go says why 40s.
// A timed-out request is retried by the SDK (3 attempts) and then by the copier.
const IdleTimeout = 40 * time.Second

// Load returns the configuration for region ("" = the default region).
func Load(ctx context.Context, region string) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	// A *BuildableClient, so that AWS_CA_BUNDLE still applies; proxies and SSL_CERT_FILE as before.
	client := awshttp.NewBuildableClient().WithReadTimeout(IdleTimeout).WithTransportOptions(func(t *http.Transport) {
		t.ResponseHeaderTimeout = IdleTimeout
	})
	opts = append(opts, config.WithHTTPClient(client), config.WithAPIOptions([]func(*middleware.Stack) error{addActivity}),
		// The SDK's default logger writes plain-text lines to stderr ("SDK 2026/12/01 ... DEBUG
		// Response has no supported checksum"), which break the one-JSON-object-per-line log
		// and bypass its redaction.
		config.WithLogger(sdkLogger{}))
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, fmt.Errorf("loading AWS configuration: %w", err)
	}
	return cfg, nil
}

// S3 returns an S3 client for region.
func S3(ctx context.Context, region string) (*s3.Client, error) {
	cfg, err := Load(ctx, region)
	if err != nil {
		return nil, err
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		// Custom endpoints (moto, MinIO, some VPC set-ups) have no
		// per-bucket DNS names, so address buckets by path there.
		if o.BaseEndpoint != nil {
			o.UsePathStyle = true
		}
		// S3 sends no full-object checksum for a ranged GET (every S3 archive read is one),
		// so the skipped validation would be logged once per read.
		o.DisableLogOutputChecksumValidationSkipped = true
	}), nil
}

// ECR returns an ECR client for region.
func ECR(ctx context.Context, region string) (*ecr.Client, error) {
	cfg, err := Load(ctx, region)
	if err != nil {
		return nil, err
	}
	return ecr.NewFromConfig(cfg), nil
}

// PublicECRRegion is the only region of the ECR Public API.
const PublicECRRegion = "us-east-1"

// ECRPublic returns an ECR Public client.
func ECRPublic(ctx context.Context) (*ecrpublic.Client, error) {
	cfg, err := Load(ctx, PublicECRRegion)
	if err != nil {
		return nil, err
	}
	return ecrpublic.NewFromConfig(cfg), nil
}

// Activity is told about the AWS requests made with a context that carries it (WithActivity):
// the copier's stall watchdog uses it to see S3 reads as progress and to name a stalled host.
type Activity interface {
	// Waiting is called when a request to host is sent and when a read of its response body
	// starts; the function it returns is called when that wait ends, with got true when
	// something arrived (response headers, body bytes, the end of the body).
	Waiting(host string) (done func(got bool))
}

type activityKey struct{}

// WithActivity returns ctx carrying a: requests made with it report to a.
func WithActivity(ctx context.Context, a Activity) context.Context {
	return context.WithValue(ctx, activityKey{}, a)
}

// addActivity reports each request attempt (it sits next to the transport, below the SDK's
// retries) and each read of its response body to the Activity in the request's context.
func addActivity(stack *middleware.Stack) error {
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("CDKECRDeploymentActivity",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			a, _ := ctx.Value(activityKey{}).(Activity)
			if a == nil {
				return next.HandleDeserialize(ctx, in)
			}
			host := ""
			if req, ok := in.Request.(*smithyhttp.Request); ok && req.URL != nil {
				host = req.URL.Host
			}
			done := a.Waiting(host)
			out, md, err := next.HandleDeserialize(ctx, in)
			resp, ok := out.RawResponse.(*smithyhttp.Response)
			got := ok && resp != nil && resp.Response != nil
			done(got)
			if got && resp.Body != nil {
				resp.Body = &activityBody{rc: resp.Body, a: a, host: host}
			}
			return out, md, err
		}), middleware.After)
}

// activityBody reports each read of a response body. It adds no goroutine and no timer:
// the read timeout itself is the connection's (WithReadTimeout).
type activityBody struct {
	rc   io.ReadCloser
	a    Activity
	host string
}

func (b *activityBody) Read(p []byte) (int, error) {
	done := b.a.Waiting(b.host)
	n, err := b.rc.Read(p)
	done(n > 0 || err == io.EOF)
	return n, err
}

func (b *activityBody) Close() error { return b.rc.Close() }

// sdkLogger routes the AWS SDK's messages to slog, so that they are JSON lines that go
// through the log's redaction like every other line.
type sdkLogger struct{}

func (sdkLogger) Logf(c smithylog.Classification, format string, v ...any) {
	level := slog.LevelDebug
	if c == smithylog.Warn {
		level = slog.LevelWarn
	}
	slog.Log(context.Background(), level, "AWS SDK: "+fmt.Sprintf(format, v...))
}
