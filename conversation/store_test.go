package conversation

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-bot/parley/bot"
)

func TestOpenMigratesOnceAndRestrictsFiles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parley.db")
	extra := []Migration{{Component: "quotas", Version: 1, Name: "init", SQL: "CREATE TABLE quota_usage (k TEXT PRIMARY KEY, n INTEGER NOT NULL)"}}
	for range 3 {
		s, err := Open(ctx, Options{Path: path, Migrations: extra})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if _, err := s.MarkProcessed(ctx, bot.PlatformSlack, "E1", time.Now()); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := s.DB().QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 3 {
			t.Fatalf("schema_migrations has %d rows, want 3 (conversation/1, conversation/2, quotas/1)", n)
		}
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatalf("stat %s: %v", p, err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
			}
		}
		var mode string
		if err := s.ReadDB().QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("journal_mode = %q, %v; want wal", mode, err)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

func TestOpenRejectsBadOptions(t *testing.T) {
	dir := t.TempDir()
	for name, opts := range map[string]Options{
		"no path":         {},
		"policy":          {Path: filepath.Join(dir, "a.db"), Policy: "forget"},
		"encoding":        {Path: filepath.Join(dir, "b.db"), Models: map[string]ModelInfo{"x": {Encoding: "p50k_base"}}},
		"missing dir":     {Path: filepath.Join(dir, "nope", "c.db")},
		"bad migration":   {Path: filepath.Join(dir, "d.db"), Migrations: []Migration{{Component: "q", Version: 1, SQL: "CREATE TABLEX"}}},
		"duplicate migr.": {Path: filepath.Join(dir, "e.db"), Migrations: []Migration{{Component: "q", Version: 1, SQL: "SELECT 1"}, {Component: "q", Version: 1, SQL: "SELECT 1"}}},
	} {
		if s, err := Open(context.Background(), opts); err == nil {
			_ = s.Close(context.Background())
			t.Errorf("%s: Open succeeded", name)
		}
	}
}

func TestMarkProcessedDedupesAcrossReopenAndExpires(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parley.db")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := openStore(t, Options{Path: path, DedupeTTL: time.Hour})
	for i, want := range []bool{true, false} {
		first, err := s.MarkProcessed(ctx, bot.PlatformSlack, "Ev1", t0)
		if err != nil || first != want {
			t.Fatalf("call %d: first=%v err=%v, want %v", i, first, err, want)
		}
	}
	// The same ID on another platform is another event.
	if first, _ := s.MarkProcessed(ctx, bot.PlatformDiscord, "Ev1", t0); !first {
		t.Fatal("discord Ev1 reported as duplicate of slack Ev1")
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, Options{Path: path, DedupeTTL: time.Hour})
	if first, err := s.MarkProcessed(ctx, bot.PlatformSlack, "Ev1", t0.Add(30*time.Minute)); err != nil || first {
		t.Fatalf("after reopen: first=%v err=%v, want duplicate", first, err)
	}
	if first, err := s.MarkProcessed(ctx, bot.PlatformSlack, "Ev1", t0.Add(61*time.Minute)); err != nil || !first {
		t.Fatalf("after expiry: first=%v err=%v, want new", first, err)
	}
	// Pruning removes expired records of other events.
	if _, err := s.MarkProcessed(ctx, bot.PlatformSlack, "Ev2", t0.Add(5*time.Hour)); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.read.QueryRowContext(ctx, "SELECT count(*) FROM processed_events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d processed events kept after pruning, want 1", n)
	}
	if _, err := s.MarkProcessed(ctx, bot.PlatformSlack, "", t0); err == nil {
		t.Fatal("empty event ID accepted")
	}
}

