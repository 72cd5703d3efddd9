package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/sqlstore"
)

// Limits on free text, so a misbehaving caller cannot bloat rows.
const (
	maxIDFieldLen   = 128  // event, action, tracking ids, registration number and id
	maxDetailLen    = 1000 // audit detail
	maxLastErrorLen = 2000
	defaultPageSize = 50
	maxPageSize     = 500
	batchSize       = 200 // rows per database transaction in Purge and Rewrap
)

// DB is a Store on PostgreSQL (OpenPostgres) or SQLite (OpenSQLite). The
// two differ only in how they talk to their database; everything a caller
// can observe is the same, which the contract test checks.
type DB struct {
	b       *sqlstore.DB
	keys    *Keyring
	ids     idFormat
	now     func() time.Time
	log     *slog.Logger
	maxJobs int

	// beforeCommit, when set (tests only), runs just before Submit commits;
	// an error aborts the Submit, proving that nothing of it remains.
	beforeCommit func(ctx context.Context) error
}

var _ Store = (*DB)(nil)

// checkOptions validates Options and fills defaults; the returned DB has no
// database yet.
func checkOptions(opts Options) (*DB, error) {
	ids, err := newIDFormat(opts.IDPrefix)
	if err != nil {
		return nil, err
	}
	if opts.Keyring == nil {
		return nil, fmt.Errorf("%w: a keyring is required to seal tokens and payloads", ErrInvalid)
	}
	if opts.JobMaxAttempts < 0 {
		return nil, fmt.Errorf("%w: JobMaxAttempts must not be negative", ErrInvalid)
	}
	d := &DB{keys: opts.Keyring, ids: ids, now: opts.Now, log: opts.Logger, maxJobs: opts.JobMaxAttempts}
	if d.now == nil {
		d.now = time.Now
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	return d, nil
}

// Dialect is "postgres" or "sqlite".
func (d *DB) Dialect() string { return d.b.Dialect() }

// Close releases the database.
func (d *DB) Close() error { return d.b.Close() }

// clock returns now as both databases store it.
func (d *DB) clock() time.Time { return d.now().UTC().Truncate(time.Microsecond) }

// txColumns are the columns scanTx reads, in order.
const txColumns = `id, process, status, event_id, action_id, registration_number, registration_id,
	tracking_id, token_enc, payload_enc, job_id, attempts, last_error, created_at, updated_at, purged_at`

// sealedTx is a row with its token and payload sealed: read before they
// are opened, or built for an insert.
type sealedTx struct {
	Transaction
	token, payload string
}

func scanTx(r sqlstore.Row) (sealedTx, error) {
	var s sealedTx
	t := &s.Transaction
	err := r.Scan(&t.ID, &t.Process, &t.Status, &t.EventID, &t.ActionID, &t.RegistrationNumber, &t.RegistrationID,
		&t.TrackingID, &s.token, &s.payload, &t.JobID, &t.Attempts, &t.LastError,
		sqlstore.ScanTime(&t.CreatedAt), sqlstore.ScanTime(&t.UpdatedAt), sqlstore.ScanTime(&t.PurgedAt))
	return s, err
}

// open decrypts the token and payload of a row.
func (d *DB) open(s sealedTx) (Transaction, error) {
	t := s.Transaction
	tok, err := d.keys.open(s.token, aad("token", t.ID))
	if err != nil {
		return Transaction{}, fmt.Errorf("transaction %s token: %w", t.ID, err)
	}
	payload, err := d.keys.open(s.payload, aad("payload", t.ID))
	if err != nil {
		return Transaction{}, fmt.Errorf("transaction %s payload: %w", t.ID, err)
	}
	t.Token = config.Secret(tok)
	t.Payload = payload
	return t, nil
}

// aad binds a sealed value to its column and transaction.
func aad(column, id string) string { return "packet_transactions." + column + ":" + id }

func (s Submission) validate() error {
	var problems []string
	if !s.Process.Valid() {
		problems = append(problems, fmt.Sprintf("process %q is not one of CRVS_NEW, CRVS_DEATH, CRVS_UPDATE", s.Process))
	}
	if s.ActionID != "" && s.EventID == "" {
		problems = append(problems, "action id without event id")
	}
	for name, v := range map[string]string{"event id": s.EventID, "action id": s.ActionID,
		"registration number": s.RegistrationNumber, "tracking id": s.TrackingID} {
		if len(v) > maxIDFieldLen {
			problems = append(problems, fmt.Sprintf("%s longer than %d bytes", name, maxIDFieldLen))
		}
	}
	if len(s.Payload) == 0 {
		problems = append(problems, "payload is empty")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	return nil
}

// submitTries bounds Submit's attempts: another is needed when the
// registration id chosen belongs to another transaction already (a
// collision needs more than 100,000 RIDs within one second, see
// docs/packet.md, so a second draw is already far-fetched), or when the
// live transaction of the key was cancelled between two reads.
const submitTries = 3

// errRIDTaken means the registration id a Submit chose belongs to another
// transaction; Submit draws again.
var errRIDTaken = errors.New("registration id taken")

// errDuplicate means a live transaction has the submission's key.
var errDuplicate = errors.New("a live transaction has the event and action")

// errKeyFreed means the live transaction of the key went away (cancelled)
// between two reads of one Submit; Submit starts again.
var errKeyFreed = errors.New("idempotency key freed meanwhile")

// Submit records a transaction, its first audit entry and its job in one
// database transaction, or returns the live transaction of the same event
// and action.
//
// On Postgres that is a round trip drawing the numbers (answering a
// duplicate without drawing any), then BEGIN, River's insert, one INSERT of
// the row and its audit entry, COMMIT. On SQLite it is one write
// transaction of a few statements on the single writer.
func (d *DB) Submit(ctx context.Context, s Submission) (Transaction, bool, error) {
	if err := s.validate(); err != nil {
		return Transaction{}, false, err
	}
	for try := 1; ; try++ {
		tx, created, err := d.submit(ctx, s)
		switch {
		case (errors.Is(err, errRIDTaken) || errors.Is(err, errKeyFreed)) && try < submitTries:
			continue
		case err != nil:
			return Transaction{}, false, fmt.Errorf("submit: %w", err)
		}
		return tx, created, nil
	}
}

// submit is one attempt of Submit.
func (d *DB) submit(ctx context.Context, s Submission) (Transaction, bool, error) {
	keyed := s.EventID != "" && s.ActionID != ""
	pg := d.b.Dialect() != sqlstore.SQLite
	var seq, ridSeq int64
	if pg {
		// The numbers come from sequences, outside any transaction; the
		// common duplicate (OpenCRVS retrying after a timeout) draws none.
		var err error
		seq, ridSeq, err = d.drawPostgres(ctx, s, keyed)
		if errors.Is(err, errDuplicate) {
			existing, err := d.liveByKey(ctx, d.b.Reader(), s.EventID, s.ActionID)
			if errors.Is(err, ErrNotFound) {
				return Transaction{}, false, errKeyFreed
			}
			return existing, false, err
		}
		if err != nil {
			return Transaction{}, false, fmt.Errorf("draw the transaction id: %w", err)
		}
	}

	t, err := d.b.Begin(ctx)
	if err != nil {
		return Transaction{}, false, err
	}
	defer t.Rollback(ctx)
	if !pg {
		// SQLite has one writer: inside its write transaction, nothing
		// can come between this read and the insert.
		if keyed {
			existing, err := d.liveByKey(ctx, t, s.EventID, s.ActionID)
			if err == nil || !errors.Is(err, ErrNotFound) {
				return existing, false, err
			}
		}
		if seq, ridSeq, err = d.drawSQLite(ctx, t, s); err != nil {
			return Transaction{}, false, fmt.Errorf("draw the transaction id: %w", err)
		}
	}

	row, err := d.newRow(s, seq, ridSeq)
	if err != nil {
		return Transaction{}, false, err
	}
	opts := &river.InsertOpts{MaxAttempts: d.maxJobs, ScheduledAt: s.JobScheduledAt}
	if row.JobID, err = t.InsertJob(ctx, SubmitJob{TransactionID: row.ID}, opts); err != nil {
		return Transaction{}, false, fmt.Errorf("enqueue job: %w", err)
	}
	inserted, err := d.insertRow(ctx, t, row)
	if err != nil {
		t.Rollback(ctx)
		return Transaction{}, false, d.insertError(ctx, row, err)
	}
	if !inserted {
		// A concurrent Submit of the same key committed first (Postgres
		// waited for it on the unique index): return the winner. This job
		// goes with the rollback.
		existing, err := d.liveByKey(ctx, t, s.EventID, s.ActionID)
		if err != nil {
			return Transaction{}, false, fmt.Errorf("concurrent duplicate: %w", err)
		}
		return existing, false, nil
	}
	if d.beforeCommit != nil {
		if err := d.beforeCommit(ctx); err != nil {
			return Transaction{}, false, err
		}
	}
	if err := t.Commit(ctx); err != nil {
		return Transaction{}, false, fmt.Errorf("commit: %w", err)
	}
	row.Token, row.Payload = s.Token, bytes.Clone(s.Payload)
	return row.Transaction, true, nil
}

// drawPostgres draws the transaction's sequence number and, when the
// submission chooses its RID, the RID sequence's, in one statement. For a
// keyed submission it draws nothing, and returns errDuplicate, when a live
// transaction has the key.
func (d *DB) drawPostgres(ctx context.Context, s Submission, keyed bool) (seq, ridSeq int64, err error) {
	q := `SELECT nextval('packet_transaction_seq'), ` + ridDraw(s)
	var args []any
	if keyed {
		// Without a row, the one-time filter keeps the sequences untouched.
		q += ` WHERE NOT EXISTS (SELECT 1 FROM packet_transactions WHERE ` + liveKeyWhere + `)`
		args = []any{s.EventID, s.ActionID}
	}
	err = d.b.Writer().QueryRow(ctx, q, args...).Scan(&seq, &ridSeq)
	if sqlstore.NoRows(err) {
		return 0, 0, errDuplicate
	}
	return seq, ridSeq, err
}

// ridDraw is the select-list entry drawing the RID sequence number: none
// (0) when the submission does not choose its RID.
func ridDraw(s Submission) string {
	if s.ChooseRID == nil {
		return `0`
	}
	return `nextval('packet_rid_seq')`
}

// drawSQLite draws the numbers of drawPostgres from the counter rows,
// inside t.
func (d *DB) drawSQLite(ctx context.Context, t sqlstore.Tx, s Submission) (seq, ridSeq int64, err error) {
	err = t.QueryRow(ctx, `UPDATE packet_id_counter SET last = last + 1 WHERE id = 1 RETURNING last`).Scan(&seq)
	if err != nil || s.ChooseRID == nil {
		return seq, 0, err
	}
	err = t.QueryRow(ctx, ridCounterSQL, ridSequenceRange).Scan(&ridSeq)
	return seq, ridSeq, err
}

// ridCounterSQL draws the next number of SQLite's RID counter.
const ridCounterSQL = `UPDATE packet_rid_counter SET last = (last + 1) % $1 WHERE id = 1 RETURNING last`

// newRow builds the row of a new transaction: its id from seq, its RID
// (when the submission chooses it) from ridSeq, its token and payload
// sealed for it.
func (d *DB) newRow(s Submission, seq, ridSeq int64) (sealedTx, error) {
	id, err := d.ids.format(seq)
	if err != nil {
		return sealedTx{}, err
	}
	now := d.clock()
	r := sealedTx{Transaction: Transaction{
		ID: id, Process: s.Process, Status: StatusReceived, EventID: s.EventID, ActionID: s.ActionID,
		RegistrationNumber: s.RegistrationNumber, TrackingID: s.TrackingID, CreatedAt: now, UpdatedAt: now,
	}}
	if s.ChooseRID != nil {
		if r.RegistrationID, err = s.ChooseRID(id, ridSeq); err != nil {
			return sealedTx{}, fmt.Errorf("choose the registration id: %w", err)
		}
		if r.RegistrationID == "" || len(r.RegistrationID) > maxIDFieldLen {
			return sealedTx{}, fmt.Errorf("%w: chosen registration id %q is empty or longer than %d bytes", ErrInvalid, r.RegistrationID, maxIDFieldLen)
		}
	}
	if r.token, err = d.keys.seal([]byte(s.Token.Value()), aad("token", id)); err != nil {
		return sealedTx{}, err
	}
	if r.payload, err = d.keys.seal(s.Payload, aad("payload", id)); err != nil {
		return sealedTx{}, err
	}
	return r, nil
}

// insertTxSQL inserts a new transaction. A concurrent Submit of the same
// key that committed first makes it do nothing (Postgres waits for that
// one on the unique index). The conflict target names the partial index,
// so a clash on the primary key or the RID still fails loudly.
const insertTxSQL = `INSERT INTO packet_transactions
		(id, process, status, event_id, action_id, registration_number, registration_id, tracking_id,
		token_enc, payload_enc, job_id, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
		ON CONFLICT (event_id, action_id) WHERE event_id <> '' AND action_id <> '' AND status <> 'cancelled' DO NOTHING
		RETURNING id`

// insertRow inserts the row and its first audit entry inside t: one
// statement on Postgres (the audit entry in a data-modifying WITH), two on
// SQLite. inserted is false when a live transaction has the key.
func (d *DB) insertRow(ctx context.Context, t sqlstore.Tx, r sealedTx) (inserted bool, err error) {
	detail := "received from OpenCRVS"
	if r.RegistrationID != "" {
		detail += "; registration id chosen"
	}
	args := []any{r.ID, string(r.Process), string(StatusReceived), r.EventID, r.ActionID, r.RegistrationNumber,
		r.RegistrationID, r.TrackingID, r.token, r.payload, r.JobID, d.b.TimeArg(r.CreatedAt)}
	var id string
	if d.b.Dialect() == sqlstore.SQLite {
		err = t.QueryRow(ctx, insertTxSQL, args...).Scan(&id)
		if err == nil {
			err = d.appendAudit(ctx, t, r.ID, r.CreatedAt, "", StatusReceived, detail)
		}
	} else {
		err = t.QueryRow(ctx, `WITH inserted AS (`+insertTxSQL+`)
			INSERT INTO packet_audit (transaction_id, at, from_status, to_status, detail)
			SELECT id, $12, '', $3, $13 FROM inserted
			RETURNING transaction_id`, append(args, detail)...).Scan(&id)
	}
	if sqlstore.NoRows(err) {
		return false, nil
	}
	return err == nil, err
}

// insertError explains a failed insert: a unique violation is the
// transaction id (the sequence restarted, or TRANSACTION_ID_PREFIX
// changed) or the chosen RID (errRIDTaken: Submit draws again).
func (d *DB) insertError(ctx context.Context, r sealedTx, err error) error {
	if !d.b.UniqueViolation(err) {
		return fmt.Errorf("insert: %w", err)
	}
	var n int64
	if cerr := d.b.Reader().QueryRow(ctx, `SELECT count(*) FROM packet_transactions WHERE id = $1`, r.ID).Scan(&n); cerr != nil {
		return fmt.Errorf("insert: %w", errors.Join(err, cerr))
	}
	if n == 0 && r.RegistrationID != "" {
		return fmt.Errorf("%w: %w", errRIDTaken, err)
	}
	return fmt.Errorf("transaction id %s is taken (was TRANSACTION_ID_PREFIX changed?): %w", r.ID, err)
}

func (d *DB) appendAudit(ctx context.Context, q sqlstore.Querier, id string, at time.Time, from, to Status, detail string) error {
	_, err := q.Exec(ctx, `INSERT INTO packet_audit (transaction_id, at, from_status, to_status, detail)
		VALUES ($1, $2, $3, $4, $5)`, id, d.b.TimeArg(at), string(from), string(to), truncate(detail, maxDetailLen))
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// liveKeyWhere selects the live transaction of an event ($1) and action
// ($2). It repeats the predicates of the partial unique index
// packet_transactions_idempotency_key, so that both planners use the index
// whatever the arguments (a generic Postgres plan knows none of them).
const liveKeyWhere = `event_id = $1 AND action_id = $2 AND event_id <> '' AND action_id <> '' AND status <> 'cancelled'`

// ridWhere selects the transaction of a RID ($1), repeating the predicate
// of the partial unique index packet_transactions_registration_id (see
// liveKeyWhere).
const ridWhere = `registration_id = $1 AND registration_id <> ''`

// liveByKey finds the transaction of an event and action that is not
// cancelled; the partial unique index allows at most one.
func (d *DB) liveByKey(ctx context.Context, q sqlstore.Querier, eventID, actionID string) (Transaction, error) {
	s, err := scanTx(q.QueryRow(ctx, `SELECT `+txColumns+` FROM packet_transactions WHERE `+liveKeyWhere, eventID, actionID))
	if sqlstore.NoRows(err) {
		return Transaction{}, ErrNotFound
	}
	if err != nil {
		return Transaction{}, err
	}
	return d.open(s)
}

// Get returns a transaction with its token and payload.
func (d *DB) Get(ctx context.Context, id string) (Transaction, error) {
	if !validID(id) {
		return Transaction{}, fmt.Errorf("get %q: %w", id, ErrNotFound)
	}
	s, err := scanTx(d.b.Reader().QueryRow(ctx, `SELECT `+txColumns+` FROM packet_transactions WHERE id = $1`, id))
	if sqlstore.NoRows(err) {
		return Transaction{}, fmt.Errorf("get %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Transaction{}, fmt.Errorf("get %s: %w", id, err)
	}
	return d.open(s)
}

// GetMeta returns a transaction without its token and payload.
func (d *DB) GetMeta(ctx context.Context, id string) (Transaction, error) {
	if !validID(id) {
		return Transaction{}, fmt.Errorf("get %q: %w", id, ErrNotFound)
	}
	t, err := scanMeta(d.b.Reader().QueryRow(ctx, `SELECT `+metaColumns+` FROM packet_transactions WHERE id = $1`, id))
	if sqlstore.NoRows(err) {
		return Transaction{}, fmt.Errorf("get %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Transaction{}, fmt.Errorf("get %s: %w", id, err)
	}
	return t, nil
}

// GetByRegistrationID returns the transaction of a MOSIP registration id
// (RID), with its token: how MOSIP's answers find their CRVS record. The
// payload, the bulk of the row, is neither read nor opened.
func (d *DB) GetByRegistrationID(ctx context.Context, rid string) (Transaction, error) {
	if rid == "" || len(rid) > 64 {
		return Transaction{}, fmt.Errorf("%w: a registration id is 1 to 64 characters", ErrInvalid)
	}
	var token string
	t, err := scanMeta(d.b.Reader().QueryRow(ctx, `SELECT `+metaColumns+`, token_enc FROM packet_transactions WHERE `+ridWhere, rid), &token)
	if sqlstore.NoRows(err) {
		return Transaction{}, fmt.Errorf("get by registration id: %w", ErrNotFound)
	}
	if err != nil {
		return Transaction{}, fmt.Errorf("get by registration id: %w", err)
	}
	tok, err := d.keys.open(token, aad("token", t.ID))
	if err != nil {
		return Transaction{}, fmt.Errorf("transaction %s token: %w", t.ID, err)
	}
	t.Token = config.Secret(tok)
	return t, nil
}

// GetByIdempotencyKey returns the live transaction of an event and action.
func (d *DB) GetByIdempotencyKey(ctx context.Context, eventID, actionID string) (Transaction, error) {
	if eventID == "" || actionID == "" {
		return Transaction{}, fmt.Errorf("%w: event id and action id are both needed", ErrInvalid)
	}
	t, err := d.liveByKey(ctx, d.b.Reader(), eventID, actionID)
	if err != nil {
		return Transaction{}, fmt.Errorf("get by event and action: %w", err)
	}
	return t, nil
}

// List returns a page of transactions, newest first, without secrets.
func (d *DB) List(ctx context.Context, f Filter) (Page, error) {
	limit := f.Limit
	switch {
	case limit < 0:
		return Page{}, fmt.Errorf("%w: negative limit", ErrInvalid)
	case limit == 0:
		limit = defaultPageSize
	case limit > maxPageSize:
		limit = maxPageSize
	}
	var (
		where []string
		args  []any
	)
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if f.Status != "" {
		if !f.Status.Valid() {
			return Page{}, fmt.Errorf("%w: unknown status %q", ErrInvalid, f.Status)
		}
		where = append(where, "status = "+arg(string(f.Status)))
	}
	if f.Process != "" {
		if !f.Process.Valid() {
			return Page{}, fmt.Errorf("%w: unknown process %q", ErrInvalid, f.Process)
		}
		where = append(where, "process = "+arg(string(f.Process)))
	}
	if f.RegistrationNumber != "" {
		where = append(where, "registration_number = "+arg(f.RegistrationNumber))
	}
	if !f.Since.IsZero() {
		where = append(where, "created_at >= "+arg(d.b.TimeArg(f.Since.UTC())))
	}
	if !f.Until.IsZero() {
		where = append(where, "created_at < "+arg(d.b.TimeArg(f.Until.UTC())))
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return Page{}, err
		}
		where = append(where, "(created_at, id) < ("+arg(d.b.TimeArg(at))+", "+arg(id)+")")
	}
	q := `SELECT ` + txColumns + ` FROM packet_transactions`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	// One row more than asked tells whether another page follows.
	q += ` ORDER BY created_at DESC, id DESC LIMIT ` + arg(limit+1)
	rs, err := d.b.Reader().Query(ctx, q, args...)
	if err != nil {
		return Page{}, fmt.Errorf("list: %w", err)
	}
	defer rs.Close()
	var p Page
	for rs.Next() {
		s, err := scanTx(rs)
		if err != nil {
			return Page{}, fmt.Errorf("list: %w", err)
		}
		p.Transactions = append(p.Transactions, s.Transaction)
	}
	if err := rs.Err(); err != nil {
		return Page{}, fmt.Errorf("list: %w", err)
	}
	if len(p.Transactions) > limit {
		p.Transactions = p.Transactions[:limit]
		last := p.Transactions[limit-1]
		p.Next = encodeCursor(last.CreatedAt, last.ID)
	}
	return p, nil
}

// A cursor is the sort key of the last row of a page, opaque to callers.
func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at.UTC().Format(sqlstore.TimeLayout) + "|" + id))
}

func decodeCursor(c string) (time.Time, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		at, id, ok := strings.Cut(string(raw), "|")
		if t, perr := time.Parse(sqlstore.TimeLayout, at); ok && perr == nil && validID(id) {
			return t, id, nil
		}
	}
	return time.Time{}, "", fmt.Errorf("%w: malformed cursor", ErrInvalid)
}

