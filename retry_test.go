package azacr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/stretchr/testify/require"
)

// azcoreRetryStatuses is the status set azcore v1.24 retries by default,
// written out here rather than taken from retry.go so the two are checked
// against each other (and against azcore itself in the parity test).
var azcoreRetryStatuses = []int{408, 429, 500, 502, 503, 504}

// fatalRetryError is an error azcore's retry policy must not repeat.
type fatalRetryError struct{ msg string }

func (e fatalRetryError) Error() string { return e.msg }
func (e fatalRetryError) NonRetriable() {}

// fixedJitter makes backoff deterministic: 0.4 gives a factor of exactly 1.
func fixedJitter(j float64) func() float64 { return func() float64 { return j } }

// retryAnswer is a response with status and header's name, value pairs.
func retryAnswer(status int, header ...string) *http.Response {
	h := http.Header{}
	for i := 0; i+1 < len(header); i += 2 {
		h.Add(header[i], header[i+1])
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(""))}
}

func TestRetryRulesTries(t *testing.T) {
	for name, tc := range map[string]struct {
		maxRetries int32
		want       int
	}{
		"negative one means one try":       {-1, 1},
		"any negative means one try":       {-100, 1},
		"most negative means one try":      {math.MinInt32, 1},
		"zero means azcore's default of 3": {0, 4},
		"one":                              {1, 2},
		"five":                             {5, 6},
		"largest stays an int32":           {math.MaxInt32, math.MaxInt32},
		"next to largest":                  {math.MaxInt32 - 1, math.MaxInt32},
	} {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, newRetryRules(policy.RetryOptions{MaxRetries: tc.maxRetries}).tries())
		})
	}
}

func TestRetryRulesDefaults(t *testing.T) {
	for name, tc := range map[string]struct {
		in                    policy.RetryOptions
		wantDelay, wantMax    time.Duration
		wantCodes             []int
		wantTries             int
		wantTryTimeoutApplied bool
	}{
		"zero options": {
			in:        policy.RetryOptions{},
			wantDelay: 800 * time.Millisecond, wantMax: 60 * time.Second, wantCodes: azcoreRetryStatuses, wantTries: 4,
		},
		"negative delays": {
			in:        policy.RetryOptions{RetryDelay: -time.Second, MaxRetryDelay: -1},
			wantDelay: 0, wantMax: math.MaxInt64, wantCodes: azcoreRetryStatuses, wantTries: 4,
		},
		"explicit values kept": {
			in:        policy.RetryOptions{MaxRetries: 7, RetryDelay: 3 * time.Millisecond, MaxRetryDelay: 9 * time.Second, StatusCodes: []int{409}, TryTimeout: time.Minute},
			wantDelay: 3 * time.Millisecond, wantMax: 9 * time.Second, wantCodes: []int{409}, wantTries: 8, wantTryTimeoutApplied: true,
		},
		"empty status codes disable status retries": {
			in:        policy.RetryOptions{StatusCodes: []int{}},
			wantDelay: 800 * time.Millisecond, wantMax: 60 * time.Second, wantCodes: []int{}, wantTries: 4,
		},
	} {
		t.Run(name, func(t *testing.T) {
			before := fmt.Sprintf("%+v", tc.in)
			r := newRetryRules(tc.in)
			require.Equal(t, before, fmt.Sprintf("%+v", tc.in), "the caller's options were changed")
			require.Equal(t, tc.wantDelay, r.retryDelay)
			require.Equal(t, tc.wantMax, r.maxRetryDelay)
			require.Equal(t, tc.wantCodes, r.statusCodes)
			require.Equal(t, tc.wantTries, r.tries())
			ctx, cancel := r.tryContext(context.Background())
			defer cancel()
			_, has := ctx.Deadline()
			require.Equal(t, tc.wantTryTimeoutApplied, has)
		})
	}

	t.Run("status codes are copied", func(t *testing.T) {
		codes := []int{409, 423}
		r := newRetryRules(policy.RetryOptions{StatusCodes: codes})
		codes[0] = 200
		require.Equal(t, []int{409, 423}, r.statusCodes)

		d := newRetryRules(policy.RetryOptions{})
		d.statusCodes[0] = 200
		require.Equal(t, azcoreRetryStatuses, newRetryRules(policy.RetryOptions{}).statusCodes, "the default set was shared")
	})
}

func TestRetryRulesStatusCodes(t *testing.T) {
	ctx := context.Background()
	t.Run("azcore's default set, and nothing else", func(t *testing.T) {
		r := newRetryRules(policy.RetryOptions{})
		for code := 100; code < 600; code++ {
			want := slices.Contains(azcoreRetryStatuses, code)
			require.Equal(t, want, r.retriable(ctx, retryAnswer(code), nil), "status %d", code)
		}
	})
	for name, tc := range map[string]struct {
		codes []int
		retry []int
		not   []int
	}{
		"nil means the defaults":      {nil, azcoreRetryStatuses, []int{200, 400, 401, 404, 409, 501, 505}},
		"custom set replaces them":    {[]int{409, 423}, []int{409, 423}, []int{408, 429, 500, 503}},
		"empty set retries no status": {[]int{}, nil, append([]int{200, 404}, azcoreRetryStatuses...)},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRetryRules(policy.RetryOptions{StatusCodes: tc.codes})
			for _, code := range tc.retry {
				require.True(t, r.retriable(ctx, retryAnswer(code), nil), "status %d", code)
			}
			for _, code := range tc.not {
				require.False(t, r.retriable(ctx, retryAnswer(code), nil), "status %d", code)
			}
			require.True(t, r.retriable(ctx, nil, errors.New("connection reset")), "a transport error is retried whatever the status set")
		})
	}
}

