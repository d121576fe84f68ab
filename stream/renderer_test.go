package stream

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/parley-bot/parley/bot"
)

func thread(ch string, n int) bot.ThreadKey {
	return bot.ThreadKey{Platform: bot.PlatformDiscord, Workspace: "g1", Channel: ch, Thread: fmt.Sprintf("t%d", n)}
}

func closeRenderer(t *testing.T, r *Renderer) {
	t.Helper()
	if err := r.Close(t.Context()); err != nil {
		t.Errorf("Renderer.Close: %v", err)
	}
}

func checkPlatform(t *testing.T, f *fakeOutbox) {
	t.Helper()
	rej, viol := f.stats()
	if rej != 0 {
		t.Errorf("platform refused %d requests for budget", rej)
	}
	if len(viol) > 0 {
		t.Errorf("platform violations: %q", viol)
	}
}

// discordLimits is Discord's per-channel message bucket: 5 per 5 s.
var discordLimits = bot.Limits{
	MaxMessageChars: 2000,
	Edit:            bot.Budget{Scope: bot.ScopeChannel, Every: time.Second, Burst: 5},
	Post:            bot.Budget{Scope: bot.ScopeChannel, Every: time.Second, Burst: 5},
	FirstTextBorrow: 4,
}

// Fifty replies streaming for 90 s in one Discord channel: the platform
// never refuses a request, every final text is complete, and every reply
// shows some text before its end (round robin: none starves).
func TestFiftyRepliesShareChannelBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(discordLimits)
		f.latency = 50 * time.Millisecond
		r := NewRenderer(Options{})
		const n = 50
		var wg sync.WaitGroup
		results := make([]bot.Rendered, n)
		texts := make([]string, n)
		for i := range n {
			texts[i] = words(i, 540)
			wg.Go(func() {
				time.Sleep(time.Duration(i) * 100 * time.Millisecond)
				rs := r.Open(t.Context(), f, thread("c1", i), nil)
				model(rs, texts[i], 6, time.Second)
				var err error
				results[i], err = rs.Close(t.Context(), "")
				if err != nil {
					t.Errorf("reply %d: Close: %v", i, err)
				}
			})
		}
		wg.Wait()
		closeRenderer(t, r)
		checkPlatform(t, f)
		for i := range n {
			th := thread("c1", i)
			if results[i].Text != texts[i] {
				t.Errorf("reply %d: Rendered.Text = %q, want the whole text", i, results[i].Text)
			}
			if got := f.texts(th); !slices.Equal(got, []string{texts[i]}) {
				t.Errorf("reply %d: platform shows %q", i, got)
			}
			h := f.history(results[i].MessageIDs[0])
			partial := 0
			for _, v := range h[:len(h)-1] {
				if v.text != DefaultPlaceholder {
					partial++
				}
			}
			if partial == 0 {
				t.Errorf("reply %d starved: no text before its final edit (%d versions)", i, len(h))
			}
		}
	})
}

// slackLimits are the Slack adapter's defaults: chat.update 50 a minute
// per workspace with a burst of 20 (Slack's Tier 3 is enforced per minute
// and tolerates short bursts; 20 is 40% of a minute's quota, enough for
// the final edits of 20 replies that end together), chat.postMessage
// about 1 a second per channel, and at most one edit a second per message.
var slackLimits = bot.Limits{
	MaxMessageChars: 4000,
	Edit:            bot.Budget{Scope: bot.ScopeWorkspace, Every: 1200 * time.Millisecond, Burst: 20},
	Post:            bot.Budget{Scope: bot.ScopeChannel, Every: time.Second, Burst: 3},
	MinEditInterval: time.Second,
}

