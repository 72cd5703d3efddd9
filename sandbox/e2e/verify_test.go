package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mosipcrvs/bridge/gateway"
	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/logging"
	"github.com/mosipcrvs/bridge/pkg/rpc"
	esignetverifyv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/esignetverify/v1"
	"github.com/mosipcrvs/bridge/sandbox/allinone"
	"github.com/mosipcrvs/bridge/sandbox/esignet"
	"github.com/mosipcrvs/bridge/sandbox/mosip"
	"github.com/mosipcrvs/bridge/sandbox/opencrvs"
	"github.com/mosipcrvs/bridge/sandbox/server"
	"github.com/mosipcrvs/bridge/services/esignet-verify/esignetverify"
)

// idBridge is the gateway and esignet-verify, each on its own loopback
// listener and talking gRPC as separate deployments do, with
// esignet-verify configured by allinone.ESignetVerifySandboxEnv against a
// fresh sandbox (its IDA, and its eSignet or a dedicated one a test
// configures). The other services are not needed by these routes.
type idBridge struct {
	sb    *server.Sandbox
	files server.KeyFiles
	// gatewayURL is the REST edge; verifyAddr esignet-verify's gRPC address.
	gatewayURL, verifyAddr string
	// es is the eSignet esignet-verify talks to and esURL its base URL.
	es    *esignet.Server
	esURL string
	logs  *logBuffer
}

type idOptions struct {
	// esignet, when set, runs a dedicated eSignet (registered with the
	// sandbox's client and identities) whose options it adjusts.
	esignet func(o *esignet.Options)
	// env overrides the bridge's settings; "{gateway}" in a value becomes
	// the gateway's base URL.
	env map[string]string
	// quiet discards the logs (benchmarks).
	quiet bool
}

// logBuffer collects every service's logs, so tests can prove no
// personal data reaches them.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startIdentityBridge(tb testing.TB, o idOptions) *idBridge {
	tb.Helper()
	var sbCfg server.Config
	if err := config.Load(&sbCfg, config.MapLookuper(map[string]string{"SANDBOX_PROCESSING_DELAY": "10ms"})); err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	sb, err := server.New(sbCfg, "http://"+srv.Listener.Addr().String(), logging.Discard())
	if err != nil {
		tb.Fatal(err)
	}
	srv.Config.Handler = sb.Handler()
	srv.Start()
	tb.Cleanup(func() { srv.Close(); _ = sb.Close() })
	files, err := sb.WriteKeys(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	b := &idBridge{sb: sb, files: files, es: sb.ESignet, esURL: sb.URL + "/esignet", logs: &logBuffer{}}

	env := map[string]string{
		"HOST": "127.0.0.1", "PORT": "0", "GRPC_LISTEN_ADDR": "127.0.0.1:0",
		"CLIENT_APP_URL":          "http://localhost:3000",
		"OPENCRVS_PUBLIC_KEY_URL": srv.URL + "/.well-known",
		// Nothing listens there: these routes only need esignet-verify.
		"AUTH_TOKEN_ADDR": "127.0.0.1:1", "PACKET_ADDR": "127.0.0.1:1", "NOTIFICATION_ADDR": "127.0.0.1:1",
	}
	maps.Copy(env, allinone.ESignetVerifySandboxEnv(sb, files))
	if o.esignet != nil {
		esSrv := httptest.NewUnstartedServer(nil)
		b.esURL = "http://" + esSrv.Listener.Addr().String() + "/esignet"
		opts := esignet.Options{Registry: sb.Registry, Issuer: b.esURL,
			Clients: []esignet.Client{{ClientID: sbCfg.ESignetClientID, PublicJWK: &sb.Keys.ESignetClient.PublicKey,
				RedirectURIs: sbCfg.ESignetRedirectURIs, RelyingPartyID: sbCfg.PartnerID}}}
		o.esignet(&opts)
		if b.es, err = esignet.New(opts); err != nil {
			tb.Fatal(err)
		}
		mux := http.NewServeMux()
		b.es.Register(mux)
		esSrv.Config.Handler = mux
		esSrv.Start()
		tb.Cleanup(esSrv.Close)
		env["ESIGNET_TOKEN_URL"] = b.esURL + esignet.TokenPath
		env["ESIGNET_USERINFO_URL"] = b.esURL + esignet.UserinfoPath
	}
	evLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	gwLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	b.verifyAddr, b.gatewayURL = evLis.Addr().String(), "http://"+gwLis.Addr().String()
	for k, v := range o.env {
		env[k] = strings.ReplaceAll(v, "{gateway}", b.gatewayURL)
	}
	logger := logging.New(b.logs, logging.Options{Level: "debug"})
	if o.quiet {
		logger = logging.Discard()
	}
	lookup := config.MapLookuper(env)
	var evCfg esignetverify.Config
	if err := config.Load(&evCfg, lookup); err != nil {
		tb.Fatal(err)
	}
	var gwCfg gateway.Config
	if err := config.Load(&gwCfg, lookup); err != nil {
		tb.Fatal(err)
	}
	gwCfg.EsignetVerifyAddr = b.verifyAddr
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 2)
	go func() { errc <- esignetverify.Run(ctx, evCfg, logger.With("service", "esignet-verify"), evLis) }()
	go func() { errc <- gateway.Run(ctx, gwCfg, logger.With("service", "gateway"), gwLis) }()
	tb.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-errc; err != nil {
				tb.Errorf("stopping: %v", err)
			}
		}
	})
	return b
}

