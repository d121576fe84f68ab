package stream

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/parley-bot/parley/bot"
)

// BenchmarkSchedulerGrant measures the scheduler's cost for one granted
// request (enqueue, dispatch, grant) on a bucket that always has budget,
// alone and with 50 replies queueing in the same key.
func BenchmarkSchedulerGrant(b *testing.B) {
	bud := bot.Budget{Scope: bot.ScopeChannel, Every: time.Nanosecond, Burst: 1 << 30}
	th := bot.ThreadKey{Platform: bot.PlatformDiscord, Workspace: "g", Channel: "c", Thread: "t"}
	b.Run("single", func(b *testing.B) {
		r := NewRenderer(Options{})
		bk := r.bucketFor(opEdit, bud, bud.Scope.Key(th), th.Platform, time.Now())
		bk.active = 1
		w := &waiter{signal: make(chan struct{}, 1)}
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		wake := make(chan struct{})
		final := func() (bool, bool) { return false, false }
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.acquire(ctx, bk, w, timer, wake, final); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		r := NewRenderer(Options{})
		bk := r.bucketFor(opEdit, bud, bud.Scope.Key(th), th.Platform, time.Now())
		bk.active = 50
		b.ReportAllocs()
		b.SetParallelism(25) // 50 goroutines on 2 cores
		b.RunParallel(func(pb *testing.PB) {
			w := &waiter{signal: make(chan struct{}, 1)}
			timer := time.NewTimer(time.Hour)
			timer.Stop()
			wake := make(chan struct{})
			final := func() (bool, bool) { return false, false }
			for pb.Next() {
				if _, err := r.acquire(context.Background(), bk, w, timer, wake, final); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkSplit10KB splits 10 KB of markdown with code fences into
// Discord-sized (2000) and small (200) parts.
func BenchmarkSplit10KB(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	var sb strings.Builder
	for sb.Len() < 10<<10 {
		sb.WriteString(randomMarkdown(rng))
	}
	text := sb.String()[:10<<10]
	for _, max := range []int{2000, 200} {
		b.Run(fmt.Sprintf("max%d", max), func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			var parts int
			for b.Loop() {
				parts = len(Split(text, max))
			}
			b.ReportMetric(float64(parts), "parts")
		})
	}
}
