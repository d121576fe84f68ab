package bot_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-bot/parley/bot"
)

type rig struct {
	engine *bot.Engine
	conv   *memConversations
	model  *scriptModel
	render *textRenderer
}

func newRig(t *testing.T, answer func(n int, req bot.ChatRequest, ctx context.Context, delta func(string)) (bot.Completion, error), mod func(*bot.EngineConfig)) *rig {
	t.Helper()
	r := &rig{conv: newMemConversations(), model: &scriptModel{answer: answer}, render: &textRenderer{}}
	cfg := bot.EngineConfig{
		Conversations: r.conv, Model: r.model, Renderer: r.render,
		Settings: bot.Settings{SystemPrompt: "be brief", Model: "gpt-4o-mini"},
	}
	if mod != nil {
		mod(&cfg)
	}
	e, err := bot.NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.AddOutbox(bot.PlatformConsole, nullOutbox{})
	r.engine = e
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return r
}

func msg(thread, id, text string) bot.Message {
	return bot.Message{Platform: bot.PlatformConsole, Workspace: "w", Channel: "c", Thread: thread, ID: id,
		AuthorID: "u1", AuthorName: "Ana", Text: text}
}

func (r *rig) idle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.engine.Idle(ctx); err != nil {
		t.Fatalf("engine not idle: %v", err)
	}
}

func echo(n int, req bot.ChatRequest, ctx context.Context, delta func(string)) (bot.Completion, error) {
	last := req.Messages[len(req.Messages)-1].Content
	return words(ctx, "you said: "+last, delta)
}

func TestRepliesInOrderPerThreadAndDedupe(t *testing.T) {
	var inThread atomic.Int32
	var overlap atomic.Bool
	r := newRig(t, func(n int, req bot.ChatRequest, ctx context.Context, delta func(string)) (bot.Completion, error) {
		if inThread.Add(1) > 1 {
			overlap.Store(true)
		}
		defer inThread.Add(-1)
		time.Sleep(2 * time.Millisecond) // give a concurrent reply a chance to overlap
		return echo(n, req, ctx, delta)
	}, nil)
	ctx := context.Background()
	for i, text := range []string{"one", "two", "three"} {
		if err := r.engine.HandleMessage(ctx, msg("t1", fmt.Sprint(i), text)); err != nil {
			t.Fatal(err)
		}
	}
	// A redelivery of the first message is ignored.
	if err := r.engine.HandleMessage(ctx, msg("t1", "0", "one")); err != nil {
		t.Fatal(err)
	}
	r.idle(t)
	if overlap.Load() {
		t.Error("two replies of one thread streamed at once")
	}
	got := r.conv.outcomes()
	if len(got) != 3 {
		t.Fatalf("want 3 replies, got %d: %+v", len(got), got)
	}
	for i, want := range []string{"you said: one", "you said: two", "you said: three"} {
		if got[i].Text != want || got[i].Status != bot.StatusComplete {
			t.Errorf("reply %d = %q (%s), want %q complete", i, got[i].Text, got[i].Status, want)
		}
	}
	// The third request carries the first two turns.
	reqs := r.model.requests()
	if n := len(reqs[2].Messages); n != 4 {
		t.Errorf("third request has %d messages, want system + 3 user", n)
	}
}

func TestThreadsRunInParallelWithinLimit(t *testing.T) {
	var running, peak atomic.Int32
	release := make(chan struct{})
	r := newRig(t, func(n int, req bot.ChatRequest, ctx context.Context, delta func(string)) (bot.Completion, error) {
		cur := running.Add(1)
		for {
			p := peak.Load()
			if cur <= p || peak.CompareAndSwap(p, cur) {
				break
			}
		}
		<-release
		running.Add(-1)
		return echo(n, req, ctx, delta)
	}, func(c *bot.EngineConfig) { c.MaxConcurrent = 3 })
	for i := range 8 {
		if err := r.engine.HandleMessage(context.Background(), msg(fmt.Sprint("t", i), fmt.Sprint("m", i), "hi")); err != nil {
			t.Fatal(err)
		}
	}
	for running.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	r.idle(t)
	if p := peak.Load(); p != 3 {
		t.Errorf("peak concurrency %d, want exactly the limit 3", p)
	}
	if n := len(r.conv.outcomes()); n != 8 {
		t.Errorf("%d replies, want 8", n)
	}
}

