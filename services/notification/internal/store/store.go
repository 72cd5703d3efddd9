// Package store is the notification service's inbox of WebSub deliveries
// on PostgreSQL or SQLite (pkg/sqlstore). A delivery and the River job that
// processes it are written in one database transaction before the hub is
// answered, so an acknowledged event is never lost; the event id is the
// primary key, so a redelivery is recognised and creates no second job.
package store

import (
	"context"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/mosipcrvs/bridge/pkg/sqlstore"
)

//go:embed migrations/postgres/*.sql migrations/sqlite/*.sql
var migrationFS embed.FS

func migrations() fs.FS {
	sub, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		panic(err) // a valid constant path
	}
	return sub
}

// QueueName is the River queue of the notification service's jobs; its own
// queue keeps its workers off other services' jobs in a shared database.
const QueueName = "notification"

// States of a delivery.
const (
	// StateReceived: stored, a job will process it (or is retrying).
	StateReceived = "received"
	// StateDone: processed; the CRVS record was confirmed or rejected, or
	// nothing had to be done.
	StateDone = "done"
	// StateIgnored: not ours (a status event for another system's RID) or
	// nothing to do; kept for deduplication.
	StateIgnored = "ignored"
	// StateDead: processing failed for good; an operator replays or
	// discards it.
	StateDead = "dead"
	// StateDiscarded: a dead letter an operator closed.
	StateDiscarded = "discarded"
)

// SilenceTopic is the topic of the inbox entries the bridge writes itself
// for packets MOSIP never answered (NOTIFICATION_REJECT_AFTER_SILENCE):
// stored with kind status and the event id "silence-<transaction id>", so
// every replica's sweep creates one entry, processed, retried and
// dead-lettered like a delivery.
const SilenceTopic = "mosipcrvs/REJECT_AFTER_SILENCE"

// ValidState reports whether s is a delivery state.
func ValidState(s string) bool {
	switch s {
	case StateReceived, StateDone, StateIgnored, StateDead, StateDiscarded:
		return true
	}
	return false
}

// ProcessJob is the River job that processes one delivery.
type ProcessJob struct {
	EventID string `json:"event_id"`
}

// Kind implements river.JobArgs.
func (ProcessJob) Kind() string { return "notification.process_delivery" }

// InsertOpts puts the job on the service's queue.
func (ProcessJob) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueName} }

// Delivery is one stored event.
type Delivery struct {
	EventID, Topic, Kind, State string
	// Body is the raw delivery as the hub sent it (the HMAC covered it).
	Body []byte
	// Fetched is the credential read from MOSIP's data share, kept because
	// a share can be read only a few times.
	Fetched        string
	RegistrationID string
	TransactionID  string
	// Reason says why the delivery is dead, ignored or was retried; never
	// personal data.
	Reason   string
	Attempts int
	JobID    int64
	// ReceivedAt and UpdatedAt are UTC, truncated to microseconds.
	ReceivedAt, UpdatedAt time.Time
}

// ErrNotFound: no delivery with that event id.
var ErrNotFound = errors.New("delivery not found")

// ErrState: the delivery is not in a state that allows the change.
var ErrState = errors.New("delivery is in another state")

// Options configure the store.
type Options struct {
	Logger *slog.Logger
	// Clock is time.Now when nil.
	Clock func() time.Time
}

// DB is the inbox.
type DB struct {
	db  *sqlstore.DB
	now func() time.Time
	// records lets one Record at a time wait for SQLite's single writer
	// connection: database/sql hands a freed connection to a random
	// waiter, and a callback's Receive would otherwise wait behind every
	// worker's Record.
	records sync.Mutex
}

func (o Options) sql() sqlstore.Options {
	return sqlstore.Options{Service: "notification", Migrations: migrations(), Logger: o.Logger, Clock: o.Clock}
}

func wrap(d *sqlstore.DB, o Options) *DB {
	now := o.Clock
	if now == nil {
		now = time.Now
	}
	return &DB{db: d, now: now}
}

// OpenPostgres opens the inbox on PostgreSQL and applies migrations.
func OpenPostgres(ctx context.Context, url string, o Options) (*DB, error) {
	d, err := sqlstore.OpenPostgres(ctx, url, o.sql())
	if err != nil {
		return nil, err
	}
	return wrap(d, o), nil
}

