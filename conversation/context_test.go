package conversation

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
)

// The OpenAI cookbook's example conversation ("How to count tokens with
// tiktoken"): 129 prompt tokens for gpt-3.5-turbo-0613 and gpt-4 (cl100k),
// 124 for gpt-4o and gpt-4o-mini (o200k), as the API reports them.
func cookbookMessages() []bot.ChatMessage {
	return []bot.ChatMessage{
		{Role: "system", Content: "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
		{Role: "system", Name: "example_user", Content: "New synergies will help drive top-line growth."},
		{Role: "system", Name: "example_assistant", Content: "Things working well together will increase revenue."},
		{Role: "system", Name: "example_user", Content: "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
		{Role: "system", Name: "example_assistant", Content: "Let's talk later when we're less busy about how to do better."},
		{Role: "user", Content: "This late pivot means we don't have time to boil the ocean for the client deliverable."},
	}
}

func TestCountMessagesMatchesCookbook(t *testing.T) {
	s := openStore(t, Options{})
	for model, want := range map[string]int{
		"gpt-3.5-turbo-0613": 129, "gpt-4-0613": 129, "gpt-4": 129,
		"gpt-4o": 124, "gpt-4o-mini": 124, "some-unknown-model": 124,
	} {
		if got := s.CountMessages(model, cookbookMessages()); got != want {
			t.Errorf("%s: %d tokens, want %d", model, got, want)
		}
	}
	// Known single-string counts.
	for _, c := range []struct {
		model, text string
		want        int
	}{
		{"gpt-4", "hello world", 2},
		{"gpt-4o", "hello world", 2},
		{"gpt-4", "", 0},
		{"gpt-4", "tiktoken is great!", 6},
	} {
		if got := s.CountTokens(c.model, c.text); got != c.want {
			t.Errorf("CountTokens(%s, %q) = %d, want %d", c.model, c.text, got, c.want)
		}
	}
}

func TestPromptTokensAreExactWithNames(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, Options{})
	key := testKey("names")
	authors := []string{"Ana", "Zoë van Dijk", "李雷", "o'brien!!"}
	for i, a := range authors {
		m := userMsg(key, fmt.Sprintf("m%d", i), a, "message from "+a)
		if _, err := s.SaveUserMessage(ctx, m, bot.StatusComplete); err != nil {
			t.Fatal(err)
		}
	}
	for _, model := range []string{"gpt-4o", "gpt-4", "gpt-4o"} { // switch encodings and back
		p, err := s.Prompt(ctx, key, bot.PromptOptions{Model: model, SystemPrompt: "You are Parley."})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.CountMessages(model, p.Messages); p.Tokens != got {
			t.Fatalf("%s: Prompt.Tokens %d, recount %d", model, p.Tokens, got)
		}
		names := []string{p.Messages[1].Name, p.Messages[2].Name, p.Messages[3].Name, p.Messages[4].Name}
		// 李雷 has no ASCII spelling: the author ID ("U-李雷") stands in, sanitised.
		if strings.Join(names, ",") != "Ana,Zoe_van_Dijk,U-,o_brien" {
			t.Fatalf("names = %q", names)
		}
	}
}

func TestPromptSummarizes300TurnsWithinBudget(t *testing.T) {
	ctx := context.Background()
	sum := &stubSummarizer{}
	s := openStore(t, Options{
		Models: smallModels(), DefaultModel: smallModel, MaxOutputTokens: 1024,
		SummaryModel: sum, SummaryFilter: strings.TrimSpace,
	})
	key := testKey("long")
	const sys = "You are Parley, a helpful assistant."
	lastFirstIncluded := 0
	for n := 1; n <= 300; n++ {
		q := fmt.Sprintf("turn %d: %s", n, filler(n, 25+n%20))
		if _, err := s.SaveUserMessage(ctx, userMsg(key, fmt.Sprintf("m%d", n), "Ana", q), bot.StatusComplete); err != nil {
			t.Fatal(err)
		}
		p, err := s.Prompt(ctx, key, bot.PromptOptions{Model: smallModel, SystemPrompt: sys})
		if err != nil {
			t.Fatalf("turn %d: %v", n, err)
		}
		first := checkPrompt(t, s, p, n, sys)
		if first < lastFirstIncluded {
			t.Fatalf("turn %d: window moved back from turn %d to %d", n, lastFirstIncluded, first)
		}
		lastFirstIncluded = first
		id, err := s.BeginReply(ctx, key, 0, smallModel)
		if err != nil {
			t.Fatal(err)
		}
		answer := fmt.Sprintf("answer %d: %s", n, filler(n+5, 30+n%25))
		if err := s.FinishReply(ctx, id, bot.ReplyOutcome{Text: answer, Status: bot.StatusComplete}); err != nil {
			t.Fatal(err)
		}
		if n%50 == 0 {
			s.waitSummaries()
		}
	}
	// Once the summaries have caught up, the summary covers exactly the
	// turns left out.
	var covered []int
	var first int
	for range 10 {
		s.waitSummaries()
		if _, err := s.SaveUserMessage(ctx, userMsg(key, fmt.Sprintf("x%d", len(covered)), "Ana", "turn 0: anything else?"), bot.StatusComplete); err != nil {
			t.Fatal(err)
		}
		p, err := s.Prompt(ctx, key, bot.PromptOptions{Model: smallModel, SystemPrompt: sys})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Messages) < 2 || !strings.HasPrefix(p.Messages[1].Content, summaryPrefix) {
			t.Fatalf("no summary in the prompt: %+v", p.Messages[:2])
		}
		covered = coveredTurns(p.Messages[1].Content)
		first = firstTurn(p)
		if len(covered) > 0 && covered[len(covered)-1] == first-1 {
			break
		}
	}
	for i, n := range covered {
		if n != i+1 {
			t.Fatalf("summary covers %s, want 1-%d without gaps", ranges(covered), first-1)
		}
	}
	if len(covered) != first-1 {
		t.Fatalf("summary covers %s, want 1-%d", ranges(covered), first-1)
	}
	sum.mu.Lock()
	defer sum.mu.Unlock()
	if sum.calls == 0 || sum.maxPrompt+1024 > 4096 {
		t.Fatalf("%d summary calls, largest prompt %d tokens", sum.calls, sum.maxPrompt)
	}
	for _, r := range sum.reqs {
		if r.Model != smallModel || r.MaxTokens != 1024 || r.PromptTokens != s.CountMessages(smallModel, r.Messages) {
			t.Fatalf("summary request model %q max %d prompt %d", r.Model, r.MaxTokens, r.PromptTokens)
		}
	}
}

