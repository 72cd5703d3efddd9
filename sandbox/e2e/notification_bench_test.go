package e2e

// Benchmarks of the notification path (issue "notification service"): the
// callback's acknowledgement under a paced open-loop load, how many
// credentials per second the whole system turns into OpenCRVS accepts, and
// how long a received credential takes to become an accept. Each runs the
// whole system (allinone) in front of a fresh sandbox whose MOSIP signs and
// encrypts the credentials as MOSIP does, on this one machine: the sandbox's
// own work (packets, credential issue, OpenCRVS token checks) shares the CPU
// with the bridge.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mosipcrvs/bridge/pkg/rpc"
	"github.com/mosipcrvs/bridge/pkg/sqlstore"
	"github.com/mosipcrvs/bridge/pkg/sqlstore/sqlstoretest"
	packetv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/packet/v1"
	"github.com/mosipcrvs/bridge/sandbox/mosip"
)

// nbSecret is the hub.secret NotificationSandboxEnv configures.
const nbSecret = "sandbox-websub-secret"

// startNotifBench is startBridge for benchmarks: quiet, and the database
// chosen by the caller (SQLite files by default; DATABASE_URL in extra
// moves both the packet and the notification service to PostgreSQL).
func startNotifBench(tb testing.TB, extra map[string]string) *notifBench {
	tb.Helper()
	sb, _ := startSandbox(tb, nil, nil)
	env := bridgeEnv(tb, sb)
	maps.Copy(env, extra)
	return &notifBench{&bridge{sb: sb, sys: startSystem(tb, env)}}
}

// notifBench is the whole system in front of a fresh sandbox, for the
// notification benchmarks.
type notifBench struct{ *bridge }

// nbDatabases are the stores the benchmarks run against: SQLite files,
// and PostgreSQL when the test server is reachable (sqlstoretest skips the
// sub-benchmark otherwise). settle, when set, brings a database that was
// created seconds ago to the state of one in service (see nbSettle).
var nbDatabases = []struct {
	name   string
	env    func(tb testing.TB) map[string]string
	settle func(tb testing.TB, env map[string]string)
}{
	{"sqlite", func(testing.TB) map[string]string { return nil }, nil},
	{"postgres", func(tb testing.TB) map[string]string {
		url := sqlstoretest.PostgresURL(tb, "notification_bench")
		// The packet and notification services share the schema, and each
		// migrates River under a lock of its own: they race on River's
		// tables when they start together. Migrate River first.
		db, err := sqlstore.OpenPostgres(context.Background(), url, sqlstore.Options{Service: "bench",
			Migrations: fstest.MapFS{"postgres/README": {}, "sqlite/README": {}}})
		if err != nil {
			tb.Fatal(err)
		}
		_ = db.Close()
		return map[string]string{"DATABASE_URL": url}
	}, nbSettle},
}

// nbSettle analyzes the benchmark's PostgreSQL tables, as autovacuum does
// within a minute of a table changing by a tenth. Without it the measure
// would be of a database a few seconds old, in a state production never
// stays in: every table had no statistics, and a pooled connection that
// prepared a statement while its table was nearly empty keeps a plan that
// reads the whole table, until the first ANALYZE replaces it.
func nbSettle(tb testing.TB, env map[string]string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, env["DATABASE_URL"])
	if err != nil {
		tb.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `ANALYZE packet_transactions, packet_audit, notification_deliveries, river_job`); err != nil {
		tb.Fatal(err)
	}
}

