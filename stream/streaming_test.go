package stream

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/parley-bot/parley/bot"
)

func slackThread(ws, ch string, n int) bot.ThreadKey {
	return bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: ws, Channel: ch, Thread: strings.Repeat("1", n) + ".0001"}
}

var ana = bot.Recipient{UserID: "U1", TeamID: "T1"}

// checkGrowing fails unless every version of the message extends the one
// before (a stream never takes text back).
func checkGrowing(t *testing.T, f *streamOutbox, id string) []fakeVersion {
	t.Helper()
	h := f.history(id)
	for i := 1; i < len(h); i++ {
		if !strings.HasPrefix(h[i].text, h[i-1].text) {
			t.Errorf("%s version %d %q does not extend %q", id, i, h[i].text, h[i-1].text)
		}
	}
	return h
}

// A reply streams: one start with the recipient from ctx, appends that
// each carry all text since the one before, one stop; no post, no edit.
func TestStreamStartAppendStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newStreamFake(slackLimits)
		r := NewRenderer(Options{})
		th := slackThread("T1", "C1", 1)
		var posted [][]string
		rs := r.Open(bot.WithRecipient(t.Context(), ana), f, th, func(ids []string) { posted = append(posted, ids) })
		text := words(1, 400)
		model(rs, text, 7, 100*time.Millisecond) // about 6 s of model output
		got, err := rs.Close(t.Context(), "")
		if err != nil || got.Text != text || !slices.Equal(got.MessageIDs, []string{"m1"}) {
			t.Fatalf("Close = %+v, %v", got, err)
		}
		closeRenderer(t, r)
		checkPlatform(t, f.fakeOutbox)
		ops := f.ops()
		if ops["start"] != 1 || ops["stop"] != 1 || ops["append"] < 2 || ops["post"] != 0 || ops["edit"] != 0 {
			t.Errorf("ops %v: want 1 start, at least 2 appends, 1 stop, no post or edit", ops)
		}
		// MinEditInterval 1 s over ~6 s: appends are coalesced.
		if ops["append"] > 8 {
			t.Errorf("%d appends: not coalesced", ops["append"])
		}
		h := checkGrowing(t, f, "m1")
		if h[len(h)-1].text != text || f.anyStreaming() {
			t.Errorf("final %q, still streaming %v", h[len(h)-1].text, f.anyStreaming())
		}
		if !slices.Equal(f.recipients, []bot.Recipient{ana}) {
			t.Errorf("recipients %v", f.recipients)
		}
		if len(posted) != 1 || !slices.Equal(posted[0], []string{"m1"}) {
			t.Errorf("posted %q", posted)
		}
	})
}

// Twenty replies stream at once in one workspace: appends share the edit
// budget (the platform refuses nothing) and every answer is complete.
func TestStreamSharesWorkspaceBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newStreamFake(slackLimits)
		r := NewRenderer(Options{})
		const n = 20
		texts := make([]string, n)
		streams := make([]bot.ReplyStream, n)
		for i := range n {
			texts[i] = words(i, 300)
			streams[i] = r.Open(bot.WithRecipient(t.Context(), ana), f, slackThread("T1", "C"+string(rune('A'+i)), i+1), nil)
		}
		done := make(chan struct{})
		for i := range n {
			go func() {
				defer func() { done <- struct{}{} }()
				model(streams[i], texts[i], 5, 150*time.Millisecond)
			}()
		}
		for range n {
			<-done
		}
		lastChunk := time.Now()
		for i, rs := range streams {
			got, err := rs.Close(t.Context(), "")
			if err != nil || got.Text != texts[i] {
				t.Errorf("reply %d: %q, %v", i, got.Text, err)
			}
		}
		if lag := time.Since(lastChunk); lag > 2*time.Second {
			t.Errorf("final texts visible %v after the last chunk", lag)
		}
		closeRenderer(t, r)
		checkPlatform(t, f.fakeOutbox)
		for i := range n {
			if got := f.texts(slackThread("T1", "C"+string(rune('A'+i)), i+1)); !slices.Equal(got, []string{texts[i]}) {
				t.Errorf("reply %d shows %q", i, got)
			}
		}
	})
}

