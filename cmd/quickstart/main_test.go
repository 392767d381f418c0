package main

import (
	"io"
	"os"
	"strings"
	"testing"
)

// TestQuickstart runs the README's first command, against the embedded
// emulator, and checks that every step of the story reported success (any
// failure exits the process, failing the test).
func TestQuickstart(t *testing.T) {
	t.Setenv("AZURE_CONTAINERREGISTRY_ENDPOINT", "")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	main()
	os.Stdout = stdout
	w.Close()
	got := <-out
	for _, step := range []string{
		"uploaded manifest", "listing tags anonymously", "tag: v1", "delete refused with 403 DENIED",
		"unlocked tag v1", "into an OCI image layout (2 blobs", "pushed the layout", ", 0 blob bytes sent (every blob mounted)", "older than the newest three", "deleted v2, v3 and v4", "deleted blob", "deleted repository samples/hello-mirror",
	} {
		if !strings.Contains(got, step) {
			t.Errorf("the quickstart's output lacks %q:\n%s", step, got)
		}
	}
}
