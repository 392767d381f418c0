package azacr

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeTempFile writes prefix then data to a new file and returns it open,
// positioned at the start of data.
func writeTempFile(t *testing.T, prefix, data []byte) *os.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "blob")
	require.NoError(t, os.WriteFile(path, append(append([]byte{}, prefix...), data...), 0o600))
	f, err := os.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	_, err = f.Seek(int64(len(prefix)), io.SeekStart)
	require.NoError(t, err)
	return f
}

// bodyRecorder is a transport that notes which body type net/http is
// handed for each PATCH.
type bodyRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen []string
}

func (b *bodyRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPatch {
		b.mu.Lock()
		b.seen = append(b.seen, fmt.Sprintf("%T", r.Body))
		b.mu.Unlock()
	}
	return b.next.RoundTrip(r)
}

func TestUploadBlobFromFile(t *testing.T) {
	const chunk = 64 << 10
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	for _, size := range []int{chunk + 1, 3*chunk + chunk/2, 4 * chunk} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := randomBytes(t, size)
			f := writeTempFile(t, []byte("bytes before the blob"), data)
			srv.ResetRequests()
			var last int64
			res, err := c.UploadBlob(t.Context(), "file", f, &BlobClientUploadBlobOptions{
				ChunkSize: chunk,
				Progress:  func(sent, total int64) { last = sent; assert.EqualValues(t, size, total) },
			})
			require.NoError(t, err)
			assert.Equal(t, ComputeDigest(data), res.Digest)
			assert.EqualValues(t, size, res.Size)
			assert.EqualValues(t, size, last)
			stored, ok := srv.Blob("file", res.Digest)
			require.True(t, ok)
			assert.True(t, bytes.Equal(data, stored), "the registry's copy is byte-identical")
			chunks := (size + chunk - 1) / chunk
			counts := methodCounts(srv)
			// The file is hashed while it is sent; once the digest is known
			// (unless only the last chunk is left) one HEAD asks whether the
			// registry has the blob already.
			assert.LessOrEqual(t, counts["HEAD"], 1)
			delete(counts, "HEAD")
			assert.Equal(t, map[string]int{"POST": 1, "PATCH": chunks, "PUT": 1}, counts)
			pos, err := f.Seek(0, io.SeekCurrent)
			require.NoError(t, err)
			assert.EqualValues(t, len("bytes before the blob")+size, pos, "the file is left read to its end")
		})
	}
}

// TestUploadBlobHandsNetHTTPASendingPerRequest: whatever the body (a file
// sent by sections, or a stream through chunk buffers), net/http reads
// every PATCH through a sending of its own, never the chunk itself.
func TestUploadBlobHandsNetHTTPASendingPerRequest(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	opts := testClientOptions(srv)
	hc := *srv.Client()
	rec := &bodyRecorder{next: hc.Transport}
	hc.Transport = rec
	opts.Transport = &hc
	c, err := NewBlobClient(srv.URL, srv.Credential(), &BlobClientOptions{ClientOptions: opts})
	require.NoError(t, err)

	data := randomBytes(t, 2500)
	_, err = c.UploadBlob(t.Context(), "r", writeTempFile(t, nil, data), &BlobClientUploadBlobOptions{ChunkSize: 1000})
	require.NoError(t, err)
	_, err = c.UploadBlob(t.Context(), "r", plainReader{bytes.NewReader(data)}, &BlobClientUploadBlobOptions{ChunkSize: 1000})
	require.NoError(t, err)
	want := "*azacr.sending"
	assert.Equal(t, []string{want, want, want, want, want, want}, rec.seen)
}

func TestUploadBlobFileChangedWhileSending(t *testing.T) {
	const chunk = 1000
	for name, change := range map[string]func(f *os.File) error{
		"rewritten": func(f *os.File) error { _, err := f.WriteAt(bytes.Repeat([]byte{'x'}, 100), 1500); return err },
		"truncated": func(f *os.File) error { return f.Truncate(1200) },
	} {
		t.Run(name, func(t *testing.T) {
			srv := acrtest.NewServer(t, nil)
			c := newTestBlobClient(t, srv, srv.Credential())
			data := randomBytes(t, 3*chunk)
			f := writeTempFile(t, nil, data)
			w, err := os.OpenFile(f.Name(), os.O_WRONLY, 0)
			require.NoError(t, err)
			defer w.Close()
			res, err := c.UploadBlob(t.Context(), "r", f, &BlobClientUploadBlobOptions{
				ChunkSize: chunk,
				Progress: func(sent, total int64) {
					if sent == chunk {
						require.NoError(t, change(w))
					}
				},
			})
			_, stored := srv.Blob("r", ComputeDigest(data))
			assert.False(t, stored, "the original content was never completely sent")
			if err == nil {
				// The hashing read the file after the change, as the
				// sending did: the blob is what the file now holds.
				now, rerr := os.ReadFile(f.Name())
				require.NoError(t, rerr)
				require.Equal(t, "rewritten", name, "a truncated file cannot be sent whole")
				assert.Equal(t, ComputeDigest(now), res.Digest)
				got, ok := srv.Blob("r", res.Digest)
				require.True(t, ok)
				assert.Equal(t, now, got)
				return
			}
			assert.Equal(t, 1, methodCounts(srv)["DELETE"], "the session is cancelled")
		})
	}
}

