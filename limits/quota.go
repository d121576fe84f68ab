package limits

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/parley-bot/parley/bot"
)

// Kinds lists every quota, in the order they are checked and shown.
var kinds = [...]Kind{
	{ScopeUser, Tokens, Day}, {ScopeUser, Requests, Day}, {ScopeUser, Tokens, Month}, {ScopeUser, Requests, Month},
	{ScopeChannel, Tokens, Day}, {ScopeChannel, Requests, Day}, {ScopeChannel, Tokens, Month}, {ScopeChannel, Requests, Month},
	{ScopeWorkspace, Tokens, Day}, {ScopeWorkspace, Requests, Day}, {ScopeWorkspace, Tokens, Month}, {ScopeWorkspace, Requests, Month},
}

// ValidKind reports whether k is a quota Parley can enforce.
func ValidKind(k Kind) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

// settleTimeout bounds Settle's write, which has no caller context.
const settleTimeout = 10 * time.Second

type setKey struct {
	kind   Kind
	target string // Target.Key(); "" for the scope's default
}

// quotas keeps the quota settings in memory (so Admit reads no settings
// from the database) and the usage in SQLite.
type quotas struct {
	db  *sql.DB
	log *slog.Logger
	// Statements of the hot path, prepared once: parsing SQL dominated
	// the cost of a reservation.
	sumStmt, chargeStmt, settleStmt *sql.Stmt

	mu       sync.RWMutex
	defaults map[Kind]int64   // from the config
	set      map[setKey]int64 // by admins, persisted in limits_quotas
}