// Advance moves a transaction from one step to another (compare-and-set on
// the step), records what mutate changed and appends an audit entry, all in
// one database transaction.
func (d *DB) Advance(ctx context.Context, id string, from, to Status, detail string, mutate Mutation) (Transaction, error) {
	if !CanAdvance(from, to) {
		return Transaction{}, fmt.Errorf("%w: transaction cannot go from %q to %q", ErrInvalid, from, to)
	}
	t, err := d.b.Begin(ctx)
	if err != nil {
		return Transaction{}, fmt.Errorf("advance %s: %w", id, err)
	}
	defer t.Rollback(ctx)
	cur, err := d.lockForUpdate(ctx, t, id)
	if err != nil {
		return Transaction{}, fmt.Errorf("advance %s: %w", id, err)
	}
	if cur.Status != from {
		return Transaction{}, &ConflictError{ID: id, Expected: from, Actual: cur.Status}
	}
	next := cur
	next.Payload = bytes.Clone(cur.Payload)
	if mutate != nil {
		mutate(&next)
		if err := checkMutation(cur, next); err != nil {
			return Transaction{}, fmt.Errorf("advance %s: %w", id, err)
		}
	}
	next.Status = to
	next.UpdatedAt = d.clock()
	next.LastError = truncate(next.LastError, maxLastErrorLen)
	_, err = t.Exec(ctx, `UPDATE packet_transactions
		SET status = $2, registration_id = $3, tracking_id = $4, attempts = $5, last_error = $6, updated_at = $7
		WHERE id = $1`,
		id, string(to), next.RegistrationID, next.TrackingID, next.Attempts, next.LastError, d.b.TimeArg(next.UpdatedAt))
	if err != nil {
		if d.b.UniqueViolation(err) {
			return Transaction{}, fmt.Errorf("advance %s: %w: registration id %q belongs to another transaction", id, ErrInvalid, next.RegistrationID)
		}
		return Transaction{}, fmt.Errorf("advance %s: %w", id, err)
	}
	if err := d.appendAudit(ctx, t, id, next.UpdatedAt, from, to, detail); err != nil {
		return Transaction{}, fmt.Errorf("advance %s: %w", id, err)
	}
	if err := t.Commit(ctx); err != nil {
		return Transaction{}, fmt.Errorf("advance %s: commit: %w", id, err)
	}
	return next, nil
}

