package azacr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func responseError(t *testing.T, err error) *azcore.ResponseError {
	t.Helper()
	var re *azcore.ResponseError
	require.ErrorAs(t, err, &re)
	return re
}

func TestClientRepositories(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	for _, r := range []string{"c", "a", "library/b"} {
		seedImage(t, srv, r, "v1")
	}
	c := newTestClient(t, srv, srv.Credential())
	ctx := t.Context()

	var names []string
	pages := 0
	pager := c.NewListRepositoriesPager(&ContainerRegistryClientListRepositoriesOptions{N: to.Ptr[int64](1)})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		require.NoError(t, err)
		pages++
		for _, n := range page.Repositories.Repositories {
			names = append(names, *n)
		}
	}
	assert.Equal(t, []string{"a", "c", "library/b"}, names)
	assert.Equal(t, 3, pages, "one repository per page, and no empty page at the end")

	props, err := c.GetRepositoryProperties(ctx, "library/b", nil)
	require.NoError(t, err)
	assert.Equal(t, "library/b", *props.Name)
	assert.Equal(t, srv.Host, *props.RegistryLoginServer)
	assert.EqualValues(t, 1, *props.ManifestCount)
	assert.EqualValues(t, 1, *props.TagCount)
	require.NotNil(t, props.CreatedOn)
	assert.WithinDuration(t, time.Now(), *props.CreatedOn, time.Minute)
	assert.True(t, *props.ChangeableAttributes.CanDelete)

	upd, err := c.UpdateRepositoryProperties(ctx, "library/b", &ContainerRegistryClientUpdateRepositoryPropertiesOptions{
		Value: &RepositoryWriteableProperties{CanWrite: to.Ptr(false)},
	})
	require.NoError(t, err)
	assert.False(t, *upd.ChangeableAttributes.CanWrite)
	assert.True(t, *upd.ChangeableAttributes.CanRead, "fields not sent keep their value")

	del, err := c.DeleteRepository(ctx, "a", nil)
	require.NoError(t, err)
	assert.Len(t, del.DeletedManifests, 1)
	assert.Equal(t, []*string{to.Ptr("v1")}, del.DeletedTags)

	_, err = c.GetRepositoryProperties(ctx, "a", nil)
	re := responseError(t, err)
	assert.Equal(t, http.StatusNotFound, re.StatusCode)
	assert.Equal(t, "NAME_UNKNOWN", re.ErrorCode)

	_, err = c.DeleteRepository(ctx, "a", nil)
	assert.NoError(t, err, "deleting what is gone succeeds")
}

