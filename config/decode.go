package config

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2/unstable"
)

var (
	durationType = reflect.TypeFor[Duration]()
	rateType     = reflect.TypeFor[Rate]()
)

// keyString renders a key path as TOML writes it: bare segments joined by
// dots, other segments quoted (llm.channel_models."slack/T1/C1").
func keyString(path []string) string {
	var b strings.Builder
	for i, s := range path {
		if i > 0 {
			b.WriteByte('.')
		}
		if isBareKey(s) {
			b.WriteString(s)
		} else {
			b.WriteString(strconv.Quote(s))
		}
	}
	return b.String()
}

func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// keyLines maps every key and table in a syntactically valid document to
// the line where it first appears. BurntSushi/toml keeps these positions
// private, which is why the config is read with go-toml's parser.
func keyLines(data []byte) map[string]int {
	lines := make(map[string]int)
	var p unstable.Parser
	p.Reset(data)
	record := func(path []string, line int) {
		// Each prefix too: a dotted key or a header implicitly creates its
		// parent tables, which then have a line to point at.
		for i := 1; i <= len(path); i++ {
			k := keyString(path[:i])
			if _, ok := lines[k]; !ok {
				lines[k] = line
			}
		}
	}
	keyPath := func(prefix []string, n *unstable.Node) ([]string, int) {
		path := slices.Clone(prefix)
		line := 0
		it := n.Key()
		for it.Next() {
			k := it.Node()
			if line == 0 {
				line = p.Shape(k.Raw).Start.Line
			}
			path = append(path, string(k.Data))
		}
		return path, line
	}
	var keyValue func(prefix []string, n *unstable.Node)
	keyValue = func(prefix []string, n *unstable.Node) {
		path, line := keyPath(prefix, n)
		record(path, line)
		if v := n.Value(); v.Kind == unstable.InlineTable {
			it := v.Children()
			for it.Next() {
				if c := it.Node(); c.Kind == unstable.KeyValue {
					keyValue(path, c)
				}
			}
		}
	}
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			var line int
			table, line = keyPath(nil, e)
			record(table, line)
		case unstable.KeyValue:
			keyValue(table, e)
		}
	}
	return lines
}

// decoder writes a generic TOML tree into the typed Config, collecting
// every problem instead of stopping at the first.
type decoder struct {
	file   string
	lines  map[string]int
	errs   Errors
	failed map[string]bool   // keys already reported, so validation skips them
	source map[string]string // where a key's value came from when not the file
	raw    map[string]any    // the document, to ask whether a key is set
}

// line returns the line of path, or of its nearest ancestor in the file
// (a missing key is reported at its section's header), or 0.
func (d *decoder) line(path []string) int {
	if _, ok := d.source[keyString(path)]; ok {
		return 0
	}
	for i := len(path); i > 0; i-- {
		if l, ok := d.lines[keyString(path[:i])]; ok {
			return l
		}
	}
	return 0
}

func (d *decoder) errf(path []string, format string, args ...any) {
	k := keyString(path)
	err := fmt.Errorf(format, args...)
	if src, ok := d.source[k]; ok {
		err = fmt.Errorf("%w (from %s)", err, src)
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: d.line(path), Key: k, Err: err})
}

// bad reports a value that could not be decoded; validation then leaves
// the key alone, since it holds the default rather than what was written.
func (d *decoder) bad(path []string, format string, args ...any) {
	d.failed[keyString(path)] = true
	d.errf(path, format, args...)
}

// defined reports whether the document sets path.
func (d *decoder) defined(path ...string) bool {
	var cur any = d.raw
	for _, k := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[k]; !ok {
			return false
		}
	}
	return true
}

// sortedKeys returns m's keys in file order, so problems are reported in
// the order the reader meets them.
func (d *decoder) sortedKeys(path []string, m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		la := d.lines[keyString(append(slices.Clip(path), a))]
		lb := d.lines[keyString(append(slices.Clip(path), b))]
		return cmp.Or(cmp.Compare(la, lb), cmp.Compare(a, b))
	})
	return keys
}

