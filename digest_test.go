// Copyright (c) Microsoft Corporation. All rights reserved.
// Licensed under the MIT License.

package azacr

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	// Digests of the empty string, from the published test vectors, so the
	// tests do not merely compare our code with itself.
	emptySHA256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	emptySHA512 = "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce" +
		"47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
	abcSHA256 = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
)

var hex64 = strings.Repeat("0123456789abcdef", 4)

// sha512Digest is a test helper computing what ComputeDigest would for
// sha512, independently of digester.
func sha512Digest(data []byte) string {
	sum := sha512.Sum512(data)
	return "sha512:" + hex.EncodeToString(sum[:])
}

// assertValidationError checks the contract every validation error keeps:
// it wraps the right sentinels, quotes the offending value (truncated when
// long) and gives the expected reason.
func assertValidationError(t *testing.T, err error, value, reason string, sentinels ...error) {
	t.Helper()
	require.Error(t, err)
	for _, s := range sentinels {
		assert.ErrorIs(t, err, s)
	}
	msg := err.Error()
	want := strconv.Quote(value)
	if len(value) > maxQuoted {
		want = strconv.Quote(value[:maxQuoted]) + "..."
		assert.Less(t, len(msg), 400, "long values must be truncated: %s", msg)
	}
	assert.Contains(t, msg, want, "message must quote the bad value")
	assert.Contains(t, msg, reason)
	assert.True(t, strings.HasPrefix(msg, "azacr: "), "message %q lacks the azacr prefix", msg)
}

func TestValidateDigest(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		reason string // "" means valid
	}{
		{"sha256 empty content", emptySHA256, ""},
		{"sha256 abc", abcSHA256, ""},
		{"sha512", emptySHA512, ""},
		{"sha256 all hex digits", "sha256:" + hex64, ""},
		{"empty", "", "empty digest"},
		{"hex without algorithm", strings.TrimPrefix(emptySHA256, "sha256:"), "missing algorithm"},
		{"colon without algorithm", strings.TrimPrefix(emptySHA256, "sha256"), "missing algorithm before ':'"},
		{"algorithm only", "sha256", "missing algorithm"},
		{"md5", "md5:d41d8cd98f00b204e9800998ecf8427e", `unsupported algorithm "md5"`},
		{"sha1", "sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709", `unsupported algorithm "sha1"`},
		{"sha384", "sha384:" + strings.Repeat("a", 96), `unsupported algorithm "sha384"`},
		{"uppercase algorithm", "SHA256:" + hex64, `uppercase algorithm "SHA256"`},
		{"empty sha256 hex", "sha256:", `missing hex after "sha256:"`},
		{"empty sha512 hex", "sha512:", `missing hex after "sha512:"`},
		{"short hex", "sha256:abc", "wrong hex length for sha256: want 64 characters, got 3"},
		{"63 hex", "sha256:" + hex64[:63], "want 64 characters, got 63"},
		{"65 hex", "sha256:" + hex64 + "0", "want 64 characters, got 65"},
		{"sha512 with sha256 length", "sha512:" + hex64, "wrong hex length for sha512: want 128 characters, got 64"},
		{"sha256 with sha512 length", "sha256:" + hex64 + hex64, "want 64 characters, got 128"},
		{"uppercase hex", strings.ToUpper(emptySHA256[:8]) + emptySHA256[8:], "uppercase algorithm"},
		{"uppercase hex only", "sha256:E" + hex64[1:], "uppercase hex character 'E' at offset 7: digests use lowercase hex"},
		{"uppercase hex last", "sha256:" + hex64[:63] + "F", "uppercase hex character 'F' at offset 70"},
		{"non-hex letter", "sha256:g" + hex64[1:], "non-hex character 'g' at offset 7"},
		{"space inside", "sha256:" + hex64[:32] + " " + hex64[33:], "non-hex character ' ' at offset 39"},
		{"NUL byte", "sha256:" + hex64[:63] + "\x00", `non-hex character '\x00' at offset 70`},
		{"percent", "sha256:%3A" + hex64[3:], "non-hex character '%' at offset 7"},
		{"non-ASCII", "sha256:" + hex64[:62] + "é", "non-hex character 'é' (non-ASCII) at offset 69"},
		{"invalid UTF-8", "sha256:" + hex64[:63] + "\xff", "byte 0xff (invalid UTF-8) at offset 70"},
		{"trailing newline", emptySHA256 + "\n", "got 65"},
		{"query string", emptySHA256 + "?x=1", "got 68"},
		{"double colon", "sha256::" + hex64[1:], "non-hex character ':' at offset 7"},
		{"at-sign reference", "@" + emptySHA256, `unsupported algorithm "@sha256"`},
		{"long garbage", strings.Repeat("x", 1000) + ":", "unsupported algorithm"},
		{"long hex", "sha256:" + strings.Repeat("a", 5000), "got 5000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateDigest(tc.in)
			assert.Equal(t, tc.reason == "", isDigest(tc.in), "isDigest disagrees with the table")
			if tc.reason == "" {
				require.NoError(t, err)
				d, err := newDigester(tc.in)
				require.NoError(t, err)
				assert.Equal(t, tc.in[:6], d.alg)
				return
			}
			assertValidationError(t, err, tc.in, tc.reason, ErrInvalidDigest)
			d, err := newDigester(tc.in)
			assert.Nil(t, d)
			assert.ErrorIs(t, err, ErrInvalidDigest)
		})
	}
}

