package slack

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-bot/parley/adapters/slack/slackfake"
	"github.com/parley-bot/parley/bot"
)

// signalHandler reports each delivered message on a channel.
type signalHandler struct {
	recorder
	got chan bot.Message
}

func (s *signalHandler) HandleMessage(_ context.Context, m bot.Message) error {
	s.got <- m
	return nil
}

// BenchmarkSocketEventToHandler measures how long a mention takes from the
// fake's websocket write to HandleMessage (ack, parse, users.info cached,
// dispatch), reporting p50 and p99.
func BenchmarkSocketEventToHandler(b *testing.B) {
	fake := slackfake.New(slackfake.Options{})
	defer fake.Close()
	fake.AddUser(slackfake.User{ID: "U1", Name: "ana", DisplayName: "Ana"})
	a, err := New(Options{BotToken: "xoxb-fake", AppToken: "xapp-fake", APIURL: fake.URL()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	h := &signalHandler{recorder: *newRecorder(), got: make(chan bot.Message, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, h) }()
	defer func() {
		cancel()
		<-done
	}()
	if err := fake.WaitConnections(ctx, 1); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	i := 0
	for b.Loop() {
		i++
		ts := fmt.Sprintf("1700100000.%06d", i)
		start := time.Now()
		if err := fake.SendEvent(ctx, "", mention("C1", "U1", "<@UBOT> hi", ts, "")); err != nil {
			b.Fatal(err)
		}
		<-h.got
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkToMrkdwnPathological converts lines full of unmatched openers,
// which a naive converter handles in quadratic time.
func BenchmarkToMrkdwnPathological(b *testing.B) {
	md := strings.Repeat("_a **b [c ~~d `` ", 1000)
	b.SetBytes(int64(len(md)))
	for b.Loop() {
		ToMrkdwn(md)
	}
}

// BenchmarkTwentyRepliesFinalLag runs 20 replies at once in one workspace
// at Tier 3 (50 chat.update a minute) through slack-go, the fake Slack and
// the whole engine, and reports the worst time from the model's last
// chunk to the final text being visible. Run with -benchtime=Nx.
func BenchmarkTwentyRepliesFinalLag(b *testing.B) {
	var worst []time.Duration
	for b.Loop() {
		if lags := twentyConcurrentReplies(b); len(lags) > 0 {
			worst = append(worst, slices.Max(lags))
		}
	}
	if len(worst) == 0 {
		b.Fatal("no reply completed")
	}
	slices.Sort(worst)
	b.ReportMetric(float64(worst[len(worst)/2].Milliseconds()), "p50-worst-final-ms")
	b.ReportMetric(float64(worst[len(worst)-1].Milliseconds()), "max-final-ms")
}
