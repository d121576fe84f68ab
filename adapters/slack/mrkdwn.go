package slack

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// ToMrkdwn converts the CommonMark-ish Markdown that chat models write into
// Slack's mrkdwn: **bold** → *bold*, *italic* / _italic_ → _italic_,
// ~~strike~~ → ~strike~, [text](url) → <url|text>, headings → bold lines,
// bullet lists → "• " items. Code blocks and inline code keep their content
// (fence info strings are dropped, since Slack would show them as code). The
// control characters &, < and > are escaped everywhere, code included,
// because Slack parses <…> as links and entities even inside code; Slack
// shows the escaped forms as the original characters. A fence left open (a
// reply still streaming) is closed so the partial text renders as code.
func ToMrkdwn(md string) string {
	if md == "" {
		return ""
	}
	lines := strings.Split(md, "\n")
	out := make([]string, 0, len(lines)+1)
	var (
		inFence   bool
		fenceChar byte
		fenceLen  int
	)
	for _, line := range lines {
		if inFence {
			if closesFence(line, fenceChar, fenceLen) {
				out = append(out, "```")
				inFence = false
				continue
			}
			out = append(out, escapeEntities(line))
			continue
		}
		if c, n, ok := opensFence(line); ok {
			inFence, fenceChar, fenceLen = true, c, n
			out = append(out, "```")
			continue
		}
		out = append(out, convertLine(line))
	}
	if inFence {
		out = append(out, "```")
	}
	return strings.Join(out, "\n")
}

// opensFence reports whether line opens a fenced code block (up to three
// spaces of indent, then three or more backticks or tildes).
func opensFence(line string) (c byte, n int, ok bool) {
	t := strings.TrimLeft(line, " ")
	if len(line)-len(t) > 3 || len(t) < 3 || (t[0] != '`' && t[0] != '~') {
		return 0, 0, false
	}
	c = t[0]
	for n < len(t) && t[n] == c {
		n++
	}
	if n < 3 {
		return 0, 0, false
	}
	// A backtick fence's info string may not contain backticks (CommonMark).
	if c == '`' && strings.Contains(t[n:], "`") {
		return 0, 0, false
	}
	return c, n, true
}

func closesFence(line string, c byte, n int) bool {
	t := strings.TrimLeft(line, " ")
	if len(line)-len(t) > 3 {
		return false
	}
	k := 0
	for k < len(t) && t[k] == c {
		k++
	}
	return k >= n && strings.TrimSpace(t[k:]) == ""
}

func escapeEntities(s string) string {
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		writeEscaped(&b, s[i])
	}
	return b.String()
}

func writeEscaped(b *strings.Builder, c byte) {
	switch c {
	case '&':
		b.WriteString("&amp;")
	case '<':
		b.WriteString("&lt;")
	case '>':
		b.WriteString("&gt;")
	default:
		b.WriteByte(c)
	}
}

func convertLine(line string) string {
	indentLen := len(line) - len(strings.TrimLeft(line, " \t"))
	indent, rest := line[:indentLen], line[indentLen:]
	if rest == "" {
		return line
	}
	// Headings: Slack has none, so a bold line stands in.
	if indentLen <= 3 && rest[0] == '#' {
		n := 0
		for n < len(rest) && rest[n] == '#' {
			n++
		}
		if n <= 6 && (n == len(rest) || rest[n] == ' ' || rest[n] == '\t') {
			text := strings.TrimSpace(rest[n:])
			text = strings.TrimSpace(strings.TrimRight(text, "#"))
			if text == "" {
				return ""
			}
			// Bold markers inside a heading would nest inside our own.
			text = strings.ReplaceAll(text, "**", "")
			text = strings.ReplaceAll(text, "__", "")
			return "*" + inline(text) + "*"
		}
	}
	if indentLen <= 3 && isRule(rest) {
		return "──────────"
	}
	// Block quotes: Slack's quote marker must stay a literal '>'.
	if indentLen <= 3 && rest[0] == '>' {
		q := strings.TrimPrefix(rest[1:], " ")
		return ">" + " " + convertLine(q)
	}
	// Bullet lists.
	if len(rest) >= 2 && (rest[0] == '-' || rest[0] == '*' || rest[0] == '+') && (rest[1] == ' ' || rest[1] == '\t') {
		return indent + "• " + inline(strings.TrimLeft(rest[2:], " \t"))
	}
	// Ordered lists keep their numbers; "1)" becomes "1.".
	if d := leadingDigits(rest); d > 0 && d <= 9 && len(rest) > d+1 && (rest[d] == '.' || rest[d] == ')') && (rest[d+1] == ' ' || rest[d+1] == '\t') {
		return indent + rest[:d] + ". " + inline(strings.TrimLeft(rest[d+2:], " \t"))
	}
	return indent + inline(rest)
}

