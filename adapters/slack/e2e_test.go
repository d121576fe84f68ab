package slack

// End-to-end acceptance tests of issue 3: the adapter, through slack-go,
// against the fake Slack, with the real engine, store, model client and
// renderer from internal/testrig.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-bot/parley/adapters/slack/slackfake"
	"github.com/parley-bot/parley/bot"
	"github.com/parley-bot/parley/internal/testrig"
	"github.com/parley-bot/parley/llm/fakeopenai"
)

type e2e struct {
	t    testing.TB
	fake *slackfake.Fake
	rig  *testrig.Rig
	a    *Adapter
	done <-chan error
	base int // events the fake had delivered before this adapter ran
}

// startE2E runs an adapter on a rig against a fake Slack that echoes the
// bot's own posts and updates back as events, as Slack does.
func startE2E(t testing.TB, fo slackfake.Options, ro testrig.Options) *e2e {
	t.Helper()
	fo.EchoBotMessages = true
	fake := newFake(t, fo)
	return attachE2E(t, fake, testrig.New(t, ro), 1, nil)
}

// attachE2E runs an adapter (baseOptions changed by mutate, when given) on
// rig and waits for its conn-th Socket Mode connection.
func attachE2E(t testing.TB, fake *slackfake.Fake, rig *testrig.Rig, conn int, mutate func(*Options)) *e2e {
	t.Helper()
	opts := baseOptions(fake)
	if mutate != nil {
		mutate(&opts)
	}
	a, err := New(opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := fake.EventsSent()
	done := rig.Run(a)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := fake.WaitConnections(ctx, conn); err != nil {
		t.Fatal(err)
	}
	return &e2e{t: t, fake: fake, rig: rig, a: a, done: done, base: base}
}

func (e *e2e) send(eventID string, inner map[string]any) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 10*time.Second)
	defer cancel()
	if err := e.fake.SendEvent(ctx, eventID, inner); err != nil {
		e.t.Fatalf("send event: %v", err)
	}
}

// askInNewThread mentions the bot in a new thread at root, waits until
// everything is answered and returns the thread's only bot message.
func (e *e2e) askInNewThread(channel, root, text string) slackfake.Message {
	e.t.Helper()
	e.send("", mention(channel, "U1", text, root, ""))
	e.idle()
	msgs := e.fake.Thread(channel, root)
	if len(msgs) != 1 {
		e.t.Fatalf("thread holds %d bot messages, want 1: %+v", len(msgs), msgs)
	}
	return msgs[0]
}

// idle waits until the adapter has processed every event the fake
// delivered to it (echoes of the bot's own messages included) and the
// engine has answered everything accepted.
func (e *e2e) idle() {
	e.t.Helper()
	// Counted from what the fake wrote, not what it saw acked: an echo of
	// the bot's own message can be processed before its ack is counted.
	target := int64(e.fake.EventsSent() - e.base)
	eventually(e.t, "events processed", func() bool { return e.a.processed.Load() >= target })
	e.rig.Idle(30 * time.Second)
}

func longAnswer(words int) string {
	var b strings.Builder
	b.WriteString("Here is **the plan** for _today_:\n\n1. Read the [docs](https://go.dev/doc)\n2. Write `main.go`\n\n")
	b.WriteString("```go\nfunc main() {\n\tprintln(\"hi\")\n}\n```\n\n")
	for i := range words {
		fmt.Fprintf(&b, "word%d ", i)
	}
	return strings.TrimSpace(b.String())
}

func fencesBalanced(s string) bool {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) == "```" {
			n++
		}
	}
	return n%2 == 0
}

