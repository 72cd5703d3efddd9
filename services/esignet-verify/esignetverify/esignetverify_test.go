package esignetverify

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/logging"
	"github.com/mosipcrvs/bridge/pkg/rpc"
	esignetverifyv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/esignetverify/v1"
	"github.com/mosipcrvs/bridge/services/esignet-verify/internal/fakeesignet"
	"github.com/mosipcrvs/bridge/services/esignet-verify/internal/fakeida"
	"github.com/mosipcrvs/bridge/services/esignet-verify/internal/testpki"
)

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

var janeName = &esignetverifyv1.PersonName{FirstName: "Jane", MiddleName: "Mary", Surname: "Doe"}

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

func errorInfo(err error) *errdetails.ErrorInfo {
	for _, d := range status.Convert(err).Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return ei
		}
	}
	return nil
}

// With neither feature configured the service still serves (health,
// reflection) and says what to configure.
func TestServesUnconfigured(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Config{}, logging.Discard(), lis) }()
	conn, err := rpc.Dial(lis.Addr().String(), rpc.ClientOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{Service: esignetverifyv1.EsignetVerifyService_ServiceDesc.ServiceName})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health = %v, %v; want SERVING", hc.GetStatus(), err)
	}
	c := esignetverifyv1.NewEsignetVerifyServiceClient(conn)
	_, err = c.VerifyIdentity(context.Background(), &esignetverifyv1.VerifyIdentityRequest{})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "IDA_AUTH_URL") {
		t.Errorf("VerifyIdentity = %v, want FailedPrecondition naming IDA_AUTH_URL", err)
	}
	_, err = c.ExchangeAuthorizationCode(context.Background(), &esignetverifyv1.ExchangeAuthorizationCodeRequest{})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "ESIGNET_TOKEN_URL") {
		t.Errorf("ExchangeAuthorizationCode = %v, want FailedPrecondition naming ESIGNET_TOKEN_URL", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run() = %v", err)
	}
}

func TestVerifyIdentity(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	got, err := f.client.VerifyIdentity(ctx, &esignetverifyv1.VerifyIdentityRequest{IndividualId: "1234567890", DateOfBirth: "1990-01-31",
		Name: janeName, Gender: "female", TransactionId: "mother-2f6c1d8e"})
	if err != nil || got.GetResult() != esignetverifyv1.VerificationResult_VERIFICATION_RESULT_VERIFIED || len(got.GetAttributes()) != 3 {
		t.Fatalf("VerifyIdentity(jane) = %v, %v", got, err)
	}
	seen := f.ida.Requests()[0]
	if seen.Rejection != "" || seen.Body["individualIdType"] != "UIN" {
		t.Errorf("IDA saw %+v", seen)
	}
	demo := seen.Inner["demographics"].(map[string]any)
	if g := demo["gender"].([]any)[0].(map[string]any)["value"]; g != "Female" {
		t.Errorf("gender sent = %v, want the mapped Female", g)
	}

	got, err = f.client.VerifyIdentity(ctx, &esignetverifyv1.VerifyIdentityRequest{IndividualId: "1234567890", DateOfBirth: "1990-01-30", Name: janeName})
	if err != nil || got.GetResult() != esignetverifyv1.VerificationResult_VERIFICATION_RESULT_FAILED ||
		got.GetFailureReason() != esignetverifyv1.FailureReason_FAILURE_REASON_DEMOGRAPHIC_MISMATCH {
		t.Fatalf("wrong dob = %v, %v", got, err)
	}
	for _, a := range got.GetAttributes() {
		want := esignetverifyv1.MatchStatus_MATCH_STATUS_MATCHED
		if a.GetAttribute() == esignetverifyv1.Attribute_ATTRIBUTE_DATE_OF_BIRTH {
			want = esignetverifyv1.MatchStatus_MATCH_STATUS_MISMATCHED
		}
		if a.GetStatus() != want {
			t.Errorf("%v = %v, want %v", a.GetAttribute(), a.GetStatus(), want)
		}
	}

	got, err = f.client.VerifyIdentity(ctx, &esignetverifyv1.VerifyIdentityRequest{IndividualId: "5555555555", DateOfBirth: "1990-01-31", Name: janeName})
	if err != nil || got.GetFailureReason() != esignetverifyv1.FailureReason_FAILURE_REASON_IDENTITY_NOT_FOUND || got.GetErrors()[0].GetCode() != "IDA-MLC-018" {
		t.Errorf("unknown = %v, %v", got, err)
	}
	got, err = f.client.VerifyIdentity(ctx, &esignetverifyv1.VerifyIdentityRequest{IndividualId: "1234567890", DateOfBirth: "1990-01-31",
		Name: janeName, IndividualIdType: esignetverifyv1.IndividualIdType_INDIVIDUAL_ID_TYPE_VID})
	if err != nil || f.ida.Requests()[3].Body["individualIdType"] != "VID" {
		t.Errorf("VID = %v, %v", got, err)
	}
	logs := f.logs.String()
	for _, pii := range []string{"1234567890", "Jane", "1990-01-31", "1990/01/31", "5555555555"} {
		if strings.Contains(logs, pii) {
			t.Errorf("%q reached the logs", pii)
		}
	}
	if !strings.Contains(logs, "mother-2f6c1d8e") || !strings.Contains(logs, `"result":"failed"`) {
		t.Errorf("the logs lack the correlation id or the result:\n%s", logs)
	}
}

