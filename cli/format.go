package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	units "github.com/docker/go-units"
)

// templateFuncs are the functions Docker offers in --format templates.
var templateFuncs = template.FuncMap{
	"json": func(v interface{}) string {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v)
		return strings.TrimSpace(buf.String())
	},
	"split":    strings.Split,
	"join":     strings.Join,
	"title":    func(s string) string { return strings.Title(s) }, //nolint:staticcheck // Docker's behaviour
	"lower":    strings.ToLower,
	"upper":    strings.ToUpper,
	"pad":      func(s string, l, r int) string { return strings.Repeat(" ", l) + s + strings.Repeat(" ", r) },
	"truncate": func(s string, n int) string { return truncate(s, n) },
	"println":  fmt.Sprintln,
}

// parseTemplate compiles a user's --format template.
func parseTemplate(format string) (*template.Template, error) {
	t, err := template.New("").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %v", err)
	}
	return t, nil
}

// table writes rows either with the default table (header + columns), a
// user's "table ..." template (header from headers) or a plain template.
type table struct {
	out     io.Writer
	format  string
	headers map[string]string
}

// render prints rows (structs whose fields the template names).
func (t table) render(rows []interface{}) error {
	format := t.format
	isTable := strings.HasPrefix(format, "table")
	if isTable {
		format = strings.TrimSpace(strings.TrimPrefix(format, "table"))
	}
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	tmpl, err := parseTemplate(format + "\n")
	if err != nil {
		return err
	}
	var w io.Writer = t.out
	var tw *tabwriter.Writer
	if isTable {
		tw = tabwriter.NewWriter(t.out, 10, 1, 3, ' ', 0)
		w = tw
		if err := tmpl.Execute(w, t.headers); err != nil {
			return fmt.Errorf("template: %v", err)
		}
	}
	for _, r := range rows {
		if err := tmpl.Execute(w, r); err != nil {
			return fmt.Errorf("template: %v", err)
		}
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

func truncate(s string, n int) string {
	if n <= 0 || len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// humanSize is Docker's size format ("1.23MB").
func humanSize(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }

// since is Docker's "2 hours ago".
func since(t time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	return units.HumanDuration(time.Since(t)) + " ago"
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// decodeJSON decodes a document for templates, keeping numbers exact.
func decodeJSON(b []byte) (interface{}, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v interface{}
	err := dec.Decode(&v)
	return v, err
}

// printJSONArray prints documents the way `docker inspect` does.
func printJSONArray(out io.Writer, docs []json.RawMessage) error {
	if len(docs) == 0 {
		_, err := fmt.Fprintln(out, "[]")
		return err
	}
	var buf bytes.Buffer
	buf.WriteString("[")
	for i, d := range docs {
		if i > 0 {
			buf.WriteString(",")
		}
		var ind bytes.Buffer
		if err := json.Indent(&ind, d, "    ", "    "); err != nil {
			return err
		}
		buf.WriteString("\n    ")
		buf.Write(ind.Bytes())
	}
	buf.WriteString("\n]\n")
	_, err := out.Write(buf.Bytes())
	return err
}