func TestValidateDigestDoesNotAllocate(t *testing.T) {
	for _, d := range []string{emptySHA256, emptySHA512} {
		allocs := testing.AllocsPerRun(100, func() {
			if ValidateDigest(d) != nil {
				t.Fatal("valid digest rejected")
			}
		})
		assert.Zero(t, allocs, d)
	}
}

func TestComputeDigest(t *testing.T) {
	assert.Equal(t, emptySHA256, ComputeDigest(nil))
	assert.Equal(t, emptySHA256, ComputeDigest([]byte{}))
	assert.Equal(t, abcSHA256, ComputeDigest([]byte("abc")))
	big := bytes.Repeat([]byte("azacr"), 100000)
	sum := sha256.Sum256(big)
	assert.Equal(t, "sha256:"+hex.EncodeToString(sum[:]), ComputeDigest(big))
	assert.NoError(t, ValidateDigest(ComputeDigest(big)))
}

func TestDigester(t *testing.T) {
	for _, tc := range []struct {
		digest string
		data   string
	}{
		{emptySHA256, ""},
		{abcSHA256, "abc"},
		{emptySHA512, ""},
		{sha512Digest([]byte("abc")), "abc"},
	} {
		t.Run(tc.digest[:12], func(t *testing.T) {
			d, err := newDigester(tc.digest)
			require.NoError(t, err)
			// Split writes must hash like one write.
			for i := 0; i < len(tc.data); i++ {
				_, err := d.Write([]byte{tc.data[i]})
				require.NoError(t, err)
			}
			assert.Equal(t, tc.digest, d.Digest())
			assert.True(t, d.Matches(tc.digest))
			// Digest must not disturb the running hash.
			assert.Equal(t, tc.digest, d.Digest())

			assert.False(t, d.Matches(""))
			assert.False(t, d.Matches(tc.digest[7:]), "hex alone")
			assert.False(t, d.Matches(strings.ToUpper(tc.digest)))
			assert.False(t, d.Matches(tc.digest[:len(tc.digest)-1]))
			assert.False(t, d.Matches(tc.digest+"0"))
			other := "sha512"
			if d.alg == other {
				other = "sha256"
			}
			assert.False(t, d.Matches(other+tc.digest[6:]), "same hex, other algorithm")

			_, _ = d.Write([]byte("x"))
			assert.False(t, d.Matches(tc.digest))
			assert.Zero(t, testing.AllocsPerRun(50, func() { d.Matches(tc.digest) }))
		})
	}
}

// readers wraps a content reader in each of the shapes real streams take,
// so every verifying-reader property is checked under all of them.
var readerShapes = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"plain", func(r io.Reader) io.Reader { return r }},
	{"one byte", iotest.OneByteReader},
	{"half", iotest.HalfReader},
	{"data with EOF", iotest.DataErrReader},
	{"one byte with EOF", func(r io.Reader) io.Reader { return iotest.DataErrReader(iotest.OneByteReader(r)) }},
}

func mustVerifyingReader(t testing.TB, r io.Reader, digest string, size int64) io.Reader {
	t.Helper()
	vr, err := NewVerifyingReader(r, digest, size)
	require.NoError(t, err)
	return vr
}