func TestVerifyIdentityInvalid(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tests := []struct {
		name   string
		req    *esignetverifyv1.VerifyIdentityRequest
		fields []string
	}{
		{"empty", &esignetverifyv1.VerifyIdentityRequest{}, []string{"individual_id", "date_of_birth", "name"}},
		{"malformed date", &esignetverifyv1.VerifyIdentityRequest{IndividualId: "1", DateOfBirth: "31/01/1990", Name: janeName}, []string{"date_of_birth"}},
		{"date with time", &esignetverifyv1.VerifyIdentityRequest{IndividualId: "1", DateOfBirth: "1990-01-31T00:00:00Z", Name: janeName}, []string{"date_of_birth"}},
		{"too old", &esignetverifyv1.VerifyIdentityRequest{IndividualId: "1", DateOfBirth: "1066-10-14", Name: janeName}, []string{"date_of_birth"}},
		{"id with symbols", &esignetverifyv1.VerifyIdentityRequest{IndividualId: "12-34", DateOfBirth: "1990-01-31", Name: janeName}, []string{"individual_id"}},
		{"id too long", &esignetverifyv1.VerifyIdentityRequest{IndividualId: strings.Repeat("1", 65), DateOfBirth: "1990-01-31", Name: janeName}, []string{"individual_id"}},
		{"huge names", &esignetverifyv1.VerifyIdentityRequest{IndividualId: "1", DateOfBirth: "1990-01-31",
			Name: &esignetverifyv1.PersonName{FirstName: strings.Repeat("a", 201), MiddleName: strings.Repeat("b", 201), Surname: "D"}},
			[]string{"name.first_name", "name.middle_name"}},
		{"invalid UTF-8", &esignetverifyv1.VerifyIdentityRequest{IndividualId: "1", DateOfBirth: "1990-01-31",
			Name: &esignetverifyv1.PersonName{FirstName: "J\uFFFDne", Surname: "D"}, Gender: "f\x00"}, []string{"name.first_name", "gender"}},
		{"unknown id type", &esignetverifyv1.VerifyIdentityRequest{IndividualId: "1", DateOfBirth: "1990-01-31", Name: janeName, IndividualIdType: 7},
			[]string{"individual_id_type"}},
	}
	for _, tt := range tests {
		_, err := f.client.VerifyIdentity(context.Background(), tt.req)
		v := violations(err)
		if status.Code(err) != codes.InvalidArgument || len(v) != len(tt.fields) {
			t.Errorf("%s: %v (%v), want InvalidArgument on %v", tt.name, err, v, tt.fields)
			continue
		}
		for _, field := range tt.fields {
			if v[field] == "" {
				t.Errorf("%s: no violation for %s in %v", tt.name, field, v)
			}
		}
	}
	if n := len(f.ida.Requests()); n != 0 {
		t.Errorf("invalid requests reached IDA %d times", n)
	}
}

