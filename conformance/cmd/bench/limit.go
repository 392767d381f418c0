package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
)

// The "limit" client is what the registry and the link allow, not a peer:
// the fewest requests a push and a pull can take, from plain net/http on
// the same transport as oras and ggcr (net/http's default, trusting the
// registry's certificate over TLS), with nothing done to the bytes on the
// client.
//
// Push: the digest is known in advance (the parent passes the one it
// computed while writing the file), so the client does not hash. A POST
// opens a session and one PUT with ?digest= sends the whole file, with its
// Content-Length, straight from the *os.File (net/http hands it to
// sendfile(2) over plain HTTP). distribution v3.1.2 ignores ?digest= on the
// POST (it never completes a monolithic POST), so the POST+PUT pair is
// the shortest upload it accepts. The result's digest is the one the
// registry sent back, not the one given.
//
// Pull: one GET, copied to io.Discard in 1 MiB reads with no verification.
//
// The bench registry asks for no credentials, and oras and ggcr send none;
// neither does the limit client.

// limitReadSize is the read size of the limit pull: large, so the copy is
// not bound by per-call overhead.
const limitReadSize = 1 << 20

func prepareLimit(ctx context.Context, a opArgs, tr *http.Transport) (func() (opResult, error), error) {
	client := &http.Client{Transport: tr}
	switch a.op {
	case "push":
		return func() (opResult, error) {
			d, err := limitPush(ctx, client, a)
			return opResult{Bytes: a.size, Digest: d}, err
		}, nil
	case "pull":
		return func() (opResult, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.endpoint()+"/v2/"+a.repo+"/blobs/"+a.digest, nil)
			if err != nil {
				return opResult{}, err
			}
			resp, err := client.Do(req)
			if err != nil {
				return opResult{}, err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return opResult{}, fmt.Errorf("limit GET: %s", resp.Status)
			}
			n, err := io.CopyBuffer(writerOnly{io.Discard}, readerOnly{resp.Body}, make([]byte, limitReadSize))
			return opResult{Bytes: n, Digest: a.digest}, err
		}, nil
	}
	return nil, fmt.Errorf("limit: unknown op %q", a.op)
}

// limitPush is the POST and the one PUT; it returns the registry's digest.
func limitPush(ctx context.Context, client *http.Client, a opArgs) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.endpoint()+"/v2/"+a.repo+"/blobs/uploads/", nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("limit POST: %s", resp.Status)
	}
	loc, err := resp.Location()
	if err != nil {
		return "", fmt.Errorf("limit POST: %w", err)
	}
	q := loc.Query()
	q.Set("digest", a.digest)
	loc.RawQuery = q.Encode()

	f, err := os.Open(a.file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	// The *os.File itself: net/http sends a file body by sendfile when the
	// connection allows it. Content-Length is set by hand, as net/http
	// only infers it for in-memory readers.
	req, err = http.NewRequestWithContext(ctx, http.MethodPut, loc.String(), f)
	if err != nil {
		return "", err
	}
	req.ContentLength = a.size
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = client.Do(req)
	if err != nil {
		return "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("limit PUT: %s", resp.Status)
	}
	return resp.Header.Get("Docker-Content-Digest"), nil
}