// The workspace refuses streaming at start: the reply is posted and
// edited, later replies in the workspace do not try again, and another
// workspace still streams.
func TestStreamUnsupportedAtStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newStreamFake(slackLimits)
		f.hook = func(_ context.Context, op string, _ int, th bot.ThreadKey) error {
			if op == "start" && th.Workspace == "T1" {
				return &bot.StreamUnsupportedError{Op: "chat.startStream", Reason: "unknown_method", Scope: bot.ScopeWorkspace}
			}
			return nil
		}
		r := NewRenderer(Options{})
		ctx := bot.WithRecipient(t.Context(), ana)
		a := r.Open(ctx, f, slackThread("T1", "C1", 1), nil)
		model(a, "first answer, edited", 4, 300*time.Millisecond)
		if got, err := a.Close(t.Context(), ""); err != nil || got.Text != "first answer, edited" {
			t.Fatalf("Close = %+v, %v", got, err)
		}
		b := r.Open(ctx, f, slackThread("T1", "C2", 2), nil)
		c := r.Open(ctx, f, slackThread("T2", "C3", 3), nil)
		model(b, "second answer", 4, 300*time.Millisecond)
		model(c, "other workspace", 4, 300*time.Millisecond)
		for _, rs := range []bot.ReplyStream{b, c} {
			if _, err := rs.Close(t.Context(), ""); err != nil {
				t.Fatal(err)
			}
		}
		closeRenderer(t, r)
		checkPlatform(t, f.fakeOutbox)
		starts := 0
		for _, call := range f.callsSnapshot() {
			if call.op == "start" {
				starts++
				if call.thread.Channel == "C2" {
					t.Error("the second reply in the refusing workspace tried to stream")
				}
			}
		}
		if starts != 2 { // the refused one, and the other workspace's
			t.Errorf("%d start calls, want 2", starts)
		}
		if got := f.texts(slackThread("T1", "C1", 1)); !slices.Equal(got, []string{"first answer, edited"}) {
			t.Errorf("first reply shows %q", got)
		}
		if got := f.texts(slackThread("T1", "C2", 2)); !slices.Equal(got, []string{"second answer"}) {
			t.Errorf("second reply shows %q", got)
		}
		if h := f.history("m1"); len(h) < 2 {
			t.Errorf("first reply versions %+v: want a post and edits", h)
		}
		if got := f.texts(slackThread("T2", "C3", 3)); !slices.Equal(got, []string{"other workspace"}) {
			t.Errorf("other workspace shows %q", got)
		}
	})
}

// A refusal for this reply only (OnlyThisReply) is not remembered.
func TestStreamUnsupportedOnlyThisReply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newStreamFake(slackLimits)
		f.hook = func(_ context.Context, op string, n int, _ bot.ThreadKey) error {
			if op == "start" && n == 1 {
				return &bot.StreamUnsupportedError{Op: "chat.startStream", Reason: "no thread", OnlyThisReply: true}
			}
			return nil
		}
		r := NewRenderer(Options{})
		for i := range 2 {
			rs := r.Open(t.Context(), f, slackThread("T1", "C1", i+1), nil)
			model(rs, "answer", 3, 200*time.Millisecond)
			if got, err := rs.Close(t.Context(), ""); err != nil || got.Text != "answer" {
				t.Fatalf("reply %d: %+v, %v", i, got, err)
			}
		}
		closeRenderer(t, r)
		checkPlatform(t, f.fakeOutbox)
		if ops := f.ops(); ops["start"] != 1 || ops["post"] != 1 {
			t.Errorf("ops %v: want the second reply streamed", ops)
		}
	})
}

