package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mosipcrvs/bridge/pkg/sqlstore/sqlstoretest"
)

// both runs a test on SQLite and on the real Postgres test server.
func both(t *testing.T, f func(t *testing.T, open func() *DB)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "n.db")
		f(t, func() *DB {
			d, err := OpenSQLite(context.Background(), path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = d.Close() })
			return d
		})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		u := sqlstoretest.PostgresURL(t, "notification")
		f(t, func() *DB {
			d, err := OpenPostgres(context.Background(), u, Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = d.Close() })
			return d
		})
	})
}

// worker records the jobs it was given.
type worker struct {
	river.WorkerDefaults[ProcessJob]
	mu   sync.Mutex
	seen map[string]int
}

func (w *worker) Work(_ context.Context, j *river.Job[ProcessJob]) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen[j.Args.EventID]++
	return nil
}

func (w *worker) count(id string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen[id]
}

func TestInbox(t *testing.T) {
	both(t, func(t *testing.T, open func() *DB) {
		ctx := context.Background()
		d := open()

		// Concurrent redeliveries of one event: one row, one job.
		var dups atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dup, err := d.Receive(ctx, "ev-1", "p/CREDENTIAL_ISSUED", "credential", "rid-1", []byte(`{"a":1}`))
				if err != nil {
					t.Error(err)
				}
				if dup {
					dups.Add(1)
				}
			}()
		}
		wg.Wait()
		if dups.Load() != 7 {
			t.Fatalf("%d duplicates of 8 deliveries, want 7", dups.Load())
		}
		dl, err := d.Get(ctx, "ev-1")
		if err != nil || dl.State != StateReceived || string(dl.Body) != `{"a":1}` || dl.RegistrationID != "rid-1" || dl.JobID == 0 {
			t.Fatalf("Get = %+v, %v", dl, err)
		}
		// The duplicates' jobs were rolled back with them.
		var jobs int
		if err := d.db.Reader().QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = $1`, ProcessJob{}.Kind()).Scan(&jobs); err != nil || jobs != 1 {
			t.Fatalf("jobs after 8 deliveries of one event = %d, %v; want 1", jobs, err)
		}

		w := &worker{seen: map[string]int{}}
		workers := river.NewWorkers()
		river.AddWorker(workers, w)
		q, err := d.NewQueue(&river.Config{Workers: workers, Queues: map[string]river.QueueConfig{QueueName: {MaxWorkers: 2}},
			FetchPollInterval: 20 * time.Millisecond, FetchCooldown: 5 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = q.Stop(context.Background()) })
		waitFor(t, func() bool { return w.count("ev-1") == 1 })

		// Processing steps, then the dead-letter life cycle.
		if _, err := d.Record(ctx, "ev-1", Update{Attempt: true, Reason: "OpenCRVS 503", Fetched: "enc"}); err != nil {
			t.Fatal(err)
		}
		dl, err = d.Record(ctx, "ev-1", Update{State: StateDead, Attempt: true, Reason: "token expired", TransactionID: "100010000000001"})
		if err != nil || dl.State != StateDead || dl.Attempts != 2 || dl.Fetched != "enc" || dl.TransactionID != "100010000000001" ||
			dl.Reason != "token expired" || dl.RegistrationID != "rid-1" || dl.JobID == 0 || dl.Body != nil {
			t.Fatalf("Record = %+v, %v", dl, err)
		}
		if dl, err := d.Record(ctx, "ev-1", Update{State: StateDone}); !errors.Is(err, ErrState) || dl.State != StateDead {
			t.Fatalf("a dead letter moved by a worker: %+v, %v", dl, err)
		}
		if _, err := d.Record(ctx, "nope", Update{Attempt: true}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Record unknown: %v", err)
		}
		if dl, err := d.Get(ctx, "ev-1"); err != nil || dl.State != StateDead || dl.Attempts != 2 || string(dl.Body) != `{"a":1}` {
			t.Fatalf("Get after Record = %+v, %v", dl, err)
		}
		page, err := d.List(ctx, StateDead, 0, "")
		if err != nil || len(page.Deliveries) != 1 || page.Deliveries[0].Reason != "token expired" || page.Deliveries[0].Body != nil && len(page.Deliveries[0].Body) != 0 {
			t.Fatalf("List dead = %+v, %v", page, err)
		}
		dl, err = d.Replay(ctx, "ev-1")
		if err != nil || dl.State != StateReceived || dl.Attempts != 0 {
			t.Fatalf("Replay = %+v, %v", dl, err)
		}
		waitFor(t, func() bool { return w.count("ev-1") == 2 })
		if _, err := d.Replay(ctx, "ev-1"); !errors.Is(err, ErrState) {
			t.Fatalf("replay of a live delivery: %v", err)
		}
		if _, err := d.Record(ctx, "ev-1", Update{State: StateDead, Reason: "again"}); err != nil {
			t.Fatal(err)
		}
		if dl, err = d.Discard(ctx, "ev-1", "operator"); err != nil || dl.State != StateDiscarded {
			t.Fatalf("Discard = %+v, %v", dl, err)
		}
		// A discarded event is still recognised when the hub redelivers it.
		if dup, err := d.Receive(ctx, "ev-1", "p/CREDENTIAL_ISSUED", "credential", "rid-1", []byte(`{}`)); err != nil || !dup {
			t.Fatalf("redelivery after discard: dup=%v, %v", dup, err)
		}
		if _, err := d.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get unknown: %v", err)
		}

		// Paging, newest first.
		for i := range 5 {
			if _, err := d.Receive(ctx, fmt.Sprintf("page-%d", i), "t", "status", "", []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
		}
		var ids []string
		tok := ""
		for {
			p, err := d.List(ctx, "", 2, tok)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range p.Deliveries {
				ids = append(ids, x.EventID)
			}
			if tok = p.Next; tok == "" {
				break
			}
		}
		if len(ids) != 6 || ids[5] != "ev-1" {
			t.Fatalf("paged ids = %v", ids)
		}
		if _, err := d.List(ctx, "", 2, "garbage!"); !errors.Is(err, ErrBadToken) {
			t.Fatalf("bad token: %v", err)
		}
		counts, err := d.Counts(ctx)
		if err != nil || counts[StateReceived] != 5 || counts[StateDiscarded] != 1 {
			t.Fatalf("Counts = %v, %v", counts, err)
		}
	})
}

// The silence rule's questions: did MOSIP answer a transaction (a silence
// entry of the bridge's own is no answer), and do deliveries wait that are
// not yet tied to one?
func TestAnsweredAndUnattributed(t *testing.T) {
	both(t, func(t *testing.T, open func() *DB) {
		ctx := context.Background()
		d := open()
		check := func(when string, txid string, wantAnswered, wantWaiting bool) {
			t.Helper()
			if got, err := d.Answered(ctx, txid); err != nil || got != wantAnswered {
				t.Errorf("%s: Answered(%s) = %v, %v; want %v", when, txid, got, err, wantAnswered)
			}
			if got, err := d.Unattributed(ctx); err != nil || got != wantWaiting {
				t.Errorf("%s: Unattributed() = %v, %v; want %v", when, got, err, wantWaiting)
			}
		}
		check("empty inbox", "tx-1", false, false)
		if _, err := d.Receive(ctx, "silence-tx-1", SilenceTopic, "status", "", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Record(ctx, "silence-tx-1", Update{TransactionID: "tx-1", Attempt: true}); err != nil {
			t.Fatal(err)
		}
		check("own silence entry only", "tx-1", false, false)
		if _, err := d.Receive(ctx, "ev-2", "p/CREDENTIAL_ISSUED", "credential", "", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		check("a credential not yet processed", "tx-1", false, true)
		if _, err := d.Record(ctx, "ev-2", Update{State: StateDone, TransactionID: "tx-1"}); err != nil {
			t.Fatal(err)
		}
		check("the credential attributed", "tx-1", true, false)
		check("another transaction", "tx-2", false, false)
	})
}

// A delivery still to be processed whose job River discarded (as another
// service's River leader does with a stuck job of a kind it does not know)
// gets a new job, once, however many replicas ask; deliveries with a live
// job, recent ones and processed ones are left alone.
func TestRequeueOrphans(t *testing.T) {
	both(t, func(t *testing.T, open func() *DB) {
		ctx := context.Background()
		now := time.Now()
		d := open()
		for _, id := range []string{"orphan", "live", "done"} {
			if _, err := d.Receive(ctx, id, "p/CREDENTIAL_ISSUED", "credential", "", []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := d.Record(ctx, "done", Update{State: StateDone}); err != nil {
			t.Fatal(err)
		}
		orphan, _ := d.Get(ctx, "orphan")
		doneDl, _ := d.Get(ctx, "done")
		tx, err := d.db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = $1 WHERE id IN ($2, $3)`,
			d.db.TimeArg(now), orphan.JobID, doneDl.JobID); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if got, err := d.Requeue(ctx, now.Add(-time.Minute)); err != nil || len(got) != 0 {
			t.Fatalf("Requeue(a minute ago) = %v, %v; want nothing (touched since)", got, err)
		}
		var wg sync.WaitGroup
		var requeued atomic.Int32
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := d.Requeue(ctx, now.Add(time.Minute))
				if err != nil {
					t.Error(err)
				}
				requeued.Add(int32(len(got)))
			}()
		}
		wg.Wait()
		if requeued.Load() != 1 {
			t.Fatalf("%d requeued by four concurrent calls, want 1 (the orphan)", requeued.Load())
		}
		after, _ := d.Get(ctx, "orphan")
		if after.JobID == orphan.JobID || after.JobID == 0 || after.State != StateReceived {
			t.Fatalf("orphan after Requeue = %+v, want a new job", after)
		}
		w := &worker{seen: map[string]int{}}
		workers := river.NewWorkers()
		river.AddWorker(workers, w)
		q, err := d.NewQueue(&river.Config{Workers: workers, Queues: map[string]river.QueueConfig{QueueName: {MaxWorkers: 2}},
			FetchPollInterval: 20 * time.Millisecond, FetchCooldown: 5 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = q.Stop(context.Background()) })
		waitFor(t, func() bool { return w.count("orphan") == 1 && w.count("live") == 1 })
		if w.count("done") != 0 {
			t.Errorf("the processed delivery was worked again")
		}
	})
}

// A job inserted with a delivery whose transaction rolled back must not
// exist; Receive commits both or neither — checked by reopening the file.
func TestReceiveSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n.db")
	ctx := context.Background()
	d, err := OpenSQLite(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Receive(ctx, "ev-9", "t", "credential", "", []byte(`{"x":1}`)); err != nil {
		t.Fatal(err)
	}
	_ = d.Close()
	d, err = OpenSQLite(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if dl, err := d.Get(ctx, "ev-9"); err != nil || dl.JobID == 0 || dl.State != StateReceived {
		t.Fatalf("after reopen: %+v, %v", dl, err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