func TestUserMessageStoredBeforeModelCall(t *testing.T) {
	var r *rig
	r = newRig(t, func(n int, req bot.ChatRequest, ctx context.Context, delta func(string)) (bot.Completion, error) {
		if s := r.conv.userStatuses(); len(s) != 1 {
			t.Errorf("model called with %d stored user messages", len(s))
		}
		return echo(n, req, ctx, delta)
	}, nil)
	if err := r.engine.HandleMessage(context.Background(), msg("t", "1", "hello")); err != nil {
		t.Fatal(err)
	}
	r.idle(t)
}

func TestTooLongMessageAnsweredWithSizes(t *testing.T) {
	r := newRig(t, echo, nil)
	r.conv.tooLong = &bot.TooLongError{Tokens: 20_050, Budget: 3_000}
	if err := r.engine.HandleMessage(context.Background(), msg("t", "1", strings.Repeat("long ", 100))); err != nil {
		t.Fatal(err)
	}
	r.idle(t)
	out := r.conv.outcomes()
	if len(out) != 1 || out[0].Status != bot.StatusRefused || !strings.Contains(out[0].Text, "17050 over") {
		t.Fatalf("got %+v, want a refused reply naming 17050 tokens over", out)
	}
	if len(r.model.requests()) != 0 {
		t.Error("the model was called for a message that cannot fit")
	}
	if s := r.conv.userStatuses(); len(s) != 1 {
		t.Error("the too-long message was not stored")
	}
}

func TestContextTooLongFromServerShrinksOnce(t *testing.T) {
	r := newRig(t, func(n int, req bot.ChatRequest, ctx context.Context, delta func(string)) (bot.Completion, error) {
		return bot.Completion{}, &bot.ModelError{Class: bot.ModelContextTooLong, StatusCode: 400, Code: "context_length_exceeded"}
	}, nil)
	if err := r.engine.HandleMessage(context.Background(), msg("t", "1", "hi")); err != nil {
		t.Fatal(err)
	}
	r.idle(t)
	if n := len(r.model.requests()); n != 2 {
		t.Errorf("model called %d times, want the original and one shrunk retry", n)
	}
	if p := r.conv.prompts; len(p) != 2 || p[0].Shrink || !p[1].Shrink {
		t.Errorf("prompts %+v, want full then shrunk", p)
	}
	if out := r.conv.outcomes(); out[0].Status != bot.StatusFailed {
		t.Errorf("status %s, want failed", out[0].Status)
	}
}

func TestModelFailuresEndVisibly(t *testing.T) {
	cases := []struct {
		name       string
		text       string
		err        error
		wantStatus bot.Status
		wantText   string
	}{
		{"mid-stream timeout", "partial answer", &bot.ModelError{Class: bot.ModelTimeout}, bot.StatusPartial, "partial answer\n⚠ reply interrupted: upstream timed out"},
		{"500 before first token", "", &bot.ModelError{Class: bot.ModelServer, StatusCode: 500}, bot.StatusFailed, "⚠ Sorry, I couldn't answer: the model service is unavailable."},
		{"cut stream", "half", &bot.ModelError{Class: bot.ModelTruncated}, bot.StatusPartial, "half\n⚠ reply interrupted: the model's stream was cut off"},
		{"plain error", "", errors.New("boom"), bot.StatusFailed, "⚠ Sorry, something went wrong while answering."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, func(n int, req bot.ChatRequest, ctx context.Context, delta func(string)) (bot.Completion, error) {
				if tc.text != "" {
					delta(tc.text)
				}
				return bot.Completion{Text: tc.text}, tc.err
			}, nil)
			if err := r.engine.HandleMessage(context.Background(), msg("t", "1", "hi")); err != nil {
				t.Fatal(err)
			}
			r.idle(t)
			out := r.conv.outcomes()[0]
			if out.Status != tc.wantStatus || out.Text != tc.wantText {
				t.Errorf("got %q (%s), want %q (%s)", out.Text, out.Status, tc.wantText, tc.wantStatus)
			}
			if out.Error == "" {
				t.Error("no error reason stored")
			}
		})
	}
}

func TestFinishReasonLengthIsPartial(t *testing.T) {
	r := newRig(t, func(n int, req bot.ChatRequest, ctx context.Context, delta func(string)) (bot.Completion, error) {
		delta("abc")
		return bot.Completion{Text: "abc", FinishReason: "length"}, nil
	}, nil)
	_ = r.engine.HandleMessage(context.Background(), msg("t", "1", "hi"))
	r.idle(t)
	if out := r.conv.outcomes()[0]; out.Status != bot.StatusPartial || !strings.Contains(out.Text, "output limit") {
		t.Errorf("got %+v", out)
	}
}