// OpenSQLite opens (creating) the inbox in a SQLite file.
func OpenSQLite(ctx context.Context, path string, o Options) (*DB, error) {
	d, err := sqlstore.OpenSQLite(ctx, path, o.sql())
	if err != nil {
		return nil, err
	}
	return wrap(d, o), nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// NewQueue builds the River client that works the service's jobs.
func (d *DB) NewQueue(cfg *river.Config) (sqlstore.Queue, error) { return d.db.NewQueue(cfg) }

func (d *DB) clock() time.Time { return d.now().UTC().Truncate(time.Microsecond) }

// Receive stores a delivery and its processing job in one transaction.
// It reports duplicate (and stores nothing) when the event id is known.
// The job is inserted first, so the delivery is written once, with its
// job id: the writer (SQLite has one) is held for two statements, not
// three. A duplicate rolls its job back.
func (d *DB) Receive(ctx context.Context, eventID, topic, kind, registrationID string, body []byte) (duplicate bool, err error) {
	tx, err := d.db.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx)
	jobID, err := tx.InsertJob(ctx, ProcessJob{EventID: eventID}, nil)
	if err != nil {
		return false, fmt.Errorf("enqueue delivery: %w", err)
	}
	now := d.db.TimeArg(d.clock())
	n, err := tx.Exec(ctx, `INSERT INTO notification_deliveries
		(event_id, topic, kind, state, body, registration_id, job_id, received_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (event_id) DO NOTHING`,
		eventID, topic, kind, StateReceived, body, registrationID, jobID, now)
	if err != nil {
		return false, fmt.Errorf("store delivery: %w", err)
	}
	if n == 0 {
		return true, nil
	}
	return false, tx.Commit(ctx)
}

const columns = `event_id, topic, kind, state, body, fetched, registration_id, transaction_id, reason, attempts,
	coalesce(job_id, 0), received_at, updated_at`

func scan(r sqlstore.Row) (Delivery, error) {
	var dl Delivery
	err := r.Scan(&dl.EventID, &dl.Topic, &dl.Kind, &dl.State, &dl.Body, &dl.Fetched, &dl.RegistrationID, &dl.TransactionID,
		&dl.Reason, &dl.Attempts, &dl.JobID, sqlstore.ScanTime(&dl.ReceivedAt), sqlstore.ScanTime(&dl.UpdatedAt))
	if sqlstore.NoRows(err) {
		return dl, ErrNotFound
	}
	return dl, err
}

// Get returns a delivery.
func (d *DB) Get(ctx context.Context, eventID string) (Delivery, error) {
	return scan(d.db.Reader().QueryRow(ctx, `SELECT `+columns+` FROM notification_deliveries WHERE event_id = $1`, eventID))
}

// Update is what a processing step records.
type Update struct {
	// State, when set, moves the delivery (only from received).
	State string
	// Fetched, RegistrationID, TransactionID are set when not empty.
	Fetched, RegistrationID, TransactionID string
	// Reason replaces the reason when not empty.
	Reason string
	// Attempt counts one processing attempt.
	Attempt bool
}

// Record applies u to a delivery that is still being processed
// (received); a delivery an operator discarded meanwhile is left alone
// (ErrState). It returns the delivery without its body. One statement: a
// compare-and-set on the state, committed on its own.
func (d *DB) Record(ctx context.Context, eventID string, u Update) (Delivery, error) {
	if u.State != "" && !ValidState(u.State) {
		return Delivery{}, fmt.Errorf("unknown state %q", u.State)
	}
	attempt := 0
	if u.Attempt {
		attempt = 1
	}
	if d.db.Dialect() == sqlstore.SQLite {
		d.records.Lock()
		defer d.records.Unlock()
	}
	dl, err := scan(d.db.Writer().QueryRow(ctx, recordSQL, eventID, StateReceived, u.State, u.Fetched, u.RegistrationID,
		u.TransactionID, truncate(u.Reason, 1000), attempt, d.db.TimeArg(d.clock())))
	if !errors.Is(err, ErrNotFound) {
		return dl, err
	}
	// Nothing matched: gone, or no longer received.
	var state string
	err = d.db.Reader().QueryRow(ctx, `SELECT state FROM notification_deliveries WHERE event_id = $1`, eventID).Scan(&state)
	switch {
	case sqlstore.NoRows(err):
		return Delivery{}, ErrNotFound
	case err != nil:
		return Delivery{}, err
	}
	return Delivery{EventID: eventID, State: state}, fmt.Errorf("%w: %s", ErrState, state)
}

// recordSQL is Record's statement: $1 event id, $2 the state it must be
// in, $3 the new state, $4 fetched, $5 registration id, $6 transaction id,
// $7 reason (an empty one keeps each), $8 attempts to add, $9 now. The body is not
// read back (NULL scans as nil).
const recordSQL = `UPDATE notification_deliveries SET
		state = CASE WHEN $3 = '' THEN state ELSE $3 END,
		fetched = CASE WHEN $4 = '' THEN fetched ELSE $4 END,
		registration_id = CASE WHEN $5 = '' THEN registration_id ELSE $5 END,
		transaction_id = CASE WHEN $6 = '' THEN transaction_id ELSE $6 END,
		reason = CASE WHEN $7 = '' THEN reason ELSE $7 END,
		attempts = attempts + $8, updated_at = $9
	WHERE event_id = $1 AND state = $2
	RETURNING event_id, topic, kind, state, NULL, fetched, registration_id, transaction_id, reason, attempts,
		coalesce(job_id, 0), received_at, updated_at`

