package discord

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parley-bot/parley/adapters/discord/discordfake"
)

func TestDisallowedIntentEndsRun(t *testing.T) {
	f := newFake(t, discordfake.Options{DenyMessageContent: true})
	ad, err := New(testOptions(f), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = ad.Run(ctx, newRecorder())
	var fe *FatalCloseError
	if !errors.As(err, &fe) || fe.Code != 4014 {
		t.Fatalf("Run = %v, want a *FatalCloseError with code 4014", err)
	}
	for _, want := range []string{"4014", "Message Content intent", "Developer Portal", "discord.message_content_intent = false"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if ids, _, _ := f.GatewayStats(); ids != 1 {
		t.Errorf("identified %d times, want 1 (no retry of a fatal close)", ids)
	}

	// Without the privileged intent the same bot connects and still gets
	// mentions, whose content Discord sends regardless.
	opts := testOptions(f)
	opts.MessageContentIntent = false
	rec := newRecorder()
	start(t, f, opts, rec)
	if got := f.Intents(); got&(1<<15) != 0 {
		t.Errorf("intents %b include MESSAGE_CONTENT", got)
	}
	f.Send(chanID, aliceID, mention(f.BotUser().ID)+" still works")
	rec.wait(t, "mention without the content intent", func() bool { return len(rec.messages) == 1 })
	if rec.msg(0).Text != "still works" {
		t.Errorf("text = %q", rec.msg(0).Text)
	}
}

func TestBadTokenEndsRun(t *testing.T) {
	f := newFake(t, discordfake.Options{})
	opts := testOptions(f)
	opts.Token = "wrong"
	ad, err := New(opts, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = ad.Run(ctx, newRecorder())
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "discord.token") {
		t.Fatalf("Run = %v, want the rejected token named", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error leaks the token: %v", err)
	}
}

func TestResumeReplayIsDeduplicated(t *testing.T) {
	f := newFake(t, discordfake.Options{})
	rec := newRecorder()
	start(t, f, testOptions(f), rec)

	id := f.Send(chanID, aliceID, mention(f.BotUser().ID)+" once")
	rec.wait(t, "mention", func() bool { return len(rec.messages) == 1 })
	key := rec.msg(0).Key()

	// Discord asks for a reconnect; the session resumes and, here, replays
	// everything: the adapter must hand the engine the same DedupeID.
	f.ReplayAllOnNextResume()
	f.Reconnect()
	rec.wait(t, "the replayed mention", func() bool { return rec.dupes == 1 })
	ids, resumes, _ := f.GatewayStats()
	if ids != 1 || resumes != 1 {
		t.Errorf("identifies %d resumes %d, want 1 and 1", ids, resumes)
	}
	msgs, _, _, _, _ := rec.snapshot()
	if len(msgs) != 1 || msgs[0].ID != id || msgs[0].Key() != key {
		t.Errorf("messages = %+v", msgs)
	}
	if n := f.Stats().ThreadsOpened; n != 1 {
		t.Errorf("threads opened = %d, want 1", n)
	}

	// Still connected after the resume.
	f.Send(dmID, aliceID, "after resume")
	rec.wait(t, "DM after resume", func() bool { return len(rec.messages) == 2 })
}

func TestInvalidSessionIdentifiesAgain(t *testing.T) {
	f := newFake(t, discordfake.Options{})
	rec := newRecorder()
	start(t, f, testOptions(f), rec)

	f.InvalidateSession(false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.Wait(ctx, func() bool { ids, _, ready := f.GatewayStats(); return ids == 2 && ready }); err != nil {
		t.Fatalf("no second IDENTIFY after INVALID_SESSION: %v", err)
	}
	f.Send(dmID, aliceID, "new session")
	rec.wait(t, "DM in the new session", func() bool { return len(rec.messages) == 1 })
}

func TestNonFatalCloseReconnects(t *testing.T) {
	f := newFake(t, discordfake.Options{})
	rec := newRecorder()
	h := start(t, f, testOptions(f), rec)

	f.CloseGateway(4000, "Unknown error")
	h.waitFake(t, "resume after close 4000", func() bool { _, r, ready := f.GatewayStats(); return r == 1 && ready })
	f.Send(dmID, aliceID, "back")
	rec.wait(t, "DM after reconnect", func() bool { return len(rec.messages) == 1 })
}
