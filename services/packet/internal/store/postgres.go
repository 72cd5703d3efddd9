package store

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

// OpenPostgres connects to PostgreSQL at url (a pgx connection string;
// pool_max_conns and search_path work as parameters), applies the store's
// and River's migrations and returns the store.
//
// Migrations run under an advisory lock, so replicas starting together
// take turns instead of racing on the schema.
func OpenPostgres(ctx context.Context, url string, opts Options) (*DB, error) {
	d, err := checkOptions(opts)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx errors quote the connection string, password included.
		return nil, errors.New("postgres: cannot parse the connection URL")
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		// Lets a DBA tell the packet service's sessions from others.
		cfg.ConnConfig.RuntimeParams["application_name"] = "mosipcrvs-packet"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	b := &pgBackend{pool: pool}
	if err := b.migrate(ctx, d); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	b.inserter, err = river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: d.log, MaxAttempts: d.maxJobs})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: river: %w", err)
	}
	d.b = b
	return d, nil
}

type pgBackend struct {
	pool *pgxpool.Pool
	// inserter is an insert-only River client: Submit enqueues through it
	// inside its own transaction; workers run on clients from newQueue.
	inserter *river.Client[pgx.Tx]
}

func (b *pgBackend) dialect() string { return "postgres" }

// migrate applies the store's migrations in one transaction and then
// River's, holding a session advisory lock on one connection throughout.
// The two-key form keeps clear of River's single-key locks; the second key
// is the schema, so stores in different schemas do not wait for each other.
func (b *pgBackend) migrate(ctx context.Context, d *DB) error {
	if err := b.pool.Ping(ctx); err != nil {
		return err
	}
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	const lockKeys = `hashtext('mosipcrvs.packet.store'), hashtext(coalesce(current_schema(), ''))`
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+lockKeys+`)`); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer func() {
		// Unlock even when ctx ended; if that fails, releasing the
		// connection with the lock held is worse than closing it.
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+lockKeys+`)`); err != nil {
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	t := &pgTx{tx: tx}
	defer t.rollback(ctx)
	err = applyMigrations(ctx, t, b, `CREATE TABLE IF NOT EXISTS `+migrationsTable+` (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`, d.clock())
	if err != nil {
		return err
	}
	if err := t.commit(ctx); err != nil {
		return err
	}
	m, err := rivermigrate.New(riverpgxv5.New(b.pool), &rivermigrate.Config{Logger: d.log})
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	return nil
}

func (b *pgBackend) begin(ctx context.Context) (txn, error) {
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &pgTx{tx: tx, river: b.inserter}, nil
}

func (b *pgBackend) reader() querier { return pgQuerier{b.pool} }

func (b *pgBackend) nextSeq(ctx context.Context, t txn) (int64, error) {
	var n int64
	err := t.queryRow(ctx, `SELECT nextval('packet_transaction_seq')`).Scan(&n)
	return n, err
}

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

func (q pgQuerier) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := q.r.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func (q pgQuerier) queryRow(ctx context.Context, sql string, args ...any) row {
	return q.r.QueryRow(ctx, sql, args...)
}

func (q pgQuerier) query(ctx context.Context, sql string, args ...any) (rows, error) {
	rs, err := q.r.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return rs, nil
}

type pgTx struct {
	tx    pgx.Tx
	river *river.Client[pgx.Tx]
}

func (t *pgTx) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	return pgQuerier{t.tx}.exec(ctx, sql, args...)
}

func (t *pgTx) queryRow(ctx context.Context, sql string, args ...any) row {
	return pgQuerier{t.tx}.queryRow(ctx, sql, args...)
}

func (t *pgTx) query(ctx context.Context, sql string, args ...any) (rows, error) {
	return pgQuerier{t.tx}.query(ctx, sql, args...)
}

func (t *pgTx) commit(ctx context.Context) error { return t.tx.Commit(ctx) }

func (t *pgTx) rollback(ctx context.Context) {
	// Rollback after Commit returns ErrTxClosed and does nothing; a
	// cancelled ctx must not keep the connection in a transaction.
	_ = t.tx.Rollback(context.WithoutCancel(ctx))
}

func (t *pgTx) insertJob(ctx context.Context, args SubmitJob, opts *river.InsertOpts) (int64, error) {
	res, err := t.river.InsertTx(ctx, t.tx, args, opts)
	if err != nil {
		return 0, err
	}
	return res.Job.ID, nil
}

func (t *pgTx) cancelJob(ctx context.Context, id int64) error {
	if _, err := t.river.JobCancelTx(ctx, t.tx, id); err != nil && !errors.Is(err, river.ErrNotFound) {
		return err
	}
	return nil
}