// Twenty replies in one Slack workspace: each final text is visible within
// 2 s of the model's last token and Slack never refuses an edit.
func TestSlackFinalLag(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(slackLimits)
		f.latency = 150 * time.Millisecond
		var edits, waitedLong int
		var mu sync.Mutex
		r := NewRenderer(Options{OnEdit: func(p bot.Platform, wait time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			edits++
			if wait > 5*time.Second {
				waitedLong++
			}
		}})
		const n = 20
		rng := rand.New(rand.NewPCG(1, 2))
		lags := make([]time.Duration, n)
		var wg sync.WaitGroup
		for i := range n {
			th := bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T1", Channel: fmt.Sprintf("C%d", i%5), Thread: fmt.Sprintf("%d", i)}
			text := words(i, 600)
			start := time.Duration(rng.IntN(3000)) * time.Millisecond
			gap := time.Duration(25+rng.IntN(40)) * time.Millisecond // 60–160 chars/s
			wg.Go(func() {
				time.Sleep(start)
				rs := r.Open(t.Context(), f, th, nil)
				time.Sleep(400 * time.Millisecond) // time to first token
				model(rs, text, 4, gap)
				last := time.Now()
				got, err := rs.Close(t.Context(), "")
				if err != nil || got.Text != text {
					t.Errorf("reply %d: Close = %q, %v", i, got.Text, err)
				}
				at, ok := f.shownAt(th, []string{text})
				if !ok {
					t.Errorf("reply %d: final text never shown: %q", i, f.texts(th))
					return
				}
				lags[i] = at.Sub(last)
			})
		}
		wg.Wait()
		closeRenderer(t, r)
		checkPlatform(t, f)
		slices.Sort(lags)
		for i, l := range lags {
			if l > 2*time.Second {
				t.Errorf("final text %d of %d visible %v after the last token, want ≤ 2s", i+1, n, l)
			}
		}
		t.Logf("final lag over %d replies: p50 %v, p95 %v, max %v; %d edits", n, lags[n/2], lags[n*95/100], lags[n-1], edits)
	})
}

// A rate limit pauses the key until RetryAfter; the text is sent after it.
func TestRateLimitedTwice(t *testing.T) {
	for _, global := range []bool{false, true} {
		t.Run(fmt.Sprintf("global=%v", global), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake(discordLimits)
				const retry = 3 * time.Second
				f.hook = func(_ context.Context, op string, n int, _ bot.ThreadKey) error {
					if op == "edit" && n <= 2 {
						return &bot.RateLimitedError{Op: op, RetryAfter: retry, Global: global}
					}
					return nil
				}
				r := NewRenderer(Options{})
				a := r.Open(t.Context(), f, thread("c1", 1), nil)
				other := thread("c2", 2) // another channel: only a global limit pauses it
				b := r.Open(t.Context(), f, other, nil)
				time.Sleep(100 * time.Millisecond)
				a.Append("first ")
				time.Sleep(time.Second)
				a.Append("second ")
				time.Sleep(500 * time.Millisecond)
				b.Append("other")
				a.Append("third")
				got, err := a.Close(t.Context(), "")
				if err != nil || got.Text != "first second third" {
					t.Errorf("Close = %q, %v", got.Text, err)
				}
				if _, err := b.Close(t.Context(), ""); err != nil {
					t.Error(err)
				}
				closeRenderer(t, r)
				if txt := f.texts(thread("c1", 1)); !slices.Equal(txt, []string{"first second third"}) {
					t.Errorf("platform shows %q", txt)
				}
				calls := f.callsSnapshot()
				limited := 0
				for _, c := range calls {
					if _, ok := bot.AsRateLimited(c.err); !ok {
						continue
					}
					limited++
					for _, d := range calls {
						inWindow := d.at.After(c.at) && d.at.Before(c.at.Add(retry))
						sameKey := d.thread == c.thread || global
						if inWindow && sameKey {
							t.Errorf("%s at %v is inside the retry window of the rate limit at %v", d.op, d.at, c.at)
						}
					}
				}
				if limited != 2 {
					t.Errorf("%d rate-limited calls, want 2", limited)
				}
				if !global {
					// The other channel went on meanwhile.
					if txt := f.texts(other); !slices.Equal(txt, []string{"other"}) {
						t.Errorf("other channel shows %q", txt)
					}
				}
			})
		})
	}
}