func TestVerifyingReaderExactContent(t *testing.T) {
	payloads := map[string][]byte{
		"empty":  nil,
		"byte":   {0},
		"abc":    []byte("abc"),
		"100KiB": bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 10240),
	}
	for pname, data := range payloads {
		for _, digest := range []string{ComputeDigest(data), sha512Digest(data)} {
			for _, size := range []int64{int64(len(data)), -1, -42} {
				for _, shape := range readerShapes {
					name := pname + "/" + digest[:6] + "/size " + strconv.FormatInt(size, 10) + "/" + shape.name
					t.Run(name, func(t *testing.T) {
						vr := mustVerifyingReader(t, shape.wrap(bytes.NewReader(data)), digest, size)
						got, err := io.ReadAll(vr)
						require.NoError(t, err)
						assert.Equal(t, len(data), len(got))
						assert.True(t, bytes.Equal(data, got))
						n, err := vr.Read(make([]byte, 8))
						assert.Zero(t, n)
						assert.Equal(t, io.EOF, err, "a verified end stays a clean io.EOF")
					})
				}
			}
		}
	}
}

func TestVerifyingReaderIOTest(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("x"), []byte("hello, registry"), bytes.Repeat([]byte("0123456789"), 5000)} {
		for _, size := range []int64{int64(len(data)), -1} {
			vr := mustVerifyingReader(t, bytes.NewReader(data), ComputeDigest(data), size)
			assert.NoError(t, iotest.TestReader(vr, data), "len %d size %d", len(data), size)
		}
	}
}

// readChunks reads vr with a fixed buffer and returns what every Read
// returned, so tests can tell at which Read a failure surfaced.
func readChunks(t *testing.T, vr io.Reader, bufSize int) (data []byte, errs []error) {
	t.Helper()
	buf := make([]byte, bufSize)
	for i := 0; i < 1<<20; i++ {
		n, err := vr.Read(buf)
		data = append(data, buf[:n]...)
		errs = append(errs, err)
		if err != nil {
			return data, errs
		}
	}
	t.Fatal("reader never ended")
	return nil, nil
}

func TestVerifyingReaderFlippedByte(t *testing.T) {
	good := bytes.Repeat([]byte("layer bytes "), 10000)
	for _, pos := range []int{0, len(good) / 2, len(good) - 1} {
		bad := bytes.Clone(good)
		bad[pos] ^= 0x01
		for _, shape := range readerShapes[:4] {
			for _, size := range []int64{int64(len(good)), -1} {
				t.Run(strconv.Itoa(pos)+"/"+shape.name+"/"+strconv.FormatInt(size, 10), func(t *testing.T) {
					vr := mustVerifyingReader(t, shape.wrap(bytes.NewReader(bad)), ComputeDigest(good), size)
					got, errs := readChunks(t, vr, 4096)
					for i, err := range errs[:len(errs)-1] {
						require.NoError(t, err, "read %d failed before the end of the body", i)
					}
					err := errs[len(errs)-1]
					require.ErrorIs(t, err, ErrDigestMismatch)
					assert.NotErrorIs(t, err, ErrSizeMismatch)
					assert.Equal(t, bad, got, "every byte of the body is still delivered")

					var dme *DigestMismatchError
					require.ErrorAs(t, err, &dme)
					assert.Equal(t, ComputeDigest(good), dme.Expected)
					assert.Equal(t, ComputeDigest(bad), dme.Actual)
					assert.Contains(t, err.Error(), dme.Expected)
					assert.Contains(t, err.Error(), dme.Actual)
				})
			}
		}
	}
}

func TestVerifyingReaderShortBody(t *testing.T) {
	good := bytes.Repeat([]byte("0123456789"), 1000)
	for _, cut := range []int{0, 1, len(good) / 2, len(good) - 1} {
		for _, shape := range readerShapes {
			t.Run(strconv.Itoa(cut)+"/"+shape.name, func(t *testing.T) {
				vr := mustVerifyingReader(t, shape.wrap(bytes.NewReader(good[:cut])), ComputeDigest(good), int64(len(good)))
				got, err := io.ReadAll(vr)
				require.ErrorIs(t, err, ErrSizeMismatch)
				assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
				assert.NotErrorIs(t, err, ErrDigestMismatch)
				assert.Equal(t, good[:cut], got)
				assert.Contains(t, err.Error(), "expected "+strconv.Itoa(len(good))+" bytes, got "+strconv.Itoa(cut))
			})
		}
	}
	t.Run("unknown size", func(t *testing.T) {
		vr := mustVerifyingReader(t, bytes.NewReader(good[:10]), ComputeDigest(good), -1)
		_, err := io.ReadAll(vr)
		assert.ErrorIs(t, err, ErrDigestMismatch, "without a size only the digest can tell")
	})
}

