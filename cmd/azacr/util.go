package main

import (
	"encoding/json"
	"strings"
	"time"
)

// rawJSON keeps a manifest's bytes as they are in JSON output.
type rawJSON = json.RawMessage

func deref[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return string(*p)
}

func derefTime(p *time.Time) time.Time {
	if p == nil {
		return time.Time{}
	}
	return p.UTC()
}

// derefBool reads a writeable property, true when unknown (ACR's default).
func derefBool[P any](p *P, field func(*P) *bool) bool {
	if p == nil {
		return true
	}
	if b := field(p); b != nil {
		return *b
	}
	return true
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func joinTags(tags []string) string { return strings.Join(tags, ",") }
