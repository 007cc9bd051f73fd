package copier

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	digest "github.com/opencontainers/go-digest"

	"github.com/cdk-ecr-deployment/handler/internal/awsenv"
	"github.com/cdk-ecr-deployment/handler/internal/testenv"
)

// On ECR an untag of an image's last tag deletes the image. The undo's removal of a tag on
// an image that was there before (KeepManifest) therefore keeps the tag when it is the
// image's last, and untags when another tag keeps the image. moto's ECR API, behind the
// strictECR front, stands in for ECR.
func TestDeleteECRKeepManifestKeepsTheLastTag(t *testing.T) {
	testenv.NeedMoto(t)
	ctx := context.Background()
	client, err := awsenv.ECR(ctx, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	repo := "team/kept"
	if _, err := client.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil {
		t.Fatal(err)
	}
	alone, shared := ecrManifest(11), ecrManifest(12)
	putECRImage(t, client, repo, alone, "stable")
	putECRImage(t, client, repo, shared, "stable2")
	putECRImage(t, client, repo, shared, "other")
	strict := &strictECR{ECRAPI: client}
	for m, tag := range map[string]string{alone: "stable", shared: "stable2"} {
		job := DeleteJob{
			Owned: Owned{Repo: named(t, "123456789012.dkr.ecr.us-east-1.amazonaws.com/"+repo), Digest: digest.FromString(m),
				Tags: []string{tag}, KeepManifest: true},
			ECR: func(context.Context, string) (ECRAPI, error) { return strict, nil },
		}
		if err := New(Options{}).Delete(ctx, job); err != nil {
			t.Fatalf("delete %s: %v", tag, err)
		}
	}
	if got, want := ecrTags(t, client, repo), []string{"other", "stable"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("tags after the deletes = %v, want %v (stable is its image's last tag)", got, want)
	}
}
