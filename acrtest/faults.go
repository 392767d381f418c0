package acrtest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault is a failure the Server injects into the requests it matches, so a
// test can show how a client copes with throttling, server errors, dropped
// connections, short or damaged bodies and slow answers, without a real
// network misbehaving. Add one with Server.InjectFault.
//
// A request matches when it satisfies every selector that is set (Method,
// Path, Match). Nth and Times then choose which matching requests the fault
// fires on. When it fires, its actions run in this order: Delay; then Reset,
// which ends the request; otherwise Status answers in place of the registry,
// and CorruptBody and TruncateBody damage whichever response is sent (the
// registry's or the Status one).
//
// Faults are checked before authentication and routing, so any request to
// the registry host can be faulted, the /oauth2 token endpoints included.
// When several faults fire on one request their actions combine: delays
// add up, a Reset beats any Status, the first Status injected beats later
// ones, and the smallest TruncateBody applies. Faults do not apply to the storage host of
// Options.RedirectBlobs unless their Path is set and matches its path.
type Fault struct {
	// Method restricts the fault to requests with this HTTP method, such as
	// "PATCH" to fail upload chunks. Empty matches every method.
	Method string
	// Path restricts the fault to requests whose decoded URL path contains
	// it, such as "/oauth2/token" or "/blobs/uploads/". Empty matches every
	// path.
	Path string
	// Match, when set, is an extra condition, for when method and path are
	// not enough (a header, a query parameter). It must not read the request
	// body, and it may be called concurrently.
	Match func(*http.Request) bool

	// Nth makes the fault fire first on the Nth matching request (1-based),
	// to fail one step in the middle of a sequence, such as the second chunk
	// of an upload. Zero means it starts with the first matching request.
	Nth int
	// Times is how many consecutive matching requests the fault fires on,
	// starting at the Nth. Zero means once when Nth is set, and on every
	// matching request otherwise.
	Times int

	// Delay holds the request this long before anything else happens, to
	// exercise client timeouts and cancellation. The wait ends early, and the
	// request is dropped unanswered, when the client goes away or the server
	// closes. The request's body (up to 64 MiB) is read before the wait: Go's
	// server notices a client hanging up only once the body has been read.
	Delay time.Duration

	// Status, when not zero, answers the request with this status code and
	// ACR's error body instead of letting the registry handle it: code
	// TOOMANYREQUESTS for 429, UNAUTHORIZED for 401, DENIED for 403 and
	// UNKNOWN otherwise. It must lie between 200 and 599.
	Status int
	// RetryAfter, when positive, adds a Retry-After header to the Status
	// answer, in whole seconds rounded up, as ACR does when it throttles.
	RetryAfter time.Duration

	// Reset drops the connection without answering, as a failing load
	// balancer or network does. The client sees a connection reset (or EOF)
	// instead of a response. Note that Go's http.Transport silently resends
	// a bodiless GET or HEAD that fails this way on a reused connection.
	Reset bool
	// ResetAfterBytes is how much of the request body the server reads
	// before a Reset, to break an upload part-way through. Zero resets
	// before reading any body.
	ResetAfterBytes int64

	// TruncateBody, when positive, lets the registry answer but closes the
	// connection after that many bytes of the response body, so the client
	// gets the status and headers and then an unexpected EOF while reading.
	// A body no longer than TruncateBody arrives whole.
	TruncateBody int64
	// CorruptBody flips bits in every byte of the response body while
	// keeping its length, so only content checks (digests, JSON parsing)
	// can notice.
	CorruptBody bool
}

// FaultKind names a kind of failure InjectRandomFaults draws from.
type FaultKind int

// The kinds of random fault. Each mirrors a failure real registries and
// networks produce under load.
const (
	// FaultThrottle answers 429 TOOMANYREQUESTS with Retry-After of 0 or 1
	// second, like ACR over its request rate.
	FaultThrottle FaultKind = iota + 1
	// FaultServerError answers 500 UNKNOWN.
	FaultServerError
	// FaultUnavailable answers 503 UNKNOWN, like a registry being updated.
	FaultUnavailable
	// FaultReset drops the connection after reading a random part of the
	// request body (none for bodiless requests).
	FaultReset
	// FaultTruncate lets the registry answer and cuts the response body at
	// a random point. A response with an empty body is unaffected.
	FaultTruncate
	// FaultDelay holds the request for a random time under 100ms.
	FaultDelay
)

