package ida_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mosipcrvs/bridge/pkg/mosip"
	"github.com/mosipcrvs/bridge/pkg/mosipcrypto"
	"github.com/mosipcrvs/bridge/services/esignet-verify/internal/fakeida"
	"github.com/mosipcrvs/bridge/services/esignet-verify/internal/ida"
	"github.com/mosipcrvs/bridge/services/esignet-verify/internal/testpki"
)

func builder(tb testing.TB) *ida.Builder {
	return &ida.Builder{Keystore: testpki.Get(tb, "partner").Keystore(), IDACert: testpki.Get(tb, "ida").Cert,
		DomainURI: fakeida.DomainURI, Env: "Staging", NameLanguage: "eng"}
}

func dob(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

var jane = ida.Demographics{IndividualID: "1234567890", IDType: "UIN", DOB: dob("1990-01-31"),
	FirstName: "Jane", MiddleName: "Mary", Surname: "Doe", Gender: "female"}

// The built request is what MOSIP specifies (mosip-apis.md §6): the
// fields in the clear, the auth data readable with IDA's key, the HMAC
// matching it, the signature verifying over the exact body with the
// partner certificate in x5c as standard base64 DER.
func TestBuild(t *testing.T) {
	t.Parallel()
	b := builder(t)
	fixed := time.Date(2026, 3, 1, 10, 11, 12, 345e6, time.UTC)
	b.Now = func() time.Time { return fixed }
	b.Genders = map[string]string{"female": "Female"}
	got, err := b.Build(jane)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(got.Body, &body); err != nil {
		t.Fatal(err)
	}
	ida := testpki.Get(t, "ida")
	want := map[string]any{"id": "mosip.identity.auth", "version": "1.0", "individualId": "1234567890", "individualIdType": "UIN",
		"requestTime": "2026-03-01T10:11:12.345Z", "specVersion": "1.0", "domainUri": fakeida.DomainURI, "env": "Staging",
		"consentObtained": true, "transactionID": got.TransactionID,
		"thumbprint": base64.RawURLEncoding.EncodeToString(mosipcrypto.Thumbprint(ida.Cert))}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("%s = %v, want %v", k, body[k], v)
		}
	}
	if !regexp.MustCompile(`^[A-Za-z0-9]{10}$`).MatchString(got.TransactionID) {
		t.Errorf("transactionID %q is not 10 alphanumerics", got.TransactionID)
	}
	inner, err := mosipcrypto.DecryptIDARequest(ida.Key, mosipcrypto.IDARequestCrypto{
		Request: body["request"].(string), RequestHMAC: body["requestHMAC"].(string), RequestSessionKey: body["requestSessionKey"].(string)})
	if err != nil {
		t.Fatalf("IDA cannot open the request: %v", err)
	}
	const wantInner = `{"timestamp":"2026-03-01T10:11:12.345Z","demographics":{"name":[{"language":"eng","value":"Jane Mary Doe"}],"gender":[{"language":"eng","value":"Female"}],"dob":"1990/01/31"}}`
	if string(inner) != wantInner {
		t.Errorf("auth data = %s\nwant        %s", inner, wantInner)
	}
	cert, err := mosipcrypto.VerifyDetached(got.Signature, got.Body, mosipcrypto.VerifyOptions{Algorithms: []string{"RS256"},
		Trusted: []*x509.Certificate{testpki.Get(t, "partner").Cert}})
	if err != nil || cert == nil {
		t.Errorf("signature = %v", err)
	}
	h, _, _, _ := mosipcrypto.ParseDetached(got.Signature)
	if _, err := base64.StdEncoding.DecodeString(h.X5C[0]); err != nil || h.Alg != "RS256" {
		t.Errorf("header = %+v: x5c must be standard base64 DER", h)
	}
	if strings.Join(got.Attributes, ",") != "name,dob,gender" {
		t.Errorf("attributes = %v", got.Attributes)
	}
	// A fresh transaction id and key every time.
	again, _ := b.Build(jane)
	if again.TransactionID == got.TransactionID || string(again.Body) == string(got.Body) {
		t.Error("two requests share a transaction id or ciphertext")
	}
}

