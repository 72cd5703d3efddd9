package packet

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/logging"
	"github.com/mosipcrvs/bridge/pkg/rpc"
	packetv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/packet/v1"
	"github.com/mosipcrvs/bridge/services/packet/internal/store"
)

// fakeMOSIP answers createPacket and workflowinstance in MOSIP's envelope
// and counts the calls.
type fakeMOSIP struct {
	srv *httptest.Server

	mu            sync.Mutex
	createCalls   int
	createOK      int
	createRIDs    []string
	workflowCalls int
	workflowOK    int
	createFail    []int  // statuses answered to the next createPacket calls
	workflowDown  bool   // workflowinstance answers 503
	refuse        string // createPacket answers 200 with this error code
	// createDelay is how long the next createPacket calls take; MOSIP
	// goes on with a call whose client gave up, and so does the fake.
	createDelay []time.Duration
	// creating counts the createPacket calls in progress per RID, and
	// maxCreating the most there ever were for one RID.
	creating    map[string]int
	maxCreating int
}

func newFakeMOSIP(t *testing.T) *fakeMOSIP {
	t.Helper()
	f := &fakeMOSIP{}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeMOSIP) serve(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Request struct {
			ID             string `json:"id"`
			RegistrationID string `json:"registrationId"`
		} `json:"request"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	if !strings.Contains(r.Header.Get("Cookie"), "Authorization=test-token") {
		http.Error(w, "no token", http.StatusUnauthorized)
		return
	}
	if r.URL.Path == "/create" {
		// Counted and delayed outside the lock, so that concurrent calls
		// overlap as they would in MOSIP.
		rid := body.Request.ID
		f.mu.Lock()
		if f.creating == nil {
			f.creating = map[string]int{}
		}
		f.creating[rid]++
		f.maxCreating = max(f.maxCreating, f.creating[rid])
		var delay time.Duration
		if len(f.createDelay) > 0 {
			delay, f.createDelay = f.createDelay[0], f.createDelay[1:]
		}
		f.mu.Unlock()
		time.Sleep(delay)
		defer func() {
			f.mu.Lock()
			f.creating[rid]--
			f.mu.Unlock()
		}()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	answer := func(response any, errs any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": "x", "version": "v1", "responsetime": "2025-01-01T00:00:00.000Z", "response": response, "errors": errs,
		})
	}
	switch r.URL.Path {
	case "/create":
		f.createCalls++
		f.createRIDs = append(f.createRIDs, body.Request.ID)
		if len(f.createFail) > 0 {
			code := f.createFail[0]
			f.createFail = f.createFail[1:]
			w.WriteHeader(code)
			return
		}
		if f.refuse != "" {
			answer(nil, []map[string]string{{"errorCode": f.refuse, "message": "no writer provider for source and process"}})
			return
		}
		f.createOK++
		rid := body.Request.ID
		answer([]map[string]string{{"id": rid, "packetName": rid + "_id"}, {"id": rid, "packetName": rid + "_evidence"}}, nil)
	case "/workflow":
		f.workflowCalls++
		if f.workflowDown {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		f.workflowOK++
		answer(map[string]string{"workflowInstanceId": "wf-" + body.Request.RegistrationID}, nil)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeMOSIP) counts() (create, createOK, workflow, workflowOK int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.createCalls, f.createOK, f.workflowCalls, f.workflowOK
}

type fakeTokens struct{}

func (fakeTokens) Token(context.Context) (string, error)    { return "test-token", nil }
func (fakeTokens) Invalidate(context.Context, string) error { return nil }

func testKeys(t *testing.T) string {
	t.Helper()
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return "k1:" + base64.StdEncoding.EncodeToString(k)
}

// testConfig loads a valid configuration against the fake MOSIP, with
// extra overriding the defaults.
func testConfig(t *testing.T, f *fakeMOSIP, dbPath, keys string, extra map[string]string) Config {
	t.Helper()
	env := map[string]string{
		"PACKET_TOKEN_KEYS":        keys,
		"MOSIP_CREATE_PACKET_URL":  f.srv.URL + "/create",
		"MOSIP_PROCESS_PACKET_URL": f.srv.URL + "/workflow",
		"PACKET_SQLITE_PATH":       dbPath,
		"PACKET_SYNC_DEADLINE":     "5s",
	}
	for k, v := range extra {
		env[k] = v
	}
	var cfg Config
	if err := config.Load(&cfg, config.MapLookuper(env)); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startService builds and starts a service; stop (also run at cleanup)
// stops it like a shutdown. Jobs of new transactions may run 100 ms after
// the request's own drive (not 5 s), so fallbacks show within a test.
func startService(t *testing.T, cfg Config) (svc *Service, stop func()) {
	t.Helper()
	svc, err := newService(context.Background(), cfg, logging.Discard(),
		options{tokens: fakeTokens{}, backoff: 10 * time.Millisecond, jobGrace: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			if err := svc.Close(); err != nil {
				t.Errorf("Close() = %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return svc, stop
}

func mustStruct(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func birthFields() map[string]any {
	return map[string]any{"birthCertificateNumber": "EE008OLG4317", "fullName": "Infant Middle Doe", "dateOfBirth": "2025-09-01", "gender": "male"}
}

func request(t *testing.T, kind packetv1.SubmissionKind, fields map[string]any, eventID string) *packetv1.SubmitRegistrationRequest {
	t.Helper()
	return &packetv1.SubmitRegistrationRequest{
		TrackingId: "BXZK9QF", Kind: kind, CrvsToken: "crvs.jwt.token", EventId: eventID, ActionId: "action-1",
		RequestFields: mustStruct(t, fields),
		MetaInfo:      mustStruct(t, map[string]any{"informantPsut": "psut-1"}),
		Audit:         mustStruct(t, map[string]any{}),
		Notification:  &packetv1.Notification{RecipientFullName: "Jane Doe", RecipientEmail: "jane@example.com", RecipientPhone: "+15550001"},
	}
}

func violations(err error) map[string]string {
	out := map[string]string{}
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out[v.GetField()] = v.GetDescription()
			}
		}
	}
	return out
}

func waitStatus(t *testing.T, svc *Service, id string, want store.Status) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		tx, err := svc.store.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if tx.Status == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tx, _ := svc.store.Get(context.Background(), id)
	t.Fatalf("transaction %s is %s (last error %q), want %s", id, tx.Status, tx.LastError, want)
}

// Every configuration problem is reported at once, each naming its variable.
func TestConfigValidation(t *testing.T) {
	t.Parallel()
	var cfg Config
	err := config.Load(&cfg, config.MapLookuper(map[string]string{
		"MOSIP_CREATE_PACKET_URL": "not a url",
		"MOSIP_CENTER_ID":         "12",
		"MOSIP_MACHINE_ID":        "abcde",
		"MOSIP_SCHEMA_VERSION":    "v1",
		"PACKET_RID_FORM":         "long",
		"TRANSACTION_ID_PREFIX":   "10x",
		"PACKET_SYNC_DEADLINE":    "0s",
		"DATABASE_URL":            "mysql://db/x",
		"PACKET_ID_SCHEMA":        "{not json",
		"PACKET_FIELD_MAPPING":    "{not json",
		"PACKET_RETENTION":        "-1h",
	}))
	if err == nil {
		t.Fatal("Load() = nil, want problems")
	}
	for _, name := range []string{"PACKET_TOKEN_KEYS", "MOSIP_CREATE_PACKET_URL", "MOSIP_PROCESS_PACKET_URL", "MOSIP_CENTER_ID",
		"MOSIP_MACHINE_ID", "MOSIP_SCHEMA_VERSION", "PACKET_RID_FORM", "TRANSACTION_ID_PREFIX", "PACKET_SYNC_DEADLINE",
		"DATABASE_URL", "PACKET_ID_SCHEMA", "PACKET_FIELD_MAPPING", "PACKET_RETENTION"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("problems do not mention %s:\n%v", name, err)
		}
	}

	// A bad keyring is reported without its key material.
	err = config.Load(&cfg, config.MapLookuper(map[string]string{
		"PACKET_TOKEN_KEYS": "k1:c2VjcmV0", "MOSIP_CREATE_PACKET_URL": "http://m/c", "MOSIP_PROCESS_PACKET_URL": "http://m/w",
	}))
	if err == nil || !strings.Contains(err.Error(), "PACKET_TOKEN_KEYS") || strings.Contains(err.Error(), "c2VjcmV0") {
		t.Errorf("bad keyring: %v", err)
	}

	// A retention without a unit is refused, naming the variable.
	err = config.Load(&cfg, config.MapLookuper(map[string]string{
		"PACKET_TOKEN_KEYS": testKeys(t), "MOSIP_CREATE_PACKET_URL": "http://m/c", "MOSIP_PROCESS_PACKET_URL": "http://m/w",
		"PACKET_RETENTION": "30d",
	}))
	if err == nil || !strings.Contains(err.Error(), "PACKET_RETENTION") {
		t.Errorf("PACKET_RETENTION=30d: %v, want a problem naming PACKET_RETENTION", err)
	}

	// Defaults.
	f := newFakeMOSIP(t)
	good := testConfig(t, f, filepath.Join(t.TempDir(), "p.db"), testKeys(t), nil)
	if good.ListenAddr != "127.0.0.1:9102" || good.AuthTokenAddr != "127.0.0.1:9101" || good.TransactionIDPrefix != "10001" ||
		good.CenterID != "10001" || good.MachineID != "10004" || good.PacketSource != "CRVS1" || good.ProcessBirth != "CRVS_NEW" ||
		good.ProcessDeath != "CRVS_DEATH" || good.ProcessUpdate != "CRVS_UPDATE" || good.SchemaVersion != "0.1" ||
		good.RIDForm != "mosip29" || good.RetryHorizon != 72*time.Hour || good.SQLitePath == "" || good.Retention != 720*time.Hour {
		t.Errorf("defaults: %+v", good)
	}
}

// The process follows the kind and the certificate number; every problem
// comes back as InvalidArgument with one violation per field.
func TestProcessSelectionAndViolations(t *testing.T) {
	t.Parallel()
	f := newFakeMOSIP(t)
	svc, _ := startService(t, testConfig(t, f, filepath.Join(t.TempDir(), "p.db"), testKeys(t), nil))
	srv := &server{svc: svc}
	reg, upd := packetv1.SubmissionKind_SUBMISSION_KIND_REGISTRATION, packetv1.SubmissionKind_SUBMISSION_KIND_UPDATE_BIOGRAPHICS
	with := func(extra map[string]any, drop ...string) map[string]any {
		m := birthFields()
		for _, k := range drop {
			delete(m, k)
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	death := map[string]any{"deathCertificateNumber": "DD01234ABCDE", "fullName": "Deceased Doe", "dateOfBirth": "1950-03-04",
		"gender": "female", "nationalIdNumber": "7186723906"}
	tests := []struct {
		name       string
		kind       packetv1.SubmissionKind
		fields     map[string]any
		schema     string
		want       packetv1.Process
		violations []string
	}{
		{name: "birth", kind: reg, fields: birthFields(), want: packetv1.Process_PROCESS_CRVS_NEW},
		{name: "death", kind: reg, fields: death, want: packetv1.Process_PROCESS_CRVS_DEATH},
		{name: "correction", kind: upd, fields: map[string]any{"VID": "8031687218", "fullName": "Infant Updated"}, want: packetv1.Process_PROCESS_CRVS_UPDATE},
		{name: "neither certificate number", kind: reg, fields: with(nil, "birthCertificateNumber"), violations: []string{"requestFields.birthCertificateNumber"}},
		{name: "blank certificate number", kind: reg, fields: with(map[string]any{"birthCertificateNumber": "  "}), violations: []string{"requestFields.birthCertificateNumber"}},
		{name: "both certificate numbers", kind: reg, fields: with(map[string]any{"deathCertificateNumber": "D1"}), violations: []string{"requestFields.deathCertificateNumber"}},
		{name: "correction without VID", kind: upd, fields: map[string]any{"fullName": "X"}, violations: []string{"requestFields.VID"}},
		{name: "no kind", kind: packetv1.SubmissionKind_SUBMISSION_KIND_UNSPECIFIED, fields: birthFields(), violations: []string{"kind"}},
		{name: "mapping problems", kind: reg, fields: with(map[string]any{"dateOfBirth": "first of May"}, "fullName"),
			violations: []string{"requestFields.dateOfBirth", "requestFields.fullName"}},
		{name: "death without UIN", kind: reg, fields: map[string]any{"deathCertificateNumber": "D1", "fullName": "Deceased Doe"}, violations: []string{"requestFields.nationalIdNumber"}},
		{name: "bad schema", kind: reg, fields: birthFields(), schema: "{not json", violations: []string{"schemaJson"}},
	}
	for i, tc := range tests {
		req := request(t, tc.kind, tc.fields, "event-"+string(rune('a'+i)))
		req.SchemaJson = tc.schema
		resp, err := srv.SubmitRegistration(context.Background(), req)
		if tc.violations != nil {
			got := violations(err)
			if status.Code(err) != codes.InvalidArgument || !slices.Equal(slices.Sorted(mapsKeys(got)), tc.violations) {
				t.Errorf("%s: err = %v, violations %v; want InvalidArgument with %v", tc.name, err, got, tc.violations)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v (%v)", tc.name, err, violations(err))
			continue
		}
		if resp.GetProcess() != tc.want || resp.GetStatus() != string(store.StatusProcessingStarted) || !resp.GetCreated() {
			t.Errorf("%s: %v, want %v processing_started created", tc.name, resp, tc.want)
		}
	}
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// The happy path creates one packet and one workflow; resubmitting the same
// event and action returns the same transaction and sends nothing.
func TestHappyPathAndResubmission(t *testing.T) {
	t.Parallel()
	f := newFakeMOSIP(t)
	svc, _ := startService(t, testConfig(t, f, filepath.Join(t.TempDir(), "p.db"), testKeys(t), nil))
	srv := &server{svc: svc}
	ctx := context.Background()
	req := request(t, packetv1.SubmissionKind_SUBMISSION_KIND_REGISTRATION, birthFields(), "event-1")
	resp, err := srv.SubmitRegistration(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetStatus() != "processing_started" || !resp.GetCreated() || resp.GetProcess() != packetv1.Process_PROCESS_CRVS_NEW ||
		!strings.HasPrefix(resp.GetTransactionId(), "10001") || len(resp.GetTransactionId()) != 15 {
		t.Fatalf("SubmitRegistration = %v", resp)
	}
	if c, cok, w, wok := f.counts(); c != 1 || cok != 1 || w != 1 || wok != 1 {
		t.Errorf("calls: createPacket %d (%d ok), workflow %d (%d ok); want 1 each", c, cok, w, wok)
	}
	tx, err := svc.store.Get(ctx, resp.GetTransactionId())
	if err != nil {
		t.Fatal(err)
	}
	if len(tx.RegistrationID) != 29 || !strings.HasPrefix(tx.RegistrationID, "1000110004") || tx.RegistrationNumber != "EE008OLG4317" ||
		tx.Token.Value() != "crvs.jwt.token" {
		t.Errorf("stored transaction: rid %q, brn %q", tx.RegistrationID, tx.RegistrationNumber)
	}

	again, err := srv.SubmitRegistration(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if again.GetCreated() || again.GetTransactionId() != resp.GetTransactionId() || again.GetStatus() != "processing_started" {
		t.Errorf("resubmission = %v, want the same transaction, created false", again)
	}
	time.Sleep(100 * time.Millisecond)
	if c, _, w, _ := f.counts(); c != 1 || w != 1 {
		t.Errorf("after resubmission: createPacket %d, workflow %d; want 1, 1", c, w)
	}

	got, err := srv.GetTransaction(ctx, &packetv1.GetTransactionRequest{TransactionId: resp.GetTransactionId()})
	if err != nil || got.GetStatus() != "processing_started" || got.GetCreatedAt().AsTime().IsZero() {
		t.Errorf("GetTransaction = %v, %v", got, err)
	}
	if _, err := srv.GetTransaction(ctx, &packetv1.GetTransactionRequest{TransactionId: "100019999999999"}); status.Code(err) != codes.NotFound {
		t.Errorf("GetTransaction(unknown) = %v, want NotFound", err)
	}
}

// MOSIP unavailable twice, then up: retried with the same RID, one packet.
func TestTemporaryFailureThenSuccess(t *testing.T) {
	t.Parallel()
	f := newFakeMOSIP(t)
	f.createFail = []int{http.StatusServiceUnavailable, http.StatusServiceUnavailable}
	svc, _ := startService(t, testConfig(t, f, filepath.Join(t.TempDir(), "p.db"), testKeys(t), map[string]string{"PACKET_RID_FORM": "short"}))
	resp, err := (&server{svc: svc}).SubmitRegistration(context.Background(),
		request(t, packetv1.SubmissionKind_SUBMISSION_KIND_REGISTRATION, birthFields(), "event-1"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetStatus() != "processing_started" {
		t.Fatalf("status = %s, want processing_started", resp.GetStatus())
	}
	c, cok, w, _ := f.counts()
	if c != 3 || cok != 1 || w != 1 {
		t.Errorf("createPacket %d calls (%d ok), workflow %d; want 3 (1 ok), 1", c, cok, w)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, rid := range f.createRIDs {
		if rid != resp.GetTransactionId() {
			t.Errorf("createPacket RIDs %v, want the transaction id (short form) every time", f.createRIDs)
			break
		}
	}
}

// Killed after createPacket and before workflowinstance succeeded: the
// restarted service resumes at the workflow and never re-creates the packet.
func TestRestartBetweenCreateAndWorkflow(t *testing.T) {
	t.Parallel()
	f := newFakeMOSIP(t)
	f.workflowDown = true
	dbPath, keys := filepath.Join(t.TempDir(), "p.db"), testKeys(t)
	cfg := testConfig(t, f, dbPath, keys, map[string]string{"PACKET_SYNC_DEADLINE": "300ms"})
	svc1, stop1 := startService(t, cfg)
	resp, err := (&server{svc: svc1}).SubmitRegistration(context.Background(),
		request(t, packetv1.SubmissionKind_SUBMISSION_KIND_REGISTRATION, birthFields(), "event-1"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetStatus() != "packet_created" {
		t.Fatalf("status = %s, want packet_created (MOSIP's workflow manager is down)", resp.GetStatus())
	}
	stop1()
	tx, err := store.OpenSQLite(context.Background(), dbPath, store.Options{Keyring: mustKeyring(t, keys)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := tx.Get(context.Background(), resp.GetTransactionId())
	_ = tx.Close()
	if err != nil || got.Status != store.StatusPacketCreated || got.Attempts == 0 || !strings.HasPrefix(got.LastError, "HTTP_503") {
		t.Fatalf("after stop: %+v, %v; want packet_created with failed attempts", got, err)
	}

	f.mu.Lock()
	f.workflowDown = false
	f.mu.Unlock()
	svc2, _ := startService(t, cfg)
	waitStatus(t, svc2, resp.GetTransactionId(), store.StatusProcessingStarted)
	if c, cok, _, wok := f.counts(); c != 1 || cok != 1 || wok != 1 {
		t.Errorf("createPacket %d calls (%d ok), workflow %d ok; want exactly one packet and one workflow", c, cok, wok)
	}
}

func mustKeyring(t *testing.T, spec string) *store.Keyring {
	t.Helper()
	k, err := store.ParseKeyring(spec)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// A refusal (HTTP 200 with errors[]) fails the transaction at once with
// MOSIP's code and no retry.
func TestPermanentRefusal(t *testing.T) {
	t.Parallel()
	f := newFakeMOSIP(t)
	f.refuse = "KER-PUT-006"
	svc, _ := startService(t, testConfig(t, f, filepath.Join(t.TempDir(), "p.db"), testKeys(t), nil))
	srv := &server{svc: svc}
	_, err := srv.SubmitRegistration(context.Background(),
		request(t, packetv1.SubmissionKind_SUBMISSION_KIND_REGISTRATION, birthFields(), "event-1"))
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("err = %v, want FailedPrecondition", err)
	}
	var info *errdetails.ErrorInfo
	for _, d := range status.Convert(err).Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	if info == nil || info.GetReason() != "KER-PUT-006" || info.GetDomain() != "mosip" {
		t.Errorf("ErrorInfo = %v, want reason KER-PUT-006 domain mosip", info)
	}
	for _, pd := range []string{"Infant", "EE008OLG4317", "jane"} {
		if strings.Contains(status.Convert(err).Message(), pd) {
			t.Errorf("message %q carries personal data", status.Convert(err).Message())
		}
	}
	time.Sleep(200 * time.Millisecond)
	if c, _, w, _ := f.counts(); c != 1 || w != 0 {
		t.Errorf("createPacket %d, workflow %d; want 1, 0 (no retry)", c, w)
	}
	// Resubmission answers the same failure at once.
	_, err = srv.SubmitRegistration(context.Background(),
		request(t, packetv1.SubmissionKind_SUBMISSION_KIND_REGISTRATION, birthFields(), "event-1"))
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("resubmission: %v, want FailedPrecondition", err)
	}
}

// Temporary failures past PACKET_RETRY_HORIZON flag the transaction for
// rejection and stop retrying.
func TestRetryHorizon(t *testing.T) {
	t.Parallel()
	f := newFakeMOSIP(t)
	f.createFail = []int{http.StatusServiceUnavailable, http.StatusServiceUnavailable, http.StatusServiceUnavailable}
	svc, _ := startService(t, testConfig(t, f, filepath.Join(t.TempDir(), "p.db"), testKeys(t),
		map[string]string{"PACKET_RETRY_HORIZON": "1ms", "PACKET_SYNC_DEADLINE": "100ms"}))
	resp, err := (&server{svc: svc}).SubmitRegistration(context.Background(),
		request(t, packetv1.SubmissionKind_SUBMISSION_KIND_REGISTRATION, birthFields(), "event-1"))
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, svc, resp.GetTransactionId(), store.StatusFlaggedForRejection)
	time.Sleep(100 * time.Millisecond)
	if c, _, _, _ := f.counts(); c != 1 {
		t.Errorf("createPacket calls = %d, want 1 (no retry past the horizon)", c)
	}
}

// Run serves the API over real gRPC, healthy, and shuts down cleanly.
func TestRunServes(t *testing.T) {
	t.Parallel()
	f := newFakeMOSIP(t)
	cfg := testConfig(t, f, filepath.Join(t.TempDir(), "sub", "p.db"), testKeys(t), nil)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, cfg, logging.Discard(), lis, options{tokens: fakeTokens{}, backoff: 10 * time.Millisecond})
	}()
	conn, err := rpc.Dial(lis.Addr().String(), rpc.ClientOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var hc *healthpb.HealthCheckResponse
	for range 100 {
		hc, err = healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{Service: packetv1.PacketService_ServiceDesc.ServiceName})
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health = %v, %v; want SERVING", hc.GetStatus(), err)
	}
	client := packetv1.NewPacketServiceClient(conn)
	resp, err := client.SubmitRegistration(context.Background(),
		request(t, packetv1.SubmissionKind_SUBMISSION_KIND_REGISTRATION, birthFields(), "event-1"))
	if err != nil || resp.GetStatus() != "processing_started" {
		t.Errorf("SubmitRegistration = %v, %v", resp, err)
	}
	if _, err := client.GetTransaction(context.Background(), &packetv1.GetTransactionRequest{TransactionId: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("GetTransaction(unknown) = %v, want NotFound", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run() = %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return")
	}
	if err := run(context.Background(), Config{}, logging.Discard(), mustListen(t), options{}); err == nil ||
		!strings.Contains(err.Error(), "PACKET_TOKEN_KEYS") {
		t.Errorf("Run(empty config) = %v, want the configuration problems", err)
	}
}

func mustListen(t *testing.T) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

// River hands a job a dead replica left running to another worker after
// the job's timeout and a margin, not River's default hour.
func TestRescueAfterJobTimeout(t *testing.T) {
	t.Parallel()
	if rescueAfter <= jobTimeout || rescueAfter > jobTimeout+5*time.Minute {
		t.Errorf("rescue after %s with a job timeout of %s; want the timeout and a margin of minutes", rescueAfter, jobTimeout)
	}
}
