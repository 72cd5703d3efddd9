package gateway

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mosipcrvs/bridge/pkg/rpc"
	esignetverifyv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/esignetverify/v1"
)

// fakeVerify is an EsignetVerifyService that records what reached it and
// answers per test.
type fakeVerify struct {
	esignetverifyv1.UnimplementedEsignetVerifyServiceServer
	mu       sync.Mutex
	verify   *esignetverifyv1.VerifyIdentityRequest
	exchange *esignetverifyv1.ExchangeAuthorizationCodeRequest
	callback *esignetverifyv1.ResolveAuthorizationCallbackRequest
	err      error
}

func (f *fakeVerify) VerifyIdentity(_ context.Context, in *esignetverifyv1.VerifyIdentityRequest) (*esignetverifyv1.VerifyIdentityResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.verify = in
	if f.err != nil {
		return nil, f.err
	}
	switch {
	case in.GetIndividualId() == "bad":
		return nil, rpc.InvalidArgument("invalid verification request", map[string]string{"individual_id": "must be letters and digits only",
			"name.first_name": "must be at most 200 characters"})
	case in.GetDateOfBirth() == "1990-01-31":
		return &esignetverifyv1.VerifyIdentityResponse{Result: esignetverifyv1.VerificationResult_VERIFICATION_RESULT_VERIFIED}, nil
	default:
		return &esignetverifyv1.VerifyIdentityResponse{Result: esignetverifyv1.VerificationResult_VERIFICATION_RESULT_FAILED}, nil
	}
}

func (f *fakeVerify) ExchangeAuthorizationCode(_ context.Context, in *esignetverifyv1.ExchangeAuthorizationCodeRequest) (*esignetverifyv1.ExchangeAuthorizationCodeResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exchange = in
	if f.err != nil {
		return nil, f.err
	}
	if in.GetClientId() == "other" {
		return nil, rpc.InvalidArgument("invalid authorization code exchange", map[string]string{"client_id": "must be the OIDC client"})
	}
	form, _ := structpb.NewStruct(map[string]any{"sub": "psut", "name": map[string]any{"firstname": "Jane", "surname": "Doe"},
		"gender": "female", "birthDate": "1990-01-31", "dobUnknown": nil, "verificationStatus": "authenticated", "idType": nil, "nid": nil})
	return &esignetverifyv1.ExchangeAuthorizationCodeResponse{Sub: "psut", FormData: form}, nil
}

func (f *fakeVerify) ResolveAuthorizationCallback(_ context.Context, in *esignetverifyv1.ResolveAuthorizationCallbackRequest) (*esignetverifyv1.ResolveAuthorizationCallbackResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.callback = in
	if !strings.HasPrefix(in.GetState(), clientAppURL) {
		return nil, rpc.InvalidArgument("invalid authorization callback", map[string]string{"state": "names a page outside the allowed origins"})
	}
	return &esignetverifyv1.ResolveAuthorizationCallbackResponse{RedirectUrl: in.GetState() + "?code=" + in.GetCode()}, nil
}

func (f *fakeVerify) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeVerify) last() (*esignetverifyv1.VerifyIdentityRequest, *esignetverifyv1.ExchangeAuthorizationCodeRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.verify, f.exchange
}

// newVerifyEnv is newEnv with an esignet-verify backend.
func newVerifyEnv(t *testing.T) (*testEnv, *fakeVerify) {
	t.Helper()
	f := &fakeVerify{}
	s := grpc.NewServer()
	esignetverifyv1.RegisterEsignetVerifyServiceServer(s, f)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	env := newEnv(t, func(c *Config) { c.EsignetVerifyAddr = lis.Addr().String(); c.MaxBodyBytes = 16 << 10 })
	return env, f
}

const janeBody = `{"dob":"1990-01-31","nid":"1234567890","name":{"firstname":"Jane","surname":"Doe","middlename":"Mary"},"gender":"female","transactionId":"mother-2f6c"}`

