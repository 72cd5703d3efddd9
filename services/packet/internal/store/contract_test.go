package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/sqlstore/sqlstoretest"
)

// The contract: every test below runs against SQLite and PostgreSQL, each
// subtest on a fresh database (a file in t.TempDir, a schema of its own).

// harness opens stores on one fresh database, and reopens that same
// database with other options (key rotation, migrations).
type harness struct {
	name string
	// tryOpen opens a store on the harness's database.
	tryOpen func(ctx context.Context, opts Options) (*DB, error)
	// sqlitePath is the database file of a SQLite harness.
	sqlitePath string
}

// open opens a store that is closed when the test ends.
func (h harness) open(t *testing.T, opts Options) *DB {
	t.Helper()
	d, err := h.tryOpen(context.Background(), opts)
	if err != nil {
		t.Fatalf("open %s: %v", h.name, err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func sqliteHarness(t *testing.T) harness {
	path := filepath.Join(t.TempDir(), "packet.db")
	return harness{
		name:       "sqlite",
		sqlitePath: path,
		tryOpen: func(ctx context.Context, opts Options) (*DB, error) {
			return OpenSQLite(ctx, path, opts)
		},
	}
}

// postgresHarness opens stores on a schema of its own on the test server
// (sqlstoretest: skipped without a server, failed under CI=true).
func postgresHarness(t *testing.T) harness {
	t.Helper()
	u := sqlstoretest.PostgresURL(t, "packet_store")
	return harness{
		name: "postgres",
		tryOpen: func(ctx context.Context, opts Options) (*DB, error) {
			return OpenPostgres(ctx, u, opts)
		},
	}
}

// fakeClock is a settable clock, so tests control created and updated times.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func testKey(t testing.TB, id string) string {
	t.Helper()
	k := make([]byte, keySize)
	_, _ = rand.Read(k)
	return id + ":" + base64.StdEncoding.EncodeToString(k)
}

func mustKeyring(t testing.TB, spec string) *Keyring {
	t.Helper()
	k, err := ParseKeyring(spec)
	if err != nil {
		t.Fatalf("ParseKeyring: %v", err)
	}
	return k
}

// env is one store under test with what the tests need around it.
type env struct {
	h     harness
	db    *DB
	clock *fakeClock
	opts  Options
}

func newEnv(t *testing.T, h harness) *env {
	t.Helper()
	clock := newClock()
	opts := Options{Keyring: mustKeyring(t, testKey(t, "k1")), Now: clock.Now}
	return &env{h: h, db: h.open(t, opts), clock: clock, opts: opts}
}

// submission is a birth registration as the service would hand it over.
func submission(event, action string) Submission {
	return Submission{
		Process: ProcessNew, EventID: event, ActionID: action, RegistrationNumber: "EE008OLG4317", TrackingID: "BXZK9QF",
		Token:   config.Secret("eyJhbGciOiJSUzI1NiJ9.secret-record-token-" + event + action),
		Payload: PersonalData(`{"fullName":"Infant Middle Doe","dateOfBirth":"2025-09-01"}`),
	}
}

func (e *env) submit(t *testing.T, s Submission) Transaction {
	t.Helper()
	tx, created, err := e.db.Submit(context.Background(), s)
	if err != nil || !created {
		t.Fatalf("Submit() = created %v, %v; want a new transaction", created, err)
	}
	return tx
}

// count runs a SELECT count(*) ... on the raw database.
func (e *env) count(t *testing.T, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := e.db.b.Reader().QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// rawString reads one text column of the raw database.
func (e *env) rawString(t *testing.T, q string, args ...any) string {
	t.Helper()
	var s string
	if err := e.db.b.Reader().QueryRow(context.Background(), q, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}

// rawExec runs a statement in a write transaction and commits it.
func (e *env) rawExec(q string, args ...any) error {
	ctx := context.Background()
	t, err := e.db.b.Begin(ctx)
	if err != nil {
		return err
	}
	defer t.Rollback(ctx)
	if _, err := t.Exec(ctx, q, args...); err != nil {
		return err
	}
	return t.Commit(ctx)
}

func TestContract(t *testing.T) {
	t.Parallel()
	harnesses := map[string]func(*testing.T) harness{"sqlite": sqliteHarness, "postgres": postgresHarness}
	for _, name := range []string{"sqlite", "postgres"} {
		newHarness := harnesses[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, c := range contractCases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.run(t, newHarness(t))
				})
			}
		})
	}
}