// metaColumns are the columns scanMeta reads, in order: all but the sealed
// token and payload.
const metaColumns = `id, process, status, event_id, action_id, registration_number, registration_id,
	tracking_id, job_id, attempts, last_error, created_at, updated_at, purged_at`

// scanMeta reads metaColumns, then into extra the columns that follow
// them in the query.
func scanMeta(r sqlstore.Row, extra ...any) (Transaction, error) {
	var t Transaction
	err := r.Scan(append([]any{&t.ID, &t.Process, &t.Status, &t.EventID, &t.ActionID, &t.RegistrationNumber, &t.RegistrationID,
		&t.TrackingID, &t.JobID, &t.Attempts, &t.LastError,
		sqlstore.ScanTime(&t.CreatedAt), sqlstore.ScanTime(&t.UpdatedAt), sqlstore.ScanTime(&t.PurgedAt)}, extra...)...)
	return t, err
}

// stepSQL is Step's compare-and-set: $1 id, $2 from, $3 to, $4 the RID
// to record (empty for none), $5 a failed attempt, $6 a success, $7 the
// failure, $8 now. The RID is set once: a different one matches no row.
const stepSQL = `UPDATE packet_transactions SET status = $3,
		registration_id = CASE WHEN $4 = '' THEN registration_id ELSE $4 END,
		attempts = CASE WHEN $5 THEN attempts + 1 WHEN $6 THEN 0 ELSE attempts END,
		last_error = CASE WHEN $5 THEN $7 WHEN $6 THEN '' ELSE last_error END,
		updated_at = $8
	WHERE id = $1 AND status = $2 AND ($4 = '' OR registration_id IN ('', $4))
	RETURNING ` + metaColumns

