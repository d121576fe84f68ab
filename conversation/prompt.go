package conversation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/parley-bot/parley/bot"
)

// summaryPrefix introduces the rolling summary in a request.
const summaryPrefix = "Summary of the earlier conversation: "

// span is one turn: msgs[start:end], starting with its user message.
type span struct{ start, end int }

// threadModel is the model a thread uses: its override, else the caller's,
// else the default.
func (s *Store) threadModel(t *thread, requested string) string {
	switch {
	case t.modelOverride != "":
		return t.modelOverride
	case requested != "":
		return requested
	}
	return s.opts.DefaultModel
}

// PromptModel returns the model Prompt fits a thread to: the thread's
// override, else requested, else Options.DefaultModel. bot.Prompt does not
// carry it, so the engine asks here which model to call.
func (s *Store) PromptModel(ctx context.Context, key bot.ThreadKey, requested string) (string, error) {
	t, err := s.acquire(key)
	if err != nil {
		return "", err
	}
	defer s.release(t)
	if err := s.load(ctx, t); err != nil {
		return "", err
	}
	return s.threadModel(t, requested), nil
}

// Prompt fits the thread to the model's window: the system prompt, the
// summary when turns are left out, and the newest whole turns that fit.
// When the system prompt and the newest user message alone exceed the
// budget it marks that message refused and returns a *bot.TooLongError.
func (s *Store) Prompt(ctx context.Context, key bot.ThreadKey, opts bot.PromptOptions) (bot.Prompt, error) {
	t, err := s.acquire(key)
	if err != nil {
		return bot.Prompt{}, err
	}
	defer s.release(t)
	if err := s.load(ctx, t); err != nil {
		return bot.Prompt{}, fmt.Errorf("prompt for %s: %w", key, err)
	}
	model := s.threadModel(t, opts.Model)
	system := opts.SystemPrompt
	if t.systemOverride != "" {
		system = t.systemOverride
	}
	info := s.model(model)
	enc, _ := parseEncoding(info.Encoding)
	reserved := s.reservedOutput(info)
	budget := info.ContextWindow - reserved - s.opts.MarginTokens
	if opts.Shrink {
		budget = budget * 3 / 4
	}
	if budget <= 0 {
		return bot.Prompt{}, fmt.Errorf("prompt for %s: model %s leaves no room for a prompt (window %d, output %d, margin %d)",
			key, model, info.ContextWindow, reserved, s.opts.MarginTokens)
	}

	fixed := bot.TokensReplyPriming
	if system != "" {
		fixed += s.systemCost(enc, system)
	}
	// Messages queued behind the one being answered are left out.
	limit, turns := len(t.msgs), t.turns
	if opts.ReplyTo != 0 {
		if i := t.find(opts.ReplyTo); i >= 0 && t.msgs[i].user {
			limit = i + 1
			for limit < len(t.msgs) && !t.msgs[limit].user {
				limit++
			}
			turns = t.sendableTurns(limit)
		}
	}
	newest := -1
	for i := limit - 1; i >= 0; i-- {
		if t.msgs[i].user && userSendable(t.msgs[i].status) {
			newest = i
			break
		}
	}
	if newest < 0 {
		return bot.Prompt{}, fmt.Errorf("prompt for %s: %w", key, ErrNoMessages)
	}
	if need := fixed + s.cost(t, newest, enc); need > budget {
		s.refuseTooLong(ctx, t, newest, model, need, budget)
		return bot.Prompt{}, &bot.TooLongError{Tokens: need, Budget: budget}
	}

	spans, used, stopUser := s.fit(t, enc, budget-fixed, limit)
	evicted := turns - len(spans)
	withSummary := false
	if evicted > 0 && t.summary != "" && s.opts.Policy == PolicySummarize {
		// The summary ranks after the newest turn and before older ones.
		sc := s.summaryCost(t, enc)
		if sc+s.turnCost(t, spans[0], enc) <= budget-fixed {
			spans, used, stopUser = s.fit(t, enc, budget-fixed-sc, limit)
			used += sc
			evicted = turns - len(spans)
			withSummary = true
		}
	}

	msgs := make([]bot.ChatMessage, 0, 2+2*len(spans))
	if system != "" {
		msgs = append(msgs, bot.ChatMessage{Role: bot.RoleSystem, Content: system})
	}
	if withSummary {
		msgs = append(msgs, bot.ChatMessage{Role: bot.RoleSystem, Content: summaryPrefix + t.summary})
	}
	for k := len(spans) - 1; k >= 0; k-- {
		for i := spans[k].start; i < spans[k].end; i++ {
			m := &t.msgs[i]
			switch {
			case m.user && i == spans[k].start:
				msgs = append(msgs, bot.ChatMessage{Role: bot.RoleUser, Name: m.name, Content: m.text})
			case !m.user && replySendable(m):
				msgs = append(msgs, bot.ChatMessage{Role: bot.RoleAssistant, Content: m.text})
			}
		}
	}

	if evicted > 0 {
		if s.opts.Policy == PolicySummarize && s.opts.SummaryModel != nil {
			if stopUser > t.summaryThrough {
				s.scheduleSummary(t, t.msgs[spans[len(spans)-1].start].id, model)
			}
		} else if s.log.Enabled(ctx, slog.LevelInfo) {
			s.log.Info("older turns left out of the request", "thread", key.String(), "turns", evicted, "model", model)
		}
	}
	return bot.Prompt{
		Model:     model,
		Messages:  msgs,
		Tokens:    fixed + used,
		Budget:    budget,
		MaxOutput: reserved,
		Evicted:   evicted,
	}, nil
}