func TestRetryRulesErrors(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	live := context.Background()
	fatal := fatalRetryError{"refused for good"}

	for name, tc := range map[string]struct {
		ctx  context.Context
		resp *http.Response
		err  error
		want bool
	}{
		"transport error":                                      {live, nil, errors.New("connection reset"), true},
		"try cut short by its own timeout":                     {live, nil, fmt.Errorf("Get: %w", context.DeadlineExceeded), true},
		"try cancelled while the caller's ctx is live":         {live, nil, context.Canceled, true},
		"NonRetriable":                                         {live, nil, fatal, false},
		"wrapped NonRetriable":                                 {live, nil, fmt.Errorf("sending: %w", fatal), false},
		"the package's own nonRetriable":                       {live, nil, nonRetriable(errors.New("no credential")), false},
		"caller cancelled, transport error":                    {cancelled, nil, context.Canceled, false},
		"caller cancelled, retriable status":                   {cancelled, retryAnswer(503), nil, false},
		"caller cancelled, success":                            {cancelled, retryAnswer(200), nil, false},
		"caller's deadline passed":                             {expired, nil, context.DeadlineExceeded, false},
		"response error of a retriable status":                 {live, nil, runtime.NewResponseError(retryAnswer(503)), true},
		"wrapped response error":                               {live, nil, fmt.Errorf("chunk: %w", runtime.NewResponseError(retryAnswer(429))), true},
		"response error of another status":                     {live, nil, runtime.NewResponseError(retryAnswer(404)), false},
		"response error marked NonRetriable":                   {live, nil, nonRetriable(runtime.NewResponseError(retryAnswer(503))), false},
		"response error without its response is just an error": {live, nil, &azcore.ResponseError{StatusCode: 404}, true},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRetryRules(policy.RetryOptions{})
			require.Equal(t, tc.want, r.retriable(tc.ctx, tc.resp, tc.err))
		})
	}
}

func TestRetryRulesShouldRetry(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	live := context.Background()
	type call struct {
		status int
		err    error
	}
	for name, tc := range map[string]struct {
		ctx      context.Context
		resp     *http.Response
		err      error
		verdict  bool
		want     bool
		wantCall *call
	}{
		"may retry a success":                   {live, retryAnswer(200), nil, true, true, &call{status: 200}},
		"may refuse a default retriable status": {live, retryAnswer(503), nil, false, false, &call{status: 503}},
		"may refuse a transport error":          {live, nil, io.ErrUnexpectedEOF, false, false, &call{err: io.ErrUnexpectedEOF}},
		"sees a response error as its response": {live, nil, runtime.NewResponseError(retryAnswer(418)), true, true, &call{status: 418}},
		"not asked after NonRetriable":          {live, nil, fatalRetryError{"x"}, true, false, nil},
		"not asked once the caller's ctx ended": {cancelled, retryAnswer(503), nil, true, false, nil},
	} {
		t.Run(name, func(t *testing.T) {
			var got *call
			r := newRetryRules(policy.RetryOptions{
				StatusCodes: []int{503},
				ShouldRetry: func(resp *http.Response, err error) bool {
					require.True(t, (resp == nil) != (err == nil), "ShouldRetry must get exactly one of resp and err")
					got = &call{err: err}
					if resp != nil {
						got.status = resp.StatusCode
					}
					return tc.verdict
				},
			})
			require.Equal(t, tc.want, r.retriable(tc.ctx, tc.resp, tc.err))
			require.Equal(t, tc.wantCall, got)
		})
	}
}

