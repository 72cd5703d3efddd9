package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/logging"
	"github.com/mosipcrvs/bridge/sandbox/fault"
	"github.com/mosipcrvs/bridge/sandbox/mosip"
	"github.com/mosipcrvs/bridge/sandbox/server"
	"github.com/mosipcrvs/bridge/services/packet/idschema"
	"github.com/mosipcrvs/bridge/services/packet/mapping"
	"github.com/mosipcrvs/bridge/services/packet/mosipclient"
)

// sandboxTokens fetches the packet client's token from the sandbox auth
// manager, caching it until MOSIP rejects it (what auth-token does, minus
// the cache levels).
type sandboxTokens struct {
	url, id, secret string
	mu              sync.Mutex
	tok             string
	invalidations   int
}

func (s *sandboxTokens) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != "" {
		return s.tok, nil
	}
	body := fmt.Sprintf(`{"id":"mosip.io.clientId.pwd","version":"1.0","requesttime":%q,"metadata":{},"request":{"clientId":%q,"secretKey":%q,"appId":"admin"}}`,
		time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), s.id, s.secret)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.url+mosip.AuthPath, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	s.tok = resp.Header.Get("Authorization")
	if s.tok == "" {
		return "", errors.New("no token")
	}
	return s.tok, nil
}

func (s *sandboxTokens) Invalidate(_ context.Context, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if token == s.tok {
		s.tok = ""
	}
	s.invalidations++
	return nil
}