// blockingModel streams one word and then waits for cancellation.
func blockingModel(started chan<- struct{}) func(int, bot.ChatRequest, context.Context, func(string)) (bot.Completion, error) {
	return func(n int, req bot.ChatRequest, ctx context.Context, delta func(string)) (bot.Completion, error) {
		delta("thinking")
		started <- struct{}{}
		<-ctx.Done()
		return bot.Completion{Text: "thinking"}, &bot.ModelError{Class: bot.ModelUnavailable, Err: ctx.Err()}
	}
}

func TestDeleteCancelsStreamingReply(t *testing.T) {
	started := make(chan struct{}, 1)
	r := newRig(t, blockingModel(started), nil)
	m := msg("t", "1", "hi")
	_ = r.engine.HandleMessage(context.Background(), m)
	<-started
	if err := r.engine.HandleDelete(context.Background(), m.Key(), m.ID); err != nil {
		t.Fatal(err)
	}
	r.idle(t)
	out := r.conv.outcomes()[0]
	if out.Status != bot.StatusPartial || !strings.Contains(out.Text, "deleted") {
		t.Errorf("got %+v, want a partial reply saying the message was deleted", out)
	}
}

func TestShutdownInterruptsAfterDeadline(t *testing.T) {
	started := make(chan struct{}, 1)
	r := newRig(t, blockingModel(started), nil)
	_ = r.engine.HandleMessage(context.Background(), msg("t", "1", "hi"))
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r.engine.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	out := r.conv.outcomes()[0]
	if out.Status != bot.StatusPartial || out.Text != "thinking\n⚠ reply interrupted: Parley is restarting" {
		t.Errorf("got %q (%s)", out.Text, out.Status)
	}
	if err := r.engine.HandleMessage(context.Background(), msg("t", "2", "late")); !errors.Is(err, bot.ErrShuttingDown) {
		t.Errorf("message after shutdown: %v, want ErrShuttingDown", err)
	}
}

type wordFilter struct {
	banned string
}

func (f wordFilter) CheckInput(_ bot.ChannelKey, text string) (bool, string) {
	if strings.Contains(text, f.banned) {
		return false, "Sorry, I can't respond to that message."
	}
	return true, ""
}

func (f wordFilter) NewOutput(bot.ChannelKey) bot.OutputFilter { return &stopFilter{banned: f.banned} }

type stopFilter struct {
	banned string
	buf    string
}

func (f *stopFilter) Write(d string) (string, bool, string) {
	f.buf += d
	if i := strings.Index(f.buf, f.banned); i >= 0 {
		out := f.buf[:i]
		f.buf = ""
		return out, true, "⚠ reply stopped by the word filter"
	}
	out := f.buf
	f.buf = ""
	return out, false, ""
}

func (f *stopFilter) Flush() string { return f.buf }

func TestWordFilterInputAndOutput(t *testing.T) {
	r := newRig(t, func(n int, req bot.ChatRequest, ctx context.Context, delta func(string)) (bot.Completion, error) {
		return words(ctx, "fine words then badword and more", delta)
	}, func(c *bot.EngineConfig) { c.Filter = wordFilter{banned: "badword"} })
	_ = r.engine.HandleMessage(context.Background(), msg("t", "1", "say badword please"))
	r.idle(t)
	if n := len(r.model.requests()); n != 0 {
		t.Fatalf("a filtered message reached the model (%d calls)", n)
	}
	if s := r.conv.userStatuses(); s[0] != bot.StatusFiltered {
		t.Errorf("stored status %s, want filtered", s[0])
	}
	_ = r.engine.HandleMessage(context.Background(), msg("t", "2", "say something"))
	r.idle(t)
	out := r.conv.outcomes()
	if out[0].Status != bot.StatusRefused || out[0].Text != "Sorry, I can't respond to that message." {
		t.Errorf("input refusal %+v", out[0])
	}
	if out[1].Status != bot.StatusFiltered || out[1].Text != "fine words then \n⚠ reply stopped by the word filter" {
		t.Errorf("output stop %q (%s)", out[1].Text, out[1].Status)
	}
}