// Replay queues a dead delivery again: state received, attempts reset, a
// new job in the same transaction.
func (d *DB) Replay(ctx context.Context, eventID string) (Delivery, error) {
	return d.operate(ctx, eventID, func(tx sqlstore.Tx, dl *Delivery) error {
		jobID, err := tx.InsertJob(ctx, ProcessJob{EventID: eventID}, nil)
		if err != nil {
			return err
		}
		dl.State, dl.Attempts, dl.JobID, dl.Reason = StateReceived, 0, jobID, "replayed: "+dl.Reason
		return nil
	})
}

// Discard closes a dead delivery for good.
func (d *DB) Discard(ctx context.Context, eventID, reason string) (Delivery, error) {
	return d.operate(ctx, eventID, func(_ sqlstore.Tx, dl *Delivery) error {
		dl.State = StateDiscarded
		if reason != "" {
			dl.Reason = "discarded: " + reason + " (was: " + dl.Reason + ")"
		}
		return nil
	})
}

// operate runs an operator's change on a dead delivery.
func (d *DB) operate(ctx context.Context, eventID string, change func(sqlstore.Tx, *Delivery) error) (Delivery, error) {
	tx, err := d.db.Begin(ctx)
	if err != nil {
		return Delivery{}, err
	}
	defer tx.Rollback(ctx)
	dl, err := scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM notification_deliveries WHERE event_id = $1`+d.db.LockRow(), eventID))
	if err != nil {
		return Delivery{}, err
	}
	if dl.State != StateDead {
		return dl, fmt.Errorf("%w: only dead letters can be replayed or discarded, this one is %s", ErrState, dl.State)
	}
	if err := change(tx, &dl); err != nil {
		return Delivery{}, err
	}
	dl.Reason = truncate(dl.Reason, 1000)
	dl.UpdatedAt = d.clock()
	_, err = tx.Exec(ctx, `UPDATE notification_deliveries SET state = $1, attempts = $2, job_id = $3, reason = $4, updated_at = $5
		WHERE event_id = $6`, dl.State, dl.Attempts, dl.JobID, dl.Reason, d.db.TimeArg(dl.UpdatedAt), eventID)
	if err != nil {
		return Delivery{}, err
	}
	return dl, tx.Commit(ctx)
}

// Page is one page of List.
type Page struct {
	Deliveries []Delivery
	// Next is the token of the next page; empty on the last.
	Next string
}

// List returns deliveries newest first, bodies omitted, optionally in one
// state. size is clamped to [1, 500] (50 when 0).
func (d *DB) List(ctx context.Context, state string, size int, token string) (Page, error) {
	if state != "" && !ValidState(state) {
		return Page{}, fmt.Errorf("unknown state %q", state)
	}
	switch {
	case size <= 0:
		size = 50
	case size > 500:
		size = 500
	}
	q := `SELECT event_id, topic, kind, state, ''::bytea AS body, '' AS fetched, registration_id, transaction_id, reason, attempts,
		coalesce(job_id, 0), received_at, updated_at FROM notification_deliveries WHERE ($1 = '' OR state = $1)`
	if d.db.Dialect() == sqlstore.SQLite {
		q = strings.Replace(q, "''::bytea", "x''", 1)
	}
	args := []any{state}
	if token != "" {
		at, id, err := decodeToken(token)
		if err != nil {
			return Page{}, err
		}
		q += ` AND (received_at < $2 OR (received_at = $2 AND event_id < $3))`
		args = append(args, d.db.TimeArg(at), id)
	}
	q += fmt.Sprintf(` ORDER BY received_at DESC, event_id DESC LIMIT %d`, size+1)
	rows, err := d.db.Reader().Query(ctx, q, args...)
	if err != nil {
		return Page{}, err
	}
	defer rows.Close()
	var p Page
	for rows.Next() {
		dl, err := scan(rows)
		if err != nil {
			return Page{}, err
		}
		p.Deliveries = append(p.Deliveries, dl)
	}
	if err := rows.Err(); err != nil {
		return Page{}, err
	}
	if len(p.Deliveries) > size {
		last := p.Deliveries[size-1]
		p.Deliveries = p.Deliveries[:size]
		p.Next = encodeToken(last.ReceivedAt, last.EventID)
	}
	return p, nil
}

// ErrBadToken: a page token that List did not issue.
var ErrBadToken = errors.New("invalid page token")

func encodeToken(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at.UTC().Format(time.RFC3339Nano) + "|" + id))
}

func decodeToken(tok string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return time.Time{}, "", ErrBadToken
	}
	ts, id, ok := strings.Cut(string(b), "|")
	at, perr := time.Parse(time.RFC3339Nano, ts)
	if !ok || perr != nil || id == "" {
		return time.Time{}, "", ErrBadToken
	}
	return at, id, nil
}

// Counts returns how many deliveries are in each state (for metrics: the
// backlog and the dead letters).
func (d *DB) Counts(ctx context.Context) (map[string]int64, error) {
	rows, err := d.db.Reader().Query(ctx, `SELECT state, count(*) FROM notification_deliveries GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}

