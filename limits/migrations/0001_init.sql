-- Usage per day of every user, channel and workspace that talked to the
-- model: settled tokens, tokens reserved by calls in flight, and requests.
-- Month and week figures are sums over days.
CREATE TABLE limits_usage (
    scope    TEXT    NOT NULL CHECK (scope IN ('user', 'channel', 'workspace')),
    target   TEXT    NOT NULL,           -- "platform/workspace[/id]", escaped
    day      INTEGER NOT NULL,           -- days since 1970-01-01 UTC
    name     TEXT    NOT NULL DEFAULT '', -- display name last seen
    tokens   INTEGER NOT NULL DEFAULT 0,
    reserved INTEGER NOT NULL DEFAULT 0,
    requests INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, target, day)
) WITHOUT ROWID;

CREATE INDEX limits_usage_day ON limits_usage (day, scope);

-- Quotas set by admins; target '' is the scope's default.
CREATE TABLE limits_quotas (
    scope  TEXT    NOT NULL,
    target TEXT    NOT NULL,
    unit   TEXT    NOT NULL CHECK (unit IN ('tokens', 'requests')),
    period TEXT    NOT NULL CHECK (period IN ('day', 'month')),
    amount INTEGER NOT NULL, -- 0: unlimited
    PRIMARY KEY (scope, target, unit, period)
) WITHOUT ROWID;

-- Channel rate limits set by admins; target '' is the default.
CREATE TABLE limits_rates (
    target TEXT    NOT NULL PRIMARY KEY,
    count  INTEGER NOT NULL,
    per_ns INTEGER NOT NULL,
    burst  INTEGER NOT NULL
) WITHOUT ROWID;

-- Every admin change: who, when, what, old → new.
CREATE TABLE limits_audit (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL, -- unix milliseconds
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    target TEXT    NOT NULL,
    old    TEXT    NOT NULL,
    new    TEXT    NOT NULL
);
