package conversation

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// componentConversation names this package's migrations in schema_migrations.
const componentConversation = "conversation"

// Migration is one versioned schema change. Component scopes the version
// numbers, so that each package (conversation, quotas, …) numbers its own
// migrations from 1.
type Migration struct {
	Component string
	Version   int
	Name      string
	SQL       string
}

// MigrationsFromFS reads the migrations in dir of fsys, named
// NNNN_description.sql (e.g. 0001_init.sql), for component.
func MigrationsFromFS(component string, fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations of %s: %w", component, err)
	}
	var out []Migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		version, name, err := ParseMigrationName(e.Name())
		if err != nil {
			return nil, fmt.Errorf("migrations of %s: %w", component, err)
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s of %s: %w", e.Name(), component, err)
		}
		out = append(out, Migration{Component: component, Version: version, Name: name, SQL: string(body)})
	}
	return out, nil
}

// ParseMigrationName splits "0003_add_quotas.sql" into 3 and "add_quotas".
func ParseMigrationName(file string) (version int, name string, err error) {
	base, ok := strings.CutSuffix(file, ".sql")
	if !ok {
		return 0, "", fmt.Errorf("migration %q: not a .sql file", file)
	}
	num, name, _ := strings.Cut(base, "_")
	if num == "" || strings.TrimLeft(num, "0123456789") != "" {
		return 0, "", fmt.Errorf("migration %q: want NNNN_description.sql", file)
	}
	version, err = strconv.Atoi(num)
	if err != nil || version <= 0 {
		return 0, "", fmt.Errorf("migration %q: version must be a positive number", file)
	}
	return version, name, nil
}

// checkMigrations rejects duplicates and empty components before anything
// is applied.
func checkMigrations(ms []Migration) error {
	seen := make(map[string]bool, len(ms))
	for _, m := range ms {
		if m.Component == "" || m.Version <= 0 {
			return fmt.Errorf("migration %q: component and a positive version are required", m.Name)
		}
		k := m.Component + "/" + strconv.Itoa(m.Version)
		if seen[k] {
			return fmt.Errorf("migration %s: version %d defined twice", m.Component, m.Version)
		}
		seen[k] = true
	}
	return nil
}

// migrate applies the migrations not yet recorded, each with its record in
// one transaction, in (component, version) order with this package's first.
func migrate(ctx context.Context, db *sql.DB, ms []Migration) error {
	if err := checkMigrations(ms); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		component  TEXT    NOT NULL,
		version    INTEGER NOT NULL,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL,
		PRIMARY KEY (component, version))`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	sort.SliceStable(ms, func(i, j int) bool {
		a, b := ms[i], ms[j]
		if a.Component != b.Component {
			if a.Component == componentConversation || b.Component == componentConversation {
				return a.Component == componentConversation
			}
			return a.Component < b.Component
		}
		return a.Version < b.Version
	})
	for _, m := range ms {
		if err := applyMigration(ctx, db, m); err != nil {
			return err
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, m Migration) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s/%d: begin: %w", m.Component, m.Version, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE component = ? AND version = ?`,
		m.Component, m.Version).Scan(&n); err != nil {
		return fmt.Errorf("migration %s/%d: check: %w", m.Component, m.Version, err)
	}
	if n > 0 {
		return tx.Rollback()
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("migration %s/%d (%s): %w", m.Component, m.Version, m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (component, version, name, applied_at) VALUES (?, ?, ?, ?)`,
		m.Component, m.Version, m.Name, time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("migration %s/%d: record: %w", m.Component, m.Version, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s/%d: commit: %w", m.Component, m.Version, err)
	}
	return nil
}