// stepPostgresSQL is stepSQL with its audit entries in one statement: $9
// the detail, $10 the step on the way (Change.Via, empty for none) and $11
// its detail. The data-modifying WITH inserts them exactly when the update
// matched, from→via before via→to (identity values follow the ORDER BY),
// or the single from→to. With $12 (Change.EndJob) it deletes the
// transaction's job if that is still scheduled.
const stepPostgresSQL = `WITH moved AS (` + stepSQL + `), ended AS (
		DELETE FROM river_job WHERE $12 AND id = (SELECT job_id FROM moved) AND state = 'scheduled'), audit AS (
		INSERT INTO packet_audit (transaction_id, at, from_status, to_status, detail)
		SELECT moved.id, $8, a.from_status, a.to_status, a.detail FROM moved,
			(VALUES (1, $2::text, CASE WHEN $10 = '' THEN $3 ELSE $10 END, CASE WHEN $10 = '' THEN $9 ELSE $11 END),
				(2, $10::text, $3, $9)) AS a (n, from_status, to_status, detail)
		WHERE a.n = 1 OR $10 <> ''
		ORDER BY a.n)
	SELECT ` + metaColumns + ` FROM moved`

// endJobSQL deletes a job ($1) that still waits for its time
// (Change.EndJob on SQLite). A scheduled job is no one's yet: River's
// scheduler and fetch take it only after making it available.
const endJobSQL = `DELETE FROM river_job WHERE id = $1 AND state = 'scheduled'`

