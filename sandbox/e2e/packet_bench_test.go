package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mosipcrvs/bridge/gateway"
	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/logging"
	"github.com/mosipcrvs/bridge/pkg/rpc"
	"github.com/mosipcrvs/bridge/pkg/sqlstore/sqlstoretest"
	packetv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/packet/v1"
	"github.com/mosipcrvs/bridge/sandbox/server"
	"github.com/mosipcrvs/bridge/services/auth-token/authtoken"
	"github.com/mosipcrvs/bridge/services/packet/packet"
)

// packetBridge is the gateway, auth-token and packet services, each on its
// own loopback listener and talking gRPC as separate deployments do, in
// front of a fresh sandbox. The other services are not on the
// registration path, so they are left out.
type packetBridge struct {
	sb *server.Sandbox
	// gatewayURL is the REST edge; packetAddr the packet service's gRPC
	// address.
	gatewayURL, packetAddr string
}

// startPacketBridge starts the bridge; databaseURL, when set, is the packet
// service's Postgres (otherwise a SQLite file in a temporary directory).
func startPacketBridge(tb testing.TB, databaseURL string) *packetBridge {
	tb.Helper()
	// createPacket and workflowinstance answer at once whatever the
	// processing delay; the delay only defers MOSIP's processing of the
	// packet (identity, credential, events), which is MOSIP's work, not
	// the bridge's. Deferring it past the benchmark keeps that work off the
	// cores being measured; PACKET_BENCH_PROCESSING_DELAY (e.g. 1ms) puts
	// it back.
	delay := os.Getenv("PACKET_BENCH_PROCESSING_DELAY")
	if delay == "" {
		delay = "10m"
	}
	sb, _ := startSandbox(tb, map[string]string{"SANDBOX_PROCESSING_DELAY": delay}, nil)

	lis := make([]net.Listener, 3) // auth-token, packet, gateway
	var err error
	for i := range lis {
		if lis[i], err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			tb.Fatal(err)
		}
	}
	env := bridgeEnv(tb, sb)
	maps.Copy(env, map[string]string{
		"GRPC_LISTEN_ADDR": "127.0.0.1:0", "AUTH_TOKEN_ADDR": lis[0].Addr().String(), "PACKET_ADDR": lis[1].Addr().String(),
		// Nothing listens there: registrations only need packet and auth-token.
		"ESIGNET_VERIFY_ADDR": "127.0.0.1:1", "NOTIFICATION_ADDR": "127.0.0.1:1",
		"DATABASE_URL": databaseURL,
	})
	lookup := config.MapLookuper(env)
	var (
		atCfg authtoken.Config
		pkCfg packet.Config
		gwCfg gateway.Config
	)
	for _, cfg := range []any{&atCfg, &pkCfg, &gwCfg} {
		if err := config.Load(cfg, lookup); err != nil {
			tb.Fatal(err)
		}
	}
	log := logging.Discard()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 3)
	go func() { errc <- authtoken.Run(ctx, atCfg, log, lis[0]) }()
	go func() { errc <- packet.Run(ctx, pkCfg, log, lis[1]) }()
	go func() { errc <- gateway.Run(ctx, gwCfg, log, lis[2]) }()
	tb.Cleanup(func() {
		cancel()
		for range 3 {
			if err := <-errc; err != nil {
				tb.Errorf("stopping: %v", err)
			}
		}
	})
	return &packetBridge{sb: sb, gatewayURL: "http://" + lis[2].Addr().String(), packetAddr: lis[1].Addr().String()}
}

// recordTokens mints n record tokens for new OpenCRVS events of the given
// type, each its own event and action (so each submission is a new
// transaction). RS256 signing is the client's cost, not the bridge's, so
// benchmarks mint before the timer starts; both cores share the work.
func (b *packetBridge) recordTokens(tb testing.TB, event string, n int) []string {
	tb.Helper()
	toks := make([]string, n)
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range 4 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				eventID := b.sb.CRVS.CreateEvent(event, map[string]any{})
				actionID, _, err := b.sb.CRVS.RequestAction(eventID, "REGISTER")
				if err == nil {
					toks[i], err = b.sb.CRVS.Auth().RecordToken(opencrvsRecordOptions(eventID, actionID))
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		tb.Fatal(err)
	}
	return toks
}