// Without a verdict, the status says why and carries IDA's code; it is
// never a FAILED result.
func TestVerifyIdentityNoVerdict(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	req := &esignetverifyv1.VerifyIdentityRequest{IndividualId: "1234567890", DateOfBirth: "1990-01-31", Name: janeName}
	f.ida.Respond = func(fakeida.Seen) (int, string) {
		return 200, fakeida.Answer([3]string{"IDA-MPA-006", "DEMO Authentication usage not allowed as per policy", "Please use other Authentication Types in the request"})
	}
	_, err := f.client.VerifyIdentity(context.Background(), req)
	if ei := errorInfo(err); status.Code(err) != codes.FailedPrecondition || ei == nil || ei.GetReason() != "IDA-MPA-006" || ei.GetDomain() != "mosip.ida" {
		t.Errorf("policy refusal = %v (%v)", err, ei)
	}
	f.ida.Respond = func(fakeida.Seen) (int, string) { return 503, "no healthy upstream" }
	_, err = f.client.VerifyIdentity(context.Background(), req)
	if status.Code(err) != codes.Unavailable {
		t.Errorf("IDA down = %v", err)
	}
	// One refusal, then a 503 answered once per attempt of the gRPC
	// client's retry policy (3 attempts).
	if n := len(f.ida.Requests()); n != 4 {
		t.Errorf("IDA saw %d requests, want 4", n)
	}
	f2 := newFixture(t, map[string]string{"PARTNER_APIKEY": "wrong-api-key"})
	_, err = f2.client.VerifyIdentity(context.Background(), req)
	if ei := errorInfo(err); ei == nil || ei.GetReason() != "IDA-MPA-009" || strings.Contains(err.Error(), "wrong-api-key") {
		t.Errorf("unregistered partner = %v", err)
	}
}

func TestExchangeAuthorizationCode(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	claims := map[string]any{"name": "Jane Mary Doe", "gender": "Female", "birthdate": "1990/01/31", "individual_id": "1234567890"}
	code := f.esignet.Issue("psut-jane", claims)
	got, err := f.client.ExchangeAuthorizationCode(ctx, &esignetverifyv1.ExchangeAuthorizationCodeRequest{Code: code, State: "fetch-on-mount",
		ClientId: fakeesignet.ClientID, RedirectUri: fakeesignet.RedirectURI + "?state=fetch-on-mount&code=" + code + "#frag"})
	if err != nil {
		t.Fatal(err)
	}
	form := got.GetFormData().AsMap()
	if got.GetSub() != "psut-jane" || got.GetBirthDate() != "1990-01-31" || got.GetGender() != "female" || got.GetIndividualId() != "1234567890" ||
		got.GetName().GetMiddleName() != "Mary" || form["verificationStatus"] != "authenticated" || form["nid"] != "1234567890" ||
		form["idType"] != "NATIONAL_ID" || !strings.HasPrefix(got.GetVerifiedBy(), "jwks:") || got.GetClaims().AsMap()["birthdate"] != "1990/01/31" {
		t.Errorf("exchange = %v", got)
	}
	if f.esignet.Requests()[0].Form.Get("redirect_uri") != fakeesignet.RedirectURI {
		t.Errorf("redirect_uri sent with its query or fragment: %v", f.esignet.Requests()[0].Form)
	}

	_, err = f.client.ExchangeAuthorizationCode(ctx, &esignetverifyv1.ExchangeAuthorizationCodeRequest{Code: code, State: "s",
		ClientId: fakeesignet.ClientID, RedirectUri: fakeesignet.RedirectURI})
	if ei := errorInfo(err); status.Code(err) != codes.FailedPrecondition || ei.GetReason() != "invalid_grant" || strings.Contains(err.Error(), code) {
		t.Errorf("reused code = %v", err)
	}

	attacker := testpki.Get(t, "attacker")
	f.esignet.Set(func(s *fakeesignet.Server) {
		s.Userinfo = func(_ string, c map[string]any) string { return fakeesignet.Sign(attacker, "attacker", false, c) }
	})
	_, err = f.client.ExchangeAuthorizationCode(ctx, &esignetverifyv1.ExchangeAuthorizationCodeRequest{Code: f.esignet.Issue("p", claims),
		State: "s", ClientId: fakeesignet.ClientID, RedirectUri: fakeesignet.RedirectURI})
	if ei := errorInfo(err); status.Code(err) != codes.PermissionDenied || ei.GetReason() != "UNKNOWN_KEY" || ei.GetMetadata()["token"] != "userinfo" {
		t.Errorf("forged userinfo = %v", err)
	}

	tests := []struct {
		name   string
		req    *esignetverifyv1.ExchangeAuthorizationCodeRequest
		fields []string
	}{
		{"empty", &esignetverifyv1.ExchangeAuthorizationCodeRequest{}, []string{"code", "state", "client_id", "redirect_uri"}},
		{"another client", &esignetverifyv1.ExchangeAuthorizationCodeRequest{Code: "c", State: "s", ClientId: "other", RedirectUri: fakeesignet.RedirectURI}, []string{"client_id"}},
		{"relative redirect", &esignetverifyv1.ExchangeAuthorizationCodeRequest{Code: "c", State: "s", ClientId: fakeesignet.ClientID, RedirectUri: "/pages/mother"}, []string{"redirect_uri"}},
		{"code with spaces", &esignetverifyv1.ExchangeAuthorizationCodeRequest{Code: "a b", State: "s", ClientId: fakeesignet.ClientID, RedirectUri: fakeesignet.RedirectURI}, []string{"code"}},
		{"huge state", &esignetverifyv1.ExchangeAuthorizationCodeRequest{Code: "c", State: strings.Repeat("s", 5000), ClientId: fakeesignet.ClientID, RedirectUri: fakeesignet.RedirectURI}, []string{"state"}},
	}
	for _, tt := range tests {
		_, err := f.client.ExchangeAuthorizationCode(ctx, tt.req)
		v := violations(err)
		if status.Code(err) != codes.InvalidArgument || len(v) != len(tt.fields) {
			t.Errorf("%s: %v (%v), want %v", tt.name, err, v, tt.fields)
		}
	}
	if strings.Contains(f.logs.String(), code) || strings.Contains(f.logs.String(), "Jane") || strings.Contains(f.logs.String(), "psut-jane") {
		t.Error("the code or personal data reached the logs")
	}
}