func TestRetryRulesRetryAfter(t *testing.T) {
	now := time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC)
	date := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	const unit = 10 * time.Millisecond // RetryDelay; with jitter 0.4 try 1 waits exactly this
	const backoff = unit

	for name, tc := range map[string]struct {
		maxDelay time.Duration // MaxRetryDelay; 0 means azcore's 60 s
		resp     *http.Response
		want     time.Duration
		wantOK   bool
	}{
		"no response":                      {0, nil, backoff, true},
		"no header":                        {0, retryAnswer(503), backoff, true},
		"seconds":                          {0, retryAnswer(503, "Retry-After", "5"), 5 * time.Second, true},
		"seconds with a plus sign":         {0, retryAnswer(503, "Retry-After", "+7"), 7 * time.Second, true},
		"zero seconds":                     {0, retryAnswer(503, "Retry-After", "0"), backoff, true},
		"negative seconds":                 {0, retryAnswer(503, "Retry-After", "-3"), backoff, true},
		"fraction":                         {0, retryAnswer(503, "Retry-After", "1.5"), backoff, true},
		"spaces":                           {0, retryAnswer(503, "Retry-After", " 5"), backoff, true},
		"garbage":                          {0, retryAnswer(503, "Retry-After", "soon"), backoff, true},
		"HTTP-date":                        {0, retryAnswer(503, "Retry-After", date(42*time.Second)), 42 * time.Second, true},
		"HTTP-date in the past":            {0, retryAnswer(503, "Retry-After", date(-time.Minute)), backoff, true},
		"HTTP-date now":                    {0, retryAnswer(503, "Retry-After", date(0)), backoff, true},
		"RFC 850 date is not read":         {0, retryAnswer(503, "Retry-After", now.Add(time.Second).Format(time.RFC850)), backoff, true},
		"asctime date is not read":         {0, retryAnswer(503, "Retry-After", now.Add(time.Second).Format(time.ANSIC)), backoff, true},
		"HTTP-date beyond MaxRetryDelay":   {0, retryAnswer(503, "Retry-After", date(time.Hour)), time.Hour, false},
		"HTTP-date in year 9999":           {0, retryAnswer(503, "Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT"), math.MaxInt64, false},
		"retry-after-ms":                   {0, retryAnswer(503, "Retry-After-Ms", "250"), 250 * time.Millisecond, true},
		"x-ms-retry-after-ms":              {0, retryAnswer(503, "x-ms-retry-after-ms", "40"), 40 * time.Millisecond, true},
		"retry-after-ms comes first":       {0, retryAnswer(503, "Retry-After", "3", "x-ms-retry-after-ms", "40", "retry-after-ms", "20"), 20 * time.Millisecond, true},
		"x-ms-retry-after-ms comes second": {0, retryAnswer(503, "Retry-After", "3", "x-ms-retry-after-ms", "40"), 40 * time.Millisecond, true},
		"an unusable header is skipped":    {0, retryAnswer(503, "Retry-After", "3", "retry-after-ms", "0", "x-ms-retry-after-ms", "later"), 3 * time.Second, true},
		"all unusable":                     {0, retryAnswer(503, "Retry-After", "-1", "retry-after-ms", "-1", "x-ms-retry-after-ms", "x"), backoff, true},
		"ms milliseconds, not a date":      {0, retryAnswer(503, "retry-after-ms", date(time.Second)), backoff, true},
		"equal to MaxRetryDelay is kept":   {2 * time.Second, retryAnswer(503, "Retry-After", "2"), 2 * time.Second, true},
		"beyond MaxRetryDelay stops":       {2 * time.Second, retryAnswer(503, "Retry-After", "3"), 3 * time.Second, false},
		"ms beyond MaxRetryDelay stops":    {2 * time.Second, retryAnswer(503, "retry-after-ms", "2001"), 2001 * time.Millisecond, false},
		"beyond the default 60 s stops":    {0, retryAnswer(429, "Retry-After", "61"), 61 * time.Second, false},
		"max int64 seconds":                {0, retryAnswer(503, "Retry-After", "9223372036854775807"), math.MaxInt64, false},
		"2^62 seconds":                     {0, retryAnswer(503, "Retry-After", "4611686018427387904"), math.MaxInt64, false},
		"more digits than int64":           {0, retryAnswer(503, "Retry-After", "99999999999999999999"), math.MaxInt64, false},
		"max int64 ms":                     {0, retryAnswer(503, "retry-after-ms", "9223372036854775807"), math.MaxInt64, false},
		"largest seconds that fit":         {0, retryAnswer(503, "Retry-After", "9223372036"), 9223372036 * time.Second, false},
		"most negative":                    {0, retryAnswer(503, "Retry-After", "-99999999999999999999"), backoff, true},
		"huge with no cap waits":           {-1, retryAnswer(503, "Retry-After", "99999999999999999999"), math.MaxInt64, true},
		"long with no cap waits":           {-1, retryAnswer(503, "Retry-After", "86400"), 24 * time.Hour, true},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRetryRules(policy.RetryOptions{RetryDelay: unit, MaxRetryDelay: tc.maxDelay})
			r.jitter = fixedJitter(0.4)
			r.now = func() time.Time { return now }
			got, ok := r.delay(1, tc.resp)
			require.Equal(t, tc.wantOK, ok)
			require.Equal(t, tc.want, got)
			require.GreaterOrEqual(t, got, time.Duration(0))
		})
	}
}