func TestVerifyingReaderLongBody(t *testing.T) {
	good := bytes.Repeat([]byte("abcdefgh"), 1000)
	long := append(bytes.Clone(good), "trailing garbage"...)
	for _, shape := range readerShapes {
		t.Run(shape.name, func(t *testing.T) {
			// The digest of the first size bytes is right: only the size
			// can reveal the excess.
			vr := mustVerifyingReader(t, shape.wrap(bytes.NewReader(long)), ComputeDigest(good), int64(len(good)))
			got, err := io.ReadAll(vr)
			require.ErrorIs(t, err, ErrSizeMismatch)
			assert.NotErrorIs(t, err, io.ErrUnexpectedEOF)
			assert.Equal(t, good, got, "the excess must never reach the caller")
		})
	}
	t.Run("one big read", func(t *testing.T) {
		vr := mustVerifyingReader(t, bytes.NewReader(long), ComputeDigest(good), int64(len(good)))
		buf := make([]byte, 2*len(long))
		n, err := vr.Read(buf)
		assert.LessOrEqual(t, n, len(good))
		if err == nil {
			n, err = vr.Read(buf)
			assert.Zero(t, n)
		}
		assert.ErrorIs(t, err, ErrSizeMismatch)
	})
	t.Run("zero size", func(t *testing.T) {
		vr := mustVerifyingReader(t, strings.NewReader("x"), emptySHA256, 0)
		n, err := vr.Read(make([]byte, 10))
		assert.Zero(t, n)
		assert.ErrorIs(t, err, ErrSizeMismatch)
	})
}

// TestVerifyingReaderNeverCleanEOFOnWrongData is the property the download
// path relies on: io.ReadAll, io.Copy and friends can never report success
// for a body that is not exactly the expected one.
func TestVerifyingReaderNeverCleanEOFOnWrongData(t *testing.T) {
	good := []byte("the quick brown fox jumps over the lazy dog")
	digest := ComputeDigest(good)
	flipped := bytes.Clone(good)
	flipped[10] = 'X'
	cases := []struct {
		name string
		body []byte
		size int64
		want error
	}{
		{"flipped", flipped, int64(len(good)), ErrDigestMismatch},
		{"flipped unknown size", flipped, -1, ErrDigestMismatch},
		{"truncated", good[:20], int64(len(good)), ErrSizeMismatch},
		{"truncated unknown size", good[:20], -1, ErrDigestMismatch},
		{"empty", nil, int64(len(good)), io.ErrUnexpectedEOF},
		{"extended", append(bytes.Clone(good), '!'), int64(len(good)), ErrSizeMismatch},
		{"extended unknown size", append(bytes.Clone(good), '!'), -1, ErrDigestMismatch},
		{"right body wrong size", good, int64(len(good)) + 1, ErrSizeMismatch},
		{"right body smaller size", good, int64(len(good)) - 1, ErrSizeMismatch},
		{"other body", []byte("entirely different"), -1, ErrDigestMismatch},
	}
	for _, tc := range cases {
		for _, shape := range readerShapes {
			t.Run(tc.name+"/"+shape.name, func(t *testing.T) {
				vr := mustVerifyingReader(t, shape.wrap(bytes.NewReader(tc.body)), digest, tc.size)
				_, err := io.ReadAll(vr)
				assert.ErrorIs(t, err, tc.want)
				var sink bytes.Buffer
				vr = mustVerifyingReader(t, shape.wrap(bytes.NewReader(tc.body)), digest, tc.size)
				_, err = io.Copy(&sink, vr)
				assert.ErrorIs(t, err, tc.want, "io.Copy")
			})
		}
	}
}

