package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// printer writes a command's result as a table (for people) or as JSON
// (for scripts, with stable field names).
type printer struct {
	w    io.Writer
	json bool
}

// emit writes v as indented JSON, or calls table with a tab-separated
// writer whose columns are aligned when it is flushed.
func (p printer) emit(v any, table func(w io.Writer)) error {
	if p.json {
		enc := json.NewEncoder(p.w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// row writes one table row.
func row(w io.Writer, cells ...any) {
	s := make([]string, len(cells))
	for i, c := range cells {
		s[i] = cell(c)
	}
	fmt.Fprintln(w, strings.Join(s, "\t"))
}

// cell formats a value for a table: pointers dereferenced, nil as "-",
// times in UTC to the second.
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "-"
	case *string:
		if x == nil {
			return "-"
		}
		return *x
	case *bool:
		if x == nil {
			return "-"
		}
		return fmt.Sprint(*x)
	case *int64:
		if x == nil {
			return "-"
		}
		return fmt.Sprint(*x)
	case *time.Time:
		if x == nil {
			return "-"
		}
		return x.UTC().Format(time.RFC3339)
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	}
	return fmt.Sprint(v)
}
