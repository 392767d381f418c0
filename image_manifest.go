package azacr

// What a manifest refers to, and which platform an image is for: the
// parsing a whole-image transfer needs before it can move anything.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// manifestRefs is what one manifest refers to.
type manifestRefs struct {
	kind         manifestKind
	mediaType    string       // the document's own mediaType, when it has one
	artifactType string       // the document's artifactType, else its config's media type
	config       *Descriptor  // an image's config
	blobs        []Descriptor // an image's config and layers, an artifact's blobs
	manifests    []Descriptor // an index's entries
	subject      *Descriptor  // the manifest this one refers to
}

// manifestDoc is every field of any manifest kind that names content.
type manifestDoc struct {
	MediaType    string       `json:"mediaType"`
	ArtifactType string       `json:"artifactType"`
	Config       *Descriptor  `json:"config"`
	Layers       []Descriptor `json:"layers"`
	Blobs        []Descriptor `json:"blobs"`
	Manifests    []Descriptor `json:"manifests"`
	Subject      *Descriptor  `json:"subject"`
}

// parseManifest reads what the manifest data (served or described as
// mediaType) refers to, checking every descriptor: a transfer follows
// them, so a malformed digest or a negative size is refused here, and so
// is a document whose fields are not those of the kind its media types
// say (an image manifest served as an index would otherwise be taken for
// an empty one, and its config and layers never fetched).
func parseManifest(mediaType string, data []byte) (manifestRefs, error) {
	var doc manifestDoc
	if err := decodeJSON(data, &doc); err != nil {
		return manifestRefs{}, fmt.Errorf("azacr: manifest does not parse: %w", err)
	}
	kind, err := manifestDocKind(mediaType, doc)
	if err != nil {
		return manifestRefs{}, err
	}
	r := manifestRefs{kind: kind, mediaType: doc.MediaType, artifactType: doc.ArtifactType, config: doc.Config, subject: doc.Subject}
	switch kind {
	case kindImageManifest:
		// The config is never left out, whatever its media type says.
		r.blobs = append([]Descriptor{*doc.Config}, slices.DeleteFunc(doc.Layers, isForeignLayer)...)
		if r.artifactType == "" {
			r.artifactType = doc.Config.MediaType
		}
	case kindImageIndex:
		r.manifests = doc.Manifests
	default:
		r.blobs = slices.DeleteFunc(doc.Blobs, isForeignLayer)
	}
	for _, d := range slices.Concat(r.blobs, r.manifests) {
		if err := checkDescriptor(d); err != nil {
			return r, err
		}
	}
	if r.subject != nil {
		if err := checkDescriptor(*r.subject); err != nil {
			return r, err
		}
	}
	if len(r.manifests) > maxImageManifests {
		return r, fmt.Errorf("azacr: the index lists %d manifests, more than %d", len(r.manifests), maxImageManifests)
	}
	for _, d := range r.manifests {
		if d.Size > MaxManifestSize {
			return r, fmt.Errorf("%w: the index lists %s with %d bytes", ErrManifestTooLarge, d.Digest, d.Size)
		}
	}
	return r, nil
}

// manifestDocKind is what kind of manifest doc is: what mediaType (its
// descriptor's, or the Content-Type it was served with) and its own
// mediaType say, which must agree, else what its fields say; and its
// fields must be those of that kind.
func manifestDocKind(mediaType string, doc manifestDoc) (manifestKind, error) {
	byType, byDoc := kindOfMediaType(mediaType), kindOfMediaType(doc.MediaType)
	if byType != kindUnknown && byDoc != kindUnknown && byType != byDoc {
		return kindUnknown, fmt.Errorf("%w: described as %s (%s), but its mediaType %s makes it %s",
			ErrUnexpectedManifest, quoteValue(mediaType), byType, quoteValue(doc.MediaType), byDoc)
	}
	kind := byType
	if kind == kindUnknown {
		kind = byDoc
	}
	var fits bool
	switch kind {
	case kindImageManifest:
		fits = doc.Config != nil && doc.Manifests == nil
	case kindImageIndex:
		fits = doc.Manifests != nil && doc.Config == nil && doc.Layers == nil
	case kindOther:
		fits = doc.Config == nil && doc.Manifests == nil
	default:
		switch {
		case doc.Config != nil && doc.Manifests == nil:
			return kindImageManifest, nil
		case doc.Manifests != nil && doc.Config == nil && doc.Layers == nil:
			return kindImageIndex, nil
		}
		return kind, fmt.Errorf("%w: media type %s, and neither an image manifest's nor an index's fields", ErrUnexpectedManifest, quoteValue(mediaType))
	}
	if !fits {
		return kind, fmt.Errorf("%w: its media type makes it %s, but it lacks the fields of one", ErrUnexpectedManifest, kind)
	}
	return kind, nil
}