// stepTries bounds Step's attempts when the transaction keeps moving
// between its compare-and-set and the read explaining why it missed.
const stepTries = 3

// Step moves a transaction as Advance does, recording c: one statement
// committed on its own on Postgres, an UPDATE ... RETURNING and the audit
// entry in one write transaction on SQLite. Nothing is read or decrypted
// first; a missed compare-and-set costs one read to say why.
func (d *DB) Step(ctx context.Context, id string, from, to Status, detail string, c Change) (Transaction, error) {
	if !CanAdvance(from, to) {
		return Transaction{}, fmt.Errorf("%w: transaction cannot go from %q to %q", ErrInvalid, from, to)
	}
	if c.Via != "" && (c.Via == from || c.Via == to || !CanAdvance(from, c.Via) || !CanAdvance(c.Via, to)) {
		return Transaction{}, fmt.Errorf("%w: transaction cannot go from %q to %q by way of %q", ErrInvalid, from, to, c.Via)
	}
	if err := c.check(); err != nil {
		return Transaction{}, fmt.Errorf("step %s: %w", id, err)
	}
	if !validID(id) {
		return Transaction{}, fmt.Errorf("step %q: %w", id, ErrNotFound)
	}
	for range stepTries {
		t, err := d.step(ctx, id, from, to, truncate(detail, maxDetailLen), c)
		if err == nil {
			return t, nil
		}
		if !sqlstore.NoRows(err) {
			if d.b.UniqueViolation(err) {
				return Transaction{}, fmt.Errorf("step %s: %w: registration id %q belongs to another transaction", id, ErrInvalid, c.RegistrationID)
			}
			return Transaction{}, fmt.Errorf("step %s: %w", id, err)
		}
		// Nothing matched: say why.
		var status Status
		var rid string
		err = d.b.Reader().QueryRow(ctx, `SELECT status, registration_id FROM packet_transactions WHERE id = $1`, id).Scan(&status, &rid)
		switch {
		case sqlstore.NoRows(err):
			return Transaction{}, fmt.Errorf("step %s: %w", id, ErrNotFound)
		case err != nil:
			return Transaction{}, fmt.Errorf("step %s: %w", id, err)
		case status != from:
			return Transaction{}, &ConflictError{ID: id, Expected: from, Actual: status}
		case c.RegistrationID != "" && rid != "" && rid != c.RegistrationID:
			return Transaction{}, fmt.Errorf("step %s: %w: the registration id is set once", id, ErrInvalid)
		}
		// Back at from since the compare-and-set (it can only be a step
		// that stays where it is): try again.
	}
	return Transaction{}, fmt.Errorf("step %s: %w: it kept changing", id, ErrConflict)
}

