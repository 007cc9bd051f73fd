package testenv

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cdk-ecr-deployment/handler/internal/awsenv"
)

// S3Bucket creates bucket in moto's S3 (started by NeedMoto) and stores objects in it, by key.
func S3Bucket(t testing.TB, bucket string, objects map[string][]byte) *s3.Client {
	t.Helper()
	NeedMoto(t)
	ctx := context.Background()
	client, err := awsenv.S3(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	for k, v := range objects {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: bytes.NewReader(v)}); err != nil {
			t.Fatal(err)
		}
	}
	return client
}
