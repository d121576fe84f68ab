package console_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-bot/parley/adapters/console"
	"github.com/parley-bot/parley/bot"
	"github.com/parley-bot/parley/conversation"
	"github.com/parley-bot/parley/internal/testrig"
	"github.com/parley-bot/parley/llm"
	"github.com/parley-bot/parley/llm/fakeopenai"
)

// converse runs the console over a pipe with the given lines and returns
// what it printed.
func converse(t *testing.T, rig *testrig.Rig, lines ...string) string {
	t.Helper()
	var out strings.Builder
	a := console.New(console.Options{UserName: "ana", In: strings.NewReader(strings.Join(lines, "\n") + "\n"), Out: &out})
	done := rig.Run(a)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("console: %v", err)
		}
	case <-time.After(5 * time.Minute):
		t.Fatal("console did not finish")
	}
	return out.String()
}

// replies splits console output into the bot's replies.
func replies(out string) []string {
	var rs []string
	for _, part := range strings.Split(out, "parley> ")[1:] {
		rs = append(rs, strings.TrimSuffix(part, "\n"))
	}
	return rs
}

func echoAnswer(req fakeopenai.Request) string {
	return "echo: " + req.Messages[len(req.Messages)-1].Content
}

func TestPipeThreeTurnsThenRestartKeepsHistory(t *testing.T) {
	db := filepath.Join(t.TempDir(), "parley.db")
	rig := testrig.New(t, testrig.Options{DBPath: db, Model: fakeopenai.Options{Answer: echoAnswer}})
	out := converse(t, rig, "my name is Ana", "I like tea", "what do you know?")
	if got, want := replies(out), []string{"echo: my name is Ana", "echo: I like tea", "echo: what do you know?"}; !slices.Equal(got, want) {
		t.Fatalf("replies %q, want %q", got, want)
	}
	reqs := rig.Model.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d model requests, want 3", len(reqs))
	}
	third := contents(reqs[2].Messages)
	for _, want := range []string{"my name is Ana", "echo: my name is Ana", "I like tea", "echo: I like tea", "what do you know?"} {
		if !slices.Contains(third, want) {
			t.Errorf("third request lacks %q: %q", want, third)
		}
	}
	if err := rig.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}

	// A new process on the same database: the fourth turn sees the first three.
	rig2 := testrig.New(t, testrig.Options{DBPath: db, Model: fakeopenai.Options{Answer: echoAnswer}})
	converse(t, rig2, "and now?")
	fourth := contents(rig2.Model.Requests()[0].Messages)
	for _, want := range []string{"my name is Ana", "echo: I like tea", "what do you know?", "and now?"} {
		if !slices.Contains(fourth, want) {
			t.Errorf("request after restart lacks %q: %q", want, fourth)
		}
	}
	hist := rig2.History(console.Key("main"))
	if len(hist) != 8 {
		t.Errorf("stored %d messages, want 8", len(hist))
	}
}

func contents(ms []fakeopenai.Message) []string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Content)
	}
	return s
}

var turnRe = regexp.MustCompile(`turn (\d+):`)
var coveredRe = regexp.MustCompile(`covered turns: ([\d,]*)`)

// summarizingAnswer answers turns briefly and, for summary requests, lists
// every turn number the summary covers, so a test can see which turns the
// summary reflects.
func summarizingAnswer(req fakeopenai.Request) string {
	if strings.HasPrefix(req.Messages[0].Content, "You maintain the running summary") {
		seen := map[int]bool{}
		for _, m := range req.Messages {
			for _, g := range turnRe.FindAllStringSubmatch(m.Content, -1) {
				n, _ := strconv.Atoi(g[1])
				seen[n] = true
			}
			for _, g := range coveredRe.FindAllStringSubmatch(m.Content, -1) {
				for _, f := range strings.Split(g[1], ",") {
					if n, err := strconv.Atoi(f); err == nil {
						seen[n] = true
					}
				}
			}
		}
		var nums []string
		for n := range 1000 {
			if seen[n] {
				nums = append(nums, strconv.Itoa(n))
			}
		}
		return "covered turns: " + strings.Join(nums, ",")
	}
	last := req.Messages[len(req.Messages)-1].Content
	n := turnRe.FindStringSubmatch(last)
	if n == nil {
		return "no turn number"
	}
	return "answer to turn " + n[1] + ": " + strings.Repeat("noted. ", 12)
}

