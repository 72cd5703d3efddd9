package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
)

// The store's logic is written once (db.go) against the small interfaces
// below; postgres.go and sqlite.go adapt pgx and database/sql to them. SQL
// is written with Postgres placeholders ($1, $2, ...) and rewritten for
// SQLite, whose numbered form (?1, ?2, ...) binds the same way.

// row is one result row; pgx.Row and *sql.Row both fit.
type row interface {
	Scan(dest ...any) error
}

// rows is a result set.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// querier runs statements, in a database transaction or not.
type querier interface {
	exec(ctx context.Context, q string, args ...any) (int64, error)
	queryRow(ctx context.Context, q string, args ...any) row
	query(ctx context.Context, q string, args ...any) (rows, error)
}

// txn is a database transaction that can also enqueue River jobs in itself.
type txn interface {
	querier
	commit(ctx context.Context) error
	// rollback is a no-op after commit, so it can always be deferred.
	rollback(ctx context.Context)
	insertJob(ctx context.Context, args SubmitJob, opts *river.InsertOpts) (int64, error)
	// cancelJob cancels a job; a job River already deleted is not an error.
	cancelJob(ctx context.Context, id int64) error
}

// backend is what differs between Postgres and SQLite.
type backend interface {
	dialect() string
	// begin starts a read-write transaction.
	begin(ctx context.Context) (txn, error)
	// reader runs reads outside a transaction.
	reader() querier
	// nextSeq draws the next transaction sequence number inside t.
	nextSeq(ctx context.Context, t txn) (int64, error)
	// lockRow is appended to a SELECT that will be followed by an UPDATE
	// of the same row in the transaction.
	lockRow() string
	// timeArg converts a time into a query argument.
	timeArg(t time.Time) any
	// uniqueViolation reports whether err is a unique constraint failure.
	uniqueViolation(err error) bool
	newQueue(cfg *river.Config) (Queue, error)
	close() error
}

// timeLayout is how SQLite stores times: fixed-width UTC, so text order is
// time order.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// timeDest scans a timestamp from either database (time.Time from pgx,
// text from SQLite); NULL leaves the zero time.
type timeDest struct{ t *time.Time }

func (d timeDest) Scan(src any) error {
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

func (d timeDest) parse(s string) error {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return fmt.Errorf("stored time %q: %w", s, err)
	}
	*d.t = t
	return nil
}

var _ sql.Scanner = timeDest{}

// noRows reports whether err means an empty result (pgx.ErrNoRows wraps
// sql.ErrNoRows).
func noRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
