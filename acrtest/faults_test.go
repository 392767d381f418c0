package acrtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/require"
)

// freshClient trusts srv and opens a new connection per request. Go's
// transport silently resends a bodiless GET whose reused connection breaks,
// which would hide a Reset from the test.
func freshClient(srv *Server) *http.Client {
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true
	return &http.Client{Transport: tr}
}

// errorCode returns errors[0].code of an ACR error body.
func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(body, &e), string(body))
	require.Len(t, e.Errors, 1, string(body))
	require.NotEmpty(t, e.Errors[0].Message)
	return e.Errors[0].Code
}

// pingStatuses sends n unauthenticated GET /v2/ and returns the statuses;
// without faults each is 401.
func pingStatuses(t *testing.T, srv *Server, n int) []int {
	t.Helper()
	var got []int
	for range n {
		resp, _ := do(t, srv, http.MethodGet, "/v2/", "", nil, nil)
		got = append(got, resp.StatusCode)
	}
	return got
}

// isConnectionError reports whether err is what a client sees when the
// server drops the connection instead of answering. net.ErrClosed comes
// from a transport that saw its body write fail and closed the connection
// itself before reading the response.
func isConnectionError(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

// exchangeRequest builds a valid POST /oauth2/exchange, whose 200 JSON body
// the body-damaging faults work on.
func exchangeRequest(t *testing.T, srv *Server) *http.Request {
	t.Helper()
	aad, err := srv.Credential().GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{ACRAudience + "/.default"}})
	require.NoError(t, err)
	form := url.Values{"grant_type": {"access_token"}, "service": {srv.Host}, "access_token": {aad.Token}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/oauth2/exchange", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func TestFaultStatus(t *testing.T) {
	srv := NewServer(t, nil)
	require.Equal(t, []int{401}, pingStatuses(t, srv, 1))

	srv.InjectFault(Fault{Status: http.StatusServiceUnavailable})
	for range 2 { // no Nth or Times: every request
		resp, body := do(t, srv, http.MethodGet, "/v2/", "", nil, nil)
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
		require.Equal(t, CodeUnknown, errorCode(t, body))
		// The fault answers in the registry's place: ACR's headers, no
		// challenge, no Retry-After unless asked for.
		require.Equal(t, "registry/2.0", resp.Header.Get("Docker-Distribution-Api-Version"))
		require.Empty(t, resp.Header.Get("WWW-Authenticate"))
		require.Empty(t, resp.Header.Values("Retry-After"))
	}
	require.Equal(t, 2, srv.FaultsFired())

	srv.ClearFaults()
	require.Equal(t, []int{401}, pingStatuses(t, srv, 1))
	require.Zero(t, srv.FaultsFired())
}

func TestFaultStatusCodes(t *testing.T) {
	for status, code := range map[int]string{
		429: CodeTooManyRequests,
		500: CodeUnknown,
		502: CodeUnknown,
		504: CodeUnknown,
		401: CodeUnauthorized,
		403: CodeDenied,
	} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			srv := NewServer(t, nil)
			srv.InjectFault(Fault{Status: status})
			resp, body := do(t, srv, http.MethodGet, "/v2/", "", nil, nil)
			require.Equal(t, status, resp.StatusCode)
			require.Equal(t, code, errorCode(t, body))
		})
	}
}

func TestFaultThrottleRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		retryAfter time.Duration
		want       string
	}{
		{2 * time.Second, "2"},
		{1500 * time.Millisecond, "2"}, // rounded up: retrying early would be throttled again
		{100 * time.Millisecond, "1"},
	} {
		t.Run(tc.retryAfter.String(), func(t *testing.T) {
			srv := NewServer(t, nil)
			srv.InjectFault(Fault{Status: http.StatusTooManyRequests, RetryAfter: tc.retryAfter})
			resp, body := do(t, srv, http.MethodGet, "/v2/", "", nil, nil)
			require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
			require.Equal(t, []string{tc.want}, resp.Header.Values("Retry-After"))
			require.Equal(t, CodeTooManyRequests, errorCode(t, body))
		})
	}
}

func TestFaultNth(t *testing.T) {
	srv := NewServer(t, nil)
	srv.InjectFault(Fault{Nth: 2, Status: http.StatusServiceUnavailable})
	require.Equal(t, []int{401, 503, 401, 401}, pingStatuses(t, srv, 4))
	require.Equal(t, 1, srv.FaultsFired())
}