func leadingDigits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// isRule reports a thematic break: three or more -, * or _ and spaces only.
func isRule(s string) bool {
	s = strings.TrimRight(s, " \t")
	if len(s) < 3 || (s[0] != '-' && s[0] != '*' && s[0] != '_') {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case s[0]:
			n++
		case ' ', '\t':
		default:
			return false
		}
	}
	return n >= 3
}

// inline converts the spans of one line of prose.
func inline(s string) string {
	in := inliner{s: s} // maps made on the first failed search
	return in.convert()
}

// inliner remembers failed searches for closing delimiters: if no closer
// for a delimiter exists after position p, none exists after any later p,
// so a line full of unmatched openers costs linear time, not quadratic
// (Edit converts the whole reply on every update).
type inliner struct {
	s        string
	noCloser map[string]int // delimiter → earliest start whose search failed
	noCode   map[int]int    // backtick run length → earliest failed start
}

func (in *inliner) convert() string {
	s := in.s
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && isASCIIPunct(s[i+1]):
			// A Markdown escape: the character is literal.
			writeEscaped(&b, s[i+1])
			i += 2
			continue
		case c == '`':
			if end, ok := in.codeSpan(i); ok {
				b.WriteString(escapeEntities(s[i:end]))
				i = end
				continue
			}
			// An unmatched run of backticks is literal.
			j := i
			for j < len(s) && s[j] == '`' {
				j++
			}
			b.WriteString(s[i:j])
			i = j
			continue
		case c == '[':
			if text, url, end, ok := link(s, i); ok {
				b.WriteString("<" + escapeURL(url) + "|" + inline(text) + ">")
				i = end
				continue
			}
		case c == '<':
			// An autolink <https://…> is already in Slack's form.
			if end := strings.IndexByte(s[i:], '>'); end > 1 {
				u := s[i+1 : i+end]
				if isURL(u) {
					b.WriteString("<" + escapeURL(u) + ">")
					i += end + 1
					continue
				}
			}
		case (c == '*' || c == '_') && i+1 < len(s) && s[i+1] == c:
			if inner, end, ok := in.delimited(i, s[i:i+2]); ok {
				b.WriteString("*" + inline(inner) + "*")
				i = end
				continue
			}
		case c == '~' && i+1 < len(s) && s[i+1] == '~':
			if inner, end, ok := in.delimited(i, "~~"); ok {
				b.WriteString("~" + inline(inner) + "~")
				i = end
				continue
			}
		case c == '*' || c == '_':
			if inner, end, ok := in.delimited(i, s[i:i+1]); ok {
				b.WriteString("_" + inline(inner) + "_")
				i = end
				continue
			}
		}
		writeEscaped(&b, c)
		i++
	}
	return b.String()
}

func isASCIIPunct(c byte) bool {
	return strings.IndexByte("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", c) >= 0
}

