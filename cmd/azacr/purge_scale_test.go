package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
	"github.com/stretchr/testify/require"
)

// go test -run TestPurgeScale -purge-scale purges 1,000 repositories of 50
// tagged manifests each; without the flag the test purges a small
// registry of the same shape. It reports time and requests, and asserts
// counts, never a time.
var purgeScale = flag.Bool("purge-scale", false, "TestPurgeScale: 1,000 repositories × 50 manifests instead of 20 × 10")

func TestPurgeScale(t *testing.T) {
	repos, per, keep, concurrency := 20, 10, 2, 4
	if *purgeScale {
		repos, per, keep = 1000, 50, 5
	}
	r := newTestRegistry(t)
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	seedStart := time.Now()
	for i := range repos {
		repo := fmt.Sprintf("scale/repo%04d", i)
		cd := r.PutBlob(repo, config)
		for j := range per {
			m := azacr.ImageManifest{SchemaVersion: 2, MediaType: string(azacr.ContentTypeApplicationVndOCIImageManifestV1JSON),
				Config:      azacr.Descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: cd, Size: int64(len(config))},
				Layers:      []azacr.Descriptor{},
				Annotations: map[string]string{"n": fmt.Sprint(j)}}
			body, err := json.Marshal(m)
			require.NoError(t, err)
			_, err = r.PutManifest(repo, fmt.Sprintf("v%d", j), m.MediaType, body)
			require.NoError(t, err)
		}
	}
	t.Logf("seeded %d repositories × %d manifests in %v", repos, per, time.Since(seedStart).Round(time.Millisecond))
	r.ResetRequests()

	start := time.Now()
	res := r.azacr(t, "", "purge", r.ref(""), "--filter", "scale/.*:v.*", "--keep", fmt.Sprint(keep), "--untagged",
		"--concurrency", fmt.Sprint(concurrency), "-o", "json")
	elapsed := time.Since(start)
	require.Equal(t, 0, res.code, res.stderr)
	var s purgeSummary
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &s))
	wantManifests := repos * (per - keep)
	require.Equal(t, wantManifests, s.DeletedManifests)
	require.Equal(t, wantManifests, s.DeletedTags)
	require.Equal(t, 0, s.Failed)
	total := len(r.Requests())
	t.Logf("purged %d manifests and %d tags of %d repositories in %v at --concurrency %d: %d requests (%d DELETE), %.2f requests per deleted manifest",
		s.DeletedManifests, s.DeletedTags, repos, elapsed.Round(time.Millisecond), concurrency, total, r.CountRequests("DELETE", ""),
		float64(total)/float64(s.DeletedManifests))
}
