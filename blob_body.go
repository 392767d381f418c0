package azacr

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"syscall"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// errFileShrank is what reading a file range gives when the file ends
// before it: the file was cut while it was being uploaded. Sending again
// cannot help.
var errFileShrank = nonRetriable(fmt.Errorf("%w: %w: the file is shorter than when its size was read", ErrSizeMismatch, io.ErrUnexpectedEOF))

// errSendEnded is what a sending of a chunk body reads once a later
// sending (or the end of the request) has replaced it.
var errSendEnded = errors.New("azacr: this sending of the request body has ended")

// chunkBody is a part of a blob sent by UploadBlob: bytes in memory, or a
// range of a regular file. It is the body given to azcore (a seekable
// reader of known size), but net/http never reads it: for every sending of
// the request, sendPolicy hands net/http a sending of its own (see
// send). A sending that net/http abandons (a failed attempt, a request
// resent after a 401) may still be read by net/http's writer goroutine
// after the request has returned; ending it means that goroutine reads an
// error, never the bytes of the next sending or a buffer being refilled.
type chunkBody struct {
	data []byte        // the chunk, when it is in memory
	file *os.File      // or UploadBlob's own descriptor of the file, read with ReadAt only
	rs   io.ReadSeeker // or a caller's body (UploadChunk, CompleteUpload), read only through sendings
	off  int64         // where the chunk starts in file or rs
	size int64
	pos  int64 // of Read and Seek, for whoever reads the body itself

	mu      sync.Mutex
	sending io.Closer // the newest sending; nil before the first
	ended   bool
}

func memoryChunk(data []byte) *chunkBody { return &chunkBody{data: data, size: int64(len(data))} }

func fileChunk(f *os.File, off, size int64) *chunkBody {
	return &chunkBody{file: f, off: off, size: size}
}

// callerChunk wraps a body the caller hands to UploadChunk or
// CompleteUpload: from its current offset to its end. Every sending seeks
// it back to that offset, and ending a sending waits for a Read under way,
// so the caller's reader is never read after the call returns, nor by two
// sendings at once.
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
	return &chunkBody{rs: rs, off: start, size: max(end-start, 0)}, nil
}

// Read reads the chunk itself (net/http reads sendings instead; this is for
// anything else, such as a redirect replaying the body through GetBody).
func (b *chunkBody) Read(p []byte) (int, error) {
	if b.pos >= b.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), b.size-b.pos)]
	var n int
	var err error
	if b.rs != nil {
		return 0, errors.New("azacr: a caller's chunk body is read only through its sendings")
	}
	if b.file == nil {
		n = copy(p, b.data[b.pos:])
	} else if n, err = b.file.ReadAt(p, b.off+b.pos); err == io.EOF {
		err = errFileShrank
	}
	b.pos += int64(n)
	return n, err
}

// Seek sets the position of Read.
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

// Close does nothing: UploadBlob ends the sendings when the request is
// over (end), and owns the file.
func (b *chunkBody) Close() error { return nil }

// send ends the previous sending and returns a new one from the start of
// the chunk. A sending of a file range reads through a descriptor of its
// own, because sendfile(2) moves the descriptor's offset.
func (b *chunkBody) send() (io.ReadCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return nil, errSendEnded
	}
	if b.sending != nil {
		b.sending.Close()
	}
	switch {
	case b.rs != nil:
		// The previous sending has ended: nothing else reads rs now.
		if _, err := b.rs.Seek(b.off, io.SeekStart); err != nil {
			return nil, err
		}
		s := &readerSending{r: io.LimitReader(b.rs, b.size)}
		b.sending = s
		return s, nil
	case b.file == nil:
		s := &memorySending{rest: b.data}
		b.sending = s
		return s, nil
	}
	f, err := reopenFile(b.file)
	if err != nil {
		return nil, err
	}
	if _, err = f.Seek(b.off, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	s := &fileSending{f: f, end: b.off + b.size}
	b.sending = s
	return s, nil
}

// end ends the newest sending; the request is over.
func (b *chunkBody) end() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ended = true
	if b.sending != nil {
		b.sending.Close()
	}
}

// memorySending is one sending of an in-memory chunk.
type memorySending struct {
	mu    sync.Mutex
	rest  []byte
	ended bool
}

func (s *memorySending) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return 0, errSendEnded
	}
	if len(s.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.rest)
	s.rest = s.rest[n:]
	return n, nil
}

// Close ends the sending. Reads in progress finish first, so that once it
// returns no one reads the chunk's buffer through it.
func (s *memorySending) Close() error {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	return nil
}

// readerSending is one sending of a caller's body.
type readerSending struct {
	mu    sync.Mutex
	r     io.Reader
	ended bool
}

func (s *readerSending) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return 0, errSendEnded
	}
	return s.r.Read(p)
}

// Close ends the sending once a Read under way has returned.
func (s *readerSending) Close() error {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	return nil
}

// fileSending is one sending of a file range, through its own descriptor
// positioned at the range's start. It implements syscall.Conn, which is
// what net checks before sending a body with sendfile(2): over plain HTTP
// the bytes go from the page cache to the socket without being copied
// through this process. (Over TLS they are read like any reader's.)
type fileSending struct {
	mu  sync.Mutex
	f   *os.File // nil once ended
	end int64    // the range's end in the file
}

func (s *fileSending) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return 0, errSendEnded
	}
	// The offset is the truth: sendfile may have moved it.
	pos, err := s.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	if pos >= s.end {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), s.end-pos)]
	n, err := s.f.Read(p)
	if err == io.EOF {
		err = errFileShrank
	}
	return n, err
}

// SyscallConn gives net the descriptor for sendfile(2).
func (s *fileSending) SyscallConn() (syscall.RawConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil, errSendEnded
	}
	return s.f.SyscallConn()
}

// Close ends the sending and closes its descriptor. A sendfile(2) already
// under way finishes first on its own offset (the os package keeps the
// descriptor open until then); nothing later can read through it.
func (s *fileSending) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// sendPolicy gives net/http a fresh sending of a chunk body for every
// sending of the request, in place of azcore's retry wrapper, which would
// also hide the file from net's sendfile check. It runs on every try and
// after the authentication policy, which resends a body after a 401.
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

// ownDescriptor returns a descriptor of UploadBlob's own for f, when f is
// a regular file this platform can reopen (so that chunks can be sent with
// sendfile(2)); nil otherwise. Reading through it never moves f's offset.
func ownDescriptor(f *os.File) *os.File {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	g, err := reopenFile(f)
	if err != nil {
		return nil
	}
	// The caller might have closed f, and its descriptor number been
	// reused, between Stat and the reopening.
	if gi, err := g.Stat(); err != nil || !os.SameFile(fi, gi) {
		g.Close()
		return nil
	}
	return g
}
