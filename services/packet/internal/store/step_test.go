package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// historyOf reads the audit trail of a transaction or fails the test.
func historyOf(t *testing.T, d *DB, id string) []AuditEntry {
	t.Helper()
	hist, err := d.History(context.Background(), id)
	if err != nil {
		t.Fatalf("History(%s): %v", id, err)
	}
	return hist
}

// withoutSecrets is tx as Step and List return it.
func withoutSecrets(tx Transaction) Transaction {
	tx.Token, tx.Payload = "", nil
	return tx
}

func testStep(t *testing.T, h harness) {
	e := newEnv(t, h)
	ctx := context.Background()
	tx := e.submit(t, submission("ev", "act"))
	e.clock.Add(time.Second)

	const rid = "10001100040000020260301090000"
	got, err := e.db.Step(ctx, tx.ID, StatusReceived, StatusReceived, "registration id chosen", Change{RegistrationID: rid})
	if err != nil || got.RegistrationID != rid || got.Status != StatusReceived || !got.UpdatedAt.Equal(e.clock.Now()) ||
		got.Token != "" || got.Payload != nil || got.JobID != tx.JobID || !got.CreatedAt.Equal(tx.CreatedAt) {
		t.Fatalf("Step(record RID) = %+v, %v", got, err)
	}
	if stored, _ := e.db.Get(ctx, tx.ID); !sameTx(withoutSecrets(stored), got) {
		t.Errorf("Get() after Step =\n%+v\nwant (token and payload aside)\n%+v", stored, got)
	}
	// The same RID again is harmless.
	if _, err := e.db.Step(ctx, tx.ID, StatusReceived, StatusReceived, "again", Change{RegistrationID: rid}); err != nil {
		t.Errorf("Step(same RID) = %v", err)
	}

	for i := range 2 {
		if got, err = e.db.Step(ctx, tx.ID, StatusReceived, StatusReceived, "temporary failure: HTTP_503",
			Change{Failure: "HTTP_503: unavailable"}); err != nil || got.Attempts != i+1 || got.LastError != "HTTP_503: unavailable" {
			t.Fatalf("Step(failure %d) = %+v, %v", i+1, got, err)
		}
	}
	long, err := e.db.Step(ctx, tx.ID, StatusReceived, StatusReceived, strings.Repeat("d", 3*maxDetailLen),
		Change{Failure: strings.Repeat("é", maxLastErrorLen)})
	if err != nil || len(long.LastError) > maxLastErrorLen || long.Attempts != 3 {
		t.Errorf("Step(long failure) = %d bytes, attempts %d, %v", len(long.LastError), long.Attempts, err)
	}
	got, err = e.db.Step(ctx, tx.ID, StatusReceived, StatusPacketCreated, "packet created", Change{Succeeded: true})
	if err != nil || got.Status != StatusPacketCreated || got.Attempts != 0 || got.LastError != "" || got.RegistrationID != rid {
		t.Fatalf("Step(received→packet_created) = %+v, %v", got, err)
	}

	auditBefore := e.count(t, `SELECT count(*) FROM packet_audit`)
	var conflict *ConflictError
	if _, err := e.db.Step(ctx, tx.ID, StatusReceived, StatusPacketCreated, "stale", Change{}); !errors.As(err, &conflict) ||
		!errors.Is(err, ErrConflict) || conflict.Actual != StatusPacketCreated || conflict.Expected != StatusReceived {
		t.Errorf("Step(stale) = %v, want ConflictError with actual packet_created", err)
	}
	other := e.submit(t, submission("ev", "act-2"))
	tests := []struct {
		name     string
		id       string
		from, to Status
		c        Change
		want     error
	}{
		{"backwards", tx.ID, StatusPacketCreated, StatusReceived, Change{}, ErrInvalid},
		{"unknown status", tx.ID, StatusPacketCreated, "lost", Change{}, ErrInvalid},
		{"another RID", tx.ID, StatusPacketCreated, StatusPacketCreated, Change{RegistrationID: "2"}, ErrInvalid},
		{"huge RID", other.ID, StatusReceived, StatusReceived, Change{RegistrationID: strings.Repeat("1", 200)}, ErrInvalid},
		{"failure and success", tx.ID, StatusPacketCreated, StatusPacketCreated, Change{Failure: "x", Succeeded: true}, ErrInvalid},
		{"RID of another transaction", other.ID, StatusReceived, StatusReceived, Change{RegistrationID: rid}, ErrInvalid},
		{"unknown id", "100019999999999", StatusReceived, StatusPacketCreated, Change{}, ErrNotFound},
		{"malformed id", "nonsense", StatusReceived, StatusPacketCreated, Change{}, ErrNotFound},
	}
	for _, tt := range tests {
		if _, err := e.db.Step(ctx, tt.id, tt.from, tt.to, tt.name, tt.c); !errors.Is(err, tt.want) {
			t.Errorf("Step(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
	// Refused steps leave no trace (other's submit added one entry).
	if n := e.count(t, `SELECT count(*) FROM packet_audit`); n != auditBefore+1 {
		t.Errorf("%d audit entries after refused steps, want %d", n, auditBefore+1)
	}
	if stored, _ := e.db.Get(ctx, tx.ID); !sameTx(withoutSecrets(stored), got) {
		t.Errorf("refused steps changed the transaction: %+v", stored)
	}

	hist := historyOf(t, e.db, tx.ID)
	var trail []string
	for _, a := range hist {
		trail = append(trail, fmt.Sprintf("%s→%s", a.From, a.To))
	}
	want := "→received,received→received,received→received,received→received,received→received,received→received,received→packet_created"
	if strings.Join(trail, ",") != want {
		t.Errorf("History() = %s, want %s", strings.Join(trail, ","), want)
	}
	if last := hist[len(hist)-1]; last.Detail != "packet created" || !last.At.Equal(got.UpdatedAt) {
		t.Errorf("last audit entry = %+v, want the step's detail and time", last)
	}
	if d := hist[5].Detail; len(d) > maxDetailLen {
		t.Errorf("long detail kept at %d bytes", len(d))
	}
}

func testStepRace(t *testing.T, h harness) {
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
			_, err := e.db.Step(context.Background(), tx.ID, StatusReceived, StatusPacketCreated, fmt.Sprintf("worker %d", i), Change{Succeeded: true})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, ErrConflict):
				lost++
			default:
				t.Errorf("Step: %v", err)
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

// ridChooser counts its calls and makes RIDs from the transaction id and
// the drawn sequence number, unless taken says otherwise.
type ridChooser struct {
	mu    sync.Mutex
	calls int
	seqs  []int64
	taken func(call int) string // a RID to answer instead; "" for none
}

func (c *ridChooser) choose(id string, seq int64) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	c.seqs = append(c.seqs, seq)
	if c.taken != nil {
		if rid := c.taken(c.calls); rid != "" {
			return rid, nil
		}
	}
	return fmt.Sprintf("R%s%05d", id, seq), nil
}

func testSubmitChoosesRID(t *testing.T, h harness) {
	e := newEnv(t, h)
	ctx := context.Background()
	var c ridChooser
	s := submission("ev", "act")
	s.ChooseRID = c.choose
	tx := e.submit(t, s)
	if tx.RegistrationID != fmt.Sprintf("R%s00000", tx.ID) {
		t.Errorf("Submit() RID = %q, want R<id>00000 (the first RID sequence number)", tx.RegistrationID)
	}
	stored, err := e.db.Get(ctx, tx.ID)
	if err != nil || !sameTx(stored, tx) {
		t.Errorf("Get() = %+v, %v; want %+v", stored, err, tx)
	}
	if hist := historyOf(t, e.db, tx.ID); len(hist) != 1 || !strings.Contains(hist[0].Detail, "registration id chosen") {
		t.Errorf("History() = %+v, want one entry saying the RID was chosen", hist)
	}
	// A duplicate chooses nothing; the next transaction gets the next number.
	if again, created, err := e.db.Submit(ctx, s); err != nil || created || again.RegistrationID != tx.RegistrationID {
		t.Errorf("Submit(duplicate) = %+v created %v, %v", again, created, err)
	}
	second := e.submit(t, func() Submission { s := s; s.ActionID = "act-2"; return s }())
	if c.calls != 2 || c.seqs[1] != 1 || second.RegistrationID != fmt.Sprintf("R%s00001", second.ID) {
		t.Errorf("chooser called %d times with %v, second RID %q; want 2 calls, sequence 0 then 1", c.calls, c.seqs, second.RegistrationID)
	}

	// A RID another transaction has is drawn again, leaving nothing behind.
	before := map[string]int64{}
	for _, table := range []string{"packet_transactions", "packet_audit", "river_job"} {
		before[table] = e.count(t, `SELECT count(*) FROM `+table)
	}
	retried := ridChooser{taken: func(call int) string {
		if call == 1 {
			return tx.RegistrationID
		}
		return ""
	}}
	s3 := submission("ev", "act-3")
	s3.ChooseRID = retried.choose
	third := e.submit(t, s3)
	if retried.calls != 2 || third.RegistrationID == tx.RegistrationID {
		t.Errorf("after a taken RID: %d calls, RID %q; want a second draw", retried.calls, third.RegistrationID)
	}
	always := ridChooser{taken: func(int) string { return tx.RegistrationID }}
	s4 := submission("ev", "act-4")
	s4.ChooseRID = always.choose
	if _, _, err := e.db.Submit(ctx, s4); err == nil || always.calls != submitTries {
		t.Errorf("Submit(RID always taken) = %v after %d draws, want an error after %d", err, always.calls, submitTries)
	}
	s5 := submission("ev", "act-5")
	s5.ChooseRID = func(string, int64) (string, error) { return "", errors.New("no RID today") }
	if _, _, err := e.db.Submit(ctx, s5); err == nil || !strings.Contains(err.Error(), "no RID today") {
		t.Errorf("Submit(chooser fails) = %v, want its error", err)
	}
	for table, n := range before {
		if got := e.count(t, `SELECT count(*) FROM `+table); got != n+1 {
			t.Errorf("%d rows in %s, want %d: failed submits left rows behind", got, table, n+1)
		}
	}
}

func testJobScheduledAt(t *testing.T, h harness) {
	e := newEnv(t, h)
	now := e.tx(t, "ev", "now", time.Time{})
	later := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	scheduled := e.tx(t, "ev", "later", later)
	if state := e.rawString(t, `SELECT state FROM river_job WHERE id = $1`, now.JobID); state != "available" {
		t.Errorf("job of a submission without JobScheduledAt is %s, want available", state)
	}
	if state := e.rawString(t, `SELECT state FROM river_job WHERE id = $1`, scheduled.JobID); state != "scheduled" {
		t.Errorf("job of a submission with JobScheduledAt is %s, want scheduled", state)
	}
	q := `SELECT CAST(extract(epoch FROM scheduled_at) AS bigint) FROM river_job WHERE id = $1`
	if h.name == "sqlite" {
		q = `SELECT CAST(strftime('%s', scheduled_at) AS INTEGER) FROM river_job WHERE id = $1`
	}
	if at := e.count(t, q, scheduled.JobID); at != later.Unix() {
		t.Errorf("job scheduled at %s, want %s", time.Unix(at, 0).UTC(), later)
	}
}

// tx submits a keyed transaction whose job is scheduled at at.
func (e *env) tx(t *testing.T, event, action string, at time.Time) Transaction {
	t.Helper()
	s := submission(event, action)
	s.JobScheduledAt = at
	return e.submit(t, s)
}

// testIndexUse: the lookups by idempotency key and by RID can use their
// partial unique indexes on both databases whatever the arguments (on
// Postgres, in a generic plan, which knows none).
func testIndexUse(t *testing.T, h harness) {
	e := newEnv(t, h)
	ctx := context.Background()
	e.submit(t, submission("ev", "act"))
	queries := map[string]struct {
		sql, types string
		args       []any
	}{
		"packet_transactions_idempotency_key": {`SELECT ` + txColumns + ` FROM packet_transactions WHERE ` + liveKeyWhere,
			"text, text", []any{"ev", "act"}},
		"packet_transactions_registration_id": {`SELECT ` + txColumns + ` FROM packet_transactions WHERE ` + ridWhere,
			"text", []any{"1000110004"}},
	}
	for index, q := range queries {
		var plan []string
		if h.name == "postgres" {
			// EXPLAIN with arguments plans for their values; a prepared
			// statement forced to its generic plan knows none, as a
			// cached plan of pgx's prepared statements does not.
			tx, err := e.db.b.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, stmt := range []string{
				`SET LOCAL plan_cache_mode = force_generic_plan`,
				`SET LOCAL enable_seqscan = off`, // sequential scans only when nothing else can answer
				`PREPARE index_use (` + q.types + `) AS ` + q.sql,
			} {
				if _, err := tx.Exec(ctx, stmt); err != nil {
					t.Fatal(err)
				}
			}
			values := make([]string, len(q.args))
			for i, a := range q.args {
				values[i] = "'" + a.(string) + "'"
			}
			rs, err := tx.Query(ctx, `EXPLAIN EXECUTE index_use (`+strings.Join(values, ", ")+`)`)
			if err != nil {
				t.Fatal(err)
			}
			for rs.Next() {
				var line string
				if err := rs.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, line)
			}
			rs.Close()
			if _, err := tx.Exec(ctx, `DEALLOCATE index_use`); err != nil {
				t.Fatal(err)
			}
			tx.Rollback(ctx)
		} else {
			rs, err := e.db.b.Reader().Query(ctx, `EXPLAIN QUERY PLAN `+q.sql, q.args...)
			if err != nil {
				t.Fatal(err)
			}
			for rs.Next() {
				var id, parent, unused int
				var detail string
				if err := rs.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			rs.Close()
		}
		if text := strings.Join(plan, "\n"); !strings.Contains(text, index) {
			t.Errorf("plan of %s does not use %s:\n%s", q.sql, index, text)
		}
	}
}

// testStepVia: a step through an intermediate one is one compare-and-set
// with both audit entries, in order; impossible paths are refused and
// leave no trace.
func testStepVia(t *testing.T, h harness) {
	e := newEnv(t, h)
	ctx := context.Background()
	tx := e.submit(t, submission("ev", "act"))
	for _, st := range []Status{StatusPacketCreated, StatusProcessingStarted} {
		if _, err := e.db.Step(ctx, tx.ID, tx.Status, st, "worker", Change{}); err != nil {
			t.Fatalf("Step(%s): %v", st, err)
		}
		tx.Status = st
	}
	auditBefore := e.count(t, `SELECT count(*) FROM packet_audit`)
	refused := []struct {
		name     string
		from, to Status
		c        Change
	}{
		{"via backwards", StatusProcessingStarted, StatusConfirmed, Change{Via: StatusReceived}},
		{"via the destination", StatusProcessingStarted, StatusConfirmed, Change{Via: StatusConfirmed}},
		{"via the origin", StatusProcessingStarted, StatusConfirmed, Change{Via: StatusProcessingStarted}},
		{"via past the destination", StatusProcessingStarted, StatusCredentialReceived, Change{Via: StatusConfirmed}},
		{"via unknown", StatusProcessingStarted, StatusConfirmed, Change{Via: "lost"}},
		{"detail without via", StatusProcessingStarted, StatusConfirmed, Change{ViaDetail: "x"}},
	}
	for _, r := range refused {
		if _, err := e.db.Step(ctx, tx.ID, r.from, r.to, r.name, r.c); !errors.Is(err, ErrInvalid) {
			t.Errorf("Step(%s) = %v, want ErrInvalid", r.name, err)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM packet_audit`); n != auditBefore {
		t.Fatalf("%d audit entries after refused steps, want %d", n, auditBefore)
	}

	e.clock.Add(time.Second)
	got, err := e.db.Step(ctx, tx.ID, StatusProcessingStarted, StatusConfirmed, "accepted",
		Change{Via: StatusCredentialReceived, ViaDetail: "credential e1"})
	if err != nil || got.Status != StatusConfirmed || !got.UpdatedAt.Equal(e.clock.Now()) {
		t.Fatalf("Step(via) = %+v, %v", got, err)
	}
	hist := historyOf(t, e.db, tx.ID)
	var trail []string
	for _, a := range hist[len(hist)-2:] {
		trail = append(trail, fmt.Sprintf("%s→%s %s", a.From, a.To, a.Detail))
		if !a.At.Equal(got.UpdatedAt) {
			t.Errorf("audit entry %+v: at %s, want the step's time", a, a.At)
		}
	}
	want := "processing_started→credential_received credential e1,credential_received→confirmed accepted"
	if strings.Join(trail, ",") != want {
		t.Errorf("History() ends %s, want %s", strings.Join(trail, ","), want)
	}
	// A stale step through the same path misses, and says where it is.
	var conflict *ConflictError
	if _, err := e.db.Step(ctx, tx.ID, StatusProcessingStarted, StatusConfirmed, "again",
		Change{Via: StatusCredentialReceived}); !errors.As(err, &conflict) || conflict.Actual != StatusConfirmed {
		t.Errorf("Step(via, stale) = %v, want ConflictError at confirmed", err)
	}
}

// testReadsWithoutPayload: GetMeta opens nothing, GetByRegistrationID
// opens the token only.
func testReadsWithoutPayload(t *testing.T, h harness) {
	e := newEnv(t, h)
	ctx := context.Background()
	tx := e.submit(t, submission("ev", "act"))
	const rid = "10001100040000020260301090000"
	if _, err := e.db.Step(ctx, tx.ID, StatusReceived, StatusPacketCreated, "created", Change{RegistrationID: rid}); err != nil {
		t.Fatal(err)
	}
	full, err := e.db.Get(ctx, tx.ID)
	if err != nil || full.Token == "" || len(full.Payload) == 0 {
		t.Fatalf("Get() = %+v, %v", full, err)
	}
	meta, err := e.db.GetMeta(ctx, tx.ID)
	if err != nil || !sameTx(meta, withoutSecrets(full)) {
		t.Errorf("GetMeta() = %+v, %v; want %+v", meta, err, withoutSecrets(full))
	}
	byRID, err := e.db.GetByRegistrationID(ctx, rid)
	want := withoutSecrets(full)
	want.Token = full.Token
	if err != nil || !sameTx(byRID, want) {
		t.Errorf("GetByRegistrationID() = %+v, %v; want %+v", byRID, err, want)
	}
	for _, id := range []string{"100019999999999", "nonsense"} {
		if _, err := e.db.GetMeta(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetMeta(%s) = %v, want ErrNotFound", id, err)
		}
	}
	if _, err := e.db.GetByRegistrationID(ctx, "99999"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetByRegistrationID(unknown) = %v, want ErrNotFound", err)
	}
}

// testStepEndsJob: Change.EndJob deletes the job of the transaction while
// it waits for its time, and only then.
func testStepEndsJob(t *testing.T, h harness) {
	e := newEnv(t, h)
	ctx := context.Background()
	later := submission("ev", "later")
	later.JobScheduledAt = time.Now().Add(time.Hour)
	waiting := e.submit(t, later)
	now := e.submit(t, submission("ev", "now"))
	jobState := func(id int64) string {
		if e.count(t, `SELECT count(*) FROM river_job WHERE id = $1`, id) == 0 {
			return "gone"
		}
		return e.rawString(t, `SELECT state FROM river_job WHERE id = $1`, id)
	}
	if s1, s2 := jobState(waiting.JobID), jobState(now.JobID); s1 != "scheduled" || s2 != "available" {
		t.Fatalf("jobs after Submit: %s and %s, want scheduled and available", s1, s2)
	}
	for _, tx := range []Transaction{waiting, now} {
		if _, err := e.db.Step(ctx, tx.ID, StatusReceived, StatusPacketCreated, "created", Change{}); err != nil {
			t.Fatal(err)
		}
	}
	if s := jobState(waiting.JobID); s != "scheduled" {
		t.Errorf("job after a step without EndJob: %s, want scheduled", s)
	}
	for _, tx := range []Transaction{waiting, now} {
		if _, err := e.db.Step(ctx, tx.ID, StatusPacketCreated, StatusProcessingStarted, "started",
			Change{Succeeded: true, EndJob: true}); err != nil {
			t.Fatal(err)
		}
	}
	if s := jobState(waiting.JobID); s != "gone" {
		t.Errorf("scheduled job after a step with EndJob: %s, want gone", s)
	}
	// A job that may be running or about to be is River's to finish.
	if s := jobState(now.JobID); s != "available" {
		t.Errorf("available job after a step with EndJob: %s, want available", s)
	}
	// A missed compare-and-set deletes nothing.
	again := submission("ev", "again")
	again.JobScheduledAt = time.Now().Add(time.Hour)
	missed := e.submit(t, again)
	if _, err := e.db.Step(ctx, missed.ID, StatusPacketCreated, StatusProcessingStarted, "stale",
		Change{EndJob: true}); !errors.Is(err, ErrConflict) {
		t.Fatalf("Step(stale) = %v, want ErrConflict", err)
	}
	if s := jobState(missed.JobID); s != "scheduled" {
		t.Errorf("job after a missed step with EndJob: %s, want scheduled", s)
	}
}
