package azacr

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Some requests cannot go through azcore's retry policy: those that carry
// blob bytes (the policy would rewind a body net/http may still be
// writing) and ranged blob GETs (each block needs one retry budget, not
// azcore's retries times the library's). The library repeats those itself,
// and retryRules lets those loops follow the caller's policy.RetryOptions
// the way azcore's retry policy (azcore v1.24) follows them. A loop looks
// like this:
//
//	rules := newRetryRules(options.Retry)
//	for try := 1; ; try++ {
//		tctx, cancel := rules.tryContext(ctx)
//		resp, err := send(tctx)
//		wait, again := rules.next(ctx, try, resp, err)
//		if !again {
//			if ctx.Err() != nil {
//				// azcore reports the caller's context, not the try's outcome
//				cancel()
//				return nil, ctx.Err()
//			}
//			// hand resp on, calling cancel once its body is closed
//			return resp, err
//		}
//		// read and close resp's body (if any), then cancel()
//		if err := sleepCtx(ctx, wait); err != nil {
//			return nil, err
//		}
//	}
//
// Two deliberate departures, both where azcore's result is an arithmetic
// accident rather than a choice:
//
//   - A negative RetryDelay means no wait between tries, as RetryOptions
//     documents. azcore v1.24 instead waits MaxRetryDelay (60 s by
//     default), because its overflow test mistakes 0×factor for an
//     overflow.
//   - A Retry-After too large for a Duration counts as the longest
//     possible wait, so it exceeds any MaxRetryDelay and ends the retries
//     (or, with no cap, waits until ctx ends). azcore multiplies it without
//     a bound; the product wraps, and when it wraps negative azcore falls
//     back to its own backoff.
//
// One thing azcore honours cannot be honoured here: retry options attached
// to a context with policy.WithRetryOptions live under a key private to
// azcore, so a loop uses the options it was built with.

// Defaults azcore's retry policy gives a zero field of policy.RetryOptions.
const (
	defaultRetryTries    = 4 // MaxRetries 0 means 3 retries
	defaultRetryDelay    = 800 * time.Millisecond
	defaultMaxRetryDelay = 60 * time.Second
)

// defaultRetryStatusCodes are the statuses azcore retries when
// RetryOptions.StatusCodes is nil: 408, 429, 500, 502, 503 and 504. Not
// 501, 505 or any other 4xx or 5xx. newRetryRules copies the slice, so
// nothing ever writes into this one.
var defaultRetryStatusCodes = []int{
	http.StatusRequestTimeout,
	http.StatusTooManyRequests,
	http.StatusInternalServerError,
	http.StatusBadGateway,
	http.StatusServiceUnavailable,
	http.StatusGatewayTimeout,
}

// retryRules is a caller's policy.RetryOptions with azcore's defaults
// applied, held as a copy: it never writes into, or keeps, the caller's
// StatusCodes slice. The zero retryRules is not useful; build one with
// newRetryRules. A retryRules is safe for concurrent use (ShouldRetry
// aside, which is the caller's).
type retryRules struct {
	retries       int           // repetitions after the first try, ≥ 0
	tryTimeout    time.Duration // bound on one try; 0 means none
	retryDelay    time.Duration // backoff unit, ≥ 0
	maxRetryDelay time.Duration // > 0; math.MaxInt64 when uncapped
	statusCodes   []int         // empty means no status is retried
	shouldRetry   func(*http.Response, error) bool

	// jitter returns a number in [0, 1) that spreads a backoff over 0.8
	// to 1.3 times its nominal length (float rounding can reach 1.3
	// itself, in azcore too); nil means math/rand/v2. Tests set it to get
	// exact delays.
	jitter func() float64
	// now is the clock an HTTP-date Retry-After is measured against; nil
	// means time.Now.
	now func() time.Time
}

