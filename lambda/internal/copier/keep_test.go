package copier

import (
	"context"
	"fmt"
	"slices"
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

// A replacement whose index keeps a child (amd64 at C) leaves that child's arch tag where
// it was; the clean-up Delete of the old resource must not release it, although it still
// points at the child the old index lists: the new index, under "latest", lists C too. The
// arm64 tag, still at the old index's own child R1 that no tagged index lists, goes.
func TestDeleteECRKeepsAnArchTagTheNewIndexShares(t *testing.T) {
	testenv.NeedMoto(t)
	ctx := context.Background()
	client, err := awsenv.ECR(ctx, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	repo := "team/shared-child"
	if _, err := client.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil {
		t.Fatal(err)
	}
	c, r1, r2 := ecrManifest(21), ecrManifest(22), ecrManifest(23)
	index := func(amd, arm string) string {
		kid := func(m, arch string) string {
			return fmt.Sprintf(`{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":%d,"digest":"%s","platform":{"architecture":"%s","os":"linux"}}`,
				len(m), digest.FromString(m), arch)
		}
		return `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[` +
			kid(amd, "amd64") + "," + kid(arm, "arm64") + `]}`
	}
	i1, i2 := index(c, r1), index(c, r2)
	// The old resource wrote v1 and latest -> I1 with its arch tags; the replacement wrote v2
	// and moved latest to I2, and found app-amd64 up to date.
	putECRImage(t, client, repo, c, "app-amd64")
	putECRImage(t, client, repo, r1, "app-arm64")
	putECRImage(t, client, repo, i1, "v1")
	putECRImage(t, client, repo, i1, "latest")
	putECRImage(t, client, repo, r2, "r2")
	putECRImage(t, client, repo, i2, "v2")
	putECRImage(t, client, repo, i2, "latest")
	job := DeleteJob{
		Owned: Owned{Repo: named(t, "123456789012.dkr.ecr.us-east-1.amazonaws.com/"+repo), Digest: digest.FromString(i1),
			Tags: []string{"v1", "latest"}, ArchTags: archTags("amd64", "app-amd64", "arm64", "app-arm64")},
		ECR: func(context.Context, string) (ECRAPI, error) { return &strictECR{ECRAPI: client}, nil },
	}
	if err := New(Options{}).Delete(ctx, job); err != nil {
		t.Fatalf("clean-up delete: %v", err)
	}
	if got, want := ecrTags(t, client, repo), []string{"app-amd64", "latest", "r2", "v2"}; !slices.Equal(got, want) {
		t.Errorf("tags after the clean-up delete = %v, want %v", got, want)
	}
}
