package packet

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/logging"
	"github.com/mosipcrvs/bridge/pkg/sqlstore/sqlstoretest"
	"github.com/mosipcrvs/bridge/services/packet/internal/store"
)

// clock is a settable clock shared by a test and the services it starts.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// startWith is startService with the test's own options and, optionally,
// logger.
func startWith(t *testing.T, cfg Config, o options, logger ...*slog.Logger) *Service {
	t.Helper()
	o.tokens, o.backoff = fakeTokens{}, 10*time.Millisecond
	log := logging.Discard()
	if len(logger) > 0 {
		log = logger[0]
	}
	svc, err := newService(context.Background(), cfg, log, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		_ = svc.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := svc.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return svc
}

// seed records transactions straight in the store, as an earlier run of the
// service would have: one per status in want.
func seed(t *testing.T, st store.Store, want map[string]store.Status) map[string]store.Transaction {
	t.Helper()
	ctx := context.Background()
	out := map[string]store.Transaction{}
	for name, to := range want {
		tx, _, err := st.Submit(ctx, store.Submission{
			Process: store.ProcessNew, EventID: "event-" + name, ActionID: "action-1", RegistrationNumber: "BRN-" + name,
			Token: config.Secret("crvs.token." + name), Payload: store.PersonalData(`{"fullName":"Jane Doe"}`),
		})
		if err != nil {
			t.Fatal(err)
		}
		if to != store.StatusReceived {
			if tx, err = st.Advance(ctx, tx.ID, store.StatusReceived, to, "seeded", nil); err != nil {
				t.Fatal(err)
			}
		}
		out[name] = tx
	}
	return out
}

// waitPurged waits until the transaction's token and payload are gone.
func waitPurged(t *testing.T, st store.Store, id string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		tx, err := st.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if !tx.PurgedAt.IsZero() {
			if tx.Token != "" || len(tx.Payload) != 0 {
				t.Errorf("purged transaction %s kept its token or payload", id)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("transaction %s not purged within 15s", id)
}

func assertKept(t *testing.T, st store.Store, tx store.Transaction) {
	t.Helper()
	got, err := st.Get(context.Background(), tx.ID)
	if err != nil || !got.PurgedAt.IsZero() || got.Token != tx.Token || len(got.Payload) == 0 {
		t.Errorf("transaction %s (%s) lost its token or payload (%v)", tx.ID, got.Status, err)
	}
}

// The scheduled purge wipes finished transactions older than
// PACKET_RETENTION, once when the service starts and then every interval,
// and leaves unfinished and recent ones alone; it counts what it purged
// and the gauges see the transactions and jobs.
func TestRetentionPurge(t *testing.T) {
	t.Parallel()
	f := newFakeMOSIP(t)
	dbPath, keys := filepath.Join(t.TempDir(), "p.db"), testKeys(t)
	clk := &clock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}

	// An earlier run: old finished, old unfinished, and (a day later)
	// recently finished transactions.
	st, err := store.OpenSQLite(context.Background(), dbPath, store.Options{Keyring: mustKeyring(t, keys), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	old := seed(t, st, map[string]store.Status{
		"confirmed": store.StatusConfirmed, "rejected": store.StatusRejected, "failed": store.StatusFailed,
		"processing": store.StatusProcessingStarted, "flagged": store.StatusFlaggedForRejection,
	})
	clk.Add(24 * time.Hour)
	recent := seed(t, st, map[string]store.Status{"recent": store.StatusConfirmed})
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// Restarted 30 days and an hour after the old ones finished.
	clk.Add(30*24*time.Hour - 23*time.Hour)
	reader := sdkmetric.NewManualReader()
	cfg := testConfig(t, f, dbPath, keys, map[string]string{"PACKET_RETENTION": "720h"})
	svc := startWith(t, cfg, options{now: clk.Now, purgeInterval: 300 * time.Millisecond,
		meters: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))})
	started := time.Now()
	for _, name := range []string{"confirmed", "rejected", "failed"} {
		waitPurged(t, svc.store, old[name].ID)
	}
	t.Logf("first purge %v after start", time.Since(started))
	for _, name := range []string{"processing", "flagged"} {
		assertKept(t, svc.store, old[name])
	}
	assertKept(t, svc.store, recent["recent"])

	// The next periodic run catches what has aged since.
	clk.Add(24 * time.Hour)
	started = time.Now()
	waitPurged(t, svc.store, recent["recent"].ID)
	t.Logf("periodic purge %v after", time.Since(started))
	for _, name := range []string{"processing", "flagged"} {
		assertKept(t, svc.store, old[name])
	}
	hist, err := svc.store.History(context.Background(), recent["recent"].ID)
	if err != nil || hist[len(hist)-1].Detail != "retention: token and payload purged" {
		t.Errorf("History() = %+v, %v; want the purge recorded", hist, err)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := collected(rm)
	want := map[string]int64{
		"packet.retention.purged":                          4,
		"packet.transactions/status=confirmed":             2,
		"packet.transactions/status=failed":                1,
		"packet.transactions/status=received":              0,
		"packet.transactions/status=flagged_for_rejection": 1,
	}
	for k, v := range want {
		if n, ok := got[k]; !ok || n != v {
			t.Errorf("%s = %d (reported %v), want %d; all: %v", k, n, ok, v, got)
		}
	}
	for _, state := range store.JobStates {
		if _, ok := got["packet.queue.jobs/state="+state]; !ok {
			t.Errorf("no packet.queue.jobs gauge for %s jobs; all: %v", state, got)
		}
	}
}

// collected flattens int64 sums and gauges to "name[/attr=value]" → value.
func collected(rm metricdata.ResourceMetrics) map[string]int64 {
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			var points []metricdata.DataPoint[int64]
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				points = d.DataPoints
			case metricdata.Gauge[int64]:
				points = d.DataPoints
			}
			for _, dp := range points {
				key := m.Name
				for _, kv := range dp.Attributes.ToSlice() {
					key += "/" + string(kv.Key) + "=" + kv.Value.Emit()
				}
				out[key] += dp.Value
			}
		}
	}
	return out
}

