package limits

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/parley-bot/parley/bot"
)

var epoch = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// TestGCRAWindowBound checks the defining property with random arrivals:
// in every window of length w, admitted ≤ burst + rate·w.
func TestGCRAWindowBound(t *testing.T) {
	for _, l := range []Limit{
		{Count: 20, Per: time.Minute, Burst: 5},
		{Count: 1, Per: time.Second, Burst: 1},
		{Count: 7, Per: time.Second, Burst: 3},
		{Count: 100, Per: time.Hour, Burst: 10},
	} {
		t.Run(l.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(l.Count)))
			g := NewGCRA(l)
			interval := l.Interval()
			now := epoch
			var admitted []time.Time
			for range 5000 {
				now = now.Add(time.Duration(rng.Int64N(int64(interval) * 2)))
				if ok, retry := g.Allow(now); ok {
					admitted = append(admitted, now)
				} else if retry <= 0 {
					t.Fatalf("refused at %s with retryAfter %s", now.Sub(epoch), retry)
				}
			}
			if len(admitted) < 100 {
				t.Fatalf("only %d admitted; the test needs traffic", len(admitted))
			}
			// Every window that starts at an admission: the count from
			// admitted[i] through admitted[j] spans w = a[j] − a[i].
			for i := range admitted {
				for j := i; j < len(admitted) && j < i+4*l.Burst+200; j++ {
					w := admitted[j].Sub(admitted[i])
					count := j - i + 1
					bound := float64(l.Burst) + float64(w)/float64(interval)
					if float64(count) > bound+1e-9 {
						t.Fatalf("%d admitted in a window of %s; bound %.2f", count, w, bound)
					}
				}
			}
		})
	}
}

// TestGCRASaturation: offered far more than the rate, it admits at least
// rate·T − 1 over T (and at most burst + rate·T).
func TestGCRASaturation(t *testing.T) {
	l := Limit{Count: 20, Per: time.Minute, Burst: 5}
	g := NewGCRA(l)
	const T = 10 * time.Minute
	n := 0
	for now := epoch; now.Before(epoch.Add(T)); now = now.Add(100 * time.Millisecond) {
		if ok, _ := g.Allow(now); ok {
			n++
		}
	}
	rateT := float64(T) / float64(l.Interval())
	if float64(n) < rateT-1 || float64(n) > rateT+float64(l.Burst) {
		t.Fatalf("admitted %d over %s; want between %.0f and %.0f", n, T, rateT-1, rateT+float64(l.Burst))
	}
}

