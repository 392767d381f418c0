package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

// echoServer answers every connection with what it reads, then half-closes.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
				_ = c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	return ln.Addr().String()
}

// sinkServer reads every connection to its end and then writes one byte:
// the acknowledgment that all of it arrived.
func sinkServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(io.Discard, c)
				_, _ = c.Write([]byte{1})
			}()
		}
	}()
	return ln.Addr().String()
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestShaperIntact: through the shaper, every byte arrives, in order, in
// both directions, on several connections at once, and a half-close is
// passed on (the echo ends only because the client's EOF reached it).
func TestShaperIntact(t *testing.T) {
	s, err := startShaper(echoServer(t), time.Millisecond, 200e6)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const conns, size = 4, 3 << 20
	errs := make(chan error, conns)
	for i := range conns {
		go func() {
			want := randomBytes(size, uint64(i+1))
			c, err := net.Dial("tcp", s.Addr())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			go func() {
				// Odd-sized writes, so chunks straddle reads.
				for p := want; len(p) > 0; {
					k := min(len(p), 7919)
					if _, err := c.Write(p[:k]); err != nil {
						return
					}
					p = p[k:]
				}
				_ = c.(*net.TCPConn).CloseWrite()
			}()
			got, err := io.ReadAll(c)
			if err == nil && !bytes.Equal(got, want) {
				err = fmt.Errorf("echo differs: got %d bytes, want %d", len(got), len(want))
			}
			errs <- err
		}()
	}
	for range conns {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestShaperRate: at a cap of R bytes/s, N bytes cannot get through in
// less than (N - burst)/R. Only this lower bound is asserted; an upper
// bound would depend on the machine.
func TestShaperRate(t *testing.T) {
	const rate = 20e6 // bytes/s
	const size = 4 << 20
	s, err := startShaper(sinkServer(t), 0, rate)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := c.Write(make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).CloseWrite()
	ack := make([]byte, 1)
	if _, err := io.ReadFull(c, ack); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	floor := time.Duration(float64(size-shaperBurst-shaperRead) / rate * float64(time.Second))
	if took < floor {
		t.Errorf("%d bytes at a cap of %g B/s took %v, less than %v", size, rate, took, floor)
	}
	t.Logf("%d bytes in %v: %.1f MB/s (cap %.1f)", size, took, float64(size)/took.Seconds()/1e6, rate/1e6)
}

// TestShaperDelay: a request and its answer take at least two one-way
// delays, and the first exchange on a new connection a round trip more
// (the handshake loopback skips).
func TestShaperDelay(t *testing.T) {
	const delay = 20 * time.Millisecond
	s, err := startShaper(echoServer(t), delay, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 1)
	var first time.Duration
	for i := range 3 {
		t0 := time.Now()
		if _, err := c.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		if buf[0] != byte(i) {
			t.Fatalf("echo %d, want %d", buf[0], i)
		}
		rtt := time.Since(t0)
		if i == 0 {
			first = time.Since(start)
			if first < 4*delay {
				t.Errorf("first exchange on a new connection took %v, want at least %v", first, 4*delay)
			}
		} else if rtt < 2*delay {
			t.Errorf("exchange %d took %v, want at least %v", i, rtt, 2*delay)
		}
	}
	t.Logf("first exchange %v", first)
}

// TestShaperClose: Close cuts open connections and returns.
func TestShaperClose(t *testing.T) {
	s, err := startShaper(echoServer(t), time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- s.Close() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(buf); err == nil {
		t.Error("the connection still reads after Close")
	}
}