type harness struct {
	sb      *server.Sandbox
	tokens  *sandboxTokens
	client  *mosipclient.Client
	builder *mosipclient.Builder
	rids    *mosipclient.RIDGenerator
	schema  *idschema.Schema
	mapping *mapping.Mapping
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	var cfg server.Config
	if err := config.Load(&cfg, config.MapLookuper(map[string]string{"SANDBOX_PROCESSING_DELAY": "10ms", "SANDBOX_HUB_RETRY_BACKOFF": "10ms"})); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	sb, err := server.New(cfg, "http://"+srv.Listener.Addr().String(), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = sb.Handler()
	srv.Start()
	t.Cleanup(func() { srv.Close(); _ = sb.Close() })
	tokens := &sandboxTokens{url: srv.URL, id: cfg.PacketClientID, secret: cfg.PacketClientSecret.Value()}
	rids, err := mosipclient.NewRIDGenerator(mosipclient.RIDConfig{Form: mosipclient.RIDMOSIP29, CenterID: "10001", MachineID: "10004"})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{
		sb: sb, tokens: tokens, rids: rids, schema: idschema.Default(), mapping: mapping.DefaultMapping(),
		client:  &mosipclient.Client{BaseURL: srv.URL, HTTP: mosipclient.NewHTTPClient(10*time.Second, nil), Tokens: tokens},
		builder: &mosipclient.Builder{CenterID: "10001", MachineID: "10004", Source: "CRVS1", SchemaVersion: "0.1"},
	}
}

// send maps an OpenCRVS payload, creates the packet and starts its workflow,
// then waits for the sandbox to process it.
func (h *harness) send(t *testing.T, ev mapping.Event, process string, requestFields, metaInfo map[string]any) (string, mosip.WorkflowInstance) {
	t.Helper()
	ctx := context.Background()
	res := h.mapping.Apply(ev, mapping.Input{RequestFields: requestFields, MetaInfo: metaInfo}, h.schema)
	if len(res.Problems) > 0 {
		t.Fatalf("mapping problems: %v", res.Problems)
	}
	rid, err := h.rids.Next(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	regType := mosipclient.RegistrationNew
	if process != "CRVS_NEW" {
		regType = mosipclient.RegistrationUpdate
	}
	req, err := h.builder.CreatePacket(mosipclient.PacketInput{RID: rid, Process: process, RegistrationType: regType,
		SchemaJSON: string(h.schema.JSON()), Fields: res.Fields, MetaLabels: res.Labels})
	if err != nil {
		t.Fatal(err)
	}
	infos, err := h.client.CreatePacket(ctx, req)
	if err != nil || len(infos) != 3 {
		t.Fatalf("CreatePacket = %d infos, %v", len(infos), err)
	}
	wf, err := h.builder.WorkflowInstance(mosipclient.WorkflowInput{RID: rid, Process: process})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.StartWorkflow(ctx, wf); err != nil {
		t.Fatalf("StartWorkflow = %v", err)
	}
	if _, err := h.client.StartWorkflow(ctx, wf); !errors.Is(err, mosipclient.ErrAlreadySubmitted) {
		t.Errorf("second StartWorkflow = %v, want ErrAlreadySubmitted (RPR-WIS-001)", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := h.sb.RegProc.WaitIdle(wctx); err != nil {
		t.Fatal(err)
	}
	for _, in := range h.sb.RegProc.Instances() {
		if in.RegistrationID == rid {
			return rid, in
		}
	}
	t.Fatalf("no workflow instance for %s", rid)
	return "", mosip.WorkflowInstance{}
}

// Today's OpenCRVS payloads (farajaland's shapes), mapped with the default
// mapping, are accepted and processed by the emulated MOSIP: a birth gets a
// UIN and a credential, the death of that person is processed without a
// credential, and a correction by VID updates the identity.
func TestOpenCRVSPayloadsThroughTheMOSIPClient(t *testing.T) {
	t.Parallel()
	h := newHarness(t)

	rid, birth := h.send(t, mapping.Birth, "CRVS_NEW", map[string]any{
		"birthCertificateNumber": "EE008OLG4317", "fullName": "Infant Middle Doe",
		"dateOfBirth": "2025-09-01", "gender": "male",
	}, map[string]any{"informantPsut": "Wk3nX-psut"})
	if birth.Status != "PROCESSED" || birth.UIN == "" {
		t.Fatalf("birth %s: %s %s %s", rid, birth.Status, birth.ErrorCode, birth.Reason)
	}
	if n := len(h.sb.Credentials.Issued()); n != 1 {
		t.Errorf("credentials issued after the birth = %d, want 1", n)
	}
	if len(h.sb.Packets.DroppedFields(rid)) != 0 {
		t.Errorf("MOSIP dropped fields the mapping sent: %+v", h.sb.Packets.DroppedFields(rid))
	}

	person, err := h.sb.Registry.Lookup(birth.UIN)
	if err != nil {
		t.Fatal(err)
	}
	deathRID, death := h.send(t, mapping.Death, "CRVS_DEATH", map[string]any{
		"deathCertificateNumber": "DD0001", "fullName": "Infant Middle Doe", "dateOfBirth": "2025-09-01",
		"gender": "male", "nationalIdNumber": birth.UIN,
	}, map[string]any{})
	if death.Status != "PROCESSED" {
		t.Fatalf("death %s: %s %s %s", deathRID, death.Status, death.ErrorCode, death.Reason)
	}
	if got, _ := h.sb.Registry.Lookup(birth.UIN); !got.Deceased {
		t.Error("the person is not marked deceased")
	}
	if n := len(h.sb.Credentials.Issued()); n != 1 {
		t.Errorf("credentials issued after the death = %d, want still 1", n)
	}
	if dp, ok := h.sb.Packets.Packet(deathRID); ok {
		for k := range dp.Fields {
			if k == "deathCertificateNumber" {
				t.Error("the death certificate number reached the packet fields")
			}
		}
	}

	_, fix := h.send(t, mapping.Correction, "CRVS_UPDATE", map[string]any{
		"VID": person.VID, "fullName": "Infant Updated Doe",
	}, map[string]any{})
	if fix.Status != "PROCESSED" {
		t.Fatalf("correction: %s %s %s", fix.Status, fix.ErrorCode, fix.Reason)
	}
	if got, _ := h.sb.Registry.Lookup(birth.UIN); got.FullName != "Infant Updated Doe" {
		t.Errorf("after the correction fullName = %q", got.FullName)
	}
}

// A token MOSIP rejects once is invalidated and the call retried with a new one.
func TestTokenRejectedOnceThenAccepted(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if err := h.sb.Faults.Set("mosip.packetmanager", fault.Rule{Unauthorized: true, Remaining: 1}); err != nil {
		t.Fatal(err)
	}
	h.send(t, mapping.Birth, "CRVS_NEW", map[string]any{
		"birthCertificateNumber": "EE008OLG4318", "fullName": "Second Child", "dateOfBirth": "2025-09-02", "gender": "female",
	}, nil)
	if h.tokens.invalidations != 1 {
		t.Errorf("invalidations = %d, want 1", h.tokens.invalidations)
	}
}
