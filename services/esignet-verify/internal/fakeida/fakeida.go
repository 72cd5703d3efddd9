// Package fakeida is a small, strict MOSIP IDA for the service's tests: a
// real HTTP server that decrypts requests with IDA's key, checks the HMAC,
// the detached signature against the partner's pinned certificate, the
// thumbprint, the time window and the transaction id, then matches the
// demographics against a few identities the way IDA's exact strategy does.
// The sandbox's IDA emulator is the fuller one; this one keeps the
// service's tests inside its module.
package fakeida

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mosipcrvs/bridge/pkg/mosipcrypto"
	"github.com/mosipcrvs/bridge/services/esignet-verify/internal/testpki"
)

// Credentials of the partner the fake knows.
const (
	LicenseKey = "fakeMISPlicenseKey0123456789"
	PartnerID  = "crvs-partner"
	APIKey     = "fake-api-key"
	DomainURI  = "https://api-internal.fake.mosip.net"
)

// Identity is a person IDA knows.
type Identity struct {
	UIN, Name, DOB, Gender string
}

// Identities are the fake's people.
var Identities = []Identity{
	{UIN: "1234567890", Name: "Jane Mary Doe", DOB: "1990/01/31", Gender: "Female"},
	{UIN: "1234567891", Name: "John Doe", DOB: "1985/12/01", Gender: "Male"},
}

// Seen is one request as the fake read it.
type Seen struct {
	Path   string
	Header http.Header
	Body   map[string]any
	// Inner is the decrypted auth data.
	Inner map[string]any
	// Rejection is the IDA code the crypto checks answered, "" if they passed.
	Rejection string
}

// Server is the fake IDA.
type Server struct {
	*httptest.Server
	IDA, Partner *testpki.Cert
	// Respond, when set, answers instead of the fake's matching once the
	// request passed every check.
	Respond func(Seen) (status int, body string)

	mu   sync.Mutex
	seen []Seen
}

// New starts a fake IDA whose endpoint is AuthURL()/{lk}/{partner}/{key}.
func New(tb testing.TB) *Server {
	s := &Server{IDA: testpki.Get(tb, "ida"), Partner: testpki.Get(tb, "partner")}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// AuthURL is the URL to configure as IDA_AUTH_URL.
func (s *Server) AuthURL() string { return s.URL + "/idauthentication/v1/auth" }

// Requests returns what the fake received, oldest first.
func (s *Server) Requests() []Seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seen)
}