// An event is recorded only with its message: when storing the message
// fails, the event stays unrecorded, so its redelivery is processed and the
// message is not lost; once stored, a redelivery stores nothing more.
func TestAcceptUserMessageIsAtomic(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, Options{})
	key := testKey("1.0")
	// A write failure on this one message (a full disk, say).
	if _, err := s.DB().ExecContext(ctx, `CREATE TRIGGER fail_once BEFORE INSERT ON messages
		WHEN NEW.text = 'hello there' BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`); err != nil {
		t.Fatal(err)
	}
	m := userMsg(key, "1.0", "Ana", "hello there")
	at := time.Now()
	if _, _, err := s.AcceptUserMessage(ctx, m, "Ev1", bot.StatusComplete, at); err == nil || !strings.Contains(err.Error(), "disk I/O error") {
		t.Fatalf("AcceptUserMessage with a failing insert: %v, want the insert's error", err)
	}
	var n int
	if err := s.read.QueryRowContext(ctx, "SELECT count(*) FROM processed_events").Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d events recorded (err %v) after the message failed to store, want 0", n, err)
	}
	if _, err := s.DB().ExecContext(ctx, `DROP TRIGGER fail_once`); err != nil {
		t.Fatal(err)
	}
	// The redelivery is stored and answered.
	id, first, err := s.AcceptUserMessage(ctx, m, "Ev1", bot.StatusComplete, at)
	if err != nil || !first || id == 0 {
		t.Fatalf("redelivery: id=%d first=%v err=%v, want stored", id, first, err)
	}
	// A later duplicate stores nothing.
	if id2, first, err := s.AcceptUserMessage(ctx, m, "Ev1", bot.StatusComplete, at); err != nil || first || id2 != 0 {
		t.Fatalf("duplicate: id=%d first=%v err=%v, want ignored", id2, first, err)
	}
	p, err := s.Prompt(ctx, key, bot.PromptOptions{Model: smallModel})
	if err != nil {
		t.Fatal(err)
	}
	users := 0
	for _, cm := range p.Messages {
		if cm.Role == bot.RoleUser {
			users++
		}
	}
	if users != 1 {
		t.Fatalf("prompt has %d user messages, want 1: %+v", users, p.Messages)
	}
	if _, _, err := s.AcceptUserMessage(ctx, m, "", bot.StatusComplete, at); err == nil {
		t.Fatal("empty event ID accepted")
	}
}

func TestUserMessageStoredBeforeAnything(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, Options{})
	key := testKey("1.0")
	m := userMsg(key, "1.0", "Ana", "hello there")
	id, err := s.SaveUserMessage(ctx, m, bot.StatusComplete)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.History(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || h[0].ID != id || h[0].Text != "hello there" || h[0].Role != bot.RoleUser ||
		h[0].AuthorName != "Ana" || h[0].Status != bot.StatusComplete || h[0].TokenEncoding != EncodingO200k ||
		h[0].TokenCount != s.CountTokens("gpt-4o", "hello there") || !h[0].CreatedAt.Equal(m.Time) {
		t.Fatalf("history = %+v", h)
	}
	// A redelivery stores nothing new.
	id2, err := s.SaveUserMessage(ctx, m, bot.StatusComplete)
	if err != nil || id2 != id {
		t.Fatalf("second save = %d, %v; want %d", id2, err, id)
	}
	if h, _ := s.History(ctx, key); len(h) != 1 {
		t.Fatalf("%d messages after redelivery", len(h))
	}
	if _, err := s.SaveUserMessage(ctx, bot.Message{Platform: bot.PlatformSlack}, bot.StatusComplete); err == nil {
		t.Fatal("invalid message accepted")
	}
	if _, err := s.SaveUserMessage(ctx, m, bot.StatusStreaming); err == nil {
		t.Fatal("streaming user message accepted")
	}
	// Another workspace with the same channel and thread IDs is another thread.
	other := key
	other.Workspace = "T2"
	if h, err := s.History(ctx, other); err != nil || len(h) != 0 {
		t.Fatal("history leaked across workspaces")
	}
	if _, err := s.Prompt(ctx, other, bot.PromptOptions{Model: "gpt-4o"}); !errors.Is(err, ErrNoMessages) {
		t.Fatalf("prompt of empty thread: %v, want ErrNoMessages", err)
	}
}