func TestE2EMentionStreamsAndRemembers(t *testing.T) {
	answer := longAnswer(40)
	e := startE2E(t, slackfake.Options{}, testrig.Options{Model: fakeopenai.Options{
		ChunkDelay: 20 * time.Millisecond,
		Answer:     func(fakeopenai.Request) string { return answer },
	}})
	root := "1700002000.000001"
	m := e.askInNewThread("C1", root, "<@UBOT> first question")
	want := ToMrkdwn(answer)
	if m.Text != want {
		t.Errorf("final text\n got %q\nwant %q", m.Text, want)
	}
	if len(m.History) < 3 || m.History[0] == want {
		t.Errorf("history %q: want a placeholder and at least 2 updates", m.History)
	}

	e.send("", mention("C1", "U2", "<@UBOT> and the second?", "1700002001.000001", root))
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
		t.Errorf("second request lacks the thread's history (question %v, answer %v): %+v", sawQ, sawA, reqs[1].Messages)
	}
	if got := len(e.fake.Thread("C1", root)); got != 2 {
		t.Errorf("thread holds %d bot messages after two mentions, want 2", got)
	}
	// The echoed posts and updates of the bot never became messages.
	if n := len(e.rig.History(bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T0001", Channel: "C1", Thread: root})); n != 4 {
		t.Errorf("stored %d messages in the thread, want 2 questions and 2 answers", n)
	}
}

func TestE2EDirectMessageThreeTurns(t *testing.T) {
	e := startE2E(t, slackfake.Options{}, testrig.Options{Model: fakeopenai.Options{
		ChunkDelay: time.Millisecond,
		Answer: func(r fakeopenai.Request) string {
			n := 0
			for _, m := range r.Messages {
				if m.Role == "user" {
					n++
				}
			}
			return fmt.Sprintf("answer %d to %s", n, r.LastUserMessage())
		},
	}})
	for i := 1; i <= 3; i++ {
		e.send("", message("D1", "im", "U1", fmt.Sprintf("turn %d", i), fmt.Sprintf("1700002100.%06d", i), ""))
		// The reply is complete before the next turn, as in a real DM.
		want := fmt.Sprintf("answer %d to turn %d", i, i)
		eventually(t, want, func() bool {
			msgs := e.fake.Messages("D1")
			return len(msgs) >= i && strings.HasSuffix(msgs[i-1].Text, want)
		})
		e.idle()
	}
	msgs := e.fake.Messages("D1")
	if len(msgs) != 3 {
		t.Fatalf("%d DM replies, want 3", len(msgs))
	}
	for i, m := range msgs {
		if m.ThreadTS != "" {
			t.Errorf("reply %d posted in thread %s, want the DM itself", i+1, m.ThreadTS)
		}
		if want := fmt.Sprintf("answer %d to turn %d", i+1, i+1); !strings.HasSuffix(m.Text, want) {
			t.Errorf("reply %d = %q, want it to end in %q", i+1, m.Text, want)
		}
	}
}

func TestE2EExactlyOnceAcrossRestart(t *testing.T) {
	fake := newFake(t, slackfake.Options{EchoBotMessages: true})
	ro := testrig.Options{Model: fakeopenai.Options{ChunkDelay: time.Millisecond}}
	rig := testrig.New(t, ro)
	e := attachE2E(t, fake, rig, 1, nil)
	root := "1700002200.000001"
	ev := mention("C1", "U1", "<@UBOT> once please", root, "")
	for range 3 {
		e.send("EvDup", ev)
	}
	e.send("EvDupMsg", message("C1", "channel", "U1", "<@UBOT> once please", root, ""))
	e.idle()
	if n := len(fake.Thread("C1", root)); n != 1 {
		t.Fatalf("%d replies after 4 deliveries, want 1", n)
	}

	rig.Stop(20 * time.Second)
	if err := <-e.done; err != nil {
		t.Fatalf("adapter Run: %v", err)
	}
	ro.DBPath = rig.DBPath
	rig2 := testrig.New(t, ro)
	e2 := attachE2E(t, fake, rig2, 2, nil)
	e2.send("EvDup", ev) // redelivered after the restart
	e2.idle()
	if n := len(fake.Thread("C1", root)); n != 1 {
		t.Errorf("%d replies after the restart's redelivery, want 1", n)
	}
	if n := len(rig2.Model.Requests()); n != 0 {
		t.Errorf("the restarted engine asked the model %d times, want 0", n)
	}
}

