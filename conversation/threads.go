package conversation

import (
	"container/list"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/parley-bot/parley/bot"
	"github.com/parley-bot/parley/llm"
)

// msg is a message as the context window needs it.
type msg struct {
	id         int64
	user       bool
	status     bot.Status
	platformID string
	name       string // sanitised author name, user messages only
	text       string
	replyTo    int64               // replies: the user message answered (0: none recorded)
	cost       [numEncodings]int32 // chat cost per encoding, -1 until counted
}

// thread is the cached state of one conversation. An entry is created on
// first use and loaded from the database lazily; every change to the
// thread's rows happens while its mu is held and is applied to the entry
// too, so a loaded entry always equals what a fresh load would read.
type thread struct {
	key bot.ThreadKey

	// Guarded by Store.mu.
	refs int // users holding the entry; only unreferenced entries are evicted
	elem *list.Element

	mu             sync.Mutex
	loaded         bool
	id             int64 // 0 until the row exists
	generation     int64
	modelOverride  string
	systemOverride string
	summary        string
	summaryThrough int64
	summaryCost    [numEncodings]int32
	msgs           []msg // in id order
	turns          int   // sendable turns (see userSendable)
	nameTokens     map[string][numEncodings]int32
}

// acquire returns the locked entry of key, creating it if needed. Callers
// must release it.
func (s *Store) acquire(key bot.ThreadKey) (*thread, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	t := s.threads[key]
	if t == nil {
		t = &thread{key: key}
		t.elem = s.lru.PushFront(t)
		s.threads[key] = t
	} else {
		s.lru.MoveToFront(t.elem)
	}
	t.refs++
	s.mu.Unlock()
	t.mu.Lock()
	return t, nil
}

// release unlocks the entry and trims the LRU to its capacity.
func (s *Store) release(t *thread) {
	t.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	t.refs--
	for e := s.lru.Back(); e != nil && len(s.threads) > s.opts.CacheThreads; {
		prev := e.Prev()
		if old := e.Value.(*thread); old.refs == 0 {
			s.lru.Remove(e)
			delete(s.threads, old.key)
		}
		e = prev
	}
}

