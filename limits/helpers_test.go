package limits

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/parley-bot/parley/bot"
	"github.com/parley-bot/parley/conversation"
)

// openStore opens a real conversation store with this package's
// migrations, as the daemon does.
func openStore(t testing.TB, path string) *conversation.Store {
	t.Helper()
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	s, err := conversation.Open(context.Background(), conversation.Options{
		Path: path, Policy: conversation.PolicyTruncate, Migrations: ms,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func closeStore(t testing.TB, s *conversation.Store) {
	t.Helper()
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func tempDB(t testing.TB) string { return filepath.Join(t.TempDir(), "parley.db") }

func msg(channel, user string) bot.Message {
	return bot.Message{Platform: bot.PlatformSlack, Workspace: "T1", Channel: channel, ID: "1", AuthorID: user, AuthorName: user, Text: "hi"}
}
