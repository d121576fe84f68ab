package limits

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/parley-bot/parley/bot"
)

type outcome struct {
	channel  string
	arrived  time.Time
	granted  time.Time
	err      error
	statuses []string
}

// 1,000 requests across 10 channels at once: no channel goes over its
// limit, waiters see their queue position move, and requests that would
// wait past max wait (or find the queue full) get the busy reply.
func TestGateManyChannels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := openStore(t, tempDB(t))
		defer closeStore(t, store)
		lim := Limit{Count: 60, Per: time.Minute, Burst: 5}
		fast := bot.ChannelKey{Platform: bot.PlatformSlack, Workspace: "T1", Channel: "C9"}
		fastLim := Limit{Count: 120, Per: time.Minute, Burst: 5}
		g, err := NewGate(ctx, store.DB(), Options{
			Channel: lim, QueueSize: 50, MaxWait: 30 * time.Second,
			Channels: map[bot.ChannelKey]Limit{fast: {Count: 120, Per: time.Minute}},
		})
		if err != nil {
			t.Fatal(err)
		}
		var (
			mu  sync.Mutex
			out []outcome
			wg  sync.WaitGroup
		)
		start := time.Now()
		for i := range 1000 {
			wg.Go(func() {
				ch := fmt.Sprintf("C%d", i%10)
				o := outcome{channel: ch, arrived: time.Now()}
				var smu sync.Mutex
				_, o.err = g.Admit(ctx, msg(ch, fmt.Sprintf("U%d", i)), "m", 10, 10, func(s string) {
					smu.Lock()
					o.statuses = append(o.statuses, s)
					smu.Unlock()
				})
				o.granted = time.Now()
				mu.Lock()
				out = append(out, o)
				mu.Unlock()
			})
		}
		wg.Wait()

		perChannel := map[string][]time.Time{}
		var full, timedOut, queuedAndGranted int
		for _, o := range out {
			if o.err == nil {
				perChannel[o.channel] = append(perChannel[o.channel], o.granted)
				if o.granted.Sub(o.arrived) > 30*time.Second {
					t.Errorf("granted after %s, beyond max wait", o.granted.Sub(o.arrived))
				}
				if len(o.statuses) > 1 {
					queuedAndGranted++
				}
				continue
			}
			r := refusal(t, o.err)
			if !strings.HasPrefix(r.Notice, "I'm busy in this channel right now — please try again at ") ||
				!strings.Contains(r.Notice, "(in about ") {
				t.Errorf("busy notice = %q", r.Notice)
			}
			switch r.Reason {
			case "queue_full":
				full++
				if len(o.statuses) != 0 {
					t.Errorf("refused for a full queue but shown %q", o.statuses)
				}
			case "rate_limit":
				timedOut++
				if d := o.granted.Sub(o.arrived); d != 30*time.Second {
					t.Errorf("timed out after %s, want the 30s max wait", d)
				}
				if len(o.statuses) == 0 || !strings.HasPrefix(o.statuses[0], "queued — ") {
					t.Errorf("timed-out waiter saw no queue position: %q", o.statuses)
				}
			default:
				t.Errorf("reason %q", r.Reason)
			}
		}
		for ch, times := range perChannel {
			l := lim
			if ch == fast.Channel {
				l = fastLim
			}
			slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
			for i := range times {
				for j := i; j < len(times); j++ {
					w := times[j].Sub(times[i])
					if bound := float64(l.Burst) + float64(w)/float64(l.Interval()); float64(j-i+1) > bound+1e-9 {
						t.Fatalf("channel %s: %d admitted within %s; limit allows %.1f", ch, j-i+1, w, bound)
					}
				}
			}
			// Saturated for 30 s: burst + 30 s of rate (the slot at exactly
			// the deadline may go either way).
			want := min(l.Burst+int(30*time.Second/l.Interval()), l.Burst+50)
			if n := len(times); n < want-1 || n > want {
				t.Errorf("channel %s admitted %d; want %d or %d", ch, n, want-1, want)
			}
		}
		if full != 10*45 || timedOut == 0 || queuedAndGranted == 0 {
			t.Errorf("queue_full %d (want %d), timed out %d, queued then granted %d", full, 10*45, timedOut, queuedAndGranted)
		}
		// Positions count down as the queue moves.
		for _, o := range out {
			if o.err == nil && len(o.statuses) > 3 {
				if o.statuses[0] == o.statuses[1] || !strings.HasSuffix(o.statuses[len(o.statuses)-1], "you're next") {
					t.Errorf("statuses %q do not count down to next", o.statuses)
				}
				break
			}
		}
		if time.Since(start) != 30*time.Second {
			t.Errorf("took %s of fake time, want 30s", time.Since(start))
		}
		if n := g.QueueLen(bot.ChannelKey{Platform: bot.PlatformSlack, Workspace: "T1", Channel: "C0"}); n != 0 {
			t.Errorf("queue left with %d", n)
		}
	})
}

