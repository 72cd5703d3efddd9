package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// DefaultMaxConns is the size of the connection pool OpenPostgres opens
// when the URL sets no pool_max_conns. pgx's own default, the greater of 4
// and the number of CPUs, starves a service on a small machine: requests
// and River's producers, completer and maintenance all queue for 4
// connections while Postgres idles (on 2 CPUs the packet service's
// registration throughput collapses). 16 per replica stays well within
// Postgres's default max_connections (100) for a few services and
// replicas; budget pool_max_conns × replicas × services against it.
const DefaultMaxConns = 16

// OpenPostgres connects to PostgreSQL at url (a pgx connection string;
// pool_max_conns, default DefaultMaxConns, and search_path work as
// parameters), applies the service's and River's migrations and returns
// the database.
//
// Migrations run under an advisory lock, so replicas starting together
// take turns instead of racing on the schema.
func OpenPostgres(ctx context.Context, url string, opts Options) (*DB, error) {
	opts, err := opts.check()
	if err != nil {
		return nil, err
	}
	ms, err := loadMigrations(opts.Migrations, Postgres)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx errors quote the connection string, password included.
		return nil, errors.New("postgres: cannot parse the connection URL")
	}
	if !setsPoolMaxConns(url) {
		cfg.MaxConns = DefaultMaxConns
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		// Lets a DBA tell the service's sessions from others.
		cfg.ConnConfig.RuntimeParams["application_name"] = "mosipcrvs-" + opts.Service
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	b := &pgBackend{pool: pool}
	if err := b.migrate(ctx, ms, opts); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	b.inserter, err = river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: opts.Logger, MaxAttempts: opts.MaxJobAttempts})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: river: %w", err)
	}
	return &DB{b: b, opts: opts}, nil
}

// setsPoolMaxConns reports whether the connection string sets
// pool_max_conns. pgx parses it as it does for the pool (an unknown
// parameter lands in RuntimeParams, whence pgxpool takes it), so URL and
// keyword/value forms are read alike.
func setsPoolMaxConns(url string) bool {
	cc, err := pgx.ParseConfig(url)
	if err != nil {
		return false
	}
	_, ok := cc.RuntimeParams["pool_max_conns"]
	return ok
}

type pgBackend struct {
	pool *pgxpool.Pool
	// inserter is an insert-only River client: Tx.InsertJob enqueues
	// through it; workers run on clients from newQueue.
	inserter *river.Client[pgx.Tx]
}

func (b *pgBackend) dialect() string { return Postgres }

// migrate applies the service's migrations in one transaction and then
// River's, holding a session advisory lock on one connection throughout.
// The two-key form keeps clear of River's single-key locks; the second key
// is the schema, so databases in different schemas do not wait for each
// other.
func (b *pgBackend) migrate(ctx context.Context, ms []migration, opts Options) error {
	if err := b.pool.Ping(ctx); err != nil {
		return err
	}
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	const lockKeys = `hashtext($1), hashtext(coalesce(current_schema(), ''))`
	lockName := "mosipcrvs." + opts.Service + ".store"
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+lockKeys+`)`, lockName); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer func() {
		// Unlock even when ctx ended; if that fails, releasing the
		// connection with the lock held is worse than closing it.
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+lockKeys+`)`, lockName); err != nil {
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	t := newPgTx(tx, nil)
	defer t.Rollback(ctx)
	err = applyMigrations(ctx, t, b, ms, opts, `CREATE TABLE IF NOT EXISTS `+migrationsTable(opts.Service)+` (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`)
	if err != nil {
		return err
	}
	if err := t.Commit(ctx); err != nil {
		return err
	}
	// River's tables are shared by every service using this schema, and
	// River takes no lock of its own: two services migrating a fresh
	// schema at once would both create its types. A lock common to all
	// services (taken after the service's own, always in that order)
	// serialises them.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+lockKeys+`)`, riverLockName); err != nil {
		return fmt.Errorf("river migration lock: %w", err)
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+lockKeys+`)`, riverLockName); err != nil {
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	m, err := rivermigrate.New(riverpgxv5.New(b.pool), &rivermigrate.Config{Logger: opts.Logger})
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	return nil
}

// riverLockName names the advisory lock around River's migrations, the
// same for every service.
const riverLockName = "mosipcrvs.river.migrations"

func (b *pgBackend) begin(ctx context.Context) (Tx, error) {
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return newPgTx(tx, b.inserter), nil
}

func (b *pgBackend) reader() Querier { return pgQuerier{b.pool} }

func (b *pgBackend) writer() Querier { return pgQuerier{b.pool} }

func (b *pgBackend) lockRow() string { return " FOR UPDATE" }

func (b *pgBackend) timeArg(t time.Time) any { return t.UTC() }

func (b *pgBackend) uniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

func (b *pgBackend) newQueue(cfg *river.Config) (Queue, error) {
	return river.NewClient(riverpgxv5.New(b.pool), cfg)
}

func (b *pgBackend) close() error {
	b.pool.Close()
	return nil
}

// pgxRunner is what pgxpool.Pool and pgx.Tx have in common.
type pgxRunner interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type pgQuerier struct{ r pgxRunner }

func (q pgQuerier) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := q.r.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func (q pgQuerier) QueryRow(ctx context.Context, sql string, args ...any) Row {
	return q.r.QueryRow(ctx, sql, args...)
}

func (q pgQuerier) Query(ctx context.Context, sql string, args ...any) (Rows, error) {
	rs, err := q.r.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return rs, nil
}

// pgTx is a Tx; the one migrations run in has no River client.
type pgTx struct {
	pgQuerier
	tx    pgx.Tx
	river *river.Client[pgx.Tx]
}

func newPgTx(tx pgx.Tx, inserter *river.Client[pgx.Tx]) *pgTx {
	return &pgTx{pgQuerier: pgQuerier{tx}, tx: tx, river: inserter}
}

func (t *pgTx) Commit(ctx context.Context) error { return t.tx.Commit(ctx) }

func (t *pgTx) Rollback(ctx context.Context) {
	// Rollback after Commit returns ErrTxClosed and does nothing; a
	// cancelled ctx must not keep the connection in a transaction.
	_ = t.tx.Rollback(context.WithoutCancel(ctx))
}

func (t *pgTx) InsertJob(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (int64, error) {
	res, err := t.river.InsertTx(ctx, t.tx, args, opts)
	if err != nil {
		return 0, err
	}
	return res.Job.ID, nil
}

func (t *pgTx) CancelJob(ctx context.Context, id int64) error {
	if _, err := t.river.JobCancelTx(ctx, t.tx, id); err != nil && !errors.Is(err, river.ErrNotFound) {
		return err
	}
	return nil
}