func TestReplyStatusesAndPromptSelection(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, Options{Policy: PolicyTruncate})
	key := testKey("r")
	save := func(id, text string, st bot.Status) {
		t.Helper()
		if _, err := s.SaveUserMessage(ctx, userMsg(key, id, "José María", text), st); err != nil {
			t.Fatal(err)
		}
	}
	reply := func(out bot.ReplyOutcome) int64 {
		t.Helper()
		id, err := s.BeginReply(ctx, key, 0, "gpt-4o")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ReplyMessages(ctx, id, []string{"p1", "p2"}); err != nil {
			t.Fatal(err)
		}
		if out.Status != "" {
			if err := s.FinishReply(ctx, id, out); err != nil {
				t.Fatal(err)
			}
		}
		return id
	}
	save("u1", "first question", bot.StatusComplete)
	reply(bot.ReplyOutcome{Text: "first answer", Status: bot.StatusComplete, MessageIDs: []string{"p1"},
		Usage: bot.Usage{Model: "gpt-4o-2024-08-06", PromptTokens: 20, CompletionTokens: 3}})
	save("u2", "bad words", bot.StatusFiltered)
	reply(bot.ReplyOutcome{Text: "⚠ message blocked", Status: bot.StatusRefused})
	save("u3", "second question", bot.StatusComplete)
	reply(bot.ReplyOutcome{Status: bot.StatusFailed, Error: "upstream timed out"})
	save("u4", "third question", bot.StatusComplete)
	reply(bot.ReplyOutcome{Text: "partial answ\n⚠ reply interrupted", Status: bot.StatusPartial, Error: "timeout"})
	save("u5", "fourth question", bot.StatusComplete)
	streaming := reply(bot.ReplyOutcome{}) // still streaming

	p, err := s.Prompt(ctx, key, bot.PromptOptions{Model: "gpt-4o", SystemPrompt: "Be brief."})
	if err != nil {
		t.Fatal(err)
	}
	want := []bot.ChatMessage{
		{Role: bot.RoleSystem, Content: "Be brief."},
		{Role: bot.RoleUser, Name: "Jose_Maria", Content: "first question"},
		{Role: bot.RoleAssistant, Content: "first answer"},
		{Role: bot.RoleUser, Name: "Jose_Maria", Content: "second question"},
		{Role: bot.RoleUser, Name: "Jose_Maria", Content: "third question"},
		{Role: bot.RoleAssistant, Content: "partial answ\n⚠ reply interrupted"},
		{Role: bot.RoleUser, Name: "Jose_Maria", Content: "fourth question"},
	}
	if !equalMessages(p.Messages, want) {
		t.Fatalf("prompt messages:\n%+v\nwant\n%+v", p.Messages, want)
	}
	if p.Evicted != 0 || p.Tokens != s.CountMessages("gpt-4o", p.Messages) {
		t.Fatalf("evicted %d tokens %d, want 0 and %d", p.Evicted, p.Tokens, s.CountMessages("gpt-4o", p.Messages))
	}
	if p.MaxOutput != DefaultMaxOutputTokens || p.Budget != 128000-DefaultMaxOutputTokens-DefaultMarginTokens {
		t.Fatalf("budget %d max output %d", p.Budget, p.MaxOutput)
	}

	pending, err := s.InterruptedReplies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || pending[0].ID != streaming || pending[0].Thread != key ||
		strings.Join(pending[0].MessageIDs, ",") != "p1,p2" || pending[0].Model != "gpt-4o" {
		t.Fatalf("interrupted = %+v", pending)
	}
	if err := s.ReplyProgress(ctx, streaming, "so far"); err != nil {
		t.Fatal(err)
	}
	if pending, _ := s.InterruptedReplies(ctx); pending[0].Text != "so far" {
		t.Fatalf("progress text %q", pending[0].Text)
	}
	if err := s.FinishReply(ctx, streaming, bot.ReplyOutcome{Text: "so far\n⚠ interrupted", Status: bot.StatusInterrupted, MessageIDs: []string{"p1", "p2"}}); err != nil {
		t.Fatal(err)
	}
	if pending, _ := s.InterruptedReplies(ctx); len(pending) != 0 {
		t.Fatalf("still pending: %+v", pending)
	}
	if err := s.FinishReply(ctx, streaming, bot.ReplyOutcome{Status: bot.StatusStreaming}); err == nil {
		t.Fatal("finishing as streaming accepted")
	}
	if err := s.FinishReply(ctx, 999999, bot.ReplyOutcome{Status: bot.StatusComplete}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("finish unknown reply: %v", err)
	}

	h, err := s.History(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 10 {
		t.Fatalf("%d stored messages, want 10", len(h))
	}
	first := h[1]
	if first.Status != bot.StatusComplete || first.Model != "gpt-4o-2024-08-06" || first.PromptTokens != 20 ||
		first.CompletionTokens != 3 || strings.Join(first.PlatformMessageIDs, ",") != "p1" ||
		first.TokenCount != s.CountTokens("gpt-4o", "first answer") {
		t.Fatalf("first reply stored as %+v", first)
	}
	if h[5].Status != bot.StatusFailed || h[5].Error != "upstream timed out" {
		t.Fatalf("failed reply stored as %+v", h[5])
	}
	active, err := s.ThreadActive(ctx, key)
	if err != nil || !active {
		t.Fatalf("ThreadActive = %v, %v", active, err)
	}
	if active, _ := s.ThreadActive(ctx, testKey("none")); active {
		t.Fatal("empty thread reported active")
	}
}