func TestFaultTimes(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    Fault
		want []int
	}{
		{"first two", Fault{Times: 2}, []int{500, 500, 401, 401}},
		{"second and third", Fault{Nth: 2, Times: 2}, []int{401, 500, 500, 401}},
		{"every one", Fault{}, []int{500, 500, 500, 500}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := NewServer(t, nil)
			tc.f.Status = http.StatusInternalServerError
			srv.InjectFault(tc.f)
			require.Equal(t, tc.want, pingStatuses(t, srv, 4))
		})
	}
}

func TestFaultSelectors(t *testing.T) {
	srv := NewServer(t, nil)
	srv.InjectFault(Fault{Method: http.MethodPost, Path: "/oauth2/token", Status: http.StatusInternalServerError})
	srv.InjectFault(Fault{Match: func(r *http.Request) bool { return r.Header.Get("X-Fail") == "yes" }, Status: http.StatusBadGateway})

	// Neither the method, nor the path, nor the predicate matches.
	require.Equal(t, []int{401}, pingStatuses(t, srv, 1))
	resp, _ := do(t, srv, http.MethodGet, "/oauth2/token", "", nil, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode) // Basic challenge
	rt := postForm(t, srv, "/oauth2/exchange", url.Values{
		"grant_type": {"access_token"}, "service": {srv.Host}, "access_token": {aadToken(t, srv, ACRAudience+"/.default")},
	})["refresh_token"]
	require.NotEmpty(t, rt)

	// The token endpoint fails, so nothing can authenticate.
	form := url.Values{"grant_type": {"refresh_token"}, "service": {srv.Host}, "scope": {"registry:catalog:*"}, "refresh_token": {rt}}
	resp, body := do(t, srv, http.MethodPost, "/oauth2/token", "", strings.NewReader(form.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.Equal(t, CodeUnknown, errorCode(t, body))

	resp, _ = do(t, srv, http.MethodGet, "/v2/", "", nil, http.Header{"X-Fail": {"yes"}})
	require.Equal(t, http.StatusBadGateway, resp.StatusCode)
	require.Equal(t, 2, srv.FaultsFired())
}

func TestFaultBeforeAuthorization(t *testing.T) {
	srv := NewServer(t, nil)
	token := accessToken(t, srv, "registry:catalog:*")
	srv.InjectFault(Fault{Path: "/v2/", Status: http.StatusServiceUnavailable, Times: 1})
	srv.ResetRequests()

	resp, _ := do(t, srv, http.MethodGet, "/v2/", token, nil, nil)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	resp, _ = do(t, srv, http.MethodGet, "/v2/", token, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	log := srv.Requests()
	require.Len(t, log, 2)
	// The faulted request never reached the token check.
	require.Empty(t, log[0].Auth)
	require.Empty(t, log[0].Scope)
	require.Equal(t, "bearer", log[1].Auth)
}

func TestFaultReset(t *testing.T) {
	srv := NewServer(t, nil)
	srv.InjectFault(Fault{Path: "/v2/", Reset: true, Times: 1})

	resp, err := freshClient(srv).Get(srv.URL + "/v2/")
	if err == nil {
		resp.Body.Close()
	}
	require.Error(t, err)
	require.True(t, isConnectionError(err), "want a reset or EOF, got %v", err)
	require.Equal(t, 1, srv.FaultsFired())

	// The log still has the request, with no status since none was sent.
	require.Eventually(t, func() bool { return srv.CountRequests(http.MethodGet, "/v2/") == 1 }, 5*time.Second, 5*time.Millisecond)
	require.Zero(t, srv.Requests()[0].Status)

	// Times: 1, so the registry answers again.
	require.Equal(t, []int{401}, pingStatuses(t, srv, 1))
}

func TestFaultResetAfterBytes(t *testing.T) {
	srv := NewServer(t, nil)
	srv.InjectFault(Fault{Method: http.MethodPost, Reset: true, ResetAfterBytes: 1000})

	// Stream the body through a pipe so the test controls how much the
	// server can read.
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/v2/repo/blobs/uploads/", pr)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		resp, err := freshClient(srv).Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()

	_, err = pw.Write(make([]byte, 600))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return srv.FaultsFired() == 1 }, 5*time.Second, 5*time.Millisecond)
	// 600 of the 1000 bytes: the server is still reading, not resetting.
	select {
	case err := <-done:
		t.Fatalf("request ended before ResetAfterBytes were sent: %v", err)
	case <-time.After(100 * time.Millisecond):
	}

	// The writes fail once the connection is gone; only the request's
	// error matters. Ending the body afterwards keeps a transport that is
	// still waiting for body bytes from hiding the reset behind that wait.
	go func() {
		_, _ = pw.Write(make([]byte, 1<<20))
		pw.Close()
	}()
	select {
	case err := <-done:
		require.Error(t, err)
		require.True(t, isConnectionError(err), "want a reset or EOF, got %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no reset after ResetAfterBytes")
	}
}

func TestFaultTruncateBody(t *testing.T) {
	t.Run("chunked JSON", func(t *testing.T) {
		srv := NewServer(t, nil)
		srv.InjectFault(Fault{Path: "/oauth2/exchange", TruncateBody: 10})
		resp, err := srv.Client().Do(exchangeRequest(t, srv))
		require.NoError(t, err)
		defer resp.Body.Close()
		// Status and headers arrive intact; the body breaks.
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
		got, err := io.ReadAll(resp.Body)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
		require.Equal(t, `{"refresh_`, string(got))
		require.Eventually(t, func() bool { return srv.CountRequests("", "/oauth2/exchange") == 1 }, 5*time.Second, 5*time.Millisecond)
		require.Equal(t, http.StatusOK, srv.Requests()[0].Status)
	})
	t.Run("declared length", func(t *testing.T) {
		srv := NewServer(t, nil)
		token := accessToken(t, srv, "registry:catalog:*")
		srv.InjectFault(Fault{Path: "/v2/", TruncateBody: 1})
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/v2/", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, int64(2), resp.ContentLength)
		got, err := io.ReadAll(resp.Body)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
		require.Equal(t, "{", string(got))
	})
	t.Run("body shorter than the cut", func(t *testing.T) {
		srv := NewServer(t, nil)
		token := accessToken(t, srv, "registry:catalog:*")
		srv.InjectFault(Fault{Path: "/v2/", TruncateBody: 2})
		resp, body := do(t, srv, http.MethodGet, "/v2/", token, nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "{}", string(body))
		require.Equal(t, 1, srv.FaultsFired())
	})
	t.Run("status answer", func(t *testing.T) {
		srv := NewServer(t, nil)
		srv.InjectFault(Fault{Status: http.StatusServiceUnavailable, TruncateBody: 5})
		resp, err := srv.Client().Get(srv.URL + "/v2/")
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		got, err := io.ReadAll(resp.Body)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
		require.Equal(t, `{"err`, string(got))
	})
}

func TestFaultCorruptBody(t *testing.T) {
	srv := NewServer(t, nil)
	clean, cleanBody := do(t, srv, http.MethodGet, "/v2/", "", nil, nil)

	srv.InjectFault(Fault{Path: "/v2/", CorruptBody: true, Times: 1})
	resp, body := do(t, srv, http.MethodGet, "/v2/", "", nil, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	// Headers are untouched, the challenge included.
	require.Equal(t, clean.Header.Get("WWW-Authenticate"), resp.Header.Get("WWW-Authenticate"))
	require.Equal(t, clean.Header.Get("Content-Type"), resp.Header.Get("Content-Type"))
	require.Equal(t, clean.ContentLength, resp.ContentLength)
	require.Len(t, body, len(cleanBody))
	require.NotEqual(t, cleanBody, body)
	require.False(t, json.Valid(body), "corrupted body still parses: %s", body)

	// The registry's own bytes were not modified in place.
	_, again := do(t, srv, http.MethodGet, "/v2/", "", nil, nil)
	require.Equal(t, cleanBody, again)
}

func TestFaultCorruptTokenBody(t *testing.T) {
	srv := NewServer(t, nil)
	srv.InjectFault(Fault{Path: "/oauth2/exchange", CorruptBody: true})
	resp, err := srv.Client().Do(exchangeRequest(t, srv))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, resp.ContentLength, int64(len(body)))
	var out map[string]string
	require.Error(t, json.Unmarshal(body, &out), "corrupted token body still parses: %s", body)
}

func TestFaultDelay(t *testing.T) {
	srv := NewServer(t, nil)
	srv.InjectFault(Fault{Path: "/v2/", Delay: 150 * time.Millisecond, Times: 1})
	start := time.Now()
	resp, _ := do(t, srv, http.MethodGet, "/v2/", "", nil, nil)
	require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
	// A Delay alone lets the registry answer normally afterwards.
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func TestFaultDelayWithStatus(t *testing.T) {
	srv := NewServer(t, nil)
	srv.InjectFault(Fault{Delay: 50 * time.Millisecond, Status: http.StatusGatewayTimeout})
	start := time.Now()
	require.Equal(t, []int{504}, pingStatuses(t, srv, 1))
	require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
}

func TestFaultDelayHonoursCancel(t *testing.T) {
	srv := NewServer(t, nil)
	srv.InjectFault(Fault{Path: "/v2/", Delay: time.Minute})

	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v2/", nil)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		resp, err := srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	require.Eventually(t, func() bool { return srv.FaultsFired() == 1 }, 10*time.Second, 5*time.Millisecond, "the request never arrived")
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)

	// The server stops waiting too: the request is logged, unanswered, long
	// before the minute is up.
	require.Eventually(t, func() bool { return srv.CountRequests(http.MethodGet, "/v2/") == 1 }, 20*time.Second, 5*time.Millisecond, "the server kept waiting")
	require.Zero(t, srv.Requests()[0].Status)
}

// A delayed request never keeps Close waiting: not when its client gives
// up (with or without a request body, which net/http needs read before it
// notices a client hanging up), and not when its client waits on.
func TestFaultDelayDoesNotHoldClose(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		body   io.Reader
		cancel bool
	}{
		{"GET, client gives up", http.MethodGet, nil, true},
		{"POST with a body, client gives up", http.MethodPost, strings.NewReader("grant_type=password&service=x"), true},
		{"PATCH with a body, client waits on", http.MethodPatch, strings.NewReader(strings.Repeat("x", 1<<20)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := NewUnstartedServer(nil)
			srv.Start()
			srv.InjectFault(Fault{Path: "/v2/", Delay: time.Hour})

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, tc.method, srv.URL+"/v2/", tc.body)
			require.NoError(t, err)
			errc := make(chan error, 1)
			go func() {
				resp, err := srv.Client().Do(req)
				if err == nil {
					resp.Body.Close()
				}
				errc <- err
			}()
			// Cancel once the handler is waiting.
			require.Eventually(t, func() bool { return srv.FaultsFired() == 1 }, 10*time.Second, time.Millisecond, "the request never arrived")
			if tc.cancel {
				time.AfterFunc(50*time.Millisecond, cancel)
				require.ErrorIs(t, <-errc, context.Canceled)
			}

			closed := make(chan struct{})
			go func() {
				srv.Close()
				close(closed)
			}()
			select {
			case <-closed:
			case <-time.After(10 * time.Second):
				t.Fatal("Close is still waiting for the delayed request")
			}
			if !tc.cancel {
				require.Error(t, <-errc, "the waiting client is cut off, not answered")
			}
		})
	}
}