// codeSpan finds the end of a code span opening at s[i] (a backtick run
// closed by a run of the same length).
func (in *inliner) codeSpan(i int) (end int, ok bool) {
	s := in.s
	n := 0
	for i+n < len(s) && s[i+n] == '`' {
		n++
	}
	if f, failed := in.noCode[n]; failed && i >= f {
		return 0, false
	}
	for j := i + n; j < len(s); {
		if s[j] != '`' {
			j++
			continue
		}
		k := 0
		for j+k < len(s) && s[j+k] == '`' {
			k++
		}
		if k == n {
			return j + k, true
		}
		j += k
	}
	if in.noCode == nil {
		in.noCode = make(map[int]int)
	}
	in.noCode[n] = i
	return 0, false
}

// maxLinkText bounds the search for a link's closing bracket.
const maxLinkText = 1000

// link parses [text](url) at s[i].
func link(s string, i int) (text, url string, end int, ok bool) {
	depth := 0
	for j := i; j < len(s) && j-i <= maxLinkText; j++ {
		switch s[j] {
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				if j+1 >= len(s) || s[j+1] != '(' {
					return "", "", 0, false
				}
				close := strings.IndexByte(s[j+2:], ')')
				if close < 0 {
					return "", "", 0, false
				}
				u := strings.TrimSpace(s[j+2 : j+2+close])
				if i := strings.IndexAny(u, " \t"); i >= 0 {
					u = u[:i] // drop a "title"
				}
				if !isURL(u) {
					return "", "", 0, false
				}
				return s[i+1 : j], u, j + 2 + close + 1, true
			}
		}
	}
	return "", "", 0, false
}

func isURL(u string) bool {
	if strings.ContainsAny(u, " \t<>|") {
		return false
	}
	for _, p := range []string{"https://", "http://", "mailto:"} {
		if strings.HasPrefix(strings.ToLower(u), p) && len(u) > len(p) {
			return true
		}
	}
	return false
}

// urlEscaper escapes the characters Slack's <url|text> syntax reserves.
// A Replacer is immutable and safe for concurrent use.
var urlEscaper = strings.NewReplacer("&", "&amp;", "<", "%3C", ">", "%3E", "|", "%7C")

func escapeURL(u string) string { return urlEscaper.Replace(u) }

// delimited finds the span between delim at s[i] and its closing delim.
// Like CommonMark, the content may not start or end with a space, and '_'
// does not work inside words (snake_case stays as it is).
func (in *inliner) delimited(i int, delim string) (inner string, end int, ok bool) {
	s := in.s
	open := i + len(delim)
	if open >= len(s) || s[open] == ' ' || s[open] == '\t' {
		return "", 0, false
	}
	if delim[0] == '_' && i > 0 && isWordByte(s, i-1) {
		return "", 0, false
	}
	if f, failed := in.noCloser[delim]; failed && open >= f {
		return "", 0, false
	}
	for j := open + 1; j+len(delim) <= len(s); j++ {
		if s[j] == '`' { // do not close inside a code span
			if e, ok := in.codeSpan(j); ok {
				j = e - 1
				continue
			}
		}
		if s[j:j+len(delim)] != delim || s[j-1] == ' ' || s[j-1] == '\t' {
			continue
		}
		after := j + len(delim)
		if len(delim) == 1 && after < len(s) && s[after] == delim[0] {
			// Part of a longer run (e.g. "**"): not our closer.
			j++
			continue
		}
		if delim[0] == '_' && after < len(s) && isWordByte(s, after) {
			continue
		}
		return s[open:j], after, true
	}
	if in.noCloser == nil {
		in.noCloser = make(map[string]int)
	}
	in.noCloser[delim] = open
	return "", 0, false
}

func isWordByte(s string, i int) bool {
	r, _ := utf8.DecodeRuneInString(s[i:])
	if s[i] >= utf8.RuneSelf {
		// Find the rune this byte belongs to, for non-ASCII letters.
		for k := i; k >= 0 && k > i-utf8.UTFMax; k-- {
			if utf8.RuneStart(s[k]) {
				r, _ = utf8.DecodeRuneInString(s[k:])
				break
			}
		}
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}
