package slack

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parley-bot/parley/adapters/slack/slackfake"
	"github.com/parley-bot/parley/bot"
	"github.com/parley-bot/parley/internal/testrig"
	"github.com/parley-bot/parley/llm/fakeopenai"
)

// startStreamE2E is startE2E with slack.streaming = mode, against a fake
// that refuses chat.startStream with refuse (when not "").
func startStreamE2E(t *testing.T, mode, refuse string, ro testrig.Options) *e2e {
	t.Helper()
	fake := newFake(t, slackfake.Options{EchoBotMessages: true})
	fake.RefuseStreaming(refuse)
	return attachE2E(t, fake, testrig.New(t, ro), 1, func(o *Options) { o.Streaming = mode })
}

// stream_api: a mention is answered by chat.startStream, appends and
// chat.stopStream (no chat.update); the message shows the model's
// Markdown; the next mention in the thread sees the history.
func TestE2EStreamAPIMention(t *testing.T) {
	answer := longAnswer(30)
	e := startStreamE2E(t, StreamingStreamAPI, "", testrig.Options{Model: fakeopenai.Options{
		ChunkDelay: 40 * time.Millisecond,
		Answer:     func(fakeopenai.Request) string { return answer },
	}})
	root := "1700003000.000001"
	m := e.askInNewThread("C1", root, "<@UBOT> first question")
	if !m.Streamed || m.Streaming {
		t.Errorf("message streamed %v, still streaming %v", m.Streamed, m.Streaming)
	}
	if m.Text != answer {
		t.Errorf("final text\n got %q\nwant %q", m.Text, answer)
	}
	if m.Recipient != "U1" {
		t.Errorf("stream recipient %q, want the author U1", m.Recipient)
	}
	var starts, appends, stops int
	for _, c := range e.fake.StreamCalls() {
		if c.Error != "" {
			t.Errorf("%s answered %s", c.Method, c.Error)
		}
		switch c.Method {
		case "chat.startStream":
			starts++
		case "chat.appendStream":
			appends++
		case "chat.stopStream":
			stops++
		}
	}
	if starts != 1 || appends < 2 || stops != 1 {
		t.Errorf("%d starts, %d appends, %d stops; want 1, at least 2, 1", starts, appends, stops)
	}
	if n := e.fake.Calls("chat.update"); n != 0 {
		t.Errorf("%d chat.update calls while streaming", n)
	}
	for i := 1; i < len(m.History); i++ {
		if !strings.HasPrefix(m.History[i], m.History[i-1]) {
			t.Errorf("version %d does not extend the one before", i)
		}
	}

	e.send("", mention("C1", "U2", "<@UBOT> and the second?", "1700003001.000001", root))
	e.idle()
	reqs := e.rig.Model.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d model requests, want 2", len(reqs))
	}
	var sawQ, sawA bool
	for _, msg := range reqs[1].Messages {
		sawQ = sawQ || (msg.Role == "user" && strings.Contains(msg.Content, "first question"))
		sawA = sawA || (msg.Role == "assistant" && msg.Content == answer)
	}
	if !sawQ || !sawA {
		t.Errorf("second request lacks the thread's history (question %v, answer %v)", sawQ, sawA)
	}
	thread := e.fake.Thread("C1", root)
	if len(thread) != 2 || thread[1].Recipient != "U2" {
		t.Errorf("thread after two mentions: %+v", thread)
	}
	// The echoed stream events of the bot never became messages.
	if n := len(e.rig.History(bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T0001", Channel: "C1", Thread: root})); n != 4 {
		t.Errorf("stored %d messages in the thread, want 2 questions and 2 answers", n)
	}
}

// auto, in a workspace that refuses chat.startStream: the reply is
// posted and edited, complete; the next reply does not ask again.
func TestE2EAutoFallsBackToEdits(t *testing.T) {
	answer := longAnswer(40)
	e := startStreamE2E(t, StreamingAuto, "unknown_method", testrig.Options{Model: fakeopenai.Options{
		ChunkDelay: 40 * time.Millisecond,
		Answer:     func(fakeopenai.Request) string { return answer },
	}})
	for i, root := range []string{"1700004000.000001", "1700004001.000001"} {
		e.send("", mention("C1", "U1", "<@UBOT> question", root, ""))
		e.idle()
		msgs := e.fake.Thread("C1", root)
		if len(msgs) != 1 {
			t.Fatalf("reply %d: thread holds %d bot messages, want 1", i, len(msgs))
		}
		if m := msgs[0]; m.Streamed || m.Text != ToMrkdwn(answer) || len(m.History) < 2 {
			t.Errorf("reply %d: streamed %v, %d versions, final %q", i, m.Streamed, len(m.History), m.Text)
		}
	}
	if n := e.fake.Calls("chat.startStream"); n != 1 {
		t.Errorf("%d chat.startStream calls, want 1 (the refusal is remembered)", n)
	}
}

