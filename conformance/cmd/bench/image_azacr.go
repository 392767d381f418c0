package main

import (
	"context"
	"errors"
	"net/http"
)

// azacrImageReady says whether this build has azacr's image operations
// (PullImage, PushImage, CopyImage); until it does, -image leaves the
// azacr rows out.
const azacrImageReady = false

// prepareAzacrImage runs the image operations with azacr.
func prepareAzacrImage(context.Context, opArgs, *http.Transport) (func() (opResult, error), error) {
	return nil, errors.New("azacr: this build has no PullImage, PushImage or CopyImage")
}