// newRetryRules applies azcore's defaults to o:
//
//   - MaxRetries 0 means 3 retries (4 tries); a negative value means none;
//     math.MaxInt32 means math.MaxInt32 tries in all.
//   - RetryDelay 0 means 800 ms; a negative value means no wait (see the
//     departure noted above).
//   - MaxRetryDelay 0 means 60 s; a negative value means no cap.
//   - StatusCodes nil means defaultRetryStatusCodes; an empty, non-nil
//     slice means no status is retried (transport errors still are).
//   - TryTimeout and ShouldRetry are used as given.
func newRetryRules(o policy.RetryOptions) retryRules {
	r := retryRules{
		retries:       int(o.MaxRetries),
		tryTimeout:    o.TryTimeout,
		retryDelay:    o.RetryDelay,
		maxRetryDelay: o.MaxRetryDelay,
		shouldRetry:   o.ShouldRetry,
	}
	switch {
	case o.MaxRetries == 0:
		r.retries = defaultRetryTries - 1
	case o.MaxRetries < 0:
		r.retries = 0
	case o.MaxRetries == math.MaxInt32:
		// tries must fit an int on 32-bit platforms too. azcore's own count
		// wraps here, so this many tries is as good as unlimited either way.
		r.retries = math.MaxInt32 - 1
	}
	switch {
	case o.RetryDelay == 0:
		r.retryDelay = defaultRetryDelay
	case o.RetryDelay < 0:
		r.retryDelay = 0
	}
	switch {
	case o.MaxRetryDelay == 0:
		r.maxRetryDelay = defaultMaxRetryDelay
	case o.MaxRetryDelay < 0:
		r.maxRetryDelay = math.MaxInt64
	}
	if o.StatusCodes == nil {
		r.statusCodes = slices.Clone(defaultRetryStatusCodes)
	} else {
		r.statusCodes = append([]int{}, o.StatusCodes...)
	}
	return r
}

// tries is how many times a request may be sent in all: MaxRetries+1, so
// 1 for a negative MaxRetries and 4 for 0 (and at most math.MaxInt32).
func (r retryRules) tries() int { return r.retries + 1 }

// retriable reports whether a failed try may be repeated, deciding in the
// order azcore does:
//
//  1. Not once ctx, the caller's context (not the try's), has ended,
//     whatever the try returned.
//  2. Not when err is, or wraps, an error with a NonRetriable() method.
//  3. When ShouldRetry is set, its answer, whatever the status or error
//     (it may even retry a 200). It is given exactly one of resp and err.
//  4. Otherwise yes for any other error (a try that TryTimeout cut short
//     included), and for a response whose status is in StatusCodes.
//
// An err that wraps an *azcore.ResponseError with a RawResponse (what the
// clients return for an unexpected status) while resp is nil is judged as
// that response, since azcore's policy would have seen the response
// itself. ctx must not be nil.
func (r retryRules) retriable(ctx context.Context, resp *http.Response, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var final interface{ NonRetriable() }
	if errors.As(err, &final) {
		return false
	}
	resp, err = asResponse(resp, err)
	if r.shouldRetry != nil {
		return r.shouldRetry(resp, err)
	}
	if err != nil {
		return true
	}
	return resp != nil && slices.Contains(r.statusCodes, resp.StatusCode)
}

// allowsResync reports whether the caller's options let an upload resend
// after a refusal that is not a failure to retry but a session that moved
// on (416, BLOB_UPLOAD_INVALID): by default they do, within the tries; a
// ShouldRetry decides for itself, and an explicitly empty StatusCodes,
// which turns every status retry off, turns this off too.
func (r retryRules) allowsResync(err error) bool {
	if r.shouldRetry != nil {
		resp, err := asResponse(nil, err)
		return r.shouldRetry(resp, err)
	}
	return len(r.statusCodes) > 0
}

// delay is how long to wait after try (counted from 1) failed, before try+1.
//
// When resp asks for a wait (see serverRetryAfter), that wait is used as
// is: no jitter, no backoff. If it exceeds MaxRetryDelay, azcore does not
// shorten it but stops retrying and returns the response it has; delay
// then returns the requested wait and false. A wait equal to MaxRetryDelay
// is kept.
//
// Otherwise the wait is RetryDelay × (2^try − 1), so 1, 3, 7, 15… times
// RetryDelay, multiplied by a random factor from 0.8 to 1.3 and capped at
// MaxRetryDelay. Products too large for a Duration saturate; the result
// is never negative.
func (r retryRules) delay(try int, resp *http.Response) (time.Duration, bool) {
	if d := serverRetryAfter(resp, r.clock()); d > 0 {
		return d, d <= r.maxRetryDelay
	}
	return r.backoff(try), true
}

// next combines retriable, tries and delay in azcore's order, after try
// (counted from 1) ended with resp or err: it reports whether to send
// again and how long to wait first. As in azcore, ShouldRetry is consulted
// even after the last try. Before waiting, the caller must read and close
// resp's body, as azcore drains it, so the connection can be reused.
func (r retryRules) next(ctx context.Context, try int, resp *http.Response, err error) (time.Duration, bool) {
	if !r.retriable(ctx, resp, err) || try >= r.tries() {
		return 0, false
	}
	resp, _ = asResponse(resp, err)
	return r.delay(try, resp)
}