var contractCases = []struct {
	name string
	run  func(t *testing.T, h harness)
}{
	{"SubmitAndGet", testSubmitAndGet},
	{"IdempotentResubmit", testIdempotentResubmit},
	{"ConcurrentDuplicates", testConcurrentDuplicates},
	{"NewActionIsNewTransaction", testNewActionIsNewTransaction},
	{"IDs", testIDs},
	{"IDPrefix", testIDPrefix},
	{"SubmitValidation", testSubmitValidation},
	{"Advance", testAdvance},
	{"AdvanceRace", testAdvanceRace},
	{"AuditTrail", testAuditTrail},
	{"NoPlaintextAtRest", testNoPlaintextAtRest},
	{"KeyRotation", testKeyRotation},
	{"Purge", testPurge},
	{"List", testList},
	{"JobWithSubmit", testJobWithSubmit},
	{"Cancel", testCancel},
	{"Queue", testQueue},
	{"Migrations", testMigrations},
	{"RIDSequence", testRIDSequence},
	{"Counts", testCounts},
	{"Step", testStep},
	{"StepRace", testStepRace},
	{"StepVia", testStepVia},
	{"StepEndsJob", testStepEndsJob},
	{"ReadsWithoutPayload", testReadsWithoutPayload},
	{"SubmitChoosesRID", testSubmitChoosesRID},
	{"JobScheduledAt", testJobScheduledAt},
	{"IndexUse", testIndexUse},
}

func testSubmitAndGet(t *testing.T, h harness) {
	e := newEnv(t, h)
	ctx := context.Background()
	s := submission("ev-1", "act-1")
	tx := e.submit(t, s)
	if tx.Status != StatusReceived || tx.Process != ProcessNew || tx.JobID == 0 || !tx.CreatedAt.Equal(e.clock.Now()) {
		t.Errorf("Submit() = %+v", tx)
	}
	got, err := e.db.Get(ctx, tx.ID)
	if err != nil {
		t.Fatalf("Get(%s): %v", tx.ID, err)
	}
	if !sameTx(got, tx) {
		t.Errorf("Get(%s) =\n%+v\nwant\n%+v", tx.ID, got, tx)
	}
	if got.Token.Value() != s.Token.Value() || !bytes.Equal(got.Payload, s.Payload) {
		t.Errorf("Get(%s) did not return the token and payload submitted", tx.ID)
	}
	byKey, err := e.db.GetByIdempotencyKey(ctx, "ev-1", "act-1")
	if err != nil || byKey.ID != tx.ID {
		t.Errorf("GetByIdempotencyKey() = %s, %v; want %s", byKey.ID, err, tx.ID)
	}
	if _, err := e.db.GetByIdempotencyKey(ctx, "ev-1", "other"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetByIdempotencyKey(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := e.db.GetByIdempotencyKey(ctx, "ev-1", ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("GetByIdempotencyKey(no action) = %v, want ErrInvalid", err)
	}
	for _, id := range []string{"100019999999999", "nonsense", ""} {
		if _, err := e.db.Get(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", id, err)
		}
	}
	hist, err := e.db.History(ctx, tx.ID)
	if err != nil || len(hist) != 1 || hist[0].From != "" || hist[0].To != StatusReceived || hist[0].TransactionID != tx.ID {
		t.Errorf("History() = %+v, %v; want one entry received", hist, err)
	}
	if e.db.Dialect() != h.name {
		t.Errorf("Dialect() = %q, want %q", e.db.Dialect(), h.name)
	}
}

// sameTx compares transactions field by field (times with Equal).
func sameTx(a, b Transaction) bool {
	return a.ID == b.ID && a.Process == b.Process && a.Status == b.Status && a.EventID == b.EventID &&
		a.ActionID == b.ActionID && a.RegistrationNumber == b.RegistrationNumber && a.RegistrationID == b.RegistrationID &&
		a.TrackingID == b.TrackingID && a.Token == b.Token && bytes.Equal(a.Payload, b.Payload) && a.JobID == b.JobID &&
		a.Attempts == b.Attempts && a.LastError == b.LastError && a.CreatedAt.Equal(b.CreatedAt) &&
		a.UpdatedAt.Equal(b.UpdatedAt) && a.PurgedAt.Equal(b.PurgedAt)
}

func testIdempotentResubmit(t *testing.T, h harness) {
	e := newEnv(t, h)
	first := e.submit(t, submission("ev-1", "act-1"))
	e.clock.Add(time.Minute)
	again, created, err := e.db.Submit(context.Background(), submission("ev-1", "act-1"))
	if err != nil || created || again.ID != first.ID || !again.CreatedAt.Equal(first.CreatedAt) {
		t.Errorf("Submit(again) = %s created %v, %v; want %s created false", again.ID, created, err, first.ID)
	}
	if n := e.count(t, `SELECT count(*) FROM packet_transactions`); n != 1 {
		t.Errorf("%d transactions, want 1", n)
	}
	if n := e.count(t, `SELECT count(*) FROM river_job`); n != 1 {
		t.Errorf("%d jobs, want 1", n)
	}
}

func testConcurrentDuplicates(t *testing.T, h harness) {
	e := newEnv(t, h)
	const n = 20
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ids     = map[string]int{}
		created int
	)
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			tx, c, err := e.db.Submit(context.Background(), submission("ev-dup", "act-dup"))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("concurrent Submit: %v", err)
				return
			}
			ids[tx.ID]++
			if c {
				created++
			}
		})
	}
	close(start)
	wg.Wait()
	if len(ids) != 1 || created != 1 {
		t.Errorf("%d concurrent submits gave ids %v and %d creations; want one id, one creation", n, ids, created)
	}
	if c := e.count(t, `SELECT count(*) FROM packet_transactions`); c != 1 {
		t.Errorf("%d transactions, want 1", c)
	}
	if c := e.count(t, `SELECT count(*) FROM river_job`); c != 1 {
		t.Errorf("%d jobs, want 1", c)
	}
	if c := e.count(t, `SELECT count(*) FROM packet_audit`); c != 1 {
		t.Errorf("%d audit entries, want 1", c)
	}
}

