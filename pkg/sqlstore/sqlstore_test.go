package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/riverqueue/river"

	"github.com/mosipcrvs/bridge/pkg/sqlstore/sqlstoretest"
)

// Every database test runs on SQLite (a file in t.TempDir) and PostgreSQL
// (a schema of its own on the test server, reached through search_path).

const testService = "sqlstore_test"

// target is one fresh database that can be opened several times.
type target struct {
	dialect string
	open    func(ctx context.Context, opts Options) (*DB, error)
}

// mustOpen opens the target's database, closed when the test ends.
func (tg target) mustOpen(t *testing.T, opts Options) *DB {
	t.Helper()
	d, err := tg.open(context.Background(), opts)
	if err != nil {
		t.Fatalf("open %s: %v", tg.dialect, err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func sqliteTarget(t *testing.T) target {
	path := filepath.Join(t.TempDir(), "test.db")
	return target{dialect: SQLite, open: func(ctx context.Context, opts Options) (*DB, error) {
		return OpenSQLite(ctx, path, opts)
	}}
}

// postgresTarget is a schema of its own on the test server
// (sqlstoretest: skipped without a server, failed under CI=true).
func postgresTarget(t *testing.T) target {
	t.Helper()
	u := sqlstoretest.PostgresURL(t, "sqlstore")
	return target{dialect: Postgres, open: func(ctx context.Context, opts Options) (*DB, error) {
		return OpenPostgres(ctx, u, opts)
	}}
}

// forEachDialect runs test on a fresh database of each dialect.
func forEachDialect(t *testing.T, test func(t *testing.T, tg target)) {
	t.Helper()
	targets := []struct {
		name string
		new  func(*testing.T) target
	}{{SQLite, sqliteTarget}, {Postgres, postgresTarget}}
	for _, tt := range targets {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			test(t, tt.new(t))
		})
	}
}

// schema is the test migrations: widgets, whose 0010 needs the column 2
// adds, so applying them by file name order (0010 before 2) fails.
var schema = map[string][2]string{ // name -> postgres, sqlite
	"0001_widgets.sql": {
		`CREATE TABLE widgets (id bigint PRIMARY KEY, name text NOT NULL UNIQUE, at timestamptz);
		INSERT INTO widgets (id, name) VALUES (0, 'seed');`,
		`CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, at TEXT) STRICT;
		INSERT INTO widgets (id, name) VALUES (0, 'seed');`,
	},
	"2_note.sql": {
		`ALTER TABLE widgets ADD COLUMN note text NOT NULL DEFAULT ''`,
		`ALTER TABLE widgets ADD COLUMN note TEXT NOT NULL DEFAULT ''`,
	},
	"0010_seed_note.sql": {
		`UPDATE widgets SET note = 'seeded' WHERE id = 0`,
		`UPDATE widgets SET note = 'seeded' WHERE id = 0`,
	},
}

// migrationsFS lays out schema plus extra (same SQL for both dialects) as
// Options.Migrations expects.
func migrationsFS(extra map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, sql := range schema {
		fsys["postgres/"+name] = &fstest.MapFile{Data: []byte(sql[0])}
		fsys["sqlite/"+name] = &fstest.MapFile{Data: []byte(sql[1])}
	}
	for name, sql := range extra {
		fsys["postgres/"+name] = &fstest.MapFile{Data: []byte(sql)}
		fsys["sqlite/"+name] = &fstest.MapFile{Data: []byte(sql)}
	}
	return fsys
}

func testOptions(extra map[string]string) Options {
	return Options{Service: testService, Migrations: migrationsFS(extra)}
}

// count runs a SELECT count(*) ... outside a transaction.
func count(t *testing.T, d *DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := d.Reader().QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// exec runs a statement in a transaction of its own.
func exec(d *DB, q string, args ...any) error {
	ctx := context.Background()
	tx, err := d.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, q, args...); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func TestMigrations(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		applied := time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.FixedZone("EAT", 3*3600))
		opts := testOptions(nil)
		opts.Clock = func() time.Time { return applied }
		d := tg.mustOpen(t, opts)
		if d.Dialect() != tg.dialect {
			t.Errorf("Dialect() = %q, want %q", d.Dialect(), tg.dialect)
		}
		history := func(d *DB) string {
			rs, err := d.Reader().Query(ctx, `SELECT version, name, applied_at FROM sqlstore_test_schema_migrations ORDER BY version`)
			if err != nil {
				t.Fatal(err)
			}
			defer rs.Close()
			var out []string
			for rs.Next() {
				var (
					v    int
					name string
					at   time.Time
				)
				if err := rs.Scan(&v, &name, ScanTime(&at)); err != nil {
					t.Fatal(err)
				}
				if !at.Equal(applied.Truncate(time.Microsecond)) {
					t.Errorf("migration %s applied_at %v, want the clock's %v", name, at, applied)
				}
				out = append(out, fmt.Sprintf("%d:%s", v, name))
			}
			if err := rs.Err(); err != nil {
				t.Fatal(err)
			}
			return strings.Join(out, " ")
		}
		if got, want := history(d), "1:0001_widgets 2:2_note 10:0010_seed_note"; got != want {
			t.Errorf("applied %q, want %q", got, want)
		}
		var note string
		if err := d.Reader().QueryRow(ctx, `SELECT note FROM widgets WHERE id = 0`).Scan(&note); err != nil || note != "seeded" {
			t.Errorf("seed note = %q, %v; want the 0010 migration's", note, err)
		}
		_ = d.Close()

		// Opening again applies nothing: the seed row would be inserted twice.
		again := tg.mustOpen(t, opts)
		if n := count(t, again, `SELECT count(*) FROM widgets`); n != 1 {
			t.Errorf("%d widgets after reopening, want 1", n)
		}
		if n := count(t, again, `SELECT count(*) FROM sqlstore_test_schema_migrations`); n != 3 {
			t.Errorf("%d migrations recorded after reopening, want 3", n)
		}
		_ = again.Close()

		// A new release adds a migration: only it runs.
		next := tg.mustOpen(t, testOptions(map[string]string{"0011_more.sql": `INSERT INTO widgets (id, name) VALUES (11, 'eleven')`}))
		if n := count(t, next, `SELECT count(*) FROM widgets`); n != 2 {
			t.Errorf("%d widgets after migration 11, want 2", n)
		}
		_ = next.Close()

		// All pending migrations apply, or none.
		_, err := tg.open(ctx, testOptions(map[string]string{
			"0011_more.sql":  `INSERT INTO widgets (id, name) VALUES (11, 'eleven')`,
			"0012_good.sql":  `INSERT INTO widgets (id, name) VALUES (12, 'twelve')`,
			"0013_wrong.sql": `INSERT INTO no_such_table VALUES (1)`,
		}))
		if err == nil || !strings.Contains(err.Error(), "0013_wrong") {
			t.Errorf("open with a failing migration = %v, want its error", err)
		}
		check := tg.mustOpen(t, testOptions(map[string]string{"0011_more.sql": `INSERT INTO widgets (id, name) VALUES (11, 'eleven')`}))
		if n := count(t, check, `SELECT count(*) FROM widgets WHERE id = 12`); n != 0 {
			t.Error("migration 12 applied although 13 failed")
		}
		_ = check.Close()

		// An older binary refuses a schema it does not know.
		_, err = tg.open(ctx, testOptions(nil))
		if err == nil || !strings.Contains(err.Error(), "version 11, newer than this binary (latest 10): upgrade the sqlstore_test service") {
			t.Errorf("open(newer schema) = %v, want a refusal", err)
		}
	})
}

