package azacr

// The upload session: the steps of one UploadBlob against the registry
// (start, chunks, status, completion, cancellation) and how a failed step
// is resumed from what the session holds.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// chunkAttempts bounds how often one chunk is sent, resynchronising with
// the session between attempts.
const chunkAttempts = 6

// noRetry turns azcore's retry policy off for requests that carry part of
// a blob. After a failed attempt the session may hold part of the chunk
// and have moved to a new URL; resending the same request would be refused
// as stale. The upload loop retries instead, after asking the session what
// it holds, and sends the rest.
func noRetry(ctx context.Context) context.Context {
	return runtime.WithRetryOptions(ctx, policy.RetryOptions{MaxRetries: -1})
}

// backOff waits before another attempt: the Retry-After of a throttled
// answer (at most a minute), else a short pause that grows with attempt
// (at most 5 s). Both numbers are capped before they are multiplied into
// a Duration, which a huge Retry-After or attempt would overflow into a
// negative wait, that is, none.
func backOff(ctx context.Context, err error, attempt int) error {
	d := time.Duration(min(max(attempt, 1), 50)) * 100 * time.Millisecond
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.RawResponse != nil {
		if secs, perr := strconv.Atoi(re.RawResponse.Header.Get("Retry-After")); perr == nil && secs >= 0 {
			d = time.Duration(min(secs, 60)) * time.Second
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// blobUpload is one UploadBlob in progress.
type blobUpload struct {
	client    *BlobClient
	name      string
	chunkSize int64
	total     int64 // -1 when unknown
	want      string
	progress  func(int64, int64)

	hasher *digester // nil when UploadBlob hashed the body in advance
	// bufs hold a chunk and one byte of lookahead each: one is sent while
	// the next chunk is read into the other.
	bufs     [2][]byte
	cur      int    // index of the buffer holding the newest chunk
	carry    int    // lookahead bytes at the end of bufs[cur], owed to the next chunk
	location string // newest session URL; "" before the session starts
	sent     int64  // bytes the registry holds
	digest   string
}

// open starts the session, unless a declined mount already opened one.
func (u *blobUpload) open(ctx context.Context) error {
	if u.location != "" {
		return nil
	}
	st, err := u.client.StartUpload(ctx, u.name, nil)
	if err != nil {
		return err
	}
	u.location = *st.Location
	return nil
}

// chunk sends the size bytes that start at u.sent, resuming after failures
// from what the session reports it holds. bodyAt gives each attempt its
// body: the chunk without the skip bytes the session already has.
func (u *blobUpload) chunk(ctx context.Context, size int64, bodyAt func(skip int64) *chunkBody) error {
	base := u.sent
	var done int64
	for attempt := 1; ; attempt++ {
		start, end := base+done, base+size-1
		body := bodyAt(done)
		resp, err := u.client.UploadChunk(noRetry(ctx), u.location, body, &BlobClientUploadChunkOptions{
			RangeStart: &start, RangeEnd: &end,
		})
		body.end()
		if err == nil {
			if resp.Location == nil {
				return fmt.Errorf("%w: the registry accepted a chunk without a Location", ErrInvalidLocation)
			}
			u.location = *resp.Location
			break
		}
		if ctx.Err() != nil || attempt >= chunkAttempts || !resumable(err) {
			return err
		}
		if berr := backOff(ctx, err, attempt); berr != nil {
			return berr
		}
		held, serr := u.status(ctx, base+done)
		if serr != nil {
			return fmt.Errorf("%w (and the upload status could not be read: %w)", err, serr)
		}
		if held < base || held > base+size {
			return fmt.Errorf("azacr: cannot resume upload: the registry holds %d bytes, expected between %d and %d: %w", held, base, base+size, err)
		}
		if done = held - base; done == size {
			break // the failed request had in fact delivered everything
		}
	}
	u.sent = base + size
	u.progress(u.sent, u.total)
	return nil
}

// status asks the session how many bytes it holds. ACR says "0-0" for an
// empty session and for a one-byte one (PROTOCOL.md §6.3), so "0-0" is read as
// empty unless we know a byte was sent.
func (u *blobUpload) status(ctx context.Context, tried int64) (int64, error) {
	st, err := u.client.GetUploadStatus(ctx, u.location, nil)
	if err != nil {
		return 0, err
	}
	if st.Location != nil {
		u.location = *st.Location
	}
	if st.Range == nil {
		return 0, errors.New("azacr: upload status without a Range")
	}
	last, err := parseUploadRange(*st.Range)
	if err != nil {
		return 0, err
	}
	if last == 0 && u.sent == 0 && tried == 0 {
		return 0, nil
	}
	return last + 1, nil
}

// parseUploadRange reads the end of an upload's "0-<end>" Range header
// (no "bytes=" prefix on ACR, but accepted).
func parseUploadRange(s string) (int64, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "bytes=")
	first, last, ok := strings.Cut(s, "-")
	if !ok || first != "0" {
		return 0, fmt.Errorf("azacr: malformed upload Range %q", s)
	}
	end, err := strconv.ParseInt(last, 10, 64)
	if err != nil || end < 0 {
		return 0, fmt.Errorf("azacr: malformed upload Range %q", s)
	}
	return end, nil
}

// whole uploads a blob that fits one chunk: start a session and complete it
// with the bytes. The bytes are in memory, so a failure restarts it once.
func (u *blobUpload) whole(ctx context.Context, data []byte) error {
	u.sent = int64(len(data))
	if err := u.finish(); err != nil {
		return err
	}
	var err error
	for attempt := 1; attempt <= chunkAttempts; attempt++ {
		if err = u.open(ctx); err != nil {
			return err
		}
		body := memoryChunk(data)
		_, err = u.client.CompleteUpload(noRetry(ctx), u.location, u.digest, &BlobClientCompleteUploadOptions{Value: body})
		body.end()
		if err == nil {
			u.location = ""
			u.progress(u.sent, u.sent)
			return nil
		}
		if ctx.Err() != nil || !resumable(err) {
			return err
		}
		if u.committed(ctx) {
			u.location = ""
			return nil
		}
		if berr := backOff(ctx, err, attempt); berr != nil {
			return berr
		}
		u.abandon(ctx) // a fresh session for the next attempt
	}
	return err
}

// complete checks what was sent and commits the blob.
func (u *blobUpload) complete(ctx context.Context) error {
	if err := u.finish(); err != nil {
		return err
	}
	_, err := u.client.CompleteUpload(ctx, u.location, u.digest, nil)
	if err != nil && u.committed(ctx) {
		// The registry stored the blob but its answer was lost, and the
		// retried completion found no session: the blob is there.
		err = nil
	}
	if err == nil {
		u.location = ""
	}
	return err
}

// finish fixes the digest to complete with, checking a digest given in
// advance against the content when the content was hashed.
func (u *blobUpload) finish() error {
	got := u.want
	if u.hasher != nil {
		got = u.hasher.Digest()
	}
	if u.want != "" && got != u.want {
		return &DigestMismatchError{Expected: u.want, Actual: got}
	}
	if u.total >= 0 && u.sent != u.total {
		return fmt.Errorf("%w: the body held %d bytes, its size said %d", ErrSizeMismatch, u.sent, u.total)
	}
	u.digest = got
	return nil
}

// committed reports whether the registry has the blob being uploaded.
func (u *blobUpload) committed(ctx context.Context) bool {
	if u.digest == "" || ctx.Err() != nil {
		return false
	}
	st, err := u.client.CheckBlobExists(ctx, u.name, u.digest, nil)
	return err == nil && st.Exists && st.ContentLength != nil && *st.ContentLength == u.sent
}

// abandonOnError cancels the session when the upload failed, so that the
// registry frees what it holds.
func (u *blobUpload) abandonOnError(ctx context.Context, err *error) {
	if *err != nil {
		u.abandon(ctx)
	}
}

// abandon cancels the session, if one is open.
func (u *blobUpload) abandon(ctx context.Context) {
	if u.location == "" {
		return
	}
	// The caller's ctx may be what failed, so the request gets a context
	// of its own: a second when the caller cancelled (it is waiting for the
	// call to return, and the registry frees abandoned sessions anyway),
	// ten when the upload failed otherwise.
	timeout := 10 * time.Second
	if ctx.Err() != nil {
		timeout = time.Second
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	_, _ = u.client.CancelUpload(cctx, u.location, nil)
	cancel()
	u.location = ""
}

// resumable reports whether an upload step failed in a way a resync can
// mend: a transient failure, or the session moved on without us (a partial
// write made our offset or session URL stale).
func resumable(err error) bool {
	if transient(err) {
		return true
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	return re.StatusCode == http.StatusRequestedRangeNotSatisfiable ||
		re.StatusCode == http.StatusBadRequest && (re.ErrorCode == "BLOB_UPLOAD_INVALID" || re.ErrorCode == "SIZE_INVALID")
}
