package main

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
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

// collect reads every page of pager and returns the items each gives: an
// empty slice, not nil, when there are none, so JSON output is [].
func collect[P, T any](ctx context.Context, pager *runtime.Pager[P], items func(P) []T) ([]T, error) {
	out := []T{}
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, items(page)...)
	}
	return out, nil
}