// Streaming refused at the first append: the stream is stopped and the
// same message is edited to the complete text; the refusal is remembered.
func TestStreamUnsupportedAtFirstAppend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newStreamFake(slackLimits)
		f.hook = func(_ context.Context, op string, _ int, _ bot.ThreadKey) error {
			if op == "append" {
				return bot.ErrStreamUnsupported
			}
			return nil
		}
		r := NewRenderer(Options{})
		th := slackThread("T1", "C1", 1)
		rs := r.Open(t.Context(), f, th, nil)
		text := words(2, 200)
		model(rs, text, 10, 100*time.Millisecond)
		got, err := rs.Close(t.Context(), "")
		if err != nil || got.Text != text || !slices.Equal(got.MessageIDs, []string{"m1"}) {
			t.Fatalf("Close = %+v, %v", got, err)
		}
		next := r.Open(t.Context(), f, slackThread("T1", "C9", 2), nil)
		next.Append("later")
		if _, err := next.Close(t.Context(), ""); err != nil {
			t.Fatal(err)
		}
		closeRenderer(t, r)
		checkPlatform(t, f.fakeOutbox)
		if msgs := f.texts(th); !slices.Equal(msgs, []string{text}) {
			t.Errorf("platform shows %q", msgs)
		}
		ops := f.ops()
		if ops["start"] != 1 || ops["stop"] != 1 || ops["edit"] < 1 || ops["post"] != 1 {
			t.Errorf("ops %v: want a start, a stop, edits, and the next reply posted", ops)
		}
	})
}

// Any other failed stream call (the stream expired, a network error after
// the platform applied it) also goes on by edits, which rewrite the whole
// text; it is not remembered.
func TestStreamFailureFallsBackToEdits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newStreamFake(slackLimits)
		f.hook = func(_ context.Context, op string, n int, _ bot.ThreadKey) error {
			if op == "append" && n == 2 {
				return errors.New("message_not_in_streaming_state")
			}
			return nil
		}
		r := NewRenderer(Options{})
		rs := r.Open(t.Context(), f, slackThread("T1", "C1", 1), nil)
		text := words(3, 300)
		model(rs, text, 10, 100*time.Millisecond)
		if got, err := rs.Close(t.Context(), ""); err != nil || got.Text != text {
			t.Fatalf("Close = %+v, %v", got, err)
		}
		again := r.Open(t.Context(), f, slackThread("T1", "C1", 2), nil)
		model(again, "streams again", 5, 100*time.Millisecond)
		if _, err := again.Close(t.Context(), ""); err != nil {
			t.Fatal(err)
		}
		closeRenderer(t, r)
		checkPlatform(t, f.fakeOutbox)
		if msgs := f.texts(slackThread("T1", "C1", 1)); !slices.Equal(msgs, []string{text}) {
			t.Errorf("platform shows %q", msgs)
		}
		if ops := f.ops(); ops["start"] != 2 || ops["edit"] < 1 {
			t.Errorf("ops %v: want edits after the failure and a second stream", ops)
		}
	})
}

