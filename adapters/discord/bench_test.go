package discord

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-bot/parley/adapters/discord/discordfake"
	"github.com/parley-bot/parley/bot"
)

func BenchmarkToDiscordMarkdown(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("#### Results\n\n| name | score | note |\n|---|---:|---|\n")
	for i := 0; sb.Len() < 1800; i++ {
		fmt.Fprintf(&sb, "| player %d | %d | fine |\n", i, i*7)
	}
	sb.WriteString("\nSome prose after the table.\n")
	in := sb.String()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		ToDiscordMarkdown(in)
	}
}

func BenchmarkFrameScanner(b *testing.B) {
	var stream bytes.Buffer
	stream.WriteString("HTTP/1.1 101 Switching Protocols\r\n\r\n")
	for stream.Len() < 64<<10 {
		stream.Write(wsFrame(0x1, []byte(`{"op":0,"s":12,"t":"MESSAGE_CREATE","d":{"content":"hello there"}}`)))
	}
	data := stream.Bytes()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var s frameScanner
		for off := 0; off < len(data); off += 4096 {
			s.feed(data[off:min(off+4096, len(data))])
		}
	}
}

// BenchmarkRouteReserve measures the per-request cost of the local bucket
// check that keeps edits from drawing 429s.
func BenchmarkRouteReserve(b *testing.B) {
	rt := newRouteTracker(time.Now)
	routes := make([]string, 64)
	for i := range routes {
		routes[i] = fmt.Sprintf("edit:%d", i)
	}
	i := 0
	for b.Loop() {
		rel, _ := rt.reserve(routes[i%len(routes)])
		if rel != nil {
			rel()
		}
		i++
	}
}

// BenchmarkSixtyRequestBurst sends 60 requests at once (twenty mentions'
// thread, typing and placeholder) through the global limiter to the fake
// and reports the p50/p99 request latency and the peak requests the fake
// counted in one second. Run with -benchtime=Nx: each op takes ~1.3 s.
func BenchmarkSixtyRequestBurst(b *testing.B) {
	f := discordfake.New(discordfake.Options{Token: testToken})
	defer f.Close()
	f.AddChannel(guildID, chanID, "general")
	ad, err := New(Options{Token: testToken, APIURL: f.URL}, quietLogger())
	if err != nil {
		b.Fatal(err)
	}
	key := bot.ThreadKey{Platform: bot.PlatformDiscord, Workspace: guildID, Channel: chanID, Thread: chanID}
	var lat []time.Duration
	for b.Loop() {
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := time.Now()
		for range 60 {
			wg.Go(func() {
				if err := ad.Typing(context.Background(), key); err != nil {
					b.Error(err)
				}
				mu.Lock()
				lat = append(lat, time.Since(start))
				mu.Unlock()
			})
		}
		wg.Wait()
		time.Sleep(time.Second) // let the bucket refill between bursts
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99-ms")
	b.ReportMetric(float64(f.Stats().PeakGlobal), "peak-req/s")
	b.ReportMetric(float64(f.Rejected().Global), "global-429s")
}

// BenchmarkFirstTextFiveReplies runs five replies at once in one channel
// through discordgo and the fake's 5 edits / 5 s bucket and reports the
// worst time from a reply's first token to its first visible text.
// Run with -benchtime=Nx: each op takes ~6 s (a gateway session each).
func BenchmarkFirstTextFiveReplies(b *testing.B) {
	var worst []time.Duration
	for b.Loop() {
		worst = append(worst, slices.Max(fiveRepliesFirstText(b)))
	}
	slices.Sort(worst)
	b.ReportMetric(float64(worst[len(worst)/2].Milliseconds()), "p50-worst-first-text-ms")
	b.ReportMetric(float64(worst[len(worst)-1].Milliseconds()), "max-first-text-ms")
}
