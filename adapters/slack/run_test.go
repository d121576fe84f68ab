package slack

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/parley-bot/parley/adapters/slack/slackfake"
	"github.com/parley-bot/parley/bot"
)

func TestSlashCommandAnsweredInAck(t *testing.T) {
	h := startSocket(t, slackfake.Options{}, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	raw, err := h.fake.SendSlashCommand(ctx, h.fake.SlashCommand("C1", "U1", "/parley", " help ", "r1"))
	if err != nil {
		t.Fatalf("slash command not acked in time: %v", err)
	}
	var p commandPayload
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatalf("ack payload %s: %v", raw, err)
	}
	if p.ResponseType != "ephemeral" || p.Text != "help: *reset*, quota" {
		t.Errorf("ack payload %+v, want the ephemeral answer in mrkdwn", p)
	}
	_, _, _, cmds := h.rec.snapshot()
	want := bot.Command{Thread: bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T0001", Channel: "C1"},
		UserID: "U1", UserName: "Ana", Text: "help"}
	if len(cmds) != 1 || cmds[0] != want {
		t.Errorf("commands %+v, want [%+v]", cmds, want)
	}
}

func TestSlowSlashCommandAnswersViaResponseURL(t *testing.T) {
	h := startSocket(t, slackfake.Options{}, func(o *Options) { o.CommandAckWait = 50 * time.Millisecond })
	h.rec.release = make(chan struct{})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	raw, err := h.fake.SendSlashCommand(ctx, h.fake.SlashCommand("D1", "U1", "/parley", "reset", "r2"))
	if err != nil {
		t.Fatalf("slow command not acked in time: %v", err)
	}
	if len(raw) != 0 && string(raw) != "null" {
		t.Errorf("ack payload %s, want empty (answer comes later)", raw)
	}
	close(h.rec.release)
	eventually(t, "response_url post", func() bool { return len(h.fake.Responses()) == 1 })
	r := h.fake.Responses()[0]
	if r.ID != "r2" || r.ResponseType != "ephemeral" || !strings.Contains(r.Text, "reset") {
		t.Errorf("response %+v", r)
	}
	_, _, _, cmds := h.rec.snapshot()
	if cmds[0].Thread.Thread != "D1" {
		t.Errorf("DM command thread %q, want the DM channel", cmds[0].Thread.Thread)
	}
}

func TestSlashCommandAdmin(t *testing.T) {
	for _, tc := range []struct {
		name   string
		admins []string
		user   string
		want   bool
	}{
		{"listed", []string{"U2"}, "U2", true},
		{"workspace admin not listed", []string{"U2"}, "UADMIN", false},
		{"workspace admin, no list", nil, "UADMIN", true},
		{"workspace owner, no list", nil, "UOWNER", true},
		{"member, no list", nil, "U1", false},
		{"unknown user, no list", nil, "UNOBODY", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startSocket(t, slackfake.Options{}, func(o *Options) { o.Admins = tc.admins })
			h.rec.answer = func(c bot.Command) bot.CommandResult {
				if !c.IsAdmin {
					return bot.CommandResult{Text: "only admins may do that", Ephemeral: true}
				}
				return bot.CommandResult{Text: "done", Ephemeral: true}
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			raw, err := h.fake.SendSlashCommand(ctx, h.fake.SlashCommand("C1", tc.user, "/parley", "quota set @ana 10", "r"))
			if err != nil {
				t.Fatal(err)
			}
			_, _, _, cmds := h.rec.snapshot()
			if cmds[0].IsAdmin != tc.want {
				t.Errorf("IsAdmin %v, want %v", cmds[0].IsAdmin, tc.want)
			}
			if refused := strings.Contains(string(raw), "only admins"); refused == tc.want {
				t.Errorf("ack %s: refused=%v for admin=%v", raw, refused, tc.want)
			}
		})
	}
}

func TestSocketReconnects(t *testing.T) {
	h := startSocket(t, slackfake.Options{}, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	if err := h.fake.Disconnect(ctx, "refresh_requested"); err != nil {
		t.Fatal(err)
	}
	if err := h.fake.WaitConnections(ctx, 2); err != nil {
		t.Fatal(err)
	}
	h.send(message("D1", "im", "U1", "after refresh", "1700000800.000001", ""))

	h.fake.DropSocket()
	if err := h.fake.WaitConnections(ctx, 3); err != nil {
		t.Fatal(err)
	}
	h.send(message("D1", "im", "U1", "after drop", "1700000801.000001", ""))
	// A redelivery after the reconnect is not a second message.
	h.send(message("D1", "im", "U1", "after drop", "1700000801.000001", ""))
	h.settle(3)
	if n := len(h.rec.messages()); n != 2 {
		t.Fatalf("got %d messages, want 2", n)
	}
}

func TestFatalAuthStopsRun(t *testing.T) {
	for _, tc := range []struct {
		name    string
		revoke  string
		mutate  func(*Options)
		wantErr []string
	}{
		{"revoked bot token", "token_revoked", nil, []string{"token_revoked", "slack.bot_token", "reinstall"}},
		{"inactive account", "account_inactive", nil, []string{"account_inactive"}},
		{"wrong bot token", "", func(o *Options) { o.BotToken = "xoxb-wrong" }, []string{"invalid_auth", "slack.bot_token"}},
		{"wrong app token", "", func(o *Options) { o.AppToken = "xapp-wrong" }, []string{"invalid_auth", "slack.app_token"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFake(t, slackfake.Options{})
			if tc.revoke != "" {
				fake.Revoke(tc.revoke)
			}
			opts := baseOptions(fake)
			if tc.mutate != nil {
				tc.mutate(&opts)
			}
			a, err := New(opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			err = a.Run(ctx, newRecorder())
			if err == nil || ctx.Err() != nil {
				t.Fatalf("Run = %v (ctx %v), want a fatal error", err, ctx.Err())
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "xoxb-") || strings.Contains(err.Error(), "xapp-") {
				t.Errorf("error %q contains a token", err)
			}
		})
	}
}

func TestRevokedWhileConnectedStopsRun(t *testing.T) {
	h := startSocket(t, slackfake.Options{}, nil)
	h.fatalExpected = true
	h.fake.Revoke("token_revoked")
	h.fake.DropSocket() // the reconnect's apps.connections.open is refused
	err := h.exit()
	if err == nil || !strings.Contains(err.Error(), "token_revoked") || !strings.Contains(err.Error(), "slack.app_token") {
		t.Fatalf("Run = %v, want a token_revoked error naming the app token", err)
	}
}