// checkPrompt verifies a prompt for turn n of TestPromptSummarizes300Turns
// and returns the first whole turn it includes.
func checkPrompt(t *testing.T, s *Store, p bot.Prompt, n int, sys string) int {
	t.Helper()
	if p.Tokens > p.Budget || p.Budget != 4096-1024-64 || p.MaxOutput != 1024 {
		t.Fatalf("turn %d: %d tokens, budget %d, output %d", n, p.Tokens, p.Budget, p.MaxOutput)
	}
	if got := s.CountMessages(smallModel, p.Messages); got != p.Tokens {
		t.Fatalf("turn %d: Prompt.Tokens %d, recount %d", n, p.Tokens, got)
	}
	if p.Messages[0].Content != sys {
		t.Fatalf("turn %d: system prompt missing", n)
	}
	rest := p.Messages[1:]
	if len(rest) > 0 && strings.HasPrefix(rest[0].Content, summaryPrefix) {
		covered := coveredTurns(rest[0].Content)
		for i, c := range covered {
			if c != i+1 {
				t.Fatalf("turn %d: summary covers %s", n, ranges(covered))
			}
		}
		rest = rest[1:]
	}
	first := firstTurn(p)
	// Turns first..n, each whole: question, then its answer (none yet for n).
	want := first
	for i := 0; i < len(rest); i++ {
		m := rest[i]
		if m.Role != bot.RoleUser || !strings.HasPrefix(m.Content, fmt.Sprintf("turn %d:", want)) {
			t.Fatalf("turn %d: message %d is %s %.20q, want turn %d", n, i, m.Role, m.Content, want)
		}
		if want < n {
			i++
			if i >= len(rest) || rest[i].Role != bot.RoleAssistant || !strings.HasPrefix(rest[i].Content, fmt.Sprintf("answer %d:", want)) {
				t.Fatalf("turn %d: turn %d is cut", n, want)
			}
		}
		want++
	}
	if want != n+1 {
		t.Fatalf("turn %d: prompt ends with turn %d", n, want-1)
	}
	if p.Evicted != first-1 {
		t.Fatalf("turn %d: Evicted %d, but turns 1-%d are left out", n, p.Evicted, first-1)
	}
	return first
}