func TestClientTags(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	d1 := seedImage(t, srv, "hello", "b-first")
	seedImage(t, srv, "hello", "a-second")
	_, err := srv.PutManifest("hello", "c-third", "application/vnd.oci.image.manifest.v1+json", mustManifest(t, srv, "hello", d1))
	require.NoError(t, err)
	c := newTestClient(t, srv, srv.Credential())
	ctx := t.Context()

	collect := func(opts *ContainerRegistryClientListTagsOptions) []string {
		var out []string
		pager := c.NewListTagsPager("hello", opts)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			require.NoError(t, err)
			for _, tag := range page.TagAttributeBases {
				out = append(out, *tag.Name)
			}
		}
		return out
	}
	assert.Equal(t, []string{"a-second", "b-first"}, collect(nil)[:2])
	assert.Equal(t, collect(nil), collect(&ContainerRegistryClientListTagsOptions{N: to.Ptr[int64](1)}))
	desc := collect(&ContainerRegistryClientListTagsOptions{OrderBy: to.Ptr(ArtifactTagOrderByLastUpdatedOnDescending)})
	asc := collect(&ContainerRegistryClientListTagsOptions{OrderBy: to.Ptr(ArtifactTagOrderByLastUpdatedOnAscending)})
	require.Len(t, desc, len(asc))
	for i := range desc {
		assert.Equal(t, desc[i], asc[len(asc)-1-i])
	}
	assert.Equal(t, []string{"b-first"}, collect(&ContainerRegistryClientListTagsOptions{Digest: &d1})[:1])

	tag, err := c.GetTagProperties(ctx, "hello", "b-first", nil)
	require.NoError(t, err)
	assert.Equal(t, d1, *tag.Tag.Digest)
	assert.Equal(t, "hello", *tag.RepositoryName)

	locked, err := c.UpdateTagProperties(ctx, "hello", "b-first", &ContainerRegistryClientUpdateTagPropertiesOptions{
		Value: &TagWriteableProperties{CanWrite: to.Ptr(false), CanDelete: to.Ptr(false)},
	})
	require.NoError(t, err)
	assert.False(t, *locked.Tag.ChangeableAttributes.CanDelete)
	_, err = c.DeleteTag(ctx, "hello", "b-first", nil)
	re := responseError(t, err)
	assert.Equal(t, http.StatusForbidden, re.StatusCode)
	assert.Equal(t, "DENIED", re.ErrorCode)

	_, err = c.UpdateTagProperties(ctx, "hello", "b-first", &ContainerRegistryClientUpdateTagPropertiesOptions{
		Value: &TagWriteableProperties{CanWrite: to.Ptr(true), CanDelete: to.Ptr(true)},
	})
	require.NoError(t, err)
	_, err = c.DeleteTag(ctx, "hello", "b-first", nil)
	require.NoError(t, err)
	_, err = c.GetTagProperties(ctx, "hello", "b-first", nil)
	assert.Equal(t, "TAG_UNKNOWN", responseError(t, err).ErrorCode)
	_, err = c.DeleteTag(ctx, "hello", "b-first", nil)
	assert.NoError(t, err, "deleting a missing tag succeeds")
}

// mustManifest returns the stored bytes of the manifest with digest d.
func mustManifest(t *testing.T, srv *acrtest.Server, repo, d string) []byte {
	t.Helper()
	body, _, ok := srv.Manifest(repo, d)
	require.True(t, ok)
	return body
}

func TestClientManifestProperties(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	d1 := seedImage(t, srv, "hello", "v1")
	d2 := seedImage(t, srv, "hello", "v2")
	c := newTestClient(t, srv, srv.Credential())
	ctx := t.Context()

	var digests []string
	pager := c.NewListManifestsPager("hello", &ContainerRegistryClientListManifestsOptions{
		OrderBy: to.Ptr(ArtifactManifestOrderByLastUpdatedOnDescending),
	})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		require.NoError(t, err)
		for _, m := range page.Manifests.Manifests {
			digests = append(digests, *m.Digest)
			assert.NotEmpty(t, m.Tags)
		}
	}
	assert.Equal(t, []string{d2, d1}, digests, "newest first")

	for _, ref := range []string{d1, "v1"} {
		props, err := c.GetManifestProperties(ctx, "hello", ref, nil)
		require.NoError(t, err, ref)
		m := props.Manifest
		assert.Equal(t, d1, *m.Digest)
		assert.Equal(t, ArtifactArchitectureAmd64, *m.Architecture)
		assert.Equal(t, ArtifactOperatingSystemLinux, *m.OperatingSystem)
		assert.Equal(t, string(ContentTypeApplicationVndOCIImageManifestV1JSON), *m.MediaType)
		assert.Equal(t, "application/vnd.oci.image.config.v1+json", *m.ConfigMediaType)
		assert.Equal(t, []*string{to.Ptr("v1")}, m.Tags)
		assert.Positive(t, *m.Size)
	}

	upd, err := c.UpdateManifestProperties(ctx, "hello", "v2", &ContainerRegistryClientUpdateManifestPropertiesOptions{
		Value: &ManifestWriteableProperties{CanDelete: to.Ptr(false)},
	})
	require.NoError(t, err)
	assert.False(t, *upd.Manifest.ChangeableAttributes.CanDelete)
	_, err = c.DeleteManifest(ctx, "hello", d2, nil)
	assert.Equal(t, "DENIED", responseError(t, err).ErrorCode)

	srv.ResetRequests()
	_, err = c.DeleteManifest(ctx, "hello", "v1", nil)
	require.NoError(t, err)
	var paths []string
	for _, r := range srv.Requests() {
		paths = append(paths, r.Method+" "+r.Path)
	}
	assert.Contains(t, paths, "HEAD /v2/hello/manifests/v1", "a tag is resolved first")
	assert.Contains(t, paths, "DELETE /v2/hello/manifests/"+d1, "then deleted by digest")
	_, err = c.GetManifestProperties(ctx, "hello", d1, nil)
	assert.Equal(t, "MANIFEST_UNKNOWN", responseError(t, err).ErrorCode)
	_, err = c.DeleteManifest(ctx, "hello", d1, nil)
	assert.NoError(t, err, "deleting a missing manifest succeeds")
	_, err = c.DeleteManifest(ctx, "hello", "v1", nil)
	assert.NoError(t, err, "deleting by a missing tag succeeds")
}

