package console_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-bot/parley/internal/testrig"
	"github.com/parley-bot/parley/limits"
	"github.com/parley-bot/parley/llm/fakeopenai"
)

func limitedRig(t *testing.T, db string) *testrig.Rig {
	t.Helper()
	return testrig.New(t, testrig.Options{
		DBPath: db,
		Model:  fakeopenai.Options{Answer: func(fakeopenai.Request) string { return strings.Repeat("token ", 150) }},
		Limits: &limits.Options{QueueSize: 10, MaxWait: time.Second},
	})
}

func TestAdminCommandsThroughTheConsole(t *testing.T) {
	rig := limitedRig(t, filepath.Join(t.TempDir(), "parley.db"))
	out := converse(t, rig,
		"/parley quota set @bob 1000 tokens/day",
		"/parley quota show @bob",
		"/parley limits set default 20/min burst 5",
		"/parley limits show",
		"/parley quota set @bob lots",
		"hello from the admin",
		"/parley usage all day",
		"/parley audit 5",
		"/as bob",
		"/parley quota show",
		"/parley quota set @bob 5000 tokens/day",
		"/parley audit",
	)
	for _, want := range []string{
		"1,000 tokens/day",                // quota set, then show
		"20/min",                          // limits show
		"usage: quota set <@user",         // bad input says what was expected
		`only admins can run "audit"`,     // bob may not read the audit
		"speaking as bob",                 // /as
		`only admins can run "quota set"`, // nor set quotas
		"ana: quota set tokens/day @bob",  // the audit entry: who and what
	} {
		if !strings.Contains(out, want) {
			t.Errorf("console output lacks %q:\n%s", want, out)
		}
	}
	entries, err := rig.Gate.Audit(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("%d audit entries, want 2 (quota set, limits set): %+v", len(entries), entries)
	}
}

func TestTokenQuotaRefusesOnceSpentEvenAfterARestart(t *testing.T) {
	db := filepath.Join(t.TempDir(), "parley.db")
	rig := limitedRig(t, db)
	out := converse(t, rig, "/parley quota set @bob 1000 tokens/day", "/as bob",
		"first question", "second question", "third question", "fourth question", "fifth question")
	rs := replies(out)
	refused := 0
	for _, r := range rs {
		if strings.Contains(r, "of your 1,000 tokens for today") && strings.Contains(r, "resets at") {
			refused++
		}
	}
	if refused == 0 || refused == len(rs) {
		t.Fatalf("want some answers and then refusals naming the quota and its reset; got %q", rs)
	}
	if err := rig.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}

	rig2 := limitedRig(t, db)
	rs = replies(converse(t, rig2, "/as bob", "after the restart"))
	if len(rs) != 1 || !strings.Contains(rs[0], "of your 1,000 tokens for today") {
		t.Fatalf("after a restart bob got %q, want the quota refusal", rs)
	}
	if n := len(rig2.Model.Requests()); n != 0 {
		t.Errorf("%d model requests after the quota was spent", n)
	}
}
