package stream

import (
	"strings"
	"unicode/utf8"
)

// Split cuts text into parts of at most max runes each, so that a long
// answer can be shown as several messages. It cuts at the last paragraph
// break that keeps a part at least half full, else the last line break
// (same rule), else the last space, else hard at max runes.
//
// A part that ends inside a ``` (or ~~~) code fence is closed with a fence
// line and the next part reopens the fence with the same info string
// ("```go"), so every part renders as valid Markdown on its own. The added
// lines count toward max. Fence repair needs room: when the close and
// reopen lines together take more than max/2 runes, the info string is
// dropped, and when even bare fence lines do not fit, the fence is cut
// like plain text (max >= 16 always repairs ``` fences with short info
// strings).
//
// Concatenating the parts with the added fence lines removed gives text
// back exactly; separators (blank lines, spaces) stay at the end of the
// part before the cut. Split returns nil for an empty text and text whole
// when max <= 0.
func Split(text string, max int) []string {
	if text == "" {
		return nil
	}
	if max <= 0 {
		return []string{text}
	}
	var parts []string
	carry, rest := "", text
	for {
		s := carry + rest
		c := splitFirst(s, max, len(carry))
		if c.whole {
			return append(parts, s)
		}
		parts = append(parts, c.head)
		rest, carry = s[c.cut:], c.reopen
	}
}

// cutResult describes the first part of a text too long for one message.
type cutResult struct {
	whole  bool   // the text fits: no cut
	head   string // the first part, with the fence close line when one was added
	cut    int    // byte offset in the input where the rest begins
	reopen string // fence line (with "\n") the next part must start with, or ""
	closed bool   // head ends with an added fence close line
}

// fence is an open code fence.
type fence struct {
	marker string // the run of backticks or tildes that opened it
	info   string // the info string after it ("go")
}

// closeLen is the number of runes that closing f after prefix adds.
func (f *fence) closeLen(prefix string) int {
	n := len(f.marker) // ASCII: bytes are runes
	if !strings.HasSuffix(prefix, "\n") {
		n++
	}
	return n
}

// repair returns the fence to close and reopen at a cut, trimmed to fit
// max, or nil when fence lines do not fit at all.
func (f *fence) repair(max int) *fence {
	overhead := func(g fence) int {
		// "\n" + marker to close; marker + info + "\n" to reopen.
		return 2*utf8.RuneCountInString(g.marker) + utf8.RuneCountInString(g.info) + 2
	}
	if overhead(*f) <= max/2 {
		return f
	}
	bare := fence{marker: f.marker}
	if overhead(bare) <= max/2 {
		return &bare
	}
	return nil
}

// fenceLine classifies one line (without its newline) given the fence
// state before it. It reports whether the line is a fence delimiter and
// the state after it. Up to three spaces of indentation are allowed, as in
// CommonMark; an opening backtick fence whose info string contains a
// backtick is inline code, not a fence.
func fenceLine(line string, open *fence) (delim bool, after *fence) {
	line = strings.TrimSuffix(line, "\r")
	trimmed := strings.TrimLeft(line, " ")
	if len(line)-len(trimmed) > 3 || len(trimmed) < 3 {
		return false, open
	}
	ch := trimmed[0]
	if ch != '`' && ch != '~' {
		return false, open
	}
	n := 0
	for n < len(trimmed) && trimmed[n] == ch {
		n++
	}
	if n < 3 {
		return false, open
	}
	marker, rest := trimmed[:n], trimmed[n:]
	if open != nil {
		if marker[0] == open.marker[0] && n >= len(open.marker) && strings.TrimSpace(rest) == "" {
			return true, nil
		}
		return false, open
	}
	if ch == '`' && strings.ContainsRune(rest, '`') {
		return false, nil
	}
	return true, &fence{marker: marker, info: strings.TrimSpace(rest)}
}

// fits reports whether s has at most max runes, counting no further.
func fits(s string, max int) bool {
	if len(s) <= max {
		return true
	}
	n := 0
	for range s {
		n++
		if n > max {
			return false
		}
	}
	return true
}