func TestE2ERateLimitedTwice(t *testing.T) {
	answer := longAnswer(40)
	e := startE2E(t, slackfake.Options{}, testrig.Options{Model: fakeopenai.Options{
		ChunkDelay: 20 * time.Millisecond,
		Answer:     func(fakeopenai.Request) string { return answer },
	}})
	e.fake.RateLimitNextUpdates(2, time.Second)
	root := "1700002300.000001"
	e.send("", mention("C1", "U1", "<@UBOT> go", root, ""))
	e.idle()
	msgs := e.fake.Thread("C1", root)
	if len(msgs) != 1 || msgs[0].Text != ToMrkdwn(answer) {
		t.Fatalf("thread %+v, want one message with the whole answer", msgs)
	}
	if got := e.fake.RateLimited(); got != 2 {
		t.Errorf("fake refused %d updates, want the 2 it was told to", got)
	}
	if got := e.fake.CallsInRetryWindow(); got != 0 {
		t.Errorf("%d chat.update calls inside a Retry-After window", got)
	}
}

// timedModel records when each answer's stream ended, by question.
type timedModel struct {
	bot.Model
	mu   sync.Mutex
	done map[string]time.Time
}

func (m *timedModel) Stream(ctx context.Context, req bot.ChatRequest, delta func(string)) (bot.Completion, error) {
	c, err := m.Model.Stream(ctx, req, delta)
	last := ""
	for _, msg := range req.Messages {
		if msg.Role == bot.RoleUser {
			last = msg.Content
		}
	}
	m.mu.Lock()
	m.done[last] = time.Now()
	m.mu.Unlock()
	return c, err
}

// twentyConcurrentReplies sends 20 mentions at once across 4 channels of
// one workspace at the fake's Tier-3 budget (50 chat.update a minute),
// checks that Slack refused no call and every final text is complete, and
// returns, per reply, how long after the model's last chunk its final
// text was visible. The renderer's scheduling guarantee (≤ 2 s) is proven
// in fake time by stream's TestSlackFinalLag; here the wall-clock lag is
// only reported (BenchmarkTwentyRepliesFinalLag records it).
func twentyConcurrentReplies(t testing.TB) []time.Duration {
	tm := &timedModel{done: make(map[string]time.Time)}
	e := startE2E(t, slackfake.Options{EditsPerMinute: 50}, testrig.Options{
		Model: fakeopenai.Options{
			ChunkDelay: 15 * time.Millisecond,
			Answer:     func(r fakeopenai.Request) string { return "Answer to " + r.LastUserMessage() + ": " + longAnswer(30) },
		},
		Engine: func(c *bot.EngineConfig) {
			c.MaxConcurrent = 32
			tm.Model = c.Model
			c.Model = tm
		},
	})
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ts := fmt.Sprintf("1700002400.%06d", i+1)
			e.send("", mention(fmt.Sprintf("C%d", i%4), "U1", fmt.Sprintf("<@UBOT> question %d", i), ts, ""))
		})
	}
	wg.Wait()
	e.idle()
	if got := e.fake.RateLimited(); got != 0 {
		t.Errorf("fake refused %d chat.update calls, want 0", got)
		start := e.fake.Updates()[0].At
		for _, u := range e.fake.Updates() {
			t.Logf("%8v %s/%s refused=%v tokens=%.3f", u.At.Sub(start).Round(time.Millisecond), u.Channel, u.TS, u.Refused, u.Tokens)
		}
	}
	var lags []time.Duration
	for i := range n {
		ts := fmt.Sprintf("1700002400.%06d", i+1)
		msgs := e.fake.Thread(fmt.Sprintf("C%d", i%4), ts)
		if len(msgs) != 1 {
			t.Errorf("reply %d: %d messages", i, len(msgs))
			continue
		}
		m := msgs[0]
		if !strings.HasPrefix(m.Text, fmt.Sprintf("Answer to question %d:", i)) || !strings.HasSuffix(m.Text, "word29") {
			t.Errorf("reply %d final text %q", i, m.Text)
			continue
		}
		tm.mu.Lock()
		modelDone, ok := tm.done[fmt.Sprintf("question %d", i)]
		tm.mu.Unlock()
		if !ok {
			t.Errorf("reply %d: model end not recorded", i)
			continue
		}
		lags = append(lags, m.Times[len(m.Times)-1].Sub(modelDone))
	}
	return lags
}

