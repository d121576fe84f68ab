package ops

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"unicode/utf8"
)

// TB is the part of testing.TB that AssertNoSecrets uses; taking it rather
// than testing.TB keeps package testing out of the daemon's binary.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
}

// leakWindow is the length of the secret fragments searched for: a token
// shown cut short ("xoxb-1234…") still leaks most of it.
const leakWindow = 12

// AssertNoSecrets fails t for every secret that appears in output: as is,
// escaped for JSON or a URL, base64-encoded, or as any run of leakWindow
// of its characters (for secrets longer than that). It never prints a
// secret, only its position in the list and where it was found, so a
// failing test does not leak it either. Empty secrets are ignored.
func AssertNoSecrets(t TB, output string, secrets ...string) {
	t.Helper()
	for i, s := range secrets {
		if s == "" {
			continue
		}
		if form, at, ok := findSecret(output, s); ok {
			t.Errorf("secret #%d (%d chars) appears in the output (%s) at byte %d", i+1, utf8.RuneCountInString(s), form, at)
		}
	}
}

// findSecret reports the first form of secret found in output.
func findSecret(output, secret string) (form string, at int, found bool) {
	j, _ := json.Marshal(secret)
	forms := []struct{ name, v string }{
		{"verbatim", secret},
		{"JSON-escaped", strings.Trim(string(j), `"`)},
		{"query-escaped", url.QueryEscape(secret)},
		{"path-escaped", url.PathEscape(secret)},
		{"base64", base64.StdEncoding.EncodeToString([]byte(secret))},
		{"base64url", base64.RawURLEncoding.EncodeToString([]byte(secret))},
	}
	for _, f := range forms {
		if at := strings.Index(output, f.v); at >= 0 {
			return f.name, at, true
		}
	}
	r := []rune(secret)
	if len(r) > leakWindow {
		for i := 0; i+leakWindow <= len(r); i++ {
			if at := strings.Index(output, string(r[i:i+leakWindow])); at >= 0 {
				return "a fragment", at, true
			}
		}
	}
	return "", 0, false
}
