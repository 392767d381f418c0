package conformance

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/sirupsen/logrus"

	// NewApp finds storage drivers and auth backends by name; it panics on
	// one that was not registered by an import.
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/auth/token"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

// RegistryConfig configures an in-process CNCF distribution registry.
type RegistryConfig struct {
	// Dir is the filesystem storage root. The filesystem driver is used
	// because the in-memory one is quadratic on large uploads.
	Dir string
	// Auth is the registry's auth section ("token" or "htpasswd"); nil
	// means no authentication at all: the registry never sends a 401.
	Auth configuration.Auth
}

func init() {
	// distribution logs through the global logrus logger, whatever the
	// configuration says.
	logrus.SetOutput(io.Discard)
	logrus.SetLevel(logrus.PanicLevel)
}

// NewRegistryApp returns the registry as an http.Handler and a function
// that shuts it down. NewApp panics on a bad configuration; that panic is
// returned as an error.
func NewRegistryApp(ctx context.Context, rc RegistryConfig) (h http.Handler, shutdown func(), err error) {
	cfg := &configuration.Configuration{
		Storage: configuration.Storage{
			"filesystem":  configuration.Parameters{"rootdirectory": rc.Dir},
			"delete":      configuration.Parameters{"enabled": true},
			"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
		},
		Auth: rc.Auth,
	}
	cfg.HTTP.Secret = "azacr-conformance-secret"
	// ACR sends relative Locations (PROTOCOL.md §6.1); so does distribution with this.
	cfg.HTTP.RelativeURLs = true
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		if r := recover(); r != nil {
			cancel()
			err = fmt.Errorf("conformance: distribution refused its configuration: %v", r)
		}
	}()
	app := handlers.NewApp(ctx, cfg)
	return app, func() { _ = app.Shutdown(); cancel() }, nil
}
