package copier

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/cdk-ecr-deployment/handler/internal/awsenv"
)

// ECR's registry API has no manifest DELETE, so RemovalPolicy destroy goes through
// ecr:BatchDeleteImage; moto's ECR API stands in for the service.
func TestDeleteECRUntagsThroughBatchDeleteImage(t *testing.T) {
	ctx := context.Background()
	client, err := awsenv.ECR(ctx, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/app")}); err != nil {
		t.Fatal(err)
	}
	manifest := `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",` +
		`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]}`
	for _, tag := range []string{"v1", "v1-extra", "keep"} {
		if _, err := client.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("team/app"), ImageManifest: aws.String(manifest), ImageTag: aws.String(tag)}); err != nil {
			t.Fatal(err)
		}
	}
	c := New(Options{})
	ecrFor := func(ctx context.Context, region string) (ECRDeleter, error) { return awsenv.ECR(ctx, region) }
	job := DeleteJob{
		Dest:     "docker://123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:v1",
		DestTags: []string{"v1-extra", "never-pushed"},
		ECR:      ecrFor,
	}
	if err := c.Delete(ctx, job); err != nil {
		t.Fatalf("delete: %v", err)
	}
	tags := func() []string {
		out, err := client.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("team/app")})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, id := range out.ImageIds {
			got = append(got, aws.ToString(id.ImageTag))
		}
		slices.Sort(got)
		return got
	}
	if got := tags(); !slices.Equal(got, []string{"keep"}) {
		t.Errorf("tags after delete = %v, want only [keep]", got)
	}
	// Deleting again, or from a repository that no longer exists, counts as done.
	if err := c.Delete(ctx, job); err != nil {
		t.Errorf("second delete: %v", err)
	}
	gone := DeleteJob{Dest: "docker://123456789012.dkr.ecr.us-east-1.amazonaws.com/never/created:v1", ECR: ecrFor}
	if err := c.Delete(ctx, gone); err != nil {
		t.Errorf("delete from a missing repository: %v", err)
	}
}