// Text over MaxMessageChars continues in new messages cut like Split,
// with code fences closed and reopened; posted reports each new ID.
func TestLongTextContinues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := discordLimits
		lim.MaxMessageChars = 60
		f := newFake(lim)
		r := NewRenderer(Options{})
		var posted [][]string
		rs := r.Open(t.Context(), f, thread("c1", 1), func(ids []string) { posted = append(posted, ids) })
		text := "Here is the code you asked for, with a short note first.\n\n```go\nfunc main() {\n\tfmt.Println(\"hello, world\")\n\tfor i := range 10 {\n\t\tfmt.Println(i)\n\t}\n}\n```\nThat prints the numbers, then ends. Ask again for more."
		model(rs, text, 5, 200*time.Millisecond)
		got, err := rs.Close(t.Context(), "⚠ cut short")
		if err != nil {
			t.Fatal(err)
		}
		closeRenderer(t, r)
		checkPlatform(t, f)
		want := text + "\n⚠ cut short"
		if got.Text != want {
			t.Errorf("Rendered.Text = %q", got.Text)
		}
		parts := Split(want, lim.MaxMessageChars)
		if msgs := f.texts(thread("c1", 1)); !slices.Equal(msgs, parts) {
			t.Errorf("messages:\n%q\nwant Split:\n%q", msgs, parts)
		}
		for i, p := range parts {
			if i < len(parts)-1 && !balanced(p) {
				t.Errorf("message %d has an open fence: %q", i, p)
			}
		}
		if len(parts) < 4 || len(posted) != len(parts) || !slices.Equal(posted[len(posted)-1], got.MessageIDs) {
			t.Errorf("%d parts, posted calls %q, ids %q", len(parts), posted, got.MessageIDs)
		}
		for i, ids := range posted {
			if len(ids) != i+1 {
				t.Errorf("posted call %d had %d ids", i, len(ids))
			}
		}
	})
}

// A slow model shows the placeholder first; a fast one gets its first
// text out with the post itself.
func TestPlaceholderThenText(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := discordLimits
		lim.Post = bot.Budget{Scope: bot.ScopeChannel, Every: time.Second, Burst: 1}
		f := newFake(lim)
		r := NewRenderer(Options{})
		slow := r.Open(t.Context(), f, thread("c1", 1), nil)
		synctest.Wait()                                      // slow has posted and spent the post budget
		fast := r.Open(t.Context(), f, thread("c1", 2), nil) // its post must wait 1 s
		time.Sleep(100 * time.Millisecond)
		fast.Append("quick answer")
		time.Sleep(3 * time.Second)
		slow.Append("slow answer")
		for _, rs := range []bot.ReplyStream{slow, fast} {
			if _, err := rs.Close(t.Context(), ""); err != nil {
				t.Fatal(err)
			}
		}
		closeRenderer(t, r)
		checkPlatform(t, f)
		hs := f.history("m1")
		if len(hs) != 2 || hs[0].text != DefaultPlaceholder || hs[1].text != "slow answer" {
			t.Errorf("slow reply versions %+v, want placeholder then text", hs)
		}
		hf := f.history("m2")
		if len(hf) != 1 || hf[0].text != "quick answer" {
			t.Errorf("fast reply versions %+v, want the text in the post", hf)
		}
	})
}

func TestStatusReplacesPlaceholder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(discordLimits)
		r := NewRenderer(Options{Placeholder: "thinking…"})
		rs := r.Open(t.Context(), f, thread("c1", 1), nil)
		time.Sleep(time.Second)
		rs.SetStatus("queued — 2 ahead of you")
		time.Sleep(time.Second)
		rs.Append("answer")
		if _, err := rs.Close(t.Context(), ""); err != nil {
			t.Fatal(err)
		}
		closeRenderer(t, r)
		var got []string
		for _, v := range f.history("m1") {
			got = append(got, v.text)
		}
		if want := []string{"thinking…", "queued — 2 ahead of you", "answer"}; !slices.Equal(got, want) {
			t.Errorf("versions %q, want %q", got, want)
		}
	})
}

