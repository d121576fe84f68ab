package discord

import (
	"strings"
	"unicode/utf8"
)

// ToDiscordMarkdown rewrites the Markdown that Discord does not render into
// something readable, leaving everything else (and fenced code) untouched:
//
//   - tables (a header row, a |---| delimiter row, body rows) become a code
//     block with aligned columns;
//   - headings deeper than ### (Discord renders #, ## and ###) become bold
//     lines.
//
// It is applied to each message as it is shown, so it must cope with
// partial text: a table whose delimiter row has not arrived yet stays as it
// is until it does. The output of ToDiscordMarkdown is a fixed point.
func ToDiscordMarkdown(md string) string {
	if !strings.Contains(md, "|") && !strings.Contains(md, "####") {
		return md
	}
	lines := strings.Split(md, "\n")
	out := make([]string, 0, len(lines))
	fence := "" // the open fence's marker, "" outside code
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if f := fenceMarker(line); f != "" {
			switch {
			case fence == "":
				fence = f
			case strings.HasPrefix(strings.TrimSpace(line), fence) && strings.Trim(strings.TrimSpace(line), fence[:1]) == "":
				fence = ""
			}
			out = append(out, line)
			continue
		}
		if fence != "" {
			out = append(out, line)
			continue
		}
		if h, ok := deepHeading(line); ok {
			out = append(out, h)
			continue
		}
		if i+1 < len(lines) && isTableRow(line) && isDelimiterRow(lines[i+1]) {
			header := splitRow(line)
			if len(header) == len(splitRow(lines[i+1])) {
				rows := [][]string{header}
				j := i + 2
				for ; j < len(lines) && isTableRow(lines[j]) && fenceMarker(lines[j]) == ""; j++ {
					rows = append(rows, splitRow(lines[j]))
				}
				out = append(out, renderTable(rows)...)
				i = j - 1
				continue
			}
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// fenceMarker returns "```" or "~~~" (or longer) when line opens or closes
// a fenced code block.
func fenceMarker(line string) string {
	t := strings.TrimLeft(line, " ")
	if len(line)-len(t) > 3 {
		return ""
	}
	for _, c := range []byte{'`', '~'} {
		n := 0
		for n < len(t) && t[n] == c {
			n++
		}
		if n >= 3 {
			return t[:n]
		}
	}
	return ""
}

// deepHeading turns "#### Title" (4 to 6 hashes) into "**Title**".
func deepHeading(line string) (string, bool) {
	t := strings.TrimLeft(line, " ")
	if len(line)-len(t) > 3 {
		return "", false
	}
	n := 0
	for n < len(t) && t[n] == '#' {
		n++
	}
	if n < 4 || n > 6 || (n < len(t) && t[n] != ' ' && t[n] != '\t') {
		return "", false
	}
	title := strings.TrimSpace(t[n:])
	title = strings.TrimSpace(strings.TrimRight(title, "#")) // closing sequence
	if title == "" {
		return "", true
	}
	title = strings.Trim(title, "*")
	if strings.TrimSpace(title) == "" {
		return "", true
	}
	return "**" + strings.TrimSpace(title) + "**", true
}

func isTableRow(line string) bool {
	t := strings.TrimSpace(line)
	return strings.Contains(t, "|") && t != "|"
}

func isDelimiterRow(line string) bool {
	if !strings.Contains(line, "-") {
		return false
	}
	cells := splitRow(line)
	if len(cells) == 0 {
		return false
	}
	for _, c := range cells {
		c = strings.TrimSpace(c)
		c = strings.TrimPrefix(c, ":")
		c = strings.TrimSuffix(c, ":")
		if c == "" || strings.Trim(c, "-") != "" {
			return false
		}
	}
	return true
}

// splitRow splits "| a | b |" into ["a", "b"], honouring \| escapes.
func splitRow(line string) []string {
	t := strings.TrimSpace(line)
	t = strings.TrimPrefix(t, "|")
	if strings.HasSuffix(t, "|") && !strings.HasSuffix(t, `\|`) {
		t = t[:len(t)-1]
	}
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(t); i++ {
		if t[i] == '\\' && i+1 < len(t) && t[i+1] == '|' {
			cur.WriteByte('|')
			i++
			continue
		}
		if t[i] == '|' {
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
			continue
		}
		cur.WriteByte(t[i])
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// renderTable lays rows out in a code block, columns padded to the widest
// cell (in runes) and the header underlined.
func renderTable(rows [][]string) []string {
	cols := 0
	for _, r := range rows {
		cols = max(cols, len(r))
	}
	width := make([]int, cols)
	for _, r := range rows {
		for c, cell := range r {
			cell = strings.ReplaceAll(cell, "`", "'") // a ``` inside a cell would end the block
			r[c] = cell
			width[c] = max(width[c], utf8.RuneCountInString(cell))
		}
	}
	format := func(r []string) string {
		var b strings.Builder
		for c := 0; c < cols; c++ {
			cell := ""
			if c < len(r) {
				cell = r[c]
			}
			if c > 0 {
				b.WriteString(" | ")
			}
			b.WriteString(cell)
			if c < cols-1 {
				b.WriteString(strings.Repeat(" ", width[c]-utf8.RuneCountInString(cell)))
			}
		}
		return strings.TrimRight(b.String(), " ")
	}
	out := []string{"```", format(rows[0])}
	var rule strings.Builder
	for c := 0; c < cols; c++ {
		if c > 0 {
			rule.WriteString("-+-")
		}
		rule.WriteString(strings.Repeat("-", max(width[c], 1)))
	}
	out = append(out, rule.String())
	for _, r := range rows[1:] {
		out = append(out, format(r))
	}
	return append(out, "```")
}
