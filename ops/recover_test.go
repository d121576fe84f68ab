package ops

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/parley-bot/parley/bot"
	"github.com/parley-bot/parley/conversation"
)

// recordingOutbox records every Post and Edit; failEdit makes edits fail.
type recordingOutbox struct {
	max int

	mu        sync.Mutex
	posts     []string // "thread|text"
	edits     []string // "messageID|text"
	failEdit  error
	rateLimit int // edits answered with a rate limit before one succeeds
	next      int
}

func (o *recordingOutbox) Post(_ context.Context, k bot.ThreadKey, text string) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.next++
	o.posts = append(o.posts, k.Thread+"|"+text)
	return fmt.Sprintf("new-%d", o.next), nil
}

func (o *recordingOutbox) Edit(_ context.Context, _ bot.ThreadKey, id, text string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.rateLimit > 0 {
		o.rateLimit--
		return &bot.RateLimitedError{Op: "edit", RetryAfter: 3 * time.Second}
	}
	if o.failEdit != nil {
		return o.failEdit
	}
	o.edits = append(o.edits, id+"|"+text)
	return nil
}

func (o *recordingOutbox) Limits() bot.Limits { return bot.Limits{MaxMessageChars: o.max} }

func openStore(t *testing.T, path string) *conversation.Store {
	t.Helper()
	s, err := conversation.Open(context.Background(), conversation.Options{Path: path, Policy: conversation.PolicyTruncate})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return s
}

func TestRecoverInterruptedRealStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parley.db")
	key := bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T1", Channel: "C1", Thread: "100.1"}
	quiet := bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T1", Channel: "C1", Thread: "200.1"}
	done := bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T1", Channel: "C1", Thread: "300.1"}

	// The "crashed" process: two replies left streaming, one finished.
	s := openStore(t, path)
	for i, k := range []bot.ThreadKey{key, quiet, done} {
		m := bot.Message{Platform: k.Platform, Workspace: k.Workspace, Channel: k.Channel, Thread: k.Thread,
			ID: k.Thread, AuthorID: "U1", AuthorName: "ann", Text: fmt.Sprint("question ", i), Time: time.Unix(1700000000, 0)}
		if _, err := s.SaveUserMessage(ctx, m, bot.StatusComplete); err != nil {
			t.Fatal(err)
		}
	}
	streaming, err := s.BeginReply(ctx, key, 0, "gpt-4o-mini")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ReplyMessages(ctx, streaming, []string{"m1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplyProgress(ctx, streaming, "The answer is"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginReply(ctx, quiet, 0, "gpt-4o-mini"); err != nil { // nothing posted yet
		t.Fatal(err)
	}
	finished, err := s.BeginReply(ctx, done, 0, "gpt-4o-mini")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FinishReply(ctx, finished, bot.ReplyOutcome{Text: "all good", Status: bot.StatusComplete, MessageIDs: []string{"d1"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// The restart.
	s = openStore(t, path)
	defer s.Close(ctx)
	ob := &recordingOutbox{max: 4000}
	n, err := RecoverInterrupted(ctx, s, map[bot.Platform]bot.Outbox{bot.PlatformSlack: ob}, nil)
	if err != nil || n != 2 {
		t.Fatalf("RecoverInterrupted = %d, %v; want 2, nil", n, err)
	}
	wantText := "The answer is\n" + InterruptedNotice
	if want := []string{"m1|" + wantText}; !equal(ob.edits, want) {
		t.Errorf("edits = %q, want %q", ob.edits, want)
	}
	if want := []string{"200.1|" + InterruptedNotice}; !equal(ob.posts, want) {
		t.Errorf("posts = %q, want %q", ob.posts, want)
	}

	last := func(k bot.ThreadKey) conversation.StoredMessage {
		h, err := s.History(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		return h[len(h)-1]
	}
	if m := last(key); m.Status != bot.StatusInterrupted || m.Text != wantText || !equal(m.PlatformMessageIDs, []string{"m1"}) {
		t.Errorf("stored %s: status %s, text %q, ids %q", key, m.Status, m.Text, m.PlatformMessageIDs)
	}
	if m := last(quiet); m.Status != bot.StatusInterrupted || m.Text != InterruptedNotice || !equal(m.PlatformMessageIDs, []string{"new-1"}) {
		t.Errorf("stored %s: status %s, text %q, ids %q", quiet, m.Status, m.Text, m.PlatformMessageIDs)
	}
	if m := last(done); m.Status != bot.StatusComplete || m.Text != "all good" {
		t.Errorf("a finished reply was touched: %s %q", m.Status, m.Text)
	}

	// Nothing is left to recover.
	if n, err := RecoverInterrupted(ctx, s, map[bot.Platform]bot.Outbox{bot.PlatformSlack: ob}, nil); n != 0 || err != nil {
		t.Fatalf("second recovery = %d, %v", n, err)
	}
}

// fakeStore is an in-memory InterruptedStore.
type fakeStore struct {
	pending  []conversation.PendingReply
	finished map[int64]bot.ReplyOutcome
	err      error
}

func (f *fakeStore) InterruptedReplies(context.Context) ([]conversation.PendingReply, error) {
	return f.pending, f.err
}

func (f *fakeStore) FinishReply(_ context.Context, id int64, out bot.ReplyOutcome) error {
	if f.finished == nil {
		f.finished = make(map[int64]bot.ReplyOutcome)
	}
	f.finished[id] = out
	return nil
}

func TestRecoverLongReplyContinues(t *testing.T) {
	key := bot.ThreadKey{Platform: bot.PlatformDiscord, Workspace: "G", Channel: "C", Thread: "T"}
	long := strings.Repeat("word ", 30) // 150 chars: three parts of ≤ 60
	st := &fakeStore{pending: []conversation.PendingReply{{ID: 7, Thread: key, MessageIDs: []string{"a", "b"}, Text: long}}}
	ob := &recordingOutbox{max: 60}
	n, err := RecoverInterrupted(context.Background(), st, map[bot.Platform]bot.Outbox{bot.PlatformDiscord: ob}, nil)
	if err != nil || n != 1 {
		t.Fatalf("RecoverInterrupted = %d, %v", n, err)
	}
	if len(ob.edits) != 1 || !strings.HasPrefix(ob.edits[0], "b|") {
		t.Fatalf("edits = %q; want one edit of the last message", ob.edits)
	}
	out := st.finished[7]
	if !strings.HasSuffix(out.Text, "\n"+InterruptedNotice) || len(ob.posts) == 0 {
		t.Fatalf("stored %q, posts %q", out.Text, ob.posts)
	}
	if want := len(ob.posts) + 2; len(out.MessageIDs) != want {
		t.Fatalf("stored ids %q, want %d", out.MessageIDs, want)
	}
	shown := strings.TrimPrefix(ob.edits[0], "b|")
	for _, p := range ob.posts {
		shown += strings.TrimPrefix(p, "T|")
	}
	if !strings.HasSuffix(out.Text, shown) {
		t.Fatalf("shown %q is not the end of the stored text %q", shown, out.Text)
	}
	for _, p := range append(ob.edits, ob.posts...) {
		if len([]rune(p))-2 > 60 {
			t.Fatalf("message longer than the limit: %q", p)
		}
	}
}

func TestRecoverStoredTextLagsBehindMessages(t *testing.T) {
	key := bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T", Channel: "C", Thread: "1"}
	st := &fakeStore{pending: []conversation.PendingReply{{ID: 3, Thread: key, MessageIDs: []string{"a", "b"}, Text: "short"}}}
	ob := &recordingOutbox{max: 100}
	if n, err := RecoverInterrupted(context.Background(), st, map[bot.Platform]bot.Outbox{bot.PlatformSlack: ob}, nil); n != 1 || err != nil {
		t.Fatalf("= %d, %v", n, err)
	}
	// The second message shows text not stored yet: it is not rewritten
	// shorter; the notice follows in a new message.
	if !equal(ob.posts, []string{"1|" + InterruptedNotice}) || len(ob.edits) != 0 {
		t.Fatalf("edits %q, posts %q", ob.edits, ob.posts)
	}
	if out := st.finished[3]; out.Text != "short\n"+InterruptedNotice || !equal(out.MessageIDs, []string{"a", "b", "new-1"}) {
		t.Fatalf("stored %+v", out)
	}
}

func TestRecoverStoresEvenWhenThePlatformFails(t *testing.T) {
	key := bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T", Channel: "C", Thread: "1"}
	gone := bot.ThreadKey{Platform: bot.PlatformDiscord, Workspace: "G", Channel: "C", Thread: "2"}
	st := &fakeStore{pending: []conversation.PendingReply{
		{ID: 1, Thread: key, MessageIDs: []string{"x"}, Text: "partial"},
		{ID: 2, Thread: gone, MessageIDs: []string{"y"}, Text: "other"},
	}}
	ob := &recordingOutbox{max: 100, failEdit: errors.New("message_not_found")}
	n, err := RecoverInterrupted(context.Background(), st, map[bot.Platform]bot.Outbox{bot.PlatformSlack: ob}, nil)
	if n != 2 {
		t.Fatalf("stored %d, want 2", n)
	}
	if err == nil || !strings.Contains(err.Error(), "message_not_found") || !strings.Contains(err.Error(), "platform not enabled") {
		t.Fatalf("err = %v", err)
	}
	for id, out := range st.finished {
		if out.Status != bot.StatusInterrupted || !strings.HasSuffix(out.Text, InterruptedNotice) || !strings.Contains(out.Error, "notice not shown") {
			t.Errorf("reply %d stored as %+v", id, out)
		}
	}
}

func TestRecoverWaitsOutRateLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		key := bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T", Channel: "C", Thread: "1"}
		st := &fakeStore{pending: []conversation.PendingReply{{ID: 1, Thread: key, MessageIDs: []string{"x"}, Text: "so far"}}}
		ob := &recordingOutbox{max: 100, rateLimit: 2}
		start := time.Now()
		n, err := RecoverInterrupted(context.Background(), st, map[bot.Platform]bot.Outbox{bot.PlatformSlack: ob}, nil)
		if err != nil || n != 1 {
			t.Fatalf("RecoverInterrupted = %d, %v", n, err)
		}
		if waited := time.Since(start); waited != 6*time.Second {
			t.Fatalf("waited %s, want the two Retry-After waits (6s)", waited)
		}
		if !equal(ob.edits, []string{"x|so far\n" + InterruptedNotice}) {
			t.Fatalf("edits = %q", ob.edits)
		}
	})
}

func TestRecoverStopsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		key := bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T", Channel: "C", Thread: "1"}
		st := &fakeStore{pending: []conversation.PendingReply{{ID: 1, Thread: key, MessageIDs: []string{"x"}}}}
		ob := &recordingOutbox{max: 100, rateLimit: 100}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n, err := RecoverInterrupted(ctx, st, map[bot.Platform]bot.Outbox{bot.PlatformSlack: ob}, nil)
		if n != 0 || !errors.Is(err, context.DeadlineExceeded) || len(st.finished) != 0 {
			t.Fatalf("= %d, %v, stored %v; want nothing stored and the deadline", n, err, st.finished)
		}
	})
}

func TestRecoverStoreError(t *testing.T) {
	st := &fakeStore{err: errors.New("disk I/O error")}
	if _, err := RecoverInterrupted(context.Background(), st, nil, nil); err == nil || !strings.Contains(err.Error(), "disk I/O error") {
		t.Fatalf("err = %v", err)
	}
}

func TestFinalTextIdempotent(t *testing.T) {
	for in, want := range map[string]string{
		"":                                   "⚠ interrupted by a restart",
		"  \n":                               "⚠ interrupted by a restart",
		"hello \n":                           "hello\n⚠ interrupted by a restart",
		"hello\n" + InterruptedNotice:        "hello\n" + InterruptedNotice,
		"hello\n" + InterruptedNotice + "\n": "hello\n" + InterruptedNotice,
	} {
		if got := finalText(in); got != want {
			t.Errorf("finalText(%q) = %q, want %q", in, got, want)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