// fit collects the newest sendable turns before index end that fit in room tokens, newest
// first, with their cost and the message id of the user message of the
// newest turn left out (0: none). The newest turn is always taken: whole if
// it fits, else its user message alone (the caller checked that it fits).
func (s *Store) fit(t *thread, enc encoding, room, end int) (spans []span, used int, stopUser int64) {
	spans = make([]span, 0, 32)
	for end > 0 {
		start := end - 1
		for start >= 0 && !t.msgs[start].user {
			start--
		}
		if start < 0 {
			break // replies before any user message are never sent
		}
		if !userSendable(t.msgs[start].status) {
			end = start
			continue
		}
		sp := span{start, end}
		c := s.turnCost(t, sp, enc)
		if used+c > room {
			if len(spans) > 0 {
				stopUser = t.msgs[start].id
				break
			}
			sp.end = start + 1 // the newest question without its earlier replies
			c = s.cost(t, start, enc)
		}
		spans = append(spans, sp)
		used += c
		end = start
	}
	return spans, used, stopUser
}

// turnCost is the chat cost of the sendable messages of a turn.
func (s *Store) turnCost(t *thread, sp span, enc encoding) int {
	n := 0
	for i := sp.start; i < sp.end; i++ {
		if m := &t.msgs[i]; (m.user && i == sp.start) || (!m.user && replySendable(m)) {
			n += s.cost(t, i, enc)
		}
	}
	return n
}

func (s *Store) summaryCost(t *thread, enc encoding) int {
	if t.summaryCost[enc] < 0 {
		t.summaryCost[enc] = int32(s.codecs.messageCostNamed(enc, bot.RoleSystem, s.codecs.count(enc, summaryPrefix+t.summary), 0))
	}
	return int(t.summaryCost[enc])
}

// systemCost counts a system prompt, remembering the few in use.
func (s *Store) systemCost(enc encoding, text string) int {
	k := sysKey{enc, text}
	s.mu.Lock()
	n, ok := s.sysTokens[k]
	s.mu.Unlock()
	if ok {
		return n
	}
	n = s.codecs.messageCostNamed(enc, bot.RoleSystem, s.codecs.count(enc, text), 0)
	s.mu.Lock()
	if len(s.sysTokens) >= 256 {
		clear(s.sysTokens) // overrides churned; start over rather than grow
	}
	s.sysTokens[k] = n
	s.mu.Unlock()
	return n
}

// refuseTooLong marks a user message that can never fit as refused, so that
// it does not block the turns after it from being sent.
func (s *Store) refuseTooLong(ctx context.Context, t *thread, i int, model string, need, budget int) {
	m := &t.msgs[i]
	reason := fmt.Sprintf("too long for %s: needs %d tokens, the budget is %d", model, need, budget)
	_, err := s.write.ExecContext(ctx, `UPDATE messages SET status = 'refused', error = ?, updated_at = ? WHERE id = ?`,
		reason, nowMilli(), m.id)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			s.log.Warn("mark too long message refused", "thread", t.key.String(), "message", m.id, "err", err)
		}
		return
	}
	t.setUserStatus(i, bot.StatusRefused)
}
