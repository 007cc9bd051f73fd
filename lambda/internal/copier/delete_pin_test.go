package copier

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/ecrpublic"
	digest "github.com/opencontainers/go-digest"

	"github.com/cdk-ecr-deployment/handler/internal/awsenv"
	"github.com/cdk-ecr-deployment/handler/internal/testenv"
)

// A tag re-pointed after the handler read it and before its BatchDeleteImage (a newer
// deployment writing the same tag) is not this resource's: it survives, and the delete
// still succeeds. The tag that did not move is removed.
func TestDeleteECRLeavesATagRePointedBeforeTheDelete(t *testing.T) {
	testenv.NeedMoto(t)
	ctx := context.Background()
	client, err := awsenv.ECR(ctx, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	repo := "team/race"
	if _, err := client.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil {
		t.Fatal(err)
	}
	mine, theirs := ecrManifest(11), ecrManifest(12)
	putECRImage(t, client, repo, mine, "v1")
	putECRImage(t, client, repo, mine, "stays-mine")
	putECRImage(t, client, repo, mine, "not-claimed")
	strict := &strictECR{ECRAPI: client, beforeDelete: func() { putECRImage(t, client, repo, theirs, "v1") }}
	job := DeleteJob{
		Owned: Owned{Repo: named(t, "123456789012.dkr.ecr.us-east-1.amazonaws.com/"+repo), Digest: digest.FromString(mine),
			Tags: []string{"v1", "stays-mine"}},
		ECR: func(context.Context, string) (ECRAPI, error) { return strict, nil },
	}
	if err := New(Options{}).Delete(ctx, job); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if strict.beforeDelete != nil {
		t.Fatal("no BatchDeleteImage was sent")
	}
	if got, want := ecrTags(t, client, repo), []string{"not-claimed", "v1"}; !slices.Equal(got, want) {
		t.Errorf("tags after delete = %v, want %v", got, want)
	}
	out, err := client.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String(repo),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Images) != 1 || aws.ToString(out.Images[0].ImageId.ImageDigest) != digest.FromString(theirs).String() {
		t.Errorf("v1 = %+v, want the newer deployment's %s", out.Images, digest.FromString(theirs))
	}
}

// The same on ECR Public, whose API the stand-in speaks.
func TestDeleteECRPublicLeavesATagRePointedBeforeTheDelete(t *testing.T) {
	mine, theirs := digest.FromString("mine"), digest.FromString("theirs")
	stand := &publicStandIn{repo: "app", tags: map[string]digest.Digest{"v1": mine, "latest": mine}}
	stand.beforeDelete = func() { stand.tags["v1"] = theirs }
	srv := httptest.NewServer(stand)
	defer srv.Close()
	client := ecrpublic.New(ecrpublic.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.AnonymousCredentials{}})
	job := DeleteJob{
		Owned:     Owned{Repo: named(t, "public.ecr.aws/my-alias/app"), Digest: mine, Tags: []string{"v1", "latest"}},
		ECRPublic: func(context.Context) (ECRPublicAPI, error) { return client, nil },
	}
	if err := New(Options{}).Delete(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	if stand.beforeDelete != nil {
		t.Fatal("no BatchDeleteImage was sent")
	}
	if got, ok := stand.tags["v1"]; !ok || got != theirs {
		t.Errorf("v1 = %q (present %v), want the newer %s", got, ok, theirs)
	}
	if _, ok := stand.tags["latest"]; ok {
		t.Error("latest, still this resource's, was not removed")
	}
}
