package commands

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-bot/parley/bot"
	"github.com/parley-bot/parley/conversation"
	"github.com/parley-bot/parley/limits"
)

type fixture struct {
	t     *testing.T
	h     *Handler
	g     *limits.Gate
	store *conversation.Store
	now   time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ms, err := limits.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	store, err := conversation.Open(context.Background(), conversation.Options{
		Path: filepath.Join(t.TempDir(), "parley.db"), Policy: conversation.PolicyTruncate, Migrations: ms,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close(context.Background()) })
	f := &fixture{t: t, store: store, now: time.Date(2026, 11, 25, 20, 48, 0, 0, time.UTC)}
	f.g, err = limits.NewGate(context.Background(), store.DB(), limits.Options{
		Channel:   limits.Limit{Count: 20, Per: time.Minute, Burst: 5},
		User:      limits.Limit{Count: 10, Per: time.Minute, Burst: 3},
		QueueSize: 100, MaxWait: 30 * time.Second,
		Quotas: map[limits.Kind]int64{{Scope: limits.ScopeUser, Unit: limits.Tokens, Period: limits.Day}: 1000},
		Now:    func() time.Time { return f.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	f.h = New(f.g, nil)
	return f
}

// console runs a command as the console does: the local user "you" is an
// admin, names given with /as are not.
func (f *fixture) console(user, text string) string {
	f.t.Helper()
	res, ok := f.h.HandleCommand(context.Background(), bot.Command{
		Thread: bot.ThreadKey{Platform: bot.PlatformConsole, Workspace: "local", Channel: "console", Thread: "main"},
		UserID: user, UserName: user, IsAdmin: user == "you", Text: text,
	})
	if !ok {
		f.t.Fatalf("%q not handled", text)
	}
	if !res.Ephemeral {
		f.t.Errorf("%q: reply not ephemeral", text)
	}
	return res.Text
}

func (f *fixture) slack(user string, admin bool, text string) string {
	f.t.Helper()
	res, ok := f.h.HandleCommand(context.Background(), bot.Command{
		Thread: bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T1", Channel: "C1"},
		UserID: user, UserName: strings.ToLower(user), IsAdmin: admin, Text: text,
	})
	if !ok {
		f.t.Fatalf("%q not handled", text)
	}
	return res.Text
}

// use spends tokens as a message would.
func (f *fixture) use(p bot.Platform, ws, channel, user string, tokens int) {
	f.t.Helper()
	adm, err := f.g.Admit(context.Background(), bot.Message{Platform: p, Workspace: ws, Channel: channel, ID: "1",
		AuthorID: user, AuthorName: user}, "m", 1, 1, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	adm.Settle(bot.Usage{PromptTokens: tokens})
}

func contains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s: missing %q in:\n%s", what, w, got)
		}
	}
}

func TestQuotaCommands(t *testing.T) {
	f := newFixture(t)
	f.use(bot.PlatformConsole, "local", "console", "ana", 400)

	contains(t, "own quota", f.console("ana", "quota show"),
		"Quotas of @ana:", "tokens/day", "400 of 1,000 (40%), resets in 3 h 12 m", "[config default]")
	contains(t, "admin sees ana", f.console("you", "quota show @ana"), "400 of 1,000")
	contains(t, "non-admin sees other", f.console("ana", "quota show @you"), "only admins can see other quotas")
	contains(t, "non-admin me", f.console("ana", "quota show me"), "400 of 1,000")

	contains(t, "set", f.console("you", "quota set @ana 50k tokens/day"),
		"Quota tokens/day of @ana: default → 50,000 tokens/day.")
	contains(t, "after set", f.console("ana", "quota show"), "400 of 50,000 (1%)", "[set for this target]")
	contains(t, "set requests", f.console("you", "quota set #console 100 requests/month"),
		"Quota requests/month of #console: default → 100 requests/month.")
	contains(t, "set default", f.console("you", "quota set default 2,000 tokens/day"),
		"Quota tokens/day of default user: default → 2,000 tokens/day.")
	contains(t, "show default", f.console("you", "quota show default"), "tokens/day", "2,000 tokens  [default set by an admin]")
	contains(t, "set workspace", f.console("you", "quota set workspace 1.5m tokens/month"), "→ 1,500,000 tokens/month")
	contains(t, "unset", f.console("you", "quota set @ana default tokens/day"), "50,000 tokens/day → default.")
	contains(t, "after unset", f.console("ana", "quota show"), "400 of 2,000")

	contains(t, "reset", f.console("you", "quota reset @ana"), "Usage of @ana reset (was today 400 tokens, 1 requests;")
	contains(t, "after reset", f.console("ana", "quota show"), "0 of 2,000")

	for _, text := range []string{"quota set @ana 5k tokens/day", "quota reset @ana", "limits set #x 5/min", "limits show", "audit"} {
		contains(t, "non-admin "+text, f.console("ana", text), "Sorry, only admins can run")
	}

	// Every change is audited with who, what, old and new; newest first.
	audit := f.console("you", "audit 3")
	contains(t, "audit", audit, "you: quota reset @ana (console/local/ana): today 400 tokens",
		"you: quota set tokens/day @ana (console/local/ana): 50,000 tokens/day → default",
		"2026-11-25 20:48 UTC")
	if n := strings.Count(audit, "\n") + 1; n != 3 {
		t.Errorf("audit 3 gave %d lines:\n%s", n, audit)
	}
	if strings.Count(f.console("you", "audit"), "\n")+1 != 6 {
		t.Errorf("want 6 audit entries:\n%s", f.console("you", "audit"))
	}
}

func TestUsageCommand(t *testing.T) {
	f := newFixture(t)
	f.now = f.now.Add(-24 * time.Hour)
	f.use(bot.PlatformSlack, "T1", "C2", "U1", 50)
	f.now = f.now.Add(24 * time.Hour)
	f.use(bot.PlatformSlack, "T1", "C1", "U1", 900)
	f.use(bot.PlatformSlack, "T1", "C1", "U2", 300)
	f.use(bot.PlatformSlack, "T1", "C2", "U2", 100)

	day := f.slack("UADMIN", true, "usage")
	contains(t, "usage day", day, "```", "Everyone today (Wed 25 Nov, UTC): 1,300 tokens in 3 requests",
		"Top users:", "@U1", "900  ████████████████████", "@U2", "400  ████████▉",
		"Top channels:", "#C1", "1,200")
	if strings.Contains(day, "By day") {
		t.Errorf("a one-day report has no daily chart:\n%s", day)
	}
	week := f.slack("UADMIN", true, "usage all week")
	contains(t, "usage week", week, "in the last 7 days (19 Nov – 25 Nov, UTC): 1,350 tokens in 4 requests", "By day:", "Tue 24 Nov", "Wed 25 Nov")
	contains(t, "usage of a user", f.slack("UADMIN", true, "usage <@U1|ana> month"), "@ana this month (1 Nov – 25 Nov, UTC): 950 tokens in 2 requests")
	contains(t, "usage of a channel", f.slack("UADMIN", true, "usage <#C2|random>"), "#random today", "100 tokens in 1 requests")
	contains(t, "own usage", f.slack("U2", false, "usage"), "@u2 today", "400 tokens in 2 requests")
	contains(t, "own usage by mention", f.slack("U2", false, "usage <@U2> week"), "400 tokens in 2 requests")
	contains(t, "others' usage", f.slack("U2", false, "usage all"), "only admins can see others' usage")
	contains(t, "others' usage", f.slack("U2", false, "usage <@U1>"), "only admins can see others' usage")
}

func TestLimitsCommands(t *testing.T) {
	f := newFixture(t)
	contains(t, "show", f.console("you", "limits show"),
		"Per channel: 20/min burst 5 [config]", "Per user:    10/min burst 3", "up to 100 per channel, waiting at most 30s")
	contains(t, "set channel", f.slack("UADMIN", true, "limits set <#C9|busy> 60/min burst 10"),
		"Rate limit of #busy: 20/min burst 5 → 60/min burst 10.")
	contains(t, "set keeps burst", f.slack("UADMIN", true, "limits set <#C9> 30/min"), "60/min burst 10 → 30/min burst 10.")
	contains(t, "set default", f.console("you", "limits set default 6/min"), "20/min burst 5 → 6/min burst 5.")
	contains(t, "show after", f.console("you", "limits show"), "Per channel: 6/min burst 5 [admin]", "#C9 (slack/T1/C9): 30/min burst 10 [admin]")
	contains(t, "unset", f.console("you", "limits set default default"), "6/min burst 5 → 20/min burst 5 (from the config).")
	if got := f.g.Limits().Channel.Count; got != 20 {
		t.Errorf("default after unset = %d/min", got)
	}
	contains(t, "audit", f.console("you", "audit"), "limits set #busy (slack/T1/C9): 20/min burst 5 → 60/min burst 10", "UADMIN")
}

func TestBadInputAndHelp(t *testing.T) {
	f := newFixture(t)
	for text, want := range map[string]string{
		"quota set @ana":                       "usage: quota set <@user|#channel|workspace|default> <N[k|m]|unlimited|default> <tokens|requests>/<day|month>",
		"quota set @ana lots tokens/day":       `want an amount such as 1000, 50k or 2m, got "lots"`,
		"quota set @ana 5k tokens/week":        `want tokens/day, tokens/month, requests/day or requests/month, got "tokens/week"`,
		"quota set ana 5k tokens/day":          `want a target such as @user, #channel, <@U123>, <#C123|name>, workspace or default, got "ana"`,
		"quota frobnicate":                     `unknown quota command "frobnicate"`,
		"quota reset default":                  "a default has no usage to reset",
		"quota show @a @b":                     "at most one target",
		"usage @ana #general":                  "at most one target and one period",
		"usage day week":                       "give one period",
		"limits set @ana 5/min":                "limits are set per channel or as the default",
		"limits set #general fast":             `want a rate such as 20/min (units s, min, h, day), got "fast"`,
		"limits set #general 5/min burst zero": `want "burst N" with N from 1 to 1000000`,
		"limits launch":                        `unknown limits command "launch"`,
		"audit many":                           "want a number of entries from 1 to 100",
		"help me":                              "usage: help",
	} {
		contains(t, text, f.console("you", text), want)
	}
	help := f.console("ana", "help")
	contains(t, "help", help, bot.HelpText, "quota set <@user|#channel|workspace|default>", "audit [N]")
	if f.console("ana", "") != help {
		t.Error("an empty command is not help")
	}
	// reset and unknown commands are left to the engine.
	for _, text := range []string{"reset", "frobnicate"} {
		if _, ok := f.h.HandleCommand(context.Background(), bot.Command{Text: text}); ok {
			t.Errorf("%q handled; the engine owns it", text)
		}
	}
}

func TestParseRefPlatforms(t *testing.T) {
	for in, want := range map[string]Ref{
		"<@U024BE7LH>":         {Kind: RefUser, ID: "U024BE7LH"},
		"<@U024BE7LH|ana>":     {Kind: RefUser, ID: "U024BE7LH", Name: "ana"},
		"<#C01ABCDEF|general>": {Kind: RefChannel, ID: "C01ABCDEF", Name: "general"},
		"<@80351110224678912>": {Kind: RefUser, ID: "80351110224678912"},
		"<@!8035111022467891>": {Kind: RefUser, ID: "8035111022467891"},
		"<#81384788765712388>": {Kind: RefChannel, ID: "81384788765712388"},
		"@ana":                 {Kind: RefUser, ID: "ana", Name: "ana"},
		"#general":             {Kind: RefChannel, ID: "general", Name: "general"},
		"default":              {Kind: RefDefault, Scope: limits.ScopeUser},
		"default-channel":      {Kind: RefDefault, Scope: limits.ScopeChannel},
		"workspace":            {Kind: RefWorkspace},
		"all":                  {Kind: RefAll},
	} {
		got, err := ParseRef(in, limits.ScopeUser)
		if err != nil || got != want {
			t.Errorf("ParseRef(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "@", "#", "<@>", "<@U1", "<!here>", "<@U 1>", "<#C1|x", "ana", "@a/b"} {
		if _, err := ParseRef(bad, limits.ScopeUser); err == nil {
			t.Errorf("ParseRef(%q) accepted", bad)
		}
	}
}

func TestParseAmount(t *testing.T) {
	for in, want := range map[string]int64{"1000": 1000, "1,000": 1000, "50k": 50000, "50K": 50000, "2m": 2000000, "1.5m": 1500000, "0": 0} {
		if got, err := ParseAmount(in); err != nil || got != want {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "k", "-5", "1e6", "0x10", "1.5", "inf", "NaN", "99999999999999999m"} {
		if _, err := ParseAmount(bad); err == nil {
			t.Errorf("ParseAmount(%q) accepted", bad)
		}
	}
}