func TestRetryRulesBackoff(t *testing.T) {
	nominal := func(delay time.Duration, try int) time.Duration { return delay * time.Duration(int64(1)<<try-1) }

	t.Run("exponential shape", func(t *testing.T) {
		r := newRetryRules(policy.RetryOptions{RetryDelay: time.Millisecond, MaxRetryDelay: time.Hour})
		r.jitter = fixedJitter(0.4)
		for try, want := range map[int]time.Duration{
			1: time.Millisecond, 2: 3 * time.Millisecond, 3: 7 * time.Millisecond, 4: 15 * time.Millisecond,
			10: 1023 * time.Millisecond, 0: time.Millisecond, -5: time.Millisecond,
		} {
			got, ok := r.delay(try, nil)
			require.True(t, ok)
			require.Equal(t, want, got, "try %d", try)
		}
	})

	t.Run("jitter bounds", func(t *testing.T) {
		for name, j := range map[string]float64{"lowest": 0, "middle": 0.5, "almost highest": math.Nextafter(1, 0)} {
			r := newRetryRules(policy.RetryOptions{RetryDelay: time.Second, MaxRetryDelay: time.Hour})
			r.jitter = fixedJitter(j)
			for try := 1; try <= 5; try++ {
				got, _ := r.delay(try, nil)
				n := nominal(time.Second, try)
				require.GreaterOrEqual(t, got, n*8/10, "%s, try %d", name, try)
				require.LessOrEqual(t, got, n*13/10, "%s, try %d", name, try)
			}
		}
	})

	t.Run("random jitter stays within 0.8 to 1.3 and spreads", func(t *testing.T) {
		r := newRetryRules(policy.RetryOptions{RetryDelay: 10 * time.Millisecond, MaxRetryDelay: time.Hour})
		for try := 1; try <= 5; try++ {
			n := nominal(10*time.Millisecond, try)
			lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
			for range 1000 {
				got, ok := r.delay(try, nil)
				require.True(t, ok)
				require.GreaterOrEqual(t, got, n*8/10, "try %d", try)
				require.LessOrEqual(t, got, n*13/10, "try %d", try)
				lo, hi = min(lo, got), max(hi, got)
			}
			require.Less(t, lo, n*9/10, "try %d: jitter never went low", try)
			require.Greater(t, hi, n*12/10, "try %d: jitter never went high", try)
		}
	})

	t.Run("capped at MaxRetryDelay", func(t *testing.T) {
		r := newRetryRules(policy.RetryOptions{RetryDelay: time.Second, MaxRetryDelay: 30 * time.Second})
		r.jitter = fixedJitter(0)
		got, _ := r.delay(5, nil) // 31 s × 0.8
		require.Equal(t, 24800*time.Millisecond, got)
		r.jitter = fixedJitter(0.4)
		got, _ = r.delay(5, nil) // 31 s
		require.Equal(t, 30*time.Second, got)
		for try := 6; try < 200; try++ {
			got, ok := r.delay(try, nil)
			require.True(t, ok)
			require.Equal(t, 30*time.Second, got, "try %d", try)
		}
	})

	t.Run("default cap", func(t *testing.T) {
		r := newRetryRules(policy.RetryOptions{})
		got, _ := r.delay(100, nil)
		require.Equal(t, 60*time.Second, got)
	})

	t.Run("no overflow without a cap", func(t *testing.T) {
		for name, delay := range map[string]time.Duration{"1 ns": 1, "1 s": time.Second, "half the range": math.MaxInt64 / 2, "the whole range": math.MaxInt64} {
			r := newRetryRules(policy.RetryOptions{RetryDelay: delay, MaxRetryDelay: -1})
			for _, j := range []float64{0, 0.4, math.Nextafter(1, 0)} {
				r.jitter = fixedJitter(j)
				for _, try := range []int{2, 3, 40, 62, 63, 64, 1000, math.MaxInt} {
					got, ok := r.delay(try, nil)
					require.True(t, ok)
					require.Greater(t, got, time.Duration(0), "%s, try %d, jitter %v", name, try, j)
					if try >= 63 || delay >= math.MaxInt64/2 {
						require.GreaterOrEqual(t, float64(got), 0.79*math.MaxInt64, "%s, try %d, jitter %v: not saturated", name, try, j)
					}
				}
			}
		}
	})

	t.Run("negative RetryDelay means no wait", func(t *testing.T) {
		r := newRetryRules(policy.RetryOptions{RetryDelay: -1, MaxRetryDelay: 5 * time.Second})
		for _, try := range []int{1, 2, 10, 63, 1000} {
			got, ok := r.delay(try, nil)
			require.True(t, ok)
			require.Zero(t, got)
		}
		// The server's Retry-After still applies.
		got, ok := r.delay(1, retryAnswer(503, "Retry-After", "1"))
		require.True(t, ok)
		require.Equal(t, time.Second, got)
	})
}