// allFaultKinds is what InjectRandomFaults draws from when given no kinds.
var allFaultKinds = []FaultKind{FaultThrottle, FaultServerError, FaultUnavailable, FaultReset, FaultTruncate, FaultDelay}

// maxDelayedBody bounds how much of a delayed request's body is read
// ahead into memory (see perform); a larger body's remainder is read by the
// handler as usual, and its client hanging up is then noticed only when
// the delay ends.
const maxDelayedBody = 64 << 20

// maxRandomDelay bounds FaultDelay: long enough to reorder concurrent
// requests, short enough for load tests that make thousands of them.
const maxRandomDelay = 100 * time.Millisecond

// String returns the constant's name, for test failure messages.
func (k FaultKind) String() string {
	switch k {
	case FaultThrottle:
		return "FaultThrottle"
	case FaultServerError:
		return "FaultServerError"
	case FaultUnavailable:
		return "FaultUnavailable"
	case FaultReset:
		return "FaultReset"
	case FaultTruncate:
		return "FaultTruncate"
	case FaultDelay:
		return "FaultDelay"
	}
	return "FaultKind(" + strconv.Itoa(int(k)) + ")"
}

// InjectFault adds a fault to the server. It panics if the fault is
// malformed (a negative count or size, or a status outside 200-599), since
// that is a bug in the test.
func (s *Server) InjectFault(f Fault) {
	switch {
	case f.Nth < 0 || f.Times < 0:
		panic(fmt.Sprintf("acrtest: Fault Nth (%d) and Times (%d) must not be negative", f.Nth, f.Times))
	case f.Status != 0 && (f.Status < 200 || f.Status > 599):
		panic(fmt.Sprintf("acrtest: Fault Status %d is not between 200 and 599", f.Status))
	case f.Delay < 0 || f.RetryAfter < 0 || f.ResetAfterBytes < 0 || f.TruncateBody < 0:
		panic("acrtest: Fault durations and sizes must not be negative")
	}
	s.faults.mu.Lock()
	s.faults.armed = append(s.faults.armed, &armedFault{Fault: f})
	s.faults.mu.Unlock()
}

// InjectRandomFaults makes a fraction rate (0 to 1) of all later requests
// to the registry host fail with a fault drawn from kinds (every kind when
// none is given), for load and soak tests of retry logic. The draws come
// from a generator seeded with seed, so a run that sends the same requests
// one after another sees the same faults on the same requests; concurrent
// requests take draws in arrival order. A rate of 0 or less turns random
// faults off; a new call replaces the previous setting. Random faults add
// to those of InjectFault.
func (s *Server) InjectRandomFaults(rate float64, seed int64, kinds ...FaultKind) {
	for _, k := range kinds {
		if k < FaultThrottle || k > FaultDelay {
			panic(fmt.Sprintf("acrtest: unknown %v", k))
		}
	}
	if len(kinds) == 0 {
		kinds = allFaultKinds
	}
	var rf *randomFaults
	if rate > 0 {
		rf = &randomFaults{
			rate:  math.Min(rate, 1),
			kinds: append([]FaultKind(nil), kinds...),
			// Both PCG words derive from seed so that equal seeds give
			// equal sequences; the constant only decorrelates the two.
			rng: rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15)),
		}
	}
	s.faults.mu.Lock()
	s.faults.random = rf
	s.faults.mu.Unlock()
}

// ClearFaults removes every fault, random ones included, and resets
// FaultsFired, so a test can fault one phase and run the next cleanly.
func (s *Server) ClearFaults() {
	s.faults.mu.Lock()
	s.faults.armed = nil
	s.faults.random = nil
	s.faults.fired = 0
	s.faults.generation++
	s.faults.mu.Unlock()
}

