package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parley-bot/parley/adapters/console"
	"github.com/parley-bot/parley/bot"
	"github.com/parley-bot/parley/internal/testrig"
	"github.com/parley-bot/parley/llm/fakeopenai"
)

func main() {
	scenario := flag.String("scenario", "all", "lag, latency or all")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	var err error
	switch *scenario {
	case "lag":
		err = finalTextLag(os.Stdout)
	case "latency":
		err = firstTokenLatency(os.Stdout)
	case "all":
		if err = finalTextLag(os.Stdout); err == nil {
			err = firstTokenLatency(os.Stdout)
		}
	default:
		err = fmt.Errorf("unknown scenario %q", *scenario)
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// threadOf reads the thread number the harness puts at the start of each message.
func threadOf(text string) int {
	f, _, _ := strings.Cut(strings.TrimPrefix(text, "thread "), ":")
	n, _ := strconv.Atoi(f)
	return n
}

// timedModel records when each thread's model stream ended (its last token).
type timedModel struct {
	bot.Model
	mu   sync.Mutex
	last map[int]time.Time
}

func (m *timedModel) Stream(ctx context.Context, req bot.ChatRequest, delta func(string)) (bot.Completion, error) {
	c, err := m.Model.Stream(ctx, req, delta)
	m.mu.Lock()
	m.last[threadOf(req.Messages[len(req.Messages)-1].Content)] = time.Now()
	m.mu.Unlock()
	return c, err
}

// slackLikeOutbox declares the Slack adapter's budgets and enforces Slack's
// Tier-3 chat.update limit: a bucket of 50 refilled at 50 a minute per
// workspace; an edit over it is rejected as Slack would (ratelimited).
type slackLikeOutbox struct {
	mu       sync.Mutex
	tokens   float64
	refilled time.Time
	rejected int
	edits    int
	nextID   int
	thread   map[string]int       // message ID → thread number
	final    map[int]time.Time    // thread → time its message last changed
	text     map[int]string       // thread → latest text
	posts    map[string]time.Time // channel → last post (1/s)
}

func newSlackLikeOutbox() *slackLikeOutbox {
	return &slackLikeOutbox{tokens: 50, refilled: time.Now(), thread: map[string]int{}, final: map[int]time.Time{}, text: map[int]string{}, posts: map[string]time.Time{}}
}

func (o *slackLikeOutbox) Limits() bot.Limits {
	return bot.Limits{
		MaxMessageChars: 3900,
		Edit:            bot.Budget{Scope: bot.ScopeWorkspace, Every: 1200 * time.Millisecond, Burst: 20},
		Post:            bot.Budget{Scope: bot.ScopeChannel, Every: time.Second, Burst: 3},
		MinEditInterval: time.Second,
	}
}

func (o *slackLikeOutbox) Post(_ context.Context, k bot.ThreadKey, text string) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.nextID++
	id := strconv.Itoa(o.nextID)
	n, _ := strconv.Atoi(strings.TrimPrefix(k.Thread, "t"))
	o.thread[id] = n
	o.text[n], o.final[n] = text, time.Now()
	return id, nil
}

func (o *slackLikeOutbox) Edit(_ context.Context, _ bot.ThreadKey, id, text string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	o.tokens = min(50, o.tokens+now.Sub(o.refilled).Minutes()*50)
	o.refilled = now
	if o.tokens < 1 {
		o.rejected++
		return &bot.RateLimitedError{Op: "chat.update", RetryAfter: time.Duration((1 - o.tokens) / 50 * float64(time.Minute))}
	}
	o.tokens--
	o.edits++
	n := o.thread[id]
	if o.text[n] != text {
		o.text[n], o.final[n] = text, now
	}
	return nil
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// finalTextLag: 20 concurrent replies in one Slack workspace, a model
// streaming 600 characters each; how long after its last token is each
// reply's final text visible?
func finalTextLag(w io.Writer) error {
	const replies = 20
	answer := strings.Repeat("Parley streams this answer a few words at a time. ", 12)[:599] + "."
	var tm *timedModel
	rig, err := testrig.Start(testrig.Options{
		Model: fakeopenai.Options{ChunkDelay: 40 * time.Millisecond, Answer: func(fakeopenai.Request) string { return answer }},
		Engine: func(c *bot.EngineConfig) {
			tm = &timedModel{Model: c.Model, last: map[int]time.Time{}}
			c.Model = tm
			c.MaxConcurrent = replies
		},
	})
	if err != nil {
		return err
	}
	defer rig.Stop(time.Minute)
	out := newSlackLikeOutbox()
	rig.Engine.AddOutbox(bot.PlatformSlack, out)
	start := time.Now()
	for i := range replies {
		m := bot.Message{Platform: bot.PlatformSlack, Workspace: "T1", Channel: fmt.Sprintf("C%d", i), Thread: fmt.Sprintf("t%d", i),
			ID: fmt.Sprintf("t%d", i), AuthorID: "U1", AuthorName: "ana", Text: fmt.Sprintf("thread %d: tell me something", i)}
		if err := rig.Engine.HandleMessage(context.Background(), m); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := rig.Engine.Idle(ctx); err != nil {
		return err
	}
	total := time.Since(start)
	var lags []time.Duration
	incomplete := 0
	for i := range replies {
		out.mu.Lock()
		if out.text[i] != answer {
			incomplete++
		}
		lags = append(lags, out.final[i].Sub(tm.last[i]))
		out.mu.Unlock()
	}
	fmt.Fprintf(w, "## final-text lag: %d concurrent replies, one Slack workspace (edit budget 50/min), 600 chars each\n\n", replies)
	fmt.Fprintf(w, "| p50 | p95 | max | edits | rejected edits | incomplete finals | wall time |\n|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(w, "| %s | %s | %s | %d | %d | %d | %s |\n\n", percentile(lags, .5).Round(time.Millisecond), percentile(lags, .95).Round(time.Millisecond),
		percentile(lags, 1).Round(time.Millisecond), out.edits, out.rejected, incomplete, total.Round(100*time.Millisecond))
	return nil
}

// firstTextOutbox wraps the console's Outbox and records, per thread, when
// the first model text reached it.
type firstTextOutbox struct {
	*console.Adapter
	mu    sync.Mutex
	first map[string]time.Time
}

func (o *firstTextOutbox) seen(thread, text string) {
	if text == "" || text == "…" {
		return
	}
	o.mu.Lock()
	if _, ok := o.first[thread]; !ok {
		o.first[thread] = time.Now()
	}
	o.mu.Unlock()
}

func (o *firstTextOutbox) Post(ctx context.Context, k bot.ThreadKey, text string) (string, error) {
	o.seen(k.Thread, text)
	return o.Adapter.Post(ctx, k, text)
}

func (o *firstTextOutbox) Edit(ctx context.Context, k bot.ThreadKey, id, text string) error {
	o.seen(k.Thread, text)
	return o.Adapter.Edit(ctx, k, id, text)
}

// firstTokenLatency: the time Parley adds between a console message and
// its first rendered token, with a model that answers at once. "steady":
// 100 threads each send a message, get the reply and think 0.5–1.5 s
// before the next (about 100 messages a second); "burst": 100 messages in
// 100 threads at the same instant (they queue for the CPU).
func firstTokenLatency(w io.Writer) error {
	fmt.Fprintf(w, "## added latency, console message → first rendered token (fake model in-process, 0 ms to first token)\n\n")
	fmt.Fprintf(w, "| load | messages | p50 | p99 | max |\n|---|---|---|---|---|\n")
	for _, sc := range []struct {
		name    string
		threads int
		rounds  int
		think   func(*rand.Rand) time.Duration
	}{
		{"1 thread", 1, 50, func(r *rand.Rand) time.Duration { return 20 * time.Millisecond }},
		{"100 threads, steady (think 0.5–1.5 s)", 100, 10, func(r *rand.Rand) time.Duration {
			return 500*time.Millisecond + time.Duration(r.Int64N(int64(time.Second)))
		}},
		{"100 threads, burst (all at once)", 100, 1, nil},
	} {
		lat, err := measureLatency(sc.threads, sc.rounds, sc.think)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s |\n", sc.name, len(lat), percentile(lat, .5).Round(10*time.Microsecond),
			percentile(lat, .99).Round(10*time.Microsecond), percentile(lat, 1).Round(10*time.Microsecond))
	}
	fmt.Fprintln(w)
	return nil
}

func measureLatency(threads, rounds int, think func(*rand.Rand) time.Duration) ([]time.Duration, error) {
	rig, err := testrig.Start(testrig.Options{
		Model:  fakeopenai.Options{Answer: func(fakeopenai.Request) string { return "first token, then a few more words" }},
		Engine: func(c *bot.EngineConfig) { c.MaxConcurrent = 128 },
	})
	if err != nil {
		return nil, err
	}
	defer rig.Stop(time.Minute)
	out := &firstTextOutbox{Adapter: console.New(console.Options{Interactive: true, Out: io.Discard}), first: map[string]time.Time{}}
	rig.Engine.AddOutbox(bot.PlatformConsole, out)

	// Warm up connections, tokenizers and the database.
	warm := bot.Message{Platform: bot.PlatformConsole, Workspace: console.Workspace, Channel: console.Channel, Thread: "warm",
		ID: "warm", AuthorID: "you", AuthorName: "you", Text: "warm up"}
	if err := rig.Engine.HandleMessage(context.Background(), warm); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := rig.Engine.Idle(ctx); err != nil {
		return nil, err
	}

	var mu sync.Mutex
	sent := map[string]time.Time{}
	var wg sync.WaitGroup
	for i := range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 7))
			for round := range rounds {
				if think != nil {
					time.Sleep(think(r))
				}
				id := fmt.Sprintf("t%d-r%d", i, round)
				m := bot.Message{Platform: bot.PlatformConsole, Workspace: console.Workspace, Channel: console.Channel, Thread: id,
					ID: id, AuthorID: "you", AuthorName: "you", Text: fmt.Sprintf("thread %d: hello", i)}
				mu.Lock()
				sent[id] = time.Now()
				mu.Unlock()
				_ = rig.Engine.HandleMessage(ctx, m)
			}
		}()
	}
	wg.Wait()
	if err := rig.Engine.Idle(ctx); err != nil {
		return nil, err
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	var lat []time.Duration
	for id, at := range sent {
		if f, ok := out.first[id]; ok {
			lat = append(lat, f.Sub(at))
		}
	}
	if len(lat) != len(sent) {
		return nil, fmt.Errorf("%d of %d messages got no text", len(sent)-len(lat), len(sent))
	}
	return lat, nil
}
