package ops

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// recorder is a TB that records failures instead of failing.
type recorder struct{ errs []string }

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestAssertNoSecrets(t *testing.T) {
	const key = "sk-proj-Abc123/xyz+Q==-tail-987654"
	const short = "hunter2"
	for _, c := range []struct {
		name   string
		output string
		leaks  int
	}{
		{"clean", `level=INFO msg="reply finished" platform=slack api_key=REDACTED`, 0},
		{"verbatim", "Authorization: Bearer " + key, 1},
		{"json", `{"key":"` + strings.ReplaceAll(key, "/", `\/`) + `"}`, 1}, // a fragment still matches
		{"query", "GET /v1?key=" + url.QueryEscape(key), 1},
		{"base64", "basic " + base64.StdEncoding.EncodeToString([]byte(key)), 1},
		{"truncated", "token sk-proj-Abc123/x… rejected", 1},
		{"short secret", "password " + short, 1},
		{"both", key + " " + short, 2},
		{"prefix only", "token sk-proj-… rejected", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &recorder{}
			AssertNoSecrets(r, c.output, key, short, "")
			if len(r.errs) != c.leaks {
				t.Fatalf("%d failures %q, want %d", len(r.errs), r.errs, c.leaks)
			}
			for _, e := range r.errs {
				if strings.Contains(e, key) || strings.Contains(e, short) || strings.Contains(e, key[:12]) {
					t.Fatalf("the failure message leaks the secret: %q", e)
				}
			}
		})
	}
}

func FuzzAssertNoSecretsFindsVerbatim(f *testing.F) {
	f.Add("prefix ", "xoxb-1234-5678-abcdef", " suffix")
	f.Add("", "é🙂 secret ünïcode value", "")
	f.Fuzz(func(t *testing.T, before, secret, after string) {
		if secret == "" {
			return
		}
		r := &recorder{}
		AssertNoSecrets(r, before+secret+after, secret)
		if len(r.errs) != 1 {
			t.Fatalf("verbatim secret not found: %q", r.errs)
		}
	})
}