// testJob is the River job of the tests.
type testJob struct {
	N int `json:"n"`
}

func (testJob) Kind() string { return "sqlstore_test" }

type testWorker struct {
	river.WorkerDefaults[testJob]
	worked chan int
}

func (w *testWorker) Work(_ context.Context, job *river.Job[testJob]) error {
	w.worked <- job.Args.N
	return nil
}

func TestJobs(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		opts := testOptions(nil)
		opts.MaxJobAttempts = 7
		d := tg.mustOpen(t, opts)

		// Rolled back: neither the row nor the job exists.
		tx, err := d.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO widgets (id, name) VALUES (1, 'rolled back')`); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.InsertJob(ctx, testJob{N: 1}, nil); err != nil {
			t.Fatalf("InsertJob: %v", err)
		}
		tx.Rollback(ctx)

		// Committed: both exist.
		tx, err = d.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx) // after Commit, a no-op
		if _, err := tx.Exec(ctx, `INSERT INTO widgets (id, name) VALUES (2, 'committed')`); err != nil {
			t.Fatal(err)
		}
		id, err := tx.InsertJob(ctx, testJob{N: 2}, nil)
		if err != nil || id == 0 {
			t.Fatalf("InsertJob = %d, %v", id, err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		tx.Rollback(ctx)
		if n := count(t, d, `SELECT count(*) FROM widgets WHERE id IN (1, 2)`); n != 1 {
			t.Errorf("%d widgets, want only the committed one", n)
		}
		if n := count(t, d, `SELECT count(*) FROM river_job`); n != 1 {
			t.Errorf("%d jobs enqueued, want only the committed one", n)
		}
		if n := count(t, d, `SELECT max_attempts FROM river_job WHERE id = $1`, id); n != 7 {
			t.Errorf("job max_attempts %d, want Options.MaxJobAttempts 7", n)
		}

		// A Queue works the committed job.
		worker := &testWorker{worked: make(chan int, 10)}
		workers := river.NewWorkers()
		river.AddWorker(workers, worker)
		q, err := d.NewQueue(&river.Config{
			Workers: workers, Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}},
			FetchPollInterval: 20 * time.Millisecond, FetchCooldown: 5 * time.Millisecond,
		})
		if err != nil {
			t.Fatalf("NewQueue: %v", err)
		}
		if err := q.Start(ctx); err != nil {
			t.Fatalf("Start: %v", err)
		}
		select {
		case n := <-worker.worked:
			if n != 2 {
				t.Errorf("worked job %d, want 2", n)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("committed job not worked within 10s")
		}
		stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := q.Stop(stopCtx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		select {
		case n := <-worker.worked:
			t.Errorf("also worked job %d", n)
		default:
		}
		if _, err := d.NewQueue(nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("NewQueue(nil) = %v, want ErrInvalid", err)
		}
	})
}

func TestCancelJob(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		d := tg.mustOpen(t, testOptions(nil))
		later := &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)}
		tx, err := d.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		id, err := tx.InsertJob(ctx, testJob{N: 3}, later)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		state := func() string {
			var s string
			if err := d.Reader().QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, id).Scan(&s); err != nil {
				t.Fatal(err)
			}
			return s
		}
		cancelIn := func(commit bool, id int64) error {
			tx, err := d.Begin(ctx)
			if err != nil {
				return err
			}
			defer tx.Rollback(ctx)
			if err := tx.CancelJob(ctx, id); err != nil {
				return err
			}
			if commit {
				return tx.Commit(ctx)
			}
			return nil
		}
		if err := cancelIn(false, id); err != nil || state() != "scheduled" {
			t.Errorf("cancel rolled back: %v, state %s; want scheduled", err, state())
		}
		if err := cancelIn(true, id); err != nil || state() != "cancelled" {
			t.Errorf("cancel committed: %v, state %s; want cancelled", err, state())
		}
		if err := cancelIn(true, id+1000); err != nil {
			t.Errorf("CancelJob(unknown) = %v, want nil", err)
		}
	})
}

func TestTimeRoundTrip(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		d := tg.mustOpen(t, testOptions(nil))
		at := time.Date(2026, 3, 1, 23, 30, 0, 123456789, time.FixedZone("EAT", 3*3600))
		if err := exec(d, `INSERT INTO widgets (id, name, at) VALUES ($1, $2, $3)`, 1, "timed", d.TimeArg(at)); err != nil {
			t.Fatal(err)
		}
		var got time.Time
		if err := d.Reader().QueryRow(ctx, `SELECT at FROM widgets WHERE id = 1`).Scan(ScanTime(&got)); err != nil {
			t.Fatal(err)
		}
		if want := at.UTC().Truncate(time.Microsecond); !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("time read back %v, want %v in UTC", got, want)
		}
		// Comparisons work on the stored form (text on SQLite).
		if n := count(t, d, `SELECT count(*) FROM widgets WHERE at > $1 AND at < $2`,
			d.TimeArg(at.Add(-time.Microsecond)), d.TimeArg(at.Add(time.Millisecond))); n != 1 {
			t.Errorf("%d widgets in a range around their time, want 1", n)
		}
		got = time.Now()
		if err := d.Reader().QueryRow(ctx, `SELECT at FROM widgets WHERE id = 0`).Scan(ScanTime(&got)); err != nil || !got.IsZero() {
			t.Errorf("NULL time read back %v, %v; want the zero time", got, err)
		}
		err := d.Reader().QueryRow(ctx, `SELECT at FROM widgets WHERE id = 42`).Scan(ScanTime(&got))
		if !NoRows(err) {
			t.Errorf("QueryRow on no rows = %v, want NoRows", err)
		}
	})
}

func TestTimeDestErrors(t *testing.T) {
	t.Parallel()
	var got time.Time
	for _, src := range []any{"yesterday", []byte("2026-03-01"), int64(5)} {
		if err := ScanTime(&got).Scan(src); err == nil {
			t.Errorf("Scan(%#v) = nil, want an error", src)
		}
	}
	if err := ScanTime(&got).Scan([]byte("2026-03-01T09:00:00.000001Z")); err != nil ||
		!got.Equal(time.Date(2026, 3, 1, 9, 0, 0, 1000, time.UTC)) {
		t.Errorf("Scan(bytes) = %v, %v", got, err)
	}
}

func TestUniqueViolation(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, tg target) {
		d := tg.mustOpen(t, testOptions(nil))
		tests := []struct {
			name, q string
			want    bool
		}{
			{"unique column", `INSERT INTO widgets (id, name) VALUES (1, 'seed')`, true},
			{"primary key", `INSERT INTO widgets (id, name) VALUES (0, 'other')`, true},
			{"not null", `INSERT INTO widgets (id) VALUES (2)`, false},
			{"syntax", `INSERT INTO`, false},
		}
		for _, tt := range tests {
			err := exec(d, tt.q)
			if err == nil {
				t.Errorf("%s: no error", tt.name)
				continue
			}
			if got := d.UniqueViolation(err); got != tt.want {
				t.Errorf("%s: UniqueViolation(%v) = %v, want %v", tt.name, err, got, tt.want)
			}
			if wrapped := fmt.Errorf("insert: %w", err); d.UniqueViolation(wrapped) != tt.want {
				t.Errorf("%s: UniqueViolation does not see through wrapping", tt.name)
			}
		}
		if d.UniqueViolation(nil) {
			t.Error("UniqueViolation(nil) = true")
		}
	})
}

func TestPlaceholders(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"SELECT 1":                                 "SELECT 1",
		"WHERE a = $1 AND b = $12":                 "WHERE a = ?1 AND b = ?12",
		"VALUES ($1, $1)":                          "VALUES (?1, ?1)",
		"json_extract(args, '$.id') = $2":          "json_extract(args, '$.id') = ?2",
		"$fn$ BEGIN RAISE EXCEPTION 'x'; END $fn$": "$fn$ BEGIN RAISE EXCEPTION 'x'; END $fn$",
	}
	for in, want := range tests {
		if got := sqliteSQL(in); got != want {
			t.Errorf("sqliteSQL(%q) = %q, want %q", in, got, want)
		}
	}
	// Numbered placeholders bind by number on both databases: out of
	// order, repeated, and in Exec, QueryRow and Query alike.
	forEachDialect(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		d := tg.mustOpen(t, testOptions(nil))
		if err := exec(d, `INSERT INTO widgets (id, name, note) VALUES ($2, $1, $1)`, "x", 5); err != nil {
			t.Fatal(err)
		}
		if n := count(t, d, `SELECT count(*) FROM widgets WHERE note = $2 AND name = $2 AND id = $1`, 5, "x"); n != 1 {
			t.Errorf("QueryRow matched %d rows, want 1", n)
		}
		rs, err := d.Reader().Query(ctx, `SELECT name FROM widgets WHERE id >= $1 ORDER BY id`, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		var names []string
		for rs.Next() {
			var n string
			if err := rs.Scan(&n); err != nil {
				t.Fatal(err)
			}
			names = append(names, n)
		}
		if err := rs.Err(); err != nil || strings.Join(names, ",") != "seed,x" {
			t.Errorf("Query = %v, %v; want seed,x", names, err)
		}
		if n, err := func() (int64, error) {
			tx, err := d.Begin(ctx)
			if err != nil {
				return 0, err
			}
			defer tx.Rollback(ctx)
			return tx.Exec(ctx, `UPDATE widgets SET note = $1 WHERE id >= $2`, "y", 0)
		}(); n != 2 || err != nil {
			t.Errorf("Exec affected %d rows, %v; want 2", n, err)
		}
		if got := d.LockRow(); (tg.dialect == Postgres) != (got == " FOR UPDATE") {
			t.Errorf("LockRow() = %q on %s", got, tg.dialect)
		}
	})
}

func TestPostgresSession(t *testing.T) {
	t.Parallel()
	tg := postgresTarget(t)
	// Replicas starting together take turns on the migrations.
	const replicas = 4
	dbs := make([]*DB, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() { dbs[i], errs[i] = tg.open(context.Background(), testOptions(nil)) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		t.Cleanup(func() { _ = dbs[i].Close() })
	}
	d := dbs[0]
	if n := count(t, d, `SELECT count(*) FROM sqlstore_test_schema_migrations`); n != 3 {
		t.Errorf("%d migrations recorded by %d replicas, want 3", n, replicas)
	}
	var app string
	if err := d.Reader().QueryRow(context.Background(), `SELECT current_setting('application_name')`).Scan(&app); err != nil ||
		app != "mosipcrvs-"+testService {
		t.Errorf("application_name = %q, %v; want mosipcrvs-%s", app, err, testService)
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "x.db")
	good := testOptions(nil)
	bad := map[string]Options{}
	for _, s := range []string{"", "Packet", "auth-token", "1x", "x;DROP TABLE y", strings.Repeat("x", 41)} {
		o := good
		o.Service = s
		bad["service "+s] = o
	}
	noFS := good
	noFS.Migrations = nil
	bad["no migrations"] = noFS
	negative := good
	negative.MaxJobAttempts = -1
	bad["negative attempts"] = negative
	for name, o := range bad {
		if _, err := OpenSQLite(ctx, path, o); !errors.Is(err, ErrInvalid) {
			t.Errorf("OpenSQLite(%s) = %v, want ErrInvalid", name, err)
		}
		if _, err := OpenPostgres(ctx, sqlstoretest.DefaultURL, o); !errors.Is(err, ErrInvalid) {
			t.Errorf("OpenPostgres(%s) = %v, want ErrInvalid", name, err)
		}
	}
	for _, p := range []string{"", "file:x.db", ":memory:", "x.db?mode=ro"} {
		if _, err := OpenSQLite(ctx, p, good); !errors.Is(err, ErrInvalid) {
			t.Errorf("OpenSQLite(%q) = %v, want ErrInvalid", p, err)
		}
	}
	if _, err := OpenPostgres(ctx, "postgres://user:hunter2@host:notaport/db", good); err == nil ||
		strings.Contains(err.Error(), "hunter2") {
		t.Errorf("OpenPostgres(bad URL) = %v, want an error without the password", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("refused OpenSQLite created %s (%v)", path, err)
	}
}

func TestCheckMigrations(t *testing.T) {
	t.Parallel()
	if err := CheckMigrations(migrationsFS(nil)); err != nil {
		t.Errorf("CheckMigrations(test schema) = %v", err)
	}
	with := func(change func(fstest.MapFS)) fstest.MapFS {
		fsys := maps.Clone(migrationsFS(nil))
		change(fsys)
		return fsys
	}
	file := &fstest.MapFile{Data: []byte("SELECT 1")}
	bad := map[string]fstest.MapFS{
		"only in postgres": with(func(f fstest.MapFS) { f["postgres/0003_x.sql"] = file }),
		"renamed":          with(func(f fstest.MapFS) { delete(f, "sqlite/2_note.sql"); f["sqlite/2_notes.sql"] = file }),
		"no number":        with(func(f fstest.MapFS) { f["postgres/init.sql"] = file; f["sqlite/init.sql"] = file }),
		"version zero":     with(func(f fstest.MapFS) { f["postgres/0_x.sql"] = file; f["sqlite/0_x.sql"] = file }),
		"shared version":   with(func(f fstest.MapFS) { f["postgres/02_x.sql"] = file; f["sqlite/02_x.sql"] = file }),
		"no sqlite": with(func(f fstest.MapFS) {
			maps.DeleteFunc(f, func(k string, _ *fstest.MapFile) bool { return strings.HasPrefix(k, "sqlite/") })
		}),
	}
	for name, fsys := range bad {
		if err := CheckMigrations(fsys); err == nil {
			t.Errorf("CheckMigrations(%s) = nil, want an error", name)
		}
	}
	// Other files (a README) are not migrations.
	if err := CheckMigrations(with(func(f fstest.MapFS) { f["postgres/README.md"] = file })); err != nil {
		t.Errorf("CheckMigrations(with README) = %v", err)
	}
}

// Two services starting together on one fresh schema both install River's
// tables; without a lock common to both, one fails creating River's types.
func TestServicesMigrateOneSchemaTogether(t *testing.T) {
	t.Parallel()
	for round := range 4 {
		u := sqlstoretest.PostgresURL(t, fmt.Sprintf("shared%d", round))
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, svc := range []string{"svc_a", "svc_b"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				fsys := fstest.MapFS{"postgres/0001_items.sql": &fstest.MapFile{Data: []byte(`CREATE TABLE ` + svc + `_items (id bigint PRIMARY KEY)`)},
					"sqlite/0001_items.sql": &fstest.MapFile{Data: []byte(`CREATE TABLE ` + svc + `_items (id integer PRIMARY KEY)`)}}
				d, err := OpenPostgres(context.Background(), u, Options{Service: svc, Migrations: fsys})
				if err == nil {
					_ = d.Close()
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: service %d: %v", round, i, err)
			}
		}
	}
}

// Writer's statements commit on their own: readers see them at once.
func TestWriter(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, tg target) {
		d := tg.mustOpen(t, testOptions(nil))
		var note string
		err := d.Writer().QueryRow(t.Context(), `UPDATE widgets SET note = $1 WHERE id = 0 RETURNING note`, "written").Scan(&note)
		if err != nil || note != "written" {
			t.Fatalf("Writer UPDATE ... RETURNING = %q, %v", note, err)
		}
		if n := count(t, d, `SELECT count(*) FROM widgets WHERE note = 'written'`); n != 1 {
			t.Errorf("readers see %d written rows, want 1", n)
		}
	})
}

// Without pool_max_conns the pool has DefaultMaxConns connections, not
// pgx's max(4, CPUs); the URL's setting wins.
func TestPostgresPoolSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		conn string
		want bool
	}{
		{"postgres://u@h:5432/db?sslmode=disable&pool_max_conns=3", true},
		{"postgres://u@h:5432/db?sslmode=disable", false},
		{"host=h user=u pool_max_conns=3", true},
		{"host=h user=u", false},
		{"postgres://u@h/db?application_name=pool_max_conns", false},
	} {
		if got := setsPoolMaxConns(tc.conn); got != tc.want {
			t.Errorf("setsPoolMaxConns(%q) = %v, want %v", tc.conn, got, tc.want)
		}
	}
	withParam := sqlstoretest.PostgresURL(t, "sqlstore_pool") // sets pool_max_conns=8
	u, err := url.Parse(withParam)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Del("pool_max_conns")
	u.RawQuery = q.Encode()
	for conn, want := range map[string]int32{withParam: 8, u.String(): DefaultMaxConns} {
		d, err := OpenPostgres(t.Context(), conn, testOptions(nil))
		if err != nil {
			t.Fatal(err)
		}
		if got := d.b.(*pgBackend).pool.Config().MaxConns; got != want {
			t.Errorf("pool of %s: %d connections, want %d", conn, got, want)
		}
		_ = d.Close()
	}
}