// POST /verify answers the bare text the country config compares with
// "verified" and "failed".
func TestVerifyRoute(t *testing.T) {
	t.Parallel()
	env, f := newVerifyEnv(t)
	tok := validToken(t, testKey(t, "opencrvs"))
	r := env.do(t, "POST", "/verify", strings.NewReader(janeBody), append(bearer(tok), "Content-Type", "application/json")...)
	if r.status != 200 || r.body != "verified" || r.header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("verify = %d %q (%s)", r.status, r.body, r.header.Get("Content-Type"))
	}
	got, _ := f.last()
	if got.GetIndividualId() != "1234567890" || got.GetDateOfBirth() != "1990-01-31" || got.GetName().GetMiddleName() != "Mary" ||
		got.GetGender() != "female" || got.GetTransactionId() != "mother-2f6c" {
		t.Errorf("request = %v", got)
	}
	r = env.do(t, "POST", "/verify/", strings.NewReader(strings.Replace(janeBody, "1990-01-31", "1990-01-30", 1)), bearer(tok)...)
	if r.status != 200 || r.body != "failed" {
		t.Errorf("mismatch = %d %q", r.status, r.body)
	}
	assertUnauthorized(t, env.do(t, "POST", "/verify", strings.NewReader(janeBody)))

	// The service's field names become the body's.
	r = env.do(t, "POST", "/verify", strings.NewReader(strings.Replace(janeBody, "1234567890", "bad", 1)), bearer(tok)...)
	if r.status != 400 || !contains(r.body, `"field":"nid"`, `"field":"name.firstname"`) || strings.Contains(r.body, "individual_id") {
		t.Errorf("service violations = %d %s", r.status, r.body)
	}
	for _, tt := range []struct {
		err    error
		status int
	}{
		{status.Error(codes.Unavailable, "MOSIP IDA unavailable: mosip: HTTP 503"), 503},
		{status.Error(codes.FailedPrecondition, "MOSIP IDA refused the request: mosip: IDA-MPA-009 Partner is not registered"), 409},
		{status.Error(codes.DeadlineExceeded, "MOSIP IDA did not answer in time"), 504},
	} {
		f.setErr(tt.err)
		r := env.do(t, "POST", "/verify", strings.NewReader(janeBody), bearer(tok)...)
		if r.status != tt.status || r.body == "failed" {
			t.Errorf("%v: %d %s, want %d", tt.err, r.status, r.body, tt.status)
		}
	}
	if strings.Contains(env.logs.String(), "1234567890") || strings.Contains(env.logs.String(), "Jane") {
		t.Error("personal data reached the gateway's logs")
	}
}

func TestVerifyRouteBadInput(t *testing.T) {
	t.Parallel()
	env, f := newVerifyEnv(t)
	tok := validToken(t, testKey(t, "opencrvs"))
	tests := []struct {
		name, body string
		status     int
		fields     []string
	}{
		{"empty", ``, 400, []string{`"body"`}},
		{"not an object", `"verified"`, 400, []string{`"body"`}},
		{"trailing data", `{} {}`, 400, []string{`"body"`}},
		{"invalid UTF-8", "{\"nid\":\"\xff\xfe\"}", 400, []string{`"body"`}},
		{"missing fields", `{}`, 400, []string{`"nid"`, `"dob"`, `"name"`}},
		{"nulls", `{"nid":null,"dob":null,"name":null}`, 400, []string{`"nid"`, `"dob"`, `"name"`}},
		{"wrong types", `{"nid":1,"dob":true,"name":[],"gender":{},"transactionId":5}`, 400, []string{`"nid"`, `"dob"`, `"name"`, `"gender"`, `"transactionId"`}},
		{"name parts", `{"nid":"1","dob":"1990-01-31","name":{"firstname":1,"middlename":[]}}`, 400,
			[]string{`"name.firstname"`, `"name.surname"`, `"name.middlename"`}},
		{"too large", `{"nid":"` + strings.Repeat("1", 20<<10) + `"}`, 413, []string{"too large"}},
	}
	for _, tt := range tests {
		r := env.do(t, "POST", "/verify", strings.NewReader(tt.body), bearer(tok)...)
		if r.status != tt.status || !contains(r.body, tt.fields...) {
			t.Errorf("%s: %d %s, want %d naming %v", tt.name, r.status, r.body, tt.status, tt.fields)
		}
	}
	if got, _ := f.last(); got != nil {
		t.Errorf("malformed bodies reached the service: %v", got)
	}
}

func FuzzParseVerifyRequest(f *testing.F) {
	f.Add([]byte(janeBody))
	f.Add([]byte(`{"nid":"1","dob":"2020-01-01","name":{"firstname":"A","surname":"B"}}`))
	f.Add([]byte(`{"name":{"firstname":null},"nid":[1]}`))
	f.Add([]byte("{\"nid\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, v := parseVerifyRequest(body)
		if len(v) > 0 {
			for field, desc := range v {
				if field == "" || desc == "" {
					t.Fatalf("empty violation %q: %q", field, desc)
				}
			}
			return
		}
		// Accepted: a JSON object with nid, dob and name{firstname, surname} strings.
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil || req == nil {
			t.Fatalf("accepted %q: %v", body, err)
		}
		name, _ := m["name"].(map[string]any)
		for _, s := range []any{m["nid"], m["dob"], name["firstname"], name["surname"]} {
			if _, ok := s.(string); !ok {
				t.Fatalf("accepted %q without a required string", body)
			}
		}
	})
}
