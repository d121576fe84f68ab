package conversation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parley-bot/parley/bot"
)

// summaryInstructions is the summary model's system prompt.
const summaryInstructions = "You maintain the running summary of a chat conversation between users and an assistant. " +
	"Merge the existing summary with the new messages into one concise summary. Keep who said what, facts, decisions, " +
	"open questions and anything the assistant promised; drop pleasantries. Write only the summary, in the language of the conversation."

// summaryJob is the background summary of one thread. Prompt asks for it;
// while it runs, further requests only move its boundary forward.
type summaryJob struct {
	key        bot.ThreadKey
	threadID   int64
	generation int64
	boundary   int64 // summarise turns before this message id
	model      string
	again      bool
}

// scheduleSummary asks for the turns before boundary to be summarised.
// Called with t locked.
func (s *Store) scheduleSummary(t *thread, boundary int64, model string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if until, ok := s.retryAt[t.id]; ok {
		if time.Now().Before(until) {
			return
		}
		delete(s.retryAt, t.id)
	}
	if j := s.jobs[t.id]; j != nil {
		j.boundary = max(j.boundary, boundary)
		j.generation, j.model, j.again = t.generation, model, true
		return
	}
	j := &summaryJob{key: t.key, threadID: t.id, generation: t.generation, boundary: boundary, model: model}
	s.jobs[t.id] = j
	s.wg.Add(1)
	go s.runSummary(j)
}

func (s *Store) runSummary(j *summaryJob) {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		job := *j
		j.again = false
		s.mu.Unlock()

		err := s.summarize(s.ctx, job)

		s.mu.Lock()
		if err != nil && s.ctx.Err() == nil {
			s.log.Warn("summarise older turns", "thread", job.key.String(), "err", err)
			s.retryAt[job.threadID] = time.Now().Add(s.opts.SummaryRetry)
		}
		if err != nil || !j.again || s.closed {
			delete(s.jobs, job.threadID)
			s.cond.Broadcast()
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}

// summaryTurn is one turn as the summary model sees it.
type summaryTurn struct {
	key   int64 // the id of the user message that starts the turn (its turnKey)
	lines []string
}

// summarize folds the turns after the stored summary and before
// job.boundary into it, a chunk at a time so that each request fits the
// summary model. Each chunk's result is stored at once, so progress
// survives a failure or a restart.
func (s *Store) summarize(ctx context.Context, job summaryJob) error {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.sem }()

	name := s.opts.SummaryModelName
	if name == "" {
		name = job.model
	}
	info := s.model(name)
	enc, _ := parseEncoding(info.Encoding)
	outCap := min(s.opts.SummaryMaxTokens, info.MaxOutput, info.ContextWindow/4)
	for {
		var summary string
		var through, gen int64
		err := s.read.QueryRowContext(ctx, `SELECT summary, summary_through, generation FROM threads WHERE id = ?`, job.threadID).
			Scan(&summary, &through, &gen)
		if err != nil {
			return fmt.Errorf("read summary of %s: %w", job.key, err)
		}
		if gen != job.generation {
			return nil // the thread was reset
		}
		turns, err := s.turnsBetween(ctx, job.threadID, through, job.boundary)
		if err != nil {
			return fmt.Errorf("read turns of %s: %w", job.key, err)
		}
		if len(turns) == 0 {
			return nil
		}
		head := "Existing summary:\n" + orNone(summary) + "\n\nNew messages:\n"
		base := s.codecs.chatCost(enc, []bot.ChatMessage{
			{Role: bot.RoleSystem, Content: summaryInstructions},
			{Role: bot.RoleUser, Content: head},
		})
		room := info.ContextWindow - outCap - s.opts.MarginTokens - base
		if room < 64 {
			return fmt.Errorf("summary model %s: window %d too small for the summary and its instructions", name, info.ContextWindow)
		}
		// The chunk is sized from per-turn counts; the exact count of the
		// joined request decides, shrinking the chunk if BPE merged badly.
		limit := info.ContextWindow - outCap - s.opts.MarginTokens
		var req bot.ChatRequest
		var last int64
		for range 4 {
			var body string
			body, last = s.chunk(enc, turns, room)
			req = bot.ChatRequest{
				Model: name,
				Messages: []bot.ChatMessage{
					{Role: bot.RoleSystem, Content: summaryInstructions},
					{Role: bot.RoleUser, Content: head + body},
				},
				MaxTokens: outCap,
			}
			req.PromptTokens = s.codecs.chatCost(enc, req.Messages)
			if req.PromptTokens <= limit {
				break
			}
			room -= req.PromptTokens - limit + 8
		}
		if req.PromptTokens > limit {
			return fmt.Errorf("summary request of %d tokens does not fit %s (limit %d)", req.PromptTokens, name, limit)
		}
		c, err := s.opts.SummaryModel.Stream(ctx, req, func(string) {})
		if err != nil {
			return fmt.Errorf("summary model %s: %w", name, err)
		}
		if c.FinishReason != "" && c.FinishReason != "stop" {
			// A summary cut short would stand for turns it does not cover.
			return fmt.Errorf("summary model %s stopped early (finish_reason %q); keeping the previous summary", name, c.FinishReason)
		}
		text := strings.TrimSpace(c.Text)
		if s.opts.SummaryFilter != nil {
			text = strings.TrimSpace(s.opts.SummaryFilter(text))
		}
		if text == "" {
			return errors.New("summary model returned no text")
		}
		if ok, err := s.storeSummary(ctx, job, through, last, text); err != nil || !ok {
			return err
		}
	}
}