// tryContext returns the context for one try: ctx bounded by TryTimeout,
// or ctx itself when TryTimeout is 0. As in azcore, any other value
// applies, so a negative TryTimeout gives every try a context that has
// already expired (RetryOptions documents only values above zero). Call
// the CancelFunc once the try's response body has been read or closed, not
// before: cancelling ends the body too.
func (r retryRules) tryContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.tryTimeout == 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, r.tryTimeout)
}

// backoff is delay's wait when the server asks for none.
func (r retryRules) backoff(try int) time.Duration {
	if r.retryDelay <= 0 {
		return 0
	}
	try = max(try, 1)
	d := time.Duration(math.MaxInt64)
	if try < 63 {
		if factor := time.Duration(1)<<try - 1; r.retryDelay <= math.MaxInt64/factor {
			d = r.retryDelay * factor
		}
	}
	jitter := rand.Float64
	if r.jitter != nil {
		jitter = r.jitter
	}
	j := min(max(jitter(), 0), 1)
	if f := float64(d) * (0.8 + j/2); f < float64(math.MaxInt64) {
		d = time.Duration(f)
	} else {
		d = math.MaxInt64
	}
	return min(d, r.maxRetryDelay)
}

func (r retryRules) clock() time.Time {
	if r.now != nil {
		return r.now()
	}
	return time.Now()
}

// serverRetryAfter is the wait resp asks for, or 0 when it asks for none.
// Like azcore, it reads the first of these headers that holds a positive
// wait, ignoring any that is empty, zero, negative or unreadable:
//
//   - Retry-After-Ms: whole milliseconds;
//   - X-Ms-Retry-After-Ms: whole milliseconds;
//   - Retry-After: whole seconds, or an HTTP-date in the RFC 1123 form
//     ("Mon, 02 Jan 2006 15:04:05 GMT") later than now. The obsolete
//     RFC 850 and asctime date forms are ignored, as azcore ignores them.
//
// A number is what strconv accepts in base 10 (an optional sign, digits,
// nothing else). One too large for a Duration, however many digits, counts
// as math.MaxInt64 nanoseconds.
func serverRetryAfter(resp *http.Response, now time.Time) time.Duration {
	if resp == nil {
		return 0
	}
	for _, h := range [...]struct {
		name string
		unit time.Duration
	}{
		{"Retry-After-Ms", time.Millisecond},
		{"X-Ms-Retry-After-Ms", time.Millisecond},
		{"Retry-After", time.Second},
	} {
		v := resp.Header.Get(h.name)
		if v == "" {
			continue
		}
		// Out of range, ParseInt returns its bound along with the error,
		// as strconv.Atoi does for azcore: a huge number is a positive
		// one, saturated below instead of multiplied.
		n, _ := strconv.ParseInt(v, 10, 64)
		if n > 0 {
			if n > int64(math.MaxInt64/h.unit) {
				return math.MaxInt64
			}
			return time.Duration(n) * h.unit
		}
		if h.unit == time.Second {
			if t, err := time.Parse(time.RFC1123, v); err == nil {
				if d := t.Sub(now); d > 0 {
					return d
				}
			}
		}
	}
	return 0
}

// asResponse returns the response an error stands for: when resp is nil
// and err wraps an *azcore.ResponseError holding the response, that
// response and a nil error; otherwise resp and err unchanged.
func asResponse(resp *http.Response, err error) (*http.Response, error) {
	var re *azcore.ResponseError
	if resp == nil && errors.As(err, &re) && re.RawResponse != nil {
		return re.RawResponse, nil
	}
	return resp, err
}

// sleepCtx waits d, or until ctx ends. It returns nil after the wait, and
// an error wrapping ctx.Err() (and the context's cause, when that differs)
// as soon as ctx ends, without waiting for d. A ctx that has already ended
// fails even when d is 0 or less; otherwise such a d returns nil at once.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if ctx.Err() != nil {
		return waitEnded(ctx)
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return waitEnded(ctx)
	}
}

func waitEnded(ctx context.Context) error {
	err := ctx.Err()
	if cause := context.Cause(ctx); cause != nil && cause != err {
		return fmt.Errorf("azacr: waiting to retry: %w: %w", err, cause)
	}
	return fmt.Errorf("azacr: waiting to retry: %w", err)
}
