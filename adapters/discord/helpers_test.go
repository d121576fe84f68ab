package discord

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/parley-bot/parley/adapters/discord/discordfake"
	"github.com/parley-bot/parley/bot"
)

const (
	testToken = "test-token"
	guildID   = "200000000000000001"
	chanID    = "300000000000000001"
	dmID      = "300000000000000009"
	aliceID   = "400000000000000001"
	bobID     = "400000000000000002"
	otherBot  = "400000000000000003"
	modsRole  = "500000000000000001"
)

// recorder is a bot.Handler that records what the adapter delivers. Like
// the engine, it de-duplicates messages by DedupeID (counting the
// duplicates) and treats a thread as active once a message was accepted
// in it.
type recorder struct {
	mu       sync.Mutex
	changed  chan struct{}
	messages []bot.Message
	dupes    int
	seen     map[string]bool
	active   map[bot.ThreadKey]bool
	edits    []editCall
	deletes  []editCall
	commands []bot.Command
	// onCommand answers commands; nil answers "ok: <text>".
	onCommand func(context.Context, bot.Command) bot.CommandResult
}

type editCall struct {
	Key  bot.ThreadKey
	ID   string
	Text string
}

func newRecorder() *recorder {
	return &recorder{changed: make(chan struct{}), seen: make(map[string]bool), active: make(map[bot.ThreadKey]bool)}
}

func (r *recorder) bump() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *recorder) HandleMessage(_ context.Context, m bot.Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.bump()
	if r.seen[m.DedupeID()] {
		r.dupes++
		return nil
	}
	r.seen[m.DedupeID()] = true
	r.messages = append(r.messages, m)
	r.active[m.Key()] = true
	return nil
}

func (r *recorder) HandleEdit(_ context.Context, key bot.ThreadKey, id, text string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.bump()
	r.edits = append(r.edits, editCall{key, id, text})
	return nil
}

func (r *recorder) HandleDelete(_ context.Context, key bot.ThreadKey, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.bump()
	r.deletes = append(r.deletes, editCall{Key: key, ID: id})
	return nil
}

func (r *recorder) HandleCommand(ctx context.Context, c bot.Command) bot.CommandResult {
	r.mu.Lock()
	r.commands = append(r.commands, c)
	f := r.onCommand
	r.bump()
	r.mu.Unlock()
	if f != nil {
		return f(ctx, c)
	}
	return bot.CommandResult{Text: "ok: " + c.Text, Ephemeral: true}
}

func (r *recorder) ThreadActive(_ context.Context, key bot.ThreadKey) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active[key], nil
}

// wait blocks until cond (called with r.mu held) holds.
func (r *recorder) wait(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		r.mu.Lock()
		ok, ch := cond(), r.changed
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// msg returns the i-th delivered message.
func (r *recorder) msg(i int) bot.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.messages[i]
}

// edit returns the i-th edit.
func (r *recorder) edit(i int) editCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.edits[i]
}

func (r *recorder) snapshot() (msgs []bot.Message, edits, deletes []editCall, cmds []bot.Command, dupes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bot.Message(nil), r.messages...), append([]editCall(nil), r.edits...),
		append([]editCall(nil), r.deletes...), append([]bot.Command(nil), r.commands...), r.dupes
}

// harness is a fake Discord with an adapter running against it.
type harness struct {
	fake   *discordfake.Server
	ad     *Adapter
	rec    *recorder
	cancel context.CancelFunc
	done   chan error
}

func quietLogger() *slog.Logger {
	if os.Getenv("DISCORD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newFake(t testing.TB, fo discordfake.Options) *discordfake.Server {
	t.Helper()
	fo.Token = testToken
	f := discordfake.New(fo)
	t.Cleanup(f.Close)
	f.AddUser(discordfake.User{ID: aliceID, Username: "alice", Global: "Alice", Nick: "Ali"})
	f.AddUser(discordfake.User{ID: bobID, Username: "bob", Global: "Bob"})
	f.AddUser(discordfake.User{ID: otherBot, Username: "helper", Bot: true})
	f.AddChannel(guildID, chanID, "general")
	f.AddDM(dmID)
	f.AddRole(guildID, modsRole, "Mods")
	return f
}

func testOptions(f *discordfake.Server) Options {
	return Options{Token: testToken, APIURL: f.URL, MessageContentIntent: true, GuildIDs: []string{guildID}}
}

// start runs an adapter against f and waits for its gateway session.
func start(t testing.TB, f *discordfake.Server, opts Options, rec *recorder) *harness {
	t.Helper()
	return startWith(t, f, opts, rec, nil)
}

// startWith is start with a hook that adjusts the adapter before Run.
func startWith(t testing.TB, f *discordfake.Server, opts Options, rec *recorder, prep func(*Adapter)) *harness {
	t.Helper()
	ad, err := New(opts, quietLogger())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if prep != nil {
		prep(ad)
	}
	before, _, _ := f.GatewayStats()
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{fake: f, ad: ad, rec: rec, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- ad.Run(ctx, rec) }()
	t.Cleanup(func() { h.stop(t) })
	// This adapter's own session: a previous one may not be gone yet.
	h.waitFake(t, "gateway ready", func() bool { ids, _, ready := f.GatewayStats(); return ids > before && ready })
	return h
}

// stop ends Run and checks it returned nil.
func (h *harness) stop(t testing.TB) {
	t.Helper()
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		if err != nil {
			t.Errorf("Run returned %v after cancel, want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("Run did not return after cancel")
	}
}

func (h *harness) waitFake(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.fake.Wait(ctx, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func mention(id string) string { return "<@" + id + ">" }
