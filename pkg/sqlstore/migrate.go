package sqlstore

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"
)

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the migrations of a dialect in version order.
func loadMigrations(fsys fs.FS, dialect string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dialect)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s/%s: name must start with a version number and '_'", dialect, e.Name())
		}
		b, err := fs.ReadFile(fsys, dialect+"/"+e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(e.Name(), ".sql"), sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share a version", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// CheckMigrations reports whether fsys is a usable Options.Migrations: both
// dialects load, and they have the same history (the same names in the same
// order), so a migration added to one and forgotten in the other shows in a
// service's unit tests rather than in production.
func CheckMigrations(fsys fs.FS) error {
	pg, err := loadMigrations(fsys, Postgres)
	if err != nil {
		return err
	}
	lite, err := loadMigrations(fsys, SQLite)
	if err != nil {
		return err
	}
	if len(pg) != len(lite) {
		return fmt.Errorf("migrations: %d for postgres, %d for sqlite", len(pg), len(lite))
	}
	for i := range pg {
		if pg[i].name != lite[i].name {
			return fmt.Errorf("migration %d: postgres %s, sqlite %s", i+1, pg[i].name, lite[i].name)
		}
	}
	return nil
}

// migrationsTable records applied versions. It is named for the service
// rather than "schema_migrations", the table of several migration tools, so
// a database can be shared without confusing either.
func migrationsTable(service string) string { return service + "_schema_migrations" }

// applyMigrations brings the schema up to date inside t: all pending
// versions or none. createTable is the dialect's DDL for the migrations
// table. A database that already has versions this binary does not know
// was migrated by a newer release; running against it could corrupt data,
// so that is an error.
func applyMigrations(ctx context.Context, t Tx, b backend, ms []migration, opts Options, createTable string) error {
	table := migrationsTable(opts.Service)
	if _, err := t.Exec(ctx, createTable); err != nil {
		return fmt.Errorf("create %s: %w", table, err)
	}
	rs, err := t.Query(ctx, `SELECT version FROM `+table)
	if err != nil {
		return fmt.Errorf("read %s: %w", table, err)
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
	latest := 0
	for _, m := range ms {
		known[m.version] = true
		latest = max(latest, m.version)
	}
	for v := range applied {
		if !known[v] {
			return fmt.Errorf("database schema has version %d, newer than this binary (latest %d): upgrade the %s service", v, latest, opts.Service)
		}
	}
	now := opts.Clock().UTC().Truncate(time.Microsecond)
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		if _, err := t.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if _, err := t.Exec(ctx, `INSERT INTO `+table+` (version, name, applied_at) VALUES ($1, $2, $3)`,
			m.version, m.name, b.timeArg(now)); err != nil {
			return fmt.Errorf("migration %s: record: %w", m.name, err)
		}
	}
	return nil
}