func TestThreeHundredTurnsStayInsideA4096Window(t *testing.T) {
	const window = 4096
	rig := testrig.New(t, testrig.Options{
		Model: fakeopenai.Options{Window: window, Answer: summarizingAnswer},
		Store: func(o *conversation.Options) {
			o.Models = map[string]conversation.ModelInfo{"gpt-4o-mini": {ContextWindow: window, MaxOutput: 512}}
			o.MaxOutputTokens = 256
		},
	})
	lines := make([]string, 300)
	for i := range lines {
		lines[i] = fmt.Sprintf("turn %d: %s", i+1, strings.Repeat("lorem ipsum dolor sit amet ", 8))
	}
	out := converse(t, rig, lines...)
	rs := replies(out)
	if len(rs) != 300 {
		t.Fatalf("%d replies, want 300", len(rs))
	}
	for i, r := range rs {
		if !strings.HasPrefix(r, fmt.Sprintf("answer to turn %d:", i+1)) {
			t.Fatalf("reply %d = %q", i+1, r)
		}
	}
	tc := llm.NewTokenCounter()
	var chats, summaries int
	maxCovered := 0
	for _, req := range rig.Model.Requests() {
		var chat []bot.ChatMessage
		for _, m := range req.Messages {
			chat = append(chat, bot.ChatMessage{Role: m.Role, Name: m.Name, Content: m.Content})
		}
		if n := tc.CountPrompt(req.Model, chat) + req.Limit(); n > window {
			t.Errorf("a request of %d tokens (with its output limit) went over the %d window", n, window)
		}
		if strings.HasPrefix(req.Messages[0].Content, "You maintain the running summary") {
			summaries++
			continue
		}
		chats++
		// The newest turns are whole: every user turn in the request is
		// followed by its own answer, and the last message is the newest turn.
		var turns []int
		for _, m := range req.Messages {
			if g := turnRe.FindStringSubmatch(m.Content); g != nil && m.Role == bot.RoleUser {
				n, _ := strconv.Atoi(g[1])
				turns = append(turns, n)
			}
			if m.Role == bot.RoleSystem {
				if g := coveredRe.FindStringSubmatch(m.Content); g != nil {
					for _, f := range strings.Split(g[1], ",") {
						if n, _ := strconv.Atoi(f); n > maxCovered {
							maxCovered = n
						}
					}
				}
			}
		}
		for i := 1; i < len(turns); i++ {
			if turns[i] != turns[i-1]+1 {
				t.Fatalf("request turns not contiguous: %v", turns)
			}
		}
		msgs := req.Messages
		if len(turns) == 0 || turns[len(turns)-1] != chats || msgs[len(msgs)-1].Role != bot.RoleUser {
			t.Fatalf("chat request %d ends with turns %v, want its own turn %d last", chats, turns, chats)
		}
		for i, m := range msgs[:len(msgs)-1] {
			g := turnRe.FindStringSubmatch(m.Content)
			if m.Role != bot.RoleUser || g == nil {
				continue
			}
			if next := msgs[i+1]; next.Role != bot.RoleAssistant || !strings.HasPrefix(next.Content, "answer to turn "+g[1]+":") {
				t.Fatalf("chat request %d: turn %s is followed by %s %q, want its own answer", chats, g[1], next.Role, next.Content)
			}
		}
	}
	if chats != 300 {
		t.Errorf("%d chat requests, want exactly 300 (none rejected and retried)", chats)
	}
	if summaries == 0 || maxCovered < 200 {
		t.Errorf("%d summary requests, summary covers up to turn %d; want the evicted turns summarised", summaries, maxCovered)
	}
	hist := rig.History(console.Key("main"))
	for _, m := range hist {
		if m.Status != bot.StatusComplete {
			t.Fatalf("stored message %d has status %s", m.ID, m.Status)
		}
	}
}

func TestTwentyThousandTokenMessageIsRefusedAndStored(t *testing.T) {
	rig := testrig.New(t, testrig.Options{
		Model: fakeopenai.Options{Window: 4096},
		Store: func(o *conversation.Options) {
			o.Models = map[string]conversation.ModelInfo{"gpt-4o-mini": {ContextWindow: 4096, MaxOutput: 512}}
		},
	})
	huge := strings.Repeat("word ", 20000)
	out := converse(t, rig, huge)
	rs := replies(out)
	if len(rs) != 1 || !strings.Contains(rs[0], "too long") || !strings.Contains(rs[0], "over") {
		t.Fatalf("reply %q, want the too-long notice with the numbers", rs)
	}
	if n := len(rig.Model.Requests()); n != 0 {
		t.Errorf("%d model requests for a message that cannot fit", n)
	}
	hist := rig.History(console.Key("main"))
	if len(hist) != 2 || hist[0].Text != strings.TrimSpace(huge) || hist[1].Status != bot.StatusRefused {
		t.Errorf("history %d messages; want the message stored and a refused reply", len(hist))
	}
}