// load reads the thread from the database unless the entry holds it.
func (s *Store) load(ctx context.Context, t *thread) error {
	if t.loaded {
		return nil
	}
	k := t.key
	var id, gen, through int64
	var model, system sql.NullString
	var summary string
	err := s.read.QueryRowContext(ctx, `SELECT id, generation, model_override, system_prompt_override, summary, summary_through
		FROM threads WHERE platform = ? AND workspace = ? AND channel = ? AND thread = ?`,
		string(k.Platform), k.Workspace, k.Channel, k.Thread).Scan(&id, &gen, &model, &system, &summary, &through)
	if errors.Is(err, sql.ErrNoRows) {
		t.reset()
		t.loaded = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("load thread %s: %w", k, err)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT id, role, status, platform_message_id, author_id, author_name, text, token_count, token_encoding,
		COALESCE(reply_to, 0) FROM messages WHERE thread_id = ? ORDER BY `+turnOrder, id)
	if err != nil {
		return fmt.Errorf("load messages of thread %s: %w", k, err)
	}
	defer rows.Close()
	t.reset()
	for rows.Next() {
		var m msg
		var role, status, authorID, authorName, encName string
		var tokens int
		if err := rows.Scan(&m.id, &role, &status, &m.platformID, &authorID, &authorName, &m.text, &tokens, &encName, &m.replyTo); err != nil {
			return fmt.Errorf("load messages of thread %s: %w", k, err)
		}
		m.user = role == bot.RoleUser
		m.status = bot.Status(status)
		if m.user {
			m.name = displayName(authorName, authorID)
		}
		m.cost = unknownCost()
		if e, ok := parseEncoding(encName); ok {
			m.cost[e] = int32(s.codecs.messageCostNamed(e, m.role(), tokens, t.nameCount(s, e, m.name)))
		}
		t.append(m)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load messages of thread %s: %w", k, err)
	}
	t.id, t.generation = id, gen
	t.modelOverride, t.systemOverride = model.String, system.String
	t.summary, t.summaryThrough = summary, through
	t.loaded = true
	return nil
}

// reset empties the entry (keeping nothing of the thread).
func (t *thread) reset() {
	t.loaded = false
	t.id, t.generation = 0, 0
	t.modelOverride, t.systemOverride = "", ""
	t.summary, t.summaryThrough = "", 0
	t.summaryCost = unknownCost()
	t.msgs = nil
	t.turns = 0
}

func (t *thread) append(m msg) {
	t.msgs = append(t.msgs, m)
	if m.user && userSendable(m.status) {
		t.turns++
	}
}

// sendableTurns counts the sendable turns among the first n messages.
func (t *thread) sendableTurns(n int) int {
	turns := 0
	for _, m := range t.msgs[:n] {
		if m.user && userSendable(m.status) {
			turns++
		}
	}
	return turns
}

// turnOrder sorts a thread's messages into turns: each user message by its
// id, each reply right after the message it answers (and after earlier
// replies to it), so that a message sent while a reply was streaming does
// not split that reply from its question.
const turnOrder = turnKey + `, id`

// turnKey is the id of the user message that starts a row's turn.
const turnKey = `(CASE WHEN role = 'assistant' AND reply_to IS NOT NULL THEN reply_to ELSE id END)`

// insertReply places a new reply where turnOrder would: after the user
// message it answers and that message's earlier replies.
func (t *thread) insertReply(m msg) {
	at := len(t.msgs)
	if m.replyTo != 0 {
		for i := len(t.msgs) - 1; i >= 0; i-- {
			if t.msgs[i].id == m.replyTo {
				at = i + 1
				for at < len(t.msgs) && !t.msgs[at].user {
					at++
				}
				break
			}
		}
	}
	t.msgs = slices.Insert(t.msgs, at, m)
}

// find returns the index of message id, or -1. Messages are in turn order,
// not id order, so it searches from the newest.
func (t *thread) find(id int64) int {
	for i := len(t.msgs) - 1; i >= 0; i-- {
		if t.msgs[i].id == id {
			return i
		}
	}
	return -1
}

// findUser returns the index of the user message with a platform ID, or -1.
func (t *thread) findUser(platformID string) int {
	for i := len(t.msgs) - 1; i >= 0; i-- {
		if t.msgs[i].user && t.msgs[i].platformID == platformID {
			return i
		}
	}
	return -1
}

// setUserStatus changes a user message's status, keeping the turn count.
func (t *thread) setUserStatus(i int, st bot.Status) {
	m := &t.msgs[i]
	if userSendable(m.status) {
		t.turns--
	}
	m.status = st
	if userSendable(st) {
		t.turns++
	}
}

// nameCount returns the tokens of a name (cached: a thread has few authors).
func (t *thread) nameCount(s *Store, e encoding, name string) int {
	if name == "" {
		return 0
	}
	if t.nameTokens == nil {
		t.nameTokens = make(map[string][numEncodings]int32)
	}
	c, ok := t.nameTokens[name]
	if !ok {
		c = unknownCost()
	}
	if c[e] < 0 {
		c[e] = int32(s.codecs.count(e, name))
		t.nameTokens[name] = c
	}
	return int(c[e])
}

// cost returns the chat cost of message i in encoding e, counting it the
// first time the encoding is asked for.
func (s *Store) cost(t *thread, i int, e encoding) int {
	m := &t.msgs[i]
	if m.cost[e] < 0 {
		m.cost[e] = int32(s.codecs.messageCostNamed(e, m.role(), s.codecs.count(e, m.text), t.nameCount(s, e, m.name)))
	}
	return int(m.cost[e])
}

func (m *msg) role() string {
	if m.user {
		return bot.RoleUser
	}
	return bot.RoleAssistant
}

func unknownCost() [numEncodings]int32 {
	var c [numEncodings]int32
	for i := range c {
		c[i] = -1
	}
	return c
}

// userSendable reports whether a user message with this status goes to the
// model: filtered and refused ones never do, and a failed one has no text.
func userSendable(st bot.Status) bool {
	switch st {
	case bot.StatusFiltered, bot.StatusRefused, bot.StatusFailed, bot.StatusStreaming:
		return false
	}
	return true
}

// replySendable reports whether a reply is part of the history sent back to
// the model: failed and refused replies carry no useful text, and one still
// streaming is not finished.
func replySendable(m *msg) bool {
	switch m.status {
	case bot.StatusComplete, bot.StatusPartial, bot.StatusInterrupted, bot.StatusFiltered:
		return m.text != ""
	}
	return false
}

// displayName is the name given to the model for a user.
func displayName(authorName, authorID string) string {
	if n := llm.SanitizeName(authorName); n != "" {
		return n
	}
	return llm.SanitizeName(authorID)
}