// FaultsFired returns how many times faults have fired since the server
// started or ClearFaults was last called; a request hit by two faults
// counts twice. Use it to check that a test exercised the failure it meant
// to.
func (s *Server) FaultsFired() int {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	return s.faults.fired
}

// faultSet holds a server's faults. Its zero value has none.
type faultSet struct {
	mu    sync.Mutex
	armed []*armedFault
	// generation changes on ClearFaults, so a request that matched faults
	// while they were being cleared does not fire them.
	generation int
	random     *randomFaults
	fired      int
	// closing is closed when the server starts to shut down: a delayed
	// request must not keep Close waiting for its handler.
	closing     chan struct{}
	closingOnce sync.Once
}

// close releases every delayed request; Server.Close calls it first.
func (f *faultSet) close() {
	f.closingOnce.Do(func() { close(f.closing) })
}

// armedFault is an injected fault with its counters, guarded by faultSet.mu.
type armedFault struct {
	Fault
	seen  int // matching requests so far
	fired int
}

// matches applies the selectors. The fields it reads never change after
// InjectFault, so it runs without the lock.
func (af *armedFault) matches(r *http.Request) bool {
	return (af.Method == "" || af.Method == r.Method) &&
		(af.Path == "" || strings.Contains(r.URL.Path, af.Path)) &&
		(af.Match == nil || af.Match(r))
}

// due counts one more matching request and reports whether the fault fires
// on it.
func (af *armedFault) due() bool {
	af.seen++
	first, limit := max(af.Nth, 1), af.Times
	if limit == 0 && af.Nth > 0 {
		limit = 1
	}
	if af.seen < first || (limit > 0 && af.fired >= limit) {
		return false
	}
	af.fired++
	return true
}

func (af *armedFault) action() action {
	a := noAction()
	a.delay = af.Delay
	a.status = af.Status
	if af.Status != 0 && af.RetryAfter > 0 {
		a.retryAfter = int((af.RetryAfter + time.Second - 1) / time.Second)
	}
	a.reset, a.resetAfter = af.Reset, af.ResetAfterBytes
	if af.TruncateBody > 0 {
		a.truncate = af.TruncateBody
	}
	a.corrupt = af.CorruptBody
	return a
}

// randomFaults is the state of InjectRandomFaults, guarded by faultSet.mu
// because rand.Rand is not safe for concurrent use.
type randomFaults struct {
	rate  float64
	kinds []FaultKind
	rng   *rand.Rand
}

// draw decides whether r gets a random fault. Every request consumes one
// draw, and a faulted one exactly two more (kind, parameter), so the
// sequence of faulted requests depends only on the seed and the order of
// requests.
func (rf *randomFaults) draw(r *http.Request) (action, bool) {
	if rf.rng.Float64() >= rf.rate {
		return action{}, false
	}
	kind := rf.kinds[rf.rng.IntN(len(rf.kinds))]
	u := rf.rng.Float64()
	a := noAction()
	switch kind {
	case FaultThrottle:
		a.status, a.retryAfter = http.StatusTooManyRequests, int(u*2)
	case FaultServerError:
		a.status = http.StatusInternalServerError
	case FaultUnavailable:
		a.status = http.StatusServiceUnavailable
	case FaultReset:
		size := r.ContentLength
		if size < 0 { // chunked: the length is unknown, guess a chunk's worth
			size = 64 << 10
		}
		a.reset, a.resetAfter = true, int64(u*float64(size))
	case FaultTruncate:
		a.truncateFraction = u
	case FaultDelay:
		a.delay = time.Duration(u * float64(maxRandomDelay))
	}
	return a, true
}

// action is what the faults firing on one request do, merged.
type action struct {
	delay      time.Duration
	status     int
	retryAfter int // whole seconds; -1 sends no Retry-After
	reset      bool
	resetAfter int64
	corrupt    bool
	truncate   int64 // cut the body after this many bytes; -1 never
	// truncateFraction cuts the body at this fraction of its length; -1
	// never. Random faults use it because they cannot know the length in
	// advance, and a fixed cut would miss short bodies.
	truncateFraction float64
}

func noAction() action { return action{retryAfter: -1, truncate: -1, truncateFraction: -1} }

// merge combines the actions of two faults firing on one request; a is the
// one injected first.
func (a action) merge(b action) action {
	a.delay += b.delay
	if !a.reset && b.reset {
		a.reset, a.resetAfter = true, b.resetAfter
	}
	if a.status == 0 {
		a.status, a.retryAfter = b.status, b.retryAfter
	}
	a.corrupt = a.corrupt || b.corrupt
	if b.truncate >= 0 && (a.truncate < 0 || b.truncate < a.truncate) {
		a.truncate = b.truncate
	}
	if b.truncateFraction >= 0 && (a.truncateFraction < 0 || b.truncateFraction < a.truncateFraction) {
		a.truncateFraction = b.truncateFraction
	}
	return a
}

// apply runs the faults that fire on a registry request. It returns the
// writer the handler must use, and true when the fault already disposed of
// the request so the handler must not run.
func (f *faultSet) apply(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, bool) {
	a, ok := f.decide(r, false)
	if !ok {
		return w, false
	}
	return a.perform(w, r, f.closing)
}

// applyStorage is apply for the storage host that blob reads are redirected
// to. Only faults aimed at it by Path fire there: a fault meant for a
// registry path (or a random one) would otherwise also hit the redirected
// read and fail the test for the wrong reason.
func (f *faultSet) applyStorage(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, bool) {
	a, ok := f.decide(r, true)
	if !ok {
		return w, false
	}
	return a.perform(w, r, f.closing)
}

// decide counts r against the faults and merges the actions of those that
// fire. Match functions run outside the lock, so one that calls back into
// the Server cannot deadlock.
func (f *faultSet) decide(r *http.Request, storage bool) (action, bool) {
	f.mu.Lock()
	armed, generation := f.armed, f.generation
	f.mu.Unlock()

	var matched []*armedFault
	for _, af := range armed {
		if storage && af.Path == "" {
			continue
		}
		if af.matches(r) {
			matched = append(matched, af)
		}
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	a, fired := noAction(), false
	if generation == f.generation {
		for _, af := range matched {
			if af.due() {
				a, fired = a.merge(af.action()), true
				f.fired++
			}
		}
	}
	if !storage && f.random != nil {
		if ra, ok := f.random.draw(r); ok {
			a, fired = a.merge(ra), true
			f.fired++
		}
	}
	return a, fired
}

// perform carries out a merged action (see Fault for the order). A delay
// ends early when the client goes away or closing is closed.
func (a action) perform(w http.ResponseWriter, r *http.Request, closing <-chan struct{}) (http.ResponseWriter, bool) {
	if a.delay > 0 {
		// net/http notices a client hanging up (and cancels the request's
		// context) only once the handler has read the request body to its
		// end, so a delayed request's body is read first, into memory.
		if r.Body != nil && r.Body != http.NoBody {
			body, err := io.ReadAll(io.LimitReader(r.Body, maxDelayedBody))
			if err != nil {
				resetConnection(w, r, 0)
				return w, true
			}
			r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
		}
		t := time.NewTimer(a.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-closing:
			resetConnection(w, r, 0)
			return w, true
		case <-r.Context().Done():
			// The client gave up. Drop the connection rather than return:
			// a handler that returns unanswered makes the server send an
			// empty 200, which can still reach a client closing its end.
			resetConnection(w, r, 0)
			return w, true
		}
	}
	if a.reset {
		resetConnection(w, r, a.resetAfter)
		return w, true
	}
	if a.corrupt || a.truncate >= 0 || a.truncateFraction >= 0 {
		w = &faultWriter{ResponseWriter: w, corrupt: a.corrupt, limit: a.truncate, fraction: a.truncateFraction}
	}
	if a.status != 0 {
		if a.retryAfter >= 0 {
			w.Header().Set("Retry-After", strconv.Itoa(a.retryAfter))
		}
		msg := strings.ToLower(http.StatusText(a.status)) + " (fault injected by acrtest)"
		writeError(w, a.status, faultCode(a.status), msg, NoDetail)
		return w, true
	}
	return w, false
}

// faultCode is the ACR error code that goes with an injected status.
func faultCode(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return CodeTooManyRequests
	case http.StatusUnauthorized:
		return CodeUnauthorized
	case http.StatusForbidden:
		return CodeDenied
	}
	return CodeUnknown
}