func TestVerifyingReaderStickyError(t *testing.T) {
	t.Run("mismatch", func(t *testing.T) {
		vr := mustVerifyingReader(t, strings.NewReader("wrong"), abcSHA256, -1)
		_, first := io.ReadAll(vr)
		require.ErrorIs(t, first, ErrDigestMismatch)
		for i := 0; i < 3; i++ {
			n, err := vr.Read(make([]byte, 16))
			assert.Zero(t, n)
			assert.Same(t, first, err)
		}
	})
	t.Run("too long", func(t *testing.T) {
		vr := mustVerifyingReader(t, strings.NewReader("abcd"), abcSHA256, 3)
		_, first := io.ReadAll(vr)
		require.ErrorIs(t, first, ErrSizeMismatch)
		n, err := vr.Read(make([]byte, 16))
		assert.Zero(t, n)
		assert.Same(t, first, err)
	})
	t.Run("underlying error", func(t *testing.T) {
		boom := errors.New("connection reset")
		r := io.MultiReader(strings.NewReader("ab"), iotest.ErrReader(boom), strings.NewReader("c"))
		vr := mustVerifyingReader(t, r, abcSHA256, 3)
		got, err := io.ReadAll(vr)
		assert.Equal(t, "ab", string(got))
		assert.Same(t, boom, err, "errors from the body pass through untouched")
		n, err := vr.Read(make([]byte, 16))
		assert.Zero(t, n)
		assert.Same(t, boom, err, "the rest of the body must not be read after a failure")
	})
	t.Run("timeout", func(t *testing.T) {
		vr := mustVerifyingReader(t, iotest.TimeoutReader(strings.NewReader("abc")), abcSHA256, 3)
		buf := make([]byte, 1)
		_, err := vr.Read(buf)
		require.NoError(t, err)
		_, err = vr.Read(buf)
		require.ErrorIs(t, err, iotest.ErrTimeout)
		_, err2 := vr.Read(buf)
		assert.ErrorIs(t, err2, iotest.ErrTimeout)
	})
}

func TestVerifyingReaderZeroLengthRead(t *testing.T) {
	vr := mustVerifyingReader(t, strings.NewReader("abc"), abcSHA256, 3)
	n, err := vr.Read(nil)
	assert.Zero(t, n)
	assert.NoError(t, err)
	got, err := io.ReadAll(vr)
	assert.NoError(t, err)
	assert.Equal(t, "abc", string(got))
}

func TestNewVerifyingReaderErrors(t *testing.T) {
	vr, err := NewVerifyingReader(strings.NewReader("abc"), "sha256:abc", 3)
	assert.Nil(t, vr)
	assertValidationError(t, err, "sha256:abc", "wrong hex length", ErrInvalidDigest)

	vr, err = NewVerifyingReader(strings.NewReader("abc"), "md5:900150983cd24fb0d6963f7d28e17f72", 3)
	assert.Nil(t, vr)
	assert.ErrorIs(t, err, ErrInvalidDigest)

	vr, err = NewVerifyingReader(nil, abcSHA256, 3)
	assert.Nil(t, vr)
	assert.Error(t, err)
}

// lyingReader claims to have read more than the buffer holds, as a broken
// io.Reader might.
type lyingReader struct{ n int }

func (r lyingReader) Read(p []byte) (int, error) { return r.n, nil }

func TestVerifyingReaderBrokenUnderlyingReader(t *testing.T) {
	for _, n := range []int{-1, 1 << 20} {
		vr := mustVerifyingReader(t, lyingReader{n}, abcSHA256, -1)
		var got int
		var err error
		assert.NotPanics(t, func() { got, err = vr.Read(make([]byte, 8)) })
		assert.Zero(t, got)
		assert.Error(t, err)
	}
}

func TestVerifyingReaderReadDoesNotAllocate(t *testing.T) {
	data := bytes.Repeat([]byte{7}, 1<<16)
	r := bytes.NewReader(data)
	vr := mustVerifyingReader(t, r, ComputeDigest(data), -1)
	buf := make([]byte, 64)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := vr.Read(buf); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

// BenchmarkVerifyingReader shows the reader runs at hash speed: compare
// the MB/s of each verifying case with its baseline.
func BenchmarkVerifyingReader(b *testing.B) {
	const size = 4 << 20
	data := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	buf := make([]byte, 256<<10)
	drain := func(b *testing.B, r io.Reader) {
		for {
			_, err := r.Read(buf)
			if err == io.EOF {
				return
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, alg := range []string{DigestAlgorithmSHA256, DigestAlgorithmSHA512} {
		digest := ComputeDigest(data)
		if alg == DigestAlgorithmSHA512 {
			digest = sha512Digest(data)
		}
		// The baseline does the same read-copy-hash by hand, so the
		// difference is the wrapper's own cost.
		b.Run(alg+"/baseline", func(b *testing.B) {
			d, _ := newDigester(digest)
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				d.h.Reset()
				r := bytes.NewReader(data)
				for {
					n, err := r.Read(buf)
					_, _ = d.Write(buf[:n])
					if err == io.EOF {
						break
					}
				}
				if !d.Matches(digest) {
					b.Fatal("mismatch")
				}
			}
		})
		b.Run(alg+"/verifying", func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				vr, err := NewVerifyingReader(bytes.NewReader(data), digest, size)
				if err != nil {
					b.Fatal(err)
				}
				drain(b, vr)
			}
		})
	}
}
