package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// migrationFS holds the schema of each dialect as numbered SQL files
// ("0001_init.sql"). A file, once released, never changes: a schema change
// is a new file.
//
//go:embed migrations/postgres/*.sql migrations/sqlite/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the migrations of a dialect in version order.
func loadMigrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: name must start with a version number and '_'", e.Name())
		}
		b, err := fs.ReadFile(migrationFS, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(e.Name(), ".sql"), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share a version", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// migrationsTable records applied versions. It is named for this service
// rather than "schema_migrations", the table of several migration tools,
// so the database can be shared without confusing either.
const migrationsTable = "packet_schema_migrations"

// applyMigrations brings the schema up to date inside t: all pending
// versions or none. createTable is the dialect's DDL for migrationsTable.
// A database that already has versions this binary does not know was
// migrated by a newer release; running against it could corrupt data, so
// that is an error.
func applyMigrations(ctx context.Context, t txn, b backend, createTable string, now time.Time) error {
	ms, err := loadMigrations(b.dialect())
	if err != nil {
		return err
	}
	if _, err := t.exec(ctx, createTable); err != nil {
		return fmt.Errorf("create %s: %w", migrationsTable, err)
	}
	rs, err := t.query(ctx, `SELECT version FROM `+migrationsTable)
	if err != nil {
		return fmt.Errorf("read %s: %w", migrationsTable, err)
	}
	applied := map[int]bool{}
	for rs.Next() {
		var v int
		if err := rs.Scan(&v); err != nil {
			rs.Close()
			return err
		}
		applied[v] = true
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return err
	}
	known := map[int]bool{}
	for _, m := range ms {
		known[m.version] = true
	}
	for v := range applied {
		if !known[v] {
			return fmt.Errorf("database schema has version %d, newer than this binary (latest %d): upgrade the packet service", v, ms[len(ms)-1].version)
		}
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		if _, err := t.exec(ctx, m.sql); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if _, err := t.exec(ctx, `INSERT INTO `+migrationsTable+` (version, name, applied_at) VALUES ($1, $2, $3)`,
			m.version, m.name, b.timeArg(now)); err != nil {
			return fmt.Errorf("migration %s: record: %w", m.name, err)
		}
	}
	return nil
}