// visibleText computes what a recorded stream should show: choice 0's
// content or refusal deltas.
func visibleText(t *testing.T, path string) (text string, toolCalls bool) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var chunk struct {
			Choices []struct {
				Index int `json:"index"`
				Delta struct {
					Content   *string `json:"content"`
					Refusal   *string `json:"refusal"`
					ToolCalls []any   `json:"tool_calls"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(data), &chunk); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, c := range chunk.Choices {
			if c.Index != 0 {
				continue
			}
			if c.Delta.Content != nil {
				b.WriteString(*c.Delta.Content)
			}
			if c.Delta.Refusal != nil {
				b.WriteString(*c.Delta.Refusal)
			}
			if len(c.Delta.ToolCalls) > 0 {
				toolCalls = true
			}
		}
	}
	return b.String(), toolCalls
}

func TestRecordedStreamsReplayToTheirVisibleText(t *testing.T) {
	files, err := filepath.Glob("../../llm/fakeopenai/testdata/openai-streams/*.sse")
	if err != nil || len(files) < 12 {
		t.Fatalf("recorded streams: %v (%d files)", err, len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			rig := testrig.New(t, testrig.Options{})
			rig.Model.Enqueue(fakeopenai.Replay(file, 0))
			out := converse(t, rig, "replay please")
			rs := replies(out)
			if len(rs) != 1 {
				t.Fatalf("replies %q", rs)
			}
			want, tools := visibleText(t, file)
			want = strings.TrimRight(want, " \n") // the renderer does not show trailing blank lines
			hist := rig.History(console.Key("main"))
			reply := hist[len(hist)-1]
			switch {
			case tools:
				if !strings.Contains(rs[0], "tool") || reply.Status != bot.StatusComplete {
					t.Errorf("tool-call stream shown as %q (%s), want a notice about the tool", rs[0], reply.Status)
				}
			case strings.Contains(file, "finish-length"):
				if !strings.HasPrefix(rs[0], want) || !strings.Contains(rs[0], "output limit") || reply.Status != bot.StatusPartial {
					t.Errorf("length stream shown as %q (%s)", rs[0], reply.Status)
				}
			default:
				if rs[0] != want {
					t.Errorf("shown %q, want %q", rs[0], want)
				}
				if reply.Status != bot.StatusComplete || reply.Text != want {
					t.Errorf("stored %q (%s)", reply.Text, reply.Status)
				}
			}
		})
	}
}

func TestFaultsEndVisiblyAndAreStored(t *testing.T) {
	cases := []struct {
		name       string
		fault      fakeopenai.Fault
		client     func(*llm.Config)
		wantStatus bot.Status
		wantShown  string // substring of the visible reply
	}{
		{"cut stream", fakeopenai.Fault{CutAfterChunks: 3}, nil, bot.StatusPartial, "⚠ reply interrupted: the model's stream was cut off"},
		{"first-token timeout", fakeopenai.Fault{FirstChunkDelay: 3 * time.Second}, func(c *llm.Config) { c.FirstTokenTimeout = 200 * time.Millisecond }, bot.StatusFailed, "upstream timed out"},
		{"500 before first token", fakeopenai.Fault{Status: 500}, nil, bot.StatusFailed, "the model service is unavailable"},
		{"300 keep-alives", fakeopenai.Fault{KeepAlivesBetweenChunks: 300}, nil, bot.StatusComplete, "echo: hello"},
		{"mid-stream error object", fakeopenai.Fault{MidStreamErrorAt: 5}, nil, bot.StatusPartial, "⚠ reply interrupted: the model returned an error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rig := testrig.New(t, testrig.Options{Model: fakeopenai.Options{Answer: func(fakeopenai.Request) string {
				return "echo: hello and a few more words so that the stream has several chunks"
			}}, Client: tc.client})
			rig.Model.Enqueue(tc.fault)
			out := converse(t, rig, "hello")
			rs := replies(out)
			if len(rs) != 1 || !strings.Contains(rs[0], tc.wantShown) {
				t.Fatalf("shown %q, want it to contain %q", rs, tc.wantShown)
			}
			hist := rig.History(console.Key("main"))
			if len(hist) != 2 {
				t.Fatalf("stored %d messages, want the user message and the reply", len(hist))
			}
			if hist[0].Text != "hello" || hist[0].Status != bot.StatusComplete {
				t.Errorf("user message stored as %q (%s)", hist[0].Text, hist[0].Status)
			}
			if hist[1].Status != tc.wantStatus || hist[1].Text != rs[0] {
				t.Errorf("reply stored as %q (%s), shown %q; want status %s and the shown text", hist[1].Text, hist[1].Status, rs[0], tc.wantStatus)
			}
		})
	}
}
