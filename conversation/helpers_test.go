package conversation

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-bot/parley/bot"
)

// smallModel is a 4,096-token model configured through Options.Models.
const smallModel = "small-4k"

func smallModels() map[string]ModelInfo {
	return map[string]ModelInfo{smallModel: {ContextWindow: 4096, MaxOutput: 1024, Encoding: EncodingO200k}}
}

func openStore(t testing.TB, opts Options) *Store {
	t.Helper()
	if opts.Path == "" {
		opts.Path = filepath.Join(t.TempDir(), "parley.db")
	}
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func testKey(thread string) bot.ThreadKey {
	return bot.ThreadKey{Platform: bot.PlatformSlack, Workspace: "T1", Channel: "C1", Thread: thread}
}

func userMsg(key bot.ThreadKey, id, author, text string) bot.Message {
	return bot.Message{
		Platform: key.Platform, Workspace: key.Workspace, Channel: key.Channel, Thread: key.Thread,
		ID: id, AuthorID: "U-" + author, AuthorName: author, Text: text, Time: time.Unix(1700000000, 0),
	}
}

// filler returns n distinct-ish words, deterministic in seed.
func filler(seed, n int) string {
	words := []string{"river", "stone", "garden", "lamp", "quiet", "orbit", "maple", "harbor", "signal", "copper", "velvet", "meadow"}
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[(seed*7+i*3)%len(words)])
	}
	return b.String()
}

// exchange stores a user message and a complete reply.
func exchange(t testing.TB, s *Store, key bot.ThreadKey, n int, question, answer string) {
	t.Helper()
	ctx := context.Background()
	uid, err := s.SaveUserMessage(ctx, userMsg(key, fmt.Sprintf("m%d", n), "Ana", question), bot.StatusComplete)
	if err != nil {
		t.Fatalf("SaveUserMessage: %v", err)
	}
	id, err := s.BeginReply(ctx, key, uid, smallModel)
	if err != nil {
		t.Fatalf("BeginReply: %v", err)
	}
	if err := s.FinishReply(ctx, id, bot.ReplyOutcome{Text: answer, Status: bot.StatusComplete}); err != nil {
		t.Fatalf("FinishReply: %v", err)
	}
}

// stubSummarizer is a bot.Model that "summarises" by listing the turn
// numbers it has seen: those of the existing summary ("covered turns:
// 1-17") and of the new messages ("turn 18: …").
type stubSummarizer struct {
	mu        sync.Mutex
	calls     int
	reqs      []bot.ChatRequest
	fail      error
	finish    string        // finish_reason to answer with ("": "stop")
	block     bool          // wait for the context to end
	started   chan struct{} // signalled (if not nil) when a blocking call starts
	returned  int           // calls that have returned
	maxPrompt int
}

var (
	turnRe    = regexp.MustCompile(`(?m)^[^:\n]*: turn (\d+):`)
	coveredRe = regexp.MustCompile(`covered turns: ([0-9,\-]+)`)
)

func (m *stubSummarizer) Stream(ctx context.Context, req bot.ChatRequest, _ func(string)) (bot.Completion, error) {
	m.mu.Lock()
	m.calls++
	m.reqs = append(m.reqs, req)
	m.maxPrompt = max(m.maxPrompt, req.PromptTokens)
	block, fail, finish := m.block, m.fail, m.finish
	m.mu.Unlock()
	if finish == "" {
		finish = "stop"
	}
	defer func() {
		m.mu.Lock()
		m.returned++
		m.mu.Unlock()
	}()
	if block {
		if m.started != nil {
			m.started <- struct{}{}
		}
		<-ctx.Done()
		return bot.Completion{}, ctx.Err()
	}
	if fail != nil {
		return bot.Completion{}, fail
	}
	input := req.Messages[len(req.Messages)-1].Content
	seen := map[int]bool{}
	for _, n := range coveredTurns(input) {
		seen[n] = true
	}
	for _, sm := range turnRe.FindAllStringSubmatch(input, -1) {
		n, _ := strconv.Atoi(sm[1])
		seen[n] = true
	}
	var nums []int
	for n := range seen {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	return bot.Completion{Text: "covered turns: " + ranges(nums), FinishReason: finish}, nil
}

// coveredTurns parses the turn list of a stub summary.
func coveredTurns(s string) []int {
	sm := coveredRe.FindStringSubmatch(s)
	if sm == nil {
		return nil
	}
	var out []int
	for _, r := range strings.Split(sm[1], ",") {
		lo, hi, ok := strings.Cut(r, "-")
		a, _ := strconv.Atoi(lo)
		b := a
		if ok {
			b, _ = strconv.Atoi(hi)
		}
		for n := a; n <= b; n++ {
			out = append(out, n)
		}
	}
	return out
}

func ranges(nums []int) string {
	var parts []string
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		parts = append(parts, fmt.Sprintf("%d-%d", nums[i], nums[j]))
		i = j + 1
	}
	return strings.Join(parts, ",")
}