func TestRetryRulesNext(t *testing.T) {
	ctx := context.Background()
	r := newRetryRules(policy.RetryOptions{MaxRetries: 2, RetryDelay: time.Millisecond, MaxRetryDelay: time.Second})
	r.jitter = fixedJitter(0.4)

	for name, tc := range map[string]struct {
		try    int
		resp   *http.Response
		err    error
		want   time.Duration
		wantOK bool
	}{
		"first failure":                       {1, retryAnswer(503), nil, time.Millisecond, true},
		"second failure":                      {2, retryAnswer(503), nil, 3 * time.Millisecond, true},
		"last try":                            {3, retryAnswer(503), nil, 0, false},
		"past the last try":                   {4, retryAnswer(503), nil, 0, false},
		"not retriable":                       {1, retryAnswer(404), nil, 0, false},
		"success":                             {1, retryAnswer(200), nil, 0, false},
		"Retry-After used":                    {1, retryAnswer(429, "Retry-After-Ms", "20"), nil, 20 * time.Millisecond, true},
		"Retry-After of a response error":     {1, nil, runtime.NewResponseError(retryAnswer(429, "Retry-After-Ms", "20")), 20 * time.Millisecond, true},
		"Retry-After beyond the cap":          {1, retryAnswer(429, "Retry-After", "2"), nil, 2 * time.Second, false},
		"Retry-After ignored on the last try": {3, retryAnswer(429, "Retry-After-Ms", "20"), nil, 0, false},
		"transport error":                     {2, nil, errors.New("reset"), 3 * time.Millisecond, true},
	} {
		t.Run(name, func(t *testing.T) {
			got, ok := r.next(ctx, tc.try, tc.resp, tc.err)
			require.Equal(t, tc.wantOK, ok)
			require.Equal(t, tc.want, got)
		})
	}

	t.Run("ShouldRetry is asked even on the last try", func(t *testing.T) {
		calls := 0
		r := newRetryRules(policy.RetryOptions{MaxRetries: -1, ShouldRetry: func(*http.Response, error) bool { calls++; return true }})
		_, ok := r.next(ctx, 1, retryAnswer(503), nil)
		require.False(t, ok)
		require.Equal(t, 1, calls)
	})
}

func TestRetryRulesTryContext(t *testing.T) {
	t.Run("no TryTimeout leaves ctx alone", func(t *testing.T) {
		parent, cancelParent := context.WithCancel(context.Background())
		defer cancelParent()
		ctx, cancel := newRetryRules(policy.RetryOptions{}).tryContext(parent)
		require.NotNil(t, cancel)
		cancel()
		require.NoError(t, ctx.Err(), "cancelling the try must not end the caller's context")
		_, has := ctx.Deadline()
		require.False(t, has)
	})

	t.Run("TryTimeout bounds the try", func(t *testing.T) {
		const timeout = 50 * time.Millisecond
		before := time.Now()
		ctx, cancel := newRetryRules(policy.RetryOptions{TryTimeout: timeout}).tryContext(context.Background())
		defer cancel()
		after := time.Now()
		deadline, has := ctx.Deadline()
		require.True(t, has)
		require.False(t, deadline.Before(before.Add(timeout)))
		require.False(t, deadline.After(after.Add(timeout)))
		select {
		case <-ctx.Done():
			require.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
		case <-time.After(10 * time.Second):
			t.Fatal("the try's context did not end")
		}
	})

	t.Run("the caller's context still ends the try", func(t *testing.T) {
		parent, cancelParent := context.WithCancel(context.Background())
		ctx, cancel := newRetryRules(policy.RetryOptions{TryTimeout: time.Hour}).tryContext(parent)
		defer cancel()
		cancelParent()
		<-ctx.Done()
		require.ErrorIs(t, ctx.Err(), context.Canceled)
	})

	t.Run("cancel ends only the try", func(t *testing.T) {
		parent, cancelParent := context.WithCancel(context.Background())
		defer cancelParent()
		ctx, cancel := newRetryRules(policy.RetryOptions{TryTimeout: time.Hour}).tryContext(parent)
		cancel()
		require.ErrorIs(t, ctx.Err(), context.Canceled)
		require.NoError(t, parent.Err())
	})

	t.Run("negative TryTimeout expires at once, as in azcore", func(t *testing.T) {
		ctx, cancel := newRetryRules(policy.RetryOptions{TryTimeout: -time.Second}).tryContext(context.Background())
		defer cancel()
		require.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
	})
}

func TestSleepCtx(t *testing.T) {
	cause := errors.New("the caller gave up")
	for name, tc := range map[string]struct {
		d       time.Duration
		ctx     func() (context.Context, context.CancelFunc)
		after   time.Duration // cancel this long after the sleep starts; 0: never
		wantErr []error
	}{
		"short wait":             {d: 5 * time.Millisecond},
		"zero":                   {d: 0},
		"negative":               {d: -time.Hour},
		"already cancelled":      {d: 0, ctx: retryCancelledCtx, wantErr: []error{context.Canceled}},
		"cancelled while asleep": {d: time.Hour, after: 20 * time.Millisecond, wantErr: []error{context.Canceled}},
		"longest wait cancelled": {d: math.MaxInt64, after: 20 * time.Millisecond, wantErr: []error{context.Canceled}},
		"deadline while asleep": {d: time.Hour, wantErr: []error{context.DeadlineExceeded}, ctx: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 20*time.Millisecond)
		}},
		"cause is kept": {d: time.Hour, wantErr: []error{context.Canceled, cause}, ctx: func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancelCause(context.Background())
			cancel(cause)
			return ctx, func() {}
		}},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			if tc.ctx != nil {
				ctx, cancel = tc.ctx()
			}
			defer cancel()
			if tc.after > 0 {
				timer := time.AfterFunc(tc.after, cancel)
				defer timer.Stop()
			}
			done := make(chan error, 1)
			go func() { done <- sleepCtx(ctx, tc.d) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("sleepCtx did not return promptly")
			}
			if len(tc.wantErr) == 0 {
				require.NoError(t, err)
				return
			}
			for _, want := range tc.wantErr {
				require.ErrorIs(t, err, want)
			}
		})
	}
}