func newQuotas(ctx context.Context, db *sql.DB, defaults map[Kind]int64, log *slog.Logger) (*quotas, error) {
	q := &quotas{db: db, log: log, set: make(map[setKey]int64)}
	if err := q.setDefaults(defaults); err != nil {
		return nil, err
	}
	// No call is in flight when the process starts: reservations left by a
	// crash would otherwise hold quota forever.
	if _, err := db.ExecContext(ctx, `UPDATE limits_usage SET reserved = 0 WHERE reserved != 0`); err != nil {
		return nil, fmt.Errorf("release stale quota reservations: %w", err)
	}
	if err := q.prepare(ctx); err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT scope, target, unit, period, amount FROM limits_quotas`)
	if err != nil {
		_ = q.close()
		return nil, fmt.Errorf("load quotas: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k Kind
		var target string
		var amount int64
		if err := rows.Scan(&k.Scope, &target, &k.Unit, &k.Period, &amount); err != nil {
			return nil, fmt.Errorf("load quotas: %w", err)
		}
		q.set[setKey{k, target}] = amount
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load quotas: %w", err)
	}
	return q, nil
}

const (
	sqlSum = `SELECT COALESCE(SUM(tokens), 0), COALESCE(SUM(reserved), 0), COALESCE(SUM(requests), 0)
		FROM limits_usage WHERE scope = ? AND target = ? AND day BETWEEN ? AND ?`
	sqlCharge = `INSERT INTO limits_usage (scope, target, day, name, reserved, requests) VALUES (?, ?, ?, ?, ?, 1)
		ON CONFLICT (scope, target, day) DO UPDATE SET reserved = reserved + excluded.reserved, requests = requests + 1,
		name = CASE WHEN excluded.name = '' THEN name ELSE excluded.name END`
	sqlSettle = `UPDATE limits_usage SET reserved = MAX(reserved - ?, 0), tokens = tokens + ?,
		requests = MAX(requests - ?, 0) WHERE scope = ? AND target = ? AND day = ?`
)

func (q *quotas) prepare(ctx context.Context) error {
	var err error
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{{&q.sumStmt, sqlSum}, {&q.chargeStmt, sqlCharge}, {&q.settleStmt, sqlSettle}} {
		if *p.dst, err = q.db.PrepareContext(ctx, p.sql); err != nil {
			_ = q.close()
			return fmt.Errorf("prepare quota statements: %w", err)
		}
	}
	return nil
}

func (q *quotas) close() error {
	var errs []error
	for _, s := range []*sql.Stmt{q.sumStmt, q.chargeStmt, q.settleStmt} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}

func (q *quotas) setDefaults(defaults map[Kind]int64) error {
	d := make(map[Kind]int64, len(defaults))
	for k, v := range defaults {
		if !ValidKind(k) {
			return fmt.Errorf("quota %s: unknown kind (periods are day and month)", k)
		}
		if v < 0 {
			return fmt.Errorf("quota %s: must not be negative, got %d", k, v)
		}
		d[k] = v
	}
	q.mu.Lock()
	q.defaults = d
	q.mu.Unlock()
	return nil
}

// QuotaSource says where a quota's amount comes from.
type QuotaSource string

// Quota sources, most specific first.
const (
	SourceTarget  QuotaSource = "set for this target"
	SourceDefault QuotaSource = "default set by an admin"
	SourceConfig  QuotaSource = "config default"
	SourceNone    QuotaSource = "none"
)

// limit returns the quota of kind k for a target key; 0 means unlimited.
func (q *quotas) limit(k Kind, target string) (int64, QuotaSource) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if target != "" {
		if v, ok := q.set[setKey{k, target}]; ok {
			return v, SourceTarget
		}
	}
	if v, ok := q.set[setKey{k, ""}]; ok {
		return v, SourceDefault
	}
	if v, ok := q.defaults[k]; ok && v > 0 {
		return v, SourceConfig
	}
	return 0, SourceNone
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// usageOf sums a target's usage over the period containing now.
func usageOf(ctx context.Context, db queryer, s Scope, target string, p Period, now time.Time) (tokens, reserved, requests int64, err error) {
	first, last, _ := span(p, now)
	err = db.QueryRowContext(ctx, sqlSum, string(s), target, first, last).
		Scan(&tokens, &reserved, &requests)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("usage of %s %s per %s: %w", s, target, p, err)
	}
	return tokens, reserved, requests, nil
}

// charge is one usage row an admission booked.
type charge struct {
	scope  Scope
	target string
}

// reservation is a granted request's booking; Settle replaces the
// estimate with what the call really used.
type reservation struct {
	q        *quotas
	day      int64
	charges  [3]charge
	estimate int64
	once     sync.Once
}

func messageTargets(m bot.Message) [3]Target {
	return [3]Target{
		UserTarget(m.Platform, m.ChargedWorkspace(), m.AuthorID, m.AuthorName),
		ChannelTarget(bot.ChannelKey{Platform: m.Platform, Workspace: m.Workspace, Channel: m.Channel}),
		WorkspaceTarget(m.Platform, m.ChargedWorkspace()),
	}
}

// reserve checks every quota that applies to m and, if none is spent,
// books one request and estimate tokens against the user, the channel and
// the workspace in one transaction.
func (q *quotas) reserve(ctx context.Context, m bot.Message, estimate int64, now time.Time) (*reservation, error) {
	targets := messageTargets(m)
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("reserve quota: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, t := range targets {
		key := t.Key()
		for _, p := range [...]Period{Day, Month} {
			tokLimit, _ := q.limit(Kind{t.Scope, Tokens, p}, key)
			reqLimit, _ := q.limit(Kind{t.Scope, Requests, p}, key)
			if tokLimit == 0 && reqLimit == 0 {
				continue
			}
			first, last, _ := span(p, now)
			var tokens, reserved, requests int64
			if err := tx.StmtContext(ctx, q.sumStmt).QueryRowContext(ctx, string(t.Scope), key, first, last).
				Scan(&tokens, &reserved, &requests); err != nil {
				return nil, fmt.Errorf("reserve quota: usage of %s per %s: %w", key, p, err)
			}
			if tokLimit > 0 && tokens+reserved >= tokLimit {
				return nil, spentError(t, Tokens, p, tokens, reserved, tokLimit, now)
			}
			if reqLimit > 0 && requests >= reqLimit {
				return nil, spentError(t, Requests, p, requests, 0, reqLimit, now)
			}
		}
	}
	r := &reservation{q: q, day: dayNumber(now), estimate: estimate}
	chargeStmt := tx.StmtContext(ctx, q.chargeStmt)
	for i, t := range targets {
		r.charges[i] = charge{t.Scope, t.Key()}
		name := t.Name
		if t.Scope == ScopeWorkspace {
			name = ""
		}
		if _, err := chargeStmt.ExecContext(ctx, string(t.Scope), r.charges[i].target, r.day, name, estimate); err != nil {
			return nil, fmt.Errorf("reserve quota for %s: %w", t.Key(), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("reserve quota: commit: %w", err)
	}
	return r, nil
}

// settle releases the estimate and records the actual tokens; a call that
// used nothing (it failed before the model answered) does not count as a
// request either.
func (r *reservation) settle(actual int64) {
	r.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
		defer cancel()
		if err := r.write(ctx, max(actual, 0)); err != nil {
			r.q.log.Error("settle quota usage", "tokens", actual, "err", err)
		}
	})
}

func (r *reservation) write(ctx context.Context, actual int64) error {
	refund := int64(0)
	if actual == 0 {
		refund = 1
	}
	tx, err := r.q.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	settle := tx.StmtContext(ctx, r.q.settleStmt)
	for _, c := range r.charges {
		if _, err := settle.ExecContext(ctx, r.estimate, actual, refund, string(c.scope), c.target, r.day); err != nil {
			return fmt.Errorf("%s %s: %w", c.scope, c.target, err)
		}
	}
	return tx.Commit()
}

// Settle implements bot.Admission for a reservation without a rate slot.
func (r *reservation) Settle(u bot.Usage) { r.settle(int64(u.Total())) }

// spentError is the polite refusal naming the quota, the usage and when
// it resets.
func spentError(t Target, u Unit, p Period, used, reserved, limit int64, now time.Time) *bot.RefusedError {
	_, _, resets := span(p, now)
	when := "today"
	at := "at 00:00 UTC"
	if p == Month {
		when = "this month"
		at = "on " + resets.Format("2 Jan") + " at 00:00 UTC"
	}
	var who string
	switch t.Scope {
	case ScopeUser:
		who = "You've used %s of your %s %s for %s"
	case ScopeChannel:
		who = "This channel has used %s of its %s %s for %s"
	default:
		who = "This workspace has used %s of its %s %s for %s"
	}
	notice := fmt.Sprintf(who, formatCount(used+reserved), formatCount(limit), u, when)
	if reserved > 0 {
		notice += " (counting replies still in progress)"
	}
	notice += fmt.Sprintf("; it resets %s (in %s).", at, FormatWait(resets.Sub(now)))
	return &bot.RefusedError{Reason: "quota", Notice: notice}
}

// QuotaLine is one quota of a target as `quota show` reports it.
type QuotaLine struct {
	Kind     Kind
	Limit    int64 // 0: unlimited
	Source   QuotaSource
	Used     int64 // settled tokens, or requests
	Reserved int64 // tokens booked by calls in flight
	Resets   time.Time
}

func (q *quotas) status(ctx context.Context, t Target, now time.Time) ([]QuotaLine, error) {
	var out []QuotaLine
	for _, k := range kinds {
		if k.Scope != t.Scope {
			continue
		}
		limit, src := q.limit(k, t.Key())
		line := QuotaLine{Kind: k, Limit: limit, Source: src}
		_, _, line.Resets = span(k.Period, now)
		if !t.IsDefault() {
			tokens, reserved, requests, err := usageOf(ctx, q.db, t.Scope, t.Key(), k.Period, now)
			if err != nil {
				return nil, fmt.Errorf("quota status of %s: %w", t, err)
			}
			if k.Unit == Tokens {
				line.Used, line.Reserved = tokens, reserved
			} else {
				line.Used = requests
			}
		}
		out = append(out, line)
	}
	return out, nil
}

// formatAmount writes a quota amount; 0 is unlimited.
func formatAmount(v int64, u Unit) string {
	if v <= 0 {
		return "unlimited"
	}
	return formatCount(v) + " " + string(u)
}

// setQuota stores an admin's quota (amount < 0 removes it, returning the
// target to its default) and its audit row in one transaction.
func (q *quotas) setQuota(ctx context.Context, actor string, t Target, k Kind, amount int64, now time.Time) (old, updated string, err error) {
	if !ValidKind(k) || k.Scope != t.Scope {
		return "", "", fmt.Errorf("set quota: %s does not apply to %s", k, t)
	}
	key := t.Key()
	q.mu.Lock()
	defer q.mu.Unlock()
	describe := func() string {
		if v, ok := q.set[setKey{k, key}]; ok {
			return formatAmount(v, k.Unit) + "/" + string(k.Period)
		}
		return "default"
	}
	old = describe()
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return "", "", fmt.Errorf("set quota: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if amount < 0 {
		_, err = tx.ExecContext(ctx, `DELETE FROM limits_quotas WHERE scope = ? AND target = ? AND unit = ? AND period = ?`,
			string(k.Scope), key, string(k.Unit), string(k.Period))
	} else {
		_, err = tx.ExecContext(ctx, `INSERT INTO limits_quotas (scope, target, unit, period, amount) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (scope, target, unit, period) DO UPDATE SET amount = excluded.amount`,
			string(k.Scope), key, string(k.Unit), string(k.Period), amount)
	}
	if err != nil {
		return "", "", fmt.Errorf("set quota %s of %s: %w", k, t, err)
	}
	if amount < 0 {
		updated = "default"
	} else {
		updated = formatAmount(amount, k.Unit) + "/" + string(k.Period)
	}
	if err := audit(ctx, tx, now, actor, "quota set "+string(k.Unit)+"/"+string(k.Period), t, old, updated); err != nil {
		return "", "", err
	}
	if err := tx.Commit(); err != nil {
		return "", "", fmt.Errorf("set quota: commit: %w", err)
	}
	if amount < 0 {
		delete(q.set, setKey{k, key})
	} else {
		q.set[setKey{k, key}] = amount
	}
	return old, updated, nil
}

// resetUsage forgives a target's settled tokens and requests in the
// current month (and so today); reservations of calls in flight stay.
func (q *quotas) resetUsage(ctx context.Context, actor string, t Target, now time.Time) (old string, err error) {
	if t.IsDefault() {
		return "", errors.New("reset usage: name a user, a channel or the workspace, not a default")
	}
	first, last, _ := span(Month, now)
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("reset usage: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	dayTok, _, dayReq, err := usageOf(ctx, tx, t.Scope, t.Key(), Day, now)
	if err != nil {
		return "", fmt.Errorf("reset usage: %w", err)
	}
	monTok, _, monReq, err := usageOf(ctx, tx, t.Scope, t.Key(), Month, now)
	if err != nil {
		return "", fmt.Errorf("reset usage: %w", err)
	}
	old = fmt.Sprintf("today %s tokens, %s requests; this month %s tokens, %s requests",
		formatCount(dayTok), formatCount(dayReq), formatCount(monTok), formatCount(monReq))
	if _, err := tx.ExecContext(ctx, `UPDATE limits_usage SET tokens = 0, requests = 0 WHERE scope = ? AND target = ? AND day BETWEEN ? AND ?`,
		string(t.Scope), t.Key(), first, last); err != nil {
		return "", fmt.Errorf("reset usage of %s: %w", t, err)
	}
	if err := audit(ctx, tx, now, actor, "quota reset", t, old, "0 used"); err != nil {
		return "", err
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("reset usage: commit: %w", err)
	}
	return old, nil
}

// UsageRow is one user or channel in a usage report.
type UsageRow struct {
	Target   Target
	Tokens   int64
	Requests int64
}

// UsageReport is `usage` over a period.
type UsageReport struct {
	Period        Period
	From, To      time.Time // first and last day covered
	Tokens        int64     // all users
	Requests      int64
	TopUsers      []UsageRow
	TopChannels   []UsageRow
	Days          []UsageRow // per day (Target.ID is the date), oldest first, for the chart
	Scope, Target string     // what the report was narrowed to ("" for all)
}

// parseKey turns a stored key back into a target.
func parseKey(s Scope, key, name string) Target {
	parts := splitKey(key)
	t := Target{Scope: s, Name: name}
	if len(parts) > 0 {
		t.Platform = bot.Platform(parts[0])
	}
	if len(parts) > 1 {
		t.Workspace = parts[1]
	}
	if len(parts) > 2 {
		t.ID = parts[2]
	}
	return t
}

func splitKey(key string) []string {
	var parts []string
	start := 0
	for i := 0; i <= len(key); i++ {
		if i == len(key) || key[i] == '/' {
			parts = append(parts, unescapeKey(key[start:i]))
			start = i + 1
		}
	}
	return parts
}

func unescapeKey(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				out = append(out, byte(v))
				i += 2
				continue
			}
		}
		out = append(out, s[i])
	}
	return string(out)
}

// usage builds a report over p; when only is not empty (a user or a
// channel), the report covers that target alone.
func (q *quotas) usage(ctx context.Context, only Target, p Period, top int, now time.Time) (UsageReport, error) {
	first, last, _ := span(p, now)
	if p == Month {
		last = dayNumber(now)
	}
	rep := UsageReport{Period: p, From: dayStart(first), To: dayStart(last)}
	scopeFilter, targetFilter := "", ""
	if only.Platform != "" {
		scopeFilter, targetFilter = string(only.Scope), only.Key()
		rep.Scope, rep.Target = scopeFilter, targetFilter
	}
	// Totals and the daily chart count users, so each call is counted once.
	totalScope, totalTarget := string(ScopeUser), ""
	if scopeFilter != "" {
		totalScope, totalTarget = scopeFilter, targetFilter
	}
	rows, err := q.db.QueryContext(ctx, `SELECT day, SUM(tokens), SUM(requests) FROM limits_usage
		WHERE day BETWEEN ? AND ? AND scope = ? AND (? = '' OR target = ?) GROUP BY day ORDER BY day`,
		first, last, totalScope, totalTarget, totalTarget)
	if err != nil {
		return rep, fmt.Errorf("usage report: %w", err)
	}
	byDay := make(map[int64]UsageRow)
	for rows.Next() {
		var d, tok, req int64
		if err := rows.Scan(&d, &tok, &req); err != nil {
			rows.Close()
			return rep, fmt.Errorf("usage report: %w", err)
		}
		byDay[d] = UsageRow{Tokens: tok, Requests: req}
		rep.Tokens += tok
		rep.Requests += req
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return rep, fmt.Errorf("usage report: %w", err)
	}
	for d := first; d <= last; d++ {
		r := byDay[d]
		r.Target = Target{ID: dayStart(d).Format("Mon 2 Jan")}
		rep.Days = append(rep.Days, r)
	}
	if scopeFilter != "" {
		// Usage rows do not link users to channels, so a report on one
		// target is its own totals and chart.
		return rep, nil
	}
	topOf := func(s Scope) ([]UsageRow, error) {
		rows, err := q.db.QueryContext(ctx, `SELECT target, MAX(name), SUM(tokens), SUM(requests) FROM limits_usage
			WHERE day BETWEEN ? AND ? AND scope = ? GROUP BY target ORDER BY SUM(tokens) DESC, target LIMIT ?`,
			first, last, string(s), top)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []UsageRow
		for rows.Next() {
			var key, name string
			var r UsageRow
			if err := rows.Scan(&key, &name, &r.Tokens, &r.Requests); err != nil {
				return nil, err
			}
			r.Target = parseKey(s, key, name)
			out = append(out, r)
		}
		return out, rows.Err()
	}
	if rep.TopUsers, err = topOf(ScopeUser); err != nil {
		return rep, fmt.Errorf("usage report: top users: %w", err)
	}
	if rep.TopChannels, err = topOf(ScopeChannel); err != nil {
		return rep, fmt.Errorf("usage report: top channels: %w", err)
	}
	return rep, nil
}
