-- Threads: one row per conversation, scoped by platform, workspace and
-- channel so that history never leaks across them.
CREATE TABLE threads (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    platform               TEXT    NOT NULL,
    workspace              TEXT    NOT NULL,
    channel                TEXT    NOT NULL,
    thread                 TEXT    NOT NULL,
    model_override         TEXT,
    system_prompt_override TEXT,
    summary                TEXT    NOT NULL DEFAULT '',
    summary_through        INTEGER NOT NULL DEFAULT 0, -- messages.id the summary covers up to
    summary_tokens         INTEGER NOT NULL DEFAULT 0,
    summary_encoding       TEXT    NOT NULL DEFAULT '',
    generation             INTEGER NOT NULL DEFAULT 0, -- bumped by a reset; voids summaries in flight
    created_at             INTEGER NOT NULL,           -- unix milliseconds
    updated_at             INTEGER NOT NULL,
    UNIQUE (platform, workspace, channel, thread)
);

-- Messages: user messages and the bot's replies, in id order per thread.
-- AUTOINCREMENT keeps ids monotonic after deletions, which summary_through
-- and the in-memory cache rely on.
CREATE TABLE messages (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id            INTEGER NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    role                 TEXT    NOT NULL CHECK (role IN ('user', 'assistant')),
    platform_message_id  TEXT    NOT NULL DEFAULT '',
    author_id            TEXT    NOT NULL DEFAULT '',
    author_name          TEXT    NOT NULL DEFAULT '',
    text                 TEXT    NOT NULL DEFAULT '',
    token_count          INTEGER NOT NULL DEFAULT 0, -- tokens of text in token_encoding
    token_encoding       TEXT    NOT NULL DEFAULT '',
    status               TEXT    NOT NULL CHECK (status IN ('streaming', 'complete', 'partial', 'failed', 'filtered', 'interrupted', 'refused')),
    model                TEXT    NOT NULL DEFAULT '',
    prompt_tokens        INTEGER NOT NULL DEFAULT 0,
    completion_tokens    INTEGER NOT NULL DEFAULT 0,
    platform_message_ids TEXT    NOT NULL DEFAULT '[]', -- JSON array, for replies
    error                TEXT    NOT NULL DEFAULT '',
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);

CREATE INDEX messages_thread ON messages (thread_id, id);
-- A redelivered user message must not be stored twice.
CREATE UNIQUE INDEX messages_user_platform_id ON messages (thread_id, platform_message_id) WHERE role = 'user';
-- Crash recovery looks for replies left streaming.
CREATE INDEX messages_streaming ON messages (status) WHERE status = 'streaming';

-- Events already handled, for de-duplicating redeliveries.
CREATE TABLE processed_events (
    platform     TEXT    NOT NULL,
    event_id     TEXT    NOT NULL,
    processed_at INTEGER NOT NULL, -- unix milliseconds
    PRIMARY KEY (platform, event_id)
) WITHOUT ROWID;

CREATE INDEX processed_events_age ON processed_events (processed_at);
