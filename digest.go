// Copyright (c) Microsoft Corporation. All rights reserved.
// Licensed under the MIT License.

package azacr

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Digest algorithms accepted by this package. A digest is written
// "<algorithm>:<lowercase hex>", the canonical OCI form; ACR computes and
// reports sha256, and sha512 is the only other algorithm registered by the
// OCI image spec.
const (
	// DigestAlgorithmSHA256 is the algorithm of every digest ACR computes.
	DigestAlgorithmSHA256 = "sha256"
	// DigestAlgorithmSHA512 is accepted because the OCI image spec registers
	// it and some registries store content under it.
	DigestAlgorithmSHA512 = "sha512"
)

var (
	// ErrInvalidDigest is wrapped by every error about a malformed digest
	// string: a missing or unsupported algorithm, a hex part of the wrong
	// length, or characters other than lowercase hex. It is returned before
	// any request is sent, so a typo never reaches the registry.
	ErrInvalidDigest = errors.New("azacr: invalid digest")

	// ErrDigestMismatch is wrapped by errors reporting content whose hash
	// differs from the digest it was requested or uploaded under. Its
	// concrete form is [*DigestMismatchError], which names both digests.
	ErrDigestMismatch = errors.New("azacr: digest mismatch")

	// ErrSizeMismatch is wrapped by errors reporting content longer or
	// shorter than the size it was announced with. A short body also wraps
	// [io.ErrUnexpectedEOF], so code that already handles truncated streams
	// keeps working.
	ErrSizeMismatch = errors.New("azacr: size mismatch")
)

// DigestMismatchError reports content whose hash is not the expected
// digest. It unwraps to [ErrDigestMismatch]; use [errors.As] to get the two
// digests, for example to log which blob was corrupted in transit.
type DigestMismatchError struct {
	// Expected is the digest the content was requested or uploaded under.
	Expected string
	// Actual is the digest of the content actually received or sent.
	Actual string
}

// Error names both digests so that a log line alone is enough to tell a
// corrupted transfer from a wrong request.
func (e *DigestMismatchError) Error() string {
	return ErrDigestMismatch.Error() + ": expected " + e.Expected + ", got " + e.Actual
}

// Unwrap returns [ErrDigestMismatch], so errors.Is(err, ErrDigestMismatch)
// holds for every mismatch whatever its digests.
func (e *DigestMismatchError) Unwrap() error { return ErrDigestMismatch }

// multiError carries a message of our choosing while letting errors.Is and
// errors.As see every cause; fmt.Errorf with several %w would repeat each
// cause's text in the message.
type multiError struct {
	msg  string
	errs []error
}

func (e *multiError) Error() string   { return e.msg }
func (e *multiError) Unwrap() []error { return e.errs }

// maxQuoted bounds how much of a caller's value goes into an error message:
// a 10 KB garbage string must not turn one log line into a wall of text.
const maxQuoted = 80

// quoteValue quotes s for an error message, escaping control bytes and
// invalid UTF-8, and truncating long values with a trailing "...".
func quoteValue(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:maxQuoted]) + "..."
}