// A country that registers one redirect URI at eSignet configures it, and
// every exchange uses it whatever page the browser is on.
func TestExchangeWithStaticRedirect(t *testing.T) {
	t.Parallel()
	f := newFixture(t, map[string]string{"ESIGNET_REDIRECT_URI": fakeesignet.RedirectURI, "ESIGNET_NAME_FORMAT": "1.9",
		"ESIGNET_CLAIM_MAPPING": "phone_number:informant.phone"})
	code := f.esignet.Issue("p", map[string]any{"name#eng": "Jane Doe", "phone_number": "+260911"})
	got, err := f.client.ExchangeAuthorizationCode(context.Background(), &esignetverifyv1.ExchangeAuthorizationCodeRequest{Code: code, State: "s",
		ClientId: fakeesignet.ClientID, RedirectUri: "https://register.example.org/events/other/page"})
	if err != nil {
		t.Fatal(err)
	}
	form := got.GetFormData().AsMap()
	name, _ := form["name"].(map[string]any)
	phone, _ := form["informant"].(map[string]any)
	if name["middlename"] != "" || name["firstname"] != "Jane" || phone["phone"] != "+260911" {
		t.Errorf("form = %v", form)
	}
}

func TestResolveAuthorizationCallback(t *testing.T) {
	t.Parallel()
	f := newFixture(t, map[string]string{"ESIGNET_CALLBACK_ALLOWED_ORIGINS": "https://register.example.org, https://REGISTER.other.example.org:443"})
	page := "https://register.example.org/events/declare/1/pages/mother?workqueue=x"
	b64 := "aHR0cHM6Ly9yZWdpc3Rlci5vdGhlci5leGFtcGxlLm9yZy9wYWdl" // https://register.other.example.org/page
	tests := []struct {
		name   string
		req    *esignetverifyv1.ResolveAuthorizationCallbackRequest
		want   string
		fields []string
	}{
		{"code", &esignetverifyv1.ResolveAuthorizationCallbackRequest{Code: "abc", State: page},
			"https://register.example.org/events/declare/1/pages/mother?code=abc&state=" + url.QueryEscape(page) + "&workqueue=x", nil},
		{"base64url state", &esignetverifyv1.ResolveAuthorizationCallbackRequest{Code: "abc", State: b64},
			"https://register.other.example.org/page?code=abc&state=" + b64, nil},
		{"consent rejected", &esignetverifyv1.ResolveAuthorizationCallbackRequest{Error: "consent_rejected", ErrorDescription: "consent_rejected", State: page},
			"https://register.example.org/events/declare/1/pages/mother?error=consent_rejected&error_description=consent_rejected&state=" + url.QueryEscape(page) + "&workqueue=x", nil},
		{"no state", &esignetverifyv1.ResolveAuthorizationCallbackRequest{Code: "abc"}, "", []string{"state"}},
		{"no code", &esignetverifyv1.ResolveAuthorizationCallbackRequest{State: page}, "", []string{"code"}},
		{"foreign origin", &esignetverifyv1.ResolveAuthorizationCallbackRequest{Code: "abc", State: "https://evil.example.net/steal"}, "", []string{"state"}},
		{"look-alike origin", &esignetverifyv1.ResolveAuthorizationCallbackRequest{Code: "abc", State: "https://register.example.org.evil.net/"}, "", []string{"state"}},
		{"credentials in the URL", &esignetverifyv1.ResolveAuthorizationCallbackRequest{Code: "abc", State: "https://user@register.example.org/"}, "", []string{"state"}},
		{"javascript", &esignetverifyv1.ResolveAuthorizationCallbackRequest{Code: "abc", State: "javascript://register.example.org/%0aalert(1)"}, "", []string{"state"}},
		{"not a URL", &esignetverifyv1.ResolveAuthorizationCallbackRequest{Code: "abc", State: "fetch-on-mount"}, "", []string{"state"}},
	}
	for _, tt := range tests {
		got, err := f.client.ResolveAuthorizationCallback(context.Background(), tt.req)
		if tt.fields != nil {
			v := violations(err)
			if status.Code(err) != codes.InvalidArgument || len(v) != len(tt.fields) || v[tt.fields[0]] == "" {
				t.Errorf("%s: %v (%v), want InvalidArgument on %v", tt.name, err, v, tt.fields)
			}
			continue
		}
		if err != nil || got.GetRedirectUrl() != tt.want {
			t.Errorf("%s: %q, %v\nwant %q", tt.name, got.GetRedirectUrl(), err, tt.want)
		}
	}
}

