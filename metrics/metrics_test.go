package metrics

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/parley-bot/parley/bot"
)

var slackKey = bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T1", Channel: "C1", Thread: "1.0"}

// histCount returns the sample count of the histogram series with labels.
func histCount(t *testing.T, m *Metrics, name string, labels map[string]string) uint64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, s := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range s.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue series
				}
			}
			return s.GetHistogram().GetSampleCount()
		}
	}
	return 0
}

func TestObserverMovesMetrics(t *testing.T) {
	m := New("v1.2.3")
	m.EventReceived(bot.PlatformSlack, "app_mention")
	m.MessageAccepted(bot.Message{Platform: bot.PlatformSlack})
	m.ReplyStarted(slackKey)
	if got := testutil.ToFloat64(m.inFlight); got != 1 {
		t.Fatalf("in flight after start = %v", got)
	}
	m.FirstToken(slackKey, 1500*time.Millisecond, 400*time.Millisecond)
	m.Edit(bot.PlatformSlack, 250*time.Millisecond)
	m.Edit(bot.PlatformSlack, 0)
	m.ReplyFinished(slackKey, bot.StatusComplete, bot.Usage{Model: "gpt-4o-mini", PromptTokens: 120, CompletionTokens: 30}, 3*time.Second, "")

	checks := []struct {
		name string
		got  float64
		want float64
	}{
		{"events", testutil.ToFloat64(m.events.WithLabelValues("slack", "app_mention")), 1},
		{"accepted", testutil.ToFloat64(m.accepted.WithLabelValues("slack")), 1},
		{"replies complete", testutil.ToFloat64(m.replies.WithLabelValues("slack", "complete")), 1},
		{"prompt tokens", testutil.ToFloat64(m.tokens.WithLabelValues("gpt-4o-mini", "prompt")), 120},
		{"completion tokens", testutil.ToFloat64(m.tokens.WithLabelValues("gpt-4o-mini", "completion")), 30},
		{"edits", testutil.ToFloat64(m.edits.WithLabelValues("slack")), 2},
		{"in flight", testutil.ToFloat64(m.inFlight), 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	for _, h := range []struct {
		name   string
		labels map[string]string
		want   uint64
	}{
		{"parley_first_token_seconds", map[string]string{"platform": "slack"}, 1},
		{"parley_model_first_token_seconds", nil, 1},
		{"parley_model_duration_seconds", map[string]string{"model": "gpt-4o-mini"}, 1},
		{"parley_edit_wait_seconds", map[string]string{"platform": "slack"}, 2},
	} {
		if got := histCount(t, m, h.name, h.labels); got != h.want {
			t.Errorf("%s%v count = %d, want %d", h.name, h.labels, got, h.want)
		}
	}
	if got := testutil.ToFloat64(m.lastModelOK); got <= 0 {
		t.Errorf("last success timestamp = %v", got)
	}
}

func TestHooksMoveMetrics(t *testing.T) {
	m := New("dev")
	m.Refused(slackKey, "rate_limit")
	m.Filtered("input")
	m.FilterHit("output")
	m.UpstreamError(bot.ModelServer)
	m.UpstreamError(bot.ModelServer)
	m.Retry("gpt-4o", bot.ModelRateLimited, 2*time.Second)
	m.QueueDepth(3)
	m.QueueWait(time.Second)
	m.RateLimitRefusal("user")
	m.QuotaRefusal("channel")
	m.ReplyFinished(slackKey, bot.StatusFailed, bot.Usage{Model: "gpt-4o"}, time.Second, bot.ModelTimeout)

	for name, c := range map[string]struct{ got, want float64 }{
		"refusals":       {testutil.ToFloat64(m.refusals.WithLabelValues("slack", "rate_limit")), 1},
		"filter input":   {testutil.ToFloat64(m.filterHits.WithLabelValues("input")), 1},
		"filter output":  {testutil.ToFloat64(m.filterHits.WithLabelValues("output")), 1},
		"upstream":       {testutil.ToFloat64(m.upstreamErrs.WithLabelValues("server")), 2},
		"retries":        {testutil.ToFloat64(m.retries.WithLabelValues("gpt-4o", "rate_limited")), 1},
		"retry wait":     {testutil.ToFloat64(m.retryWait.WithLabelValues("gpt-4o")), 2},
		"queue depth":    {testutil.ToFloat64(m.queueDepth), 3},
		"rate refusals":  {testutil.ToFloat64(m.rateRefusals.WithLabelValues("user")), 1},
		"quota refusals": {testutil.ToFloat64(m.quotaRefusals.WithLabelValues("channel")), 1},
		"reply errors":   {testutil.ToFloat64(m.replyModelErrs.WithLabelValues("timeout")), 1},
		"failed":         {testutil.ToFloat64(m.replies.WithLabelValues("slack", "failed")), 1},
		// A reply that never started (a notice) must not drive the gauge negative.
		"in flight": {testutil.ToFloat64(m.inFlight), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", name, c.got, c.want)
		}
	}
	if got := histCount(t, m, "parley_queue_wait_seconds", nil); got != 1 {
		t.Errorf("queue wait count = %d", got)
	}
	// No tokens are counted for a reply without usage.
	if n := testutil.CollectAndCount(m.tokens); n != 0 {
		t.Errorf("token series = %d, want 0", n)
	}
}

func TestBuildInfoAndCollectors(t *testing.T) {
	m := New("v9.9.9")
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var build, goroutines bool
	for _, mf := range mfs {
		switch mf.GetName() {
		case "parley_build_info":
			for _, lp := range mf.GetMetric()[0].GetLabel() {
				if lp.GetName() == "version" && lp.GetValue() == "v9.9.9" {
					build = true
				}
			}
		case "go_goroutines":
			goroutines = true
		}
	}
	if !build || !goroutines {
		t.Fatalf("build info %v, go collector %v", build, goroutines)
	}
}

func TestNilMetricsIgnoresCalls(t *testing.T) {
	var m *Metrics
	m.EventReceived(bot.PlatformConsole, "message")
	m.ReplyStarted(slackKey)
	m.ReplyFinished(slackKey, bot.StatusComplete, bot.Usage{}, 0, "")
	m.Edit(bot.PlatformConsole, 0)
	m.QueueDepth(1)
}

func TestLabelCardinalityBounded(t *testing.T) {
	m := New("dev")
	for i := range MaxLabelValues + 10 {
		m.ReplyFinished(slackKey, bot.StatusComplete, bot.Usage{Model: fmt.Sprintf("model-%d", i), CompletionTokens: 1}, time.Second, "")
	}
	if n := testutil.CollectAndCount(m.tokens); n != MaxLabelValues+1 {
		t.Fatalf("token series = %d, want %d (bounded, plus %q)", n, MaxLabelValues+1, OtherLabel)
	}
	if got := testutil.ToFloat64(m.tokens.WithLabelValues(OtherLabel, "completion")); got != 10 {
		t.Fatalf("other = %v, want 10", got)
	}
}

func TestInFlightConcurrent(t *testing.T) {
	m := New("dev")
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			key := slackKey
			key.Thread = fmt.Sprint(i)
			// A busy notice in a thread that is not streaming never started.
			m.Refused(key, "thread_busy")
			m.ReplyFinished(key, bot.StatusRefused, bot.Usage{}, 0, "")
			m.ReplyStarted(key)
			m.ReplyFinished(key, bot.StatusComplete, bot.Usage{Model: "m"}, time.Second, "")
		})
	}
	wg.Wait()
	if got := testutil.ToFloat64(m.inFlight); got != 0 {
		t.Fatalf("in flight = %v, want 0", got)
	}
}

func TestModelCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New("dev")
		check := m.ModelCheck(5 * time.Minute)
		ctx := context.Background()
		if err := check.Check(ctx); err != nil {
			t.Fatalf("fresh model not ready: %v", err)
		}
		m.UpstreamError(bot.ModelUnavailable)
		if err := check.Check(ctx); err == nil {
			t.Fatal("failing model without a success is ready")
		}
		m.FirstToken(slackKey, time.Second, time.Second)
		if err := check.Check(ctx); err != nil {
			t.Fatalf("after a success: %v", err)
		}
		time.Sleep(time.Minute)
		m.UpstreamError(bot.ModelServer)
		if err := check.Check(ctx); err != nil {
			t.Fatalf("failure within the window of a success: %v", err)
		}
		time.Sleep(5 * time.Minute)
		err := check.Check(ctx)
		if err == nil || !strings.Contains(err.Error(), "6m0s ago") {
			t.Fatalf("failure beyond the window: %v", err)
		}
		m.ReplyFinished(slackKey, bot.StatusComplete, bot.Usage{Model: "m"}, time.Second, "")
		if err := check.Check(ctx); err != nil {
			t.Fatalf("after recovery: %v", err)
		}
		time.Sleep(time.Second)
		m.ReplyFinished(slackKey, bot.StatusFailed, bot.Usage{Model: "m"}, time.Second, bot.ModelAuth)
		time.Sleep(6 * time.Minute)
		if err := check.Check(ctx); err == nil {
			t.Fatal("reply failing on the model beyond the window is ready")
		}
	})
}

func BenchmarkObserverReply(b *testing.B) {
	m := New("dev")
	u := bot.Usage{Model: "gpt-4o-mini", PromptTokens: 100, CompletionTokens: 50}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ReplyStarted(slackKey)
			m.FirstToken(slackKey, time.Second, time.Second)
			m.Edit(bot.PlatformSlack, time.Millisecond)
			m.ReplyFinished(slackKey, bot.StatusComplete, u, time.Second, "")
		}
	})
}
