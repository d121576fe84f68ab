package stream

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// balanced reports whether every code fence opened in text is closed.
func balanced(text string) bool {
	var open *fence
	for line := range strings.Lines(text) {
		_, open = fenceLine(strings.TrimSuffix(line, "\n"), open)
	}
	return open == nil
}

// longestFenceLine returns the rune length of the longest fence delimiter
// line in text.
func longestFenceLine(text string) int {
	var open *fence
	n := 0
	for line := range strings.Lines(text) {
		var d bool
		d, open = fenceLine(strings.TrimSuffix(line, "\n"), open)
		if d {
			n = max(n, utf8.RuneCountInString(line))
		}
	}
	return n
}

// checkSplit verifies Split's contract on one input: each part fits, the
// parts minus the added fence lines join back to text, and every part's
// fences are balanced when the text's are (and max leaves room for fence
// lines).
func checkSplit(t *testing.T, text string, max int) {
	t.Helper()
	parts := Split(text, max)
	if text == "" {
		if parts != nil {
			t.Fatalf("Split(\"\") = %q", parts)
		}
		return
	}
	// Rebuild the parts from splitFirst, keeping the bodies apart from
	// the fence lines added around them.
	var heads, bodies []string
	carry, rest := "", text
	for {
		s := carry + rest
		c := splitFirst(s, max, len(carry))
		if c.whole {
			heads, bodies = append(heads, s), append(bodies, rest)
			break
		}
		if c.cut <= len(carry) || c.cut >= len(s) {
			t.Fatalf("cut %d makes no progress in %q (carry %q)", c.cut, s, carry)
		}
		if !strings.HasPrefix(c.head, s[:c.cut]) {
			t.Fatalf("head %q is not a prefix of %q", c.head, s)
		}
		added := c.head[c.cut:]
		if c.closed != (added != "") || c.closed != (c.reopen != "") {
			t.Fatalf("head %q: added %q, reopen %q, closed %v", c.head, added, c.reopen, c.closed)
		}
		if c.closed {
			d, after := fenceLine(strings.TrimPrefix(added, "\n"), &fence{marker: strings.TrimSpace(strings.TrimPrefix(added, "\n"))})
			if !d || after != nil {
				t.Fatalf("added %q is not a fence close", added)
			}
			if d, after := fenceLine(strings.TrimSuffix(c.reopen, "\n"), nil); !d || after == nil || !strings.HasSuffix(c.reopen, "\n") {
				t.Fatalf("reopen %q is not a fence line", c.reopen)
			}
		}
		heads, bodies = append(heads, c.head), append(bodies, s[len(carry):c.cut])
		rest, carry = s[c.cut:], c.reopen
	}
	if !slices.Equal(parts, heads) {
		t.Fatalf("Split = %q, want %q", parts, heads)
	}
	if got := strings.Join(bodies, ""); got != text {
		t.Fatalf("parts join to %q, want %q", got, text)
	}
	// Fence repair needs room for the fence lines; a delimiter line longer
	// than a part cannot stay whole, so no guarantee is made for those.
	fencesFit := max >= 24 && longestFenceLine(text) <= max/2
	for i, p := range parts {
		if n := utf8.RuneCountInString(p); max > 0 && n > max {
			t.Fatalf("part %d has %d runes > %d: %q", i, n, max, p)
		}
		if fencesFit && (i < len(parts)-1 || balanced(text)) && !balanced(p) {
			t.Fatalf("part %d of %d (max %d) has an open fence: %q\nall parts: %q", i, len(parts), max, p, parts)
		}
	}
}