func TestClientGetAndUploadManifest(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	d := seedImage(t, srv, "hello", "v1")
	stored := mustManifest(t, srv, "hello", d)
	c := newTestClient(t, srv, srv.Credential())
	ctx := t.Context()

	for _, ref := range []string{"v1", d} {
		res, err := c.GetManifest(ctx, "hello", ref, nil)
		require.NoError(t, err, ref)
		assert.Equal(t, stored, res.ManifestData, "the exact stored bytes")
		assert.Equal(t, d, *res.DockerContentDigest)
		assert.Equal(t, string(ContentTypeApplicationVndOCIImageManifestV1JSON), *res.ContentType)
		m, err := res.DecodeImageManifest()
		require.NoError(t, err)
		assert.Equal(t, 2, m.SchemaVersion)
		assert.Len(t, m.Layers, 1)
	}
	accept := srv.Requests()[len(srv.Requests())-1].Header.Get("Accept")
	for _, ct := range PossibleContentTypeValues() {
		assert.Contains(t, accept, string(ct))
	}

	// Re-upload the same bytes under a new tag, and by digest.
	res, err := c.UploadManifest(ctx, "hello", "v2", ContentTypeApplicationVndOCIImageManifestV1JSON, streaming.NopCloser(bytes.NewReader(stored)), nil)
	require.NoError(t, err)
	assert.Equal(t, d, *res.DockerContentDigest)
	assert.Equal(t, "/v2/hello/manifests/"+d, *res.Location)
	_, err = c.UploadManifest(ctx, "hello", d, ContentTypeApplicationVndOCIImageManifestV1JSON, streaming.NopCloser(bytes.NewReader(stored)), nil)
	require.NoError(t, err)

	srv.ResetRequests()
	wrong := ComputeDigest([]byte("other"))
	_, err = c.UploadManifest(ctx, "hello", wrong, ContentTypeApplicationVndOCIImageManifestV1JSON, streaming.NopCloser(bytes.NewReader(stored)), nil)
	assert.ErrorIs(t, err, ErrDigestMismatch)
	big := bytes.Repeat([]byte(" "), MaxManifestSize+1)
	_, err = c.UploadManifest(ctx, "hello", "big", ContentTypeApplicationVndOCIImageManifestV1JSON, streaming.NopCloser(bytes.NewReader(big)), nil)
	assert.ErrorIs(t, err, ErrManifestTooLarge)
	assert.Empty(t, srv.Requests(), "both refused before any request")

	_, err = c.GetManifest(ctx, "hello", "missing", nil)
	assert.Equal(t, "MANIFEST_UNKNOWN", responseError(t, err).ErrorCode)
}