func retryCancelledCtx() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx, cancel
}

// retryStep is one scripted answer of retryScript.
type retryStep struct {
	status int
	header []string // name, value, name, value…
	err    error
	hang   bool // wait until the try's context ends
	cancel bool // end the caller's context, then answer 503
}

// retryScript is a policy.Transporter answering from steps, the last one
// repeated, and recording when each try arrived. Like net/http, it fails
// a request whose context has already ended.
type retryScript struct {
	mu     sync.Mutex
	steps  []retryStep
	times  []time.Time
	cancel context.CancelFunc
}

func (s *retryScript) Do(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	step := s.steps[min(len(s.times), len(s.steps)-1)]
	s.times = append(s.times, time.Now())
	s.mu.Unlock()
	ctx := req.Context()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	switch {
	case step.hang:
		<-ctx.Done()
		return nil, ctx.Err()
	case step.cancel:
		s.cancel()
		step.status = http.StatusServiceUnavailable
	case step.err != nil:
		return nil, step.err
	}
	resp := retryAnswer(step.status, step.header...)
	resp.Request = req
	return resp, nil
}

func (s *retryScript) gaps() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var gaps []time.Duration
	for i := 1; i < len(s.times); i++ {
		gaps = append(gaps, s.times[i].Sub(s.times[i-1]))
	}
	return gaps
}

