package limits

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/parley-bot/parley/bot"
)

// loadRates reads the channel limits admins set.
func (g *Gate) loadRates(ctx context.Context) error {
	rows, err := g.db.QueryContext(ctx, `SELECT target, count, per_ns, burst FROM limits_rates`)
	if err != nil {
		return fmt.Errorf("load channel limits: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var l Limit
		var per int64
		if err := rows.Scan(&key, &l.Count, &per, &l.Burst); err != nil {
			return fmt.Errorf("load channel limits: %w", err)
		}
		l.Per = time.Duration(per)
		if key == "" {
			g.adminDefault = &l
			continue
		}
		g.adminChannels[parseKey(ScopeChannel, key, "").ChannelKey()] = l
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load channel limits: %w", err)
	}
	return nil
}

// Now returns the gate's clock.
func (g *Gate) Now() time.Time { return g.now() }

// Location is where retry times shown to users are given.
func (g *Gate) Location() *time.Location {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.opts.Location
}

// QuotaStatus returns every quota of a target with its usage in the
// current periods (a default target shows the amounts only).
func (g *Gate) QuotaStatus(ctx context.Context, t Target) ([]QuotaLine, error) {
	return g.q.status(ctx, t, g.now())
}

// SetQuota sets the quota of kind k for t (a user, channel, workspace or
// a scope's default). amount 0 means unlimited; a negative amount removes
// the setting, so t falls back to its default. The change is audited.
func (g *Gate) SetQuota(ctx context.Context, actor string, t Target, k Kind, amount int64) (old, updated string, err error) {
	return g.q.setQuota(ctx, actor, t, k, amount, g.now())
}

// ResetUsage forgives t's usage in the current day and month. Audited.
func (g *Gate) ResetUsage(ctx context.Context, actor string, t Target) (old string, err error) {
	return g.q.resetUsage(ctx, actor, t, g.now())
}

// Usage reports usage over p: totals, a daily series and the top users
// and channels; when only names a user or a channel, its own figures.
func (g *Gate) Usage(ctx context.Context, only Target, p Period, top int) (UsageReport, error) {
	if top <= 0 {
		top = 5
	}
	return g.q.usage(ctx, only, p, top, g.now())
}

// Audit returns the newest n admin changes, newest first.
func (g *Gate) Audit(ctx context.Context, n int) ([]AuditEntry, error) {
	if n <= 0 {
		n = 20
	}
	return readAudit(ctx, g.db, n)
}

// ChannelLimitView is one channel's rate as `limits show` reports it.
type ChannelLimitView struct {
	Channel bot.ChannelKey
	Limit   Limit
	Source  string // "config" or "admin"
	Queued  int
}

// LimitsView is the rate limiting in force.
type LimitsView struct {
	Channel       Limit
	ChannelSource string // "config" or "admin"
	User          Limit
	QueueSize     int
	MaxWait       time.Duration
	Channels      []ChannelLimitView // overrides and channels with a queue, sorted
}

// Limits describes the rate limits in force and the queues.
func (g *Gate) Limits() LimitsView {
	g.mu.Lock()
	defer g.mu.Unlock()
	def, over := g.channelLimits()
	v := LimitsView{Channel: def, ChannelSource: "config", User: g.opts.User, QueueSize: g.opts.QueueSize, MaxWait: g.opts.MaxWait}
	if g.adminDefault != nil {
		v.ChannelSource = "admin"
	}
	seen := make(map[bot.ChannelKey]bool)
	for k, l := range over {
		src := "config"
		if _, ok := g.adminChannels[k]; ok {
			src = "admin"
		}
		cv := ChannelLimitView{Channel: k, Limit: l, Source: src}
		if q := g.queues[k]; q != nil {
			cv.Queued = len(q.waiters)
		}
		v.Channels = append(v.Channels, cv)
		seen[k] = true
	}
	for k, q := range g.queues {
		if !seen[k] {
			v.Channels = append(v.Channels, ChannelLimitView{Channel: k, Limit: def, Source: "default", Queued: len(q.waiters)})
		}
	}
	slices.SortFunc(v.Channels, func(a, b ChannelLimitView) int {
		return strings.Compare(ChannelTarget(a.Channel).Key(), ChannelTarget(b.Channel).Key())
	})
	return v
}

// SetChannelLimit sets the rate of a channel, or the default when t is
// DefaultTarget(ScopeChannel). remove drops the admin's setting (back to
// the config). It takes effect at once, survives restarts and is audited.
func (g *Gate) SetChannelLimit(ctx context.Context, actor string, t Target, l Limit, remove bool) (old, updated string, err error) {
	if t.Scope != ScopeChannel {
		return "", "", fmt.Errorf("set limit: %s is not a channel", t)
	}
	if !remove && (l.Unlimited() || l.Burst < 1) {
		return "", "", errors.New("set limit: want a positive rate and a burst of at least 1")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	def, over := g.channelLimits()
	oldLimit, ok := over[t.ChannelKey()]
	if t.IsDefault() || !ok {
		oldLimit = def
	}
	old = oldLimit.String()
	tx, err := g.db.BeginTx(ctx, nil)
	if err != nil {
		return "", "", fmt.Errorf("set limit: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if remove {
		_, err = tx.ExecContext(ctx, `DELETE FROM limits_rates WHERE target = ?`, t.Key())
	} else {
		_, err = tx.ExecContext(ctx, `INSERT INTO limits_rates (target, count, per_ns, burst) VALUES (?, ?, ?, ?)
			ON CONFLICT (target) DO UPDATE SET count = excluded.count, per_ns = excluded.per_ns, burst = excluded.burst`,
			t.Key(), l.Count, int64(l.Per), l.Burst)
	}
	if err != nil {
		return "", "", fmt.Errorf("set limit of %s: %w", t, err)
	}
	// Compute what will be in force, to audit it.
	prevDefault, prevOverride, hadOverride := g.adminDefault, g.adminChannels[t.ChannelKey()], false
	_, hadOverride = g.adminChannels[t.ChannelKey()]
	g.setAdminLimitLocked(t, l, remove)
	def, over = g.channelLimits()
	newLimit, ok := over[t.ChannelKey()]
	if t.IsDefault() || !ok {
		newLimit = def
	}
	updated = newLimit.String()
	if remove {
		updated += " (from the config)"
	}
	err = audit(ctx, tx, g.now(), actor, "limits set", t, old, updated)
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		// Undo the in-memory change: the database still has the old one.
		g.adminDefault = prevDefault
		if hadOverride {
			g.adminChannels[t.ChannelKey()] = prevOverride
		} else {
			delete(g.adminChannels, t.ChannelKey())
		}
		return "", "", fmt.Errorf("set limit: %w", err)
	}
	g.applyLocked()
	return old, updated, nil
}

func (g *Gate) setAdminLimitLocked(t Target, l Limit, remove bool) {
	switch {
	case t.IsDefault() && remove:
		g.adminDefault = nil
	case t.IsDefault():
		g.adminDefault = &l
	case remove:
		delete(g.adminChannels, t.ChannelKey())
	default:
		g.adminChannels[t.ChannelKey()] = l
	}
}