func streamOutbox(t *testing.T, mode string) (*Adapter, *slackfake.Fake) {
	t.Helper()
	fake := newFake(t, slackfake.Options{EditsPerMinute: -1})
	opts := baseOptions(fake)
	opts.Streaming = mode
	a, err := New(opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a, fake
}

func TestCanStream(t *testing.T) {
	for _, tc := range []struct {
		mode   string
		thread bot.ThreadKey
		want   bool
	}{
		{StreamingAuto, bot.ThreadKey{Channel: "C1", Thread: "1.2"}, true},
		{StreamingStreamAPI, bot.ThreadKey{Channel: "D1", Thread: "1.2"}, true},
		{StreamingAuto, bot.ThreadKey{Channel: "D1", Thread: "D1"}, false}, // a DM without thread
		{StreamingEdit, bot.ThreadKey{Channel: "C1", Thread: "1.2"}, false},
	} {
		a, _ := streamOutbox(t, tc.mode)
		if got := a.CanStream(tc.thread); got != tc.want {
			t.Errorf("%s %+v: CanStream = %v", tc.mode, tc.thread, got)
		}
	}
}

// Text longer than markdown_text's 12,000 characters goes out in several
// calls; the message ends up with all of it.
func TestStreamLongMarkdownInParts(t *testing.T) {
	a, fake := streamOutbox(t, StreamingStreamAPI)
	ctx := t.Context()
	th := bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T0001", Channel: "C1", Thread: "1700005000.000001"}
	first := strings.Repeat("é", 13000)
	last := strings.Repeat("b", 25000)
	id, err := a.StartStream(ctx, th, bot.Recipient{UserID: "U1", TeamID: "T0001"}, first)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.AppendStream(ctx, th, id, "x"); err != nil {
		t.Fatal(err)
	}
	if err := a.StopStream(ctx, th, id, last); err != nil {
		t.Fatal(err)
	}
	msgs := fake.Thread("C1", th.Thread)
	if len(msgs) != 1 || msgs[0].Text != first+"x"+last || msgs[0].Streaming {
		t.Fatalf("message %d chars, streaming %v", len(msgs[0].Text), msgs[0].Streaming)
	}
	calls := fake.StreamCalls()
	if len(calls) != 6 { // start, append, append x, append, append, stop
		t.Errorf("%d calls", len(calls))
	}
	// An append after the stop is refused by Slack, as an ordinary error.
	err = a.AppendStream(ctx, th, id, "late")
	if err == nil || errors.Is(err, bot.ErrStreamUnsupported) || !strings.Contains(err.Error(), "message_not_in_streaming_state") {
		t.Errorf("append after stop: %v", err)
	}
}

// Slack's refusals map to StreamUnsupportedError with their extent.
func TestStreamRefusals(t *testing.T) {
	th := bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T0001", Channel: "C1", Thread: "1700006000.000001"}
	ana := bot.Recipient{UserID: "U1"}
	for _, tc := range []struct {
		code  string
		rcpt  bot.Recipient
		scope bot.Scope
		once  bool
	}{
		{"unknown_method", ana, bot.ScopeWorkspace, false},
		{"not_allowed_token_type", ana, bot.ScopeWorkspace, false},
		{"channel_type_not_supported", ana, bot.ScopeChannel, false},
		{"", bot.Recipient{}, 0, true}, // no recipient known in a channel
	} {
		t.Run(tc.code, func(t *testing.T) {
			a, fake := streamOutbox(t, StreamingStreamAPI)
			fake.RefuseStreaming(tc.code)
			_, err := a.StartStream(t.Context(), th, tc.rcpt, "hello")
			var su *bot.StreamUnsupportedError
			if !errors.As(err, &su) || !errors.Is(err, bot.ErrStreamUnsupported) {
				t.Fatalf("StartStream error %v", err)
			}
			if su.OnlyThisReply != tc.once || (!tc.once && su.Scope != tc.scope) {
				t.Errorf("refusal %+v", su)
			}
		})
	}
	// Other errors are not refusals.
	a, fake := streamOutbox(t, StreamingAuto)
	fake.RefuseStreaming("is_archived")
	if _, err := a.StartStream(t.Context(), th, ana, "hello"); err == nil || errors.Is(err, bot.ErrStreamUnsupported) {
		t.Errorf("is_archived: %v", err)
	}
	// The recipient defaults to the thread's latest author.
	a.rememberAuthor(th, "U2")
	fake.RefuseStreaming("")
	if _, err := a.StartStream(t.Context(), th, bot.Recipient{}, "hello"); err != nil {
		t.Fatal(err)
	}
	if m := fake.Thread("C1", th.Thread); len(m) != 1 || m[0].Recipient != "U2" {
		t.Errorf("stream %+v, want recipient U2", m)
	}
}