// describeChar names the character at s[i] for an error message, making
// bytes that would be invisible or mangled in a log (NUL, whitespace,
// non-ASCII, broken UTF-8) unambiguous.
func describeChar(s string, i int) string {
	c := s[i]
	if c < utf8.RuneSelf {
		return strconv.QuoteRune(rune(c))
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && n <= 1 {
		return fmt.Sprintf("byte 0x%02x (invalid UTF-8)", c)
	}
	return strconv.QuoteRune(r) + " (non-ASCII)"
}

// digestHexLen is the hex length of alg's digests, or 0 for an algorithm
// this package does not support.
func digestHexLen(alg string) int {
	switch alg {
	case DigestAlgorithmSHA256:
		return 2 * sha256.Size
	case DigestAlgorithmSHA512:
		return 2 * sha512.Size
	}
	return 0
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// isDigest reports whether s is a canonical sha256 or sha512 digest. It
// runs on every request that carries a digest, so it neither allocates nor
// uses regexp.
func isDigest(s string) bool {
	switch len(s) {
	case len(DigestAlgorithmSHA256) + 1 + 2*sha256.Size:
		return s[:len(DigestAlgorithmSHA256)+1] == DigestAlgorithmSHA256+":" &&
			isLowerHex(s[len(DigestAlgorithmSHA256)+1:])
	case len(DigestAlgorithmSHA512) + 1 + 2*sha512.Size:
		return s[:len(DigestAlgorithmSHA512)+1] == DigestAlgorithmSHA512+":" &&
			isLowerHex(s[len(DigestAlgorithmSHA512)+1:])
	}
	return false
}

// digestProblem explains why s is not a valid digest, or returns "" when it
// is. It is kept apart from ValidateDigest so that ValidateReference can
// reuse the reason without repeating the value in its message.
func digestProblem(s string) string {
	if isDigest(s) {
		return ""
	}
	if s == "" {
		return "empty digest"
	}
	colon := strings.IndexByte(s, ':')
	if colon < 0 {
		return `missing algorithm: want "<algorithm>:<hex>", e.g. "sha256:<64 hex characters>"`
	}
	if colon == 0 {
		return `missing algorithm before ':'`
	}
	alg, hexPart := s[:colon], s[colon+1:]
	want := digestHexLen(alg)
	if want == 0 {
		if digestHexLen(strings.ToLower(alg)) != 0 {
			return fmt.Sprintf("uppercase algorithm %s: algorithms are lowercase", quoteValue(alg))
		}
		return fmt.Sprintf("unsupported algorithm %s: want %s or %s",
			quoteValue(alg), DigestAlgorithmSHA256, DigestAlgorithmSHA512)
	}
	if hexPart == "" {
		return fmt.Sprintf("missing hex after %q", alg+":")
	}
	if len(hexPart) != want {
		return fmt.Sprintf("wrong hex length for %s: want %d characters, got %d", alg, want, len(hexPart))
	}
	for i := 0; i < len(hexPart); i++ {
		c := hexPart[i]
		switch {
		case '0' <= c && c <= '9' || 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			return fmt.Sprintf("uppercase hex character %s at offset %d: digests use lowercase hex",
				describeChar(s, colon+1+i), colon+1+i)
		default:
			return fmt.Sprintf("non-hex character %s at offset %d", describeChar(s, colon+1+i), colon+1+i)
		}
	}
	// isDigest and the checks above disagree; say so rather than
	// accepting a value the fast path rejected.
	return "not a canonical digest"
}

// ValidateDigest reports whether digest is a canonical OCI digest this
// package can verify: "sha256:" followed by 64 lowercase hex characters, or
// "sha512:" followed by 128. It returns nil for a valid digest, otherwise an
// error wrapping [ErrInvalidDigest] that quotes the value and says what is
// wrong. Checking up front turns a typo into a clear local error instead of
// a 404 or a DIGEST_INVALID from the registry.
func ValidateDigest(digest string) error {
	if isDigest(digest) {
		return nil
	}
	return fmt.Errorf("%w: %s: %s", ErrInvalidDigest, quoteValue(digest), digestProblem(digest))
}

// ComputeDigest returns the sha256 digest of data in canonical form,
// "sha256:<64 lowercase hex>", the digest ACR assigns to the same bytes. It
// is meant for manifests and small blobs already in memory; stream large
// content through a hash instead.
func ComputeDigest(data []byte) string {
	sum := sha256.Sum256(data)
	const prefix = DigestAlgorithmSHA256 + ":"
	var out [len(prefix) + 2*sha256.Size]byte
	copy(out[:], prefix)
	hex.Encode(out[len(prefix):], sum[:])
	return string(out[:])
}

// digester hashes content with the algorithm of a given digest so that the
// result can be compared with that digest.
type digester struct {
	alg string
	h   hash.Hash
	// Scratch space lives here, not on the stack, because passing a stack
	// buffer to an interface method makes it escape and allocate per call.
	sum    [sha512.Size]byte
	hexbuf [2 * sha512.Size]byte
}

// makeDigester validates digest and prepares a hash of its algorithm; it
// returns a value so that callers can embed the digester without a second
// allocation.
func makeDigester(digest string) (digester, error) {
	if err := ValidateDigest(digest); err != nil {
		return digester{}, err
	}
	switch digest[:strings.IndexByte(digest, ':')] {
	case DigestAlgorithmSHA512:
		return digester{alg: DigestAlgorithmSHA512, h: sha512.New()}, nil
	default:
		return digester{alg: DigestAlgorithmSHA256, h: sha256.New()}, nil
	}
}

// newDigester returns a digester for digest's algorithm, or an error
// wrapping ErrInvalidDigest.
func newDigester(digest string) (*digester, error) {
	d, err := makeDigester(digest)
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// Write hashes p; it never fails.
func (d *digester) Write(p []byte) (int, error) { return d.h.Write(p) }

// sumHex writes the hex of the current hash into d.hexbuf and returns it;
// the result is only valid until the next call.
func (d *digester) sumHex() []byte {
	sum := d.h.Sum(d.sum[:0])
	n := hex.Encode(d.hexbuf[:], sum)
	return d.hexbuf[:n]
}

// Digest returns the digest of everything written so far, "alg:hex".
func (d *digester) Digest() string {
	return d.alg + ":" + string(d.sumHex())
}

// Matches reports whether everything written so far has the given digest.
// It does not allocate, so checking a download costs nothing extra.
func (d *digester) Matches(digest string) bool {
	alg, hexPart, ok := strings.Cut(digest, ":")
	if !ok || alg != d.alg {
		return false
	}
	return string(d.sumHex()) == hexPart
}

// NewVerifyingReader returns a reader that yields r's bytes unchanged while
// hashing them, and fails rather than report a clean end of stream on
// content that is not what digest and size promise. This is how a download
// is checked without buffering it: the check happens at the Read that
// reaches the end.
//
// size is the expected length in bytes; a negative size means unknown, and
// only the digest is checked.
//
// It returns an error wrapping [ErrInvalidDigest] if digest is not a valid
// sha256 or sha512 digest, since nothing could then be verified. The
// returned reader reports:
//   - an error wrapping [ErrDigestMismatch] (a [*DigestMismatchError]
//     naming both digests) when r ends and its bytes hash to another digest;
//   - an error wrapping both [ErrSizeMismatch] and [io.ErrUnexpectedEOF]
//     when r ends before size bytes;
//   - an error wrapping [ErrSizeMismatch] as soon as r yields more than size
//     bytes; the excess is never returned to the caller.
//
// Errors from r are passed through. Once Read has returned an error, every
// later Read returns the same error, so a retry loop cannot read past a
// failure into a false success.
func NewVerifyingReader(r io.Reader, digest string, size int64) (io.Reader, error) {
	if r == nil {
		return nil, errors.New("azacr: NewVerifyingReader: nil reader")
	}
	d, err := makeDigester(digest)
	if err != nil {
		return nil, err
	}
	if size < 0 {
		size = -1
	}
	return &verifyingReader{r: r, d: d, expected: digest, size: size}, nil
}

type verifyingReader struct {
	r        io.Reader
	d        digester
	expected string
	size     int64 // -1 when unknown
	n        int64 // bytes returned so far
	err      error // sticky: io.EOF after a verified end, or the failure
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if v.size >= 0 {
		// Ask for at most one byte beyond the expected end: that is enough
		// to see an over-long body without reading (or hashing) its excess.
		if rem := v.size - v.n; int64(len(p)) > rem {
			p = p[:rem+1]
		}
	}
	n, err := v.r.Read(p)
	if n < 0 || n > len(p) {
		// A broken reader must not make us slice out of range and panic.
		v.err = fmt.Errorf("azacr: underlying reader returned invalid count %d for a %d-byte buffer", n, len(p))
		return 0, v.err
	}
	if v.size >= 0 && v.n+int64(n) > v.size {
		valid := int(v.size - v.n)
		v.d.Write(p[:valid])
		v.n = v.size
		v.err = &multiError{
			msg:  fmt.Sprintf("%s: expected %d bytes, got more", ErrSizeMismatch.Error(), v.size),
			errs: []error{ErrSizeMismatch},
		}
		return valid, v.err
	}
	v.d.Write(p[:n])
	v.n += int64(n)
	switch {
	case err == io.EOF:
		v.err = v.verify()
		return n, v.err
	case err != nil:
		v.err = err
		return n, err
	}
	return n, nil
}

// verify decides what the end of the underlying stream means: io.EOF only
// when the size and digest both check out.
func (v *verifyingReader) verify() error {
	if v.size >= 0 && v.n < v.size {
		return &multiError{
			msg:  fmt.Sprintf("%s: expected %d bytes, got %d: %s", ErrSizeMismatch.Error(), v.size, v.n, io.ErrUnexpectedEOF.Error()),
			errs: []error{ErrSizeMismatch, io.ErrUnexpectedEOF},
		}
	}
	if !v.d.Matches(v.expected) {
		return &DigestMismatchError{Expected: v.expected, Actual: v.d.Digest()}
	}
	return io.EOF
}

// newSHA256Digester returns a digester for content whose digest is not
// known yet: sha256, the algorithm registries default to.
func newSHA256Digester() *digester {
	return &digester{alg: DigestAlgorithmSHA256, h: sha256.New()}
}
