package azacr

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// endlessJSON writes an endless JSON array, as a registry gone wrong might.
func endlessJSON(w http.ResponseWriter, r *http.Request, max int64) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"repositories":[`)
	item := []byte(`"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",`)
	for sent := int64(0); sent < max; sent += int64(len(item)) {
		if _, err := w.Write(item); err != nil {
			return
		}
	}
}

// TestOversizedResponsesAreRefusedBeforeBuffering: a metadata page, an
// error body and a token answer far larger than any real one do not fill
// memory: success bodies fail with ErrResponseTooLarge, error bodies are
// cut and still become a ResponseError.
func TestOversizedResponsesAreRefusedBeforeBuffering(t *testing.T) {
	t.Run("page announced", func(t *testing.T) {
		c := fakeRegistry(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(int64(1)<<40))
			w.WriteHeader(http.StatusOK)
		})
		_, err := c.NewListRepositoriesPager(nil).NextPage(t.Context())
		require.ErrorIs(t, err, ErrResponseTooLarge)
	})
	t.Run("page streamed", func(t *testing.T) {
		var sent atomic.Int32
		c := fakeRegistry(t, func(w http.ResponseWriter, r *http.Request) {
			sent.Add(1)
			endlessJSON(w, r, 200<<20)
		})
		_, err := c.NewListRepositoriesPager(nil).NextPage(t.Context())
		require.ErrorIs(t, err, ErrResponseTooLarge)
		assert.EqualValues(t, 1, sent.Load(), "not retried: the answer would be the same")
	})
	t.Run("page at the limit", func(t *testing.T) {
		body := `{"repositories":["a"]}`
		c := fakeRegistry(t, func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, body+strings.Repeat(" ", metadataBodyLimit-len(body)))
		})
		page, err := c.NewListRepositoriesPager(nil).NextPage(t.Context())
		require.NoError(t, err)
		require.Len(t, page.Repositories.Repositories, 1)
		assert.Equal(t, "a", *page.Repositories.Repositories[0])
	})
	t.Run("error body", func(t *testing.T) {
		c := fakeRegistry(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"errors":[{"code":"BOOM","message":"`)
			chunk := bytes.Repeat([]byte("x"), 1<<20)
			for range 200 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		})
		_, err := c.GetRepositoryProperties(t.Context(), "a", nil)
		var re *azcore.ResponseError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, http.StatusInternalServerError, re.StatusCode)
		assert.Less(t, len(err.Error()), 2*errorBodyLimit, "the error carries a cut body")
	})
	t.Run("token answer", func(t *testing.T) {
		c := fakeRegistry(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/oauth2/token" {
				io.WriteString(w, `{"access_token":"`+strings.Repeat("t", 1<<20)+`"}`)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="r",service="s",scope="repository:a:metadata_read"`)
			w.WriteHeader(http.StatusUnauthorized)
		})
		_, err := c.GetRepositoryProperties(t.Context(), "a", nil)
		require.ErrorIs(t, err, ErrResponseTooLarge)
	})
	t.Run("manifest keeps its own cap", func(t *testing.T) {
		c := fakeRegistry(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", string(ContentTypeApplicationVndOCIImageManifestV1JSON))
			w.Write(bytes.Repeat([]byte(" "), MaxManifestSize+10))
		})
		_, err := c.GetManifest(t.Context(), "a", "v1", nil)
		require.ErrorIs(t, err, ErrManifestTooLarge)
	})
}

func TestPageSizeBelowOneIsRefusedBeforeSending(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestClient(t, srv, srv.Credential())
	for _, n := range []int64{0, -1, math.MinInt64} {
		_, err := c.NewListRepositoriesPager(&ContainerRegistryClientListRepositoriesOptions{N: &n}).NextPage(t.Context())
		assert.ErrorIs(t, err, ErrInvalidOption, n)
		_, err = c.NewListTagsPager("a", &ContainerRegistryClientListTagsOptions{N: &n}).NextPage(t.Context())
		assert.ErrorIs(t, err, ErrInvalidOption, n)
		_, err = c.NewListManifestsPager("a", &ContainerRegistryClientListManifestsOptions{N: &n}).NextPage(t.Context())
		assert.ErrorIs(t, err, ErrInvalidOption, n)
	}
	assert.Empty(t, srv.Requests())
}
