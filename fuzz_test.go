// Copyright (c) Microsoft Corporation. All rights reserved.
// Licensed under the MIT License.

package azacr

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
)

// The fuzz targets compare the hand-written validators with the grammar
// written as a regexp: the regexp is too slow and too terse in its errors
// for the library, but it is an independent statement of the same rules.
var (
	fuzzDigestGrammar = regexp.MustCompile(`^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$`)
	fuzzRepoComponent = `[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*`
	fuzzRepoGrammar   = regexp.MustCompile(`^` + fuzzRepoComponent + `(?:/` + fuzzRepoComponent + `)*$`)
	fuzzTagGrammar    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
)

// checkFuzzError checks what every validation error must be, whatever the
// input: wrapping its sentinel, quoting the (possibly truncated) value and
// staying a readable size.
func checkFuzzError(t *testing.T, err error, sentinel error, in string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %v does not wrap %v", err, sentinel)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "azacr: ") {
		t.Fatalf("message %q lacks the azacr prefix", msg)
	}
	if !strings.Contains(msg, quoteValue(in)) {
		t.Fatalf("message %q does not quote the value", msg)
	}
	if len(msg) > 1000 {
		t.Fatalf("message is %d bytes long for a %d-byte value", len(msg), len(in))
	}
}

func FuzzValidateDigest(f *testing.F) {
	for _, s := range []string{
		"", ":", "sha256", "sha256:", "sha512:", emptySHA256, emptySHA512, abcSHA256,
		"SHA256:" + hex64, "sha256:" + strings.ToUpper(hex64), "md5:d41d8cd98f00b204e9800998ecf8427e",
		"sha256:" + hex64[:63] + "\xff", "sha256:" + hex64[:62] + "é", emptySHA256 + "\n",
		"sha256::" + hex64[1:], "latest", "@" + emptySHA256, strings.Repeat(":", 200),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateDigest(s)
		if want := fuzzDigestGrammar.MatchString(s); want != (err == nil) {
			t.Fatalf("ValidateDigest(%q) = %v, grammar says valid=%v", s, err, want)
		}
		if isDigest(s) != (err == nil) {
			t.Fatalf("isDigest(%q) disagrees with ValidateDigest: %v", s, err)
		}
		d, derr := newDigester(s)
		if err != nil {
			checkFuzzError(t, err, ErrInvalidDigest, s)
			if d != nil || !errors.Is(derr, ErrInvalidDigest) {
				t.Fatalf("newDigester(%q) = %v, %v for an invalid digest", s, d, derr)
			}
		} else if derr != nil || !strings.HasPrefix(s, d.alg+":") {
			t.Fatalf("newDigester(%q) = %v, %v for a valid digest", s, d, derr)
		}
		// A ':' commits a reference to being a digest.
		if strings.Contains(s, ":") {
			rerr := ValidateReference(s)
			if (rerr == nil) != (err == nil) {
				t.Fatalf("ValidateReference(%q) = %v but ValidateDigest = %v", s, rerr, err)
			}
			if rerr != nil {
				checkFuzzError(t, rerr, ErrInvalidReference, s)
				checkFuzzError(t, rerr, ErrInvalidDigest, s)
			}
		}
	})
}

func FuzzValidateRepository(f *testing.F) {
	for _, s := range []string{
		"", "a", "hello-world", "library/hello-world", "a__b", "a---b", "a.b_c", "a..b", "a___b",
		"/a", "a/", "a//b", "a/../b", "Hello", "a?b", "a#b", "a%2fb", "héllo", "a\x00b", "a\xffb",
		strings.Repeat("a", 255), strings.Repeat("a", 256), strings.Repeat("ab/", 85),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateRepository(s)
		want := len(s) <= maxRepositoryLen && fuzzRepoGrammar.MatchString(s)
		if want != (err == nil) {
			t.Fatalf("ValidateRepository(%q) = %v, grammar says valid=%v", s, err, want)
		}
		if err != nil {
			checkFuzzError(t, err, ErrInvalidRepository, s)
		}
	})
}

func FuzzValidateTag(f *testing.F) {
	for _, s := range []string{
		"", "latest", "v1.2.3-rc.1", "_", ".hidden", "-rc", "a/b", "v1:2", "a?b", "a#b", "a%20",
		"tág", "\xfe", "latest\x00", strings.Repeat("t", 128), strings.Repeat("t", 129),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateTag(s)
		if want := fuzzTagGrammar.MatchString(s); want != (err == nil) {
			t.Fatalf("ValidateTag(%q) = %v, grammar says valid=%v", s, err, want)
		}
		if err != nil {
			checkFuzzError(t, err, ErrInvalidTag, s)
		}
		if !strings.Contains(s, ":") {
			rerr := ValidateReference(s)
			if (rerr == nil) != (err == nil) {
				t.Fatalf("ValidateReference(%q) = %v but ValidateTag = %v", s, rerr, err)
			}
			if rerr != nil {
				checkFuzzError(t, rerr, ErrInvalidReference, s)
				checkFuzzError(t, rerr, ErrInvalidTag, s)
			}
		}
	})
}