// An answer longer than a message: each stream stops at a cut after the
// text it streamed, and the rest continues in new streams; messages fit,
// fences are balanced, and no text is lost.
func TestStreamLongAnswerContinues(t *testing.T) {
	for _, tc := range []struct {
		name, text string
	}{
		{"prose", words(4, 700)},
		{"code", "Here is the code you asked for, with a short note first.\n\n```go\nfunc main() {\n\tfmt.Println(\"hello, world\")\n\tfor i := range 10 {\n\t\tfmt.Println(i)\n\t}\n}\n```\nThat prints the numbers, then ends. Ask again for more."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				lim := slackLimits
				lim.MaxMessageChars = 60
				f := newStreamFake(lim)
				r := NewRenderer(Options{})
				th := slackThread("T1", "C1", 1)
				var posted [][]string
				rs := r.Open(t.Context(), f, th, func(ids []string) { posted = append(posted, ids) })
				model(rs, tc.text, 4, 150*time.Millisecond)
				got, err := rs.Close(t.Context(), "⚠ cut short")
				if err != nil {
					t.Fatal(err)
				}
				closeRenderer(t, r)
				checkPlatform(t, f.fakeOutbox)
				want := tc.text + "\n⚠ cut short"
				if got.Text != want {
					t.Errorf("Rendered.Text = %q", got.Text)
				}
				msgs := f.texts(th)
				if len(msgs) < 3 || len(posted) != len(msgs) || !slices.Equal(posted[len(posted)-1], got.MessageIDs) {
					t.Fatalf("%d messages %q, posted %q, ids %q", len(msgs), msgs, posted, got.MessageIDs)
				}
				for i, m := range msgs {
					if runes(m) > lim.MaxMessageChars {
						t.Errorf("message %d has %d runes", i, runes(m))
					}
					if !balanced(m) {
						t.Errorf("message %d has an open fence: %q", i, m)
					}
					checkGrowing(t, f, got.MessageIDs[i])
				}
				if !strings.Contains(tc.text, "```") {
					if joined := strings.Join(msgs, ""); joined != want {
						t.Errorf("messages join to %q", joined)
					}
				} else if joined := strings.Join(msgs, ""); !strings.Contains(joined, "fmt.Println(i)") || !strings.HasSuffix(joined, "Ask again for more.\n⚠ cut short") {
					t.Errorf("messages join to %q", joined)
				}
				if f.anyStreaming() {
					t.Error("a stream was left open")
				}
			})
		})
	}
}

// Appends answered with a rate limit wait out the window, and the next
// append carries everything since the last one.
func TestStreamAppendRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newStreamFake(slackLimits)
		const retry = 3 * time.Second
		f.hook = func(_ context.Context, op string, n int, _ bot.ThreadKey) error {
			if op == "append" && n <= 2 {
				return &bot.RateLimitedError{Op: op, RetryAfter: retry}
			}
			return nil
		}
		r := NewRenderer(Options{})
		th := slackThread("T1", "C1", 1)
		rs := r.Open(t.Context(), f, th, nil)
		text := words(5, 500)
		model(rs, text, 10, 200*time.Millisecond)
		got, err := rs.Close(t.Context(), "")
		if err != nil || got.Text != text {
			t.Fatalf("Close = %+v, %v", got, err)
		}
		closeRenderer(t, r)
		if msgs := f.texts(th); !slices.Equal(msgs, []string{text}) {
			t.Errorf("platform shows %q", msgs)
		}
		checkGrowing(t, f, "m1")
		calls := f.callsSnapshot()
		limited := 0
		for _, c := range calls {
			if _, ok := bot.AsRateLimited(c.err); !ok {
				continue
			}
			limited++
			for _, d := range calls {
				if d.op != "start" && d.at.After(c.at) && d.at.Before(c.at.Add(retry)) {
					t.Errorf("%s at %v inside the retry window of %v", d.op, d.at, c.at)
				}
			}
		}
		if limited != 2 {
			t.Errorf("%d rate-limited calls, want 2", limited)
		}
		if ops := f.ops(); ops["edit"] != 0 || ops["post"] != 0 {
			t.Errorf("ops %v: a rate limit is not a reason to stop streaming", ops)
		}
	})
}

