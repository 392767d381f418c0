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
)

// noRetry turns azcore's retry policy off for a request the library
// retries itself: requests that carry blob bytes (after a failed attempt
// the session may hold part of the chunk and have moved to a new URL;
// resending the same request would be refused as stale, so the upload asks
// the session what it holds and sends the rest), and blob reads, which
// have one retry budget per range (see retryBudget). The caller's
// ClientOptions.Retry still decides what is retried and how long to wait
// (see retryRules).
func noRetry(ctx context.Context) context.Context {
	return policy.WithRetryOptions(ctx, policy.RetryOptions{MaxRetries: -1})
}

// minChunkSize is the smallest chunk a 413 halves ChunkSize to.
const minChunkSize = 64 << 10

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
	return u.follow(*st.Location)
}

// follow takes the session URL the registry answered with, once it is
// known to belong to the repository being uploaded to: a registry must not
// move the upload into another repository (for which the client would
// then ask a token) behind the caller's back.
func (u *blobUpload) follow(location string) error {
	_, name, err := u.client.uploadLocation(location)
	if err == nil && name != u.name {
		err = fmt.Errorf("%w: %q is a session of repository %q, not %q", ErrInvalidLocation, location, name, u.name)
	}
	if err != nil {
		return nonRetriable(err)
	}
	u.location = location
	return nil
}

// chunk sends the size bytes that start at u.sent, in pieces of at most
// u.chunkSize, resuming after failures from what the session reports it
// holds. bodyAt gives each piece its body: n bytes from skip.
//
// A failed piece is retried as the caller's ClientOptions.Retry allows
// (see retryRules); a registry whose session moved on without us (a
// partial write) is resynchronised at once, within the same number of
// tries. A 413 (the registry's body limit is below the chunk size) halves
// the chunk size, down to minChunkSize, and resumes from the session's
// offset: it costs no try.
func (u *blobUpload) chunk(ctx context.Context, size int64, bodyAt func(skip, n int64) *chunkBody) error {
	base := u.sent
	var done int64
	failures := 0
	oneByte := false // "0-0" from the session means one byte, not none (see status)
	for done < size {
		n := min(size-done, u.chunkSize)
		err := u.sendPiece(ctx, base+done, bodyAt(done, n))
		if err == nil {
			done += n
			failures, oneByte = 0, false
			u.progress(base+done, u.total)
			continue
		}
		if !isTooLarge(err) || u.chunkSize <= minChunkSize {
			failures++
			if werr := u.waitToRetry(ctx, failures, err); werr != nil {
				return werr
			}
		} else {
			u.chunkSize = max(u.chunkSize/2, minChunkSize)
		}
		// A resend from byte 0 refused as out of place means the session
		// holds the one byte its "0-0" could not tell from none.
		oneByte = oneByte || base+done == 0 && sessionMoved(err)
		held, serr := u.status(ctx, base+done, oneByte)
		if serr != nil {
			return fmt.Errorf("%w (and the upload status could not be read: %w)", err, serr)
		}
		if held < base || held > base+size {
			return fmt.Errorf("azacr: cannot resume upload: the registry holds %d bytes, expected between %d and %d: %w", held, base, base+size, err)
		}
		done = held - base // the failed request may have delivered some or all
	}
	u.sent = base + size
	return nil
}

// sendPiece sends one PATCH, bounded by the caller's TryTimeout.
func (u *blobUpload) sendPiece(ctx context.Context, start int64, body *chunkBody) error {
	defer body.end()
	end := start + body.size - 1
	tctx, cancel := u.client.retry.tryContext(noRetry(ctx))
	defer cancel()
	resp, err := u.client.UploadChunk(tctx, u.location, body, &BlobClientUploadChunkOptions{RangeStart: &start, RangeEnd: &end})
	if err != nil {
		return err
	}
	if resp.Location == nil {
		return nonRetriable(fmt.Errorf("%w: the registry accepted a chunk without a Location", ErrInvalidLocation))
	}
	return u.follow(*resp.Location)
}

