package azacr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// ErrResponseTooLarge is wrapped by the error for a registry response whose
// body is larger than any the operation can need: a metadata page or
// document over 64 MiB, or a token response over 64 KiB. The body is
// refused before it is buffered.
var ErrResponseTooLarge = errors.New("azacr: response body too large")

// metadataBodyLimit bounds the body of a buffered registry response (JSON
// metadata, pages). ACR answers a listing with orderby and no page size in
// one page, so a repository with tens of thousands of tags makes pages of
// megabytes; 64 MiB leaves room for that and stops a hostile or broken
// registry from filling memory. Use a page size (N) for larger listings.
const metadataBodyLimit = 64 << 20

// streamedKey marks a request context whose success body is streamed to
// the caller (blob reads) or read with a cap of its own (manifests): the
// body limit leaves it alone.
type streamedKey struct{}

// streamed returns ctx marked so that its request's success body is not
// limited.
func streamed(ctx context.Context) context.Context {
	return context.WithValue(ctx, streamedKey{}, true)
}

// bodyLimitTransport caps response bodies before azcore buffers them.
// azcore reads every response body into memory (error bodies even of
// streamed requests) with no bound, so the cap has to sit below it, at the
// transport. Error bodies are cut at errorBodyLimit and read as ending
// there: they only feed an error message. Success bodies over the limit
// fail with ErrResponseTooLarge, since a cut document would decode wrongly.
type bodyLimitTransport struct {
	next  policy.Transporter
	limit int64 // for success bodies
}

func (t bodyLimitTransport) Do(req *http.Request) (*http.Response, error) {
	resp, err := t.next.Do(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	if resp.StatusCode >= http.StatusBadRequest {
		resp.Body = &limitedBody{rc: resp.Body, left: errorBodyLimit}
		return resp, nil
	}
	// A HEAD answer has no body; its Content-Length is the size of what a
	// GET would send (a blob's, for blob HEADs), not something to buffer.
	if req.Method == http.MethodHead || req.Context().Value(streamedKey{}) != nil {
		return resp, nil
	}
	if resp.ContentLength > t.limit {
		resp.Body.Close()
		return nil, nonRetriable(fmt.Errorf("%w: %s %s announced %d bytes, more than %d", ErrResponseTooLarge, req.Method, req.URL.Path, resp.ContentLength, t.limit))
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.limit, fail: nonRetriable(fmt.Errorf("%w: %s %s sent more than %d bytes", ErrResponseTooLarge, req.Method, req.URL.Path, t.limit))}
	return resp, nil
}

// limitedBody reads at most left bytes of rc. Past them it ends the body:
// with io.EOF, or with fail when that is set.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
	fail error
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		if b.fail == nil {
			return 0, io.EOF
		}
		// One byte more tells a body of exactly the limit from a longer one.
		var one [1]byte
		if n, _ := b.rc.Read(one[:]); n == 0 {
			return 0, io.EOF
		}
		return 0, b.fail
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// maxJSONContainers and maxJSONValues bound one registry document (a page,
// a metadata answer, a manifest) beyond its byte size, which alone does
// not bound memory: a body of "{},{},..." decodes into a struct per three
// bytes, and one of "","",... into a string header per three bytes, each
// many times larger than its text. The largest real documents (a whole
// repository's tags in one page: about two objects and a dozen values per
// tag) stay far below both: 200,000 objects and arrays and 2,000,000
// values are room for about 100,000 tags, and bound what a hostile
// document can cost to a few hundred megabytes.
const (
	maxJSONContainers = 200_000
	maxJSONValues     = 2_000_000
)

// decodeJSON decodes a registry document into v after checking it against
// maxJSONContainers (counting '{' and '[') and maxJSONValues (counting
// ',' and ':' as well). Brackets, commas and colons inside strings are
// counted too, which only errs on the safe side.
func decodeJSON(data []byte, v any) error {
	containers := bytes.Count(data, []byte("{")) + bytes.Count(data, []byte("["))
	if containers > maxJSONContainers {
		return fmt.Errorf("%w: a JSON document of %d bytes with more than %d objects and arrays", ErrResponseTooLarge, len(data), maxJSONContainers)
	}
	if values := containers + bytes.Count(data, []byte(",")) + bytes.Count(data, []byte(":")); values > maxJSONValues {
		return fmt.Errorf("%w: a JSON document of %d bytes with more than %d values", ErrResponseTooLarge, len(data), maxJSONValues)
	}
	return json.Unmarshal(data, v)
}

// decodeResponseJSON is decodeJSON for a response whose body azcore has
// already read (and the body limit has capped).
func decodeResponseJSON(resp *http.Response, v any) error {
	data, err := runtime.Payload(resp)
	if err != nil {
		return err
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark, as azcore allows
	if len(data) == 0 {
		return nil // as azcore's UnmarshalAsJSON: nothing to decode
	}
	if err := decodeJSON(data, v); err != nil {
		return fmt.Errorf("azacr: decoding %T: %w", v, err)
	}
	return nil
}
