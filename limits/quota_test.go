package limits

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-bot/parley/bot"
)

func fixedClock(t *time.Time) func() time.Time { return func() time.Time { return *t } }

func refusal(t *testing.T, err error) *bot.RefusedError {
	t.Helper()
	var r *bot.RefusedError
	if !errors.As(err, &r) {
		t.Fatalf("err = %v, want a *bot.RefusedError", err)
	}
	return r
}

// A user with 1,000 tokens a day: admitted until spent, settled with the
// actual usage, refused with the reset time, still refused after a restart.
func TestUserDailyTokenQuota(t *testing.T) {
	ctx := context.Background()
	path := tempDB(t)
	now := time.Date(2026, 11, 25, 20, 48, 0, 0, time.UTC)
	opts := Options{Quotas: map[Kind]int64{{ScopeUser, Tokens, Day}: 1000}, Now: fixedClock(&now)}

	store := openStore(t, path)
	g, err := NewGate(ctx, store.DB(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ana := msg("C1", "U1")
	for i := range 2 {
		adm, err := g.Admit(ctx, ana, "gpt-4o-mini", 300, 700, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		// The estimate was 1,000; the call really used 510.
		adm.Settle(bot.Usage{PromptTokens: 300, CompletionTokens: 210})
	}
	lines, err := g.QuotaStatus(ctx, UserTarget("slack", "T1", "U1", "U1"))
	if err != nil {
		t.Fatal(err)
	}
	if lines[0].Kind != (Kind{ScopeUser, Tokens, Day}) || lines[0].Used != 1020 || lines[0].Reserved != 0 || lines[0].Limit != 1000 {
		t.Fatalf("status = %+v; want 1,020 used of 1,000, nothing reserved", lines[0])
	}
	_, err = g.Admit(ctx, ana, "gpt-4o-mini", 10, 10, nil)
	want := "You've used 1,020 of your 1,000 tokens for today; it resets at 00:00 UTC (in 3 h 12 m)."
	if r := refusal(t, err); r.Notice != want || r.Reason != "quota" {
		t.Fatalf("refusal = %q (%s)\nwant      %q", r.Notice, r.Reason, want)
	}
	// Someone else is unaffected.
	if _, err := g.Admit(ctx, msg("C1", "U2"), "m", 10, 10, nil); err != nil {
		t.Fatalf("another user refused: %v", err)
	}
	closeStore(t, store)

	store = openStore(t, path)
	defer closeStore(t, store)
	g, err = NewGate(ctx, store.DB(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Admit(ctx, ana, "m", 10, 10, nil); refusal(t, err).Notice != want {
		t.Fatalf("after restart: %v", err)
	}
	// The next day (UTC) the quota is fresh.
	now = now.Add(3*time.Hour + 12*time.Minute)
	if _, err := g.Admit(ctx, ana, "m", 10, 10, nil); err != nil {
		t.Fatalf("next day: %v", err)
	}
}

// Reservations hold quota while calls are in flight, so concurrent calls
// cannot all slip under it; a crash's reservations are released at start.
func TestQuotaReservationAndRestartRelease(t *testing.T) {
	ctx := context.Background()
	path := tempDB(t)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	opts := Options{Quotas: map[Kind]int64{{ScopeChannel, Tokens, Day}: 1000}, Now: fixedClock(&now)}
	store := openStore(t, path)
	g, err := NewGate(ctx, store.DB(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Admit(ctx, msg("C1", "U1"), "m", 500, 500, nil); err != nil {
		t.Fatal(err)
	}
	_, err = g.Admit(ctx, msg("C1", "U2"), "m", 10, 10, nil)
	r := refusal(t, err)
	if !strings.HasPrefix(r.Notice, "This channel has used 1,000 of its 1,000 tokens for today (counting replies still in progress)") {
		t.Fatalf("notice = %q", r.Notice)
	}
	closeStore(t, store) // a "crash": the first call never settled

	store = openStore(t, path)
	defer closeStore(t, store)
	if g, err = NewGate(ctx, store.DB(), opts); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Admit(ctx, msg("C1", "U2"), "m", 10, 10, nil); err != nil {
		t.Fatalf("reservation not released at restart: %v", err)
	}
}

func TestQuotaRequestsWorkspaceMonthAndRefund(t *testing.T) {
	ctx := context.Background()
	store := openStore(t, tempDB(t))
	defer closeStore(t, store)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	g, err := NewGate(ctx, store.DB(), Options{Now: fixedClock(&now), Quotas: map[Kind]int64{
		{ScopeUser, Requests, Day}:      2,
		{ScopeWorkspace, Tokens, Month}: 5000,
	}})
	if err != nil {
		t.Fatal(err)
	}
	m := msg("C1", "U1")
	// A failed call (no usage) gives its request back.
	adm, err := g.Admit(ctx, m, "m", 1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	adm.Settle(bot.Usage{})
	adm.Settle(bot.Usage{PromptTokens: 99}) // settling twice is harmless
	for range 2 {
		adm, err := g.Admit(ctx, m, "m", 1, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		adm.Settle(bot.Usage{PromptTokens: 1})
	}
	_, err = g.Admit(ctx, m, "m", 1, 1, nil)
	if r := refusal(t, err); !strings.HasPrefix(r.Notice, "You've used 2 of your 2 requests for today;") {
		t.Fatalf("notice = %q", r.Notice)
	}
	adm, err = g.Admit(ctx, msg("C2", "U2"), "m", 100, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	adm.Settle(bot.Usage{PromptTokens: 3000, CompletionTokens: 2000})
	_, err = g.Admit(ctx, msg("C3", "U3"), "m", 1, 1, nil)
	want := "This workspace has used 5,002 of its 5,000 tokens for this month; it resets on 1 Dec at 00:00 UTC (in 5 d 12 h)."
	if r := refusal(t, err); r.Notice != want {
		t.Fatalf("notice = %q\nwant     %q", r.Notice, want)
	}
}

// Concurrent admissions against one quota never overrun it by more than
// the calls admitted before it was spent.
func TestQuotaConcurrent(t *testing.T) {
	ctx := context.Background()
	store := openStore(t, tempDB(t))
	defer closeStore(t, store)
	g, err := NewGate(ctx, store.DB(), Options{Quotas: map[Kind]int64{{ScopeUser, Tokens, Day}: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted := 0
	for range 50 {
		wg.Go(func() {
			adm, err := g.Admit(ctx, msg("C1", "U1"), "m", 50, 50, nil)
			if err != nil {
				refusal(t, err)
				return
			}
			mu.Lock()
			admitted++
			mu.Unlock()
			adm.Settle(bot.Usage{PromptTokens: 50, CompletionTokens: 50})
		})
	}
	wg.Wait()
	if admitted != 10 {
		t.Fatalf("%d admitted with estimate = actual = 100 against 1,000; want exactly 10", admitted)
	}
}

func BenchmarkQuotaReserve(b *testing.B) {
	ctx := context.Background()
	store := openStore(b, tempDB(b))
	defer closeStore(b, store)
	g, err := NewGate(ctx, store.DB(), Options{Quotas: map[Kind]int64{
		{ScopeUser, Tokens, Day}: 1 << 40, {ScopeChannel, Tokens, Day}: 1 << 40, {ScopeWorkspace, Tokens, Month}: 1 << 40,
	}})
	if err != nil {
		b.Fatal(err)
	}
	users := []string{"U1", "U2", "U3", "U4", "U5", "U6", "U7", "U8"}
	i := 0
	start := time.Now()
	for b.Loop() {
		r, err := g.q.reserve(ctx, msg("C1", users[i%len(users)]), 100, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		r.settle(90)
		i++
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "reserve+settle/s")
}

// Admins' settings survive a restart and win over the config; Reload
// swaps the config underneath them.
func TestAdminSettingsPersist(t *testing.T) {
	ctx := context.Background()
	path := tempDB(t)
	ch := bot.ChannelKey{Platform: "slack", Workspace: "T1", Channel: "C1"}
	opts := Options{Channel: Limit{Count: 20, Per: time.Minute, Burst: 5}, QueueSize: 10}
	store := openStore(t, path)
	g, err := NewGate(ctx, store.DB(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := g.SetChannelLimit(ctx, "ana", ChannelTarget(ch), Limit{Count: 2, Per: time.Minute, Burst: 1}, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := g.SetQuota(ctx, "ana", UserTarget("slack", "T1", "U1", ""), Kind{ScopeUser, Tokens, Day}, 10); err != nil {
		t.Fatal(err)
	}
	if _, _, err := g.SetQuota(ctx, "ana", UserTarget("slack", "T1", "U1", ""), Kind{ScopeChannel, Tokens, Day}, 10); err == nil {
		t.Fatal("a channel quota set on a user")
	}
	closeStore(t, store)

	store = openStore(t, path)
	defer closeStore(t, store)
	if g, err = NewGate(ctx, store.DB(), opts); err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(Options{Channel: Limit{Count: 100, Per: time.Minute, Burst: 9}, Channels: map[bot.ChannelKey]Limit{ch: {Count: 50, Per: time.Minute}}}); err != nil {
		t.Fatal(err)
	}
	v := g.Limits()
	if v.Channel.Count != 100 || len(v.Channels) != 1 || v.Channels[0].Limit != (Limit{Count: 2, Per: time.Minute, Burst: 1}) || v.Channels[0].Source != "admin" {
		t.Fatalf("limits after restart and reload = %+v", v)
	}
	if _, err := g.Admit(ctx, msg("C1", "U2"), "m", 1, 1, nil); err != nil {
		t.Fatal(err)
	}
	_, err = g.Admit(ctx, msg("C1", "U3"), "m", 1, 1, nil) // queue 0 after the reload: refused at once
	if r := refusal(t, err); !strings.Contains(r.Notice, "in about 30 s") {
		t.Fatalf("notice = %q", r.Notice)
	}
	lines, err := g.QuotaStatus(ctx, UserTarget("slack", "T1", "U1", ""))
	if err != nil || lines[0].Limit != 10 || lines[0].Source != SourceTarget {
		t.Fatalf("quota after restart = %+v, %v", lines, err)
	}
	entries, err := g.Audit(ctx, 10)
	if err != nil || len(entries) != 2 || entries[0].Action != "quota set tokens/day" || entries[1].Old != "20/min burst 5" || entries[1].New != "2/min burst 1" {
		t.Fatalf("audit = %+v, %v", entries, err)
	}
}