// step runs Step's statements once; sql.ErrNoRows when the compare-and-set
// matched nothing.
func (d *DB) step(ctx context.Context, id string, from, to Status, detail string, c Change) (Transaction, error) {
	now := d.clock()
	args := []any{id, string(from), string(to), c.RegistrationID, c.Failure != "", c.Succeeded,
		truncate(c.Failure, maxLastErrorLen), d.b.TimeArg(now)}
	viaDetail := truncate(c.ViaDetail, maxDetailLen)
	if d.b.Dialect() != sqlstore.SQLite {
		return scanMeta(d.b.Writer().QueryRow(ctx, stepPostgresSQL, append(args, detail, string(c.Via), viaDetail, c.EndJob)...))
	}
	t, err := d.b.Begin(ctx)
	if err != nil {
		return Transaction{}, err
	}
	defer t.Rollback(ctx)
	next, err := scanMeta(t.QueryRow(ctx, stepSQL, args...))
	if err != nil {
		return Transaction{}, err
	}
	if c.Via != "" {
		if err := d.appendAudit(ctx, t, id, now, from, c.Via, viaDetail); err != nil {
			return Transaction{}, err
		}
		from = c.Via
	}
	if err := d.appendAudit(ctx, t, id, now, from, to, detail); err != nil {
		return Transaction{}, err
	}
	if c.EndJob && next.JobID != 0 {
		if _, err := t.Exec(ctx, endJobSQL, next.JobID); err != nil {
			return Transaction{}, fmt.Errorf("end job: %w", err)
		}
	}
	if err := t.Commit(ctx); err != nil {
		return Transaction{}, fmt.Errorf("commit: %w", err)
	}
	return next, nil
}

// lockForUpdate reads a transaction inside t, locking its row where the
// database can (SQLite's write transaction already excludes other writers).
func (d *DB) lockForUpdate(ctx context.Context, t sqlstore.Tx, id string) (Transaction, error) {
	if !validID(id) {
		return Transaction{}, ErrNotFound
	}
	s, err := scanTx(t.QueryRow(ctx, `SELECT `+txColumns+` FROM packet_transactions WHERE id = $1`+d.b.LockRow(), id))
	if sqlstore.NoRows(err) {
		return Transaction{}, ErrNotFound
	}
	if err != nil {
		return Transaction{}, err
	}
	return d.open(s)
}

