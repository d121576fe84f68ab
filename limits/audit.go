package limits

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// AuditEntry is one admin change.
type AuditEntry struct {
	ID     int64
	At     time.Time
	Actor  string
	Action string
	Target string
	Old    string
	New    string
}

// audit records a change inside the transaction that makes it, so that no
// change goes unrecorded.
func audit(ctx context.Context, tx *sql.Tx, now time.Time, actor, action string, t Target, old, updated string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO limits_audit (at, actor, action, target, old, new) VALUES (?, ?, ?, ?, ?, ?)`,
		now.UnixMilli(), actor, action, describe(t), old, updated); err != nil {
		return fmt.Errorf("write audit entry for %s on %s: %w", action, t, err)
	}
	return nil
}

func readAudit(ctx context.Context, db *sql.DB, n int) ([]AuditEntry, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, at, actor, action, target, old, new FROM limits_audit ORDER BY id DESC LIMIT ?`, n)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &e.Old, &e.New); err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		e.At = time.UnixMilli(at).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return out, nil
}

// describe names a target with its stored identity, so an audit entry
// stays unambiguous when display names change.
func describe(t Target) string {
	if t.IsDefault() {
		return t.String()
	}
	return t.String() + " (" + t.Key() + ")"
}
