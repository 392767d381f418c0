package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/conformance"
)

// registryHello is the first line a registry child prints: where to reach
// it. Addr is the data port (plain or TLS, maybe rate-capped), Control a
// separate plain port for the counters, so reading them neither counts as
// a request nor opens a connection on the data port.
type registryHello struct {
	Addr     string `json:"addr"`
	Control  string `json:"control"`
	CertFile string `json:"cert_file,omitempty"`
}

// serverStats is what the registry saw since the last reset.
type serverStats struct {
	Requests   map[string]int `json:"requests"`
	Conns      int64          `json:"conns"`
	CPUSec     float64        `json:"cpu_sec"`
	PeakRSSKiB int64          `json:"peak_rss_kib"`
	// BytesIn is what the registry read of request bodies, BytesOut what
	// its handlers wrote of response bodies (headers not counted; net/http
	// drops what is written to a HEAD), over all requests.
	BytesIn  int64 `json:"bytes_in"`
	BytesOut int64 `json:"bytes_out"`
	// WireIn and WireOut are what crossed the registry's connections,
	// read and written: request and response headers and bodies, TLS
	// records and handshakes included. They are what the client sent and
	// received, whatever client it was.
	WireIn  int64 `json:"wire_in"`
	WireOut int64 `json:"wire_out"`
	// Timeline has the first requests' timing, to see where a slow
	// operation waits.
	Timeline []requestTiming `json:"timeline,omitempty"`
}

// requestTiming is one request as the registry handled it, in
// milliseconds since the reset.
type requestTiming struct {
	Method  string  `json:"method"`
	Path    string  `json:"path,omitempty"`
	Range   string  `json:"range,omitempty"`
	StartMs float64 `json:"start_ms"`
	DurMs   float64 `json:"dur_ms"`
	In      int64   `json:"in,omitempty"`  // request body bytes read
	Out     int64   `json:"out,omitempty"` // response body bytes written
}

// maxTimeline bounds the timeline; an upload of many chunks would
// otherwise make every stats answer long.
const maxTimeline = 256

type counters struct {
	mu       sync.Mutex
	requests map[string]int
	timeline []requestTiming
	in, out  int64
	conns    atomic.Int64
	wireIn   atomic.Int64
	wireOut  atomic.Int64
	cpuAt    time.Duration
	at       time.Time
}

func (c *counters) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests = map[string]int{}
	c.timeline = nil
	c.in, c.out = 0, 0
	c.at = time.Now()
	c.conns.Store(0)
	c.wireIn.Store(0)
	c.wireOut.Store(0)
	c.cpuAt = selfCPU()
	resetPeakRSS()
}

func (c *counters) snapshot() serverStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := serverStats{Requests: map[string]int{}, Conns: c.conns.Load(), CPUSec: (selfCPU() - c.cpuAt).Seconds(), PeakRSSKiB: selfPeakRSSKiB(), BytesIn: c.in, BytesOut: c.out,
		WireIn: c.wireIn.Load(), WireOut: c.wireOut.Load()}
	for k, v := range c.requests {
		s.Requests[k] = v
	}
	s.Timeline = append([]requestTiming(nil), c.timeline...)
	return s
}

// countingBody counts what the registry reads of a request body.
// http's request body has no WriteTo, so wrapping it changes no copy path.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// countingResponseWriter counts the response body the registry writes.
// distribution wraps every ResponseWriter in one of its own that has only
// Write, WriteHeader and Flush, so hiding ReadFrom here changes no copy
// path either (its GETs never reach sendfile).
type countingResponseWriter struct {
	http.ResponseWriter
	n int64
}