func TestTypingUntilFirstText(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &typingOutbox{fakeOutbox: newFake(discordLimits)}
		r := NewRenderer(Options{})
		t0 := time.Now()
		rs := r.Open(t.Context(), f, thread("c1", 1), nil)
		time.Sleep(30 * time.Second)
		rs.Append("finally")
		time.Sleep(time.Minute)
		if _, err := rs.Close(t.Context(), ""); err != nil {
			t.Fatal(err)
		}
		closeRenderer(t, r)
		var at []time.Duration
		for _, x := range f.typed {
			at = append(at, x.Sub(t0))
		}
		if want := []time.Duration{0, 8 * time.Second, 16 * time.Second, 24 * time.Second}; !slices.Equal(at, want) {
			t.Errorf("typing at %v, want %v", at, want)
		}
	})
}

func TestCloseNotice(t *testing.T) {
	const notice = "⚠ reply interrupted: upstream timed out"
	for _, tc := range []struct{ text, notice, want string }{
		{"partial answer  \n", notice, "partial answer\n" + notice},
		{"", notice, notice},
		{"", "", NoAnswer},
		{" \n", "", NoAnswer},
		{"full answer", "", "full answer"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake(discordLimits)
				r := NewRenderer(Options{})
				rs := r.Open(t.Context(), f, thread("c1", 1), nil)
				rs.Append(tc.text)
				time.Sleep(2 * time.Second)
				got, err := rs.Close(t.Context(), tc.notice)
				if err != nil || got.Text != tc.want || !slices.Equal(got.MessageIDs, []string{"m1"}) {
					t.Errorf("Close = %+v, %v; want %q", got, err, tc.want)
				}
				closeRenderer(t, r)
				checkPlatform(t, f)
				if msgs := f.texts(thread("c1", 1)); !slices.Equal(msgs, []string{tc.want}) {
					t.Errorf("platform shows %q", msgs)
				}
			})
		})
	}
}

// A Close whose ctx ends first returns what is visible and ctx's error.
func TestCloseContextCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(discordLimits)
		f.hook = func(ctx context.Context, op string, _ int, _ bot.ThreadKey) error {
			if op == "edit" {
				<-ctx.Done() // the platform hangs
				return ctx.Err()
			}
			return nil
		}
		r := NewRenderer(Options{})
		rs := r.Open(t.Context(), f, thread("c1", 1), nil)
		time.Sleep(time.Second)
		rs.Append("never shown")
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		got, err := rs.Close(ctx, "")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close error = %v, want deadline exceeded", err)
		}
		if got.Text != "" || !slices.Equal(got.MessageIDs, []string{"m1"}) {
			t.Errorf("Close = %+v, want only the placeholder's message", got)
		}
		closeRenderer(t, r)
	})
}

func TestEditErrorsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(discordLimits)
		f.hook = func(_ context.Context, op string, n int, _ bot.ThreadKey) error {
			if op == "edit" && n <= 2 {
				return errors.New("502 bad gateway")
			}
			return nil
		}
		r := NewRenderer(Options{})
		rs := r.Open(t.Context(), f, thread("c1", 1), nil)
		time.Sleep(time.Second)
		rs.Append("text")
		got, err := rs.Close(t.Context(), "")
		if err != nil || got.Text != "text" {
			t.Errorf("Close = %q, %v", got.Text, err)
		}
		closeRenderer(t, r)
	})
}

func TestEditErrorsGiveUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(discordLimits)
		f.hook = func(_ context.Context, op string, n int, _ bot.ThreadKey) error {
			if op == "edit" && n > 1 {
				return errors.New("502 bad gateway")
			}
			return nil
		}
		r := NewRenderer(Options{})
		rs := r.Open(t.Context(), f, thread("c1", 1), nil)
		time.Sleep(time.Second)
		rs.Append("shown")
		time.Sleep(time.Second)
		rs.Append(" and lost")
		got, err := rs.Close(t.Context(), "")
		if err == nil || !strings.Contains(err.Error(), "502") {
			t.Errorf("Close error = %v, want the edit error", err)
		}
		if got.Text != "shown" {
			t.Errorf("Close text = %q, want the visible %q", got.Text, "shown")
		}
		closeRenderer(t, r)
	})
}

