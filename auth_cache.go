package azacr

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// tokenKey names one cached token: an ACR refresh token for a service
// (scope empty), or an access token for a service and normalised scope.
type tokenKey struct {
	service string
	scope   authScope
	refresh bool
}

// maxCachedTokens bounds the token cache. A client that walks a catalog of
// 100,000 repositories needs a token per repository and scope; each one is
// used for a moment and would otherwise stay cached for its hour of life.
// A few hundred covers any realistic working set (an image copy touches two
// repositories; a parallel push a handful of scopes).
const maxCachedTokens = 512

// tokenCache holds the policy's tokens, bounded by maxCachedTokens. When it
// is full, stale tokens are dropped first, then the least recently used,
// down to three quarters of the limit, so the cost of eviction is spread
// over many insertions.
type tokenCache struct {
	limit int
	mu    sync.Mutex
	clock uint64 // counts lookups; an entry's lastUse is a reading of it
	slots map[tokenKey]*cachedSlot
}

type cachedSlot struct {
	slot    *tokenSlot
	lastUse uint64
}

func newTokenCache(limit int) *tokenCache {
	return &tokenCache{limit: limit, slots: map[tokenKey]*cachedSlot{}}
}

// slot returns the slot for key, creating it (and evicting others) when
// there is none.
func (c *tokenCache) slot(key tokenKey, now time.Time) *tokenSlot {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clock++
	if e := c.slots[key]; e != nil {
		e.lastUse = c.clock
		return e.slot
	}
	if len(c.slots) >= c.limit {
		c.evict(now)
	}
	e := &cachedSlot{slot: &tokenSlot{}, lastUse: c.clock}
	c.slots[key] = e
	return e.slot
}

// evict drops slots holding no usable token, then the least recently used,
// until the cache is at three quarters of its limit. A slot being fetched
// may be dropped: its callers still hold it and get their token; the next
// lookup simply starts a new slot.
func (c *tokenCache) evict(now time.Time) {
	for k, e := range c.slots {
		if !e.slot.usable(now) {
			delete(c.slots, k)
		}
	}
	target := c.limit * 3 / 4
	if len(c.slots) <= target {
		return
	}
	type aged struct {
		key     tokenKey
		lastUse uint64
	}
	all := make([]aged, 0, len(c.slots))
	for k, e := range c.slots {
		all = append(all, aged{k, e.lastUse})
	}
	slices.SortFunc(all, func(a, b aged) int { return compareUint64(a.lastUse, b.lastUse) })
	for _, a := range all[:len(all)-target] {
		delete(c.slots, a.key)
	}
}

func compareUint64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// len reports how many slots the cache holds.
func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.slots)
}

// tokenSlot caches one token. Callers that find it empty or stale share a
// single fetch (a flight): one fetches, the rest wait for its outcome,
// success or failure alike, so a failing token service sees one attempt,
// not one per waiting caller. Failures are not cached: the next caller
// after a failed flight starts a new one.
type tokenSlot struct {
	mu      sync.Mutex
	token   string
	renewAt time.Time
	flight  *tokenFlight
}

// tokenFlight is one fetch in progress; done closes when it ends.
type tokenFlight struct {
	done  chan struct{}
	token string
	err   error
}

// get returns the cached token while it is fresh, otherwise joins or starts
// a fetch. fresh reports that the token was fetched for this call or for
// the flight it waited on, rather than found in the cache.
func (s *tokenSlot) get(ctx context.Context, now func() time.Time, fetch func(context.Context) (string, error)) (token string, fresh bool, err error) {
	for {
		s.mu.Lock()
		if s.token != "" && now().Before(s.renewAt) {
			tok := s.token
			s.mu.Unlock()
			return tok, false, nil
		}
		f := s.flight
		if f == nil {
			f = &tokenFlight{done: make(chan struct{})}
			s.flight = f
			s.mu.Unlock()
			return s.fly(ctx, f, now, fetch)
		}
		s.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return "", false, ctx.Err()
		}
		if f.err == nil {
			return f.token, true, nil
		}
		if ctx.Err() == nil && (errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded)) {
			// The fetching caller gave up on its own context; ours is
			// still live, so fetch for ourselves.
			continue
		}
		return "", false, f.err
	}
}

// fly runs the fetch of flight f and publishes its outcome.
func (s *tokenSlot) fly(ctx context.Context, f *tokenFlight, now func() time.Time, fetch func(context.Context) (string, error)) (string, bool, error) {
	issued := now()
	tok, err := fetch(ctx)
	s.mu.Lock()
	if err == nil {
		s.token, s.renewAt = tok, renewTime(tok, issued)
	}
	f.token, f.err = tok, err
	s.flight = nil
	s.mu.Unlock()
	close(f.done)
	if err != nil {
		return "", false, err
	}
	return tok, true, nil
}

// usable reports whether the slot holds a token still fresh at now, or has
// a fetch in flight.
func (s *tokenSlot) usable(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flight != nil || s.token != "" && now.Before(s.renewAt)
}

// invalidate drops token if it is still the cached one.
func (s *tokenSlot) invalidate(token string) {
	s.mu.Lock()
	if s.token == token {
		s.token = ""
	}
	s.mu.Unlock()
}

// renewTime is when to stop using a token issued at issued: five minutes
// before its exp, or halfway through a lifetime shorter than ten minutes.
// A token whose exp cannot be read is used for one minute.
func renewTime(token string, issued time.Time) time.Time {
	exp, err := jwtExpiry(token)
	if err != nil {
		return issued.Add(time.Minute)
	}
	life := exp.Sub(issued)
	margin := 5 * time.Minute
	if life < 2*margin {
		margin = life / 2
	}
	return exp.Add(-margin)
}