// chunk renders the oldest turns that fit in room tokens (at least one,
// cut if it alone is too long) and returns the turn key of the last turn
// covered (summary_through).
func (s *Store) chunk(enc encoding, turns []summaryTurn, room int) (string, int64) {
	var b strings.Builder
	used := 0
	var last int64
	for _, t := range turns {
		text := strings.Join(t.lines, "\n") + "\n"
		// Pieces are counted apart; one extra token per line covers the
		// merges BPE may make across the joins.
		n := s.codecs.count(enc, text) + len(t.lines)
		if used+n > room {
			if last != 0 {
				break
			}
			text = s.cutTokens(enc, text, room) + "\n"
			n = room
		}
		b.WriteString(text)
		used += n
		last = t.key
	}
	return b.String(), last
}

// cutTokens returns the first n tokens of text.
func (s *Store) cutTokens(enc encoding, text string, n int) string {
	_, toks, err := s.codecs.get(enc).Encode(text)
	if err != nil || len(toks) <= n {
		return text
	}
	return strings.Join(toks[:max(n-1, 0)], "") + "…"
}

// turnsBetween reads the sendable turns with messages after id `after` and
// before `before`, as lines for the summary model.
func (s *Store) turnsBetween(ctx context.Context, threadID, after, before int64) ([]summaryTurn, error) {
	// Replies count with the message they answer (turnOrder), so a turn
	// is never split across summaries.
	rows, err := s.read.QueryContext(ctx, `SELECT id, role, status, author_id, author_name, text FROM messages
		WHERE thread_id = ? AND `+turnKey+` > ? AND `+turnKey+` < ? ORDER BY `+turnOrder, threadID, after, before)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var turns []summaryTurn
	skipping := true // until the first sendable user message
	for rows.Next() {
		var m msg
		var role, status, authorID, authorName string
		if err := rows.Scan(&m.id, &role, &status, &authorID, &authorName, &m.text); err != nil {
			return nil, err
		}
		m.user, m.status = role == bot.RoleUser, bot.Status(status)
		switch {
		case m.user && userSendable(m.status):
			skipping = false
			who := strings.TrimSpace(authorName)
			if who == "" {
				who = authorID
			}
			turns = append(turns, summaryTurn{key: m.id, lines: []string{who + ": " + m.text}})
		case m.user:
			skipping = true // a filtered or refused turn must not reach the summary either
		case !skipping && replySendable(&m):
			tt := &turns[len(turns)-1]
			tt.lines = append(tt.lines, "assistant: "+m.text)
		}
	}
	return turns, rows.Err()
}

// storeSummary saves a new summary covering messages up to through unless
// the thread was reset or another summary landed meanwhile. It reports
// whether it was stored.
func (s *Store) storeSummary(ctx context.Context, job summaryJob, oldThrough, through int64, text string) (bool, error) {
	t, err := s.acquire(job.key)
	if err != nil {
		return false, err
	}
	defer s.release(t)
	enc := s.encodingOf(job.model)
	tokens := s.codecs.count(enc, text)
	res, err := s.write.ExecContext(ctx, `UPDATE threads SET summary = ?, summary_through = ?, summary_tokens = ?,
		summary_encoding = ?, updated_at = ? WHERE id = ? AND generation = ? AND summary_through = ?`,
		text, through, tokens, enc.String(), nowMilli(), job.threadID, job.generation, oldThrough)
	if err != nil {
		return false, fmt.Errorf("store summary of %s: %w", job.key, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	if t.loaded && t.id == job.threadID && t.generation == job.generation {
		t.summary, t.summaryThrough = text, through
		t.summaryCost = unknownCost()
	}
	s.log.Debug("summary stored", "thread", job.key.String(), "through", through, "tokens", tokens)
	return true, nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// waitSummaries blocks until no summary job runs (tests use it).
func (s *Store) waitSummaries() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.jobs) > 0 {
		s.cond.Wait()
	}
}
