package azacr

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// errorBodyLimit bounds how much of an error response is kept. ACR's error
// bodies are a few hundred bytes; anything longer is cut, never buffered whole.
const errorBodyLimit = 64 << 10

// newResponseError turns a failed response into an *azcore.ResponseError
// whose ErrorCode is the code of ACR's first error. ACR sends
// {"errors":[{"code","message","detail"}]} with a detail of any JSON type,
// or no body, or a plain-text 404 from its router (PROTOCOL.md §7);
// azcore's own parser reads none of these, so the code is found here.
func newResponseError(resp *http.Response) error {
	var body []byte
	if resp.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, errorBodyLimit))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	if code := acrErrorCode(body); code != "" {
		return runtime.NewResponseErrorWithErrorCode(resp, code)
	}
	return runtime.NewResponseError(resp)
}

// acrErrorCode returns errors[0].code of an ACR error body, or "".
func acrErrorCode(body []byte) string {
	var e struct {
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Errors) == 0 {
		return ""
	}
	return e.Errors[0].Code
}
