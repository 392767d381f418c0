package main

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// shaper is a TCP proxy that makes loopback look like a long link. Every
// connection accepted is relayed to the upstream address, and each
// direction of each connection is shaped on its own:
//
//   - a token bucket caps it at rate bytes per second (with a burst of
//     shaperBurst), the way a per-flow bottleneck would;
//   - every byte is delivered delay after it passed the bucket, so a
//     request and its answer take at least two delays, whatever the
//     transfer;
//   - the first bytes a client sends wait a round trip more (2×delay): the
//     TCP handshake a real link would have made the client wait for, which
//     loopback's connect() does not.
//
// TLS passes through untouched: the proxy relays bytes and reads none of
// them. It does not model slow start, loss or reordering, and it
// acknowledges what it has read at once, so the sender's own TCP window
// never waits on the delay: it stands for a path whose window is wide
// enough for its rate.
type shaper struct {
	ln       net.Listener
	upstream string
	delay    time.Duration // one way
	rate     float64       // bytes/s per connection and direction; 0 for no cap

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

const (
	// shaperBurst is what a direction may send at once after an idle
	// spell: a few milliseconds' worth at tens of MB/s, enough to absorb a
	// timer's oversleep without losing rate.
	shaperBurst = 64 << 10
	// shaperRead is the size of one read, so of one chunk in flight.
	shaperRead = 32 << 10
	// shaperQueue is how many chunks may be in flight on one direction;
	// it must hold rate×delay bytes or the queue, not the bucket, caps the
	// rate (1024 × 32 KiB over 10 ms is 3 GB/s).
	shaperQueue = 1024
)

var shaperBufs = sync.Pool{New: func() any { b := make([]byte, shaperRead); return &b }}

// startShaper listens on a loopback port and relays to upstream.
func startShaper(upstream string, delay time.Duration, rate float64) (*shaper, error) {
	if delay < 0 || rate < 0 {
		return nil, errors.New("shaper: negative delay or rate")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &shaper{ln: ln, upstream: upstream, delay: delay, rate: rate, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Addr is where clients connect instead of the upstream.
func (s *shaper) Addr() string { return s.ln.Addr().String() }

// Close stops accepting, cuts every relayed connection and waits for the
// relays to end.
func (s *shaper) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// track remembers c so Close can cut it; false when the shaper is closed.
func (s *shaper) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *shaper) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *shaper) serve() {
	defer s.wg.Done()
	for {
		down, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go s.relay(down)
	}
}

func (s *shaper) relay(down net.Conn) {
	defer s.wg.Done()
	if !s.track(down) {
		_ = down.Close()
		return
	}
	defer s.untrack(down)
	defer down.Close()
	up, err := net.Dial("tcp", s.upstream)
	if err != nil {
		return
	}
	if !s.track(up) {
		_ = up.Close()
		return
	}
	defer s.untrack(up)
	defer up.Close()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.pipe(up, down, 2*s.delay) }()
	go func() { defer wg.Done(); s.pipe(down, up, 0) }()
	wg.Wait()
}

// chunk is one read on its way: it is written to the far side at due.
type chunk struct {
	buf *[]byte
	n   int
	due time.Time
}

// pipe shapes one direction, src to dst, until src ends. A clean end
// (EOF) is passed on as a half-close once everything read is delivered;
// any failure cuts both connections, as a broken link would.
func (s *shaper) pipe(dst, src net.Conn, hold time.Duration) {
	queue := make(chan chunk, shaperQueue)
	delivered := make(chan bool)
	go func() {
		ok := true
		for c := range queue {
			if ok {
				time.Sleep(time.Until(c.due))
				if _, err := dst.Write((*c.buf)[:c.n]); err != nil {
					ok = false
					_ = src.Close()
					_ = dst.Close()
				}
			}
			shaperBufs.Put(c.buf)
		}
		delivered <- ok
	}()
	bucket := tokenBucket{rate: s.rate, burst: shaperBurst}
	earliest := time.Now().Add(hold + s.delay)
	var readErr error
	for {
		buf := shaperBufs.Get().(*[]byte)
		n, err := src.Read(*buf)
		if n > 0 {
			bucket.take(n)
			due := time.Now().Add(s.delay)
			if due.Before(earliest) {
				due = earliest
			}
			queue <- chunk{buf: buf, n: n, due: due}
		} else {
			shaperBufs.Put(buf)
		}
		if err != nil {
			readErr = err
			break
		}
	}
	close(queue)
	ok := <-delivered
	switch {
	case !ok:
	case errors.Is(readErr, io.EOF):
		if cw, isTCP := dst.(interface{ CloseWrite() error }); isTCP {
			_ = cw.CloseWrite()
		} else {
			_ = dst.Close()
		}
	default:
		_ = src.Close()
		_ = dst.Close()
	}
}

// tokenBucket paces one direction at rate bytes per second. It runs into
// debt rather than splitting a read: take sleeps off what the read
// overdrew, so over any stretch longer than burst/rate the rate holds,
// and oversleeping refills the bucket (up to burst) instead of slowing
// the average.
type tokenBucket struct {
	rate   float64 // bytes per second; 0 for no cap
	burst  float64
	tokens float64
	last   time.Time
}

func (b *tokenBucket) take(n int) {
	if b.rate <= 0 {
		return
	}
	now := time.Now()
	if b.last.IsZero() {
		b.tokens = b.burst
	} else {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	b.tokens -= float64(n)
	if b.tokens < 0 {
		time.Sleep(time.Duration(-b.tokens / b.rate * float64(time.Second)))
	}
}