// Renderer.Close waits for open replies and abandons them when its ctx ends.
func TestRendererCloseAbandons(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(discordLimits)
		r := NewRenderer(Options{})
		rs := r.Open(t.Context(), f, thread("c1", 1), nil)
		rs.Append("never closed")
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		if err := r.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close = %v, want deadline exceeded", err)
		}
		late := r.Open(t.Context(), f, thread("c1", 2), nil)
		if _, err := late.Close(t.Context(), ""); !errors.Is(err, ErrClosed) {
			t.Errorf("reply after Close: %v, want ErrClosed", err)
		}
	})
}

// The scheduler serves finals first, then round robin, and keeps a
// reserve for the finals of active replies.
func TestBucketOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		p := &platformState{}
		b := newBucket(bucketKey{op: opEdit, key: "k"}, bot.Budget{Every: time.Second, Burst: 3}, p, now)
		b.active = 3
		mk := func(final bool, last time.Duration, seq uint64) *waiter {
			w := &waiter{final: final, lastUsed: now.Add(last), seq: seq, queued: true, signal: make(chan struct{}, 1)}
			b.waiters = append(b.waiters, w)
			return w
		}
		older := mk(false, -5*time.Second, 1)
		newer := mk(false, -1*time.Second, 2)
		fin := mk(true, 0, 3)
		b.dispatch(now)
		// 3 tokens: the final goes first; an intermediate must leave a
		// reserve of min(active, Burst-1) = 2 tokens, so none goes yet.
		if !fin.granted || older.granted || newer.granted {
			t.Fatalf("granted final=%v older=%v newer=%v", fin.granted, older.granted, newer.granted)
		}
		if at := b.wakeAt(now); !at.Equal(now.Add(time.Second)) {
			t.Errorf("next grant in %v, want 1s (bucket full again)", at.Sub(now))
		}
		b.active = 1 // two replies ended: the reserve is 1 token
		b.dispatch(now)
		if !older.granted || newer.granted {
			t.Fatalf("after the reserve shrank: older=%v newer=%v, want the least recently edited first", older.granted, newer.granted)
		}
		b.dispatch(now.Add(time.Second))
		if !newer.granted {
			t.Error("second intermediate not granted once a token came back")
		}
	})
}

// A first text goes after finals and before progress edits, and spends
// only what the bucket keeps beyond its borrowing allowance.
func TestBucketFirstText(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		b := newBucket(bucketKey{op: opEdit, key: "k"}, bot.Budget{Every: time.Second, Burst: 5}, &platformState{}, now)
		b.active = 4
		b.base = now.Add(-2 * time.Second) // 2 tokens
		mk := func(final, first bool, seq uint64) *waiter {
			w := &waiter{final: final, first: first, lastUsed: now.Add(-time.Hour), seq: seq, queued: true, signal: make(chan struct{}, 1)}
			b.waiters = append(b.waiters, w)
			return w
		}
		progress := mk(false, false, 1)
		first := mk(false, true, 2)
		b.dispatch(now)
		// No borrowing: a first text keeps the reserve of 4 like any edit.
		if first.granted || progress.granted {
			t.Fatalf("without borrowing: first=%v progress=%v, want neither", first.granted, progress.granted)
		}
		b.borrow = 3 // the first text now needs 1 + (4-3) = 2 tokens
		b.dispatch(now)
		if !first.granted || progress.granted {
			t.Fatalf("borrowing 3: first=%v progress=%v, want only the first text", first.granted, progress.granted)
		}
		fin := mk(true, false, 3)
		second := mk(false, true, 4)
		b.dispatch(now.Add(time.Second)) // 1 token: the final before the first text
		if !fin.granted || second.granted {
			t.Fatalf("final=%v first=%v, want the final first", fin.granted, second.granted)
		}
	})
}