func TestE2ETwentyConcurrentRepliesWithinTier3(t *testing.T) {
	lags := twentyConcurrentReplies(t)
	if len(lags) > 0 {
		t.Logf("worst final-text lag over %d replies: %v", len(lags), slices.Max(lags))
	}
}

func TestE2ELongAnswerSplitsWithBalancedFences(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() < 10000; i++ {
		fmt.Fprintf(&b, "Paragraph %d explains the next step in plain words, without any special characters at all.\n\n", i)
		fmt.Fprintf(&b, "```go\nfunc step%d() {\n\tfor i := 0; i != 10; i++ {\n\t\tprintln(i)\n\t}\n}\n```\n\n", i)
	}
	answer := strings.TrimSpace(b.String())
	if len(answer) < 10000 || len(answer) > 10400 {
		t.Fatalf("answer is %d chars", len(answer))
	}
	e := startE2E(t, slackfake.Options{}, testrig.Options{Model: fakeopenai.Options{
		Answer: func(fakeopenai.Request) string { return answer },
	}})
	root := "1700002500.000001"
	e.send("", mention("C1", "U1", "<@UBOT> explain at length", root, ""))
	e.idle()
	msgs := e.fake.Thread("C1", root)
	if len(msgs) != 3 {
		t.Fatalf("%d messages in the thread, want 3", len(msgs))
	}
	for i, m := range msgs {
		if !fencesBalanced(m.Text) {
			t.Errorf("message %d has unbalanced fences:\n%s", i+1, m.Text)
		}
		if n := len([]rune(m.Text)); n > 4000 {
			t.Errorf("message %d is %d chars", i+1, n)
		}
	}
	// Together, in order, the messages are the whole answer: nothing lost
	// or repeated at the cuts.
	if got, want := testrig.Unsplit(msgs[0].Text, msgs[1].Text, msgs[2].Text), testrig.Unsplit(ToMrkdwn(answer)); got != want {
		t.Errorf("the three messages hold %d characters of the answer's %d (fences and spaces aside), or not in order", len(got), len(want))
	}
}

func TestE2ESocketDroppedMidStream(t *testing.T) {
	answer := longAnswer(80)
	e := startE2E(t, slackfake.Options{}, testrig.Options{Model: fakeopenai.Options{
		ChunkDelay: 30 * time.Millisecond,
		Answer:     func(fakeopenai.Request) string { return answer },
	}})
	root := "1700002600.000001"
	ev := mention("C1", "U1", "<@UBOT> long one", root, "")
	e.send("EvDrop", ev)
	eventually(t, "first update", func() bool {
		th := e.fake.Thread("C1", root)
		return len(th) == 1 && len(th[0].History) >= 2
	})
	e.fake.DropSocket()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := e.fake.WaitConnections(ctx, 2); err != nil {
		t.Fatal(err)
	}
	e.send("EvDrop", ev) // Slack redelivers after the reconnect
	e.idle()
	msgs := e.fake.Thread("C1", root)
	if len(msgs) != 1 || msgs[0].Text != ToMrkdwn(answer) {
		t.Fatalf("thread %+v, want one message with the whole answer", msgs)
	}
	if n := len(e.rig.Model.Requests()); n != 1 {
		t.Errorf("model asked %d times, want 1", n)
	}
}