// firstTurn returns the number of the oldest turn in a prompt.
func firstTurn(p bot.Prompt) int {
	for _, m := range p.Messages {
		var n int
		if m.Role == bot.RoleUser {
			if _, err := fmt.Sscanf(m.Content, "turn %d:", &n); err == nil && n > 0 {
				return n
			}
		}
	}
	return 0
}

func TestPromptTooLongStoresAndRefuses(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, Options{Models: smallModels(), MaxOutputTokens: 1024, Policy: PolicyTruncate})
	key := testKey("big")
	exchange(t, s, key, 1, "small question", "small answer")
	huge := strings.Repeat("lorem ipsum dolor ", 5000)
	if n := s.CountTokens(smallModel, huge); n < 15000 {
		t.Fatalf("test text has only %d tokens", n)
	}
	id, err := s.SaveUserMessage(ctx, userMsg(key, "huge", "Ana", huge), bot.StatusComplete)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Prompt(ctx, key, bot.PromptOptions{Model: smallModel, SystemPrompt: "sys"})
	var tl *bot.TooLongError
	if !errors.As(err, &tl) {
		t.Fatalf("Prompt error %v, want TooLongError", err)
	}
	want := s.CountMessages(smallModel, []bot.ChatMessage{{Role: bot.RoleSystem, Content: "sys"}, {Role: bot.RoleUser, Name: "Ana", Content: huge}})
	if tl.Tokens != want || tl.Budget != 4096-1024-64 {
		t.Fatalf("TooLongError %+v, want tokens %d budget %d", tl, want, 4096-1024-64)
	}
	h, _ := s.History(ctx, key)
	last := h[len(h)-1]
	if last.ID != id || last.Text != huge || last.Status != bot.StatusRefused || last.Error == "" {
		t.Fatalf("huge message stored as id %d status %s error %q", last.ID, last.Status, last.Error)
	}
	// The refused message no longer blocks the thread.
	if _, err := s.SaveUserMessage(ctx, userMsg(key, "next", "Ana", "shorter then"), bot.StatusComplete); err != nil {
		t.Fatal(err)
	}
	p, err := s.Prompt(ctx, key, bot.PromptOptions{Model: smallModel})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Messages) != 3 || p.Messages[2].Content != "shorter then" || p.Evicted != 0 {
		t.Fatalf("prompt after refusal: %+v", p)
	}
}

func TestPromptShrinkUsesThreeQuartersOfTheBudget(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, Options{Models: smallModels(), MaxOutputTokens: 1024, Policy: PolicyTruncate})
	key := testKey("shrink")
	for n := 1; n <= 60; n++ {
		exchange(t, s, key, n, fmt.Sprintf("turn %d: %s", n, filler(n, 20)), fmt.Sprintf("answer %d: %s", n, filler(n, 20)))
	}
	full, err := s.Prompt(ctx, key, bot.PromptOptions{Model: smallModel})
	if err != nil {
		t.Fatal(err)
	}
	small, err := s.Prompt(ctx, key, bot.PromptOptions{Model: smallModel, Shrink: true})
	if err != nil {
		t.Fatal(err)
	}
	if small.Budget != full.Budget*3/4 || small.Tokens > small.Budget || small.Evicted <= full.Evicted ||
		small.MaxOutput != full.MaxOutput {
		t.Fatalf("full %d/%d evicted %d; shrunk %d/%d evicted %d", full.Tokens, full.Budget, full.Evicted, small.Tokens, small.Budget, small.Evicted)
	}
	// Every turn that would fit in the smaller budget is there: the next
	// older one would not.
	if small.Tokens+s.CountMessages(smallModel, []bot.ChatMessage{{Role: "user", Name: "Ana", Content: "turn 1: " + filler(1, 20)}})-3 <= small.Budget-60 {
		t.Fatalf("shrunk prompt left room for more turns: %d of %d", small.Tokens, small.Budget)
	}
}