// The same Slack scenario with a naive bot that edits every reply once a
// second and waits out each rate limit: it spends the workspace budget
// early, so its final texts come late. This shows the scenario is hard,
// i.e. that TestSlackFinalLag can fail.
func TestSlackNaiveBaseline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(slackLimits)
		f.latency = 150 * time.Millisecond
		const n = 20
		rng := rand.New(rand.NewPCG(1, 2))
		lags := make([]time.Duration, n)
		var wg sync.WaitGroup
		for i := range n {
			th := bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T1", Channel: fmt.Sprintf("C%d", i%5), Thread: fmt.Sprintf("%d", i)}
			text := words(i, 600)
			start := time.Duration(rng.IntN(3000)) * time.Millisecond
			gap := time.Duration(25+rng.IntN(40)) * time.Millisecond
			wg.Go(func() {
				time.Sleep(start)
				id, err := f.Post(t.Context(), th, DefaultPlaceholder)
				for err != nil {
					rl, _ := bot.AsRateLimited(err)
					time.Sleep(rl.RetryAfter)
					id, err = f.Post(t.Context(), th, DefaultPlaceholder)
				}
				var mu sync.Mutex
				var got strings.Builder
				edit := func() {
					mu.Lock()
					s := got.String()
					mu.Unlock()
					for err := f.Edit(t.Context(), th, id, s); err != nil; err = f.Edit(t.Context(), th, id, s) {
						rl, _ := bot.AsRateLimited(err)
						time.Sleep(rl.RetryAfter)
					}
				}
				done := make(chan struct{})
				go func() {
					time.Sleep(400 * time.Millisecond)
					for j := 0; j < len(text); j += 4 {
						time.Sleep(gap)
						mu.Lock()
						got.WriteString(text[j:min(j+4, len(text))])
						mu.Unlock()
					}
					close(done)
				}()
				for {
					select {
					case <-done:
						last := time.Now()
						edit()
						at, _ := f.shownAt(th, []string{text})
						lags[i] = at.Sub(last)
						return
					case <-time.After(time.Second):
						edit()
					}
				}
			})
		}
		wg.Wait()
		slices.Sort(lags)
		rej, _ := f.stats()
		t.Logf("naive final lag: p50 %v, p95 %v, max %v; %d requests refused", lags[n/2], lags[n*95/100], lags[n-1], rej)
		if lags[n*95/100] < 10*time.Second {
			t.Errorf("naive p95 lag %v: the scenario does not stress the budget", lags[n*95/100])
		}
	})
}

// Five replies sharing one Discord channel's bucket (5 edits / 5 s), the
// later ones starting while the earlier ones stream: each reply's first
// text is visible within 1 s of the model's first token, because a reply
// that has shown nothing yet goes before progress edits of the others.
func TestFirstTextPromptWithFiveReplies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := discordLimits
		lim.MinEditInterval = time.Second // as the Discord adapter declares
		f := newFake(lim)
		f.latency = 100 * time.Millisecond
		r := NewRenderer(Options{})
		const n = 5
		lags := make([]time.Duration, n)
		var wg sync.WaitGroup
		for i := range n {
			th := thread("c1", i)
			text := words(i, 900)
			wg.Go(func() {
				time.Sleep(time.Duration(i) * 700 * time.Millisecond)
				rs := r.Open(t.Context(), f, th, nil)
				time.Sleep(300 * time.Millisecond) // time to first token
				firstToken := time.Now()
				model(rs, text, 6, 40*time.Millisecond)
				res, err := rs.Close(t.Context(), "")
				if err != nil || res.Text != text {
					t.Errorf("reply %d: Close = %q, %v", i, res.Text, err)
					return
				}
				for _, v := range f.history(res.MessageIDs[0]) {
					if v.text != DefaultPlaceholder {
						lags[i] = v.at.Sub(firstToken)
						return
					}
				}
				t.Errorf("reply %d never showed text", i)
			})
		}
		wg.Wait()
		closeRenderer(t, r)
		checkPlatform(t, f)
		for i, l := range lags {
			if l > time.Second {
				t.Errorf("reply %d: first text visible %v after the first token, want ≤ 1s", i, l)
			}
		}
		t.Logf("first-text lag: %v", lags)
	})
}
