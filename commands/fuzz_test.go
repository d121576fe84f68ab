package commands

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parley-bot/parley/limits"
)

// FuzzParse: any text from any platform parses to a well-formed request or
// to an error that says what was expected; it never panics.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "help", "quota", "quota show", "quota show <@U024BE7LH|ana>", "quota show <#C01ABCDEF|general>",
		"quota set @ana 50k tokens/day", "quota set default 1.5m tokens/month", "quota set <@!123> unlimited requests/day",
		"quota set #general default tokens/day", "quota reset <@123>", "usage", "usage all week", "usage <#81384788765712388> month",
		"limits show", "limits set <#C1> 20/min burst 5", "limits set default default", "audit", "audit 100",
		"quota set @ana 1e9 tokens/day", "limits set #x 0/min", "usage @a @b", "<@", "quota set <@|> 5 tokens/", "\xff",
		"quota show @\u200b", "limits set #général 3/s burst 2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		r, err := Parse(text)
		if err != nil {
			if errors.Is(err, ErrNotMine) {
				return
			}
			msg := err.Error()
			if msg == "" || !utf8.ValidString(msg) && utf8.ValidString(text) {
				t.Fatalf("Parse(%q): unhelpful error %q", text, msg)
			}
			if utf8.ValidString(text) && !strings.Contains(msg, "want") && !strings.Contains(msg, "usage") &&
				!strings.Contains(msg, "give") && !strings.Contains(msg, "at most") {
				t.Fatalf("Parse(%q): error %q does not say what was expected", text, msg)
			}
			return
		}
		if r.Op < OpHelp || r.Op > OpAudit {
			t.Fatalf("Parse(%q): op %d", text, r.Op)
		}
		for _, id := range []string{r.Target.ID} {
			if id != "" && !validID(id) {
				t.Fatalf("Parse(%q): target ID %q", text, id)
			}
		}
		switch r.Op {
		case OpQuotaSet:
			if !r.Remove && r.Amount < 0 || r.Target.Kind == RefNone ||
				(r.Unit != limits.Tokens && r.Unit != limits.Requests) || (r.Period != limits.Day && r.Period != limits.Month) {
				t.Fatalf("Parse(%q) = %+v", text, r)
			}
		case OpLimitsSet:
			if !r.Remove && (r.Rate.Unlimited() || r.Rate.Burst < 0) {
				t.Fatalf("Parse(%q): rate %+v", text, r.Rate)
			}
		case OpAudit:
			if r.N < 1 || r.N > MaxAudit {
				t.Fatalf("Parse(%q): audit %d", text, r.N)
			}
		}
	})
}