func TestFullName(t *testing.T) {
	t.Parallel()
	tests := []struct{ format, first, middle, last, want string }{
		{"", "Jane", "Mary", "Doe", "Jane Mary Doe"},
		{"", "Jane", "", "Doe", "Jane Doe"},
		{"", "  Jane ", " ", " Doe  ", "Jane Doe"},
		{"{firstname} {surname}", "Jane", "Mary", "Doe", "Jane Doe"},
		{"{surname} {firstname} {middlename}", "Jane", "Mary", "Doe", "Doe Jane Mary"},
		{"{surname}, {firstname}", "Jane", "", "Doe", "Doe, Jane"},
	}
	for _, tt := range tests {
		b := &ida.Builder{NameFormat: tt.format}
		if got := b.FullName(tt.first, tt.middle, tt.last); got != tt.want {
			t.Errorf("FullName(%q) with %q = %q, want %q", tt.first+"|"+tt.middle+"|"+tt.last, tt.format, got, tt.want)
		}
	}
	for _, f := range []string{"{firstname}", "{surname} {firstname}"} {
		if err := ida.CheckNameFormat(f); err != nil {
			t.Errorf("CheckNameFormat(%q) = %v", f, err)
		}
	}
	for _, f := range []string{"{middlename}", "{first} {surname}", "Mr"} {
		if err := ida.CheckNameFormat(f); err == nil {
			t.Errorf("CheckNameFormat(%q) accepted", f)
		}
	}
}