func TestUploadBlobFileWithWrongDigestIsNotCompleted(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	data := randomBytes(t, 5000)
	_, err := c.UploadBlob(t.Context(), "r", writeTempFile(t, nil, data), &BlobClientUploadBlobOptions{
		ChunkSize: 1000, Digest: ComputeDigest([]byte("something else")),
	})
	var mismatch *DigestMismatchError
	require.ErrorAs(t, err, &mismatch)
	assert.ErrorIs(t, err, ErrDigestMismatch)
	assert.Equal(t, ComputeDigest(data), mismatch.Actual)
	counts := methodCounts(srv)
	assert.Zero(t, counts["PUT"], "never completed")
	assert.Equal(t, 1, counts["DELETE"], "the session is cancelled")
}

func TestUploadBlobFileFoundWhileSending(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	data := randomBytes(t, 50*1000)
	d := srv.PutBlob("r", data)
	srv.ResetRequests()
	var reported int64
	res, err := c.UploadBlob(t.Context(), "r", writeTempFile(t, nil, data), &BlobClientUploadBlobOptions{
		ChunkSize: 1000, Progress: func(sent, total int64) { reported = sent },
	})
	require.NoError(t, err)
	assert.True(t, res.Skipped)
	assert.Equal(t, d, res.Digest)
	assert.EqualValues(t, len(data), res.Size)
	assert.EqualValues(t, len(data), reported)
	counts := methodCounts(srv)
	assert.Equal(t, 1, counts["HEAD"], "asked once the digest was known")
	assert.Less(t, counts["PATCH"], 50, "the rest is not sent")
	assert.Equal(t, 1, counts["DELETE"], "the session is cancelled")
	assert.Zero(t, counts["PUT"])
}

// readAll reads r to its end in small reads.
func readAll(r io.Reader) ([]byte, error) {
	var out []byte
	buf := make([]byte, 7)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func TestChunkBodySendings(t *testing.T) {
	data := randomBytes(t, 100)
	bodies := map[string]func(t *testing.T) *chunkBody{
		"memory": func(t *testing.T) *chunkBody { return memoryChunk(data[10:60]) },
		"file":   func(t *testing.T) *chunkBody { return fileChunk(writeTempFile(t, nil, data), 10, 50) },
		"caller": func(t *testing.T) *chunkBody {
			r := bytes.NewReader(data[:60])
			_, err := r.Seek(10, io.SeekStart)
			require.NoError(t, err)
			b, err := callerChunk(r)
			require.NoError(t, err)
			return b
		},
	}
	for name, newBody := range bodies {
		t.Run(name, func(t *testing.T) {
			b := newBody(t)
			size, err := b.Seek(0, io.SeekEnd)
			require.NoError(t, err)
			assert.EqualValues(t, 50, size)
			_, err = b.Seek(0, io.SeekStart)
			require.NoError(t, err)
			_, err = b.Read(make([]byte, 1))
			assert.Error(t, err, "the chunk is read only through sendings")

			first, err := b.send()
			require.NoError(t, err)
			part := make([]byte, 20)
			_, err = io.ReadFull(first, part)
			require.NoError(t, err)
			assert.Equal(t, data[10:30], part)

			second, err := b.send()
			require.NoError(t, err)
			_, err = first.Read(part)
			assert.ErrorIs(t, err, errSendEnded, "a replaced sending reads nothing more")
			got, err := readAll(second)
			require.NoError(t, err)
			assert.Equal(t, data[10:60], got, "a new sending starts at the chunk's start")

			b.end()
			_, err = second.Read(part)
			assert.ErrorIs(t, err, errSendEnded)
			_, err = b.send()
			assert.ErrorIs(t, err, errSendEnded)
		})
	}
}

// TestChunkBodyAbandonedReaderRace has a goroutine keep reading a sending
// (as net/http's writer may after a request has returned) while the next
// sending starts and the buffer is then reused; -race checks that nothing
// reads the buffer once the sending has been replaced.
func TestChunkBodyAbandonedReaderRace(t *testing.T) {
	buf := randomBytes(t, 1<<16)
	b := memoryChunk(buf)
	stale, err := b.send()
	require.NoError(t, err)
	done := make(chan error)
	go func() {
		p := make([]byte, 64)
		for {
			if _, err := stale.Read(p); err != nil {
				done <- err
				return
			}
		}
	}()
	next, err := b.send()
	require.NoError(t, err)
	b.end()
	for i := range buf {
		buf[i] = 0 // the read-ahead refilling the buffer
	}
	err = <-done
	assert.True(t, errors.Is(err, errSendEnded) || errors.Is(err, io.EOF), "got %v", err)
	_, err = next.Read(make([]byte, 1))
	assert.ErrorIs(t, err, errSendEnded)
}
