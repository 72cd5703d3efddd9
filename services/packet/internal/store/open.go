package store

import (
	"context"
	"embed"
	"errors"
	"io/fs"

	"github.com/mosipcrvs/bridge/pkg/sqlstore"
)

// migrationFS holds the schema of each dialect as numbered SQL files
// ("0001_init.sql"). A file, once released, never changes: a schema change
// is a new file.
//
//go:embed migrations/postgres/*.sql migrations/sqlite/*.sql
var migrationFS embed.FS

// migrations is migrationFS in the layout sqlstore reads.
func migrations() fs.FS {
	sub, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		panic(err) // "migrations" is a valid path; fs.Sub cannot fail on it
	}
	return sub
}

// service names the packet service's migrations table
// (packet_schema_migrations), migration lock and Postgres application_name
// (mosipcrvs-packet); existing databases depend on all three.
const service = "packet"

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
	d.b, err = sqlstore.OpenPostgres(ctx, url, d.sqlOptions())
	if err != nil {
		return nil, invalidIf(err)
	}
	return d, nil
}

// OpenSQLite opens (creating if needed) the SQLite database file at path,
// applies the store's and River's migrations and returns the store.
//
// The file is in WAL mode with synchronous=FULL (a committed transaction
// survives power loss); writes, River's included, share one connection and
// reads use a small pool of read-only connections (see sqlstore.OpenSQLite).
func OpenSQLite(ctx context.Context, path string, opts Options) (*DB, error) {
	d, err := checkOptions(opts)
	if err != nil {
		return nil, err
	}
	d.b, err = sqlstore.OpenSQLite(ctx, path, d.sqlOptions())
	if err != nil {
		return nil, invalidIf(err)
	}
	return d, nil
}

func (d *DB) sqlOptions() sqlstore.Options {
	return sqlstore.Options{
		Service: service, Migrations: migrations(), Logger: d.log, MaxJobAttempts: d.maxJobs, Clock: d.now,
	}
}

// invalidIf makes sqlstore's refusals of an argument (such as a SQLite
// path with URI parameters) match this package's ErrInvalid as well.
func invalidIf(err error) error {
	if errors.Is(err, sqlstore.ErrInvalid) {
		return invalidError{err}
	}
	return err
}

type invalidError struct{ err error }

func (e invalidError) Error() string        { return e.err.Error() }
func (e invalidError) Unwrap() error        { return e.err }
func (e invalidError) Is(target error) bool { return target == ErrInvalid }
