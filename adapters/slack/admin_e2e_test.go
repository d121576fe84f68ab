package slack

// End-to-end acceptance tests of issue 5 on Slack: the admin commands
// (commands.New over the real limits.Gate, wired by testrig as the daemon
// wires them) through /parley slash commands from the fake Slack, and a
// token quota set that way refusing the user's next mention.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-bot/parley/adapters/slack/slackfake"
	"github.com/parley-bot/parley/bot"
	"github.com/parley-bot/parley/internal/testrig"
	"github.com/parley-bot/parley/limits"
	"github.com/parley-bot/parley/llm/fakeopenai"
)

// adminAnswer is long enough (≈150 tokens) that one reply spends a
// 100-token quota.
var adminAnswer = strings.TrimSpace(strings.Repeat("word ", 150))

// adminE2E is an e2e run whose rig has the limits gate and the admin
// commands.
type adminE2E struct {
	*e2e
	seq int // slash commands sent, for unique response_url IDs
}

// startAdminE2E runs an adapter, with mutate applied to its options, on a
// rig with the limits gate and the admin commands.
func startAdminE2E(t *testing.T, mutate func(*Options)) *adminE2E {
	t.Helper()
	fake := newFake(t, slackfake.Options{EchoBotMessages: true})
	rig := testrig.New(t, testrig.Options{
		Model:  fakeopenai.Options{Answer: func(fakeopenai.Request) string { return adminAnswer }},
		Limits: &limits.Options{QueueSize: 10, MaxWait: time.Second},
	})
	return &adminE2E{e2e: attachE2E(t, fake, rig, 1, mutate)}
}

// adminUnescape undoes the &, < and > escaping Slack requires in message
// text, so that answers can be compared with what users read.
var adminUnescape = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

// slash runs "/parley text" as user in C1 and returns the answer as Slack
// shows it: from the ack, or from response_url when the command was slow.
func (e *adminE2E) slash(user, text string) commandPayload {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 10*time.Second)
	defer cancel()
	e.seq++
	id := fmt.Sprintf("admin%d", e.seq)
	raw, err := e.fake.SendSlashCommand(ctx, e.fake.SlashCommand("C1", user, "/parley", text, id))
	if err != nil {
		e.t.Fatalf("/parley %s: %v", text, err)
	}
	var p commandPayload
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &p); err != nil {
			e.t.Fatalf("/parley %s: ack %s: %v", text, raw, err)
		}
	}
	if p.Text == "" { // answered late, through response_url
		eventually(e.t, "the answer to /parley "+text, func() bool {
			for _, r := range e.fake.Responses() {
				if r.ID == id {
					p = commandPayload{ResponseType: r.ResponseType, Text: r.Text}
					return true
				}
			}
			return false
		})
	}
	p.Text = adminUnescape.Replace(p.Text)
	return p
}

// expect runs a command and checks that its answer is ephemeral and holds
// every one of want.
func (e *adminE2E) expect(user, text string, want ...string) string {
	e.t.Helper()
	p := e.slash(user, text)
	e.t.Logf("/parley %s (by %s):\n%s", text, user, p.Text)
	if p.ResponseType != "ephemeral" {
		e.t.Errorf("/parley %s (by %s) answered with response_type %q, want ephemeral", text, user, p.ResponseType)
	}
	for _, w := range want {
		if !strings.Contains(p.Text, w) {
			e.t.Errorf("/parley %s (by %s) answered\n%s\nwant it to contain %q", text, user, p.Text, w)
		}
	}
	return p.Text
}

// ask mentions the bot as user in a new thread of C1 and returns the
// bot's final message there once everything is answered.
func (e *adminE2E) ask(user, ts, question string) slackfake.Message {
	e.t.Helper()
	e.send("", mention("C1", user, "<@UBOT> "+question, ts, ""))
	e.idle()
	msgs := e.fake.Thread("C1", ts)
	if len(msgs) != 1 {
		e.t.Fatalf("thread %s holds %d bot messages, want 1: %+v", ts, len(msgs), msgs)
	}
	return msgs[0]
}