// userToken is an OpenCRVS user session token, as the browser holds.
func (b *idBridge) userToken(tb testing.TB) string {
	tb.Helper()
	tok, err := b.sb.CRVS.Auth().UserToken(opencrvs.UserTokenOptions{Role: "HOSPITAL_CLERK",
		Scopes: []string{opencrvs.EncodeScope("record.declare")}, TTL: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

type answer struct {
	status int
	header http.Header
	body   string
}

// call sends a request to the gateway like OpenCRVS's clients do.
func (b *idBridge) call(tb testing.TB, method, path, token, body string, headers ...string) answer {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequestWithContext(ctx, method, b.gatewayURL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(out)}
}

func verifyBody(nid, dob, first, middle, surname, gender string) string {
	name := map[string]string{"firstname": first, "surname": surname}
	if middle != "" {
		name["middlename"] = middle
	}
	m := map[string]any{"nid": nid, "dob": dob, "name": name, "transactionId": "mother-2f6c1d8e-0e0b-4a57-9c55-2d6f0c4b1a11"}
	if gender != "" {
		m["gender"] = gender
	}
	out, _ := json.Marshal(m)
	return string(out)
}

// The country config's verifyNid against the sandbox IDA: the bare text
// "verified" or "failed", the request built as MOSIP specifies (the
// sandbox IDA checks signature, certificate, encryption, HMAC, time window
// and transaction id), and no personal data in any log.
func TestVerifyThroughTheGateway(t *testing.T) {
	t.Parallel()
	b := startIdentityBridge(t, idOptions{})
	tok := b.userToken(t)
	tests := []struct {
		name, body, want string
	}{
		{"full name, dob and gender", verifyBody("1234567890", "2008-02-29", "Charles", "Dikkens", "Doe 2nd", "male"), "verified"},
		{"gender is optional", verifyBody("1234567891", "2002-02-01", "Jenny", "Debra", "Doe", ""), "verified"},
		{"gender in another case", verifyBody("1234567891", "2002-02-01", "Jenny", "Debra", "Doe", "Female"), "verified"},
		{"wrong date of birth", verifyBody("1234567890", "2008-03-01", "Charles", "Dikkens", "Doe 2nd", "male"), "failed"},
		{"wrong name", verifyBody("1234567890", "2008-02-29", "Charlie", "Dikkens", "Doe 2nd", "male"), "failed"},
		{"middle name missing: MOSIP matches every word", verifyBody("1234567890", "2008-02-29", "Charles", "", "Doe 2nd", "male"), "failed"},
		{"wrong gender", verifyBody("1234567890", "2008-02-29", "Charles", "Dikkens", "Doe 2nd", "female"), "failed"},
		{"unknown id", verifyBody("9999999999", "2008-02-29", "Charles", "Dikkens", "Doe 2nd", "male"), "failed"},
		{"a VID sent as UIN", verifyBody("8000567890", "2008-02-29", "Charles", "Dikkens", "Doe 2nd", "male"), "failed"},
	}
	for _, tt := range tests {
		a := b.call(t, http.MethodPost, "/verify", tok, tt.body)
		if a.status != http.StatusOK || a.body != tt.want || a.header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("%s: %d %q (%s), want 200 %q text/plain", tt.name, a.status, a.body, a.header.Get("Content-Type"), tt.want)
		}
	}
	// IDA 1.1 and the OpenCRVS mock call an unknown UIN IDA-MLC-002.
	b.sb.IDA.SetLegacyNotFoundCode(true)
	if a := b.call(t, http.MethodPost, "/verify", tok, verifyBody("9999999999", "2008-02-29", "C", "", "D", "")); a.body != "failed" {
		t.Errorf("legacy not-found code: %d %s, want failed", a.status, a.body)
	}
	b.sb.IDA.SetLegacyNotFoundCode(false)

	reqs := b.sb.IDA.Requests()
	if len(reqs) != len(tests)+1 {
		t.Fatalf("IDA saw %d requests, want %d", len(reqs), len(tests)+1)
	}
	first := reqs[0]
	if len(first.Errors) != 0 || !first.AuthStatus || first.IndividualIDType != "UIN" || len(first.TransactionID) != 10 ||
		first.PartnerID != b.sb.Config.PartnerID {
		t.Errorf("first IDA request = %+v", first)
	}
	var inner struct {
		Demographics struct {
			Name   []map[string]string `json:"name"`
			Gender []map[string]string `json:"gender"`
			DOB    string              `json:"dob"`
		} `json:"demographics"`
	}
	if err := json.Unmarshal(first.Decrypted, &inner); err != nil {
		t.Fatal(err)
	}
	d := inner.Demographics
	if len(d.Name) != 1 || d.Name[0]["value"] != "Charles Dikkens Doe 2nd" || d.Name[0]["language"] != "eng" ||
		d.DOB != "2008/02/29" || len(d.Gender) != 1 || d.Gender[0]["value"] != "male" {
		t.Errorf("demographics sent = %s", first.Decrypted)
	}
	var outer map[string]any
	_ = json.Unmarshal(first.Body, &outer)
	if outer["domainUri"] != mosip.DefaultIDADomainURI || outer["env"] != "Staging" || outer["consentObtained"] != true ||
		outer["id"] != "mosip.identity.auth" || outer["version"] != "1.0" {
		t.Errorf("request envelope = %v", outer)
	}

	logs := b.logs.String()
	for _, pii := range []string{"1234567890", "Charles", "Dikkens", "2008-02-29", "2008/02/29", "9999999999", tok} {
		if strings.Contains(logs, pii) {
			t.Errorf("personal data or the token %q reached the logs", pii)
		}
	}
	if !strings.Contains(logs, "mother-2f6c1d8e") {
		t.Error("the caller's transactionId is not logged; support needs it to find a verification")
	}
}

// Without a verdict from IDA the answer is an error status, never
// "failed": IDA down (after the retries), IDA refusing the partner.
func TestVerifyWithoutAVerdict(t *testing.T) {
	t.Parallel()
	b := startIdentityBridge(t, idOptions{})
	tok := b.userToken(t)
	ok := verifyBody("1234567890", "2008-02-29", "Charles", "Dikkens", "Doe 2nd", "male")

	b.sb.IDA.FailNext(1) // one 503: the gateway's retry of UNAVAILABLE answers
	if a := b.call(t, http.MethodPost, "/verify", tok, ok); a.status != 200 || a.body != "verified" {
		t.Errorf("after one IDA 503: %d %s, want verified", a.status, a.body)
	}
	b.sb.IDA.FailNext(3) // every attempt
	if a := b.call(t, http.MethodPost, "/verify", tok, ok); a.status != http.StatusServiceUnavailable || a.body == "failed" {
		t.Errorf("IDA down: %d %s, want 503", a.status, a.body)
	}
	b.sb.IDA.FailNext(0)

	wrongKey := startIdentityBridge(t, idOptions{env: map[string]string{"PARTNER_APIKEY": "not-the-api-key"}})
	a := wrongKey.call(t, http.MethodPost, "/verify", wrongKey.userToken(t), ok)
	if a.status != http.StatusConflict || !strings.Contains(a.body, "IDA-MPA-009") || strings.Contains(a.body, "not-the-api-key") {
		t.Errorf("unregistered partner: %d %s, want 409 naming IDA-MPA-009", a.status, a.body)
	}
	if strings.Contains(wrongKey.logs.String(), "not-the-api-key") || strings.Contains(wrongKey.logs.String(), wrongKey.sb.Config.IDALicenseKey.Value()) {
		t.Error("the partner's API or licence key reached the logs")
	}
}

// Bad input is 400 naming the field, before anything reaches MOSIP.
func TestVerifyBadInput(t *testing.T) {
	t.Parallel()
	b := startIdentityBridge(t, idOptions{})
	tok := b.userToken(t)
	long := strings.Repeat("é", 300)
	tests := []struct {
		name, body string
		status     int
		fields     []string
	}{
		{"not JSON", `{"nid":`, 400, []string{`"body"`}},
		{"invalid UTF-8", "{\"nid\":\"12\xff\"}", 400, []string{`"body"`, "UTF-8"}},
		{"everything missing", `{}`, 400, []string{`"nid"`, `"dob"`, `"name"`}},
		{"wrong types", `{"nid":1234567890,"dob":20080229,"name":"Charles","gender":1}`, 400, []string{`"nid"`, `"dob"`, `"name"`, `"gender"`}},
		{"missing name parts", `{"nid":"1234567890","dob":"2008-02-29","name":{}}`, 400, []string{`"name.firstname"`, `"name.surname"`}},
		{"malformed date", verifyBody("1234567890", "29/02/2008", "C", "", "D", ""), 400, []string{`"dob"`, "YYYY-MM-DD"}},
		{"impossible date", verifyBody("1234567890", "2007-02-29", "C", "", "D", ""), 400, []string{`"dob"`}},
		{"future date", verifyBody("1234567890", "2999-01-01", "C", "", "D", ""), 400, []string{`"dob"`}},
		{"huge name", verifyBody("1234567890", "2008-02-29", long, "", "D", ""), 400, []string{`"name.firstname"`, "at most 200"}},
		{"escaped invalid UTF-8", `{"nid":"1234567890","dob":"2008-02-29","name":{"firstname":"C\udc00","surname":"D"}}`, 400, []string{`"name.firstname"`}},
		{"control characters", verifyBody("1234567890", "2008-02-29", "C\u0000", "", "D", ""), 400, []string{`"name.firstname"`}},
		{"id with spaces", verifyBody("1234 5678", "2008-02-29", "C", "", "D", ""), 400, []string{`"nid"`}},
		{"both names empty", verifyBody("1234567890", "2008-02-29", "", "", "", ""), 400, []string{`"name"`}},
	}
	before := b.sb.IDA.Calls()
	for _, tt := range tests {
		a := b.call(t, http.MethodPost, "/verify", tok, tt.body)
		if a.status != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, a.status, a.body, tt.status)
			continue
		}
		for _, f := range tt.fields {
			if !strings.Contains(a.body, f) {
				t.Errorf("%s: body %s does not name %s", tt.name, a.body, f)
			}
		}
		if strings.Contains(a.body, "1234567890") || strings.Contains(a.body, "Charles") {
			t.Errorf("%s: the error echoes personal data: %s", tt.name, a.body)
		}
	}
	if got := b.sb.IDA.Calls(); got != before {
		t.Errorf("bad input reached IDA %d times", got-before)
	}
	if a := b.call(t, http.MethodPost, "/verify", "", verifyBody("1234567890", "2008-02-29", "C", "", "D", "")); a.status != 401 || a.body != `{"error":"Unauthorized"}` {
		t.Errorf("without a token: %d %s", a.status, a.body)
	}
}