// resetConnection reads up to n bytes of the request body, then closes the
// connection abruptly. Lingering zero makes the kernel send a TCP RST, so
// the client sees "connection reset by peer", the usual symptom of a proxy
// or load balancer dropping a request.
func resetConnection(w http.ResponseWriter, r *http.Request, n int64) {
	if n > 0 {
		_, _ = io.CopyN(io.Discard, r.Body, n)
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 cannot hand over the connection; aborting the handler
		// resets the stream instead.
		panic(http.ErrAbortHandler)
	}
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		raw = tc.NetConn() // skip TLS close_notify, which would be a clean EOF
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = raw.Close()
}

// errTruncated is what the handler's writes return once a fault has cut the
// response, as writes to a broken connection fail.
var errTruncated = errors.New("acrtest: response cut by an injected fault")

// faultWriter damages the response body on its way to the client. It runs
// inside one handler goroutine, so it needs no lock.
type faultWriter struct {
	http.ResponseWriter
	corrupt     bool
	limit       int64   // body bytes to let through; -1 unlimited
	fraction    float64 // cut at this fraction of the body length; -1 none
	written     int64
	wroteHeader bool
	cut         bool
}

func (fw *faultWriter) setLimit(n int64) {
	if fw.limit < 0 || n < fw.limit {
		fw.limit = n
	}
}

func (fw *faultWriter) WriteHeader(code int) {
	if fw.cut {
		return
	}
	if code >= http.StatusOK && !fw.wroteHeader {
		fw.wroteHeader = true
		// A declared length lets a fractional cut fall anywhere in the
		// body, even one streamed in many writes.
		if n, err := strconv.ParseInt(fw.Header().Get("Content-Length"), 10, 64); err == nil && n > 0 && fw.fraction >= 0 {
			fw.setLimit(int64(fw.fraction * float64(n)))
			fw.fraction = -1
		}
	}
	fw.ResponseWriter.WriteHeader(code)
}

func (fw *faultWriter) Write(p []byte) (int, error) {
	if fw.cut {
		return 0, errTruncated
	}
	if !fw.wroteHeader {
		fw.WriteHeader(http.StatusOK)
	}
	if fw.fraction >= 0 && len(p) > 0 {
		// No declared length: cut inside the first write, which holds the
		// whole body for the JSON answers.
		fw.setLimit(int64(fw.fraction * float64(len(p))))
		fw.fraction = -1
	}
	if fw.corrupt {
		// Copy: the handler may be writing stored content it still owns.
		q := make([]byte, len(p))
		for i, b := range p {
			q[i] = b ^ 0x01
		}
		p = q
	}
	if fw.limit < 0 || int64(len(p)) <= fw.limit-fw.written {
		n, err := fw.ResponseWriter.Write(p)
		fw.written += int64(n)
		return n, err
	}
	n, err := fw.ResponseWriter.Write(p[:fw.limit-fw.written])
	fw.written += int64(n)
	if err != nil {
		return n, err
	}
	fw.cutConnection()
	return n, errTruncated
}

// cutConnection sends what was written so far and closes the connection,
// so the client reads a status, headers and part of the body, then EOF:
// io.ErrUnexpectedEOF for a body with a declared length or chunked
// encoding.
func (fw *faultWriter) cutConnection() {
	fw.cut = true
	rc := http.NewResponseController(fw.ResponseWriter)
	_ = rc.Flush()
	conn, _, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // HTTP/2: reset the stream instead
	}
	_ = conn.Close()
}

// Flush lets streaming handlers flush through the fault, until the cut.
func (fw *faultWriter) Flush() {
	if !fw.cut {
		_ = http.NewResponseController(fw.ResponseWriter).Flush()
	}
}

// Unwrap gives http.ResponseController access to the connection.
func (fw *faultWriter) Unwrap() http.ResponseWriter { return fw.ResponseWriter }