func TestSplitExamples(t *testing.T) {
	for _, tc := range []struct {
		text string
		max  int
		want []string
	}{
		{"", 10, nil},
		{"short", 10, []string{"short"}},
		{"whole text", 0, []string{"whole text"}},
		{"para one is here.\n\npara two.", 20, []string{"para one is here.\n\n", "para two."}},
		{"line one is here\nline two", 20, []string{"line one is here\n", "line two"}},
		{"words that do not fit", 10, []string{"words ", "that do ", "not fit"}},
		{"abcdefghijklmnop", 5, []string{"abcde", "fghij", "klmno", "p"}},
		{"日本語のテキスト", 3, []string{"日本語", "のテキ", "スト"}},
		{
			"Intro.\n\n```go\nfmt.Println(1)\nfmt.Println(2)\n```\nDone.",
			32,
			[]string{"Intro.\n\n```go\nfmt.Println(1)\n```", "```go\nfmt.Println(2)\n```\nDone."},
		},
		{"see ```x``` inline code, not a fence", 20, []string{"see ```x``` inline ", "code, not a fence"}},
	} {
		got := Split(tc.text, tc.max)
		if !slices.Equal(got, tc.want) {
			t.Errorf("Split(%q, %d) =\n%q\nwant\n%q", tc.text, tc.max, got, tc.want)
		}
		checkSplit(t, tc.text, tc.max)
	}
}

// randomMarkdown builds markdown with paragraphs, lists, code fences (some
// with info strings, tildes, longer markers, one possibly unclosed),
// inline code, long words and multi-byte runes.
func randomMarkdown(rng *rand.Rand) string {
	vocab := []string{"the", "reply", "budget", "ünïcode", "日本", "🙂", "edit", "x", "``inline``", "supercalifragilisticexpialidocious", "a`b", "~~strike~~"}
	var b strings.Builder
	blocks := 1 + rng.IntN(8)
	for range blocks {
		switch rng.IntN(5) {
		case 0, 1: // paragraph
			for j := range 1 + rng.IntN(40) {
				if j > 0 {
					b.WriteString([]string{" ", " ", " ", "\n", "  "}[rng.IntN(5)])
				}
				b.WriteString(vocab[rng.IntN(len(vocab))])
			}
		case 2: // list
			for range 1 + rng.IntN(5) {
				b.WriteString("- " + vocab[rng.IntN(len(vocab))] + " " + vocab[rng.IntN(len(vocab))] + "\n")
			}
		default: // code block
			marker := []string{"```", "```", "~~~", "````"}[rng.IntN(4)]
			info := []string{"", "go", "python", "json", "a-very-long-info-string-for-this-fence"}[rng.IntN(5)]
			b.WriteString([]string{"", " ", "  "}[rng.IntN(3)] + marker + info + "\n")
			for range rng.IntN(12) {
				b.WriteString(strings.Repeat("\t", rng.IntN(3)))
				for range 1 + rng.IntN(8) {
					b.WriteString(vocab[rng.IntN(len(vocab))] + " ")
				}
				if rng.IntN(10) == 0 {
					b.WriteString("```not a close")
				}
				b.WriteString("\n")
			}
			if rng.IntN(12) > 0 {
				b.WriteString(marker + "\n")
			}
		}
		b.WriteString([]string{"\n\n", "\n", "\n\n\n"}[rng.IntN(3)])
	}
	return b.String()
}

func TestSplitProperties(t *testing.T) {
	for seed := range uint64(3000) {
		rng := rand.New(rand.NewPCG(seed, 7))
		text := randomMarkdown(rng)
		max := []int{50, 50, 16, 24, 33, 80, 200, 1 + rng.IntN(300)}[rng.IntN(8)]
		checkSplit(t, text, max)
		if t.Failed() {
			t.Fatalf("seed %d, max %d", seed, max)
		}
	}
}

func FuzzSplit(f *testing.F) {
	f.Add("Intro.\n\n```go\nfmt.Println(1)\nfmt.Println(2)\n```\nDone.", 32)
	f.Add("para one is here.\n\npara two.", 20)
	f.Add("~~~\ncode\n~~~\n````md\n```\nnested\n```\n````\n", 16)
	f.Add("日本語のテキスト 🙂🙂🙂 words", 3)
	f.Add("```go`x\n```\n  ```py\nx\n", 18)
	f.Add(strings.Repeat("a", 100), 7)
	f.Fuzz(func(t *testing.T, text string, max int) {
		if !utf8.ValidString(text) || max > 1000 || max < -1 {
			return
		}
		checkSplit(t, text, max)
	})
}