// Every problem is reported at once, naming the variable, without
// secrets; files are opened at start-up.
func TestConfigProblems(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	partner := testpki.Get(t, "partner")
	p12 := testpki.Write(t, dir, "keystore.p12", partner.P12(t, "right-password"))
	env := map[string]string{
		"IDA_AUTH_URL":                 "https://ida.example.org/idauthentication/v1/auth",
		"PARTNER_MISP_LK":              "licence/with/slashes",
		"PARTNER_APIKEY":               "super-secret-api-key",
		"SIGN_P12_FILE_PATH":           p12,
		"SIGN_P12_FILE_PASSWORD":       "wrong-password",
		"ENCRYPT_CERT_PATH":            testpki.Write(t, dir, "not-a-cert.crt", []byte("hello")),
		"IDA_NAME_FORMAT":              "{fullname}",
		"IDA_GENDER_MAPPING":           "female",
		"ESIGNET_TOKEN_URL":            "https://esignet.example.org/token",
		"OIDP_CLIENT_PRIVATE_KEY_PATH": testpki.Write(t, dir, "jwk.txt", []byte("bm90IGEga2V5")),
		"ESIGNET_REDIRECT_URI":         "https://register.example.org/cb?x=1",
		"ESIGNET_CLAIM_MAPPING":        "nonsense",
		"ESIGNET_NAME_FORMAT":          "3.0",
	}
	var cfg Config
	err := config.Load(&cfg, config.MapLookuper(env))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"IDA_AUTH_DOMAIN_URI is required", "PARTNER_ID is required", "PARTNER_MISP_LK must not contain",
		"SIGN_P12_FILE_PATH: ", "wrong password", "ENCRYPT_CERT_PATH: ", "IDA_NAME_FORMAT", "IDA_GENDER_MAPPING",
		"ESIGNET_USERINFO_URL is required", "OIDP_CLIENT_PRIVATE_KEY_PATH: ", "ESIGNET_JWKS_URL is required",
		"ESIGNET_REDIRECT_URI must have no query", "ESIGNET_CLAIM_MAPPING", "ESIGNET_NAME_FORMAT must be one of 2.0, 1.9",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	for _, secret := range []string{"super-secret-api-key", "wrong-password", "licence/with/slashes"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the error reveals %q", secret)
		}
	}
	if s := fmt.Sprint(config.Describe(&cfg)); strings.Contains(s, "super-secret-api-key") || strings.Contains(s, "wrong-password") {
		t.Errorf("Describe reveals a secret: %s", s)
	}
}