func TestCommandsHelpAndReset(t *testing.T) {
	r := newRig(t, echo, nil)
	ctx := context.Background()
	key := msg("t", "1", "").Key()
	if res := r.engine.HandleCommand(ctx, bot.Command{Thread: key, Text: "help"}); !strings.Contains(res.Text, "reset") {
		t.Errorf("help: %q", res.Text)
	}
	if res := r.engine.HandleCommand(ctx, bot.Command{Thread: key, Text: "reset"}); !strings.Contains(res.Text, "forgotten") {
		t.Errorf("reset: %q", res.Text)
	}
	if len(r.conv.resets) != 1 || r.conv.resets[0] != key {
		t.Errorf("resets %v", r.conv.resets)
	}
	if res := r.engine.HandleCommand(ctx, bot.Command{Thread: key, Text: "frobnicate"}); !strings.Contains(res.Text, "unknown command") {
		t.Errorf("unknown: %q", res.Text)
	}
}

func TestInvalidMessageRejected(t *testing.T) {
	r := newRig(t, echo, nil)
	m := msg("t", "", "hi")
	if err := r.engine.HandleMessage(context.Background(), m); err == nil || !strings.Contains(err.Error(), "message ID is empty") {
		t.Errorf("got %v", err)
	}
	m = msg("t", "1", "hi")
	m.Platform = bot.PlatformSlack
	if err := r.engine.HandleMessage(context.Background(), m); !errors.Is(err, bot.ErrUnknownPlatform) {
		t.Errorf("got %v", err)
	}
}

var _ sync.Locker = (*sync.Mutex)(nil)

// A reply whose final edit the platform never took is stored with what
// users saw, as partial with the reason, not as the complete answer: it
// must not reach a later prompt as a whole turn.
func TestFinalEditFailureStoredAsPartial(t *testing.T) {
	r := newRig(t, echo, nil)
	r.render.closeErr, r.render.visible = errors.New("final text not shown: context deadline exceeded"), 4
	if err := r.engine.HandleMessage(context.Background(), msg("t1", "1", "hello there")); err != nil {
		t.Fatal(err)
	}
	r.idle(t)
	outs := r.conv.outcomes()
	if len(outs) != 1 {
		t.Fatalf("%d replies stored, want 1", len(outs))
	}
	o := outs[0]
	if o.Status != bot.StatusPartial || o.Text != "you " || !strings.Contains(o.Error, "final edit failed: final text not shown") {
		t.Errorf("stored %+v, want partial %q with the final edit's error", o, "you ")
	}
}

// A thread whose queue is full answers the first message over the bound
// with a busy notice, stores the rest without answering them (a flood is
// not flooded back), and gives the notice again once the queue has moved.
func TestThreadBusyNoticeOncePerFullQueue(t *testing.T) {
	release := make(chan struct{})
	r := newRig(t, func(n int, req bot.ChatRequest, ctx context.Context, delta func(string)) (bot.Completion, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return bot.Completion{}, ctx.Err()
		}
		return echo(n, req, ctx, delta)
	}, func(c *bot.EngineConfig) { c.MaxPendingPerThread = 2 })
	ctx := context.Background()
	refusals := func() int {
		n := 0
		for _, o := range r.conv.outcomes() {
			if o.Status == bot.StatusRefused {
				if !strings.Contains(o.Text, "still working through earlier messages") {
					t.Errorf("busy notice %q", o.Text)
				}
				n++
			}
		}
		return n
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	send := func(from, to int) {
		t.Helper()
		for i := from; i <= to; i++ {
			if err := r.engine.HandleMessage(ctx, msg("t1", fmt.Sprint(i), fmt.Sprintf("message %d", i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	// 1 is answered (blocked in the model), 2 and 3 wait, 4 gets the
	// notice, 5–10 are stored only.
	send(1, 1)
	waitFor("the first reply to start", func() bool { return len(r.model.requests()) == 1 })
	send(2, 10)
	waitFor("the busy notice", func() bool { return refusals() == 1 })
	if got := len(r.conv.userStatuses()); got != 10 {
		t.Fatalf("%d user messages stored, want all 10", got)
	}
	// The queue moves: the next message over the bound is told again.
	release <- struct{}{}
	waitFor("the second reply to start", func() bool { return len(r.model.requests()) == 2 })
	send(11, 12)
	waitFor("a second busy notice", func() bool { return refusals() == 2 })
	close(release)
	r.idle(t)
	if got := refusals(); got != 2 {
		t.Errorf("%d busy notices, want 2", got)
	}
}
