package azacr

// One concurrency budget for a whole-image transfer that shrinks when the
// registry throttles: azcore's retry policy waits out each 429 (honouring
// Retry-After), and the pipeline tells the transfer, which halves how many
// requests it runs at once and grows back by one after each budget's worth
// of requests that were not throttled.

import (
	"context"
	"net/http"
	"slices"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// throttle is a transfer's concurrency budget. Slots go to waiters by
// priority (the size of the blob they work on), so that the parts of the
// largest blob, which decides how long the transfer takes, run first.
type throttle struct {
	mu      sync.Mutex
	max     int // the Concurrency option
	limit   int // the budget now: 1..max
	inUse   int // slots taken
	clean   int // slots released since the last 429
	waiters []*slotWaiter
}

// slotWaiter is a goroutine waiting for a slot.
type slotWaiter struct {
	priority int64
	granted  chan struct{} // closed when the slot is the waiter's
}

func newThrottle(max int) *throttle {
	return &throttle{max: max, limit: max}
}

// acquire takes a slot with the lowest priority, waiting while the budget
// is spent, until ctx ends.
func (t *throttle) acquire(ctx context.Context) error { return t.acquireFor(ctx, 0) }

// acquireFor takes a slot, after every waiter of a higher priority and
// those of the same priority that came first.
func (t *throttle) acquireFor(ctx context.Context, priority int64) error {
	t.mu.Lock()
	if t.inUse < t.limit && len(t.waiters) == 0 {
		t.inUse++
		t.mu.Unlock()
		return nil
	}
	w := &slotWaiter{priority: priority, granted: make(chan struct{})}
	i := 0
	for i < len(t.waiters) && t.waiters[i].priority >= priority {
		i++
	}
	t.waiters = slices.Insert(t.waiters, i, w)
	t.mu.Unlock()
	select {
	case <-w.granted:
		return nil
	case <-ctx.Done():
		t.mu.Lock()
		defer t.mu.Unlock()
		select {
		case <-w.granted: // granted meanwhile: hand it on
			t.inUse--
			t.grant()
		default:
			t.waiters = slices.DeleteFunc(t.waiters, func(o *slotWaiter) bool { return o == w })
		}
		return ctx.Err()
	}
}

// release returns a slot; a budget's worth of releases since the last
// 429 grows the budget by one.
func (t *throttle) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.inUse--
	if t.clean++; t.clean >= t.limit && t.limit < t.max {
		t.limit++
		t.clean = 0
	}
	t.grant()
}

// grant hands free slots to the first waiters. t.mu is held.
func (t *throttle) grant() {
	for t.inUse < t.limit && len(t.waiters) > 0 {
		w := t.waiters[0]
		t.waiters = t.waiters[1:]
		t.inUse++
		close(w.granted)
	}
}

// throttled halves the budget: the registry answered 429.
func (t *throttle) throttled() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.limit = max(1, t.limit/2)
	t.clean = 0
}

// current is the budget now.
func (t *throttle) current() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.limit
}

// throttleKey is the context key under which a transfer's requests carry
// its throttle.
type throttleKey struct{}

func withThrottle(ctx context.Context, t *throttle) context.Context {
	return context.WithValue(ctx, throttleKey{}, t)
}

// throttlePolicy tells the transfer a request belongs to of each 429 the
// registry answers, try by try.
type throttlePolicy struct{}

func (throttlePolicy) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
		if t, ok := req.Raw().Context().Value(throttleKey{}).(*throttle); ok {
			t.throttled()
		}
	}
	return resp, err
}