// benchBirthFields are the requestFields of a birth, distinct per i.
func benchBirthFields(i int) map[string]any {
	return map[string]any{"birthCertificateNumber": fmt.Sprintf("EE%010d", i), "fullName": "Infant Middle Doe",
		"dateOfBirth": "2025-09-01", "gender": "male"}
}

// processCPU is the CPU time this process has used so far (user and
// system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// latencyLog collects request durations from concurrent clients.
type latencyLog struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencyLog) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// quantile returns the q-quantile (0 < q < 1) in milliseconds; it sorts.
func (l *latencyLog) quantile(q float64) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	slices.Sort(l.d)
	return float64(l.d[int(float64(len(l.d))*q)].Microseconds()) / 1000
}

// runRegistrationClients has clients goroutines work through n requests,
// timing each with do, and returns the wall time.
func runRegistrationClients(tb testing.TB, clients, n int, lat *latencyLog, do func(i int) error) time.Duration {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				t0 := time.Now()
				if err := do(i); err != nil {
					tb.Error(err)
					return
				}
				lat.add(time.Since(t0))
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// registrationPoster posts registrations to the gateway like OpenCRVS's
// country configuration does, over kept-alive connections.
type registrationPoster struct {
	client *http.Client
	url    string
}

func newRegistrationPoster(gatewayURL string, conns int) *registrationPoster {
	return &registrationPoster{
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns}, Timeout: 15 * time.Second},
		url:    gatewayURL + "/events/registration",
	}
}

