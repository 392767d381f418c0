package azacr

// One concurrency budget for a whole-image transfer that shrinks when the
// registry throttles: azcore's retry policy waits out each 429 (honouring
// Retry-After), and the pipeline tells the transfer, which halves how many
// requests it runs at once and grows back by one after each budget's worth
// of requests that were not throttled.

import (
	"context"
	"net/http"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// throttle is a transfer's concurrency budget.
type throttle struct {
	mu      sync.Mutex
	max     int           // the Concurrency option
	limit   int           // the budget now: 1..max
	inUse   int           // slots taken
	clean   int           // slots released since the last 429
	changed chan struct{} // closed when a slot may have come free
}

func newThrottle(max int) *throttle {
	return &throttle{max: max, limit: max, changed: make(chan struct{})}
}

// acquire takes a slot, waiting while the budget is spent, until ctx ends.
func (t *throttle) acquire(ctx context.Context) error {
	for {
		t.mu.Lock()
		if t.inUse < t.limit {
			t.inUse++
			t.mu.Unlock()
			return nil
		}
		changed := t.changed
		t.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// tryAcquire takes a slot if one is free now.
func (t *throttle) tryAcquire() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.inUse < t.limit {
		t.inUse++
		return true
	}
	return false
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
	t.wake()
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

func (t *throttle) wake() {
	close(t.changed)
	t.changed = make(chan struct{})
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
