package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteBusyTimeout is how long a connection waits for another process's
// lock before failing with SQLITE_BUSY.
const sqliteBusyTimeout = 10 * time.Second

// readerConns bounds concurrent readers; WAL lets them run beside the writer.
const readerConns = 4

// OpenSQLite opens (creating if needed, owner-only) the SQLite database
// file at path, applies the service's and River's migrations and returns
// the database.
//
// The file is in WAL mode with synchronous=FULL (a committed transaction
// survives power loss), foreign keys on and a busy timeout. Writes, River's
// included, share one connection: SQLite allows one writer at a time, and a
// single connection turns contention into waiting in Go instead of
// SQLITE_BUSY errors. Reads use a small pool of read-only connections.
func OpenSQLite(ctx context.Context, path string, opts Options) (*DB, error) {
	opts, err := opts.check()
	if err != nil {
		return nil, err
	}
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") || strings.Contains(path, ":memory:") {
		return nil, fmt.Errorf("%w: SQLite path must be a plain file path, got %q", ErrInvalid, path)
	}
	ms, err := loadMigrations(opts.Migrations, SQLite)
	if err != nil {
		return nil, err
	}
	// Created owner-only before SQLite opens it; SQLite gives its WAL and
	// shared-memory files the permissions of the database file.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	} else if err := f.Close(); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	busy := fmt.Sprintf("_pragma=busy_timeout(%d)", sqliteBusyTimeout.Milliseconds())
	w, err := openSQLite(path + "?" + busy +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	// Keep the one connection for the life of the database rather than
	// reopening it (and rerunning its pragmas) after idle periods.
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	b := &sqliteBackend{w: w}
	if err := b.migrate(ctx, ms, opts); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	b.r, err = openSQLite(path + "?" + busy + "&_pragma=query_only(1)")
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	b.r.SetMaxOpenConns(readerConns)
	b.inserter, err = river.NewClient(riversqlite.New(w), &river.Config{Logger: opts.Logger, MaxAttempts: opts.MaxJobAttempts})
	if err != nil {
		_ = b.close()
		return nil, fmt.Errorf("sqlite: river: %w", err)
	}
	return &DB{b: b, opts: opts}, nil
}

// openSQLite is sql.Open("sqlite", dsn) with connections that keep their
// statements compiled (cachingConnector).
func openSQLite(dsn string) (*sql.DB, error) {
	c, err := newCachingConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

type sqliteBackend struct {
	w *sql.DB // the single writer connection, shared with River
	r *sql.DB // read-only connections
	// inserter is an insert-only River client, as for Postgres.
	inserter *river.Client[*sql.Tx]
}

func (b *sqliteBackend) dialect() string { return SQLite }

// migrate applies the service's migrations in one transaction (BEGIN
// IMMEDIATE excludes other processes) and then River's.
func (b *sqliteBackend) migrate(ctx context.Context, ms []migration, opts Options) error {
	if err := b.w.PingContext(ctx); err != nil {
		return err
	}
	t, err := b.begin(ctx)
	if err != nil {
		return err
	}
	defer t.Rollback(ctx)
	err = applyMigrations(ctx, t, b, ms, opts, `CREATE TABLE IF NOT EXISTS `+migrationsTable(opts.Service)+` (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT`)
	if err != nil {
		return err
	}
	if err := t.Commit(ctx); err != nil {
		return err
	}
	m, err := rivermigrate.New(riversqlite.New(b.w), &rivermigrate.Config{Logger: opts.Logger})
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	return nil
}

func (b *sqliteBackend) begin(ctx context.Context) (Tx, error) {
	tx, err := b.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &sqliteTx{sqliteQuerier: sqliteQuerier{tx}, tx: tx, river: b.inserter}, nil
}

func (b *sqliteBackend) reader() Querier { return sqliteQuerier{b.r} }

func (b *sqliteBackend) writer() Querier { return sqliteQuerier{b.w} }

// lockRow is empty: SQLite has no row locks, and the write transaction
// (BEGIN IMMEDIATE on the single writer) already excludes other writers.
func (b *sqliteBackend) lockRow() string { return "" }

func (b *sqliteBackend) timeArg(t time.Time) any { return t.UTC().Format(TimeLayout) }

func (b *sqliteBackend) uniqueViolation(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

func (b *sqliteBackend) newQueue(cfg *river.Config) (Queue, error) {
	return river.NewClient(riversqlite.New(b.w), cfg)
}

func (b *sqliteBackend) close() error {
	var errs []error
	if b.r != nil {
		errs = append(errs, b.r.Close())
	}
	errs = append(errs, b.w.Close())
	return errors.Join(errs...)
}

// sqlRunner is what *sql.DB and *sql.Tx have in common.
type sqlRunner interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type sqliteQuerier struct{ r sqlRunner }

func (q sqliteQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.r.ExecContext(ctx, sqliteSQL(query), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q sqliteQuerier) QueryRow(ctx context.Context, query string, args ...any) Row {
	return q.r.QueryRowContext(ctx, sqliteSQL(query), args...)
}

func (q sqliteQuerier) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	rs, err := q.r.QueryContext(ctx, sqliteSQL(query), args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rs}, nil
}

// sqlRows drops the error of Close, which Err reports anyway.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

type sqliteTx struct {
	sqliteQuerier
	tx    *sql.Tx
	river *river.Client[*sql.Tx]
}

func (t *sqliteTx) Commit(context.Context) error { return t.tx.Commit() }

// Rollback after Commit returns sql.ErrTxDone and does nothing.
func (t *sqliteTx) Rollback(context.Context) { _ = t.tx.Rollback() }

func (t *sqliteTx) InsertJob(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (int64, error) {
	res, err := t.river.InsertTx(ctx, t.tx, args, opts)
	if err != nil {
		return 0, err
	}
	return res.Job.ID, nil
}

func (t *sqliteTx) CancelJob(ctx context.Context, id int64) error {
	if _, err := t.river.JobCancelTx(ctx, t.tx, id); err != nil && !errors.Is(err, river.ErrNotFound) {
		return err
	}
	return nil
}

// sqliteSQL rewrites Postgres placeholders ($1) into SQLite's numbered ones
// (?1), which bind the same arguments. Callers' SQL must have no other '$'
// followed by a digit, even in string literals.
func sqliteSQL(q string) string {
	if !strings.Contains(q, "$") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q))
	for i := 0; i < len(q); i++ {
		if q[i] == '$' && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9' {
			b.WriteByte('?')
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}