// nbWaitFor polls cond every 10 ms until it holds or d passes.
func nbWaitFor(tb testing.TB, what string, d time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (b *notifBench) waitSubscribed(tb testing.TB) {
	tb.Helper()
	nbWaitFor(tb, "both WebSub subscriptions active", 20*time.Second, func() bool {
		active := 0
		for _, s := range b.sb.Hub.Subscriptions() {
			if s.State == mosip.SubscriptionActive {
				active++
			}
		}
		return active >= 2
	})
}

// nbDelivery is a CREDENTIAL_ISSUED event as the hub posts it, and the
// OpenCRVS event its credential confirms (empty when none does).
type nbDelivery struct {
	body      []byte
	signature string
	crvsEvent string
}

func nbSign(body []byte) nbDelivery {
	m := hmac.New(sha256.New, []byte(nbSecret))
	m.Write(body)
	return nbDelivery{body: body, signature: "sha256=" + hex.EncodeToString(m.Sum(nil))}
}

// births registers n births through the gateway as OpenCRVS's country
// configuration does (16 at a time) while the hub holds every delivery, and
// returns the CREDENTIAL_ISSUED events MOSIP published for them, each with
// the OpenCRVS event it must confirm. The hub stays paused: the benchmark
// delivers the events itself, at the rate it chooses.
func (b *notifBench) births(tb testing.TB, n int) []nbDelivery {
	tb.Helper()
	b.waitSubscribed(tb)
	b.sb.Hub.Pause(true)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 30 * time.Second}
	var next atomic.Int64
	errc := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				if err := b.birth(client, int(i)); err != nil {
					select {
					case errc <- err:
					default:
					}
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errc:
		tb.Fatal(err)
	default:
	}
	topic := mosip.CredentialTopic(b.sb.Config.PartnerID)
	nbWaitFor(tb, fmt.Sprintf("%d credentials issued", n), 60*time.Second, func() bool {
		return len(b.sb.Hub.Published(topic)) >= n
	})

	// The RID of each credential leads, through the packet service, to
	// the OpenCRVS event the bridge will accept.
	conn, err := rpc.Dial(b.sys.Addrs["packet"], rpc.ClientOptions{Timeout: 10 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	packets := packetv1.NewPacketServiceClient(conn)
	var out []nbDelivery
	for _, p := range b.sb.Hub.Published(topic) {
		var ev struct {
			Event struct {
				Data struct {
					RegistrationID string `json:"registrationId"`
				} `json:"data"`
			} `json:"event"`
		}
		if err := json.Unmarshal(p.Body, &ev); err != nil {
			tb.Fatal(err)
		}
		tx, err := packets.ResolveRegistration(context.Background(), &packetv1.ResolveRegistrationRequest{RegistrationId: ev.Event.Data.RegistrationID})
		if err != nil {
			tb.Fatalf("ResolveRegistration(%s) = %v", ev.Event.Data.RegistrationID, err)
		}
		d := nbSign(p.Body)
		d.crvsEvent = tx.GetEventId()
		out = append(out, d)
	}
	return out
}

// birth declares one birth in OpenCRVS and sends it to the bridge.
func (b *notifBench) birth(client *http.Client, i int) error {
	eventID := b.sb.CRVS.CreateEvent("birth", map[string]any{})
	actionID, _, err := b.sb.CRVS.RequestAction(eventID, "REGISTER")
	if err != nil {
		return err
	}
	tok, err := b.sb.CRVS.Auth().RecordToken(opencrvsRecordOptions(eventID, actionID))
	if err != nil {
		return err
	}
	body := payload(map[string]any{"birthCertificateNumber": fmt.Sprintf("BN%08d", i), "fullName": "Infant Bench Doe",
		"dateOfBirth": "2025-09-01", "gender": "female"})
	req, _ := http.NewRequest(http.MethodPost, b.sys.GatewayURL+"/events/registration", bytes.NewReader([]byte(body)))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("birth %d: %d %s", i, resp.StatusCode, out)
	}
	return nil
}

// deliver posts d to the gateway's callback as the hub does (the hub adds
// a trailing slash) and returns the answer's status.
func (b *notifBench) deliver(client *http.Client, d nbDelivery) (int, error) {
	req, _ := http.NewRequest(http.MethodPost, b.sys.GatewayURL+"/websub/callback/", bytes.NewReader(d.body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature", d.signature)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// nbPercentile is the p-th percentile of sorted (nearest rank).
func nbPercentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(len(sorted)-1, i-1))]
}

func nbMS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// nbEnvInt reads a benchmark knob from the environment (BENCH_*), so a run
// can try other values without editing the benchmark.
func nbEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// nbEnv is the database's settings plus NOTIFICATION_WORKERS from
// BENCH_WORKERS when set (the service's default otherwise).
func nbEnv(tb testing.TB, db func(testing.TB) map[string]string) map[string]string {
	env := map[string]string{}
	maps.Copy(env, db(tb))
	if w := os.Getenv("BENCH_WORKERS"); w != "" {
		env["NOTIFICATION_WORKERS"] = w
	}
	return env
}

// nbAck is one delivery's acknowledgement.
type nbAck struct {
	sent, acked time.Time
}

// paced delivers ds open-loop at rate per second: each delivery leaves on
// its tick, whether or not the earlier ones were answered. It fails the
// benchmark on any answer but 200.
func (b *notifBench) paced(tb testing.TB, ds []nbDelivery, rate int) []nbAck {
	tb.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512}, Timeout: 30 * time.Second}
	acks := make([]nbAck, len(ds))
	interval := time.Second / time.Duration(rate)
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i, d := range ds {
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		wg.Go(func() {
			sent := time.Now()
			st, err := b.deliver(client, d)
			acks[i] = nbAck{sent: sent, acked: time.Now()}
			if (err != nil || st != http.StatusOK) && failed.Add(1) == 1 {
				tb.Errorf("delivery %d: %d %v", i, st, err)
			}
		})
	}
	wg.Wait()
	client.CloseIdleConnections()
	return acks
}