// checkDescriptor refuses a descriptor a transfer cannot follow.
func checkDescriptor(d Descriptor) error {
	if err := ValidateDigest(d.Digest); err != nil {
		return fmt.Errorf("azacr: manifest refers to an invalid digest: %w", err)
	}
	if d.Size < 0 || d.Size > maxBlobSize {
		return fmt.Errorf("%w: manifest gives %s a size of %d bytes", ErrSizeMismatch, d.Digest, d.Size)
	}
	return nil
}

// isForeignLayer reports whether d is a layer that registries do not
// store (Windows base layers and other non-distributable content, fetched
// from their URLs by whoever runs the image): a copy leaves it out, as
// the registry would refuse it anyway.
func isForeignLayer(d Descriptor) bool {
	return len(d.URLs) > 0 && (strings.Contains(d.MediaType, "nondistributable") || strings.Contains(d.MediaType, "foreign"))
}

// manifestMediaType is the media type to send a manifest with: what its
// descriptor says, else what the document says, else what its shape is.
func manifestMediaType(d Descriptor, r manifestRefs) string {
	switch {
	case d.MediaType != "":
		return d.MediaType
	case r.mediaType != "":
		return r.mediaType
	case r.kind == kindImageIndex:
		return string(ContentTypeApplicationVndOCIImageIndexV1JSON)
	}
	return string(ContentTypeApplicationVndOCIImageManifestV1JSON)
}

// platformFilter is one entry of a Platforms option: os/arch or
// os/arch/variant.
type platformFilter struct {
	os, arch, variant string
}

// parsePlatforms reads the Platforms option.
func parsePlatforms(list []string) ([]platformFilter, error) {
	out := make([]platformFilter, 0, len(list))
	for _, s := range list {
		parts := strings.Split(s, "/")
		if len(parts) < 2 || len(parts) > 3 || slices.Contains(parts, "") {
			return nil, fmt.Errorf("%w: platform %q is not os/arch or os/arch/variant", ErrInvalidOption, s)
		}
		f := platformFilter{os: parts[0], arch: parts[1]}
		if len(parts) == 3 {
			f.variant = parts[2]
		}
		out = append(out, f)
	}
	return out, nil
}

// matches reports whether p is the filter's platform. A filter without a
// variant takes any variant ("linux/arm64" is "linux/arm64/v8" too).
func (f platformFilter) matches(p *Platform) bool {
	return p != nil && p.OS == f.os && p.Architecture == f.arch && (f.variant == "" || p.Variant == f.variant)
}

func (f platformFilter) String() string {
	if f.variant == "" {
		return f.os + "/" + f.arch
	}
	return f.os + "/" + f.arch + "/" + f.variant
}

// platformString is how an error names the platform p.
func platformString(p *Platform) string {
	if p == nil {
		return "(no platform)"
	}
	return platformFilter{os: p.OS, arch: p.Architecture, variant: p.Variant}.String()
}

// choosePlatforms returns the entries of an index that filters choose.
// Every filter must choose at least one: a platform asked for and absent
// is an error that lists what the index has, never a silent other choice.
func choosePlatforms(entries []Descriptor, filters []platformFilter) ([]Descriptor, error) {
	var chosen []Descriptor
	for _, f := range filters {
		found := false
		for _, e := range entries {
			if f.matches(e.Platform) {
				found = true
				if !slices.ContainsFunc(chosen, func(c Descriptor) bool { return c.Digest == e.Digest }) {
					chosen = append(chosen, e)
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: the index has no platform %s; it has %s", ErrPlatformNotFound, f, indexPlatforms(entries))
		}
	}
	return chosen, nil
}

// indexPlatforms lists the platforms of an index's entries for an error.
func indexPlatforms(entries []Descriptor) string {
	var names []string
	for _, e := range entries {
		names = append(names, platformString(e.Platform))
	}
	if len(names) == 0 {
		return "no entries"
	}
	return strings.Join(names, ", ")
}

// imageConfigPlatform is the platform fields of an image config.
type imageConfigPlatform struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant"`
}

// subsetIndex is the index data with only the chosen entries: what a
// transfer of several platforms out of more sends. It is a new index,
// with a digest of its own.
func subsetIndex(data []byte, chosen []Descriptor) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	entries, err := json.Marshal(chosen)
	if err != nil {
		return nil, err
	}
	doc["manifests"] = entries
	return json.Marshal(doc)
}