func (p *registrationPoster) post(token, body string) error {
	req, _ := http.NewRequest(http.MethodPost, p.url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || string(out) != "{}" {
		return fmt.Errorf("POST /events/registration = %d %s, want 202 {}", resp.StatusCode, out)
	}
	return nil
}

// BenchmarkRegistrationThroughGateway drives POST /events/registration
// through the gateway with concurrent clients (16; PACKET_BENCH_CLIENTS
// changes it), every request a new birth with its own record token, so its
// own transaction, each answered once the packet service has created the
// packet and started the workflow in the sandbox MOSIP. It reports
// throughput, p50 and p99 latency, the auth-manager calls 1,000
// registrations cost (beyond auth-token's start-up, one token per MOSIP
// client), and the CPU time one registration costs this process.
//
// The Postgres pool is 16 connections (PACKET_BENCH_POOL_MAX_CONNS
// changes it): pgx's default, max(4, CPUs), starves 16 concurrent
// registrations on a small machine.
func BenchmarkRegistrationThroughGateway(b *testing.B) {
	clients := 16
	if v, err := strconv.Atoi(os.Getenv("PACKET_BENCH_CLIENTS")); err == nil && v > 0 {
		clients = v
	}
	for _, db := range []struct {
		name string
		url  func(b *testing.B) string
	}{
		{"Postgres", func(b *testing.B) string {
			pool := os.Getenv("PACKET_BENCH_POOL_MAX_CONNS")
			if pool == "" {
				pool = "16"
			}
			return sqlstoretest.WithParams(sqlstoretest.PostgresURL(b, "regbench"), map[string]string{"pool_max_conns": pool})
		}},
		{"SQLite", func(*testing.B) string { return "" }},
	} {
		b.Run(db.name, func(b *testing.B) {
			br := startPacketBridge(b, db.url(b))
			p := newRegistrationPoster(br.gatewayURL, clients)
			warm := br.recordTokens(b, "birth", clients)
			toks := br.recordTokens(b, "birth", b.N)
			bodies := make([]string, b.N)
			for i := range bodies {
				bodies[i] = payload(benchBirthFields(i))
			}
			// Warm the connections and the caches (keys, MOSIP token).
			var lat latencyLog
			runRegistrationClients(b, clients, clients, &lat, func(i int) error { return p.post(warm[i], payload(benchBirthFields(-1-i))) })
			lat = latencyLog{d: make([]time.Duration, 0, b.N)}
			authBefore := br.sb.Auth.Calls()

			cpuBefore := processCPU()
			b.ResetTimer()
			elapsed := runRegistrationClients(b, clients, b.N, &lat, func(i int) error { return p.post(toks[i], bodies[i]) })
			b.StopTimer()
			cpu := processCPU() - cpuBefore

			if n := len(lat.d); n > 0 {
				b.ReportMetric(float64(n)/elapsed.Seconds(), "registrations/s")
				b.ReportMetric(lat.quantile(0.50), "p50-ms")
				b.ReportMetric(lat.quantile(0.99), "p99-ms")
				b.ReportMetric(float64(br.sb.Auth.Calls()-authBefore)*1000/float64(n), "auth-calls/1k")
				// What one registration costs this process (clients, gateway,
				// services and sandbox; not Postgres): a figure other load
				// on the machine changes less than the others.
				b.ReportMetric(float64(cpu.Microseconds())/1000/float64(n), "cpu-ms/op")
			}
		})
	}
}

// BenchmarkEdgeOverhead measures what the REST edge adds to a
// registration: the same submission sent by one sequential client straight
// to the packet service over gRPC and through the gateway, reporting both
// medians and their difference.
func BenchmarkEdgeOverhead(b *testing.B) {
	br := startPacketBridge(b, "")
	conn, err := rpc.Dial(br.packetAddr, rpc.ClientOptions{Timeout: 15 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	pc := packetv1.NewPacketServiceClient(conn)
	p := newRegistrationPoster(br.gatewayURL, 1)

	// The gateway's request for a payload: what events.go builds, with
	// the claims of the verified record token.
	grpcRequest := func(tok string, i int) (*packetv1.SubmitRegistrationRequest, error) {
		claims, err := br.sb.CRVS.Auth().Verify(tok, time.Now())
		if err != nil {
			return nil, err
		}
		fields, err := structpb.NewStruct(benchBirthFields(i))
		if err != nil {
			return nil, err
		}
		meta, _ := structpb.NewStruct(map[string]any{"informantPsut": "Wk3nX-psut"})
		eventID, _ := claims["eventId"].(string)
		actionID, _ := claims["actionId"].(string)
		return &packetv1.SubmitRegistrationRequest{
			Kind: packetv1.SubmissionKind_SUBMISSION_KIND_REGISTRATION, TrackingId: "BXZK9QF",
			RequestFields: fields, MetaInfo: meta, Audit: &structpb.Struct{Fields: map[string]*structpb.Value{}},
			Notification: &packetv1.Notification{RecipientFullName: "@TODO", RecipientEmail: "@TODO", RecipientPhone: "@TODO"},
			CrvsToken:    tok, EventId: eventID, ActionId: actionID,
		}, nil
	}

	const warmN = 20
	n := max(b.N, 1)
	toks := br.recordTokens(b, "birth", 2*(n+warmN))
	grpcReqs := make([]*packetv1.SubmitRegistrationRequest, n+warmN)
	for i := range grpcReqs {
		if grpcReqs[i], err = grpcRequest(toks[i], i); err != nil {
			b.Fatal(err)
		}
	}
	restToks, bodies := toks[n+warmN:], make([]string, n+warmN)
	for i := range bodies {
		bodies[i] = payload(benchBirthFields(n + warmN + i))
	}
	viaGRPC := func(i int) error {
		ctx, cancel := context.WithTimeout(context.Background(), 14*time.Second)
		defer cancel()
		_, err := pc.SubmitRegistration(ctx, grpcReqs[i])
		return err
	}
	viaREST := func(i int) error { return p.post(restToks[i], bodies[i]) }

	// Interleave the two so both see the same machine load.
	var grpcLat, restLat latencyLog
	for i := range warmN {
		if err := viaGRPC(n + i); err != nil {
			b.Fatal(err)
		}
		if err := viaREST(n + i); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		if err := viaGRPC(i); err != nil {
			b.Fatal(err)
		}
		grpcLat.add(time.Since(t0))
		t0 = time.Now()
		if err := viaREST(i); err != nil {
			b.Fatal(err)
		}
		restLat.add(time.Since(t0))
	}
	b.StopTimer()
	g, r := grpcLat.quantile(0.5), restLat.quantile(0.5)
	b.ReportMetric(g, "grpc-p50-ms")
	b.ReportMetric(r, "rest-p50-ms")
	b.ReportMetric(r-g, "edge-p50-ms")
}