func TestGCRABurstAndRetryAfter(t *testing.T) {
	g := NewGCRA(Limit{Count: 60, Per: time.Minute, Burst: 3})
	for i := range 3 {
		if ok, _ := g.Allow(epoch); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, retry := g.Allow(epoch)
	if ok || retry != time.Second {
		t.Fatalf("4th = %v, retry %s; want refused, retry 1s", ok, retry)
	}
	if d := g.Delay(epoch.Add(400 * time.Millisecond)); d != 600*time.Millisecond {
		t.Fatalf("Delay = %s, want 600ms", d)
	}
	if ok, _ := g.Allow(epoch.Add(time.Second)); !ok {
		t.Fatal("refused after retryAfter")
	}
	if g.Idle(epoch.Add(3 * time.Second)) {
		t.Fatal("idle too early")
	}
	if !g.Idle(epoch.Add(4 * time.Second)) {
		t.Fatal("not idle once fully recovered")
	}
}

func TestGCRAReserveAndCancel(t *testing.T) {
	g := NewGCRA(Limit{Count: 1, Per: time.Second, Burst: 1})
	if w, ok := g.Reserve(epoch, 0); !ok || w != 0 {
		t.Fatalf("first reserve = %s %v", w, ok)
	}
	if w, ok := g.Reserve(epoch, 2*time.Second); !ok || w != time.Second {
		t.Fatalf("second reserve = %s %v, want 1s true", w, ok)
	}
	if w, ok := g.Reserve(epoch, 1500*time.Millisecond); ok || w != 2*time.Second {
		t.Fatalf("third reserve = %s %v, want 2s false (nothing booked)", w, ok)
	}
	g.Cancel(epoch) // give back the second slot
	if w, ok := g.Reserve(epoch, 2*time.Second); !ok || w != time.Second {
		t.Fatalf("after cancel = %s %v, want the 1s slot again", w, ok)
	}
}

func TestGCRAUnlimitedAndSetLimit(t *testing.T) {
	g := NewGCRA(Limit{})
	for range 1000 {
		if ok, _ := g.Allow(epoch); !ok {
			t.Fatal("unlimited refused")
		}
	}
	g.SetLimit(Limit{Count: 1, Per: time.Minute, Burst: 1}, epoch)
	if ok, _ := g.Allow(epoch); !ok {
		t.Fatal("first after SetLimit refused")
	}
	if ok, retry := g.Allow(epoch); ok || retry != time.Minute {
		t.Fatalf("second = %v %s", ok, retry)
	}
	// A faster rate takes effect at once; consumption is capped by it.
	g.SetLimit(Limit{Count: 60, Per: time.Minute, Burst: 1}, epoch)
	if d := g.Delay(epoch); d != time.Second {
		t.Fatalf("delay after speeding up = %s, want 1s", d)
	}
}

func TestKeyedOverridesAndEviction(t *testing.T) {
	a := bot.ChannelKey{Platform: "slack", Workspace: "T1", Channel: "A"}
	b := bot.ChannelKey{Platform: "slack", Workspace: "T1", Channel: "B"}
	k := NewKeyed(Limit{Count: 1, Per: time.Second, Burst: 1},
		map[bot.ChannelKey]Limit{b: {Count: 1, Per: time.Second, Burst: 3}}, 100)
	if ok, _ := k.Allow(a, epoch); !ok {
		t.Fatal("a refused")
	}
	if ok, _ := k.Allow(a, epoch); ok {
		t.Fatal("a's second admitted beyond burst 1")
	}
	for i := range 3 {
		if ok, _ := k.Allow(b, epoch); !ok {
			t.Fatalf("b's request %d refused under burst 3", i+1)
		}
	}
	// Many keys over time: idle ones are forgotten, so memory stays bounded.
	now := epoch
	for i := range 10_000 {
		now = now.Add(10 * time.Millisecond)
		k.Allow(bot.ChannelKey{Platform: "slack", Workspace: "T1", Channel: string(rune('a'+i%26)) + time.Duration(i).String()}, now)
	}
	if n := k.Len(); n > 200 {
		t.Fatalf("%d keys remembered; idle keys must be evicted", n)
	}
	// A hard cap holds even when every key is busy.
	hard := NewKeyed[int](Limit{Count: 1, Per: time.Hour, Burst: 1}, nil, 50)
	for i := range 1000 {
		hard.Allow(i, epoch)
	}
	if n := hard.Len(); n > 50 {
		t.Fatalf("%d keys remembered; cap 50", n)
	}
	// Reload: new limits apply to known keys, consumption kept.
	k.SetLimits(Limit{Count: 1, Per: time.Second, Burst: 5}, nil, now)
	if got := k.Limit(b).Burst; got != 5 {
		t.Fatalf("b's burst after reload = %d, want 5 (override dropped)", got)
	}
}

func BenchmarkGCRAAllow(b *testing.B) {
	g := NewGCRA(Limit{Count: 1000, Per: time.Second, Burst: 10})
	now := epoch
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Microsecond)
		g.Allow(now)
	}
}

func BenchmarkKeyedAllow(b *testing.B) {
	keys := make([]UserKey, 1000)
	for i := range keys {
		keys[i] = UserKey{Platform: "slack", Workspace: "T024BE7LD", User: "U" + time.Duration(i).String()}
	}
	k := NewKeyed[UserKey](Limit{Count: 10, Per: time.Minute, Burst: 3}, nil, 0)
	now := epoch
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Microsecond)
		k.Allow(keys[i%len(keys)], now)
		i++
	}
}
