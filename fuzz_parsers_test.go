package azacr

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// Fuzz targets for every parser of what a registry sends: none may panic,
// and each result must keep the invariant the client relies on.

func FuzzParseChallenges(f *testing.F) {
	for _, s := range []string{
		`Bearer realm="https://r.azurecr.io/oauth2/token",service="r.azurecr.io",scope="repository:a:pull,push repository:b:pull",error="insufficient_scope"`,
		`Basic realm="x", Bearer realm="y",scope="s"`,
		`Bearer realm="a\"b" , Service=svc`,
		`Bearer realm="unterminated`, `=`, ``, `Bearer realm="a\`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		chs, err := parseChallenges(h)
		if err == nil && len(chs) == 0 {
			t.Fatal("no error and no challenge")
		}
		for _, c := range chs {
			for k := range c.params {
				if k != strings.ToLower(k) {
					t.Fatalf("parameter key %q not lowercased", k)
				}
			}
		}
		_, _ = bearerChallenge([]string{h})
		_ = basicChallenge([]string{h})
	})
}

func FuzzNextLink(f *testing.F) {
	for _, s := range []string{
		`</acr/v1/_catalog?last=hello-world&n=1&orderby=>; rel="next"`,
		`</a>; rel="prev", </b?x=1,2>; rel="next"`,
		`<https://evil.example/a>; rel="next"`, `</a; rel="next"`, `<//evil.example/x>; rel=next`,
	} {
		f.Add(s)
	}
	ep, _ := url.Parse("https://r.example")
	f.Fuzz(func(t *testing.T, h string) {
		next, err := nextLink(ep, []string{h})
		if err != nil || next == "" {
			return
		}
		u, perr := url.Parse(next)
		if perr != nil || !sameOrigin(u, ep) {
			t.Fatalf("followed %q off the registry", next)
		}
	})
}

func FuzzJWTExpiry(f *testing.F) {
	// exp 1700000000 twice (padded and not), and exp 0.5, which CI's fuzzing
	// once found accepted as the epoch.
	for _, s := range []string{"h.eyJleHAiOjE3MDAwMDAwMDB9.s", "h.eyJleHAiOjE3MDAwMDAwMDB9==.s", "h.eyJleHAiOjAuNX0.s", "a.b", "a.e30.c", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		exp, err := jwtExpiry(tok)
		if err == nil && exp.Unix() <= 0 {
			t.Fatalf("accepted a non-positive exp from %q", tok)
		}
	})
}

func FuzzACRErrorCode(f *testing.F) {
	for _, s := range []string{
		`{"errors":[{"code":"UNAUTHORIZED","message":"m","detail":[{"Type":"repository"}]}]}`,
		`{"errors":[{"code":"MANIFEST_UNKNOWN","detail":{"Tag":"x"}}]}`,
		`{"errors":[{"code":"DIGEST_INVALID","detail":"digest parsing failed"}]}`,
		`{"errors":[]}`, "404 page not found\n", `{"errors":null}`, `[`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_ = acrErrorCode(body)
	})
}

func FuzzCheckContentRange(f *testing.F) {
	f.Add("bytes 512-767/1024", int64(512), int64(767))
	f.Add("bytes 0-9/5", int64(0), int64(-1))
	f.Add("bytes -1-2/3", int64(0), int64(2))
	f.Fuzz(func(t *testing.T, h string, start, end int64) {
		last, size, err := checkContentRange(h, start, end)
		if err != nil {
			return
		}
		if last < start || size <= last || (end >= 0 && last > end) {
			t.Fatalf("accepted %q for %d-%d as ending at %d of %d", h, start, end, last, size)
		}
	})
}

func FuzzParseUploadRange(f *testing.F) {
	for _, s := range []string{"0-0", "0-1238", "bytes=0-27", "1-2", "0--1", "0-99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		end, err := parseUploadRange(s)
		if err == nil && end < 0 {
			t.Fatalf("negative end from %q", s)
		}
	})
}

func FuzzNormalizeScope(f *testing.F) {
	for _, s := range []string{"repository:a:push,pull", "repository:b:pull repository:a:push,pull", "registry:catalog:*", "::", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		once := normalizeScope(s)
		if twice := normalizeScope(string(once)); twice != once {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, once, twice)
		}
	})
}

func FuzzDecodeManifest(f *testing.F) {
	for _, s := range []string{
		`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a","digest":"sha256:x","size":1},"layers":[]}`,
		`{"schemaVersion":2,"manifests":[{"mediaType":"a","digest":"d","size":1,"platform":{"architecture":"amd64","os":"linux"}}]}`,
		`{`, `null`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := ContainerRegistryClientGetManifestResponse{ManifestData: data}
		if m, err := r.DecodeImageManifest(); err == nil {
			if _, err := json.Marshal(m); err != nil {
				t.Fatalf("decoded manifest does not encode: %v", err)
			}
		}
		if m, err := r.DecodeImageIndex(); err == nil {
			if _, err := json.Marshal(m); err != nil {
				t.Fatalf("decoded index does not encode: %v", err)
			}
		}
	})
}

// FuzzParseManifest: whatever a registry or a layout holds, parseManifest
// returns only descriptors a transfer can follow (valid digests, sizes in
// range) or an error; platforms and subset indexes never panic.
func FuzzParseManifest(f *testing.F) {
	d := "sha256:" + strings.Repeat("a", 64)
	for _, s := range []string{
		`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a","digest":"` + d + `","size":1},"layers":[{"digest":"` + d + `","size":-1}]}`,
		`{"schemaVersion":2,"manifests":[{"mediaType":"a","digest":"` + d + `","size":1,"platform":{"architecture":"amd64","os":"linux"}}]}`,
		`{"blobs":[{"digest":"` + d + `","size":3,"urls":["x"],"mediaType":"foreign"}]}`,
		`{`, `null`, `[]`, `{"config":null,"manifests":null}`,
	} {
		f.Add("", []byte(s))
		f.Add(string(ContentTypeApplicationVndOCIImageIndexV1JSON), []byte(s))
	}
	f.Fuzz(func(t *testing.T, mediaType string, data []byte) {
		r, err := parseManifest(mediaType, data)
		if err != nil {
			return
		}
		for _, b := range append(r.blobs, r.manifests...) {
			if !isDigest(b.Digest) || b.Size < 0 || b.Size > maxBlobSize {
				t.Fatalf("parseManifest let through %+v", b)
			}
		}
		filters, _ := parsePlatforms([]string{"linux/amd64", "linux/arm64/v8"})
		if chosen, err := choosePlatforms(r.manifests, filters); err == nil {
			if _, err := subsetIndex(data, chosen); err != nil && json.Valid(data) {
				t.Fatalf("subsetIndex of a valid document: %v", err)
			}
		}
	})
}