func TestClientIndexManifest(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	d := seedImage(t, srv, "multi", "amd64")
	child := mustManifest(t, srv, "multi", d)
	index := ImageIndex{
		SchemaVersion: 2,
		MediaType:     string(ContentTypeApplicationVndOCIImageIndexV1JSON),
		Manifests: []Descriptor{{
			MediaType: string(ContentTypeApplicationVndOCIImageManifestV1JSON), Digest: d, Size: int64(len(child)),
			Platform: &Platform{Architecture: "amd64", OS: "linux"},
		}},
	}
	body, err := json.Marshal(index)
	require.NoError(t, err)
	c := newTestClient(t, srv, srv.Credential())
	up, err := c.UploadManifest(t.Context(), "multi", "latest", ContentTypeApplicationVndOCIImageIndexV1JSON, streaming.NopCloser(bytes.NewReader(body)), nil)
	require.NoError(t, err)

	got, err := c.GetManifest(t.Context(), "multi", "latest", nil)
	require.NoError(t, err)
	decoded, err := got.DecodeImageIndex()
	require.NoError(t, err)
	assert.Equal(t, index, *decoded)

	props, err := c.GetManifestProperties(t.Context(), "multi", *up.DockerContentDigest, nil)
	require.NoError(t, err)
	require.Len(t, props.Manifest.RelatedArtifacts, 1)
	assert.Equal(t, d, *props.Manifest.RelatedArtifacts[0].Digest)
	assert.Nil(t, props.Manifest.Architecture, "an index has no architecture of its own")
}

func TestClientReferrers(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	subject := seedImage(t, srv, "app", "v1")
	subjectBody := mustManifest(t, srv, "app", subject)
	empty := []byte("{}")
	emptyDigest := srv.PutBlob("app", empty)
	sig := []byte("signature")
	sigDigest := srv.PutBlob("app", sig)
	artifact := ImageManifest{
		SchemaVersion: 2,
		MediaType:     string(ContentTypeApplicationVndOCIImageManifestV1JSON),
		ArtifactType:  "application/vnd.example.signature",
		Config:        Descriptor{MediaType: "application/vnd.oci.empty.v1+json", Digest: emptyDigest, Size: 2},
		Layers:        []Descriptor{{MediaType: "application/octet-stream", Digest: sigDigest, Size: int64(len(sig))}},
		Subject:       &Descriptor{MediaType: string(ContentTypeApplicationVndOCIImageManifestV1JSON), Digest: subject, Size: int64(len(subjectBody))},
	}
	body, err := json.Marshal(artifact)
	require.NoError(t, err)
	c := newTestClient(t, srv, srv.Credential())
	up, err := c.UploadManifest(t.Context(), "app", ComputeDigest(body), ContentTypeApplicationVndOCIImageManifestV1JSON, streaming.NopCloser(bytes.NewReader(body)), nil)
	require.NoError(t, err)

	list := func(artifactType *string) []Descriptor {
		var out []Descriptor
		pager := c.NewListReferrersPager("app", subject, &ContainerRegistryClientListReferrersOptions{ArtifactType: artifactType})
		for pager.More() {
			page, err := pager.NextPage(t.Context())
			require.NoError(t, err)
			out = append(out, page.Referrers...)
		}
		return out
	}
	all := list(nil)
	require.Len(t, all, 1)
	assert.Equal(t, *up.DockerContentDigest, all[0].Digest)
	assert.Equal(t, "application/vnd.example.signature", all[0].ArtifactType)
	assert.Len(t, list(to.Ptr("application/vnd.example.signature")), 1)
	assert.Empty(t, list(to.Ptr("application/vnd.example.sbom")))
}