func TestFaultRequestLogStatus(t *testing.T) {
	srv := NewServer(t, nil)
	srv.InjectFault(Fault{Nth: 1, Status: http.StatusTooManyRequests, RetryAfter: time.Second})
	srv.InjectFault(Fault{Nth: 2, Status: http.StatusBadGateway})
	require.Equal(t, []int{429, 502, 401}, pingStatuses(t, srv, 3))

	log := srv.Requests()
	require.Len(t, log, 3)
	for i, want := range []int{429, 502, 401} {
		require.Equal(t, http.MethodGet, log[i].Method)
		require.Equal(t, "/v2/", log[i].Path)
		require.Equal(t, want, log[i].Status, "request %d", i)
	}
	require.Equal(t, 2, srv.FaultsFired())
}

func TestFaultCombined(t *testing.T) {
	srv := NewServer(t, nil)
	// Two faults fire on the first request: the first injected Status wins.
	srv.InjectFault(Fault{Status: http.StatusServiceUnavailable, Times: 1})
	srv.InjectFault(Fault{Status: http.StatusInternalServerError, Times: 2})
	require.Equal(t, []int{503, 500, 401}, pingStatuses(t, srv, 3))
	require.Equal(t, 3, srv.FaultsFired())
}

// faultOutcomes sends n sequential unauthenticated pings to a new server
// with random faults and describes, for each, whether a fault fired and
// what the client saw.
func faultOutcomes(t *testing.T, seed int64, n int, kinds ...FaultKind) (fired []bool, seen []string) {
	t.Helper()
	srv := NewServer(t, nil)
	srv.InjectRandomFaults(0.5, seed, kinds...)
	client := freshClient(srv)
	for range n {
		before := srv.FaultsFired()
		resp, err := client.Get(srv.URL + "/v2/")
		outcome := "connection error"
		if err == nil {
			_, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			outcome = fmt.Sprintf("%d Retry-After=%q read error=%v", resp.StatusCode, resp.Header.Values("Retry-After"), rerr != nil)
		} else {
			require.True(t, isConnectionError(err), "want a reset or EOF, got %v", err)
		}
		fired = append(fired, srv.FaultsFired() > before)
		seen = append(seen, outcome)
	}
	return fired, seen
}