func (w *countingResponseWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

func (w *countingResponseWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *countingResponseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countingListener counts accepted connections and, when rate > 0, caps
// each connection's writes at rate bytes per second: a stand-in for the
// per-connection throughput of a long-distance TCP path, which is what
// makes parallel ranged downloads pay off on the internet.
type countingListener struct {
	net.Listener
	c    *counters
	rate float64
}

func (l *countingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.c.conns.Add(1)
	if l.rate > 0 {
		conn = &throttledConn{Conn: conn, rate: l.rate}
	}
	return &wireConn{Conn: conn, c: l.c}, nil
}

// wireConn counts the bytes that cross a connection. Its ReadFrom hands
// the copy to the connection underneath when that can take it (a
// *net.TCPConn's sendfile and splice), so counting changes no copy path.
type wireConn struct {
	net.Conn
	c *counters
}

func (w *wireConn) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	w.c.wireIn.Add(int64(n))
	return n, err
}

func (w *wireConn) Write(p []byte) (int, error) {
	n, err := w.Conn.Write(p)
	w.c.wireOut.Add(int64(n))
	return n, err
}

func (w *wireConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := w.Conn.(io.ReaderFrom); ok {
		n, err := rf.ReadFrom(r)
		w.c.wireOut.Add(n)
		return n, err
	}
	return io.Copy(struct{ io.Writer }{w}, r)
}

// throttledConn paces writes in small slices. A schedule that fell behind
// by oversleeping catches up, but one left behind by an idle keep-alive
// connection restarts from now, so idleness never banks a burst.
type throttledConn struct {
	net.Conn
	rate float64
	mu   sync.Mutex
	next time.Time
}

const (
	throttleSlice = 16 << 10
	throttleIdle  = 20 * time.Millisecond
)

func (t *throttledConn) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	written := 0
	for len(p) > 0 {
		k := min(len(p), throttleSlice)
		if now := time.Now(); now.Sub(t.next) > throttleIdle {
			t.next = now
		}
		t.next = t.next.Add(time.Duration(float64(k) / t.rate * float64(time.Second)))
		n, err := t.Conn.Write(p[:k])
		written += n
		if err != nil {
			return written, err
		}
		p = p[k:]
		time.Sleep(time.Until(t.next))
	}
	return written, nil
}

// registryChild runs distribution (filesystem driver) until its stdin
// closes, which happens when the parent exits or stops it.
func registryChild(args []string) error {
	fs := flag.NewFlagSet("registry", flag.ContinueOnError)
	dir := fs.String("dir", "", "storage root")
	useTLS := fs.Bool("tls", false, "serve TLS")
	certFile := fs.String("cert", "", "where to write the server certificate (PEM) with -tls")
	rate := fs.Float64("rate", 0, "per-connection write cap in bytes/s; 0 means none")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("registry: -dir is required")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	app, shutdown, err := conformance.NewRegistryApp(ctx, conformance.RegistryConfig{Dir: *dir})
	if err != nil {
		return err
	}
	defer shutdown()

	c := &counters{}
	c.reset()
	data := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.requests[r.Method]++
		at := c.at
		c.mu.Unlock()
		cw := &countingResponseWriter{ResponseWriter: w}
		var body *countingBody
		if r.Body != nil && r.Body != http.NoBody {
			body = &countingBody{ReadCloser: r.Body}
			r.Body = body
		}
		start := time.Now()
		app.ServeHTTP(cw, r)
		end := time.Now()
		var in int64
		if body != nil {
			in = body.n
		}
		c.mu.Lock()
		if c.at.Equal(at) {
			c.in += in
			c.out += cw.n
			if len(c.timeline) < maxTimeline {
				c.timeline = append(c.timeline, requestTiming{
					Method: r.Method, Path: r.URL.Path, Range: r.Header.Get("Range"),
					StartMs: float64(start.Sub(at).Microseconds()) / 1e3, DurMs: float64(end.Sub(start).Microseconds()) / 1e3,
					In: in, Out: cw.n,
				})
			}
		}
		c.mu.Unlock()
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := httptest.NewUnstartedServer(data)
	srv.Listener.Close()
	srv.Listener = &countingListener{Listener: ln, c: c, rate: *rate}
	// Quiet: ggcr's https probe of a plain port is expected noise.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	hello := registryHello{}
	if *useTLS {
		srv.StartTLS()
		if *certFile == "" {
			return errors.New("registry: -cert is required with -tls")
		}
		block := &pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}
		if err := os.WriteFile(*certFile, pem.EncodeToMemory(block), 0o600); err != nil {
			return err
		}
		hello.CertFile = *certFile
	} else {
		srv.Start()
	}
	defer srv.Close()
	hello.Addr = ln.Addr().String()

	ctl := http.NewServeMux()
	ctl.HandleFunc("POST /reset", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("wipe") == "1" {
			// Every push starts from empty storage: no run pays for, or
			// profits from, what an earlier one left on disk.
			if err := wipe(*dir); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		c.reset()
		w.WriteHeader(http.StatusNoContent)
	})
	ctl.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(c.snapshot())
	})
	cln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ctlSrv := &http.Server{Handler: ctl, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = ctlSrv.Serve(cln) }()
	defer ctlSrv.Close()
	hello.Control = cln.Addr().String()

	line, _ := json.Marshal(hello)
	fmt.Println(string(line))
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

func wipe(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