// Internal systems get the structured result over gRPC (and the REST
// mapping): which attributes matched and MOSIP's codes.
func TestVerifyIdentityStructured(t *testing.T) {
	t.Parallel()
	b := startIdentityBridge(t, idOptions{})
	conn, err := rpc.Dial(b.verifyAddr, rpc.ClientOptions{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := esignetverifyv1.NewEsignetVerifyServiceClient(conn)
	ctx := context.Background()
	name := &esignetverifyv1.PersonName{FirstName: "Charles", MiddleName: "Dikkens", Surname: "Doe 2nd"}

	got, err := c.VerifyIdentity(ctx, &esignetverifyv1.VerifyIdentityRequest{IndividualId: "1234567890", DateOfBirth: "2008-03-01", Name: name, Gender: "male"})
	if err != nil {
		t.Fatal(err)
	}
	wantAttrs := map[esignetverifyv1.Attribute]esignetverifyv1.MatchStatus{
		esignetverifyv1.Attribute_ATTRIBUTE_NAME:          esignetverifyv1.MatchStatus_MATCH_STATUS_MATCHED,
		esignetverifyv1.Attribute_ATTRIBUTE_DATE_OF_BIRTH: esignetverifyv1.MatchStatus_MATCH_STATUS_MISMATCHED,
		esignetverifyv1.Attribute_ATTRIBUTE_GENDER:        esignetverifyv1.MatchStatus_MATCH_STATUS_MATCHED,
	}
	if got.GetResult() != esignetverifyv1.VerificationResult_VERIFICATION_RESULT_FAILED ||
		got.GetFailureReason() != esignetverifyv1.FailureReason_FAILURE_REASON_DEMOGRAPHIC_MISMATCH ||
		len(got.GetErrors()) != 1 || got.GetErrors()[0].GetCode() != "IDA-DEA-001" || len(got.GetIdaTransactionId()) != 10 {
		t.Errorf("mismatch = %v", got)
	}
	for _, a := range got.GetAttributes() {
		if wantAttrs[a.GetAttribute()] != a.GetStatus() {
			t.Errorf("attribute %v = %v, want %v", a.GetAttribute(), a.GetStatus(), wantAttrs[a.GetAttribute()])
		}
	}

	got, err = c.VerifyIdentity(ctx, &esignetverifyv1.VerifyIdentityRequest{IndividualId: "8000567890",
		IndividualIdType: esignetverifyv1.IndividualIdType_INDIVIDUAL_ID_TYPE_VID, DateOfBirth: "2008-02-29", Name: name})
	if err != nil || got.GetResult() != esignetverifyv1.VerificationResult_VERIFICATION_RESULT_VERIFIED {
		t.Errorf("by VID = %v, %v", got, err)
	}
	got, err = c.VerifyIdentity(ctx, &esignetverifyv1.VerifyIdentityRequest{IndividualId: "9999999999", DateOfBirth: "2008-02-29", Name: name})
	if err != nil || got.GetFailureReason() != esignetverifyv1.FailureReason_FAILURE_REASON_IDENTITY_NOT_FOUND ||
		got.GetErrors()[0].GetCode() != "IDA-MLC-018" {
		t.Errorf("unknown id = %v, %v", got, err)
	}
	_, err = c.VerifyIdentity(ctx, &esignetverifyv1.VerifyIdentityRequest{IndividualId: "x y", DateOfBirth: "2008-02-30"})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(fmt.Sprint(status.Convert(err).Details()), "date_of_birth") {
		t.Errorf("bad input = %v", err)
	}

	a := b.call(t, http.MethodPost, "/v1/identity-verifications", b.userToken(t),
		`{"individualId":"1234567890","dateOfBirth":"2008-02-29","name":{"firstName":"Charles","middleName":"Dikkens","surname":"Doe 2nd"}}`)
	if a.status != 200 || !strings.Contains(a.body, `"result":"VERIFICATION_RESULT_VERIFIED"`) {
		t.Errorf("REST mapping = %d %s", a.status, a.body)
	}
}

// BenchmarkVerifyThroughGateway drives POST /verify through the gateway
// against the sandbox IDA with 16 concurrent clients and reports the
// throughput and the 99th percentile latency.
func BenchmarkVerifyThroughGateway(b *testing.B) {
	br := startIdentityBridge(b, idOptions{quiet: true})
	tok := br.userToken(b)
	body := verifyBody("1234567890", "2008-02-29", "Charles", "Dikkens", "Doe 2nd", "male")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	url := br.gatewayURL + "/verify"
	post := func() (time.Duration, error) {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(out) != "verified" {
			return 0, fmt.Errorf("%d %s", resp.StatusCode, out)
		}
		return time.Since(start), nil
	}
	for range 32 { // warm connections and caches
		if _, err := post(); err != nil {
			b.Fatal(err)
		}
	}
	const clients = 16
	var mu sync.Mutex
	latencies := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	work := make(chan struct{}, b.N)
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for range work {
				d, err := post()
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				latencies = append(latencies, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(latencies)
	if len(latencies) > 0 {
		b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "req/s")
		b.ReportMetric(float64(latencies[(len(latencies)*99)/100].Microseconds())/1000, "p99-ms")
	}
}