func TestFaultRandomDeterministic(t *testing.T) {
	const n = 40
	fired1, seen1 := faultOutcomes(t, 42, n)
	fired2, seen2 := faultOutcomes(t, 42, n)
	require.Equal(t, fired1, fired2)
	require.Equal(t, seen1, seen2)
	require.Contains(t, fired1, true)
	require.Contains(t, fired1, false)

	other, _ := faultOutcomes(t, 7, n)
	require.NotEqual(t, fired1, other, "different seeds should fault different requests")

	// Every kind shows up in its own way over enough requests.
	all := strings.Join(seen1, "\n")
	for _, want := range []string{"connection error", "429 ", "500 ", "503 ", "read error=true", "401 Retry-After=[] read error=false"} {
		require.Contains(t, all, want)
	}
}

func TestFaultRandomKinds(t *testing.T) {
	srv := NewServer(t, nil)
	srv.InjectRandomFaults(1, 1, FaultThrottle)
	for range 20 {
		resp, body := do(t, srv, http.MethodGet, "/v2/", "", nil, nil)
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		require.Contains(t, []string{"0", "1"}, resp.Header.Get("Retry-After"))
		require.Equal(t, CodeTooManyRequests, errorCode(t, body))
	}
	require.Equal(t, 20, srv.FaultsFired())

	srv.InjectRandomFaults(1, 1, FaultServerError, FaultUnavailable)
	for _, status := range pingStatuses(t, srv, 20) {
		require.Contains(t, []int{500, 503}, status)
	}

	// A rate of zero turns random faults off.
	srv.InjectRandomFaults(0, 1)
	require.Equal(t, []int{401, 401, 401}, pingStatuses(t, srv, 3))

	srv.InjectRandomFaults(1, 1, FaultDelay)
	require.Equal(t, []int{401, 401, 401}, pingStatuses(t, srv, 3))
	srv.ClearFaults()
	require.Equal(t, []int{401}, pingStatuses(t, srv, 1))
	require.Zero(t, srv.FaultsFired())
}