// Close with a notice: the notice ends the stream; a reply without text
// is posted whole (no stream for a final message).
func TestStreamCloseNotice(t *testing.T) {
	const notice = "⚠ reply interrupted: upstream timed out"
	for _, tc := range []struct{ text, notice, want string }{
		{"partial answer  \n", notice, "partial answer\n" + notice},
		{"full answer\n\n", "", "full answer"},
		{"", notice, notice},
		{"", "", NoAnswer},
	} {
		t.Run(tc.want, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newStreamFake(slackLimits)
				r := NewRenderer(Options{})
				th := slackThread("T1", "C1", 1)
				rs := r.Open(t.Context(), f, th, nil)
				rs.Append(tc.text)
				time.Sleep(2 * time.Second)
				got, err := rs.Close(t.Context(), tc.notice)
				if err != nil || got.Text != tc.want || !slices.Equal(got.MessageIDs, []string{"m1"}) {
					t.Errorf("Close = %+v, %v; want %q", got, err, tc.want)
				}
				closeRenderer(t, r)
				checkPlatform(t, f.fakeOutbox)
				if msgs := f.texts(th); !slices.Equal(msgs, []string{tc.want}) {
					t.Errorf("platform shows %q", msgs)
				}
				checkGrowing(t, f, "m1")
				ops := f.ops()
				if strings.TrimSpace(tc.text) != "" && (ops["start"] != 1 || ops["stop"] != 1) {
					t.Errorf("ops %v: want a stream", ops)
				}
				if strings.TrimSpace(tc.text) == "" && (ops["start"] != 0 || ops["post"] != 1) {
					t.Errorf("ops %v: want one post", ops)
				}
			})
		})
	}
}

// A status before the first token needs a placeholder that the answer
// replaces: that reply is posted and edited; the next one streams.
func TestStreamStatusUsesEdits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newStreamFake(slackLimits)
		r := NewRenderer(Options{})
		rs := r.Open(t.Context(), f, slackThread("T1", "C1", 1), nil)
		rs.SetStatus("queued — 2 ahead of you")
		time.Sleep(2 * time.Second)
		rs.Append("the answer")
		if _, err := rs.Close(t.Context(), ""); err != nil {
			t.Fatal(err)
		}
		next := r.Open(t.Context(), f, slackThread("T1", "C1", 2), nil)
		model(next, "streamed", 4, 100*time.Millisecond)
		if _, err := next.Close(t.Context(), ""); err != nil {
			t.Fatal(err)
		}
		closeRenderer(t, r)
		checkPlatform(t, f.fakeOutbox)
		h := f.history("m1")
		if len(h) != 2 || h[0].text != "queued — 2 ahead of you" || h[1].text != "the answer" {
			t.Errorf("versions %+v, want the status then the answer", h)
		}
		if ops := f.ops(); ops["start"] != 1 {
			t.Errorf("ops %v: the next reply should stream", ops)
		}
	})
}

// A Close whose ctx ends while the stream waits for budget abandons the
// reply with what is visible.
func TestStreamCloseContextCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newStreamFake(slackLimits)
		f.latency = 10 * time.Second
		r := NewRenderer(Options{})
		rs := r.Open(t.Context(), f, slackThread("T1", "C1", 1), nil)
		rs.Append("slow platform")
		time.Sleep(time.Second)
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		_, err := rs.Close(ctx, "")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close error %v, want deadline exceeded", err)
		}
		closeRenderer(t, r)
	})
}

// A thread the Streamer says cannot stream is posted and edited, with the
// placeholder at once, and nothing is remembered.
func TestStreamCanStreamFalse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newStreamFake(slackLimits)
		r := NewRenderer(Options{})
		th := bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T1", Channel: "D1", Thread: "nostream"}
		rs := r.Open(t.Context(), f, th, nil)
		synctest.Wait()
		if got := f.texts(th); !slices.Equal(got, []string{DefaultPlaceholder}) {
			t.Errorf("at once the platform shows %q, want the placeholder", got)
		}
		time.Sleep(time.Second)
		rs.Append("answer")
		if _, err := rs.Close(t.Context(), ""); err != nil {
			t.Fatal(err)
		}
		other := r.Open(t.Context(), f, slackThread("T1", "C1", 1), nil)
		other.Append("streamed")
		if _, err := other.Close(t.Context(), ""); err != nil {
			t.Fatal(err)
		}
		closeRenderer(t, r)
		checkPlatform(t, f.fakeOutbox)
		if ops := f.ops(); ops["post"] != 2 || ops["edit"] != 1 || ops["start"] != 0 {
			// "streamed" is final by the time it is shown: one post.
			t.Errorf("ops %v", ops)
		}
	})
}