// driveRules is the loop the library runs for a request azcore cannot
// retry, sending through s. With asError, an answer outside 2xx comes back
// as an *azcore.ResponseError, as the clients return it. It returns the
// outcome and the waits retryRules chose.
func driveRules(ctx context.Context, rules retryRules, s *retryScript, asError bool) (*http.Response, []time.Duration, error) {
	var waits []time.Duration
	for try := 1; ; try++ {
		tctx, cancel := rules.tryContext(ctx)
		req, err := http.NewRequestWithContext(tctx, http.MethodPatch, "https://registry.test/v2/upload", nil)
		if err != nil {
			cancel()
			return nil, waits, err
		}
		resp, err := s.Do(req)
		if asError && resp != nil && resp.StatusCode/100 != 2 {
			resp, err = nil, runtime.NewResponseError(resp)
		}
		wait, again := rules.next(ctx, try, resp, err)
		if resp != nil { // nothing here reads bodies
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		cancel()
		if !again {
			if ctx.Err() != nil {
				return nil, waits, ctx.Err()
			}
			return resp, waits, err
		}
		waits = append(waits, wait)
		if err := sleepCtx(ctx, wait); err != nil {
			return nil, waits, err
		}
	}
}

// retryOutcome summarises how a request ended, so both loops compare.
func retryOutcome(resp *http.Response, err error) string {
	var re *azcore.ResponseError
	var final interface{ NonRetriable() }
	switch {
	case errors.As(err, &re) && re.RawResponse != nil:
		return fmt.Sprintf("status %d", re.StatusCode)
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline exceeded"
	case errors.As(err, &final):
		return "non-retriable error"
	case err != nil:
		return "error"
	}
	return fmt.Sprintf("status %d", resp.StatusCode)
}

// TestRetryRulesParityWithAzcore sends the same scripted answers through
// azcore's own retry policy and through driveRules, and requires the same
// number of tries, the same outcome and the same ShouldRetry calls. Where
// the server sets the wait, driveRules must choose exactly that wait and
// azcore must have waited at least that long; otherwise both waits must
// lie in azcore's jitter range (azcore's measured, so only from below).
func TestRetryRulesParityWithAzcore(t *testing.T) {
	const unit = time.Millisecond
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	reset := errors.New("connection reset by peer")
	ok := retryStep{status: 200}
	s503 := retryStep{status: 503}

	type parityCase struct {
		opts      policy.RetryOptions // RetryDelay 1 ms and MaxRetryDelay 1 s unless set
		steps     []retryStep
		tries     int
		outcome   string
		waits     []time.Duration // the server's waits, when it sets them all
		askCounts bool            // ShouldRetry is set; compare its calls
		azcoreMax bool            // leave MaxRetryDelay to azcore's default
	}
	cases := map[string]parityCase{
		"503 until tries run out": {opts: policy.RetryOptions{MaxRetries: 2}, steps: []retryStep{s503}, tries: 3, outcome: "status 503"},
		"503 then success":        {opts: policy.RetryOptions{MaxRetries: 5}, steps: []retryStep{s503, s503, ok}, tries: 3, outcome: "status 200"},
		"MaxRetries -1":           {opts: policy.RetryOptions{MaxRetries: -1}, steps: []retryStep{s503}, tries: 1, outcome: "status 503"},
		"MaxRetries 0 is 3":       {steps: []retryStep{s503}, tries: 4, outcome: "status 503"},
		"backoff capped":          {opts: policy.RetryOptions{MaxRetries: 4, MaxRetryDelay: 2 * time.Millisecond}, steps: []retryStep{s503}, tries: 5, outcome: "status 503"},
		"custom status set": {
			opts: policy.RetryOptions{MaxRetries: 5, StatusCodes: []int{409}}, steps: []retryStep{{status: 409}, {status: 409}, s503}, tries: 3, outcome: "status 503",
		},
		"empty status set": {
			opts: policy.RetryOptions{StatusCodes: []int{}}, steps: []retryStep{s503}, tries: 1, outcome: "status 503",
		},
		"empty status set still retries errors": {
			opts: policy.RetryOptions{StatusCodes: []int{}}, steps: []retryStep{{err: reset}, ok}, tries: 2, outcome: "status 200",
		},
		"transport errors until tries run out": {opts: policy.RetryOptions{MaxRetries: 2}, steps: []retryStep{{err: reset}}, tries: 3, outcome: "error"},
		"NonRetriable after a 503": {
			opts: policy.RetryOptions{MaxRetries: 5}, steps: []retryStep{s503, {err: fatalRetryError{"final"}}, ok}, tries: 2, outcome: "non-retriable error",
		},
		"ShouldRetry retries what it likes": {
			opts:  policy.RetryOptions{MaxRetries: 5, ShouldRetry: func(r *http.Response, _ error) bool { return r != nil && r.StatusCode == 418 }},
			steps: []retryStep{{status: 418}, {status: 418}, s503, ok}, tries: 3, outcome: "status 503", askCounts: true,
		},
		"ShouldRetry refusing errors": {
			opts:  policy.RetryOptions{MaxRetries: 5, ShouldRetry: func(_ *http.Response, err error) bool { return err == nil }},
			steps: []retryStep{s503, {err: reset}, ok}, tries: 2, outcome: "error", askCounts: true,
		},
		"ShouldRetry on every try": {
			opts:  policy.RetryOptions{MaxRetries: 2, ShouldRetry: func(*http.Response, error) bool { return true }},
			steps: []retryStep{ok}, tries: 3, outcome: "status 200", askCounts: true,
		},
		"ShouldRetry not asked after NonRetriable": {
			opts:  policy.RetryOptions{MaxRetries: 2, ShouldRetry: func(*http.Response, error) bool { return true }},
			steps: []retryStep{{err: fatalRetryError{"final"}}}, tries: 1, outcome: "non-retriable error", askCounts: true,
		},
		"retry-after-ms": {
			opts: policy.RetryOptions{MaxRetries: 3}, steps: []retryStep{{status: 429, header: []string{"Retry-After-Ms", "30"}}, ok},
			tries: 2, outcome: "status 200", waits: []time.Duration{30 * time.Millisecond},
		},
		// In the next three the header that must lose would stop the retries
		// (5 s is beyond MaxRetryDelay), so the count of tries shows which
		// header azcore read, with no timing involved.
		"x-ms-retry-after-ms wins over Retry-After": {
			opts: policy.RetryOptions{MaxRetries: 3}, steps: []retryStep{{status: 503, header: []string{"Retry-After", "5", "x-ms-retry-after-ms", "20"}}, s503, ok},
			tries: 3, outcome: "status 200",
		},
		"retry-after-ms wins over x-ms-retry-after-ms": {
			opts: policy.RetryOptions{MaxRetries: 3}, steps: []retryStep{{status: 503, header: []string{"x-ms-retry-after-ms", "5000", "retry-after-ms", "10"}}, ok},
			tries: 2, outcome: "status 200", waits: []time.Duration{10 * time.Millisecond},
		},
		"an unusable retry-after-ms is skipped": {
			opts: policy.RetryOptions{MaxRetries: 3}, steps: []retryStep{{status: 503, header: []string{"retry-after-ms", "0", "Retry-After", "5"}}, ok},
			tries: 1, outcome: "status 503",
		},
		"Retry-After beyond MaxRetryDelay stops": {
			opts: policy.RetryOptions{MaxRetries: 3}, steps: []retryStep{{status: 429, header: []string{"Retry-After", "5"}}, ok}, tries: 1, outcome: "status 429",
		},
		"Retry-After beyond the default 60 s stops": {
			opts: policy.RetryOptions{MaxRetries: 3}, steps: []retryStep{{status: 429, header: []string{"Retry-After", "61"}}, ok}, tries: 1, outcome: "status 429", azcoreMax: true,
		},
		"retry-after-ms beyond MaxRetryDelay stops": {
			opts: policy.RetryOptions{MaxRetries: 3, MaxRetryDelay: 10 * time.Millisecond}, steps: []retryStep{{status: 503, header: []string{"retry-after-ms", "11"}}, ok}, tries: 1, outcome: "status 503",
		},
		"huge Retry-After stops": {
			opts: policy.RetryOptions{MaxRetries: 3}, steps: []retryStep{{status: 503, header: []string{"Retry-After", "99999999999"}}, ok}, tries: 1, outcome: "status 503",
		},
		"garbage Retry-After falls back to backoff": {
			opts: policy.RetryOptions{MaxRetries: 2}, steps: []retryStep{{status: 503, header: []string{"Retry-After", "soon"}}}, tries: 3, outcome: "status 503",
		},
		"negative Retry-After falls back to backoff": {
			opts: policy.RetryOptions{MaxRetries: 2}, steps: []retryStep{{status: 503, header: []string{"Retry-After", "-1", "retry-after-ms", "-5"}}}, tries: 3, outcome: "status 503",
		},
		"past HTTP-date falls back to backoff": {
			opts: policy.RetryOptions{MaxRetries: 2}, steps: []retryStep{{status: 503, header: []string{"Retry-After", past}}}, tries: 3, outcome: "status 503",
		},
		"future HTTP-date beyond MaxRetryDelay stops": {
			opts: policy.RetryOptions{MaxRetries: 2}, steps: []retryStep{{status: 503, header: []string{"Retry-After", future}}}, tries: 1, outcome: "status 503",
		},
		"TryTimeout cuts a hung try, which is retried": {
			opts: policy.RetryOptions{MaxRetries: 3, TryTimeout: 20 * time.Millisecond}, steps: []retryStep{{hang: true}, ok}, tries: 2, outcome: "status 200",
		},
		"negative TryTimeout fails every try": {
			opts: policy.RetryOptions{MaxRetries: 2, TryTimeout: -1}, steps: []retryStep{ok}, tries: 3, outcome: "deadline exceeded",
		},
		"caller cancelling during a try stops": {
			opts: policy.RetryOptions{MaxRetries: 3}, steps: []retryStep{{cancel: true}, ok}, tries: 1, outcome: "cancelled",
		},
	}
	for _, code := range []int{200, 201, 400, 401, 403, 404, 408, 409, 412, 416, 429, 500, 501, 502, 503, 504, 505, 507} {
		c := parityCase{opts: policy.RetryOptions{MaxRetries: 1}, steps: []retryStep{{status: code}, ok}, tries: 1, outcome: fmt.Sprintf("status %d", code)}
		if slices.Contains(azcoreRetryStatuses, code) {
			c.tries, c.outcome = 2, "status 200"
		}
		cases[fmt.Sprintf("status %d", code)] = c
	}

	for name, tc := range cases {
		for _, asError := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/response error %v", name, asError), func(t *testing.T) {
				opts := tc.opts
				if opts.RetryDelay == 0 {
					opts.RetryDelay = unit
				}
				if opts.MaxRetryDelay == 0 && !tc.azcoreMax {
					opts.MaxRetryDelay = time.Second
				}
				var asked [2]int
				withCounter := func(i int) policy.RetryOptions {
					o := opts
					if should := opts.ShouldRetry; should != nil {
						o.ShouldRetry = func(r *http.Response, err error) bool { asked[i]++; return should(r, err) }
					}
					return o
				}

				// azcore's retry policy.
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				az := &retryScript{steps: tc.steps, cancel: cancel}
				pl := runtime.NewPipeline("azacrtest", "v0.0.1", runtime.PipelineOptions{}, &policy.ClientOptions{Retry: withCounter(0), Transport: az})
				req, err := runtime.NewRequest(ctx, http.MethodPatch, "https://registry.test/v2/upload")
				require.NoError(t, err)
				azResp, azErr := pl.Do(req)
				if azResp != nil {
					_ = azResp.Body.Close()
				}

				// The same script, driven by retryRules.
				ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel2()
				ours := &retryScript{steps: tc.steps, cancel: cancel2}
				resp, waits, err := driveRules(ctx2, newRetryRules(withCounter(1)), ours, asError)

				require.Len(t, az.times, tc.tries, "azcore's tries")
				require.Len(t, ours.times, tc.tries, "retryRules' tries")
				require.Equal(t, tc.outcome, retryOutcome(azResp, azErr), "azcore's outcome")
				require.Equal(t, tc.outcome, retryOutcome(resp, err), "retryRules' outcome")
				if tc.askCounts {
					require.Equal(t, asked[0], asked[1], "ShouldRetry calls")
				}

				azGaps := az.gaps()
				require.Len(t, waits, tc.tries-1)
				if tc.waits != nil {
					require.Equal(t, tc.waits, waits)
					for i, w := range tc.waits {
						require.GreaterOrEqual(t, azGaps[i], w, "azcore's wait %d", i+1)
					}
					return
				}
				rules := newRetryRules(opts)
				for i, w := range waits {
					if d := serverRetryAfter(retryScriptAnswer(tc.steps, i), time.Now()); d > 0 {
						require.Equal(t, d, w, "wait %d is the server's", i+1)
						require.GreaterOrEqual(t, azGaps[i], d, "azcore's wait %d", i+1)
						continue
					}
					nominal := rules.retryDelay * time.Duration(int64(1)<<(i+1)-1)
					lo, hi := min(nominal*8/10, rules.maxRetryDelay), min(nominal*13/10, rules.maxRetryDelay)
					require.GreaterOrEqual(t, w, lo, "wait %d", i+1)
					require.LessOrEqual(t, w, hi, "wait %d", i+1)
					require.GreaterOrEqual(t, azGaps[i], lo, "azcore's wait %d", i+1)
				}
			})
		}
	}
}

// retryScriptAnswer is the response step i of steps gives, or nil for an error.
func retryScriptAnswer(steps []retryStep, i int) *http.Response {
	step := steps[min(i, len(steps)-1)]
	if step.err != nil || step.hang || step.cancel {
		return nil
	}
	return retryAnswer(step.status, step.header...)
}
