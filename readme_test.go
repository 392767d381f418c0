package azacr_test

// README.md shows only code that compiles and runs: every ```go block in
// it is the body of a function in examples_test.go, and this test fails
// when the two drift apart.
//
// The rules:
//
//   - Each ```go block is preceded (blank lines aside) by a marker naming
//     the function it shows:
//
//     <!-- example: ExampleBlobClient_UploadBlob -->
//
//     The function may be any top-level function of examples_test.go: an
//     Example (usually), or a Test when the README shows a test.
//   - The block holds the function's body, one tab of indentation
//     removed, minus two kinds of lines: those from a "// setup" comment
//     line to the next "// end setup" line (they start the emulator and
//     create the clients, which a README reader does against a real
//     registry), and the trailing "// Output:" comment with everything
//     after it. Leading and trailing blank lines are dropped.
//   - Blocks in other languages (```sh and so on) are not checked.
//
// examples_test.go must be gofmt-formatted, so what the README shows is
// formatted too. After editing an example, regenerate the README blocks
// with
//
//	go test -run TestReadmeExamplesInSync -readme.update
//
// and review the diff.

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strings"
	"testing"
)

var updateReadme = flag.Bool("readme.update", false, "rewrite the ```go blocks of README.md from examples_test.go")

const (
	readmeFile   = "README.md"
	examplesFile = "examples_test.go"
)

var exampleMarker = regexp.MustCompile(`^<!-- example: ([A-Za-z_][A-Za-z0-9_]*) -->$`)

func TestReadmeExamplesInSync(t *testing.T) {
	src, err := os.ReadFile(examplesFile)
	if err != nil {
		t.Fatal(err)
	}
	if formatted, err := format.Source(src); err != nil {
		t.Fatalf("%s: %v", examplesFile, err)
	} else if !bytes.Equal(formatted, src) {
		t.Fatalf("%s is not gofmt-formatted; the README would show unformatted code", examplesFile)
	}
	bodies, err := snippetBodies(src)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	blocks, problems := readmeGoBlocks(string(readme))
	for _, p := range problems {
		t.Error(p)
	}
	if len(blocks) == 0 {
		t.Fatalf("%s has no ```go blocks; the parser or the README is broken", readmeFile)
	}

	var stale []readmeBlock
	for _, b := range blocks {
		want, ok := bodies[b.function]
		switch {
		case !ok:
			t.Errorf("%s:%d: the marker names %s, which is not a function of %s", readmeFile, b.marker, b.function, examplesFile)
		case b.code != want && !*updateReadme:
			t.Errorf("%s:%d: the block differs from the body of %s in %s (run go test -run %s -readme.update):\n%s",
				readmeFile, b.start+1, b.function, examplesFile, t.Name(), firstDifference(b.code, want))
		case b.code != want:
			stale = append(stale, b)
		}
	}
	if len(stale) == 0 {
		return
	}
	lines := strings.SplitAfter(string(readme), "\n")
	// Replace from the last block back, so earlier line numbers stay valid.
	for i := len(stale) - 1; i >= 0; i-- {
		b := stale[i]
		lines = append(lines[:b.start], append([]string{bodies[b.function]}, lines[b.end:]...)...)
	}
	if err := os.WriteFile(readmeFile, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("rewrote %d blocks of %s", len(stale), readmeFile)
}

// readmeBlock is one ```go block of the README.
type readmeBlock struct {
	function   string
	marker     int    // 1-based line of the marker
	start, end int    // 0-based lines of the code: [start, end)
	code       string // the lines between the fences, each ending in "\n"
}

// readmeGoBlocks returns the README's ```go blocks with the function each
// marker names, and a problem for every block without a marker, marker
// without a block, or unclosed fence.
func readmeGoBlocks(readme string) ([]readmeBlock, []string) {
	var blocks []readmeBlock
	var problems []string
	lines := strings.SplitAfter(readme, "\n")
	pending, pendingLine := "", 0 // a marker still waiting for its block
	for i := 0; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], "\r\n")
		if m := exampleMarker.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			if pending != "" {
				problems = append(problems, fmt.Sprintf("%s:%d: marker for %s is not followed by a ```go block", readmeFile, pendingLine, pending))
			}
			pending, pendingLine = m[1], i+1
			continue
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		if fence := strings.TrimLeft(line, " \t"); fence != line && strings.HasPrefix(fence, "```") {
			// An indented fence (inside a list item) would need its
			// indentation stripped from every line; only other languages
			// may use one.
			if strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(fence, "```")), "go") {
				problems = append(problems, fmt.Sprintf("%s:%d: indented ```go block; put Go blocks at the top level", readmeFile, i+1))
			}
		}
		if !strings.HasPrefix(line, "```") {
			if pending != "" {
				problems = append(problems, fmt.Sprintf("%s:%d: marker for %s is not followed by a ```go block", readmeFile, pendingLine, pending))
				pending = ""
			}
			continue
		}
		lang := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(line, "```")))
		end := i + 1
		for end < len(lines) && strings.TrimRight(lines[end], "\r\n") != "```" {
			end++
		}
		if end == len(lines) {
			problems = append(problems, fmt.Sprintf("%s:%d: the code block is never closed", readmeFile, i+1))
			break
		}
		switch {
		case lang != "go" && pending != "":
			problems = append(problems, fmt.Sprintf("%s:%d: marker for %s is followed by a ```%s block, not ```go", readmeFile, pendingLine, pending, lang))
		case lang == "go" && pending == "":
			problems = append(problems, fmt.Sprintf("%s:%d: ```go block without an <!-- example: Name --> marker before it", readmeFile, i+1))
		case lang == "go":
			blocks = append(blocks, readmeBlock{
				function: pending, marker: pendingLine,
				start: i + 1, end: end, code: strings.Join(lines[i+1:end], ""),
			})
		}
		pending = ""
		i = end
	}
	if pending != "" {
		problems = append(problems, fmt.Sprintf("%s:%d: marker for %s is not followed by a ```go block", readmeFile, pendingLine, pending))
	}
	return blocks, problems
}