func testNewActionIsNewTransaction(t *testing.T, h harness) {
	e := newEnv(t, h)
	ctx := context.Background()
	reg := e.submit(t, submission("ev-1", "act-register"))
	corr := submission("ev-1", "act-correction")
	corr.Process = ProcessUpdate
	correction := e.submit(t, corr) // same registration number, later action
	if correction.ID == reg.ID || correction.RegistrationNumber != reg.RegistrationNumber {
		t.Errorf("correction = %s (%s), registration = %s (%s); want two transactions of one number",
			correction.ID, correction.RegistrationNumber, reg.ID, reg.RegistrationNumber)
	}
	// Without an action there is no idempotency key: each submit is new.
	noKey := submission("ev-2", "")
	a := e.submit(t, noKey)
	b := e.submit(t, noKey)
	if a.ID == b.ID {
		t.Errorf("two keyless submits share id %s", a.ID)
	}
	if n := e.count(t, `SELECT count(*) FROM river_job`); n != 4 {
		t.Errorf("%d jobs, want 4", n)
	}
	if _, err := e.db.GetByIdempotencyKey(ctx, "ev-1", "act-register"); err != nil {
		t.Errorf("GetByIdempotencyKey(registration) = %v", err)
	}
}

func testIDs(t *testing.T, h harness) {
	e := newEnv(t, h)
	const n = 1000
	const workers = 8
	ids := make(chan string, n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				// A keyless submission: no idempotency, every one is new.
				tx, _, err := e.db.Submit(context.Background(), submission(fmt.Sprintf("ev-%d", i), ""))
				if err != nil {
					t.Errorf("Submit #%d: %v", i, err)
					return
				}
				ids <- tx.ID
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if len(id) != 15 || !strings.HasPrefix(id, "10001") || !validID(id) {
			t.Errorf("id %q: want 15 digits starting 10001", id)
		}
		if seen[id] {
			t.Errorf("id %s handed out twice", id)
		}
		seen[id] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct ids, want %d", len(seen), n)
	}
	// The database checks the shape too, whatever the code does.
	if err := e.rawExec(`INSERT INTO packet_transactions (id, process, status, created_at, updated_at)
		VALUES ($1, 'CRVS_NEW', 'received', $2, $2)`, "10001abc", e.db.b.TimeArg(time.Now())); err == nil {
		t.Error("database accepted a malformed transaction id")
	}
}

func testIDPrefix(t *testing.T, h harness) {
	clock := newClock()
	opts := Options{IDPrefix: "42", Keyring: mustKeyring(t, testKey(t, "k1")), Now: clock.Now}
	d := h.open(t, opts)
	tx, _, err := d.Submit(context.Background(), submission("ev", "act"))
	if err != nil || tx.ID != "420000000000001" {
		t.Errorf("Submit() id = %q, %v; want 420000000000001", tx.ID, err)
	}
	for _, bad := range []string{"abc", "1234567890", "12 3", "-1"} {
		opts.IDPrefix = bad
		_, err := h.tryOpen(context.Background(), opts)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "TRANSACTION_ID_PREFIX") {
			t.Errorf("Open(IDPrefix %q) = %v, want a TRANSACTION_ID_PREFIX error", bad, err)
		}
	}
}

