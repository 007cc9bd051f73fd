package copier

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/ecrpublic"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker/reference"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cdk-ecr-deployment/handler/internal/auth"
	"github.com/cdk-ecr-deployment/handler/internal/awsenv"
	"github.com/cdk-ecr-deployment/handler/internal/testenv"
)

// mustImage reads an image back from the registry, to push it under another tag.
func mustImage(t *testing.T, reg *testRegistry, repoRef string) v1.Image {
	t.Helper()
	img, err := remoteImage(reg, t, repoRef)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func named(t *testing.T, s string) reference.Named {
	t.Helper()
	n, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func manifestDeletes(reqs []string) []string {
	var out []string
	for _, r := range reqs {
		if strings.HasPrefix(r, "DELETE ") {
			out = append(out, r)
		}
	}
	return out
}

// The real docker-registry deletes manifests by digest, which takes every tag on the
// manifest with it: a tag re-pointed since, or another tag on the same manifest, must keep
// what it points at.
func TestDeleteRegistryOnlyWhatIsStillOwned(t *testing.T) {
	reg := newDistRegistry(t)
	c := reg.copier(t)
	ctx := context.Background()
	a := reg.pushImage(t, "app:v1", randomImage(t, 1))
	reg.pushImage(t, "app:extra", mustImage(t, reg, "app:v1"))
	b := reg.pushImage(t, "app:moved", randomImage(t, 1))
	shared := reg.pushImage(t, "shared:mine", randomImage(t, 1))
	reg.pushImage(t, "shared:theirs", mustImage(t, reg, "shared:mine"))

	// app: v1 and extra point at what this resource wrote; moved was re-pointed to b.
	err := c.Delete(ctx, DeleteJob{Owned: Owned{Repo: named(t, reg.host+"/app"), Digest: digest.Digest(a.String()),
		Tags: []string{"v1", "extra", "moved", "never-pushed"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := reg.digestOfTag(t, "app:v1"); got != "" {
		t.Errorf("app:v1 still points at %s", got)
	}
	if got := reg.digestOfTag(t, "app:moved"); got != b.String() {
		t.Errorf("app:moved = %q, want %s (re-pointed, not this resource's)", got, b)
	}

	// shared: "theirs" points at the same manifest, and the registry cannot delete a tag
	// alone: the manifest stays, and no DELETE is sent.
	reg.resetLog()
	err = c.Delete(ctx, DeleteJob{Owned: Owned{Repo: named(t, reg.host+"/shared"), Digest: digest.Digest(shared.String()), Tags: []string{"mine"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := reg.digestOfTag(t, "shared:theirs"); got != shared.String() {
		t.Errorf("shared:theirs = %q, want %s", got, shared)
	}
	if d := manifestDeletes(reg.requests()); len(d) != 0 {
		t.Errorf("DELETEs sent although another tag shares the manifest: %v", d)
	}
	// A tag re-pointed since (a newer deployment, or by hand) is not this resource's any
	// more: nothing is deleted, not even the old manifest the id names.
	old := reg.pushImage(t, "re:v1", randomImage(t, 1))
	newer := reg.pushImage(t, "re:v1", randomImage(t, 1))
	reg.resetLog()
	if err := c.Delete(ctx, DeleteJob{Owned: Owned{Repo: named(t, reg.host+"/re"), Digest: digest.Digest(old.String()), Tags: []string{"v1"}}}); err != nil {
		t.Fatal(err)
	}
	if got := reg.digestOfTag(t, "re:v1"); got != newer.String() {
		t.Errorf("re:v1 = %q, want the newer %s", got, newer)
	}
	if d := manifestDeletes(reg.requests()); len(d) != 0 {
		t.Errorf("DELETEs sent for a tag this resource no longer owns: %v", d)
	}
	// Everything gone already: nothing to do, no error.
	if err := c.Delete(ctx, DeleteJob{Owned: Owned{Repo: named(t, reg.host+"/gone"), Digest: digest.Digest(a.String()), Tags: []string{"v1"}}}); err != nil {
		t.Errorf("delete in a missing repository: %v", err)
	}
}

// Arch tags are owned while they point at the owned index's child for their architecture;
// the child goes after its index, and only with it.
func TestDeleteRegistryArchTags(t *testing.T) {
	reg := newDistRegistry(t)
	c := reg.copier(t)
	ctx := context.Background()
	idx, kids := reg.multiArch(t, "multi:v1", []platformed{
		{img: randomImage(t, 1), platform: linux("amd64", "")},
		{img: randomImage(t, 1), platform: linux("arm64", "v8")},
	})
	reg.pushImage(t, "multi:v1-amd64", mustImage(t, reg, "multi@"+kids["linux/amd64"]))
	reg.pushImage(t, "multi:v1-arm64", mustImage(t, reg, "multi@"+kids["linux/arm64/v8"]))
	err := c.Delete(ctx, DeleteJob{Owned: Owned{Repo: named(t, reg.host+"/multi"), Digest: digest.Digest(idx.String()),
		Tags: []string{"v1"}, ArchTags: archTags("amd64", "v1-amd64", "arm64", "v1-arm64")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"v1", "v1-amd64", "v1-arm64"} {
		if got := reg.digestOfTag(t, "multi:"+tag); got != "" {
			t.Errorf("multi:%s still points at %s", tag, got)
		}
	}
	dels := manifestDeletes(reg.requests())
	if len(dels) != 3 || !strings.Contains(dels[0], idx.String()) {
		t.Errorf("DELETEs = %v, want the index first, then its two children", dels)
	}
}

// strictECR refuses what ECR refuses and moto accepts: more than 100 image ids in a batch.
// It also holds BatchDeleteImage to ECR's rule for an id that names a tag and a digest:
// only that tag is removed, and only while it points at that digest (else the failure
// ImageTagDoesNotMatchDigest, or ImageNotFound for a missing tag). moto removes the whole
// image, every tag on it, when the pair matches, and ignores nothing when it does not
// (ImageNotFound), so the pinned untag is checked here and sent on to moto by tag alone.
type strictECR struct {
	ECRAPI
	mu      sync.Mutex
	deleted int
	// beforeDelete, when set, runs once before the first BatchDeleteImage is looked at: a
	// change made between the handler's check and its delete.
	beforeDelete func()
}

func (s *strictECR) BatchGetImage(ctx context.Context, in *ecr.BatchGetImageInput, o ...func(*ecr.Options)) (*ecr.BatchGetImageOutput, error) {
	if len(in.ImageIds) > ecrBatchLimit {
		return nil, fmt.Errorf("ValidationException: %d imageIds, at most %d", len(in.ImageIds), ecrBatchLimit)
	}
	return s.ECRAPI.BatchGetImage(ctx, in, o...)
}

func (s *strictECR) BatchDeleteImage(ctx context.Context, in *ecr.BatchDeleteImageInput, o ...func(*ecr.Options)) (*ecr.BatchDeleteImageOutput, error) {
	if len(in.ImageIds) > ecrBatchLimit {
		return nil, fmt.Errorf("ValidationException: %d imageIds, at most %d", len(in.ImageIds), ecrBatchLimit)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.beforeDelete; f != nil {
		s.beforeDelete = nil
		f()
	}
	s.deleted += len(in.ImageIds)
	var send []ecrtypes.ImageIdentifier
	var failures []ecrtypes.ImageFailure
	for _, id := range in.ImageIds {
		if id.ImageTag == nil || id.ImageDigest == nil {
			send = append(send, id)
			continue
		}
		got, err := s.ECRAPI.BatchGetImage(ctx, &ecr.BatchGetImageInput{RegistryId: in.RegistryId, RepositoryName: in.RepositoryName,
			ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: id.ImageTag}}}, o...)
		if err != nil {
			return nil, err
		}
		switch {
		case len(got.Images) == 0:
			failures = append(failures, ecrtypes.ImageFailure{ImageId: &id, FailureCode: ecrtypes.ImageFailureCodeImageNotFound,
				FailureReason: aws.String("Requested image not found")})
		case aws.ToString(got.Images[0].ImageId.ImageDigest) != aws.ToString(id.ImageDigest):
			failures = append(failures, ecrtypes.ImageFailure{ImageId: &id, FailureCode: ecrtypes.ImageFailureCodeImageTagDoesNotMatchDigest,
				FailureReason: aws.String("Invalid request parameters: given tag does not map to the given digest")})
		default:
			send = append(send, ecrtypes.ImageIdentifier{ImageTag: id.ImageTag})
		}
	}
	out := &ecr.BatchDeleteImageOutput{}
	if len(send) > 0 {
		var err error
		if out, err = s.ECRAPI.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RegistryId: in.RegistryId,
			RepositoryName: in.RepositoryName, ImageIds: send}, o...); err != nil {
			return nil, err
		}
	}
	out.Failures = append(out.Failures, failures...)
	return out, nil
}

// ECR's registry API has no manifest DELETE: tags are removed through BatchDeleteImage, and
// only those still pointing at what the resource wrote. moto's ECR API stands in for ECR.
func TestDeleteECROnlyWhatIsStillOwned(t *testing.T) {
	testenv.NeedMoto(t)
	ctx := context.Background()
	client, err := awsenv.ECR(ctx, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	repo := "team/owned"
	if _, err := client.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil {
		t.Fatal(err)
	}
	mine, theirs := ecrManifest(1), ecrManifest(2)
	var many []string
	for i := range 150 {
		many = append(many, fmt.Sprintf("t%03d", i))
	}
	for _, tag := range append([]string{"v1", "keep"}, many...) {
		putECRImage(t, client, repo, mine, tag)
	}
	putECRImage(t, client, repo, theirs, "moved")

	strict := &strictECR{ECRAPI: client}
	job := DeleteJob{
		Owned: Owned{Repo: named(t, "123456789012.dkr.ecr.us-east-1.amazonaws.com/"+repo), Digest: digest.FromString(mine),
			Tags: append([]string{"v1", "moved", "never-pushed"}, many...)},
		ECR: func(context.Context, string) (ECRAPI, error) { return strict, nil },
		DestAuth: func(context.Context) (*auth.Credentials, error) {
			t.Error("an ECR delete asked for DestCreds")
			return nil, nil
		},
	}
	if err := New(Options{}).Delete(ctx, job); err != nil {
		t.Fatalf("delete: %v", err)
	}
	got := ecrTags(t, client, repo)
	if want := []string{"keep", "moved"}; !slices.Equal(got, want) {
		t.Errorf("tags after delete = %v, want %v", got, want)
	}
	if strict.deleted != 151 {
		t.Errorf("%d tags sent to BatchDeleteImage, want 151 (v1 and the 150 DestTags)", strict.deleted)
	}
	// Deleting again, or from a repository that no longer exists, counts as done.
	if err := New(Options{}).Delete(ctx, job); err != nil {
		t.Errorf("second delete: %v", err)
	}
	job.Owned.Repo = named(t, "123456789012.dkr.ecr.us-east-1.amazonaws.com/never/created")
	if err := New(Options{}).Delete(ctx, job); err != nil {
		t.Errorf("delete from a missing repository: %v", err)
	}
}

func ecrManifest(n int) string {
	return fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",`+
		`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":%d,"digest":"%s"},"layers":[]}`,
		n, digest.FromString(fmt.Sprint(n)))
}

func putECRImage(t *testing.T, client *ecr.Client, repo, m, tag string) {
	t.Helper()
	// moto computes a digest of its own unless it is given the real one, as ECR computes it.
	if _, err := client.PutImage(context.Background(), &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(m),
		ImageTag: aws.String(tag), ImageDigest: aws.String(digest.FromString(m).String())}); err != nil {
		t.Fatal(err)
	}
}

func ecrTags(t *testing.T, client *ecr.Client, repo string) []string {
	t.Helper()
	var got []string
	p := ecr.NewListImagesPaginator(client, &ecr.ListImagesInput{RepositoryName: aws.String(repo)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range out.ImageIds {
			if id.ImageTag != nil {
				got = append(got, *id.ImageTag)
			}
		}
	}
	slices.Sort(got)
	return got
}

// publicStandIn is the ECR Public API (awsJson1.1, target SpencerFrontendService) for one
// repository, as strict as the service where it matters here: more than 100 image ids are
// refused, and it knows nothing of manifest DELETE, which ECR Public's registry does not
// implement.
type publicStandIn struct {
	mu   sync.Mutex
	repo string
	tags map[string]digest.Digest
	// beforeDelete, when set, runs once before the first BatchDeleteImage is looked at.
	beforeDelete func()
}

func (s *publicStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var in struct {
		RepositoryName string              `json:"repositoryName"`
		ImageIds       []map[string]string `json:"imageIds"`
	}
	_ = json.Unmarshal(body, &in)
	s.mu.Lock()
	defer s.mu.Unlock()
	fail := func(code, msg string) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
	}
	if in.RepositoryName != s.repo {
		fail("RepositoryNotFoundException", "no repository "+in.RepositoryName)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	switch strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "SpencerFrontendService.") {
	case "DescribeImageTags":
		var details []map[string]any
		for tag, d := range s.tags {
			details = append(details, map[string]any{"imageTag": tag, "imageDetail": map[string]string{"imageDigest": d.String()}})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"imageTagDetails": details})
	case "BatchDeleteImage":
		if len(in.ImageIds) > 100 {
			fail("InvalidParameterException", "too many imageIds")
			return
		}
		if f := s.beforeDelete; f != nil {
			s.beforeDelete = nil
			f()
		}
		var done, failures []map[string]any
		for _, id := range in.ImageIds {
			have, ok := s.tags[id["imageTag"]]
			if !ok {
				failures = append(failures, map[string]any{"imageId": id, "failureCode": "ImageNotFound"})
				continue
			}
			// A tag sent with a digest is removed only while it points there, as ECR Public does.
			if want := id["imageDigest"]; want != "" && want != have.String() {
				failures = append(failures, map[string]any{"imageId": id, "failureCode": "ImageTagDoesNotMatchDigest",
					"failureReason": "Invalid request parameters: given tag does not map to the given digest"})
				continue
			}
			delete(s.tags, id["imageTag"])
			done = append(done, map[string]any{"imageTag": id["imageTag"]})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"imageIds": done, "failures": failures})
	default:
		fail("UnsupportedCommandException", r.Header.Get("X-Amz-Target"))
	}
}

// ECR Public removes tags through its API too: the handler never sends a manifest DELETE
// there (the destination host is not even reachable in this test).
func TestDeleteECRPublicThroughItsAPI(t *testing.T) {
	mine, theirs := digest.FromString("mine"), digest.FromString("theirs")
	stand := &publicStandIn{repo: "app", tags: map[string]digest.Digest{"v1": mine, "latest": mine, "moved": theirs, "other": mine}}
	srv := httptest.NewServer(stand)
	defer srv.Close()
	client := ecrpublic.New(ecrpublic.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.AnonymousCredentials{}})
	job := DeleteJob{
		Owned:     Owned{Repo: named(t, "public.ecr.aws/my-alias/app"), Digest: mine, Tags: []string{"v1", "latest", "moved"}},
		ECRPublic: func(context.Context) (ECRPublicAPI, error) { return client, nil },
	}
	if err := New(Options{}).Delete(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	var left []string
	for tag := range stand.tags {
		left = append(left, tag)
	}
	slices.Sort(left)
	if want := []string{"moved", "other"}; !slices.Equal(left, want) {
		t.Errorf("tags left = %v, want %v", left, want)
	}
}