// snippetBodies returns, for every top-level function of src, its body as
// the README shows it.
func snippetBodies(src []byte) (map[string]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, examplesFile, src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Recv != nil || fn.Body == nil {
			continue
		}
		from := fset.Position(fn.Body.Lbrace).Offset + 1
		to := fset.Position(fn.Body.Rbrace).Offset
		body, err := snippet(string(src[from:to]))
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %v", examplesFile, fn.Name.Name, err)
		}
		out[fn.Name.Name] = body
	}
	return out, nil
}

// snippet turns the text between a function's braces into README form.
func snippet(body string) (string, error) {
	var kept []string
	inSetup := false
	for _, line := range strings.Split(body, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case inSetup:
			if trimmed == "// end setup" {
				inSetup = false
			}
			continue
		case trimmed == "// setup" || strings.HasPrefix(trimmed, "// setup:"):
			inSetup = true
			continue
		case trimmed == "// end setup":
			return "", fmt.Errorf(`"// end setup" without "// setup"`)
		case strings.HasPrefix(trimmed, "// Output:") || strings.HasPrefix(trimmed, "// Unordered output:"):
			// Everything after it is expected output.
			return joinSnippet(kept), nil
		}
		if line != "" {
			dedented, ok := strings.CutPrefix(line, "\t")
			if !ok {
				return "", fmt.Errorf("line %q is not indented by a tab", line)
			}
			line = dedented
		}
		kept = append(kept, line)
	}
	if inSetup {
		return "", fmt.Errorf(`"// setup" without "// end setup"`)
	}
	return joinSnippet(kept), nil
}

// joinSnippet drops leading and trailing blank lines and ends every line
// with a newline, as lines between two fences do.
func joinSnippet(lines []string) string {
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// firstDifference describes where got and want first differ, by line.
func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl || i >= len(g) || i >= len(w) {
			return fmt.Sprintf("  line %d of the block\n  README:  %q\n  example: %q", i+1, gl, wl)
		}
	}
	return "  (they differ only in line endings)"
}

func TestReadmeSnippetRules(t *testing.T) {
	body := "\n\t// setup\n\tsrv := start()\n\t// end setup\n\n\tctx := context.Background()\n\tif x {\n\t\ty()\n\t}\n\t// Output:\n\t// 42\n"
	got, err := snippet(body)
	if err != nil {
		t.Fatal(err)
	}
	if want := "ctx := context.Background()\nif x {\n\ty()\n}\n"; got != want {
		t.Errorf("snippet = %q, want %q", got, want)
	}
	if _, err := snippet("\n\t// setup\n\tx()\n"); err == nil {
		t.Error("an unclosed setup section was accepted")
	}

	readme := strings.Join([]string{
		"<!-- example: A -->", "", "```go", "a()", "```",
		"```go", "b()", "```",
		"<!-- example: C -->", "```sh", "c", "```",
		"```sh", "d", "```",
		"  ```go", "  e()", "  ```",
		"<!-- example: E -->", "text", "",
	}, "\n")
	blocks, problems := readmeGoBlocks(readme)
	if len(blocks) != 1 || blocks[0].function != "A" || blocks[0].code != "a()\n" {
		t.Errorf("blocks = %+v, want one for A holding a()", blocks)
	}
	if len(problems) != 4 {
		t.Errorf("problems = %q, want 4: the unmarked block, the marker on a sh block, the indented go block, the marker before text", problems)
	}
}