func equalMessages(a, b []bot.ChatMessage) bool {
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

func TestRestartKeepsHistoryAndCacheMatchesDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parley.db")
	opts := Options{Path: path, Models: smallModels(), MaxOutputTokens: 1024, Policy: PolicyTruncate, CacheThreads: 1}
	s := openStore(t, opts)
	key := testKey("restart")
	for n := 1; n <= 40; n++ {
		exchange(t, s, key, n, "turn "+filler(n, 30), "answer "+filler(n+1, 40))
		// Another thread pushes this one out of the one-entry cache now and then.
		if n%7 == 0 {
			exchange(t, s, testKey("other"), n, "x", "y")
		}
	}
	if err := s.EditUserMessage(ctx, key, "m40", "edited last question"); err != nil {
		t.Fatal(err)
	}
	before, err := s.Prompt(ctx, key, bot.PromptOptions{Model: smallModel, SystemPrompt: "sys"})
	if err != nil {
		t.Fatal(err)
	}
	if before.Evicted == 0 {
		t.Fatal("expected evictions with a 4k window")
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := openStore(t, opts)
	after, err := s2.Prompt(ctx, key, bot.PromptOptions{Model: smallModel, SystemPrompt: "sys"})
	if err != nil {
		t.Fatal(err)
	}
	if !equalMessages(before.Messages, after.Messages) || before.Tokens != after.Tokens || before.Evicted != after.Evicted {
		t.Fatalf("prompt changed across restart: %d/%d tokens, %d/%d evicted", before.Tokens, after.Tokens, before.Evicted, after.Evicted)
	}
	if last := after.Messages[len(after.Messages)-2]; last.Content != "edited last question" {
		t.Fatalf("last message %q", last.Content)
	}
	h, _ := s2.History(ctx, key)
	if len(h) != 80 {
		t.Fatalf("%d messages after restart, want 80", len(h))
	}
	if err := s2.EditUserMessage(ctx, key, "missing", "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("edit of unknown message: %v", err)
	}
}

func TestResetThreadForgetsHistoryKeepsOverrides(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, Options{Policy: PolicyTruncate})
	key := testKey("reset")
	model, sys := "gpt-4", "You are terse."
	if err := s.SetThreadOverrides(ctx, key, &model, &sys); err != nil {
		t.Fatal(err)
	}
	exchange(t, s, key, 1, "remember 42", "ok")
	if err := s.ResetThread(ctx, key); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.History(ctx, key); len(h) != 0 {
		t.Fatalf("%d messages after reset", len(h))
	}
	if _, err := s.Prompt(ctx, key, bot.PromptOptions{Model: "gpt-4o"}); !errors.Is(err, ErrNoMessages) {
		t.Fatalf("prompt after reset: %v", err)
	}
	if _, err := s.SaveUserMessage(ctx, userMsg(key, "m9", "Ana", "hi"), bot.StatusComplete); err != nil {
		t.Fatal(err)
	}
	p, err := s.Prompt(ctx, key, bot.PromptOptions{Model: "gpt-4o", SystemPrompt: "default"})
	if err != nil {
		t.Fatal(err)
	}
	// gpt-4: cl100k, 8,192 window, 4,096 reserved (half the window).
	if p.Messages[0].Content != sys || len(p.Messages) != 2 || p.Budget != 8192-4096-64 ||
		p.Tokens != s.CountMessages("gpt-4", p.Messages) {
		t.Fatalf("prompt after reset = %+v", p)
	}
	if m, _ := s.PromptModel(ctx, key, "gpt-4o"); m != "gpt-4" {
		t.Fatalf("PromptModel = %q", m)
	}
	empty := ""
	if err := s.SetThreadOverrides(ctx, key, &empty, nil); err != nil {
		t.Fatal(err)
	}
	if m, sp, _ := s.ThreadOverrides(ctx, key); m != "" || sp != sys {
		t.Fatalf("overrides = %q, %q", m, sp)
	}
	if err := s.ResetThread(ctx, testKey("never-used")); err != nil {
		t.Fatalf("reset of unknown thread: %v", err)
	}
}