// orphaned selects received deliveries whose River job is gone or ended
// (completed, cancelled, discarded); $1 is StateReceived, $2 the cut-off of
// updated_at.
const orphaned = `FROM notification_deliveries d LEFT JOIN river_job j ON j.id = d.job_id
	WHERE d.state = $1 AND d.updated_at < $2 AND (j.id IS NULL OR j.state IN ('completed', 'cancelled', 'discarded'))`

// Requeue gives a new job to every delivery still to be processed whose
// job no longer exists or ended, and that nothing touched since before:
// River's leader discards a stuck job of a kind its client does not know,
// which happens when another service's client leads in a shared schema.
// Without a job such a delivery would wait for ever. Safe to run from
// every replica at once. It returns the event ids requeued.
func (d *DB) Requeue(ctx context.Context, before time.Time) ([]string, error) {
	cutoff := d.db.TimeArg(before.UTC().Truncate(time.Microsecond))
	rows, err := d.db.Reader().Query(ctx, `SELECT d.event_id `+orphaned+` ORDER BY d.received_at LIMIT 100`, StateReceived, cutoff)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var done []string
	for _, id := range ids {
		ok, err := d.requeue(ctx, id, cutoff)
		if err != nil {
			return done, err
		}
		if ok {
			done = append(done, id)
		}
	}
	return done, nil
}

// requeue re-checks one orphan under its row lock (another replica may have
// requeued it meanwhile) and inserts its new job. The job is read after the
// lock, in a statement of its own: a join locked with the delivery would
// be re-checked against the job row read before the wait.
func (d *DB) requeue(ctx context.Context, eventID string, cutoff any) (bool, error) {
	tx, err := d.db.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx)
	var jobID int64
	err = tx.QueryRow(ctx, `SELECT coalesce(job_id, 0) FROM notification_deliveries
		WHERE event_id = $1 AND state = $2 AND updated_at < $3`+d.db.LockRow(), eventID, StateReceived, cutoff).Scan(&jobID)
	if sqlstore.NoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var state string
	err = tx.QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, jobID).Scan(&state)
	switch {
	case sqlstore.NoRows(err):
	case err != nil:
		return false, err
	case state != "completed" && state != "cancelled" && state != "discarded":
		return false, nil
	}
	newJob, err := tx.InsertJob(ctx, ProcessJob{EventID: eventID}, nil)
	if err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, `UPDATE notification_deliveries SET job_id = $1, updated_at = $2 WHERE event_id = $3`,
		newJob, d.db.TimeArg(d.clock()), eventID); err != nil {
		return false, err
	}
	return true, tx.Commit(ctx)
}

// Answered reports whether a delivery from MOSIP (not a silence entry) was
// attributed to the bridge transaction: MOSIP did answer it.
func (d *DB) Answered(ctx context.Context, transactionID string) (bool, error) {
	var n int64
	// transaction_id <> '' repeats the predicate of the partial index
	// notification_deliveries_transaction: SQLite uses the index only when
	// the query implies it, whatever the argument.
	err := d.db.Reader().QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM notification_deliveries
		WHERE transaction_id = $1 AND transaction_id <> '' AND topic <> $2 LIMIT 1) AS t`, transactionID, SilenceTopic).Scan(&n)
	return n > 0, err
}

// Unattributed reports whether deliveries wait that are not yet tied to a
// transaction (a backlog, or retries that failed before the registration
// id was known): any of them may be the answer a silent packet waits for.
func (d *DB) Unattributed(ctx context.Context) (bool, error) {
	var n int64
	err := d.db.Reader().QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM notification_deliveries
		WHERE state = $1 AND transaction_id = '' AND topic <> $2 LIMIT 1) AS t`, StateReceived, SilenceTopic).Scan(&n)
	return n > 0, err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