func TestTruncatePolicyDropsOldTurns(t *testing.T) {
	ctx := context.Background()
	sum := &stubSummarizer{}
	s := openStore(t, Options{Models: smallModels(), MaxOutputTokens: 1024, Policy: PolicyTruncate, SummaryModel: sum})
	key := testKey("trunc")
	for n := 1; n <= 80; n++ {
		exchange(t, s, key, n, fmt.Sprintf("turn %d: %s", n, filler(n, 30)), "ok "+filler(n, 30))
	}
	p, err := s.Prompt(ctx, key, bot.PromptOptions{Model: smallModel})
	if err != nil {
		t.Fatal(err)
	}
	s.waitSummaries()
	if p.Evicted == 0 || strings.HasPrefix(p.Messages[0].Content, summaryPrefix) || sum.calls != 0 {
		t.Fatalf("evicted %d, summary calls %d", p.Evicted, sum.calls)
	}
	if first := firstTurn(p); first != p.Evicted+1 {
		t.Fatalf("first turn %d with %d evicted", first, p.Evicted)
	}
}

func TestCloseWaitsForSummaries(t *testing.T) {
	ctx := context.Background()
	sum := &stubSummarizer{block: true, started: make(chan struct{}, 1)}
	s, err := Open(ctx, Options{Path: filepath.Join(t.TempDir(), "p.db"), Models: smallModels(), MaxOutputTokens: 1024, SummaryModel: sum})
	if err != nil {
		t.Fatal(err)
	}
	key := testKey("close")
	for n := 1; n <= 80; n++ {
		exchange(t, s, key, n, fmt.Sprintf("turn %d: %s", n, filler(n, 30)), "ok "+filler(n, 30))
	}
	p, err := s.Prompt(ctx, key, bot.PromptOptions{Model: smallModel})
	if err != nil || p.Evicted == 0 {
		t.Fatalf("prompt: %v, evicted %d", err, p.Evicted)
	}
	<-sum.started // the summary is being written
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	sum.mu.Lock()
	calls, returned := sum.calls, sum.returned
	sum.mu.Unlock()
	if calls != 1 || returned != 1 {
		t.Fatalf("Close returned with %d of %d summary calls still running", calls-returned, calls)
	}
	if _, err := s.Prompt(ctx, key, bot.PromptOptions{Model: smallModel}); err == nil {
		t.Fatal("Prompt works after Close")
	}
}

func TestSummaryFailureBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		sum := &stubSummarizer{fail: errors.New("model down")}
		s, key := longThreadToSummarize(t, sum, "retry")
		defer s.Close(ctx)
		prompt := func() {
			t.Helper()
			if _, err := s.Prompt(ctx, key, bot.PromptOptions{Model: smallModel}); err != nil {
				t.Fatal(err)
			}
			s.waitSummaries()
		}
		calls := func() int { sum.mu.Lock(); defer sum.mu.Unlock(); return sum.calls }
		prompt()
		if calls() != 1 {
			t.Fatalf("%d calls after the first prompt", calls())
		}
		time.Sleep(30 * time.Second)
		prompt()
		if calls() != 1 {
			t.Fatalf("retried after 30s: %d calls", calls())
		}
		time.Sleep(31 * time.Second)
		sum.mu.Lock()
		sum.fail = nil
		sum.mu.Unlock()
		prompt()
		if calls() < 2 {
			t.Fatalf("no retry after the backoff: %d calls", calls())
		}
		var summary string
		if err := s.read.QueryRow("SELECT summary FROM threads").Scan(&summary); err != nil || !strings.HasPrefix(summary, "covered turns: 1-") {
			t.Fatalf("summary %q, %v", summary, err)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestResetDiscardsSummaryInFlight(t *testing.T) {
	ctx := context.Background()
	gate := make(chan struct{})
	sum := &gatedModel{gate: gate, started: make(chan struct{}, 1), inner: &stubSummarizer{}}
	s := openStore(t, Options{Models: smallModels(), MaxOutputTokens: 1024, SummaryModel: sum})
	key := testKey("reset-flight")
	for n := 1; n <= 60; n++ {
		exchange(t, s, key, n, fmt.Sprintf("turn %d: %s", n, filler(n, 30)), "ok "+filler(n, 30))
	}
	if _, err := s.Prompt(ctx, key, bot.PromptOptions{Model: smallModel}); err != nil {
		t.Fatal(err)
	}
	<-sum.started
	if err := s.ResetThread(ctx, key); err != nil {
		t.Fatal(err)
	}
	close(gate)
	s.waitSummaries()
	var summary string
	var through int64
	if err := s.read.QueryRow("SELECT summary, summary_through FROM threads").Scan(&summary, &through); err != nil {
		t.Fatal(err)
	}
	if summary != "" || through != 0 {
		t.Fatalf("summary %q through %d survived the reset", summary, through)
	}
}

type gatedModel struct {
	gate    chan struct{}
	started chan struct{}
	inner   bot.Model
}

func (g *gatedModel) Stream(ctx context.Context, req bot.ChatRequest, d func(string)) (bot.Completion, error) {
	select {
	case g.started <- struct{}{}:
	default:
	}
	select {
	case <-g.gate:
	case <-ctx.Done():
		return bot.Completion{}, ctx.Err()
	}
	return g.inner.Stream(ctx, req, d)
}

func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "p.db")
	sum := &stubSummarizer{}
	opts := Options{Path: path, Models: smallModels(), MaxOutputTokens: 1024, SummaryModel: sum, CacheThreads: 2, DefaultModel: smallModel}
	s := openStore(t, opts)
	keys := []bot.ThreadKey{testKey("a"), testKey("b"), testKey("c"), testKey("d")}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 8 {
		wg.Go(func() {
			key := keys[w%len(keys)]
			for i := range 25 {
				id := fmt.Sprintf("w%d-%d", w, i)
				if _, err := s.SaveUserMessage(ctx, userMsg(key, id, fmt.Sprintf("user%d", w), fmt.Sprintf("turn %d: %s", i, filler(i, 40))), bot.StatusComplete); err != nil {
					errs <- err
					return
				}
				if _, err := s.MarkProcessed(ctx, bot.PlatformSlack, id, time.Now()); err != nil {
					errs <- err
					return
				}
				p, err := s.Prompt(ctx, key, bot.PromptOptions{Model: smallModel, Shrink: i%5 == 0})
				if errors.Is(err, ErrNoMessages) {
					continue // the thread was reset between the save and the prompt
				}
				if err != nil {
					errs <- err
					return
				}
				if p.Tokens > p.Budget {
					errs <- fmt.Errorf("%d tokens over budget %d", p.Tokens, p.Budget)
					return
				}
				rid, err := s.BeginReply(ctx, key, 0, smallModel)
				if err != nil {
					errs <- err
					return
				}
				if err := s.FinishReply(ctx, rid, bot.ReplyOutcome{Text: "answer " + filler(i, 30), Status: bot.StatusComplete}); err != nil && !errors.Is(err, ErrNotFound) {
					errs <- err
					return
				}
				if i%7 == 3 {
					if err := s.EditUserMessage(ctx, key, id, "edited "+id); err != nil && !errors.Is(err, ErrNotFound) {
						errs <- err
						return
					}
				}
				if w == 0 && i == 12 {
					if err := s.ResetThread(ctx, key); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// The cache must agree with a fresh read of the database, once the
	// summaries have settled (a landed summary can displace a turn, which
	// asks for the next one). The second store writes no summaries.
	opts2 := opts
	opts2.SummaryModel = nil
	s2 := openStore(t, opts2)
	for _, key := range keys {
		var p1 bot.Prompt
		for range 20 {
			s.waitSummaries()
			p, err := s.Prompt(ctx, key, bot.PromptOptions{Model: smallModel})
			if err != nil {
				t.Fatal(err)
			}
			s.waitSummaries()
			settled := equalMessages(p.Messages, p1.Messages)
			p1 = p
			if settled {
				break
			}
		}
		p2, err := s2.Prompt(ctx, key, bot.PromptOptions{Model: smallModel})
		if err != nil {
			t.Fatal(err)
		}
		if !equalMessages(p1.Messages, p2.Messages) || p1.Tokens != p2.Tokens || p1.Evicted != p2.Evicted {
			t.Fatalf("%s: cached prompt (%d tokens, %d evicted) differs from stored (%d, %d)", key, p1.Tokens, p1.Evicted, p2.Tokens, p2.Evicted)
		}
	}
}

func TestSummaryCutsATurnLongerThanTheSummaryWindow(t *testing.T) {
	ctx := context.Background()
	sum := &stubSummarizer{}
	s := openStore(t, Options{Models: smallModels(), MaxOutputTokens: 1024, SummaryModel: sum})
	key := testKey("cut")
	// Turn 1 fits the thread's budget (3,008) but not, with the summary
	// instructions and a 1,024-token answer, the summary model's window.
	text := "turn 1: " + filler(1, 2950)
	if n := s.CountTokens(smallModel, text); n < 2920 || n > 2990 {
		t.Fatalf("turn 1 has %d tokens", n)
	}
	exchange(t, s, key, 1, text, "ok")
	exchange(t, s, key, 2, "turn 2: and now?", "fine "+filler(2, 60))
	if _, err := s.SaveUserMessage(ctx, userMsg(key, "m3", "Ana", "turn 3: more"), bot.StatusComplete); err != nil {
		t.Fatal(err)
	}
	p, err := s.Prompt(ctx, key, bot.PromptOptions{Model: smallModel})
	if err != nil || p.Evicted != 1 {
		t.Fatalf("prompt: %v, evicted %d", err, p.Evicted)
	}
	s.waitSummaries()
	sum.mu.Lock()
	defer sum.mu.Unlock()
	if sum.calls != 1 || sum.maxPrompt+1024+DefaultMarginTokens > 4096 {
		t.Fatalf("%d calls, prompt of %d tokens", sum.calls, sum.maxPrompt)
	}
	if in := sum.reqs[0].Messages[1].Content; !strings.Contains(in, "Ana: turn 1:") || !strings.HasSuffix(in, "…\n") {
		t.Fatalf("summary input does not hold the cut turn: ...%q", in[max(0, len(in)-40):])
	}
	var through int64
	if err := s.read.QueryRow("SELECT summary_through FROM threads").Scan(&through); err != nil || through == 0 {
		t.Fatalf("summary_through %d, %v", through, err)
	}
}

// A summary the model cut short (finish_reason "length") is not stored:
// it would stand for turns it does not cover. The next try, after the
// back-off, stores a whole one.
func TestSummaryCutShortIsNotStored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		sum := &stubSummarizer{finish: "length"}
		s, key := longThreadToSummarize(t, sum, "cut")
		defer s.Close(ctx)
		summary := func() string {
			t.Helper()
			if _, err := s.Prompt(ctx, key, bot.PromptOptions{Model: smallModel}); err != nil {
				t.Fatal(err)
			}
			s.waitSummaries()
			var text string
			if err := s.read.QueryRow("SELECT summary FROM threads").Scan(&text); err != nil {
				t.Fatal(err)
			}
			return text
		}
		if got := summary(); got != "" {
			t.Fatalf("a summary cut short was stored: %q", got)
		}
		sum.mu.Lock()
		sum.finish = ""
		sum.mu.Unlock()
		time.Sleep(61 * time.Second)
		if got := summary(); !strings.HasPrefix(got, "covered turns: 1-") {
			t.Fatalf("summary after the retry = %q, want a whole one", got)
		}
	})
}

// longThreadToSummarize opens a store on a 4k-token model with sum as the
// summary model (retried after a minute) and a thread of 60 exchanges,
// more than the window holds.
func longThreadToSummarize(t *testing.T, sum *stubSummarizer, thread string) (*Store, bot.ThreadKey) {
	t.Helper()
	s, err := Open(context.Background(), Options{Path: filepath.Join(t.TempDir(), "p.db"), Models: smallModels(), MaxOutputTokens: 1024,
		SummaryModel: sum, SummaryRetry: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	key := testKey(thread)
	for n := 1; n <= 60; n++ {
		exchange(t, s, key, n, fmt.Sprintf("turn %d: %s", n, filler(n, 30)), "ok "+filler(n, 30))
	}
	return s, key
}
