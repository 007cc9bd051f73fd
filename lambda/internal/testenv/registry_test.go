package testenv

import (
	"context"
	"net/http"
	"testing"
)

func TestRegistryStartsAndCountsRequests(t *testing.T) {
	reg := StartRegistry(t)
	client := &http.Client{Transport: reg.Transport()}
	resp, err := client.Get("https://" + reg.Host + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v2/: %s", resp.Status)
	}
	if ok, err := reg.BlobExists(context.Background(), "some/repo", "sha256:"+
		"0000000000000000000000000000000000000000000000000000000000000000"); err != nil || ok {
		t.Fatalf("a missing blob: %v, %v", ok, err)
	}
	reqs := reg.Requests()
	if len(reqs) != 2 || reqs[0].Method != http.MethodGet || reqs[0].Status != 200 || reqs[1].Status != 404 {
		t.Fatalf("requests: %v", reqs)
	}
}