func TestClientValidatesBeforeSending(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestClient(t, srv, srv.Credential())
	ctx := t.Context()
	srv.ResetRequests()

	_, err := c.GetRepositoryProperties(ctx, "Bad/Name", nil)
	assert.ErrorIs(t, err, ErrInvalidRepository)
	_, err = c.GetTagProperties(ctx, "ok", "-bad", nil)
	assert.ErrorIs(t, err, ErrInvalidTag)
	_, err = c.GetManifest(ctx, "ok", "sha256:abc", nil)
	assert.ErrorIs(t, err, ErrInvalidReference)
	_, err = c.DeleteManifest(ctx, "../x", "v1", nil)
	assert.ErrorIs(t, err, ErrInvalidRepository)
	_, err = c.NewListTagsPager("a?b", nil).NextPage(ctx)
	assert.ErrorIs(t, err, ErrInvalidRepository)
	_, err = c.NewListTagsPager("ok", &ContainerRegistryClientListTagsOptions{Digest: to.Ptr("sha256:XYZ")}).NextPage(ctx)
	assert.ErrorIs(t, err, ErrInvalidDigest)
	_, err = c.NewListReferrersPager("ok", "latest", nil).NextPage(ctx)
	assert.ErrorIs(t, err, ErrInvalidDigest)
	assert.Empty(t, srv.Requests())
	assert.Empty(t, srv.Credential().Scopes(), "not even a token was fetched")
}

func TestNewClientValidatesEndpoint(t *testing.T) {
	for _, ep := range []string{
		"", "myregistry.azurecr.io", "ftp://h", "https://", "https://h/path", "https://h?x=1", "https://h#f",
		"https://user:pw@h", "://bad",
	} {
		_, err := NewContainerRegistryClient(ep, nil, nil)
		assert.ErrorIs(t, err, ErrInvalidEndpoint, ep)
	}
	for _, ep := range []string{"https://myregistry.azurecr.io", "https://myregistry.azurecr.io/", "http://localhost:5000"} {
		_, err := NewContainerRegistryClient(ep, nil, nil)
		assert.NoError(t, err, ep)
	}
}

// fakeRegistry serves canned answers over TLS for tests of how the client
// treats what a registry sends. It never challenges, so an anonymous client
// needs no token.
func fakeRegistry(t *testing.T, h http.HandlerFunc) *ContainerRegistryClient {
	t.Helper()
	ts := httptest.NewTLSServer(h)
	t.Cleanup(ts.Close)
	c, err := NewContainerRegistryClient(ts.URL, nil, &ContainerRegistryClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: ts.Client(), Retry: testClientOptions(acrtest.NewUnstartedServer(nil)).Retry},
	})
	require.NoError(t, err)
	return c
}

func TestClientErrorCodesForEveryDetailShape(t *testing.T) {
	bodies := map[string]string{
		"UNAUTHORIZED":     `{"errors":[{"code":"UNAUTHORIZED","message":"m","detail":[{"Type":"repository","Name":"x","Action":"pull"}]}]}`,
		"MANIFEST_UNKNOWN": `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"m","detail":{"Tag":"x"}}]}`,
		"DIGEST_INVALID":   `{"errors":[{"code":"DIGEST_INVALID","message":"m","detail":"digest parsing failed"}]}`,
		"NULL_DETAIL":      `{"errors":[{"code":"NULL_DETAIL","message":"m","detail":null}]}`,
		"NAME_UNKNOWN":     `{"errors":[{"code":"NAME_UNKNOWN","message":"m"}]}`,
		"":                 "404 page not found\n",
	}
	for code, body := range bodies {
		c := fakeRegistry(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, body)
		})
		_, err := c.GetRepositoryProperties(t.Context(), "x", nil)
		re := responseError(t, err)
		assert.Equal(t, code, re.ErrorCode, body)
		assert.Equal(t, http.StatusNotFound, re.StatusCode)
	}
}

