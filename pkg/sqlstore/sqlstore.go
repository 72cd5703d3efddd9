// Package sqlstore is the database foundation the bridge's stateful
// services share: one small interface over PostgreSQL (pgx pool, for
// production) and SQLite (modernc.org/sqlite, pure Go, the embedded
// default), versioned schema migrations, and River durable jobs inserted in
// the same database transaction as the rows they belong to.
//
// A service writes its SQL once, with Postgres placeholders ($1, $2, ...);
// on SQLite they are rewritten to the numbered form (?1, ?2, ...), which
// binds the same arguments. What the two databases still spell differently
// is reached through DB: TimeArg for timestamps, LockRow for SELECT ... FOR
// UPDATE, UniqueViolation for constraint errors, and Dialect for anything
// else (such as how a service draws sequence numbers).
//
// Open runs the service's migrations and River's before returning, so a
// DB is always at the schema of the binary. Workers run on a Queue from
// NewQueue, which builds the River client for whichever database is open.
//
// On Postgres the pool has DefaultMaxConns connections unless the URL sets
// pool_max_conns, and pgx keeps every statement prepared per connection.
// SQLite connections keep the statements run on them compiled as well, by
// their text (stmtcache.go): a service's fixed statements, and River's,
// are parsed once per connection rather than at every run.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"time"

	"github.com/riverqueue/river"
)

// The dialects Dialect returns.
const (
	// Postgres is PostgreSQL through pgx.
	Postgres = "postgres"
	// SQLite is SQLite through modernc.org/sqlite.
	SQLite = "sqlite"
)

// ErrInvalid means Options or an Open argument is unusable; match it with
// errors.Is.
var ErrInvalid = errors.New("invalid argument")

// Options configure a DB.
type Options struct {
	// Service names the service owning the database, as lowercase letters,
	// digits and '_' starting with a letter (e.g. "packet"). It names the
	// Postgres application_name ("mosipcrvs-<service>"), the migrations
	// table ("<service>_schema_migrations") and the Postgres advisory lock
	// of migrations ("mosipcrvs.<service>.store"), so services can share a
	// database. Changing it for an existing database re-runs migrations.
	Service string
	// Migrations holds the service's schema: postgres/*.sql and
	// sqlite/*.sql, each named "<version>_<name>.sql" with version a
	// positive number ("0001_init.sql"). A released file never changes; a
	// schema change is a new file. See CheckMigrations.
	Migrations fs.FS
	// Logger receives River's logs; discarded when nil.
	Logger *slog.Logger
	// MaxJobAttempts is how often River tries a job before discarding it,
	// for jobs inserted without their own and for Queues built without
	// their own; River's default (25) when zero.
	MaxJobAttempts int
	// Clock stamps applied migrations; time.Now when nil.
	Clock func() time.Time
}

