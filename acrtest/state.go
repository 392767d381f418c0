package acrtest

import (
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// timeLayout writes timestamps the way ACR does: UTC with seven fractional
// digits.
const timeLayout = "2006-01-02T15:04:05.0000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// attributes are the changeable attributes of a repository, tag or
// manifest. All default to true.
type attributes struct {
	DeleteEnabled bool `json:"deleteEnabled"`
	WriteEnabled  bool `json:"writeEnabled"`
	ReadEnabled   bool `json:"readEnabled"`
	ListEnabled   bool `json:"listEnabled"`
}

var defaultAttributes = attributes{DeleteEnabled: true, WriteEnabled: true, ReadEnabled: true, ListEnabled: true}

// attributesPatch is a PATCH body: only the fields present change.
type attributesPatch struct {
	DeleteEnabled     *bool   `json:"deleteEnabled"`
	WriteEnabled      *bool   `json:"writeEnabled"`
	ReadEnabled       *bool   `json:"readEnabled"`
	ListEnabled       *bool   `json:"listEnabled"`
	QuarantineState   *string `json:"quarantineState"`
	QuarantineDetails *string `json:"quarantineDetails"`
}

func (a *attributes) apply(p attributesPatch) {
	if p.DeleteEnabled != nil {
		a.DeleteEnabled = *p.DeleteEnabled
	}
	if p.WriteEnabled != nil {
		a.WriteEnabled = *p.WriteEnabled
	}
	if p.ReadEnabled != nil {
		a.ReadEnabled = *p.ReadEnabled
	}
	if p.ListEnabled != nil {
		a.ListEnabled = *p.ListEnabled
	}
}

// registry is the emulator's content. Metadata lives under mu; blob bytes
// live in the blob store, which has its own locking.
type registry struct {
	mu      sync.Mutex
	repos   map[string]*repository
	seq     int64 // orders events that share a timestamp
	blobs   *blobStore
	uploads map[string]*upload
}

type repository struct {
	Name    string
	Created time.Time
	Updated time.Time
	Attrs   attributes
	// Manifests by digest, tags by name.
	Manifests map[string]*manifest
	Tags      map[string]*tag
	// Blobs linked into this repository (pushed, mounted or referenced),
	// digest to size. ACR stores content once per registry but only
	// serves a blob from repositories it was pushed to.
	Blobs map[string]int64
}

type manifest struct {
	Digest    string
	MediaType string
	Body      []byte
	Created   time.Time
	Updated   time.Time
	Seq       int64
	Attrs     attributes
	// Fields derived from the body when it is stored.
	ArtifactType    string
	ConfigMediaType string
	Architecture    string
	OS              string
	ImageSize       int64
	References      []platformRef // for indexes and manifest lists
	Subject         string        // digest of the OCI 1.1 subject, if any
	Annotations     map[string]string
	// Quarantine state set through PATCH.
	QuarantineState   string
	QuarantineDetails string
}

// platformRef is one entry of a manifest list's references.
type platformRef struct {
	Digest       string `json:"digest"`
	Architecture string `json:"architecture,omitempty"`
	OS           string `json:"os,omitempty"`
}

type tag struct {
	Name    string
	Digest  string
	Created time.Time
	Updated time.Time
	Seq     int64
	Attrs   attributes
	Signed  bool
}

func newRegistry(dir string) *registry {
	return &registry{
		repos:   map[string]*repository{},
		blobs:   newBlobStore(dir),
		uploads: map[string]*upload{},
	}
}

func (st *registry) close() { st.blobs.close() }

// nextSeq must be called with mu held.
func (st *registry) nextSeq() int64 {
	st.seq++
	return st.seq
}

// repo returns the named repository, creating it when create is set.
// Call with mu held.
func (st *registry) repo(name string, create bool, now time.Time) *repository {
	r := st.repos[name]
	if r == nil && create {
		r = &repository{
			Name: name, Created: now, Updated: now, Attrs: defaultAttributes,
			Manifests: map[string]*manifest{}, Tags: map[string]*tag{}, Blobs: map[string]int64{},
		}
		st.repos[name] = r
	}
	return r
}

// sortedRepoNames lists repository names lexically. Call with mu held.
func (st *registry) sortedRepoNames() []string {
	names := make([]string, 0, len(st.repos))
	for n := range st.repos {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// The OCI distribution grammar for names, tags and digests.
var (
	nameComponent = `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
	nameRE        = regexp.MustCompile(`^` + nameComponent + `(?:/` + nameComponent + `)*$`)
	tagRE         = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
	digestRE      = regexp.MustCompile(`^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$`)
)

func isName(s string) bool   { return len(s) <= 255 && nameRE.MatchString(s) }
func isTag(s string) bool    { return tagRE.MatchString(s) }
func isDigest(s string) bool { return digestRE.MatchString(s) }

// algorithmOf returns "sha256" or "sha512" for a valid digest.
func algorithmOf(digest string) string {
	alg, _, _ := strings.Cut(digest, ":")
	return alg
}