func FuzzDemographics(f *testing.F) {
	f.Add("1234567890", "1990-01-31", "Jane", "Mary", "Doe", "female", "corr-1", int32(0))
	f.Add("", "1990-02-30", "", "", "", "\x00", "\xff", int32(7))
	f.Add("12 34", "0000-01-01", strings.Repeat("é", 250), "\uFFFD", "D", "", "", int32(2))
	s := &Service{idaIDType: "UIN"}
	f.Fuzz(func(t *testing.T, id, dob, first, middle, last, gender, corr string, idType int32) {
		req := &esignetverifyv1.VerifyIdentityRequest{IndividualId: id, DateOfBirth: dob, Gender: gender, TransactionId: corr,
			IndividualIdType: esignetverifyv1.IndividualIdType(idType),
			Name:             &esignetverifyv1.PersonName{FirstName: first, MiddleName: middle, Surname: last}}
		d, v := s.demographics(req, time.Now())
		if len(v) > 0 {
			for field, desc := range v {
				if desc == "" || (len(first) > 3 && strings.Contains(desc, first)) {
					t.Fatalf("violation %s = %q", field, desc)
				}
			}
			return
		}
		if d.IndividualID == "" || d.DOB.IsZero() || (d.FirstName == "" && d.Surname == "") || (d.IDType != "UIN" && d.IDType != "VID") {
			t.Fatalf("accepted incomplete demographics %+v", d)
		}
		if d.DOB.Format(dateLayoutISO) != dob {
			t.Fatalf("date %q read as %s", dob, d.DOB)
		}
	})
}

func FuzzExchangeInput(f *testing.F) {
	f.Add("code", "state", "client", "https://register.example.org/page?code=x#y")
	f.Add("", "", "", "")
	f.Add("a b", "\xff", "other", "javascript:alert(1)")
	s := &Service{clientID: "client"}
	f.Fuzz(func(t *testing.T, code, state, client, redirect string) {
		got, v := s.exchangeInput(&esignetverifyv1.ExchangeAuthorizationCodeRequest{Code: code, State: state, ClientId: client, RedirectUri: redirect})
		if len(v) > 0 {
			return
		}
		u, err := url.Parse(got)
		if err != nil || u.RawQuery != "" || u.Fragment != "" || (u.Scheme != "http" && u.Scheme != "https") || client != "client" {
			t.Fatalf("accepted redirect %q (%q) for client %q", got, redirect, client)
		}
	})
}

func FuzzCallbackTarget(f *testing.F) {
	f.Add("abc", "https://register.example.org/page?x=1", "", "")
	f.Add("", "aHR0cHM6Ly9yZWdpc3Rlci5leGFtcGxlLm9yZy8", "consent_rejected", "x")
	f.Add("abc", "https://register.example.org@evil.net/", "", "")
	s := &Service{callbackOrigins: []string{"https://register.example.org"}}
	f.Fuzz(func(t *testing.T, code, state, oauthErr, desc string) {
		got, v := s.callbackTarget(&esignetverifyv1.ResolveAuthorizationCallbackRequest{Code: code, State: state, Error: oauthErr, ErrorDescription: desc})
		if len(v) > 0 {
			return
		}
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "https" || u.Host != "register.example.org" || u.User != nil {
			t.Fatalf("redirects to %q (state %q)", got, state)
		}
	})
}