// serviceName keeps Service usable unquoted in SQL identifiers.
var serviceName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// check validates opts and fills defaults.
func (o Options) check() (Options, error) {
	if !serviceName.MatchString(o.Service) {
		return o, fmt.Errorf("%w: Service %q must be lowercase letters, digits and '_', starting with a letter", ErrInvalid, o.Service)
	}
	if o.Migrations == nil {
		return o, fmt.Errorf("%w: Migrations is required", ErrInvalid)
	}
	if o.MaxJobAttempts < 0 {
		return o, fmt.Errorf("%w: MaxJobAttempts must not be negative", ErrInvalid)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return o, nil
}

// Row is one result row; pgx.Row and *sql.Row both fit.
type Row interface {
	// Scan copies the columns into dest, or returns an error for which
	// NoRows is true when there was no row.
	Scan(dest ...any) error
}

// Rows is a result set. Close it when done; Err reports what ended Next.
type Rows interface {
	// Next advances to the next row, false at the end or on an error.
	Next() bool
	// Scan copies the columns of the current row into dest.
	Scan(dest ...any) error
	// Err is the error, if any, that ended the iteration.
	Err() error
	// Close releases the result set; it may be called more than once.
	Close()
}

// Querier runs statements written with Postgres placeholders ($1, $2, ...),
// inside a database transaction (Tx) or not (DB.Reader, DB.Writer).
type Querier interface {
	// Exec runs a statement and returns how many rows it affected.
	Exec(ctx context.Context, q string, args ...any) (int64, error)
	// QueryRow runs a query expected to return at most one row; errors
	// surface from Row.Scan.
	QueryRow(ctx context.Context, q string, args ...any) Row
	// Query runs a query returning rows.
	Query(ctx context.Context, q string, args ...any) (Rows, error)
}

// Tx is a read-write database transaction that can also enqueue River jobs
// in itself: a job inserted in a Tx exists exactly when the Tx commits.
type Tx interface {
	Querier
	// Commit commits the transaction.
	Commit(ctx context.Context) error
	// Rollback aborts the transaction. It is a no-op after Commit, so it
	// can always be deferred, and it runs even when ctx has ended.
	Rollback(ctx context.Context)
	// InsertJob enqueues a River job in the transaction and returns its id.
	// opts may be nil.
	InsertJob(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (int64, error)
	// CancelJob cancels a job in the transaction; a job River already
	// deleted is not an error.
	CancelJob(ctx context.Context, id int64) error
}

// Queue runs jobs: a River client of whichever database is open, so a
// service starts and stops workers without knowing which.
type Queue interface {
	// Start begins fetching and working jobs; it returns once started.
	Start(ctx context.Context) error
	// Stop waits for running jobs to finish (or ctx to end) and stops.
	Stop(ctx context.Context) error
}

// backend is what differs between Postgres and SQLite.
type backend interface {
	dialect() string
	begin(ctx context.Context) (Tx, error)
	reader() Querier
	writer() Querier
	lockRow() string
	timeArg(t time.Time) any
	uniqueViolation(err error) bool
	newQueue(cfg *river.Config) (Queue, error)
	close() error
}

// DB is an open database of one service, on PostgreSQL (OpenPostgres) or
// SQLite (OpenSQLite). It is safe for concurrent use.
type DB struct {
	b    backend
	opts Options
}

// Dialect is Postgres or SQLite.
func (d *DB) Dialect() string { return d.b.dialect() }

// Begin starts a read-write transaction. On SQLite, writers take turns on
// one connection, so keep transactions short and finish every one.
func (d *DB) Begin(ctx context.Context) (Tx, error) { return d.b.begin(ctx) }

// Reader runs reads outside a transaction (on SQLite, read-only
// connections that run beside the writer).
func (d *DB) Reader() Querier { return d.b.reader() }

// Writer runs statements outside a transaction, each committed on its own:
// for a write that is a single statement (an UPDATE ... RETURNING, a
// data-modifying WITH on Postgres), one round trip instead of BEGIN,
// statement, COMMIT. On SQLite it is the writer connection, so it waits for
// a Tx in progress; never call it while holding one.
func (d *DB) Writer() Querier { return d.b.writer() }

// LockRow is appended to a SELECT inside a Tx that will update the rows it
// reads: " FOR UPDATE" on Postgres, nothing on SQLite, whose write
// transaction already excludes other writers.
func (d *DB) LockRow() string { return d.b.lockRow() }

// TimeArg converts t into a query argument: UTC for Postgres timestamptz,
// fixed-width UTC text (TimeLayout) for SQLite, so text order is time
// order. Read it back with ScanTime.
func (d *DB) TimeArg(t time.Time) any { return d.b.timeArg(t) }

// UniqueViolation reports whether err is a unique or primary key
// constraint failure.
func (d *DB) UniqueViolation(err error) bool { return err != nil && d.b.uniqueViolation(err) }

// NewQueue builds a River client on the database, for workers: cfg is
// River's configuration, with Logger and MaxAttempts defaulting to those of
// Options. Start it after Open and stop it before Close.
func (d *DB) NewQueue(cfg *river.Config) (Queue, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: NewQueue needs a river.Config", ErrInvalid)
	}
	c := *cfg
	if c.Logger == nil {
		c.Logger = d.opts.Logger
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = d.opts.MaxJobAttempts
	}
	return d.b.newQueue(&c)
}

// Close releases the database. Stop every Queue first.
func (d *DB) Close() error { return d.b.close() }

// TimeLayout is how SQLite stores times: fixed-width UTC with microseconds,
// so text order is time order.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// TimeDest is a sql.Scanner for a timestamp from either database
// (time.Time from pgx, TimeLayout text from SQLite); the result is UTC and
// NULL gives the zero time. Make one with ScanTime.
type TimeDest struct{ t *time.Time }

// ScanTime returns a Scan destination that stores a timestamp into t.
func ScanTime(t *time.Time) TimeDest { return TimeDest{t} }

// Scan implements sql.Scanner.
func (d TimeDest) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.t = time.Time{}
	case time.Time:
		*d.t = v.UTC()
	case string:
		return d.parse(v)
	case []byte:
		return d.parse(string(v))
	default:
		return fmt.Errorf("cannot scan %T into a time", src)
	}
	return nil
}

func (d TimeDest) parse(s string) error {
	t, err := time.Parse(TimeLayout, s)
	if err != nil {
		return fmt.Errorf("stored time %q: %w", s, err)
	}
	*d.t = t
	return nil
}

var _ sql.Scanner = TimeDest{}

// NoRows reports whether err means an empty result of QueryRow, on either
// database (pgx.ErrNoRows wraps sql.ErrNoRows).
func NoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
