package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parley-bot/parley/bot"
)

// registeredNames returns every metric family name once each vector has a
// series.
func registeredNames(t *testing.T) map[string]bool {
	t.Helper()
	m := New("dev")
	m.EventReceived(bot.PlatformSlack, "message")
	m.MessageAccepted(bot.Message{Platform: bot.PlatformSlack})
	m.ReplyStarted(slackKey)
	m.FirstToken(slackKey, time.Second, time.Second)
	m.ReplyFinished(slackKey, bot.StatusPartial, bot.Usage{Model: "m", PromptTokens: 1, CompletionTokens: 1}, time.Second, bot.ModelTimeout)
	m.Refused(slackKey, "quota")
	m.Filtered("input")
	m.Edit(bot.PlatformSlack, 0)
	m.UpstreamError(bot.ModelServer)
	m.Retry("m", bot.ModelServer, time.Second)
	m.QueueDepth(1)
	m.QueueWait(time.Second)
	m.RateLimitRefusal("user")
	m.QuotaRefusal("user")
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := make(map[string]bool)
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	return names
}

var metricName = regexp.MustCompile(`\b(?:parley|go|process)_[a-z0-9_]+`)

// family strips the series suffixes of histograms.
func family(name string, names map[string]bool) string {
	if names[name] {
		return name
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suf); ok && names[base] {
			return base
		}
	}
	return name
}

func TestDashboardUsesRegisteredNames(t *testing.T) {
	names := registeredNames(t)
	b, err := os.ReadFile("../dashboards/parley.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard is not JSON: %v", err)
	}
	used := make(map[string]bool)
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, n := range metricName.FindAllString(tg.Expr, -1) {
				f := family(n, names)
				if !names[f] {
					t.Errorf("panel %q uses %s, which Parley does not export", p.Title, n)
				}
				used[f] = true
			}
		}
	}
	for n := range names {
		if strings.HasPrefix(n, "parley_") && !used[n] && n != "parley_model_last_success_timestamp_seconds" {
			t.Errorf("%s is on no dashboard panel", n)
		}
	}
}

func TestDocListsEveryMetric(t *testing.T) {
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	names := registeredNames(t)
	for n := range names {
		if strings.HasPrefix(n, "parley_") && !strings.Contains(doc, n) {
			t.Errorf("doc.go does not list %s", n)
		}
	}
	for _, n := range metricName.FindAllString(doc, -1) {
		if strings.HasPrefix(n, "parley_") && !names[n] {
			t.Errorf("doc.go lists %s, which is not registered", n)
		}
	}
}
