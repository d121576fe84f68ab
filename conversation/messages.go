package conversation

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parley-bot/parley/bot"
)

// StoredMessage is a message row, as History returns it.
type StoredMessage struct {
	ID                 int64
	Role               string // bot.RoleUser or bot.RoleAssistant
	PlatformMessageID  string // user messages
	AuthorID           string
	AuthorName         string
	Text               string
	TokenCount         int
	TokenEncoding      string
	Status             bot.Status
	Model              string
	PromptTokens       int
	CompletionTokens   int
	PlatformMessageIDs []string // the messages showing a reply
	Error              string
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// PendingReply is a reply a crash left streaming.
type PendingReply struct {
	ID         int64
	Thread     bot.ThreadKey
	MessageIDs []string // platform messages that show it
	Text       string   // the text stored so far (see ReplyProgress)
	Model      string
}

// The statements on the hot paths, prepared once at Open.
const (
	qUpsertThread = `INSERT INTO threads (platform, workspace, channel, thread, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (platform, workspace, channel, thread) DO UPDATE SET updated_at = excluded.updated_at
		RETURNING id`
	qMarkProcessed = `INSERT INTO processed_events (platform, event_id, processed_at) VALUES (?, ?, ?)
		ON CONFLICT (platform, event_id) DO UPDATE SET processed_at = excluded.processed_at
		WHERE processed_events.processed_at < ?`
	qInsertUser = `INSERT INTO messages (thread_id, role, platform_message_id, author_id, author_name,
			text, token_count, token_encoding, status, created_at, updated_at)
			VALUES (?, 'user', ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (thread_id, platform_message_id) WHERE role = 'user' DO NOTHING
			RETURNING id`
	qSelectUser  = `SELECT id FROM messages WHERE thread_id = ? AND role = 'user' AND platform_message_id = ?`
	qInsertReply = `INSERT INTO messages (thread_id, role, status, model, reply_to, created_at, updated_at)
			VALUES (?, 'assistant', 'streaming', ?, ?, ?, ?) RETURNING id`
	qReplyMessages = `UPDATE messages SET platform_message_ids = ?, updated_at = ? WHERE id = ? AND role = 'assistant'`
	qReplyProgress = `UPDATE messages SET text = ?, updated_at = ? WHERE id = ? AND role = 'assistant' AND status = 'streaming'`
	qFinishReply   = `UPDATE messages SET text = ?, status = ?, token_count = ?, token_encoding = ?,
		model = CASE WHEN ? <> '' THEN ? ELSE model END, prompt_tokens = ?, completion_tokens = ?,
		platform_message_ids = ?, error = ?, updated_at = ?
		WHERE id = ? AND role = 'assistant'`
)

func hotQueries() []string {
	return []string{qUpsertThread, qMarkProcessed, qInsertUser, qSelectUser, qInsertReply, qReplyMessages, qReplyProgress, qFinishReply}
}

func validStatus(st bot.Status) bool {
	switch st {
	case bot.StatusStreaming, bot.StatusComplete, bot.StatusPartial, bot.StatusFailed,
		bot.StatusFiltered, bot.StatusInterrupted, bot.StatusRefused:
		return true
	}
	return false
}

// inTx runs fn in a write transaction.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// inTxIf runs fn in a write transaction when it has several statements
// to make atomic, else directly (with a nil tx).
func (s *Store) inTxIf(ctx context.Context, useTx bool, fn func(tx *sql.Tx) error) error {
	if useTx {
		return s.inTx(ctx, fn)
	}
	return fn(nil)
}

// upsertThread returns the thread's row id, creating the row if needed.
func (s *Store) upsertThread(ctx context.Context, tx *sql.Tx, k bot.ThreadKey, now int64) (int64, error) {
	var id int64
	err := s.queryRowStmt(ctx, tx, qUpsertThread, string(k.Platform), k.Workspace, k.Channel, k.Thread, now, now).Scan(&id)
	return id, err
}

// MarkProcessed records an event ID. It returns false when the ID was
// recorded less than DedupeTTL before at; older records count as new and
// are pruned as time passes.
func (s *Store) MarkProcessed(ctx context.Context, platform bot.Platform, eventID string, at time.Time) (bool, error) {
	if eventID == "" {
		return false, fmt.Errorf("mark %s event processed: empty event ID", platform)
	}
	first, err := s.markProcessed(ctx, nil, platform, eventID, at)
	if err != nil {
		return false, fmt.Errorf("mark %s event %s processed: %w", platform, eventID, err)
	}
	s.maybePrune(ctx, at)
	return first, nil
}

func (s *Store) markProcessed(ctx context.Context, tx *sql.Tx, platform bot.Platform, eventID string, at time.Time) (bool, error) {
	cutoff := at.Add(-s.opts.DedupeTTL).UnixMilli()
	res, err := s.execStmt(ctx, tx, qMarkProcessed, string(platform), eventID, at.UnixMilli(), cutoff)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// maybePrune drops expired event IDs now and then rather than on a timer:
// no goroutine to own, and the cost is spread over the events that make
// the table grow.
func (s *Store) maybePrune(ctx context.Context, at time.Time) {
	s.mu.Lock()
	prune := at.Sub(s.lastPrune) >= min(s.opts.DedupeTTL/8, time.Hour) || at.Before(s.lastPrune)
	if prune {
		s.lastPrune = at
	}
	s.mu.Unlock()
	if !prune {
		return
	}
	cutoff := at.Add(-s.opts.DedupeTTL).UnixMilli()
	if _, err := s.write.ExecContext(ctx, `DELETE FROM processed_events WHERE processed_at < ?`, cutoff); err != nil {
		s.log.Warn("prune processed events", "err", err)
	}
}

// SaveUserMessage stores a user's message. Saving the same platform
// message twice in a thread stores it once and returns the first ID.
func (s *Store) SaveUserMessage(ctx context.Context, m bot.Message, status bot.Status) (int64, error) {
	id, _, err := s.saveUser(ctx, m, "", status, time.Time{})
	return id, err
}

// AcceptUserMessage records event eventID and stores its message in one
// transaction, so that no failure or crash leaves an event marked as
// handled whose message was never stored (a redelivery would be ignored
// and the message lost). first is false, and nothing is stored, when the
// event was already recorded less than DedupeTTL before at.
func (s *Store) AcceptUserMessage(ctx context.Context, m bot.Message, eventID string, status bot.Status, at time.Time) (id int64, first bool, err error) {
	if eventID == "" {
		return 0, false, fmt.Errorf("accept message %s: empty event ID", m.ID)
	}
	id, first, err = s.saveUser(ctx, m, eventID, status, at)
	if err == nil {
		s.maybePrune(ctx, at)
	}
	return id, first, err
}

// saveUser stores m, after recording eventID in the same transaction
// unless it is empty.
func (s *Store) saveUser(ctx context.Context, m bot.Message, eventID string, status bot.Status, at time.Time) (int64, bool, error) {
	if err := m.Validate(); err != nil {
		return 0, false, fmt.Errorf("save user message: %w", err)
	}
	if !validStatus(status) || status == bot.StatusStreaming {
		return 0, false, fmt.Errorf("save user message %s: invalid status %q", m.ID, status)
	}
	key := m.Key()
	enc := s.encodingOf(s.opts.DefaultModel)
	tokens := s.codecs.count(enc, m.Text)
	created := m.Time
	if created.IsZero() {
		created = time.Now()
	}

	t, err := s.acquire(key)
	if err != nil {
		return 0, false, err
	}
	defer s.release(t)
	now := nowMilli()
	var id int64
	first, inserted := true, false
	// The thread row exists once its id is known (rows are never deleted),
	// so the common case without an event is a single INSERT.
	threadID := t.id
	err = s.inTxIf(ctx, threadID == 0 || eventID != "", func(tx *sql.Tx) error {
		if eventID != "" {
			var err error
			if first, err = s.markProcessed(ctx, tx, m.Platform, eventID, at); err != nil || !first {
				return err
			}
		}
		if threadID == 0 {
			var err error
			if threadID, err = s.upsertThread(ctx, tx, key, now); err != nil {
				return err
			}
		}
		err := s.queryRowStmt(ctx, tx, qInsertUser, threadID, m.ID, m.AuthorID, m.AuthorName, m.Text, tokens, enc.String(), string(status),
			created.UnixMilli(), now).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return s.queryRowStmt(ctx, tx, qSelectUser,
				threadID, m.ID).Scan(&id)
		}
		inserted = err == nil
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("save user message %s in %s: %w", m.ID, key, err)
	}
	if !first {
		return 0, false, nil
	}
	t.id = threadID
	if t.loaded && inserted {
		nm := msg{id: id, user: true, status: status, platformID: m.ID, name: displayName(m.AuthorName, m.AuthorID), text: m.Text, cost: unknownCost()}
		nm.cost[enc] = int32(s.codecs.messageCostNamed(enc, bot.RoleUser, tokens, t.nameCount(s, enc, nm.name)))
		t.append(nm)
	}
	return id, true, nil
}

// EditUserMessage replaces the text of a stored user message. It returns an
// error wrapping ErrNotFound when the message is not stored (it may predate
// the bot). A summary that already covers the message is not rewritten.
func (s *Store) EditUserMessage(ctx context.Context, key bot.ThreadKey, messageID, text string) error {
	t, err := s.acquire(key)
	if err != nil {
		return err
	}
	defer s.release(t)
	if err := s.load(ctx, t); err != nil {
		return fmt.Errorf("edit message %s: %w", messageID, err)
	}
	enc := s.encodingOf(s.threadModel(t, ""))
	tokens := s.codecs.count(enc, text)
	res, err := s.write.ExecContext(ctx, `UPDATE messages SET text = ?, token_count = ?, token_encoding = ?, updated_at = ?
		WHERE role = 'user' AND platform_message_id = ? AND thread_id =
		(SELECT id FROM threads WHERE platform = ? AND workspace = ? AND channel = ? AND thread = ?)`,
		text, tokens, enc.String(), nowMilli(), messageID, string(key.Platform), key.Workspace, key.Channel, key.Thread)
	if err != nil {
		return fmt.Errorf("edit message %s in %s: %w", messageID, key, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("edit message %s in %s: %w", messageID, key, err)
	} else if n == 0 {
		return fmt.Errorf("edit message %s in %s: %w", messageID, key, ErrNotFound)
	}
	if i := t.findUser(messageID); i >= 0 {
		m := &t.msgs[i]
		m.text = text
		m.cost = unknownCost()
		m.cost[enc] = int32(s.codecs.messageCostNamed(enc, bot.RoleUser, tokens, t.nameCount(s, enc, m.name)))
	}
	return nil
}

// BeginReply stores an empty reply as streaming.
func (s *Store) BeginReply(ctx context.Context, key bot.ThreadKey, replyTo int64, model string) (int64, error) {
	if !key.Valid() {
		return 0, fmt.Errorf("begin reply in %s: invalid thread key", key)
	}
	t, err := s.acquire(key)
	if err != nil {
		return 0, err
	}
	defer s.release(t)
	now := nowMilli()
	var id int64
	threadID := t.id
	err = s.inTxIf(ctx, threadID == 0, func(tx *sql.Tx) error {
		if threadID == 0 {
			var err error
			if threadID, err = s.upsertThread(ctx, tx, key, now); err != nil {
				return err
			}
		}
		return s.queryRowStmt(ctx, tx, qInsertReply, threadID, model, nullID(replyTo), now, now).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("begin reply in %s: %w", key, err)
	}
	t.id = threadID
	if t.loaded {
		t.insertReply(msg{id: id, replyTo: replyTo, status: bot.StatusStreaming, cost: unknownCost()})
	}
	s.mu.Lock()
	s.replies[id] = replyRef{key: key, model: model}
	s.mu.Unlock()
	return id, nil
}

// ReplyMessages records the platform messages that show a reply.
func (s *Store) ReplyMessages(ctx context.Context, replyID int64, messageIDs []string) error {
	ids, err := encodeIDs(messageIDs)
	if err != nil {
		return fmt.Errorf("record messages of reply %d: %w", replyID, err)
	}
	res, err := s.execStmt(ctx, nil, qReplyMessages,
		ids, nowMilli(), replyID)
	return checkOne(res, err, fmt.Sprintf("record messages of reply %d", replyID))
}

// ReplyProgress stores the text of a reply while it streams, so that
// InterruptedReplies can show it after a crash. The status stays streaming.
func (s *Store) ReplyProgress(ctx context.Context, replyID int64, text string) error {
	res, err := s.execStmt(ctx, nil, qReplyProgress,
		text, nowMilli(), replyID)
	return checkOne(res, err, fmt.Sprintf("store progress of reply %d", replyID))
}

// FinishReply stores a reply's final text and status. It returns an error
// wrapping ErrNotFound when the reply is gone (the thread was reset).
func (s *Store) FinishReply(ctx context.Context, replyID int64, out bot.ReplyOutcome) error {
	if !validStatus(out.Status) || out.Status == bot.StatusStreaming {
		return fmt.Errorf("finish reply %d: invalid status %q", replyID, out.Status)
	}
	ids, err := encodeIDs(out.MessageIDs)
	if err != nil {
		return fmt.Errorf("finish reply %d: %w", replyID, err)
	}
	ref, err := s.replyRef(ctx, replyID)
	if err != nil {
		return fmt.Errorf("finish reply %d: %w", replyID, err)
	}
	model := ref.model
	if model == "" {
		model = out.Usage.Model
	}
	enc := s.encodingOf(model)
	tokens := s.codecs.count(enc, out.Text)

	t, err := s.acquire(ref.key)
	if err != nil {
		return err
	}
	defer s.release(t)
	res, err := s.execStmt(ctx, nil, qFinishReply,
		out.Text, string(out.Status), tokens, enc.String(), out.Usage.Model, out.Usage.Model,
		out.Usage.PromptTokens, out.Usage.CompletionTokens, ids, out.Error, nowMilli(), replyID)
	if err := checkOne(res, err, fmt.Sprintf("finish reply %d in %s", replyID, ref.key)); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.replies, replyID)
	s.mu.Unlock()
	if i := t.find(replyID); i >= 0 {
		m := &t.msgs[i]
		m.text, m.status = out.Text, out.Status
		m.cost = unknownCost()
		m.cost[enc] = int32(s.codecs.messageCostNamed(enc, bot.RoleAssistant, tokens, 0))
	}
	return nil
}

// replyRef finds the thread and model of a reply.
func (s *Store) replyRef(ctx context.Context, replyID int64) (replyRef, error) {
	s.mu.Lock()
	ref, ok := s.replies[replyID]
	s.mu.Unlock()
	if ok {
		return ref, nil
	}
	var p string
	err := s.read.QueryRowContext(ctx, `SELECT t.platform, t.workspace, t.channel, t.thread, m.model
		FROM messages m JOIN threads t ON t.id = m.thread_id WHERE m.id = ? AND m.role = 'assistant'`, replyID).
		Scan(&p, &ref.key.Workspace, &ref.key.Channel, &ref.key.Thread, &ref.model)
	if errors.Is(err, sql.ErrNoRows) {
		return ref, ErrNotFound
	}
	ref.key.Platform = bot.Platform(p)
	return ref, err
}

// ResetThread deletes a thread's messages and summary. Its model and system
// prompt overrides stay: they are settings, not history.
func (s *Store) ResetThread(ctx context.Context, key bot.ThreadKey) error {
	t, err := s.acquire(key)
	if err != nil {
		return err
	}
	defer s.release(t)
	var threadID int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `UPDATE threads SET summary = '', summary_through = 0, summary_tokens = 0,
			summary_encoding = '', generation = generation + 1, updated_at = ?
			WHERE platform = ? AND workspace = ? AND channel = ? AND thread = ? RETURNING id`,
			nowMilli(), string(key.Platform), key.Workspace, key.Channel, key.Thread).Scan(&threadID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM messages WHERE thread_id = ?`, threadID)
		return err
	})
	if err != nil {
		return fmt.Errorf("reset thread %s: %w", key, err)
	}
	t.reset() // the next use reads the emptied thread back
	s.mu.Lock()
	delete(s.retryAt, threadID)
	for id, r := range s.replies {
		if r.key == key {
			delete(s.replies, id)
		}
	}
	s.mu.Unlock()
	return nil
}

// SetThreadOverrides sets a thread's model and system prompt. A nil pointer
// leaves the setting as it is; an empty string clears it.
func (s *Store) SetThreadOverrides(ctx context.Context, key bot.ThreadKey, model, systemPrompt *string) error {
	if !key.Valid() {
		return fmt.Errorf("set overrides of %s: invalid thread key", key)
	}
	t, err := s.acquire(key)
	if err != nil {
		return err
	}
	defer s.release(t)
	null := func(p *string) any {
		if p == nil || *p == "" {
			return nil
		}
		return *p
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		now := nowMilli()
		id, err := s.upsertThread(ctx, tx, key, now)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE threads SET
			model_override = CASE WHEN ? THEN ? ELSE model_override END,
			system_prompt_override = CASE WHEN ? THEN ? ELSE system_prompt_override END
			WHERE id = ?`, model != nil, null(model), systemPrompt != nil, null(systemPrompt), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("set overrides of %s: %w", key, err)
	}
	t.reset() // reread: the row may have just been created
	return nil
}

// ThreadOverrides returns a thread's model and system prompt overrides
// ("" when not set).
func (s *Store) ThreadOverrides(ctx context.Context, key bot.ThreadKey) (model, systemPrompt string, err error) {
	t, err := s.acquire(key)
	if err != nil {
		return "", "", err
	}
	defer s.release(t)
	if err := s.load(ctx, t); err != nil {
		return "", "", err
	}
	return t.modelOverride, t.systemOverride, nil
}

// ThreadActive reports whether the bot has replied in the thread.
func (s *Store) ThreadActive(ctx context.Context, key bot.ThreadKey) (bool, error) {
	t, err := s.acquire(key)
	if err != nil {
		return false, err
	}
	defer s.release(t)
	if err := s.load(ctx, t); err != nil {
		return false, err
	}
	for i := len(t.msgs) - 1; i >= 0; i-- {
		if !t.msgs[i].user {
			return true, nil
		}
	}
	return false, nil
}

// History returns every stored message of a thread, oldest first.
func (s *Store) History(ctx context.Context, key bot.ThreadKey) ([]StoredMessage, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT m.id, m.role, m.platform_message_id, m.author_id, m.author_name, m.text,
		m.token_count, m.token_encoding, m.status, m.model, m.prompt_tokens, m.completion_tokens, m.platform_message_ids,
		m.error, m.created_at, m.updated_at
		FROM messages m JOIN threads t ON t.id = m.thread_id
		WHERE t.platform = ? AND t.workspace = ? AND t.channel = ? AND t.thread = ? ORDER BY m.id`,
		string(key.Platform), key.Workspace, key.Channel, key.Thread)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", key, err)
	}
	defer rows.Close()
	var out []StoredMessage
	for rows.Next() {
		var m StoredMessage
		var status, ids string
		var created, updated int64
		if err := rows.Scan(&m.ID, &m.Role, &m.PlatformMessageID, &m.AuthorID, &m.AuthorName, &m.Text, &m.TokenCount,
			&m.TokenEncoding, &status, &m.Model, &m.PromptTokens, &m.CompletionTokens, &ids, &m.Error, &created, &updated); err != nil {
			return nil, fmt.Errorf("history of %s: %w", key, err)
		}
		m.Status = bot.Status(status)
		m.CreatedAt, m.UpdatedAt = time.UnixMilli(created), time.UnixMilli(updated)
		if m.PlatformMessageIDs, err = DecodeIDs(ids); err != nil {
			return nil, fmt.Errorf("history of %s: message %d: %w", key, m.ID, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history of %s: %w", key, err)
	}
	return out, nil
}

// InterruptedReplies returns the replies left streaming, oldest first. Call
// it at start, before any reply begins: a crash left these unfinished, and
// each should be finished (FinishReply with bot.StatusInterrupted).
func (s *Store) InterruptedReplies(ctx context.Context) ([]PendingReply, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT m.id, t.platform, t.workspace, t.channel, t.thread, m.platform_message_ids, m.text, m.model
		FROM messages m JOIN threads t ON t.id = m.thread_id WHERE m.status = 'streaming' ORDER BY m.id`)
	if err != nil {
		return nil, fmt.Errorf("find interrupted replies: %w", err)
	}
	defer rows.Close()
	var out []PendingReply
	for rows.Next() {
		var p PendingReply
		var platform, ids string
		if err := rows.Scan(&p.ID, &platform, &p.Thread.Workspace, &p.Thread.Channel, &p.Thread.Thread, &ids, &p.Text, &p.Model); err != nil {
			return nil, fmt.Errorf("find interrupted replies: %w", err)
		}
		p.Thread.Platform = bot.Platform(platform)
		if p.MessageIDs, err = DecodeIDs(ids); err != nil {
			return nil, fmt.Errorf("find interrupted replies: reply %d: %w", p.ID, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find interrupted replies: %w", err)
	}
	return out, nil
}

func encodeIDs(ids []string) (string, error) {
	if len(ids) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(ids)
	return string(b), err
}

// DecodeIDs parses a stored platform_message_ids column (a JSON array of
// strings; "" reads as none).
func DecodeIDs(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var ids []string
	if err := json.Unmarshal([]byte(s), &ids); err != nil {
		return nil, fmt.Errorf("decode platform message IDs: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return ids, nil
}

func checkOne(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}

// nullID stores 0 as NULL (a reply to no stored message).
func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }
