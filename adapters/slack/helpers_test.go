package slack

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/parley-bot/parley/adapters/slack/slackfake"
	"github.com/parley-bot/parley/bot"
)

// recorder is a bot.Handler that records what the adapter delivers.
type recorder struct {
	mu      sync.Mutex
	msgs    []bot.Message
	edits   []editCall
	deletes []deleteCall
	cmds    []bot.Command
	active  map[bot.ThreadKey]bool
	// answer produces command results; release, when set, is waited for
	// first (a slow command).
	answer  func(bot.Command) bot.CommandResult
	release chan struct{}
}

type editCall struct {
	Key       bot.ThreadKey
	MessageID string
	Text      string
}

type deleteCall struct {
	Key       bot.ThreadKey
	MessageID string
}

func newRecorder() *recorder { return &recorder{active: make(map[bot.ThreadKey]bool)} }

func (r *recorder) HandleMessage(_ context.Context, m bot.Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return nil
}

func (r *recorder) HandleEdit(_ context.Context, key bot.ThreadKey, id, text string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.edits = append(r.edits, editCall{key, id, text})
	return nil
}

func (r *recorder) HandleDelete(_ context.Context, key bot.ThreadKey, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deletes = append(r.deletes, deleteCall{key, id})
	return nil
}

func (r *recorder) HandleCommand(ctx context.Context, c bot.Command) bot.CommandResult {
	r.mu.Lock()
	r.cmds = append(r.cmds, c)
	answer, release := r.answer, r.release
	r.mu.Unlock()
	if release != nil {
		select {
		case <-release:
		case <-ctx.Done():
		}
	}
	if answer != nil {
		return answer(c)
	}
	return bot.CommandResult{Text: "help: **reset**, quota", Ephemeral: true}
}

func (r *recorder) ThreadActive(_ context.Context, key bot.ThreadKey) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active[key], nil
}

func (r *recorder) setActive(k bot.ThreadKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.active[k] = true
}

func (r *recorder) messages() []bot.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bot.Message(nil), r.msgs...)
}

func (r *recorder) snapshot() (msgs []bot.Message, edits []editCall, deletes []deleteCall, cmds []bot.Command) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append(msgs, r.msgs...), append(edits, r.edits...), append(deletes, r.deletes...), append(cmds, r.cmds...)
}

// eventually polls cond until it holds; it fails the test after a generous
// bound (a hang, not a speed assertion).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// harness is an adapter running against a fake Slack.
type harness struct {
	t    *testing.T
	fake *slackfake.Fake
	a    *Adapter
	rec  *recorder
	stop func() error // cancels Run and returns its result
	exit func() error // waits for Run to return by itself
	// fatalExpected: the test makes Run fail on purpose.
	fatalExpected bool
}

// baseOptions edit replies (the acceptance tests of the edit path);
// streaming_test.go sets the streaming modes.
func baseOptions(fake *slackfake.Fake) Options {
	return Options{
		BotToken: "xoxb-fake", AppToken: "xapp-fake", APIURL: fake.URL(),
		ReplyInThreadsWithoutMention: true, Streaming: StreamingEdit,
	}
}

func newFake(t testing.TB, fo slackfake.Options) *slackfake.Fake {
	t.Helper()
	if fo.PingInterval == 0 {
		fo.PingInterval = 500 * time.Millisecond
	}
	fake := slackfake.New(fo)
	t.Cleanup(fake.Close)
	fake.AddUser(slackfake.User{ID: "U1", Name: "ana", DisplayName: "Ana"})
	fake.AddUser(slackfake.User{ID: "U2", Name: "ben", RealName: "Ben Ortiz"})
	fake.AddUser(slackfake.User{ID: "UADMIN", Name: "root", DisplayName: "Root", IsAdmin: true})
	fake.AddUser(slackfake.User{ID: "UOWNER", Name: "owner", IsOwner: true})
	return fake
}

// startSocket runs an adapter in Socket Mode against a fresh fake and waits
// for its connection.
func startSocket(t *testing.T, fo slackfake.Options, mutate func(*Options)) *harness {
	t.Helper()
	fake := newFake(t, fo)
	opts := baseOptions(fake)
	if mutate != nil {
		mutate(&opts)
	}
	h := runAdapter(t, fake, opts, newRecorder())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fake.WaitConnections(ctx, 1); err != nil {
		t.Fatal(err)
	}
	return h
}

func runAdapter(t *testing.T, fake *slackfake.Fake, opts Options, handler bot.Handler) *harness {
	t.Helper()
	a, err := New(opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, handler) }()
	var (
		mu       sync.Mutex
		returned bool
		runErr   error
	)
	// wait collects Run's result once, cancelling first when cancelFirst.
	wait := func(cancelFirst bool) error {
		mu.Lock()
		defer mu.Unlock()
		if returned {
			return runErr
		}
		if cancelFirst {
			cancel()
		}
		select {
		case runErr = <-done:
		case <-time.After(10 * time.Second):
			cancel()
			runErr = errors.New("Run did not return")
			<-done
		}
		returned = true
		cancel()
		return runErr
	}
	stop := func() error { return wait(true) }
	rec, _ := handler.(*recorder)
	h := &harness{t: t, fake: fake, a: a, rec: rec, stop: stop, exit: func() error { return wait(false) }}
	t.Cleanup(func() {
		if err := stop(); err != nil && !h.fatalExpected {
			t.Errorf("Run: %v", err)
		}
	})
	return h
}

func (h *harness) send(inner map[string]any) {
	h.t.Helper()
	h.sendID("", inner)
}

func (h *harness) sendID(eventID string, inner map[string]any) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.fake.SendEvent(ctx, eventID, inner); err != nil {
		h.t.Fatalf("send event: %v", err)
	}
}

// settle waits until the adapter has processed n Events API deliveries.
func (h *harness) settle(n int64) {
	h.t.Helper()
	eventually(h.t, "events processed", func() bool { return h.a.processed.Load() >= n })
}

func mention(channel, user, text, ts, threadTS string) map[string]any {
	m := map[string]any{"type": "app_mention", "user": user, "text": text, "ts": ts, "channel": channel, "event_ts": ts}
	if threadTS != "" {
		m["thread_ts"] = threadTS
	}
	return m
}

func message(channel, channelType, user, text, ts, threadTS string) map[string]any {
	m := map[string]any{"type": "message", "channel": channel, "channel_type": channelType, "user": user, "text": text, "ts": ts, "event_ts": ts}
	if threadTS != "" {
		m["thread_ts"] = threadTS
	}
	return m
}