// With PACKET_RETENTION=0 nothing is scheduled and a purge does nothing.
func TestRetentionOff(t *testing.T) {
	t.Parallel()
	f := newFakeMOSIP(t)
	clk := &clock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	cfg := testConfig(t, f, filepath.Join(t.TempDir(), "p.db"), testKeys(t), map[string]string{"PACKET_RETENTION": "0"})
	if cfg.Retention != 0 {
		t.Fatalf("PACKET_RETENTION=0 loaded as %s", cfg.Retention)
	}
	if jobs := purgeSchedule(cfg.Retention, time.Hour); len(jobs) != 0 {
		t.Errorf("purgeSchedule(0) = %d periodic jobs, want none", len(jobs))
	}
	svc := startWith(t, cfg, options{now: clk.Now})
	old := seed(t, svc.store, map[string]store.Status{"confirmed": store.StatusConfirmed})
	clk.Add(10 * 365 * 24 * time.Hour)
	if n, err := svc.purge(context.Background()); n != 0 || err != nil {
		t.Errorf("purge() = %d, %v; want 0 with retention off", n, err)
	}
	assertKept(t, svc.store, old["confirmed"])
}

// Two replicas on one Postgres database: River's leader alone schedules the
// purge, so the run at start happens once, not once per replica.
func TestRetentionPurgeReplicas(t *testing.T) {
	t.Parallel()
	f := newFakeMOSIP(t)
	url := sqlstoretest.PostgresURL(t, "packet_retention")
	keys := testKeys(t)
	clk := &clock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	st, err := store.OpenPostgres(context.Background(), url, store.Options{Keyring: mustKeyring(t, keys), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	old := seed(t, st, map[string]store.Status{"confirmed": store.StatusConfirmed, "processing": store.StatusProcessingStarted})
	_ = st.Close()
	clk.Add(31 * 24 * time.Hour)

	cfg := testConfig(t, f, "unused.db", keys, map[string]string{"DATABASE_URL": url})
	var logs lockedBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	replicas := []*Service{startWith(t, cfg, options{now: clk.Now}, log), startWith(t, cfg, options{now: clk.Now}, log)}
	waitPurged(t, replicas[1].store, old["confirmed"].ID)
	assertKept(t, replicas[0].store, old["processing"])
	time.Sleep(500 * time.Millisecond)
	if n := strings.Count(logs.String(), purgedLogMessage); n != 1 {
		t.Errorf("%d purge runs logged by two replicas at start, want 1:\n%s", n, logs.String())
	}
}

// lockedBuffer is a bytes.Buffer that loggers of several goroutines share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