func testSubmitValidation(t *testing.T, h harness) {
	e := newEnv(t, h)
	tests := []struct {
		name   string
		modify func(*Submission)
	}{
		{"unknown process", func(s *Submission) { s.Process = "CRVS_LOST" }},
		{"action without event", func(s *Submission) { s.EventID = "" }},
		{"empty payload", func(s *Submission) { s.Payload = nil }},
		{"huge event id", func(s *Submission) { s.EventID = strings.Repeat("e", 500) }},
	}
	for _, tt := range tests {
		s := submission("ev", "act")
		tt.modify(&s)
		if _, _, err := e.db.Submit(context.Background(), s); !errors.Is(err, ErrInvalid) {
			t.Errorf("Submit(%s) = %v, want ErrInvalid", tt.name, err)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM packet_transactions`); n != 0 {
		t.Errorf("%d transactions after invalid submits, want 0", n)
	}
}

func testAdvance(t *testing.T, h harness) {
	e := newEnv(t, h)
	ctx := context.Background()
	tx := e.submit(t, submission("ev", "act"))
	e.clock.Add(time.Second)

	// Record the RID within the step, then move on.
	got, err := e.db.Advance(ctx, tx.ID, StatusReceived, StatusReceived, "rid chosen", func(t *Transaction) {
		t.RegistrationID = "10001100010000120260301090000"
		t.Attempts++
	})
	if err != nil || got.RegistrationID == "" || got.Attempts != 1 || !got.UpdatedAt.Equal(e.clock.Now()) {
		t.Fatalf("Advance(record RID) = %+v, %v", got, err)
	}
	got, err = e.db.Advance(ctx, tx.ID, StatusReceived, StatusPacketCreated, "packet created", func(t *Transaction) {
		t.Attempts = 0
		t.LastError = ""
	})
	if err != nil || got.Status != StatusPacketCreated {
		t.Fatalf("Advance(received→packet_created) = %+v, %v", got, err)
	}
	stored, _ := e.db.Get(ctx, tx.ID)
	if !sameTx(stored, got) {
		t.Errorf("Get() after Advance =\n%+v\nwant\n%+v", stored, got)
	}

	// A stale worker: still believes the transaction is received.
	_, err = e.db.Advance(ctx, tx.ID, StatusReceived, StatusPacketCreated, "again", nil)
	var conflict *ConflictError
	if !errors.As(err, &conflict) || !errors.Is(err, ErrConflict) || conflict.Actual != StatusPacketCreated {
		t.Errorf("Advance(stale) = %v, want ConflictError with actual packet_created", err)
	}

	tests := []struct {
		name     string
		from, to Status
		mutate   Mutation
		want     error
	}{
		{"backwards", StatusPacketCreated, StatusReceived, nil, ErrInvalid},
		{"unknown status", StatusPacketCreated, "lost", nil, ErrInvalid},
		{"change token", StatusPacketCreated, StatusPacketCreated, func(t *Transaction) { t.Token = "other" }, ErrInvalid},
		{"change payload", StatusPacketCreated, StatusPacketCreated, func(t *Transaction) { t.Payload[0] = 'X' }, ErrInvalid},
		{"change RID", StatusPacketCreated, StatusPacketCreated, func(t *Transaction) { t.RegistrationID = "2" }, ErrInvalid},
		{"change status in mutate", StatusPacketCreated, StatusPacketCreated, func(t *Transaction) { t.Status = StatusConfirmed }, ErrInvalid},
		{"negative attempts", StatusPacketCreated, StatusPacketCreated, func(t *Transaction) { t.Attempts = -1 }, ErrInvalid},
	}
	for _, tt := range tests {
		if _, err := e.db.Advance(ctx, tx.ID, tt.from, tt.to, tt.name, tt.mutate); !errors.Is(err, tt.want) {
			t.Errorf("Advance(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := e.db.Advance(ctx, "100019999999999", StatusReceived, StatusPacketCreated, "", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("Advance(unknown id) = %v, want ErrNotFound", err)
	}
	// A refused Advance left no trace.
	if stored2, _ := e.db.Get(ctx, tx.ID); !sameTx(stored2, got) {
		t.Errorf("refused Advances changed the transaction: %+v", stored2)
	}

	// Skips along the main path are allowed; finished is final.
	if _, err := e.db.Advance(ctx, tx.ID, StatusPacketCreated, StatusConfirmed, "death: no credential", nil); err != nil {
		t.Fatalf("Advance(packet_created→confirmed) = %v", err)
	}
	if _, err := e.db.Advance(ctx, tx.ID, StatusConfirmed, StatusConfirmed, "", nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Advance(finished) = %v, want ErrInvalid", err)
	}

	// One RID, one transaction.
	other := e.submit(t, submission("ev", "act-2"))
	if _, err := e.db.Advance(ctx, other.ID, StatusReceived, StatusReceived, "", func(t *Transaction) {
		t.RegistrationID = got.RegistrationID
	}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Advance(duplicate RID) = %v, want ErrInvalid", err)
	}
	// Long last errors are cut, not refused.
	long, err := e.db.Advance(ctx, other.ID, StatusReceived, StatusReceived, "", func(t *Transaction) {
		t.LastError = strings.Repeat("é", maxLastErrorLen)
	})
	if err != nil || len(long.LastError) > maxLastErrorLen {
		t.Errorf("Advance(long error) = %d bytes, %v", len(long.LastError), err)
	}
}

func testAdvanceRace(t *testing.T, h harness) {
	e := newEnv(t, h)
	tx := e.submit(t, submission("ev", "act"))
	const n = 10
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		won, lost int
	)
	for i := range n {
		wg.Go(func() {
			_, err := e.db.Advance(context.Background(), tx.ID, StatusReceived, StatusPacketCreated, fmt.Sprintf("worker %d", i), nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, ErrConflict):
				lost++
			default:
				t.Errorf("Advance: %v", err)
			}
		})
	}
	wg.Wait()
	if won != 1 || lost != n-1 {
		t.Errorf("%d workers won and %d lost, want 1 and %d", won, lost, n-1)
	}
	if c := e.count(t, `SELECT count(*) FROM packet_audit WHERE to_status = 'packet_created'`); c != 1 {
		t.Errorf("%d audit entries for packet_created, want 1", c)
	}
}

func testAuditTrail(t *testing.T, h harness) {
	e := newEnv(t, h)
	ctx := context.Background()
	tx := e.submit(t, submission("ev", "act"))
	steps := []Status{StatusPacketCreated, StatusProcessingStarted, StatusCredentialReceived, StatusConfirmed}
	from := StatusReceived
	for _, to := range steps {
		e.clock.Add(time.Second)
		if _, err := e.db.Advance(ctx, tx.ID, from, to, "to "+string(to), nil); err != nil {
			t.Fatalf("Advance(%s→%s): %v", from, to, err)
		}
		from = to
	}
	hist, err := e.db.History(ctx, tx.ID)
	if err != nil || len(hist) != len(steps)+1 {
		t.Fatalf("History() = %d entries, %v; want %d", len(hist), err, len(steps)+1)
	}
	prev := Status("")
	for i, h := range hist {
		if h.From != prev || (i > 0 && (h.To != steps[i-1] || h.Detail != "to "+string(h.To))) ||
			(i > 0 && (h.Seq <= hist[i-1].Seq || h.At.Before(hist[i-1].At))) {
			t.Errorf("History()[%d] = %+v after %+v", i, h, hist[max(i-1, 0)])
		}
		prev = h.To
	}
	// The database itself refuses to rewrite history.
	if err := e.rawExec(`UPDATE packet_audit SET detail = 'forged' WHERE transaction_id = $1`, tx.ID); err == nil ||
		!strings.Contains(err.Error(), "append-only") {
		t.Errorf("UPDATE packet_audit = %v, want append-only refusal", err)
	}
	if err := e.rawExec(`DELETE FROM packet_audit WHERE transaction_id = $1`, tx.ID); err == nil ||
		!strings.Contains(err.Error(), "append-only") {
		t.Errorf("DELETE FROM packet_audit = %v, want append-only refusal", err)
	}
	if err := e.rawExec(`DELETE FROM packet_transactions WHERE id = $1`, tx.ID); err == nil {
		t.Error("a transaction with audit entries was deleted")
	}
	if _, err := e.db.History(ctx, "100019999999999"); !errors.Is(err, ErrNotFound) {
		t.Errorf("History(unknown) = %v, want ErrNotFound", err)
	}
}

func testNoPlaintextAtRest(t *testing.T, h harness) {
	e := newEnv(t, h)
	s := submission("ev", "act")
	tx := e.submit(t, s)
	token := e.rawString(t, `SELECT token_enc FROM packet_transactions WHERE id = $1`, tx.ID)
	payload := e.rawString(t, `SELECT payload_enc FROM packet_transactions WHERE id = $1`, tx.ID)
	for name, raw := range map[string]string{"token_enc": token, "payload_enc": payload} {
		if !strings.HasPrefix(raw, "k1:") {
			t.Errorf("%s = %q, want sealed with k1", name, raw)
		}
		if strings.Contains(raw, "secret-record-token") || strings.Contains(raw, "Infant") {
			t.Errorf("%s holds plaintext: %q", name, raw)
		}
	}
	// Nothing else (audit, job args) carries them either.
	if n := e.count(t, `SELECT count(*) FROM packet_audit WHERE detail LIKE '%secret-record-token%' OR detail LIKE '%Infant%'`); n != 0 {
		t.Errorf("audit holds plaintext")
	}
	if h.name == "sqlite" {
		// The whole file, WAL included, never sees the token or a name.
		_ = e.db.Close()
		matches, _ := filepath.Glob(h.sqlitePath + "*")
		if len(matches) == 0 {
			t.Fatalf("no database files at %s", h.sqlitePath)
		}
		for _, f := range matches {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte("secret-record-token")) || bytes.Contains(b, []byte("Infant Middle Doe")) {
				t.Errorf("%s holds plaintext personal data or token", f)
			}
		}
	}
	// A sealed value moved to another row does not open there.
	if h.name == "postgres" {
		other := e.submit(t, submission("ev", "act-2"))
		if err := e.rawExec(`UPDATE packet_transactions SET token_enc = $2 WHERE id = $1`, other.ID, token); err != nil {
			t.Fatal(err)
		}
		if _, err := e.db.Get(context.Background(), other.ID); err == nil {
			t.Error("Get() opened a token copied from another transaction")
		}
	}
}

func testKeyRotation(t *testing.T, h harness) {
	ctx := context.Background()
	k1, k2 := testKey(t, "k1"), testKey(t, "k_2")
	clock := newClock()
	old := h.open(t, Options{Keyring: mustKeyring(t, k1), Now: clock.Now})
	// More than one of Rewrap's batches.
	before := make([]Transaction, batchSize+50)
	for i := range before {
		var err error
		if before[i], _, err = old.Submit(ctx, submission("ev", fmt.Sprintf("act-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	_ = old.Close()

	// New current key first, old key kept: old data reads, new data seals with k_2.
	rotated := h.open(t, Options{Keyring: mustKeyring(t, k2+","+k1), Now: clock.Now})
	e := &env{h: h, db: rotated, clock: clock}
	for _, tx := range before {
		got, err := rotated.Get(ctx, tx.ID)
		if err != nil || got.Token != tx.Token || !bytes.Equal(got.Payload, tx.Payload) {
			t.Errorf("Get(%s) after rotation = %v; want the old token and payload", tx.ID, err)
		}
	}
	fresh, _, err := rotated.Submit(ctx, submission("ev", "act-new"))
	if err != nil {
		t.Fatal(err)
	}
	if raw := e.rawString(t, `SELECT token_enc FROM packet_transactions WHERE id = $1`, fresh.ID); !strings.HasPrefix(raw, "k_2:") {
		t.Errorf("new token sealed with %q, want k_2", sealedWith(raw))
	}
	// Without the old key its data does not open, and says why.
	withoutOld := h.open(t, Options{Keyring: mustKeyring(t, k2), Now: clock.Now})
	if _, err := withoutOld.Get(ctx, before[0].ID); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Get() without the old key = %v, want ErrUnknownKey", err)
	}
	_ = withoutOld.Close()

	n, err := rotated.Rewrap(ctx)
	if err != nil || n != len(before) {
		t.Errorf("Rewrap() = %d, %v; want %d", n, err, len(before))
	}
	if c := e.count(t, `SELECT count(*) FROM packet_transactions WHERE substr(token_enc, 1, 4) <> 'k_2:' OR substr(payload_enc, 1, 4) <> 'k_2:'`); c != 0 {
		t.Errorf("%d rows not sealed with k_2 after Rewrap", c)
	}
	if n, err := rotated.Rewrap(ctx); n != 0 || err != nil {
		t.Errorf("second Rewrap() = %d, %v; want 0", n, err)
	}
	_ = rotated.Close()
	onlyNew := h.open(t, Options{Keyring: mustKeyring(t, k2), Now: clock.Now})
	for _, tx := range append(before, fresh) {
		if got, err := onlyNew.Get(ctx, tx.ID); err != nil || got.Token != tx.Token {
			t.Errorf("Get(%s) with only the new key = %v", tx.ID, err)
		}
	}
}

func testPurge(t *testing.T, h harness) {
	e := newEnv(t, h)
	ctx := context.Background()
	confirmed := e.submit(t, submission("ev", "confirmed"))
	cancelled := e.submit(t, submission("ev", "cancelled"))
	pending := e.submit(t, submission("ev", "pending"))
	if _, err := e.db.Advance(ctx, confirmed.ID, StatusReceived, StatusConfirmed, "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Cancel(ctx, cancelled.ID, "operator"); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(30 * 24 * time.Hour)
	recent := e.submit(t, submission("ev", "recent"))
	if _, err := e.db.Advance(ctx, recent.ID, StatusReceived, StatusRejected, "", nil); err != nil {
		t.Fatal(err)
	}
	cutoff := e.clock.Now().Add(-time.Hour)
	n, err := e.db.Purge(ctx, cutoff)
	if err != nil || n != 2 {
		t.Fatalf("Purge() = %d, %v; want 2", n, err)
	}
	for _, tx := range []Transaction{confirmed, cancelled} {
		got, err := e.db.Get(ctx, tx.ID)
		if err != nil || got.Token != "" || len(got.Payload) != 0 || got.PurgedAt.IsZero() ||
			got.RegistrationNumber != tx.RegistrationNumber || got.EventID != tx.EventID {
			t.Errorf("Get(%s) after Purge = %+v, %v; want ids kept, token and payload gone", tx.ID, got, err)
		}
		if raw := e.rawString(t, `SELECT token_enc || payload_enc FROM packet_transactions WHERE id = $1`, tx.ID); raw != "" {
			t.Errorf("raw sealed data left after Purge: %q", raw)
		}
		hist, _ := e.db.History(ctx, tx.ID)
		if last := hist[len(hist)-1]; len(hist) < 2 || !strings.Contains(last.Detail, "purged") || last.From != last.To {
			t.Errorf("History(%s) after Purge = %+v, want a purge entry", tx.ID, hist)
		}
	}
	for _, tx := range []Transaction{pending, recent} {
		if got, err := e.db.Get(ctx, tx.ID); err != nil || got.Token != tx.Token || !got.PurgedAt.IsZero() {
			t.Errorf("Get(%s) = %v; an unfinished or recent transaction lost its token", tx.ID, err)
		}
	}
	if n, err := e.db.Purge(ctx, cutoff); n != 0 || err != nil {
		t.Errorf("second Purge() = %d, %v; want 0", n, err)
	}
}

func testList(t *testing.T, h harness) {
	e := newEnv(t, h)
	ctx := context.Background()
	start := e.clock.Now()
	var all []Transaction // oldest first
	for i := range 7 {
		s := submission("ev", fmt.Sprintf("act-%d", i))
		if i%3 == 0 {
			s.Process = ProcessDeath
			s.RegistrationNumber = fmt.Sprintf("DRN%d", i)
		}
		tx := e.submit(t, s)
		if i%2 == 0 {
			var err error
			if tx, err = e.db.Advance(ctx, tx.ID, StatusReceived, StatusPacketCreated, "", nil); err != nil {
				t.Fatal(err)
			}
		}
		all = append(all, tx)
		if i != 3 { // two rows share a creation time: the id breaks the tie
			e.clock.Add(time.Minute)
		}
	}
	ids := func(txs []Transaction) string {
		var s []string
		for _, tx := range txs {
			s = append(s, tx.ID)
		}
		return strings.Join(s, ",")
	}
	newestFirst := func(keep func(Transaction) bool) string {
		var out []Transaction
		for i := len(all) - 1; i >= 0; i-- {
			if keep(all[i]) {
				out = append(out, all[i])
			}
		}
		return ids(out)
	}

	// Paging through everything, three at a time.
	var paged []Transaction
	f := Filter{Limit: 3}
	for pages := 0; ; pages++ {
		p, err := e.db.List(ctx, f)
		if err != nil || pages > 5 {
			t.Fatalf("List(page %d) = %v", pages, err)
		}
		for _, tx := range p.Transactions {
			if tx.Token != "" || len(tx.Payload) != 0 {
				t.Errorf("List() returned the token or payload of %s", tx.ID)
			}
		}
		paged = append(paged, p.Transactions...)
		if p.Next == "" {
			break
		}
		f.Cursor = p.Next
	}
	if got, want := ids(paged), newestFirst(func(Transaction) bool { return true }); got != want {
		t.Errorf("paged List() = %s, want %s", got, want)
	}

	tests := []struct {
		name string
		f    Filter
		keep func(Transaction) bool
	}{
		{"status", Filter{Status: StatusPacketCreated}, func(tx Transaction) bool { return tx.Status == StatusPacketCreated }},
		{"process", Filter{Process: ProcessDeath}, func(tx Transaction) bool { return tx.Process == ProcessDeath }},
		{"both", Filter{Process: ProcessDeath, Status: StatusReceived}, func(tx Transaction) bool {
			return tx.Process == ProcessDeath && tx.Status == StatusReceived
		}},
		{"registration number", Filter{RegistrationNumber: "DRN3"}, func(tx Transaction) bool { return tx.RegistrationNumber == "DRN3" }},
		{"since until", Filter{Since: start.Add(2 * time.Minute), Until: start.Add(5 * time.Minute)}, func(tx Transaction) bool {
			return !tx.CreatedAt.Before(start.Add(2*time.Minute)) && tx.CreatedAt.Before(start.Add(5*time.Minute))
		}},
	}
	for _, tt := range tests {
		p, err := e.db.List(ctx, tt.f)
		if got, want := ids(p.Transactions), newestFirst(tt.keep); err != nil || got != want || p.Next != "" {
			t.Errorf("List(%s) = %s (next %q), %v; want %s", tt.name, got, p.Next, err, want)
		}
	}
	for _, bad := range []Filter{{Cursor: "garbage"}, {Status: "lost"}, {Process: "CRVS_LOST"}, {Limit: -1}} {
		if _, err := e.db.List(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("List(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}

func testJobWithSubmit(t *testing.T, h harness) {
	e := newEnv(t, h)
	ctx := context.Background()
	tx := e.submit(t, submission("ev", "act"))
	argsSQL := `SELECT args::text FROM river_job WHERE id = $1`
	if h.name == "sqlite" {
		argsSQL = `SELECT json(args) FROM river_job WHERE id = $1`
	}
	args := e.rawString(t, argsSQL, tx.JobID)
	if !strings.Contains(args, tx.ID) || strings.Contains(args, "secret-record-token") {
		t.Errorf("job args = %s, want the transaction id and nothing secret", args)
	}
	if kind := e.rawString(t, `SELECT kind FROM river_job WHERE id = $1`, tx.JobID); kind != SubmitJobKind {
		t.Errorf("job kind = %q, want %q", kind, SubmitJobKind)
	}

	// A Submit that fails just before committing leaves nothing behind.
	e.db.beforeCommit = func(context.Context) error { return errors.New("injected failure") }
	if _, _, err := e.db.Submit(ctx, submission("ev", "act-2")); err == nil || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("Submit(failing) = %v, want the injected failure", err)
	}
	e.db.beforeCommit = nil
	for table, want := range map[string]int64{"packet_transactions": 1, "packet_audit": 1, "river_job": 1} {
		if n := e.count(t, `SELECT count(*) FROM `+table); n != want {
			t.Errorf("%d rows in %s after a rolled-back Submit, want %d", n, table, want)
		}
	}
	if _, err := e.db.GetByIdempotencyKey(ctx, "ev", "act-2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetByIdempotencyKey(rolled back) = %v, want ErrNotFound", err)
	}
	// And the key is free for the retry.
	retry := e.submit(t, submission("ev", "act-2"))
	if retry.ID == tx.ID {
		t.Errorf("retry reused id %s", tx.ID)
	}
}

func testCancel(t *testing.T, h harness) {
	e := newEnv(t, h)
	ctx := context.Background()
	tx := e.submit(t, submission("ev", "act"))
	got, err := e.db.Cancel(ctx, tx.ID, "support ticket 42")
	if err != nil || got.Status != StatusCancelled {
		t.Fatalf("Cancel() = %+v, %v", got, err)
	}
	if state := e.rawString(t, `SELECT state FROM river_job WHERE id = $1`, tx.JobID); state != "cancelled" {
		t.Errorf("job state after Cancel = %q, want cancelled", state)
	}
	if again, err := e.db.Cancel(ctx, tx.ID, "twice"); err != nil || again.Status != StatusCancelled {
		t.Errorf("Cancel(again) = %v, want a no-op", err)
	}
	if hist, _ := e.db.History(ctx, tx.ID); len(hist) != 2 || hist[1].To != StatusCancelled || hist[1].Detail != "support ticket 42" {
		t.Errorf("History() = %+v, want received then cancelled", hist)
	}
	// The key is free again: OpenCRVS may resend the record.
	resent, created, err := e.db.Submit(ctx, submission("ev", "act"))
	if err != nil || !created || resent.ID == tx.ID {
		t.Errorf("Submit(after cancel) = %s created %v, %v; want a new transaction", resent.ID, created, err)
	}
	if byKey, err := e.db.GetByIdempotencyKey(ctx, "ev", "act"); err != nil || byKey.ID != resent.ID {
		t.Errorf("GetByIdempotencyKey() = %s, %v; want the live %s", byKey.ID, err, resent.ID)
	}
	if _, err := e.db.Advance(ctx, resent.ID, StatusReceived, StatusConfirmed, "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Cancel(ctx, resent.ID, ""); !errors.Is(err, ErrConflict) {
		t.Errorf("Cancel(confirmed) = %v, want ErrConflict", err)
	}
	if _, err := e.db.Cancel(ctx, "100019999999999", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("Cancel(unknown) = %v, want ErrNotFound", err)
	}
}

// stepWorker is the smallest real worker: it takes a received transaction
// to packet_created, as the packet worker will after calling MOSIP.
type stepWorker struct {
	river.WorkerDefaults[SubmitJob]
	store Store
}

func (w *stepWorker) Work(ctx context.Context, job *river.Job[SubmitJob]) error {
	tx, err := w.store.Get(ctx, job.Args.TransactionID)
	if err != nil {
		return err
	}
	if tx.Status != StatusReceived {
		return nil // resumed after the step succeeded: nothing to redo
	}
	_, err = w.store.Advance(ctx, tx.ID, StatusReceived, StatusPacketCreated, "packet created", func(t *Transaction) { t.Attempts++ })
	return err
}

func testQueue(t *testing.T, h harness) {
	e := newEnv(t, h)
	ctx := context.Background()
	workers := river.NewWorkers()
	river.AddWorker(workers, &stepWorker{store: e.db})
	q, err := e.db.NewQueue(workers, river.Config{FetchPollInterval: 20 * time.Millisecond, FetchCooldown: 5 * time.Millisecond})
	if err != nil {
		t.Fatalf("NewQueue: %v", err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := q.Stop(stopCtx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	}()
	tx := e.submit(t, submission("ev", "act"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := e.db.Get(ctx, tx.ID)
		if err == nil && got.Status == StatusPacketCreated {
			if got.Attempts != 1 {
				t.Errorf("worked %d times, want once", got.Attempts)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("transaction still %s (%v) after 10s of a running queue", got.Status, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := e.db.NewQueue(nil, river.Config{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("NewQueue(nil) = %v, want ErrInvalid", err)
	}
}

func testMigrations(t *testing.T, h harness) {
	e := newEnv(t, h)
	_ = e.db.Close()
	// Opening again is a no-op for the schema.
	again := h.open(t, e.opts)
	re := &env{h: h, db: again}
	files, err := fs.Glob(migrations(), h.name+"/*.sql")
	if err != nil || len(files) < 2 {
		t.Fatalf("migration files %v, %v", files, err)
	}
	if n := re.count(t, `SELECT count(*) FROM packet_schema_migrations`); n != int64(len(files)) {
		t.Errorf("%d migrations recorded, want %d", n, len(files))
	}
	if h.name == "postgres" {
		// Existing deployments' monitoring knows the sessions by this name.
		if app := re.rawString(t, `SELECT current_setting('application_name')`); app != "mosipcrvs-packet" {
			t.Errorf("application_name = %q, want mosipcrvs-packet", app)
		}
	}
	// A schema from a newer release is refused rather than misused.
	if err := re.rawExec(`INSERT INTO packet_schema_migrations (version, name, applied_at) VALUES (9999, 'future', $1)`,
		again.b.TimeArg(time.Now())); err != nil {
		t.Fatal(err)
	}
	_ = again.Close()
	if _, err := h.tryOpen(context.Background(), e.opts); err == nil || !strings.Contains(err.Error(), "newer than this binary") {
		t.Errorf("Open(newer schema) = %v, want a refusal", err)
	}
}