func TestFaultRandomTruncate(t *testing.T) {
	srv := NewServer(t, nil)
	srv.InjectRandomFaults(1, 3, FaultTruncate)
	for range 10 {
		resp, err := srv.Client().Do(exchangeRequest(t, srv))
		require.NoError(t, err)
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	}
}

// concurrentPings sends 8×25 unauthenticated pings from 8 goroutines and
// returns how many were not the registry's 401.
func concurrentPings(t *testing.T, srv *Server) int {
	t.Helper()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		faulted int
	)
	for range 8 {
		wg.Go(func() {
			for range 25 {
				resp, err := srv.Client().Get(srv.URL + "/v2/")
				if !assertNoError(t, err) {
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					mu.Lock()
					faulted++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	require.Equal(t, 200, srv.CountRequests(http.MethodGet, "/v2/"))
	return faulted
}

func TestFaultConcurrent(t *testing.T) {
	srv := NewServer(t, nil)
	srv.InjectFault(Fault{Nth: 10, Times: 7, Status: http.StatusBadGateway})
	// Concurrent requests still count exactly: seven fire, no more.
	require.Equal(t, 7, concurrentPings(t, srv))
	require.Equal(t, 7, srv.FaultsFired())
}

func TestFaultRandomConcurrent(t *testing.T) {
	srv := NewServer(t, nil)
	srv.InjectRandomFaults(0.3, 99, FaultThrottle, FaultServerError, FaultUnavailable)
	faulted := concurrentPings(t, srv)
	require.Equal(t, srv.FaultsFired(), faulted)
	require.Positive(t, faulted)
	require.Less(t, faulted, 200)
}

// assertNoError reports err from a goroutine other than the test's, where
// require would not stop the test.
func assertNoError(t *testing.T, err error) bool {
	if err != nil {
		t.Errorf("request failed: %v", err)
		return false
	}
	return true
}

func TestFaultMalformedPanics(t *testing.T) {
	srv := NewServer(t, nil)
	for _, f := range []Fault{
		{Nth: -1},
		{Times: -2},
		{Status: 99},
		{Status: 600},
		{Delay: -time.Second},
		{TruncateBody: -1},
		{ResetAfterBytes: -1},
	} {
		require.Panics(t, func() { srv.InjectFault(f) }, "%+v", f)
	}
	require.Panics(t, func() { srv.InjectRandomFaults(0.1, 1, FaultKind(0)) })
	require.Panics(t, func() { srv.InjectRandomFaults(0.1, 1, FaultDelay+1) })
	require.Equal(t, "FaultTruncate", FaultTruncate.String())
	require.Equal(t, "FaultKind(0)", FaultKind(0).String())
}

func TestRequestLog(t *testing.T) {
	srv := NewServer(t, nil)
	token := accessToken(t, srv, "registry:catalog:*")

	log := srv.Requests()
	require.Len(t, log, 2)
	require.Equal(t, "/oauth2/exchange", log[0].Path)
	require.Equal(t, "aad", log[0].Auth)
	require.Equal(t, "/oauth2/token", log[1].Path)
	require.Equal(t, "refresh", log[1].Auth)
	require.Equal(t, http.StatusOK, log[1].Status)

	srv.ResetRequests()
	require.Empty(t, srv.Requests())
	require.Zero(t, srv.CountRequests("", ""))

	do(t, srv, http.MethodGet, "/v2/?n=1&last=a%3Ab", "", nil, http.Header{"X-Ms-Client-Request-Id": {"abc"}})
	do(t, srv, http.MethodGet, "/v2/", token, nil, nil)
	do(t, srv, http.MethodGet, "/v2/", "not-a-token", nil, nil)
	do(t, srv, http.MethodHead, "/v2/library%2Fhello/manifests/latest", "", nil, nil)

	log = srv.Requests()
	require.Len(t, log, 4)
	require.Equal(t, Request{
		Method: http.MethodGet, Path: "/v2/", RawQuery: "n=1&last=a%3Ab", Host: srv.Host,
		Status: http.StatusUnauthorized, Header: log[0].Header,
	}, log[0])
	require.Equal(t, "abc", log[0].Header.Get("X-Ms-Client-Request-Id"))

	require.Equal(t, http.StatusOK, log[1].Status)
	require.Equal(t, "bearer", log[1].Auth)
	require.Equal(t, "registry:catalog:*", log[1].Scope)
	require.Equal(t, "Bearer "+token, log[1].Header.Get("Authorization"))

	require.Equal(t, http.StatusUnauthorized, log[2].Status)
	require.Equal(t, "invalid", log[2].Auth)

	// Paths are logged decoded, as handlers see them.
	require.Equal(t, http.MethodHead, log[3].Method)
	require.Equal(t, "/v2/library/hello/manifests/latest", log[3].Path)

	require.Equal(t, 4, srv.CountRequests("", "/v2/"))
	require.Equal(t, 3, srv.CountRequests(http.MethodGet, "/v2/"))
	require.Equal(t, 1, srv.CountRequests(http.MethodHead, "/v2/library/"))
	require.Zero(t, srv.CountRequests(http.MethodPost, "/v2/"))
	require.Zero(t, srv.CountRequests("", "/oauth2/"))

	srv.ResetRequests()
	require.Zero(t, srv.CountRequests("", "/v2/"))
}

func TestFaultStorageHostNeedsPath(t *testing.T) {
	srv := NewServer(t, nil)
	storagePath := "/container//docker/registry/v2/blobs/sha256/ab/abcd/data"
	call := func() (*httptest.ResponseRecorder, bool) {
		w := httptest.NewRecorder()
		_, handled := srv.faults.applyStorage(w, httptest.NewRequest(http.MethodGet, "https://storage.example"+storagePath, nil))
		return w, handled
	}

	// Faults aimed at the registry, and random ones, leave redirected blob
	// reads alone.
	srv.InjectFault(Fault{Status: http.StatusServiceUnavailable})
	srv.InjectRandomFaults(1, 1, FaultServerError)
	_, handled := call()
	require.False(t, handled)
	require.Zero(t, srv.FaultsFired())

	srv.InjectFault(Fault{Path: "/docker/registry/v2/blobs/", Status: http.StatusInternalServerError})
	w, handled := call()
	require.True(t, handled)
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.Equal(t, 1, srv.FaultsFired())
}