func TestPagerStopsOnLinkLoopAndForeignLink(t *testing.T) {
	c := fakeRegistry(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", `<`+r.URL.RequestURI()+`>; rel="next"`)
		fmt.Fprint(w, `{"repositories":["a"]}`)
	})
	pager := c.NewListRepositoriesPager(nil)
	pages := 0
	var err error
	for pager.More() && pages < 10 {
		_, err = pager.NextPage(t.Context())
		pages++
	}
	assert.ErrorIs(t, err, ErrInvalidLink)
	assert.Equal(t, 2, pages, "the second page is refused for pointing back at the first")

	for _, link := range []string{`<https://elsewhere.example/acr/v1/_catalog?last=a>; rel="next"`, `</acr/v1/_catalog?last=a; rel="next"`, `garbage`} {
		c := fakeRegistry(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", link)
			fmt.Fprint(w, `{"repositories":["a"]}`)
		})
		_, err := c.NewListRepositoriesPager(nil).NextPage(t.Context())
		assert.ErrorIs(t, err, ErrInvalidLink, link)
	}
}

func TestGetManifestRejectsLyingRegistry(t *testing.T) {
	good := []byte(`{"schemaVersion":2}`)
	d := ComputeDigest(good)
	cases := map[string]http.HandlerFunc{
		"bytes differ from requested digest": func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"schemaVersion":3}`)
		},
		"header differs from content": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Docker-Content-Digest", ComputeDigest([]byte("x")))
			w.Write(good)
		},
	}
	for name, h := range cases {
		c := fakeRegistry(t, h)
		_, err := c.GetManifest(t.Context(), "x", d, nil)
		assert.ErrorIs(t, err, ErrDigestMismatch, name)
	}
	c := fakeRegistry(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Docker-Content-Digest", ComputeDigest([]byte("x")))
		w.Write(good)
	})
	_, err := c.GetManifest(t.Context(), "x", "latest", nil)
	assert.ErrorIs(t, err, ErrDigestMismatch, "by tag, the header is the expectation")

	c = fakeRegistry(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte(" "), MaxManifestSize+10))
	})
	_, err = c.GetManifest(t.Context(), "x", "latest", nil)
	assert.ErrorIs(t, err, ErrManifestTooLarge)
}

func TestParseLinks(t *testing.T) {
	ep, _ := url.Parse("https://r.example")
	for header, want := range map[string]string{
		`</acr/v1/_catalog?last=hello-world&n=1&orderby=>; rel="next"`:       "https://r.example/acr/v1/_catalog?last=hello-world&n=1&orderby=",
		`</acr/v1/h/_manifests?last=sha256%3A0778&n=1&orderby=>; rel="next"`: "https://r.example/acr/v1/h/_manifests?last=sha256%3A0778&n=1&orderby=",
		`<https://r.example/v2/_catalog?n=1&last=a>; rel=next`:               "https://r.example/v2/_catalog?n=1&last=a",
		`</a>; rel="prev", </b?x=1,2>; rel="next"`:                           "https://r.example/b?x=1,2",
		`</a>; title="x;y"; rel="prev next"`:                                 "https://r.example/a",
		`</a>; rel="prev"`:                                                   "",
		``:                                                                   "",
	} {
		got, err := nextLink(ep, []string{header})
		require.NoError(t, err, header)
		assert.Equal(t, want, got, header)
	}
	for _, bad := range []string{`/a; rel="next"`, `</a; rel="next"`, `</a> rel="next"`, `</a>; rel="next`, `<https://evil.example/a>; rel="next"`, `<http://r.example/a>; rel="next"`} {
		_, err := nextLink(ep, []string{bad})
		assert.ErrorIs(t, err, ErrInvalidLink, bad)
	}
}