// accepts waits for a successful register.accept of each OpenCRVS event in
// ds and returns when the sandbox OpenCRVS recorded each. It looks at new
// calls only, every 20 ms, to take little of the CPU it measures.
func (b *notifBench) accepts(tb testing.TB, ds []nbDelivery, within time.Duration) map[string]time.Time {
	tb.Helper()
	want := map[string]bool{}
	for _, d := range ds {
		want[d.crvsEvent] = true
	}
	at := map[string]time.Time{}
	seen := 0
	deadline := time.Now().Add(within)
	for {
		calls := b.sb.CRVS.Calls()
		for _, c := range calls[min(seen, len(calls)):] {
			if c.Procedure != "event.actions.register.accept" || c.Status != http.StatusOK {
				continue
			}
			var in struct {
				EventID string `json:"eventId"`
			}
			if json.Unmarshal(c.Input, &in) == nil && want[in.EventID] {
				if t, ok := at[in.EventID]; !ok || c.At.Before(t) {
					at[in.EventID] = c.At
				}
			}
		}
		seen = len(calls)
		if len(at) == len(want) {
			return at
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d records accepted after %s", len(at), len(want), within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkWebSubCallback is the hub's view of the callback: correctly
// signed CREDENTIAL_ISSUED deliveries, each a new event, posted to the
// gateway's POST /websub/callback/ open-loop at 200 per second
// (BENCH_RATE) for 3 seconds or b.N deliveries, whichever is more, and the
// time each took to be acknowledged (stored with its job, then answered).
// The deliveries are the credentials of real births, so the workers
// process them (decrypt, verify, accept in OpenCRVS) meanwhile, as in
// production. Target: p99 at most 50 ms at 200/s.
func BenchmarkWebSubCallback(b *testing.B) {
	for _, db := range nbDatabases {
		b.Run(db.name, func(b *testing.B) {
			rate := nbEnvInt("BENCH_RATE", 200)
			br := startNotifBench(b, nbEnv(b, db.env))
			const warm = 20
			n := max(b.N, 3*rate)
			ds := br.births(b, warm+n)
			br.paced(b, ds[:warm], 50) // connections, caches, the first River fetch

			b.ResetTimer()
			stop := nbProfile(b)
			acks := br.paced(b, ds[warm:], rate)
			stop()
			b.StopTimer()
			lat := make([]time.Duration, len(acks))
			first, last := acks[0].sent, acks[0].sent
			for i, a := range acks {
				lat[i] = a.acked.Sub(a.sent)
				first, last = minTime(first, a.sent), maxTime(last, a.sent)
			}
			slices.Sort(lat)
			b.ReportMetric(float64(len(acks)-1)/last.Sub(first).Seconds(), "sent/s")
			b.ReportMetric(nbMS(nbPercentile(lat, 50)), "p50-ms")
			b.ReportMetric(nbMS(nbPercentile(lat, 99)), "p99-ms")
			b.ReportMetric(nbMS(lat[len(lat)-1]), "max-ms")
			b.ReportMetric(0, "ns/op") // the pace, not a cost
		})
	}
}

// BenchmarkCredentialThroughput measures how many credentials per second
// the whole system turns into OpenCRVS accepts: N births are registered
// (MOSIP issues their credentials while the hub holds them), then all N
// CREDENTIAL_ISSUED events are delivered to the gateway's callback at once
// (32 concurrent posters, each as fast as the callback acknowledges) and
// the clock runs from the first delivery to the Nth successful
// register.accept the sandbox OpenCRVS records. Each credential is
// decrypted, its event signature and RsaSignature2018 proof verified, its
// RID resolved, its steps recorded by the packet service and its record
// accepted. A warm-up burst of BENCH_WARMUP (200) more credentials runs
// first, and the database is then settled as one in service is
// (nbDatabases). It also reports how fast the callback acknowledged the
// burst and the CPU this process (the bridge and the sandbox; not the
// PostgreSQL server) spent per credential meanwhile, a figure less at the
// mercy of a shared machine than the rate. BENCH_CREDENTIALS (default 1500,
// or b.N when more) and BENCH_WORKERS (NOTIFICATION_WORKERS) change the
// run. Target: 400/s.
func BenchmarkCredentialThroughput(b *testing.B) {
	for _, db := range nbDatabases {
		b.Run(db.name, func(b *testing.B) {
			env := nbEnv(b, db.env)
			br := startNotifBench(b, env)
			n := max(b.N, nbEnvInt("BENCH_CREDENTIALS", 1500))
			warm := nbEnvInt("BENCH_WARMUP", 200)
			all := br.births(b, warm+n)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}, Timeout: 30 * time.Second}
			if br.burst(b, client, all[:warm]); b.Failed() {
				return
			}
			br.accepts(b, all[:warm], 60*time.Second)
			if db.settle != nil {
				db.settle(b, env)
			}
			ds := all[warm:]

			b.ResetTimer()
			stop := nbProfile(b)
			cpu0 := nbCPU()
			start := time.Now()
			br.burst(b, client, ds)
			ingested := time.Since(start)
			if b.Failed() {
				return
			}
			var last time.Time
			for _, t := range br.accepts(b, ds, 120*time.Second) {
				last = maxTime(last, t)
			}
			cpu := nbCPU() - cpu0
			stop()
			b.StopTimer()
			b.ReportMetric(float64(n)/last.Sub(start).Seconds(), "credentials/s")
			b.ReportMetric(float64(n)/ingested.Seconds(), "acks/s")
			b.ReportMetric(nbMS(cpu)/float64(n), "cpu-ms/credential")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// burst delivers ds from 32 concurrent posters, each posting the next as
// soon as its last was acknowledged; it fails the benchmark on any answer
// but 200.
func (b *notifBench) burst(tb testing.TB, client *http.Client, ds []nbDelivery) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(ds) {
					return
				}
				if st, err := b.deliver(client, ds[i]); err != nil || st != http.StatusOK {
					tb.Errorf("delivery %d: %d %v", i, st, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkCredentialReceiptToAccept is the delay a healthy system adds
// between acknowledging a credential and its record's accept in OpenCRVS:
// credentials of real births delivered open-loop at a moderate 50 per
// second (BENCH_RATE) for 6 seconds or b.N deliveries, whichever is more;
// for each, the time from the callback's 200 to the sandbox OpenCRVS
// recording the successful register.accept. Target: p95 at most 5 s.
func BenchmarkCredentialReceiptToAccept(b *testing.B) {
	for _, db := range nbDatabases {
		b.Run(db.name, func(b *testing.B) {
			rate := nbEnvInt("BENCH_RATE", 50)
			br := startNotifBench(b, nbEnv(b, db.env))
			n := max(b.N, 6*rate)
			ds := br.births(b, n)

			b.ResetTimer()
			stop := nbProfile(b)
			acks := br.paced(b, ds, rate)
			at := br.accepts(b, ds, 60*time.Second)
			stop()
			b.StopTimer()
			lat := make([]time.Duration, len(ds))
			for i, d := range ds {
				lat[i] = at[d.crvsEvent].Sub(acks[i].acked)
			}
			slices.Sort(lat)
			b.ReportMetric(nbMS(nbPercentile(lat, 50)), "p50-ms")
			b.ReportMetric(nbMS(nbPercentile(lat, 95)), "p95-ms")
			b.ReportMetric(nbMS(lat[len(lat)-1]), "max-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// nbCPU is the CPU time this process (the whole system and the sandbox)
// has used so far.
func nbCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// nbProfile writes an execution trace of the measured phase alone to
// BENCH_TRACE, or a CPU profile to BENCH_CPUPROFILE, when set (go test's
// own would mix in the set-up). The trace tells where the wall time goes:
// go tool trace -pprof=sync|syscall|sched.
func nbProfile(tb testing.TB) func() {
	if path := os.Getenv("BENCH_TRACE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			tb.Fatal(err)
		}
		if err := trace.Start(f); err != nil {
			tb.Fatal(err)
		}
		return func() { trace.Stop(); _ = f.Close() }
	}
	path := os.Getenv("BENCH_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		tb.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }
}