// adminCommands adds an admin-only "quota" command, as the limits issue will.
type adminCommands struct{}

func (adminCommands) HandleCommand(_ context.Context, c bot.Command) (bot.CommandResult, bool) {
	if !strings.HasPrefix(c.Text, "quota") {
		return bot.CommandResult{}, false
	}
	if strings.HasPrefix(c.Text, "quota set") && !c.IsAdmin {
		return bot.CommandResult{Text: "Only admins may change quotas.", Ephemeral: true}, true
	}
	return bot.CommandResult{Text: "quota updated", Ephemeral: true}, true
}

func TestE2ESlashCommands(t *testing.T) {
	e := startE2E(t, slackfake.Options{}, testrig.Options{Engine: func(c *bot.EngineConfig) { c.Commands = adminCommands{} }})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ack := func(user, text string) commandPayload {
		t.Helper()
		raw, err := e.fake.SendSlashCommand(ctx, e.fake.SlashCommand("C1", user, "/parley", text, "r"))
		if err != nil {
			t.Fatalf("/parley %s: %v", text, err)
		}
		var p commandPayload
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatalf("/parley %s: ack %s: %v", text, raw, err)
		}
		return p
	}
	if p := ack("U1", "help"); p.ResponseType != "ephemeral" || !strings.Contains(p.Text, "reset") {
		t.Errorf("help answered %+v", p)
	}
	if p := ack("U1", "quota set @ben 100"); !strings.Contains(p.Text, "Only admins") {
		t.Errorf("non-admin quota set answered %+v, want a refusal", p)
	}
	if p := ack("UADMIN", "quota set @ben 100"); p.Text != "quota updated" {
		t.Errorf("admin quota set answered %+v", p)
	}
	if n := e.fake.LateAcks(); n != 0 {
		t.Errorf("%d late acks", n)
	}
}

func TestE2EHTTPMode(t *testing.T) {
	fake := newFake(t, slackfake.Options{})
	rig := testrig.New(t, testrig.Options{Model: fakeopenai.Options{ChunkDelay: time.Millisecond}})
	h := startHTTPWith(t, fake, rig.Engine)
	rig.Attach(h.a)
	root := "1700002700.000001"
	if got := h.postEvent("EvH", mention("C1", "U1", "<@UBOT> over http", root, ""), time.Now(), testSecret); got != 200 {
		t.Fatalf("status %d", got)
	}
	if got := h.postEvent("EvForged", mention("C1", "U1", "<@UBOT> forged", "1700002701.000001", ""), time.Now(), "wrong"); got != 401 {
		t.Fatalf("forged: status %d", got)
	}
	h.settle(1)
	rig.Idle(30 * time.Second)
	if n := len(fake.Thread("C1", root)); n != 1 {
		t.Errorf("%d replies to the signed mention, want 1", n)
	}
	if n := len(fake.Messages("")); n != 1 {
		t.Errorf("%d bot messages in all, want only the reply to the signed request", n)
	}
}

// A message the engine cannot take (here: it is shutting down) is not met
// with silence: Slack will not deliver the acked event again, so the user
// is told in the thread to send it again.
func TestE2EUnhandledMessageTold(t *testing.T) {
	e := startE2E(t, slackfake.Options{}, testrig.Options{})
	if err := e.rig.Engine.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	root := "1700002500.000001"
	e.send("", mention("C1", "U1", "<@UBOT> are you there?", root, ""))
	eventually(t, "the notice", func() bool { return len(e.fake.Thread("C1", root)) == 1 })
	if m := e.fake.Thread("C1", root)[0]; m.Text != bot.UnhandledNotice(bot.ErrShuttingDown) {
		t.Errorf("thread shows %q, want the restart notice", m.Text)
	}
	if n := len(e.rig.Model.Requests()); n != 0 {
		t.Errorf("%d model requests, want 0", n)
	}
}