// waitToRetry decides whether a step that failed for the failures-th time
// is tried again: nil after the wait, else the error to return. A session
// that moved on is resynchronised without waiting; anything else follows
// the caller's retry rules.
func (u *blobUpload) waitToRetry(ctx context.Context, failures int, err error) error {
	rules := u.client.retry
	if sessionMoved(err) && ctx.Err() == nil {
		if failures >= rules.tries() || !rules.allowsResync(err) {
			return err
		}
		return nil
	}
	wait, ok := rules.next(ctx, failures, nil, err)
	if !ok {
		return err
	}
	return sleepCtx(ctx, wait)
}

// status asks the session how many bytes it holds. ACR says "0-0" for an
// empty session and for a one-byte one (PROTOCOL.md §6.3): "0-0" is read as
// empty unless bytes were known to be sent (from is past 0) or oneByte says
// the session refused a resend from byte 0.
func (u *blobUpload) status(ctx context.Context, from int64, oneByte bool) (int64, error) {
	st, err := u.client.GetUploadStatus(ctx, u.location, nil)
	if err != nil {
		return 0, err
	}
	if st.Location != nil {
		if err := u.follow(*st.Location); err != nil {
			return 0, err
		}
	}
	if st.Range == nil {
		return 0, errors.New("azacr: upload status without a Range")
	}
	last, err := parseUploadRange(*st.Range)
	if err != nil {
		return 0, err
	}
	if last == 0 && from == 0 && !oneByte {
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
// with the bytes. The bytes are in memory, so a failure restarts it in a
// fresh session, as the caller's retry rules allow. A registry that refuses
// a body this large (413) gets the bytes as chunks of half the size.
func (u *blobUpload) whole(ctx context.Context, data []byte) error {
	u.sent = int64(len(data))
	if err := u.finish(); err != nil {
		return err
	}
	for failures := 1; ; failures++ {
		if err := u.open(ctx); err != nil {
			return err
		}
		err := u.sendWhole(ctx, data)
		if err == nil {
			u.location = ""
			u.progress(u.sent, u.sent)
			return nil
		}
		if isTooLarge(err) && int64(len(data)) > minChunkSize {
			return u.wholeInChunks(ctx, data)
		}
		if u.committed(ctx) {
			u.location = ""
			return nil
		}
		if werr := u.waitToRetry(ctx, failures, err); werr != nil {
			return werr
		}
		u.abandon(ctx) // a fresh session for the next attempt
	}
}

// sendWhole sends the completing PUT with the blob's bytes, bounded by the
// caller's TryTimeout.
func (u *blobUpload) sendWhole(ctx context.Context, data []byte) error {
	return u.sendWholeBody(ctx, memoryChunk(data))
}

// sendWholeBody sends the completing PUT with body, bounded by the
// caller's TryTimeout.
func (u *blobUpload) sendWholeBody(ctx context.Context, body *chunkBody) error {
	defer body.end()
	tctx, cancel := u.client.retry.tryContext(noRetry(ctx))
	defer cancel()
	_, err := u.client.CompleteUpload(tctx, u.location, u.digest, &BlobClientCompleteUploadOptions{Value: body})
	return err
}

// wholeInChunks sends a small blob as PATCHes of half its size into the
// open session, then completes it without a body.
func (u *blobUpload) wholeInChunks(ctx context.Context, data []byte) error {
	u.chunkSize = max(min(u.chunkSize, int64(len(data)))/2, minChunkSize)
	u.sent = 0
	if err := u.chunk(ctx, int64(len(data)), func(skip, n int64) *chunkBody { return memoryChunk(data[skip : skip+n]) }); err != nil {
		return err
	}
	return u.complete(ctx)
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

// sessionMoved reports whether a step was refused because the session
// moved on without us: a partial write made our offset or session URL
// stale. Asking the session what it holds mends that.
func sessionMoved(err error) bool {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	return re.StatusCode == http.StatusRequestedRangeNotSatisfiable ||
		re.StatusCode == http.StatusBadRequest && (re.ErrorCode == "BLOB_UPLOAD_INVALID" || re.ErrorCode == "SIZE_INVALID")
}

// isTooLarge reports a 413: the registry refuses request bodies this
// large. Users report ACR refusing single bodies above about 20 MB
// (PROTOCOL.md §6.6).
func isTooLarge(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusRequestEntityTooLarge
}
