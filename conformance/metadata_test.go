package conformance

import (
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMetadataRequestCounts runs the same metadata workload with azacr and
// the official module and prints what each spent. azacr must spend the
// operations plus one token call per distinct scope and one exchange, with
// no 401 at all.
func TestMetadataRequestCounts(t *testing.T) {
	run := func(f func(*testing.T, *acrtest.Server) RequestCounts) RequestCounts {
		srv := acrtest.NewServer(t, nil)
		require.NoError(t, SeedMetadataWorkload(srv))
		return f(t, srv)
	}
	ours := run(func(t *testing.T, srv *acrtest.Server) RequestCounts {
		c, err := RunMetadataAzacr(t.Context(), srv)
		require.NoError(t, err)
		return c
	})
	theirs := run(func(t *testing.T, srv *acrtest.Server) RequestCounts {
		c, err := RunMetadataOfficial(t.Context(), srv)
		require.NoError(t, err)
		return c
	})
	t.Logf("\n%s", MetadataTable(ours, theirs))

	// Distinct scopes: the catalog, and metadata_read and pull on each
	// of the two repositories.
	const scopes = 1 + 2*2
	assert.Equal(t, RequestCounts{Client: "azacr", Ops: MetadataOps, Total: MetadataOps + scopes + 1, Exchange: 1, Token: scopes, EntraTokens: 1}, ours)
	assert.Less(t, ours.Total, theirs.Total)
}