// checkMutation allows a step to record only the fields that steps own; the
// rest was fixed at Submit, and a registration id, once chosen, is what the
// packet was (or is being) sent under.
func checkMutation(before, after Transaction) error {
	var bad []string
	if after.RegistrationID != before.RegistrationID && before.RegistrationID != "" {
		bad = append(bad, "RegistrationID (set once)")
	}
	if len(after.RegistrationID) > maxIDFieldLen || len(after.TrackingID) > maxIDFieldLen {
		bad = append(bad, fmt.Sprintf("RegistrationID or TrackingID longer than %d bytes", maxIDFieldLen))
	}
	if after.Attempts < 0 {
		bad = append(bad, "Attempts (negative)")
	}
	fixed := []struct {
		name string
		same bool
	}{
		{"ID", after.ID == before.ID},
		{"Process", after.Process == before.Process},
		{"Status (use to)", after.Status == before.Status},
		{"EventID", after.EventID == before.EventID},
		{"ActionID", after.ActionID == before.ActionID},
		{"RegistrationNumber", after.RegistrationNumber == before.RegistrationNumber},
		{"Token", after.Token == before.Token},
		{"Payload", bytes.Equal(after.Payload, before.Payload)},
		{"JobID", after.JobID == before.JobID},
		{"CreatedAt", after.CreatedAt.Equal(before.CreatedAt)},
		{"UpdatedAt", after.UpdatedAt.Equal(before.UpdatedAt)},
		{"PurgedAt", after.PurgedAt.Equal(before.PurgedAt)},
	}
	for _, f := range fixed {
		if !f.same {
			bad = append(bad, f.name)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: mutation may not change %s", ErrInvalid, strings.Join(bad, ", "))
	}
	return nil
}

// Cancel withdraws an unfinished transaction and cancels its job.
func (d *DB) Cancel(ctx context.Context, id, detail string) (Transaction, error) {
	t, err := d.b.Begin(ctx)
	if err != nil {
		return Transaction{}, fmt.Errorf("cancel %s: %w", id, err)
	}
	defer t.Rollback(ctx)
	cur, err := d.lockForUpdate(ctx, t, id)
	if err != nil {
		return Transaction{}, fmt.Errorf("cancel %s: %w", id, err)
	}
	if cur.Status == StatusCancelled {
		return cur, nil
	}
	if cur.Status.Finished() {
		return Transaction{}, &ConflictError{ID: id, Actual: cur.Status}
	}
	now := d.clock()
	if _, err := t.Exec(ctx, `UPDATE packet_transactions SET status = $2, updated_at = $3 WHERE id = $1`,
		id, string(StatusCancelled), d.b.TimeArg(now)); err != nil {
		return Transaction{}, fmt.Errorf("cancel %s: %w", id, err)
	}
	if err := d.appendAudit(ctx, t, id, now, cur.Status, StatusCancelled, detail); err != nil {
		return Transaction{}, fmt.Errorf("cancel %s: %w", id, err)
	}
	// A running worker learns of it from River (its context is cancelled)
	// or, at the latest, from its next Advance failing with ErrConflict.
	if cur.JobID != 0 {
		if err := t.CancelJob(ctx, cur.JobID); err != nil {
			return Transaction{}, fmt.Errorf("cancel %s: job %d: %w", id, cur.JobID, err)
		}
	}
	if err := t.Commit(ctx); err != nil {
		return Transaction{}, fmt.Errorf("cancel %s: commit: %w", id, err)
	}
	cur.Status, cur.UpdatedAt = StatusCancelled, now
	return cur, nil
}

// History returns the audit trail of a transaction, oldest first.
func (d *DB) History(ctx context.Context, id string) ([]AuditEntry, error) {
	if !validID(id) {
		return nil, fmt.Errorf("history %q: %w", id, ErrNotFound)
	}
	rs, err := d.b.Reader().Query(ctx, `SELECT seq, transaction_id, at, from_status, to_status, detail
		FROM packet_audit WHERE transaction_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", id, err)
	}
	defer rs.Close()
	var out []AuditEntry
	for rs.Next() {
		var e AuditEntry
		if err := rs.Scan(&e.Seq, &e.TransactionID, sqlstore.ScanTime(&e.At), &e.From, &e.To, &e.Detail); err != nil {
			return nil, fmt.Errorf("history %s: %w", id, err)
		}
		out = append(out, e)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("history %s: %w", id, err)
	}
	// Submit writes the first entry with the transaction, so no entries
	// means no transaction.
	if len(out) == 0 {
		return nil, fmt.Errorf("history %s: %w", id, ErrNotFound)
	}
	return out, nil
}

// finishedStatuses is the SQL list of Status.Finished.
const finishedStatuses = `('confirmed', 'rejected', 'failed', 'cancelled')`

// Purge wipes tokens and payloads of finished transactions last changed
// before cutoff, a batch per database transaction.
func (d *DB) Purge(ctx context.Context, cutoff time.Time) (int, error) {
	total := 0
	for {
		n, err := d.purgeBatch(ctx, cutoff)
		total += n
		if err != nil {
			return total, fmt.Errorf("purge: %w", err)
		}
		if n < batchSize {
			return total, nil
		}
	}
}

func (d *DB) purgeBatch(ctx context.Context, cutoff time.Time) (int, error) {
	t, err := d.b.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer t.Rollback(ctx)
	rs, err := t.Query(ctx, `SELECT id, status FROM packet_transactions
		WHERE status IN `+finishedStatuses+` AND updated_at < $1 AND purged_at IS NULL
		ORDER BY updated_at LIMIT $2`+d.b.LockRow(), d.b.TimeArg(cutoff.UTC()), batchSize)
	if err != nil {
		return 0, err
	}
	type victim struct {
		id     string
		status Status
	}
	var victims []victim
	for rs.Next() {
		var v victim
		if err := rs.Scan(&v.id, &v.status); err != nil {
			rs.Close()
			return 0, err
		}
		victims = append(victims, v)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return 0, err
	}
	now := d.clock()
	for _, v := range victims {
		if _, err := t.Exec(ctx, `UPDATE packet_transactions SET token_enc = '', payload_enc = '', purged_at = $2 WHERE id = $1`,
			v.id, d.b.TimeArg(now)); err != nil {
			return 0, err
		}
		if err := d.appendAudit(ctx, t, v.id, now, v.status, v.status, "retention: token and payload purged"); err != nil {
			return 0, err
		}
	}
	if err := t.Commit(ctx); err != nil {
		return 0, err
	}
	return len(victims), nil
}

// Rewrap re-seals with the current key whatever an older key sealed.
func (d *DB) Rewrap(ctx context.Context) (int, error) {
	total, after := 0, ""
	for {
		n, last, err := d.rewrapBatch(ctx, after)
		total += n
		if err != nil {
			return total, fmt.Errorf("rewrap: %w", err)
		}
		if last == "" {
			return total, nil
		}
		after = last
	}
}

// rewrapBatch re-seals up to batchSize rows with ids after after, in id
// order, and returns how many and the last id it looked at ("" when none
// was left): each batch starts where the last one ended rather than
// reading the rows already done again.
func (d *DB) rewrapBatch(ctx context.Context, after string) (int, string, error) {
	t, err := d.b.Begin(ctx)
	if err != nil {
		return 0, "", err
	}
	defer t.Rollback(ctx)
	// substr rather than LIKE: key ids may hold '_', a LIKE wildcard.
	cur := d.keys.Current() + ":"
	rs, err := t.Query(ctx, `SELECT id, token_enc, payload_enc FROM packet_transactions
		WHERE id > $4 AND ((token_enc <> '' AND substr(token_enc, 1, $2) <> $1) OR (payload_enc <> '' AND substr(payload_enc, 1, $2) <> $1))
		ORDER BY id LIMIT $3`+d.b.LockRow(), cur, len(cur), batchSize, after)
	if err != nil {
		return 0, "", err
	}
	type sealed struct{ id, token, payload string }
	var todo []sealed
	for rs.Next() {
		var s sealed
		if err := rs.Scan(&s.id, &s.token, &s.payload); err != nil {
			rs.Close()
			return 0, "", err
		}
		todo = append(todo, s)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return 0, "", err
	}
	if len(todo) == 0 {
		return 0, "", nil
	}
	for _, s := range todo {
		token, err := d.reseal(s.token, aad("token", s.id))
		if err != nil {
			return 0, "", fmt.Errorf("transaction %s token: %w", s.id, err)
		}
		payload, err := d.reseal(s.payload, aad("payload", s.id))
		if err != nil {
			return 0, "", fmt.Errorf("transaction %s payload: %w", s.id, err)
		}
		if _, err := t.Exec(ctx, `UPDATE packet_transactions SET token_enc = $2, payload_enc = $3 WHERE id = $1`,
			s.id, token, payload); err != nil {
			return 0, "", err
		}
	}
	if err := t.Commit(ctx); err != nil {
		return 0, "", err
	}
	return len(todo), todo[len(todo)-1].id, nil
}

// reseal opens a value and seals it with the current key, unless it is
// already sealed with it.
func (d *DB) reseal(sealed, aad string) (string, error) {
	if sealed == "" || sealedWith(sealed) == d.keys.Current() {
		return sealed, nil
	}
	plain, err := d.keys.open(sealed, aad)
	if err != nil {
		return "", err
	}
	return d.keys.seal(plain, aad)
}

// ridSequenceRange is how many numbers the RID sequence runs through
// before wrapping: the five digits of the sequence part of a 29-digit RID.
// Migration 0002 fixes the same range in the database.
const ridSequenceRange = 100000

// NextRIDSequence draws the next number of the shared RID sequence: from
// the Postgres sequence packet_rid_seq (outside any transaction, so no two
// replicas ever get the same number before it wraps), or on SQLite from a
// counter row in a write transaction of its own.
func (d *DB) NextRIDSequence(ctx context.Context) (int64, error) {
	var n int64
	if d.b.Dialect() != sqlstore.SQLite {
		if err := d.b.Writer().QueryRow(ctx, `SELECT nextval('packet_rid_seq')`).Scan(&n); err != nil {
			return 0, fmt.Errorf("rid sequence: %w", err)
		}
		return n, nil
	}
	t, err := d.b.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("rid sequence: %w", err)
	}
	defer t.Rollback(ctx)
	err = t.QueryRow(ctx, ridCounterSQL, ridSequenceRange).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("rid sequence: %w", err)
	}
	if err := t.Commit(ctx); err != nil {
		return 0, fmt.Errorf("rid sequence: commit: %w", err)
	}
	return n, nil
}

// Counts reads the transactions by step and the packet queue's jobs by
// state, a GROUP BY each. The jobs' is a range scan of River's
// river_job_prioritized_fetching_index (state, queue) on both databases;
// the transactions' reads the covering index packet_transactions_status
// whole, so its cost grows with the table (retention wipes columns, not
// rows).
func (d *DB) Counts(ctx context.Context) (Counts, error) {
	c := Counts{Transactions: make(map[Status]int64, len(statuses)), Jobs: make(map[string]int64, len(JobStates))}
	for _, s := range statuses {
		c.Transactions[s] = 0
	}
	for _, s := range JobStates {
		c.Jobs[s] = 0
	}
	err := d.groupCount(ctx, `SELECT status, count(*) FROM packet_transactions GROUP BY status`, nil,
		func(k string, n int64) { c.Transactions[Status(k)] = n })
	if err != nil {
		return Counts{}, fmt.Errorf("count transactions: %w", err)
	}
	// The states are literals, not arguments, so both planners see them
	// and use the index; JobStates holds only plain lowercase words.
	err = d.groupCount(ctx, `SELECT state, count(*) FROM river_job
		WHERE state IN ('`+strings.Join(JobStates, "', '")+`') AND queue = $1 GROUP BY state`, []any{QueueName},
		func(k string, n int64) { c.Jobs[k] = n })
	if err != nil {
		return Counts{}, fmt.Errorf("count jobs: %w", err)
	}
	return c, nil
}

// groupCount runs a "SELECT key, count(*) ... GROUP BY key" and hands each
// row to add.
func (d *DB) groupCount(ctx context.Context, q string, args []any, add func(key string, n int64)) error {
	rs, err := d.b.Reader().Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		var (
			k string
			n int64
		)
		if err := rs.Scan(&k, &n); err != nil {
			return err
		}
		add(k, n)
	}
	return rs.Err()
}

// NewQueue builds the River client that works this store's jobs.
func (d *DB) NewQueue(workers *river.Workers, cfg river.Config) (Queue, error) {
	if workers == nil {
		return nil, fmt.Errorf("%w: NewQueue needs workers", ErrInvalid)
	}
	cfg.Workers = workers
	if len(cfg.Queues) == 0 {
		cfg.Queues = map[string]river.QueueConfig{QueueName: {MaxWorkers: 10}}
	}
	// Logger and MaxAttempts default to the store's (sqlOptions).
	q, err := d.b.NewQueue(&cfg)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	return q, nil
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