// mayDelim reports whether line may be a fence delimiter: up to three
// spaces, then three backticks or tildes. It is a cheap filter for
// fenceLine.
func mayDelim(line string) bool {
	i := 0
	for i < 3 && i < len(line) && line[i] == ' ' {
		i++
	}
	if len(line)-i < 3 {
		return false
	}
	c := line[i]
	return (c == '`' || c == '~') && line[i+1] == c && line[i+2] == c
}

// splitFirst finds where to end the first part of s, a text for one
// message. Cuts are never at or before byte minCut (the reopened fence line
// the part starts with), so every part makes progress. The choice depends
// only on the first max+1 runes of s, so a streaming reply can decide its
// cut before the model has finished.
func splitFirst(s string, max, minCut int) cutResult {
	if max <= 0 || fits(s, max) {
		return cutResult{whole: true}
	}
	type cand struct {
		pos   int    // byte offset of the cut, -1 for none
		runes int    // runes before the cut
		in    *fence // fence open at the cut (repaired to fit), or nil
	}
	// The last (largest) cut of each kind.
	para, line, word, hard := cand{pos: -1}, cand{pos: -1}, cand{pos: -1}, cand{pos: -1}
	consider := func(c cand, last byte) {
		hard = c
		switch last {
		case ' ', '\t':
			word = c
		case '\n':
			line = c
			if strings.HasSuffix(s[:c.pos], "\n\n") {
				para = c
			}
		}
	}

	var open *fence
	runes := 0 // runes in s[:pos]
	pos := 0
scan:
	for pos < len(s) {
		end := strings.IndexByte(s[pos:], '\n')
		if end < 0 {
			end = len(s)
		} else {
			end += pos + 1
		}
		delim, after := fenceLine(strings.TrimSuffix(s[pos:end], "\n"), open)
		if delim {
			// A delimiter line is atomic: only cut after its newline.
			runes += utf8.RuneCountInString(s[pos:end])
			if runes > max {
				break
			}
			open, pos = after, end
			if pos <= minCut || s[pos-1] != '\n' {
				continue
			}
			c := cand{pos: pos, runes: runes}
			if open != nil {
				if c.in = open.repair(max); c.in != nil && runes+c.in.closeLen(s[:pos]) > max {
					continue
				}
			}
			consider(c, '\n')
			continue
		}
		var rep *fence
		if open != nil {
			rep = open.repair(max)
		}
		lineMay := mayDelim(s[pos:end])
		for i := pos; i < end; {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
			runes++
			if runes > max {
				break scan
			}
			if i <= minCut {
				continue
			}
			if rep != nil && runes+rep.closeLen(s[:i]) > max {
				continue
			}
			if i < end && (lineMay || mayDelim(s[i:end])) {
				// A cut inside a line must not leave a fence delimiter at
				// the end of this part or the start of the next.
				if d, _ := fenceLine(s[pos:i], open); d {
					continue
				}
				if d, _ := fenceLine(strings.TrimSuffix(s[i:end], "\n"), open); d {
					continue
				}
			}
			consider(cand{pos: i, runes: runes, in: rep}, s[i-1])
		}
		pos = end
	}

	// Prefer the nicest boundary that keeps the part at least half full,
	// then any line or word boundary, then a hard cut.
	half := max / 2
	best := cand{pos: -1}
	for _, c := range []cand{para, line, word} {
		if c.pos > 0 && c.runes >= half {
			best = c
			break
		}
	}
	if best.pos <= 0 {
		for _, c := range []cand{line, word, hard} {
			if c.pos > 0 {
				best = c
				break
			}
		}
	}
	if best.pos <= 0 {
		// No cut respects the fences (a fence line longer than max, or
		// no room after the reopen line): cut hard at max runes.
		i, n := 0, 0
		for n < max && i < len(s) {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
			n++
		}
		if i <= minCut {
			// Cannot happen for parts Split builds (the reopen line is at
			// most max/2 runes), but never loop forever.
			_, size := utf8.DecodeRuneInString(s[minCut:])
			i = minCut + size
		}
		return cutResult{head: s[:i], cut: i}
	}
	r := cutResult{head: s[:best.pos], cut: best.pos}
	if best.in != nil {
		if !strings.HasSuffix(r.head, "\n") {
			r.head += "\n"
		}
		r.head += best.in.marker
		r.reopen = best.in.marker + best.in.info + "\n"
		r.closed = true
	}
	return r
}