func TestParseChallenges(t *testing.T) {
	acr := `Bearer realm="https://r.azurecr.io/oauth2/token",service="r.azurecr.io",scope="repository:hello-world:pull,push repository:b:pull",error="insufficient_scope"`
	p, ok := bearerChallenge([]string{acr})
	require.True(t, ok)
	assert.Equal(t, bearerParams{realm: "https://r.azurecr.io/oauth2/token", service: "r.azurecr.io", scope: "repository:hello-world:pull,push repository:b:pull", err: "insufficient_scope"}, p)

	p, ok = bearerChallenge([]string{`Basic realm="x"`, `bearer  Realm = "a\"b" , Service=svc`})
	require.True(t, ok)
	assert.Equal(t, `a"b`, p.realm)
	assert.Equal(t, "svc", p.service)

	p, ok = bearerChallenge([]string{`Basic realm="x", Bearer realm="y",scope="s"`})
	require.True(t, ok)
	assert.Equal(t, "s", p.scope)

	for _, bad := range []string{``, `Bearer realm="unterminated`, `Bearer realm=`, `Bearer "x"`, `Bearer realm="a" junk`, `=`, `Bearer realm="a\`} {
		_, ok := bearerChallenge([]string{bad})
		assert.False(t, ok, bad)
	}
	_, ok = bearerChallenge([]string{`Basic realm="x"`})
	assert.False(t, ok)
	assert.True(t, strings.HasPrefix(errChallengeSyntax.Error(), "azacr:"))
}

// TestSeedDeleteImagesStory runs the seed README's "delete images" loop,
// as written there but for the client, against the emulator: every
// repository keeps its three newest images.
func TestSeedDeleteImagesStory(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	var newest []string
	for i := range 5 {
		d := seedImage(t, srv, "library/hello-world", fmt.Sprintf("v%d", i))
		if i >= 2 {
			newest = append(newest, d)
		}
	}
	seedImage(t, srv, "other", "only")
	client := newTestClient(t, srv, srv.Credential())
	ctx := t.Context()

	repositoryPager := client.NewListRepositoriesPager(nil)
	for repositoryPager.More() {
		repositoryPage, err := repositoryPager.NextPage(ctx)
		require.NoError(t, err)
		for _, r := range repositoryPage.Repositories.Repositories {
			manifestPager := client.NewListManifestsPager(*r, &ContainerRegistryClientListManifestsOptions{
				OrderBy: to.Ptr(ArtifactManifestOrderByLastUpdatedOnDescending),
			})
			for manifestPager.More() {
				manifestPage, err := manifestPager.NextPage(ctx)
				require.NoError(t, err)
				imagesToKeep := 3
				for i, m := range manifestPage.Manifests.Manifests {
					if i >= imagesToKeep {
						for _, t2 := range m.Tags {
							_, err := client.DeleteTag(ctx, *r, *t2, nil)
							require.NoError(t, err)
						}
						_, err := client.DeleteManifest(ctx, *r, *m.Digest, nil)
						require.NoError(t, err)
					}
				}
			}
		}
	}
	var left []string
	pager := client.NewListManifestsPager("library/hello-world", nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		require.NoError(t, err)
		for _, m := range page.Manifests.Manifests {
			left = append(left, *m.Digest)
		}
	}
	assert.ElementsMatch(t, newest, left)
	_, err := client.GetManifestProperties(ctx, "other", "only", nil)
	assert.NoError(t, err, "a repository with fewer images keeps them all")
}

// TestDeleteManifestByTagOnAnyRegistry: a registry without ACR's metadata
// API (a routing 404 there) still gets the manifest a tag names deleted.
// Regression: the tag lookup used /acr/v1, and any 404 read as "gone".
func TestDeleteManifestByTagOnAnyRegistry(t *testing.T) {
	d := ComputeDigest([]byte("m"))
	var deleted []string
	c := fakeRegistry(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/acr/v1/"):
			http.NotFound(w, r)
		case r.Method == http.MethodHead && r.URL.Path == "/v2/r/manifests/v1":
			w.Header().Set("Docker-Content-Digest", d)
		case r.Method == http.MethodHead:
			w.WriteHeader(http.StatusNotFound)
		case r.Method == http.MethodDelete:
			deleted = append(deleted, r.URL.Path)
			w.WriteHeader(http.StatusAccepted)
		}
	})
	_, err := c.DeleteManifest(t.Context(), "r", "v1", nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"/v2/r/manifests/" + d}, deleted)
	_, err = c.DeleteManifest(t.Context(), "r", "gone", nil)
	require.NoError(t, err, "a missing tag leaves nothing to delete")
	assert.Len(t, deleted, 1)
}
