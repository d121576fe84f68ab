package limits

import (
	"embed"

	"github.com/parley-bot/parley/conversation"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Component names this package's migrations in schema_migrations.
const Component = "limits"

// Migrations returns the schema changes this package needs; pass them to
// conversation.Open in Options.Migrations.
func Migrations() ([]conversation.Migration, error) {
	return conversation.MigrationsFromFS(Component, migrationFS, "migrations")
}
