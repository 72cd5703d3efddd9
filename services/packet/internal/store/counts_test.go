package store

import (
	"context"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mosipcrvs/bridge/services/packet/mosipclient"
)

// testRIDSequence: two store handles on one database stand for two
// replicas. Drawing RIDs concurrently through both, all in the same second,
// yields no duplicate: the sequence alone keeps them apart.
func testRIDSequence(t *testing.T, h harness) {
	opts := Options{Keyring: mustKeyring(t, testKey(t, "k1"))}
	replicas := []*DB{h.open(t, opts), h.open(t, opts)}
	const (
		total             = 2000
		workersPerReplica = 4
	)
	second := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[string]int{}
	)
	perWorker := total / (len(replicas) * workersPerReplica)
	for r, d := range replicas {
		gen, err := mosipclient.NewRIDGenerator(mosipclient.RIDConfig{
			Form: mosipclient.RIDMOSIP29, CenterID: "10001", MachineID: "10004",
			Sequence: d.NextRIDSequence, Now: func() time.Time { return second },
		})
		if err != nil {
			t.Fatal(err)
		}
		for range workersPerReplica {
			wg.Go(func() {
				for range perWorker {
					rid, err := gen.Next(context.Background(), "")
					if err != nil {
						t.Errorf("replica %d: Next() = %v", r, err)
						return
					}
					mu.Lock()
					seen[rid]++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if len(seen) != total {
		t.Errorf("%d distinct RIDs from %d draws, want all distinct", len(seen), total)
	}
	for rid, n := range seen {
		if n > 1 {
			t.Errorf("RID %s drawn %d times", rid, n)
		}
	}

	// The sequence stays in five digits: after 99999 comes 0.
	e := &env{h: h, db: replicas[0]}
	set := `UPDATE packet_rid_counter SET last = 99998 WHERE id = 1`
	if h.name == "postgres" {
		set = `SELECT setval('packet_rid_seq', 99998)`
	}
	if err := e.rawExec(set); err != nil {
		t.Fatal(err)
	}
	for _, want := range []int64{99999, 0, 1} {
		if got, err := replicas[1].NextRIDSequence(context.Background()); got != want || err != nil {
			t.Errorf("NextRIDSequence() = %d, %v; want %d", got, err, want)
		}
	}
}

// testCounts: the gauges' GROUP BY queries count every step and the packet
// queue's waiting and running jobs, and nothing else.
func testCounts(t *testing.T, h harness) {
	e := newEnv(t, h)
	ctx := context.Background()
	c, err := e.db.Counts(ctx)
	if err != nil {
		t.Fatalf("Counts(empty) = %v", err)
	}
	for _, s := range statuses {
		if n, ok := c.Transactions[s]; !ok || n != 0 {
			t.Errorf("empty Counts().Transactions[%s] = %d, %v; want a zero entry", s, n, ok)
		}
	}
	for _, s := range JobStates {
		if n, ok := c.Jobs[s]; !ok || n != 0 {
			t.Errorf("empty Counts().Jobs[%s] = %d, %v; want a zero entry", s, n, ok)
		}
	}

	e.submit(t, submission("ev", "received"))
	created := e.submit(t, submission("ev", "created"))
	confirmed := e.submit(t, submission("ev", "confirmed"))
	cancelled := e.submit(t, submission("ev", "cancelled"))
	_ = e.submit(t, submission("ev", "also-received"))
	if _, err := e.db.Advance(ctx, created.ID, StatusReceived, StatusPacketCreated, "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Advance(ctx, confirmed.ID, StatusReceived, StatusConfirmed, "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Cancel(ctx, cancelled.ID, "test"); err != nil { // its job: cancelled, not counted
		t.Fatal(err)
	}
	for q, id := range map[string]int64{`UPDATE river_job SET state = 'running', attempt = 1, attempted_at = $2 WHERE id = $1`: created.JobID,
		`UPDATE river_job SET state = 'retryable', attempt = 1, attempted_at = $2 WHERE id = $1`: confirmed.JobID} {
		if err := e.rawExec(q, id, e.db.b.TimeArg(time.Now())); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	tx, err := e.db.b.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.InsertJob(ctx, SubmitJob{TransactionID: "later"}, &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.InsertJob(ctx, SubmitJob{TransactionID: "elsewhere"}, &river.InsertOpts{Queue: "notification"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	c, err = e.db.Counts(ctx)
	if err != nil {
		t.Fatalf("Counts() = %v", err)
	}
	wantTx := map[Status]int64{}
	for _, s := range statuses {
		wantTx[s] = 0
	}
	wantTx[StatusReceived], wantTx[StatusPacketCreated], wantTx[StatusConfirmed], wantTx[StatusCancelled] = 2, 1, 1, 1
	if !maps.Equal(c.Transactions, wantTx) {
		t.Errorf("Counts().Transactions = %v, want %v", c.Transactions, wantTx)
	}
	wantJobs := map[string]int64{"available": 2, "scheduled": 1, "retryable": 1, "running": 1}
	if !maps.Equal(c.Jobs, wantJobs) {
		t.Errorf("Counts().Jobs = %v, want %v (the other queue's and the cancelled job left out)", c.Jobs, wantJobs)
	}
}
