package slack

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestToMrkdwn(t *testing.T) {
	for _, tc := range []struct{ name, md, want string }{
		{"empty", "", ""},
		{"plain", "just text", "just text"},
		{"bold", "a **bold** word", "a *bold* word"},
		{"bold underscores", "__bold__", "*bold*"},
		{"italic star", "an *italic* word", "an _italic_ word"},
		{"italic underscore", "an _italic_ word", "an _italic_ word"},
		{"snake_case untouched", "call my_func_name now", "call my_func_name now"},
		{"strike", "~~gone~~", "~gone~"},
		{"link", "see [the docs](https://go.dev/doc?a=1&b=2)", "see <https://go.dev/doc?a=1&amp;b=2|the docs>"},
		{"link bold text", "[**Go**](https://go.dev)", "<https://go.dev|*Go*>"},
		{"not a link", "[x](not a url)", "[x](not a url)"},
		{"autolink", "<https://go.dev>", "<https://go.dev>"},
		{"heading", "## Install `go`", "*Install `go`*"},
		{"heading with bold", "# **Title** #", "*Title*"},
		{"bullets", "- one\n* two\n  + nested", "• one\n• two\n  • nested"},
		{"ordered", "1. one\n2) two", "1. one\n2. two"},
		{"escapes", "a < b && c > d", "a &lt; b &amp;&amp; c &gt; d"},
		{"inline code untouched", "use `**x** < y` here", "use `**x** &lt; y` here"},
		{"double backtick code", "``a ` b``", "``a ` b``"},
		{"code block", "```go\nfunc main() { if a < b && **c** {} }\n```", "```\nfunc main() { if a &lt; b &amp;&amp; **c** {} }\n```"},
		{"tilde fence", "~~~\n# not a heading\n~~~", "```\n# not a heading\n```"},
		{"unclosed fence closed", "text\n```\npartial", "text\n```\npartial\n```"},
		{"quote", "> **quoted**", "> *quoted*"},
		{"rule", "---", "──────────"},
		{"backslash escape", `not \*italic\* \<tag\>`, "not *italic* &lt;tag&gt;"},
		{"lone star", "2 * 3 = 6", "2 * 3 = 6"},
		{"mixed", "**bold _and italic_**", "*bold _and italic_*"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ToMrkdwn(tc.md); got != tc.want {
				t.Errorf("ToMrkdwn(%q)\n got %q\nwant %q", tc.md, got, tc.want)
			}
		})
	}
}

// sanitizeCode makes s usable as the content of a ``` block: no line may
// look like a fence.
func sanitizeCode(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if t := strings.TrimLeft(l, " "); strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			lines[i] = "x" + l
		}
	}
	return strings.Join(lines, "\n")
}

func FuzzToMrkdwn(f *testing.F) {
	for _, s := range []string{
		"", "**a**", "*a*", "_a_", "~~a~~", "[a](https://b)", "# h", "- i", "1. i", "`c`", "``",
		"a < b & c > d", "```\ncode\n```", "```go\nx\n", "[[a](https://b)](https://c)", "***a***",
		"\\", "\\*", "**", "__a_b__", "<https://x|y>", "> q", "* * *", "\xff\xfe", "_é_", "a_é_b",
	} {
		f.Add(s, "if a < b && *p {\n\treturn `x`\n}")
	}
	f.Fuzz(func(t *testing.T, prose, code string) {
		out := ToMrkdwn(prose) // must not panic
		if utf8.ValidString(prose) && !utf8.ValidString(out) {
			t.Fatalf("valid input %q gave invalid UTF-8 %q", prose, out)
		}
		if strings.Contains(strings.NewReplacer("&amp;", "", "&lt;", "", "&gt;", "").Replace(out), "&lt;") {
			t.Fatalf("double escape in %q", out)
		}

		// A fenced block in the middle of prose keeps its content, with only
		// &, <, > escaped, whatever the prose around it.
		code = sanitizeCode(code)
		for strings.Contains(prose, "```") || strings.Contains(prose, "~~~") {
			prose = strings.ReplaceAll(strings.ReplaceAll(prose, "```", ""), "~~~", "")
		}
		proseLines := prose
		md := proseLines + "\n```\n" + code + "\n```\n" + proseLines
		got := ToMrkdwn(md)
		want := "```\n" + escapeEntities(code) + "\n```"
		if !strings.Contains(got, want) {
			t.Fatalf("code block lost:\n md %q\n got %q\nwant it to contain %q", md, got, want)
		}
		n := 0
		for _, l := range strings.Split(got, "\n") {
			if l == "```" {
				n++
			}
		}
		if n%2 != 0 {
			t.Fatalf("unbalanced fences (%d) in %q", n, got)
		}
	})
}

func BenchmarkToMrkdwn(b *testing.B) {
	md := strings.Repeat("## Step\nUse **bold**, _it_, [link](https://x.y/z?a&b) and `code < 1`.\n- item\n```go\nfor i := 0; i < n; i++ {}\n```\n", 40)
	b.SetBytes(int64(len(md)))
	for b.Loop() {
		ToMrkdwn(md)
	}
}
