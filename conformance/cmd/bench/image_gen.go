package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The -image mode's image: two platforms of six layers each, a config per
// platform, and an OCI image index over both. At the default size the
// layers run from 1 to 64 MiB and add up to 250 MiB; -image-size scales
// every layer by the same factor. Layers are random bytes (nothing on the
// path can compress them) drawn from a fixed seed per layer, so every run
// and every machine builds the same image.

// imageDefaultMiB is the default -image-size: the layers' total.
const imageDefaultMiB = 250

// imagePlatforms and imageLayerMiB describe the default image: the
// layer sizes of each platform, in MiB, biggest first.
var (
	imagePlatforms = []ocispec.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}
	imageLayerMiB  = [][]int64{{64, 32, 16, 8, 4, 1}, {48, 40, 20, 10, 5, 2}}
)

// imageMinLayer keeps the layers of a tiny -image-size apart in size.
const imageMinLayer = 4 << 10

// imageTag is the tag the image is pushed, pulled and copied by.
const imageTag = "v1"

// imageInfo is what the parent knows of the generated image, to check what
// the clients did with it.
type imageInfo struct {
	Root      ocispec.Descriptor   // the index
	Manifests []ocispec.Descriptor // one image manifest per platform
	Blobs     []ocispec.Descriptor // configs and layers
	Bytes     int64                // the sum of every size above
}

// all is every descriptor of the image: index, manifests, blobs.
func (i imageInfo) all() []ocispec.Descriptor {
	out := append([]ocispec.Descriptor{i.Root}, i.Manifests...)
	return append(out, i.Blobs...)
}

// imageLayerSize is layer j of platform p at an image of totalMiB.
func imageLayerSize(totalMiB, p, j int) int64 {
	return max(imageMinLayer, imageLayerMiB[p][j]*mib*int64(totalMiB)/imageDefaultMiB)
}

// genImage writes the image as an OCI image layout in dir, tagged tag in
// index.json, and describes it.
func genImage(dir string, totalMiB int, tag string) (imageInfo, error) {
	var info imageInfo
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return info, err
	}
	index := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex}
	for p, platform := range imagePlatforms {
		manifest := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest}
		config := ocispec.Image{Platform: platform, RootFS: ocispec.RootFS{Type: "layers"}}
		for j := range imageLayerMiB[p] {
			seed := [32]byte{'a', 'z', 'a', 'c', 'r', '-', 'i', 'm', 'a', 'g', 'e', byte(p), byte(j)}
			layer, err := writeRandomBlob(dir, imageLayerSize(totalMiB, p, j), seed)
			if err != nil {
				return info, err
			}
			layer.MediaType = ocispec.MediaTypeImageLayer
			manifest.Layers = append(manifest.Layers, layer)
			// Uncompressed layers: the diff ID is the digest.
			config.RootFS.DiffIDs = append(config.RootFS.DiffIDs, layer.Digest)
		}
		cfg, err := writeJSONBlob(dir, config, ocispec.MediaTypeImageConfig)
		if err != nil {
			return info, err
		}
		manifest.Config = cfg
		md, err := writeJSONBlob(dir, manifest, ocispec.MediaTypeImageManifest)
		if err != nil {
			return info, err
		}
		md.Platform = &platform
		index.Manifests = append(index.Manifests, md)
		info.Manifests = append(info.Manifests, md)
		info.Blobs = append(info.Blobs, cfg)
		info.Blobs = append(info.Blobs, manifest.Layers...)
	}
	root, err := writeJSONBlob(dir, index, ocispec.MediaTypeImageIndex)
	if err != nil {
		return info, err
	}
	info.Root = root
	for _, d := range info.all() {
		info.Bytes += d.Size
	}
	tagged := root
	tagged.Annotations = map[string]string{ocispec.AnnotationRefName: tag}
	top := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{tagged}}
	if err := writeJSONFile(filepath.Join(dir, ocispec.ImageIndexFile), top); err != nil {
		return info, err
	}
	return info, writeJSONFile(filepath.Join(dir, ocispec.ImageLayoutFile), ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
}

func blobPath(dir string, d digest.Digest) string {
	return filepath.Join(dir, "blobs", d.Algorithm().String(), d.Encoded())
}

// writeRandomBlob writes size bytes from a ChaCha8 stream seeded with
// seed into the layout's blobs, hashing as it writes.
func writeRandomBlob(dir string, size int64, seed [32]byte) (ocispec.Descriptor, error) {
	f, err := os.CreateTemp(filepath.Join(dir, "blobs"), "gen-")
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	rng := rand.NewChaCha8(seed)
	h := sha256.New()
	buf := make([]byte, mib)
	for left := size; left > 0; {
		n := min(left, int64(len(buf)))
		_, _ = rng.Read(buf[:n])
		h.Write(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			return ocispec.Descriptor{}, err
		}
		left -= n
	}
	if err := f.Close(); err != nil {
		return ocispec.Descriptor{}, err
	}
	d := digest.Digest("sha256:" + hex.EncodeToString(h.Sum(nil)))
	if err := os.Rename(f.Name(), blobPath(dir, d)); err != nil {
		return ocispec.Descriptor{}, err
	}
	return ocispec.Descriptor{Digest: d, Size: size}, nil
}

func writeJSONBlob(dir string, v any, mediaType string) (ocispec.Descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	d := digest.FromBytes(b)
	if err := os.WriteFile(blobPath(dir, d), b, 0o644); err != nil {
		return ocispec.Descriptor{}, err
	}
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(b))}, nil
}

func writeJSONFile(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// checkLayout checks a pulled OCI layout: its blobs are exactly the
// image's, each one's content matches its name, and index.json points at
// the image's index. It returns how many blobs there are.
func checkLayout(dir string, info imageInfo) (int, error) {
	if _, err := os.Stat(filepath.Join(dir, ocispec.ImageLayoutFile)); err != nil {
		return 0, fmt.Errorf("layout: %w", err)
	}
	var top ocispec.Index
	b, err := os.ReadFile(filepath.Join(dir, ocispec.ImageIndexFile))
	if err == nil {
		err = json.Unmarshal(b, &top)
	}
	if err != nil {
		return 0, fmt.Errorf("layout index.json: %w", err)
	}
	found := false
	for _, d := range top.Manifests {
		found = found || d.Digest == info.Root.Digest
	}
	if !found {
		return 0, fmt.Errorf("layout index.json does not list the image's index %s: %s", info.Root.Digest, b)
	}
	want := map[string]int64{}
	for _, d := range info.all() {
		want[d.Digest.Encoded()] = d.Size
	}
	entries, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		size, ok := want[e.Name()]
		if !ok {
			return 0, fmt.Errorf("layout: unexpected blob %s", e.Name())
		}
		d := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		f, err := os.Open(blobPath(dir, d))
		if err != nil {
			return 0, err
		}
		v := d.Verifier()
		n, err := io.Copy(v, f)
		f.Close()
		if err != nil {
			return 0, err
		}
		if n != size || !v.Verified() {
			return 0, fmt.Errorf("layout: blob %s has %d bytes that do not match their name", e.Name(), n)
		}
	}
	if len(entries) != len(want) {
		return 0, fmt.Errorf("layout: %d blobs, want %d", len(entries), len(want))
	}
	return len(entries), nil
}