// The user's own rate holds even with room in the channel, and a user over
// it does not hold up others queued behind.
func TestGateUserLimitAndNoHeadOfLineBlocking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := openStore(t, tempDB(t))
		defer closeStore(t, store)
		g, err := NewGate(ctx, store.DB(), Options{
			Channel:   Limit{Count: 60, Per: time.Minute, Burst: 10},
			User:      Limit{Count: 1, Per: time.Minute, Burst: 1},
			QueueSize: 10, MaxWait: 10 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.Admit(ctx, msg("C1", "ana"), "m", 1, 1, nil); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := g.Admit(ctx, msg("C1", "ana"), "m", 1, 1, nil)
			done <- err
		}()
		synctest.Wait() // ana waits at the head of the queue
		if _, err := g.Admit(ctx, msg("C1", "ben"), "m", 1, 1, nil); err != nil {
			t.Fatalf("ben blocked behind ana: %v", err)
		}
		r := refusal(t, <-done)
		if !strings.HasPrefix(r.Notice, "You're sending requests faster than I can take them — please try again at ") ||
			!strings.Contains(r.Notice, "in about 50 s") {
			t.Fatalf("notice = %q", r.Notice)
		}
	})
}

func TestGateQueueSizeZeroCancelAndReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := openStore(t, tempDB(t))
		defer closeStore(t, store)
		one := Limit{Count: 1, Per: time.Minute, Burst: 1}
		g, err := NewGate(ctx, store.DB(), Options{Channel: one, QueueSize: 0})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.Admit(ctx, msg("C1", "a"), "m", 1, 1, nil); err != nil {
			t.Fatal(err)
		}
		_, err = g.Admit(ctx, msg("C1", "b"), "m", 1, 1, nil)
		if r := refusal(t, err); r.Reason != "rate_limit" || !strings.Contains(r.Notice, "in about 1 m") {
			t.Fatalf("no queue: %+v", r)
		}
		// A refused request gives its quota reservation and request back.
		lines, _ := g.QuotaStatus(ctx, UserTarget("slack", "T1", "b", ""))
		if lines[1].Kind.Unit != Requests || lines[1].Used != 0 || lines[0].Reserved != 0 {
			t.Fatalf("refused request still counted: %+v", lines[:2])
		}

		// Reload to a queue; a waiter whose context ends leaves it.
		if err := g.Reload(Options{Channel: one, QueueSize: 5, MaxWait: time.Hour}); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			_, err := g.Admit(cctx, msg("C1", "c"), "m", 1, 1, nil)
			done <- err
		}()
		synctest.Wait()
		if n := g.QueueLen(msg("C1", "").Key().ChannelKey()); n != 1 {
			t.Fatalf("queue length %d, want 1", n)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled waiter: %v", err)
		}
		// A reload to a faster rate lets a waiter through early.
		go func() {
			_, err := g.Admit(ctx, msg("C1", "d"), "m", 1, 1, nil)
			done <- err
		}()
		synctest.Wait()
		if err := g.Reload(Options{Channel: Limit{Count: 60, Per: time.Minute, Burst: 1}, QueueSize: 5}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("waited %s after the reload", d)
		}
	})
}
