package azacr

import (
	"bufio"
	"bytes"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// protocolDoc is the wire reference that code comments cite.
const protocolDoc = "docs/PROTOCOL.md"

var (
	// protocolHeading matches a citable heading: "## §N Title" or
	// "### §N.M Title".
	protocolHeading = regexp.MustCompile(`^(#{2,3}) §(\d+(?:\.\d+)?) \S`)
	// protocolCitation matches "PROTOCOL.md §N" or "PROTOCOL.md §N.M",
	// optionally followed by more sections (", §N.M", " and §N.M",
	// " to §N.M"), which are checked too.
	protocolCitation = regexp.MustCompile(`PROTOCOL\.md((?:\s*(?:,|and|or|to)?\s*§\d+(?:\.\d+)?)+)`)
	// protocolSection matches one section number in a citation, or
	// anywhere in a comment.
	protocolSection = regexp.MustCompile(`§(\d+(?:\.\d+)?)`)
)

// TestProtocolCitationsExist keeps the code's citations of docs/PROTOCOL.md
// honest: every section a Go comment cites must be a heading of the
// document, every section number in a Go comment must belong to a citation
// on the same line (so none escapes the check), and no Go or Markdown file
// may point to the wire notes that the document replaced.
func TestProtocolCitationsExist(t *testing.T) {
	sections := protocolSections(t)

	cited := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != "." && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		for _, group := range f.Comments {
			for _, c := range group.List {
				line := fset.Position(c.Pos()).Line
				cited += checkCitations(t, path, line, c.Text, sections)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if cited == 0 {
		t.Fatal("no PROTOCOL.md citation found in any Go file; is the walk broken?")
	}

	// The notes the document replaced lived outside the repository; no file
	// may send a reader there. The name is built so this file passes.
	stale := []byte("WIRE" + ".md")
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == ".git" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil // a worktree's .git file
		}
		if d.IsDir() || !(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".md")) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, stale) {
			t.Errorf("%s mentions %s, which is not part of the repository; cite %s instead", path, stale, protocolDoc)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkCitations checks the citations in one comment and returns how many
// sections it cites.
func checkCitations(t *testing.T, path string, line int, text string, sections map[string]bool) int {
	t.Helper()
	n := 0
	for _, m := range protocolCitation.FindAllStringSubmatch(text, -1) {
		for _, s := range protocolSection.FindAllStringSubmatch(m[1], -1) {
			n++
			if !sections[s[1]] {
				t.Errorf("%s:%d cites PROTOCOL.md §%s, which %s has no heading for", path, line, s[1], protocolDoc)
			}
		}
	}
	if all := len(protocolSection.FindAllString(text, -1)); all != n {
		t.Errorf("%s:%d has a section number outside a citation (write \"PROTOCOL.md §N.M\" on one line): %s", path, line, text)
	}
	return n
}

// protocolSections reads the citable section numbers of docs/PROTOCOL.md,
// checking that "##" headings carry §N and "###" headings §N.M of an
// existing §N, each once.
func protocolSections(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open(protocolDoc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sections := map[string]bool{}
	inFence := false
	sc := bufio.NewScanner(f)
	for ln := 1; sc.Scan(); ln++ {
		text := sc.Text()
		if strings.HasPrefix(text, "```") {
			inFence = !inFence
			continue
		}
		m := protocolHeading.FindStringSubmatch(text)
		if inFence || m == nil {
			continue
		}
		num := m[2]
		parent, _, sub := strings.Cut(num, ".")
		switch {
		case sub && len(m[1]) != 3, !sub && len(m[1]) != 2:
			t.Errorf("%s:%d: §%s needs a %s heading", protocolDoc, ln, num, map[bool]string{true: "###", false: "##"}[sub])
		case sub && !sections[parent]:
			t.Errorf("%s:%d: §%s comes before (or without) its section §%s", protocolDoc, ln, num, parent)
		case sections[num]:
			t.Errorf("%s:%d: §%s is defined twice", protocolDoc, ln, num)
		}
		sections[num] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(sections) == 0 {
		t.Fatalf("%s has no citable headings (## §N Title, ### §N.M Title)", protocolDoc)
	}
	return sections
}
