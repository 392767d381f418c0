package azacr

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// errSendEnded is what a sending of a chunk body reads once a later
// sending (or the end of the request) has replaced it.
var errSendEnded = errors.New("azacr: this sending of the request body has ended")

// errFileShrank is what reading a file section gives when the file ends
// before it: the file was cut while it was being uploaded. Sending again
// cannot help.
var errFileShrank = nonRetriable(fmt.Errorf("%w: %w: the file is shorter than when its size was read", ErrSizeMismatch, io.ErrUnexpectedEOF))

// chunkBody is the body of a request that carries blob bytes: a chunk in
// memory, a section of a file, or a body a caller handed to UploadChunk.
// azcore gets it as the request's body (a seekable reader of known size)
// but net/http never reads it: for every sending of the request (each try,
// the resend after a 401, the replay after a redirect) sendPolicy hands
// net/http a sending of its own, and starting one ends the one before.
// net/http's writer goroutine may go on reading an abandoned sending after
// the request has returned; ending it means that goroutine reads an error,
// never the next sending's bytes, a buffer being refilled, or a caller's
// body after the call is over.
type chunkBody struct {
	open func() (io.Reader, error) // a reader of the whole chunk, for one sending
	size int64
	pos  int64 // of Seek, which azcore uses to measure and rewind

	mu      sync.Mutex
	sending *sending // the newest; nil before the first
	ended   bool
}

// memoryChunk is a chunk held in data.
func memoryChunk(data []byte) *chunkBody {
	return &chunkBody{size: int64(len(data)), open: func() (io.Reader, error) { return bytes.NewReader(data), nil }}
}

// fileChunk is size bytes of f from off, read with ReadAt: sendings never
// share an offset, and the caller's file offset never moves.
func fileChunk(f io.ReaderAt, off, size int64) *chunkBody {
	return &chunkBody{size: size, open: func() (io.Reader, error) {
		return &fileSection{r: io.NewSectionReader(f, off, size), left: size}, nil
	}}
}

// callerChunk is a body a caller hands to UploadChunk or CompleteUpload,
// from its current offset to its end. Each sending seeks it back to that
// offset, which is safe because the sending before has ended by then.
func callerChunk(rs io.ReadSeeker) (*chunkBody, error) {
	start, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, err
	}
	end, err := rs.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	if _, err := rs.Seek(start, io.SeekStart); err != nil {
		return nil, err
	}
	size := max(end-start, 0)
	return &chunkBody{size: size, open: func() (io.Reader, error) {
		if _, err := rs.Seek(start, io.SeekStart); err != nil {
			return nil, err
		}
		return io.LimitReader(checkedReader{rs}, size), nil
	}}, nil
}

// Read fails: the chunk is read only through its sendings.
func (b *chunkBody) Read([]byte) (int, error) {
	return 0, errors.New("azacr: a chunk body is read only through its sendings")
}

// Seek sets the position azcore measures the body with.
func (b *chunkBody) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += b.pos
	case io.SeekEnd:
		offset += b.size
	default:
		return 0, errors.New("azacr: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("azacr: seek before the start of a chunk")
	}
	b.pos = offset
	return offset, nil
}

// Close does nothing: the request's end ends the sendings (end).
func (b *chunkBody) Close() error { return nil }

// send ends the previous sending and returns a new one of the whole chunk.
func (b *chunkBody) send() (io.ReadCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return nil, errSendEnded
	}
	if b.sending != nil {
		b.sending.Close() // waits for a Read under way
	}
	r, err := b.open()
	if err != nil {
		return nil, err
	}
	b.sending = &sending{r: r}
	return b.sending, nil
}

// end ends the newest sending; the request is over. Ending twice is
// harmless.
func (b *chunkBody) end() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ended = true
	if b.sending != nil {
		b.sending.Close()
	}
}

// sending is one sending of a chunk body.
type sending struct {
	mu    sync.Mutex
	r     io.Reader
	ended bool
}

func (s *sending) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return 0, errSendEnded
	}
	return s.r.Read(p)
}

// Close ends the sending. A Read under way finishes first, so once Close
// returns nothing reads the chunk through this sending.
func (s *sending) Close() error {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	return nil
}

// fileSection reads a section of a file and tells a file that ended early
// (it was cut during the upload) from the section's end.
type fileSection struct {
	r    *io.SectionReader
	left int64
}

func (f *fileSection) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	f.left -= int64(n)
	if err == io.EOF && f.left > 0 {
		err = errFileShrank
	}
	return n, err
}

// sendPolicy gives net/http a fresh sending of a chunk body for every
// sending of the request. It runs on every try and after the
// authentication policy, which resends a body after a 401.
type sendPolicy struct{}

func (sendPolicy) Do(req *policy.Request) (*http.Response, error) {
	if b, ok := req.Body().(*chunkBody); ok {
		s, err := b.send()
		if err != nil {
			return nil, err
		}
		req.Raw().Body = s
		// A redirect that keeps the body (307, 308) replays it through
		// GetBody: that is a sending too.
		req.Raw().GetBody = b.send
	}
	return req.Next()
}