func TestAdminCommandsThroughSlashCommands(t *testing.T) {
	e := startAdminE2E(t, nil)
	const admin, member = "UADMIN", "U2" // Root (workspace admin), Ben (member)
	ben := limits.UserTarget(bot.PlatformSlack, "T0001", "U2", "ben")

	// Ben and Ana use the bot before any quota.
	if m := e.ask(member, "1700005000.000001", "first question"); m.Text != adminAnswer {
		t.Fatalf("ben's first answer = %q", m.Text)
	}
	e.ask("U1", "1700005000.000002", "ana's question")
	used := e.rig.TokensToday(ben)
	if used <= 100 {
		t.Fatalf("ben used %d tokens, want more than the 100-token quota the test sets", used)
	}

	// quota set with Slack's escaped mention syntax, then show it.
	e.expect(admin, "quota set <@U2|ben> 100 tokens/day", "Quota tokens/day of @ben: default → 100 tokens/day.")
	e.expect(admin, "quota show <@U2|ben>", "Quotas of @ben:",
		fmt.Sprintf("tokens/day       %s of 100 (", limits.FormatCount(used)), "resets in", "[set for this target]")

	// The quota refuses ben's next mention, naming the quota and its reset,
	// without asking the model.
	refusal := e.ask(member, "1700005000.000003", "second question")
	text := adminUnescape.Replace(refusal.Text)
	t.Logf("ben's mention over the quota answered: %s", text)
	for _, want := range []string{
		fmt.Sprintf("You've used %s of your 100 tokens for today", limits.FormatCount(used)),
		"it resets at 00:00 UTC (in ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("ben's mention over the quota answered %q, want it to contain %q", text, want)
		}
	}
	if n := len(e.rig.Model.Requests()); n != 2 {
		t.Errorf("%d model requests, want 2 (the refused mention must not reach the model)", n)
	}

	// A member sees their own quota but may not change quotas or read the
	// audit.
	e.expect(member, "quota show", "Quotas of @Ben Ortiz:", fmt.Sprintf("%s of 100 (", limits.FormatCount(used)))
	e.expect(member, "usage", "@Ben Ortiz today (", fmt.Sprintf("%s tokens in 1 requests", limits.FormatCount(used)))
	e.expect(member, "quota set <@U2|ben> 1m tokens/day", `Sorry, only admins can run "quota set"`, `"quota show"`)
	e.expect(member, "audit", `Sorry, only admins can run "audit"`)
	e.expect(member, "quota show <@U1|ana>", "only admins can see other quotas")
	e.expect(member, "usage all", "only admins can see others' usage")
	e.expect(member, "limits set <#C1|general> 1/min", `Sorry, only admins can run "limits set"`)

	// Bad input says what was expected.
	e.expect(admin, "quota set <@U2> lots", "quota set needs a target, an amount and a unit",
		"usage: quota set <@user|#channel|workspace|default> <N[k|m]|unlimited|default> <tokens|requests>/<day|month>")
	e.expect(admin, "quota set <@U2> lots tokens/day", `want an amount such as 1000, 50k or 2m, got "lots"`)
	e.expect(admin, "quota set <@U2> 5k tokens/week", `want tokens/day, tokens/month, requests/day or requests/month, got "tokens/week"`)
	e.expect(admin, "limits set <#C1|general> fast", `want a rate such as 20/min`, "usage: limits set <#channel|default>")
	e.expect(admin, "audit 1000", "want a number of entries from 1 to 100")

	// usage across everyone, today.
	usage := e.expect(admin, "usage all day", "Everyone today (", "tokens in 2 requests", "Top users:", "@Ben Ortiz", "@Ana", "Top channels:")
	if !strings.HasPrefix(usage, "```") {
		t.Errorf("usage answer is not a code block:\n%s", usage)
	}

	// quota reset forgives ben's usage: his next mention is answered.
	e.expect(admin, "quota reset <@U2|ben>", fmt.Sprintf("Usage of @ben reset (was today %s tokens, 1 requests;", limits.FormatCount(used)))
	if m := e.ask(member, "1700005000.000004", "third question"); m.Text != adminAnswer {
		t.Errorf("after the reset ben got %q, want the model's answer", m.Text)
	}

	// limits set with Slack's channel syntax, then show it.
	e.expect(admin, "limits set <#C1|general> 20/min burst 5", "Rate limit of #general: unlimited → 20/min burst 5.")
	e.expect(admin, "limits show", "Per channel: unlimited [config]", "#C1 (slack/T0001/C1): 20/min burst 5 [admin]")

	// The audit holds exactly the three changes, newest first, with the
	// actor, both through the command and in the gate.
	e.expect(admin, "audit",
		"Root (UADMIN): limits set #general (slack/T0001/C1): unlimited → 20/min burst 5",
		"Root (UADMIN): quota reset @ben (slack/T0001/U2)",
		"Root (UADMIN): quota set tokens/day @ben (slack/T0001/U2): default → 100 tokens/day")
	entries, err := e.rig.Gate.Audit(t.Context(), 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ action, target, old, new string }{
		{"limits set", "#general (slack/T0001/C1)", "unlimited", "20/min burst 5"},
		{"quota reset", "@ben (slack/T0001/U2)", fmt.Sprintf("today %s tokens, 1 requests; this month %s tokens, 1 requests", limits.FormatCount(used), limits.FormatCount(used)), "0 used"},
		{"quota set tokens/day", "@ben (slack/T0001/U2)", "default", "100 tokens/day"},
	}
	if len(entries) != len(want) {
		t.Fatalf("audit holds %d entries, want %d: %+v", len(entries), len(want), entries)
	}
	for i, w := range want {
		got := entries[i]
		if got.Actor != "Root (UADMIN)" || got.Action != w.action || got.Target != w.target || got.Old != w.old || got.New != w.new {
			t.Errorf("audit entry %d = %+v, want actor Root (UADMIN), %+v", i, got, w)
		}
	}
	if n := e.fake.LateAcks(); n != 0 {
		t.Errorf("%d slash commands acked late", n)
	}
}

// TestAdminListOverridesWorkspaceRoles: with slack.admins set, only the
// listed users are admins; workspace admins and owners are not.
func TestAdminListOverridesWorkspaceRoles(t *testing.T) {
	e := startAdminE2E(t, func(o *Options) { o.Admins = []string{"U1"} })
	e.expect("U1", "quota set default 50k tokens/day", "Quota tokens/day of default user: default → 50,000 tokens/day.")
	e.expect("UADMIN", "audit", `Sorry, only admins can run "audit"`)
	e.expect("UOWNER", "quota reset workspace", `Sorry, only admins can run "quota reset"`)
	e.expect("U1", "audit", "Ana (U1): quota set tokens/day default user: default → 50,000 tokens/day")
	entries, err := e.rig.Gate.Audit(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Actor != "Ana (U1)" {
		t.Errorf("audit = %+v, want the one change by Ana (U1)", entries)
	}
}

// TestAdminWorkspaceOwnerIsAdmin: without slack.admins, owners count as
// admins as well as admins do.
func TestAdminWorkspaceOwnerIsAdmin(t *testing.T) {
	e := startAdminE2E(t, nil)
	e.expect("UOWNER", "limits set default 30/min burst 2", "Rate limit of default channel: unlimited → 30/min burst 2.")
	e.expect("UOWNER", "limits show", "Per channel: 30/min burst 2 [admin]")
}