var txnPattern = regexp.MustCompile(`^[A-Za-z0-9]{10}$`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	seen := Seen{Path: r.URL.Path, Header: r.Header.Clone()}
	status, body := s.handle(r, &seen)
	s.mu.Lock()
	s.seen = append(s.seen, seen)
	respond := s.Respond
	s.mu.Unlock()
	if seen.Rejection == "" && respond != nil {
		status, body = respond(seen)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// Answer is an IDA response body with the given errors (authStatus true
// when there are none).
func Answer(errs ...[3]string) string {
	list := []map[string]string{}
	for _, e := range errs {
		m := map[string]string{"errorCode": e[0], "errorMessage": e[1]}
		if e[2] != "" {
			m["actionMessage"] = e[2]
		}
		list = append(list, m)
	}
	var resp map[string]any
	if len(list) == 0 {
		resp = map[string]any{"authStatus": true, "authToken": "psut-token"}
	} else {
		resp = map[string]any{"authStatus": false, "authToken": nil}
	}
	b, _ := json.Marshal(map[string]any{"id": "mosip.identity.auth", "version": "1.0", "transactionID": "0000000000",
		"responseTime": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), "response": resp, "errors": list})
	return string(b)
}

func (s *Server) handle(r *http.Request, seen *Seen) (int, string) {
	reject := func(code, msg string) (int, string) {
		seen.Rejection = code
		return http.StatusOK, Answer([3]string{code, msg, ""})
	}
	if r.URL.Path != "/idauthentication/v1/auth/"+LicenseKey+"/"+PartnerID+"/"+APIKey {
		return reject("IDA-MPA-009", "Partner is not registered")
	}
	if r.Header.Get("Authorization") == "" {
		return reject("IDA-MLC-006", "Missing Input Parameter - Authorization - header")
	}
	raw, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(raw, &seen.Body); err != nil {
		return reject("IDA-MLC-007", "Request could not be processed. Please try again")
	}
	h, _, _, err := mosipcrypto.ParseDetached(r.Header.Get("signature"))
	if err != nil || len(h.X5C) != 1 {
		return reject("IDA-MPA-022", "Partner (Auth) Certificate not found in Request signature header.")
	}
	// keymanager ≥ 1.3 decodes x5c with the strict standard decoder.
	if _, err := base64.StdEncoding.DecodeString(h.X5C[0]); err != nil {
		return reject("IDA-MPA-002", "Invalid certificate in digital signature")
	}
	if _, err := mosipcrypto.VerifyDetached(r.Header.Get("signature"), raw, mosipcrypto.VerifyOptions{
		Algorithms: []string{"RS256"}, Trusted: []*x509.Certificate{s.Partner.Cert}}); err != nil {
		return reject("IDA-MPA-001", "Digital signature verification failed for signature header")
	}
	get := func(k string) string { v, _ := seen.Body[k].(string); return v }
	if get("thumbprint") != base64.RawURLEncoding.EncodeToString(mosipcrypto.Thumbprint(s.IDA.Cert)) {
		return reject("IDA-MPA-003", "Unable to decrypt Request")
	}
	inner, err := mosipcrypto.DecryptIDARequest(s.IDA.Key, mosipcrypto.IDARequestCrypto{
		Request: get("request"), RequestHMAC: get("requestHMAC"), RequestSessionKey: get("requestSessionKey"), Thumbprint: get("thumbprint")})
	if err != nil {
		return reject("IDA-MPA-016", "HMAC Validation failed")
	}
	if err := json.Unmarshal(inner, &seen.Inner); err != nil {
		return reject("IDA-MLC-007", "Request could not be processed. Please try again")
	}
	for _, k := range []string{"requestTime"} {
		t, err := time.Parse("2006-01-02T15:04:05.000Z07:00", get(k))
		if err != nil || time.Since(t).Abs() > 30*time.Second {
			return reject("IDA-MLC-001", "Request to be received at MOSIP within 30 seconds")
		}
	}
	if ts, _ := seen.Inner["timestamp"].(string); ts == "" {
		return reject("IDA-MLC-006", "Missing Input Parameter - request/timestamp")
	}
	switch {
	case get("id") != "mosip.identity.auth" || get("version") != "1.0":
		return reject("IDA-MLC-009", "Invalid Input Parameter - id")
	case !txnPattern.MatchString(get("transactionID")):
		return reject("IDA-MLC-009", "Invalid Input Parameter - transactionID")
	case get("domainUri") != DomainURI:
		return reject("IDA-MLC-009", "Invalid Input Parameter - request/domainUri")
	case seen.Body["consentObtained"] != true:
		return reject("IDA-MLC-012", "Individual's Consent is not available")
	}
	return s.match(seen)
}

// match is IDA's EXACT demographic match: words compared lower case,
// every word present.
func (s *Server) match(seen *Seen) (int, string) {
	uin, _ := seen.Body["individualId"].(string)
	var id *Identity
	for i := range Identities {
		if Identities[i].UIN == uin {
			id = &Identities[i]
		}
	}
	if id == nil {
		return http.StatusOK, Answer([3]string{"IDA-MLC-018", "UIN not available in database", ""})
	}
	demo, _ := seen.Inner["demographics"].(map[string]any)
	var errs [][3]string
	value := func(attr string) string {
		list, _ := demo[attr].([]any)
		if len(list) == 0 {
			return ""
		}
		m, _ := list[0].(map[string]any)
		v, _ := m["value"].(string)
		return v
	}
	same := func(a, b string) bool {
		x, y := strings.Fields(strings.ToLower(a)), strings.Fields(strings.ToLower(b))
		slices.Sort(x)
		slices.Sort(y)
		return slices.Equal(x, y)
	}
	if n := value("name"); n != "" && !same(n, id.Name) {
		errs = append(errs, [3]string{"IDA-DEA-001", "Demographic data name in eng did not match", "Please re-enter your name in eng"})
	}
	if dob, _ := demo["dob"].(string); dob != id.DOB {
		errs = append(errs, [3]string{"IDA-DEA-001", "Demographic data dob did not match", "Please re-enter your dob"})
	}
	if g := value("gender"); g != "" && !same(g, id.Gender) {
		errs = append(errs, [3]string{"IDA-DEA-001", fmt.Sprintf("Demographic data gender in %s did not match", "eng"), ""})
	}
	return http.StatusOK, Answer(errs...)
}