func TestParseResponse(t *testing.T) {
	t.Parallel()
	attrs := []string{ida.AttrName, ida.AttrDOB, ida.AttrGender}
	dea := func(attr string) [3]string {
		return [3]string{"IDA-DEA-001", "Demographic data " + attr + " in eng did not match", ""}
	}
	tests := []struct {
		name     string
		status   int
		body     string
		verified bool
		reason   string
		matches  map[string]string
		errCode  string // non-verdict: the *mosip.Error code
		kind     mosip.Kind
		temp     bool
	}{
		{name: "verified", status: 200, body: fakeida.Answer(), verified: true,
			matches: map[string]string{"name": "matched", "dob": "matched", "gender": "matched"}},
		{name: "dob mismatch", status: 200, body: fakeida.Answer(dea("dob")), reason: ida.ReasonMismatch,
			matches: map[string]string{"name": "matched", "dob": "mismatched", "gender": "matched"}},
		{name: "two mismatches", status: 200, body: fakeida.Answer(dea("name"), dea("gender")), reason: ida.ReasonMismatch,
			matches: map[string]string{"name": "mismatched", "dob": "matched", "gender": "mismatched"}},
		{name: "not in database", status: 200, body: fakeida.Answer([3]string{"IDA-DEA-003", "Demographic data gender in eng not available in database", ""}),
			reason: ida.ReasonMismatch, matches: map[string]string{"name": "matched", "dob": "matched", "gender": "not_available"}},
		{name: "unattributable mismatch", status: 200, body: fakeida.Answer([3]string{"IDA-DEA-001", "did not match", ""}),
			reason: ida.ReasonMismatch, matches: map[string]string{"name": "", "dob": "", "gender": ""}},
		{name: "unknown UIN", status: 200, body: fakeida.Answer([3]string{"IDA-MLC-018", "UIN not available in database", ""}), reason: ida.ReasonNotFound,
			matches: map[string]string{"name": "", "dob": "", "gender": ""}},
		{name: "legacy unknown UIN", status: 200, body: fakeida.Answer([3]string{"IDA-MLC-002", "Invalid UIN", ""}), reason: ida.ReasonNotFound},
		{name: "deactivated", status: 200, body: fakeida.Answer([3]string{"IDA-MLC-022", "UIN is deactivated/blocked", ""}), reason: ida.ReasonInactive},
		{name: "authStatus false alone", status: 200, body: `{"response":{"authStatus":false},"errors":null}`, reason: ida.ReasonNotAuthenticated},
		{name: "message instead of errorMessage", status: 200, body: `{"response":null,"errors":[{"errorCode":"IDA-MLC-018","message":"x"}]}`, reason: ida.ReasonNotFound},
		{name: "signature refused", status: 200, body: fakeida.Answer([3]string{"IDA-MPA-001", "Digital signature verification failed for signature header", ""}),
			errCode: "IDA-MPA-001", kind: mosip.KindRejected},
		{name: "verdict mixed with a partner error", status: 200, body: fakeida.Answer(dea("name"), [3]string{"IDA-MPA-006", "not allowed", ""}),
			errCode: "IDA-MPA-006", kind: mosip.KindRejected},
		{name: "time window", status: 200, body: fakeida.Answer([3]string{"IDA-MLC-001", "Request to be received at MOSIP within 30 seconds", ""}),
			errCode: "IDA-MLC-001", kind: mosip.KindRejected},
		{name: "unsupported language", status: 200, body: fakeida.Answer([3]string{"IDA-DEA-002", "Unsupported Language Code", ""}),
			errCode: "IDA-DEA-002", kind: mosip.KindRejected},
		{name: "gateway down", status: 503, body: "no healthy upstream", kind: mosip.KindHTTP, temp: true},
		{name: "auth filter", status: 401, body: `{"errors":[{"errorCode":"KER-ATH-401","message":"Authentication Failed"}]}`, errCode: "KER-ATH-401", kind: mosip.KindHTTP},
		{name: "HTML with 200", status: 200, body: "<html>proxy</html>", kind: mosip.KindMalformed},
		{name: "empty envelope", status: 200, body: `{}`, kind: mosip.KindMalformed},
		{name: "errors not an array", status: 200, body: `{"errors":{"errorCode":"x"}}`, kind: mosip.KindMalformed},
	}
	for _, tt := range tests {
		out, err := ida.ParseResponse(tt.status, []byte(tt.body), attrs)
		if tt.kind != 0 {
			var me *mosip.Error
			if !errors.As(err, &me) || me.Kind != tt.kind || me.Code != tt.errCode || me.Temporary() != tt.temp {
				t.Errorf("%s: ParseResponse = %v, %v; want a %v error %q (temporary %v)", tt.name, out, err, tt.kind, tt.errCode, tt.temp)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: ParseResponse error %v", tt.name, err)
			continue
		}
		if out.Verified != tt.verified || out.Reason != tt.reason {
			t.Errorf("%s: verified %v reason %q, want %v %q", tt.name, out.Verified, out.Reason, tt.verified, tt.reason)
		}
		for a, want := range tt.matches {
			if out.Matches[a] != want {
				t.Errorf("%s: %s = %q, want %q", tt.name, a, out.Matches[a], want)
			}
		}
	}
}

func FuzzParseResponse(f *testing.F) {
	f.Add(200, []byte(fakeida.Answer()))
	f.Add(200, []byte(fakeida.Answer([3]string{"IDA-DEA-001", "Demographic data name in eng did not match", "x"})))
	f.Add(200, []byte(`{"response":{"authStatus":true},"errors":[{"errorCode":"IDA-MLC-018"}]}`))
	f.Add(200, []byte(`{"errors":[{"errorCode":5,"errorMessage":null}],"response":null}`))
	f.Add(500, []byte(`{"errors":[]}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		out, err := ida.ParseResponse(status, body, []string{ida.AttrName, ida.AttrDOB})
		if (out == nil) == (err == nil) {
			t.Fatalf("ParseResponse = %v, %v: exactly one must be set", out, err)
		}
		if out != nil {
			if out.Verified && (len(out.Errors) > 0 || out.Reason != "") {
				t.Fatalf("verified with errors %v / reason %q", out.Errors, out.Reason)
			}
			if !out.Verified && out.Reason == "" {
				t.Fatal("failed without a reason")
			}
			for _, e := range out.Errors {
				if !ida.IsVerdict(e.Code) {
					t.Fatalf("a non-verdict code %q made an outcome", e.Code)
				}
			}
		}
		if status >= 200 && status < 300 {
			return
		}
		if err == nil {
			t.Fatalf("HTTP %d made an outcome", status)
		}
	})
}

// Against a strict IDA over real HTTP: verdicts come back as outcomes,
// a 503 is one temporary failure, and neither the licence nor the API key
// ends up in an error.
func TestClient(t *testing.T) {
	t.Parallel()
	srv := fakeida.New(t)
	c, err := ida.NewClient(ida.Options{AuthURL: srv.AuthURL(), MISPLicenseKey: fakeida.LicenseKey, PartnerID: fakeida.PartnerID,
		APIKey: fakeida.APIKey, Builder: builder(t), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	out, err := c.Authenticate(ctx, jane)
	if err != nil || !out.Verified || len(out.TransactionID) != 10 {
		t.Fatalf("Authenticate(jane) = %+v, %v", out, err)
	}
	seen := srv.Requests()[0]
	if seen.Rejection != "" || seen.Header.Get("Authorization") != "Authorization" || seen.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request = %+v", seen)
	}
	wrong := jane
	wrong.DOB = dob("1990-02-01")
	if out, err := c.Authenticate(ctx, wrong); err != nil || out.Verified || out.Matches[ida.AttrDOB] != ida.MatchMismatched || out.Matches[ida.AttrName] != ida.MatchMatched {
		t.Errorf("wrong dob = %+v, %v", out, err)
	}
	unknown := jane
	unknown.IndividualID = "9999999999"
	if out, err := c.Authenticate(ctx, unknown); err != nil || out.Reason != ida.ReasonNotFound {
		t.Errorf("unknown = %+v, %v", out, err)
	}

	var calls atomic.Int32
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "no healthy upstream", http.StatusServiceUnavailable)
	}))
	defer flaky.Close()
	c2, _ := ida.NewClient(ida.Options{AuthURL: flaky.URL + "/idauthentication/v1/auth", MISPLicenseKey: fakeida.LicenseKey,
		PartnerID: fakeida.PartnerID, APIKey: fakeida.APIKey, Builder: builder(t)})
	if _, err := c2.Authenticate(ctx, jane); !mosip.IsTemporary(err) || calls.Load() != 1 {
		t.Errorf("IDA 503 = %v after %d calls: want one temporary failure (the gRPC callers retry)", err, calls.Load())
	}

	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	c3, _ := ida.NewClient(ida.Options{AuthURL: deadURL + "/idauthentication/v1/auth", MISPLicenseKey: fakeida.LicenseKey,
		PartnerID: fakeida.PartnerID, APIKey: fakeida.APIKey, Builder: builder(t)})
	_, err = c3.Authenticate(ctx, jane)
	if !mosip.IsTemporary(err) || strings.Contains(err.Error(), fakeida.APIKey) || strings.Contains(err.Error(), fakeida.LicenseKey) {
		t.Errorf("IDA unreachable = %v: want a temporary error without the keys", err)
	}

	c4, _ := ida.NewClient(ida.Options{AuthURL: srv.AuthURL(), MISPLicenseKey: fakeida.LicenseKey, PartnerID: fakeida.PartnerID,
		APIKey: "wrong-key", Builder: builder(t)})
	_, err = c4.Authenticate(ctx, jane)
	var me *mosip.Error
	if !errors.As(err, &me) || me.Code != "IDA-MPA-009" || me.Temporary() {
		t.Errorf("wrong API key = %v, want IDA-MPA-009", err)
	}
}

// BenchmarkBuild is the CPU cost of one IDA request: JSON, AES-GCM,
// RSA-OAEP for the session key and the RS256 signature (the bulk).
func BenchmarkBuild(b *testing.B) {
	bl := builder(b)
	for b.Loop() {
		if _, err := bl.Build(jane); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildParts splits Build: the encryption (JSON, AES-GCM,
// RSA-OAEP with the public key) and the RS256 signature (the bulk).
func BenchmarkBuildParts(b *testing.B) {
	bl := builder(b)
	built, err := bl.Build(jane)
	if err != nil {
		b.Fatal(err)
	}
	ks := bl.Keystore
	b.Run("encrypt", func(b *testing.B) {
		for b.Loop() {
			if _, err := mosipcrypto.EncryptIDARequest(bl.IDACert, built.Body[:200]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sign", func(b *testing.B) {
		for b.Loop() {
			if _, err := mosipcrypto.SignDetachedRS256(ks, built.Body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