func (d *decoder) decode(path []string, v any, rv reflect.Value) {
	switch rv.Type() {
	case durationType:
		switch x := v.(type) {
		case string:
			dur, err := parseDuration(x)
			if err != nil {
				d.bad(path, "%v", err)
				return
			}
			rv.Set(reflect.ValueOf(D(dur)))
		case int64, float64:
			d.bad(path, "invalid duration %v (want e.g. \"30s\")", x)
		default:
			d.wrongType(path, `a duration such as "30s"`, v)
		}
		return
	case rateType:
		switch x := v.(type) {
		case string:
			var r Rate
			if err := r.UnmarshalText([]byte(x)); err != nil {
				d.bad(path, "%v", err)
				return
			}
			rv.Set(reflect.ValueOf(r))
		case int64, float64:
			d.bad(path, "invalid rate %v (want e.g. \"20/min\")", x)
		default:
			d.wrongType(path, `a rate such as "20/min"`, v)
		}
		return
	}
	switch rv.Kind() {
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			d.wrongType(path, "a string", v)
			return
		}
		rv.SetString(s)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			d.wrongType(path, "true or false", v)
			return
		}
		rv.SetBool(b)
	case reflect.Int:
		n, ok := v.(int64)
		if !ok {
			d.wrongType(path, "an integer", v)
			return
		}
		if rv.OverflowInt(n) {
			d.bad(path, "%d is out of range", n)
			return
		}
		rv.SetInt(n)
	case reflect.Slice:
		d.decodeStrings(path, v, rv)
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			d.wrongType(path, "a table", v)
			return
		}
		if len(m) == 0 {
			return
		}
		if rv.IsNil() {
			rv.Set(reflect.MakeMapWithSize(rv.Type(), len(m)))
		}
		for _, k := range d.sortedKeys(path, m) {
			elem := reflect.New(rv.Type().Elem()).Elem()
			d.decode(append(slices.Clip(path), k), m[k], elem)
			rv.SetMapIndex(reflect.ValueOf(k), elem)
		}
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			d.wrongType(path, "a table", v)
			return
		}
		fields := make(map[string]int, rv.NumField())
		for i := range rv.NumField() {
			fields[rv.Type().Field(i).Tag.Get("toml")] = i
		}
		for _, k := range d.sortedKeys(path, m) {
			sub := append(slices.Clip(path), k)
			i, ok := fields[k]
			if !ok {
				d.unknown(sub, rv.Type())
				continue
			}
			d.decode(sub, m[k], rv.Field(i))
		}
	default:
		// The schema holds only the kinds above; reaching here is a bug in
		// this package, not in the user's file.
		panic(fmt.Sprintf("config: unsupported field kind %s at %s", rv.Kind(), keyString(path)))
	}
}

// decodeStrings fills a []string. An empty array leaves the slice nil, as
// in Default.
func (d *decoder) decodeStrings(path []string, v any, rv reflect.Value) {
	arr, ok := v.([]any)
	if !ok {
		hint := "an array of strings"
		if _, isStr := v.(string); isStr {
			hint += ` (write ["…"])`
		}
		d.wrongType(path, hint, v)
		return
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			d.bad(path, "item %d: want a string, got %s", i+1, describe(e))
			continue
		}
		out = append(out, s)
	}
	if len(out) > 0 {
		rv.Set(reflect.ValueOf(out))
	} else {
		rv.Set(reflect.Zero(rv.Type()))
	}
}

func (d *decoder) wrongType(path []string, want string, got any) {
	d.bad(path, "want %s, got %s", want, describe(got))
}

// describe names a TOML value's type for an error. String contents are
// never shown: the value might be a misplaced secret.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		if _, err := strconv.ParseInt(x, 10, 64); err == nil {
			return "a string (remove the quotes)"
		}
		if x == "true" || x == "false" {
			return "a string (remove the quotes)"
		}
		return "a string"
	case int64:
		return fmt.Sprintf("integer %d", x)
	case float64:
		return fmt.Sprintf("float %v", x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case time.Time:
		return "a date-time"
	default:
		return "a date or time"
	}
}

// unknown reports a key the schema lacks, suggesting the likely intent: a
// near-miss among its siblings, or the same name in another section.
func (d *decoder) unknown(path []string, parent reflect.Type) {
	name := path[len(path)-1]
	var siblings []string
	for i := range parent.NumField() {
		siblings = append(siblings, parent.Field(i).Tag.Get("toml"))
	}
	msg := "unknown key"
	if s := closest(name, siblings); s != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", keyString(append(slices.Clone(path[:len(path)-1]), s)))
	} else if elsewhere := schemaPaths(reflect.TypeFor[Config](), nil, name); len(elsewhere) == 1 {
		msg += fmt.Sprintf(" (did you mean %s?)", elsewhere[0])
	}
	d.bad(path, "%s", msg)
}

// schemaPaths lists the dotted paths of every setting called name.
func schemaPaths(t reflect.Type, prefix []string, name string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("toml")
		p := append(slices.Clip(prefix), tag)
		if f.Type.Kind() == reflect.Struct && f.Type != durationType && f.Type != rateType {
			out = append(out, schemaPaths(f.Type, p, name)...)
		} else if tag == name {
			// Settings only: a section name would be a poor guess for a
			// misplaced key.
			out = append(out, keyString(p))
		}
	}
	return out
}

// closest returns the candidate a typo most likely meant, or "".
func closest(name string, candidates []string) string {
	norm := func(s string) string {
		return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s))
	}
	best, bestDist := "", 3
	if len(name) < 5 {
		bestDist = 2
	}
	for _, c := range candidates {
		if norm(c) == norm(name) {
			return c
		}
		if dist := editDistance(name, c); dist < bestDist {
			best, bestDist = c, dist
		}
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and adjacent transpositions ("modle").
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return 1 << 30 // no suggestion for absurd keys; keeps fuzzing cheap
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
