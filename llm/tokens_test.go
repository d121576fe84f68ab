package llm

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parley-bot/parley/bot"
	"github.com/tiktoken-go/tokenizer"
)

func TestTokenCounter(t *testing.T) {
	tc := NewTokenCounter()
	if got := tc.Encoding("openai/gpt-4o-mini"); got != tokenizer.O200kBase {
		t.Errorf("encoding %s", got)
	}
	if got := tc.Encoding("gpt-3.5-turbo"); got != tokenizer.Cl100kBase {
		t.Errorf("encoding %s", got)
	}
	if got := tc.Count("gpt-4o", "hello world"); got != 2 {
		t.Errorf("Count = %d, want 2", got)
	}
	// The cookbook's example: these messages cost 129 tokens with gpt-4o
	// and its encodings, by the notebook's own output for gpt-4-0613 (cl100k).
	msgs := []bot.ChatMessage{
		{Role: "system", Content: "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
		{Role: "system", Name: "example_user", Content: "New synergies will help drive top-line growth."},
		{Role: "system", Name: "example_assistant", Content: "Things working well together will increase revenue."},
		{Role: "system", Name: "example_user", Content: "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
		{Role: "system", Name: "example_assistant", Content: "Let's talk later when we're less busy about how to do better."},
		{Role: "user", Content: "This late pivot means we don't have time to boil the ocean for the client deliverable."},
	}
	if got := tc.CountPrompt("gpt-4-0613", msgs); got != 129 {
		t.Errorf("CountPrompt(gpt-4-0613) = %d, want 129 (the cookbook's count)", got)
	}
	if got := tc.CountPrompt("gpt-4o", msgs); got != 124 {
		t.Errorf("CountPrompt(gpt-4o) = %d, want 124 (the cookbook's count)", got)
	}
}

func TestEncodePiecesAreValidUTF8(t *testing.T) {
	tc := NewTokenCounter()
	for _, s := range []string{"Hello, Zoë! 你好世界 🎉🎉 `x := 1`", "naïve café", strings.Repeat("日本語", 20)} {
		pieces := tc.Encode("gpt-4o", s)
		if strings.Join(pieces, "") != s {
			t.Fatalf("pieces %q do not join to %q", pieces, s)
		}
		for _, p := range pieces {
			if p == "" || !utf8.ValidString(p) {
				t.Errorf("piece %q of %q is empty or not valid UTF-8", p, s)
			}
		}
		if len(pieces) < 3 {
			t.Errorf("%q gave %d pieces", s, len(pieces))
		}
	}
}

func TestSanitizeName(t *testing.T) {
	for in, want := range map[string]string{
		"Zoë Martin":            "Zoe_Martin",
		"bob":                   "bob",
		"  ":                    "",
		"李雷":                    "",
		"a.b@c--d":              "a_b_c--d",
		"Ana":                   "Ana",
		"José María":            "Jose_Maria",
		"Zoë  van   Dijk":       "Zoe_van_Dijk",
		"o'brien!!":             "o_brien",
		"  _x_ ":                "x",
		"ｆｕｌｌｗｉｄｔｈ":             "fullwidth",
		"a-b_c":                 "a-b_c",
		"":                      "",
		strings.Repeat("x", 80): strings.Repeat("x", 64),
	} {
		got := SanitizeName(in)
		if got != want {
			t.Errorf("SanitizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzSanitizeName(f *testing.F) {
	for _, s := range []string{"Zoë Martin", "李雷", "a.b", "", "José María", "\xff\xfe", strings.Repeat("é", 100), "a\u0301\u0301b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := SanitizeName(s)
		if len(got) > 64 {
			t.Fatalf("%q: %d bytes", got, len(got))
		}
		for _, r := range got {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
				t.Fatalf("SanitizeName(%q) = %q has %q", s, got, r)
			}
		}
		if SanitizeName(got) != got {
			t.Fatalf("SanitizeName not idempotent on %q", got)
		}
	})
}
