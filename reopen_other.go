//go:build !linux

package azacr

import (
	"errors"
	"os"
)

// reopenFile is Linux-only; elsewhere UploadBlob reads files into its
// chunk buffers like any reader.
func reopenFile(*os.File) (*os.File, error) { return nil, errors.ErrUnsupported }