// fuzzChunkReader returns data in chunks whose sizes come from a fuzzed
// plan, sometimes handing back the last chunk together with io.EOF and
// sometimes returning nothing at all, as network bodies do.
type fuzzChunkReader struct {
	data  []byte
	plan  []byte
	step  int
	empty bool // the previous Read returned (0, nil)
}

func (r *fuzzChunkReader) Read(p []byte) (int, error) {
	var c byte = 0xff
	if len(r.plan) > 0 {
		c = r.plan[r.step%len(r.plan)]
	}
	r.step++
	if c == 0 && !r.empty {
		// One empty read at a time, so a reader that loops on (0, nil)
		// still makes progress.
		r.empty = true
		return 0, nil
	}
	r.empty = false
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(int(c%32)+1, len(p), len(r.data))
	if c >= 0xf0 {
		n = min(len(p), len(r.data))
	}
	copy(p, r.data[:n])
	r.data = r.data[n:]
	if len(r.data) == 0 && c&1 == 1 {
		return n, io.EOF
	}
	return n, nil
}

// fuzzDrain reads vr with buffer sizes from the plan and returns what it
// got and the error that ended it.
func fuzzDrain(t *testing.T, vr io.Reader, plan []byte) ([]byte, error) {
	var out []byte
	buf := make([]byte, 100)
	for i := 0; ; i++ {
		if i > 1<<16 {
			t.Fatal("reader never ended")
		}
		size := len(buf)
		if len(plan) > 0 {
			size = int(plan[(i*7+3)%len(plan)])%len(buf) + 1
		}
		n, err := vr.Read(buf[:size])
		if n < 0 || n > size {
			t.Fatalf("Read returned %d for a %d-byte buffer", n, size)
		}
		out = append(out, buf[:n]...)
		if err != nil {
			// Errors must stick, so nothing can be read past a failure.
			if n2, err2 := vr.Read(buf); n2 != 0 || err2 != err {
				t.Fatalf("after %v, Read returned %d, %v", err, n2, err2)
			}
			return out, err
		}
	}
}

func FuzzVerifyingReader(f *testing.F) {
	f.Add([]byte(""), []byte{}, uint16(0), byte(1), int16(0), false)
	f.Add([]byte("abc"), []byte{1}, uint16(1), byte(0x80), int16(1), false)
	f.Add([]byte("hello, registry"), []byte{0, 3, 0xff}, uint16(7), byte(0xff), int16(-3), true)
	f.Add(bytes.Repeat([]byte("layer"), 50), []byte{0, 0, 1, 31, 32, 0xf1}, uint16(249), byte(2), int16(500), false)
	f.Add(bytes.Repeat([]byte{0}, 200), []byte{0xf0}, uint16(199), byte(0x40), int16(-200), true)
	f.Fuzz(func(t *testing.T, data, plan []byte, pos uint16, mask byte, delta int16, sha512 bool) {
		// Longer inputs reach no new code. They would only slow the engine,
		// whose minimization of each interesting input is quadratic in its
		// length and otherwise stalls fuzzing for a minute at a time.
		if len(data) > 256 || len(plan) > 32 {
			t.Skip()
		}
		digest := ComputeDigest(data)
		if sha512 {
			digest = sha512Digest(data)
		}
		size := int64(len(data))
		read := func(body []byte, size int64) ([]byte, error) {
			vr, err := NewVerifyingReader(&fuzzChunkReader{data: body, plan: plan}, digest, size)
			if err != nil {
				t.Fatalf("NewVerifyingReader(%s): %v", digest, err)
			}
			return fuzzDrain(t, vr, plan)
		}

		for _, sz := range []int64{size, -1} {
			got, err := read(data, sz)
			if err != io.EOF || !bytes.Equal(got, data) {
				t.Fatalf("size %d: exact content gave %d bytes, %v", sz, len(got), err)
			}
		}

		if len(data) > 0 {
			if mask == 0 {
				mask = 1
			}
			bad := bytes.Clone(data)
			bad[int(pos)%len(bad)] ^= mask
			for _, sz := range []int64{size, -1} {
				got, err := read(bad, sz)
				if !errors.Is(err, ErrDigestMismatch) {
					t.Fatalf("size %d: corrupted byte gave %v", sz, err)
				}
				if !bytes.Equal(got, bad) {
					t.Fatalf("size %d: corrupted body not delivered whole", sz)
				}
			}
		}

		if delta != 0 && size+int64(delta) >= 0 {
			wrong := size + int64(delta)
			got, err := read(data, wrong)
			if !errors.Is(err, ErrSizeMismatch) {
				t.Fatalf("size %d for %d bytes gave %v", wrong, size, err)
			}
			if errors.Is(err, io.ErrUnexpectedEOF) != (wrong > size) {
				t.Fatalf("size %d for %d bytes: io.ErrUnexpectedEOF wrapped=%v", wrong, size, !(wrong > size))
			}
			if int64(len(got)) > wrong || !bytes.Equal(got, data[:len(got)]) {
				t.Fatalf("size %d for %d bytes returned %d bytes", wrong, size, len(got))
			}
		}
	})
}
