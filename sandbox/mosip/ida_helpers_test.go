package mosip

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mosipcrvs/bridge/sandbox/pki"
)

// Partner set-up of the IDA contract tests.
const (
	idaTestLK        = "sandbox-misp-license-key"
	idaTestPartner   = "opencrvs-auth-partner"
	idaTestAPIKey    = "sandbox-api-key-1"
	idaTestDomain    = "https://api-internal.sandbox.mosip.net"
	idaTestMISPLK    = "misp-own-license-key"
	idaTestMISP      = "sandbox-misp-partner"
	idaTestBlockedLK = "blocked-license-key"
	idaTestExpiredLK = "expired-license-key"
	idaTestNoCertLK  = "nocert-license-key"
	idaTestNoCert    = "nocert-partner"
)

// idaTestKeyset holds the keys every IDA test shares; RSA key generation is
// the slow part, so it runs once per package.
type idaTestKeyset struct {
	idaCert *pki.Cert // IDA partner-encryption key
	partner *pki.Cert // the registered partner's signing key
	misp    *pki.Cert // the MISP partner's signing key
	other   *pki.Cert // a valid certificate nobody registered
	signing *pki.Cert // IDA's response-signing key
	expired struct {
		key *rsa.PrivateKey
		der []byte
	}
}

var (
	idaKeysOnce sync.Once
	idaKeys     *idaTestKeyset
	idaKeysErr  error
)

func idaTestKeys(t *testing.T) *idaTestKeyset {
	t.Helper()
	idaKeysOnce.Do(func() {
		ca, err := pki.NewCA("ida test CA")
		if err != nil {
			idaKeysErr = err
			return
		}
		k := &idaTestKeyset{}
		for _, dst := range []**pki.Cert{&k.idaCert, &k.partner, &k.misp, &k.other, &k.signing} {
			if *dst, err = ca.Issue("ida-test"); err != nil {
				idaKeysErr = err
				return
			}
		}
		// An expired certificate, made with the stdlib alone.
		if k.expired.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			idaKeysErr = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: "expired partner"},
			NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature,
		}
		k.expired.der, idaKeysErr = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.expired.key.PublicKey, k.expired.key)
		idaKeys = k
	})
	if idaKeysErr != nil {
		t.Fatalf("ida test keys: %v", idaKeysErr)
	}
	return idaKeys
}

// idaTestServer is one IDA emulator behind a real HTTP server.
type idaTestServer struct {
	ida  *IDA
	url  string
	keys *idaTestKeyset
	reg  *Registry
}

// idaNewServer starts an IDA with the standard partners; mod may adjust
// the options (and the registry) first.
func idaNewServer(t *testing.T, mod func(o *IDAOptions)) *idaTestServer {
	t.Helper()
	k := idaTestKeys(t)
	reg := NewRegistry(DefaultIdentities())
	o := IDAOptions{
		Registry: reg,
		IDACert:  k.idaCert,
		Partners: []IDAPartner{
			{PartnerID: idaTestPartner, MISPLicenseKey: idaTestLK, APIKey: idaTestAPIKey, Cert: k.partner.Cert},
			{PartnerID: idaTestMISP, MISPLicenseKey: idaTestMISPLK, APIKey: "misp-api-key", Cert: k.misp.Cert},
			{PartnerID: "blocked-misp", MISPLicenseKey: idaTestBlockedLK, APIKey: "blocked-key", Cert: k.other.Cert, LicenseBlocked: true},
			{PartnerID: "expired-misp", MISPLicenseKey: idaTestExpiredLK, APIKey: "expired-key", Cert: k.other.Cert,
				LicenseExpiresAt: time.Now().Add(-time.Hour)},
			{PartnerID: idaTestNoCert, MISPLicenseKey: idaTestNoCertLK, APIKey: "nocert-key"},
		},
		AllowedDomainURIs: []string{idaTestDomain, "https://esignet.sandbox.mosip.net"},
	}
	if mod != nil {
		mod(&o)
	}
	d, err := NewIDA(o)
	if err != nil {
		t.Fatalf("NewIDA: %v", err)
	}
	mux := http.NewServeMux()
	d.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &idaTestServer{ida: d, url: srv.URL, keys: k, reg: o.Registry}
}

// idaTestReq describes one request; zero fields take the values of a valid
// demographic authentication of UIN 1234567890 by the registered partner.
type idaTestReq struct {
	Path  string         // default /idauthentication/v1/auth/<LK>/<partner>/<api key>
	Outer map[string]any // outer fields set or overridden (nil value = JSON null)
	Omit  []string       // outer fields removed
	// Inner overrides the deciphered request entirely; InnerMod edits the
	// default one; InnerRaw gives the exact bytes to encrypt.
	Inner    map[string]any
	InnerMod func(inner map[string]any, demo map[string]any)
	InnerRaw []byte

	EncryptFor *rsa.PublicKey             // session-key recipient (default IDA cert)
	WrapKey    func(aesKey []byte) []byte // replaces RSA-OAEP-SHA256 wrapping
	Thumbprint *string                    // default b64url(SHA-256(IDA DER)), unpadded
	HMACText   func(inner []byte) []byte  // what requestHMAC encrypts (default upper hex SHA-256)
	SignKey    *rsa.PrivateKey            // default partner key
	X5C        *string                    // default std base64 of the partner DER
	NoX5C      bool                       // header without x5c
	Alg        string                     // default RS256
	Signature  *string                    // raw signature header (overrides signing)
	NoAuthz    bool                       // omit the Authorization header
	Tamper     func(body []byte) []byte   // applied after signing
	Body       []byte                     // raw body (skips building; still signed)
	Headers    map[string]string          // extra headers
	Client     *http.Client               // default http.DefaultClient
	Now        time.Time                  // request clock (default time.Now)
}

// idaTestResp is the IDA response envelope, decoded independently.
type idaTestResp struct {
	ID            string  `json:"id"`
	Version       string  `json:"version"`
	TransactionID *string `json:"transactionID"`
	ResponseTime  string  `json:"responseTime"`
	Response      *struct {
		AuthStatus bool    `json:"authStatus"`
		AuthToken  *string `json:"authToken"`
	} `json:"response"`
	Errors []struct {
		ErrorCode     string  `json:"errorCode"`
		ErrorMessage  string  `json:"errorMessage"`
		ActionMessage *string `json:"actionMessage"`
	} `json:"errors"`
}

type idaTestResult struct {
	Status  int
	Header  http.Header
	Raw     []byte
	Resp    idaTestResp
	Inner   []byte // what was encrypted
	SentRaw []byte // the body sent
}

func idaTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func idaDefaultInner(now time.Time) map[string]any {
	return map[string]any{
		"timestamp": idaTime(now),
		"demographics": map[string]any{
			"name":   []any{map[string]any{"language": "eng", "value": "Charles Dikkens Doe 2nd"}},
			"gender": []any{map[string]any{"language": "eng", "value": "Male"}},
			"dob":    "2008/02/29",
		},
		"biometrics": []any{},
	}
}

// idaSeal is keymanager's symmetric layout, written with the stdlib:
// AES-GCM, 16-byte IV, no AAD, ciphertext‖tag‖IV, base64url unpadded.
func idaSeal(t *testing.T, key, plain []byte) string {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, 16)
	if err != nil {
		t.Fatal(err)
	}
	iv := make([]byte, 16)
	if _, err := rand.Read(iv); err != nil {
		t.Fatal(err)
	}
	out := append(gcm.Seal(nil, iv, plain, nil), iv...)
	return base64.RawURLEncoding.EncodeToString(out)
}

// idaSign makes the detached compact JWS of the signature header.
func idaSign(t *testing.T, key *rsa.PrivateKey, header map[string]any, body []byte) string {
	t.Helper()
	hdr, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	h := base64.RawURLEncoding.EncodeToString(hdr)
	digest := sha256.Sum256([]byte(h + "." + base64.RawURLEncoding.EncodeToString(body)))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return h + ".." + base64.RawURLEncoding.EncodeToString(sig)
}

func idaPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func idaStr(s string) *string { return &s }

// idaMIME is standard base64 broken into 64-character lines.
func idaMIME(b []byte) string {
	enc := base64.StdEncoding.EncodeToString(b)
	var lines []string
	for len(enc) > 64 {
		lines = append(lines, enc[:64])
		enc = enc[64:]
	}
	return strings.Join(append(lines, enc), "\r\n")
}

// idaSend builds, encrypts, signs and posts req.
func idaSend(t *testing.T, s *idaTestServer, req idaTestReq) idaTestResult {
	t.Helper()
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	var res idaTestResult
	body := req.Body
	if body == nil {
		inner := req.Inner
		if inner == nil {
			inner = idaDefaultInner(now)
		}
		if req.InnerMod != nil {
			demo, _ := inner["demographics"].(map[string]any)
			req.InnerMod(inner, demo)
		}
		innerJSON := req.InnerRaw
		if innerJSON == nil {
			var err error
			if innerJSON, err = json.Marshal(inner); err != nil {
				t.Fatal(err)
			}
		}
		res.Inner = innerJSON

		aesKey := make([]byte, 32)
		if _, err := rand.Read(aesKey); err != nil {
			t.Fatal(err)
		}
		var wrapped []byte
		if req.WrapKey != nil {
			wrapped = req.WrapKey(aesKey)
		} else {
			pub := req.EncryptFor
			if pub == nil {
				pub = s.keys.idaCert.Cert.PublicKey.(*rsa.PublicKey)
			}
			var err error
			if wrapped, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, aesKey, nil); err != nil {
				t.Fatal(err)
			}
		}
		hmacText := func(b []byte) []byte {
			sum := sha256.Sum256(b)
			return []byte(strings.ToUpper(hex.EncodeToString(sum[:])))
		}
		if req.HMACText != nil {
			hmacText = req.HMACText
		}
		tp := sha256.Sum256(s.keys.idaCert.DER)
		thumb := base64.RawURLEncoding.EncodeToString(tp[:])
		if req.Thumbprint != nil {
			thumb = *req.Thumbprint
		}
		outer := map[string]any{
			"id": "mosip.identity.auth", "version": "1.0",
			"individualId": "1234567890", "individualIdType": "UIN",
			"transactionID": "1234567890", "requestTime": idaTime(now),
			"specVersion": "1.0", "thumbprint": thumb,
			"domainUri": idaTestDomain, "env": "Staging", "consentObtained": true,
			"request":           idaSeal(t, aesKey, innerJSON),
			"requestSessionKey": base64.RawURLEncoding.EncodeToString(wrapped),
			"requestHMAC":       idaSeal(t, aesKey, hmacText(innerJSON)),
			"metadata":          map[string]any{},
		}
		for k, v := range req.Outer {
			outer[k] = v
		}
		for _, k := range req.Omit {
			delete(outer, k)
		}
		var err error
		if body, err = json.Marshal(outer); err != nil {
			t.Fatal(err)
		}
	}

	sig := ""
	switch {
	case req.Signature != nil:
		sig = *req.Signature
	default:
		key := req.SignKey
		if key == nil {
			key = s.keys.partner.Key
		}
		alg := req.Alg
		if alg == "" {
			alg = "RS256"
		}
		hdr := map[string]any{"alg": alg}
		if !req.NoX5C {
			x5c := base64.StdEncoding.EncodeToString(s.keys.partner.DER)
			if req.X5C != nil {
				x5c = *req.X5C
			}
			hdr["x5c"] = []string{x5c}
		}
		sig = idaSign(t, key, hdr, body)
	}
	if req.Tamper != nil {
		body = req.Tamper(body)
	}
	res.SentRaw = body

	path := req.Path
	if path == "" {
		path = "/idauthentication/v1/auth/" + idaTestLK + "/" + idaTestPartner + "/" + idaTestAPIKey
	}
	hr, err := http.NewRequest(http.MethodPost, s.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Content-Type", "application/json")
	if sig != "" {
		hr.Header.Set("signature", sig)
	}
	if !req.NoAuthz {
		hr.Header.Set("Authorization", "Authorization")
	}
	for k, v := range req.Headers {
		hr.Header.Set(k, v)
	}
	client := req.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(hr)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	res.Status = resp.StatusCode
	res.Header = resp.Header
	if res.Raw, err = io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(res.Raw, &res.Resp); err != nil {
			t.Fatalf("response is not the IDA envelope: %v\n%s", err, res.Raw)
		}
	}
	return res
}

// idaWantError asserts an HTTP 200 business error with the given first
// error code and (when not empty) message.
func idaWantError(t *testing.T, res idaTestResult, code, message string) {
	t.Helper()
	if res.Status != http.StatusOK {
		t.Fatalf("HTTP %d, want 200 (IDA answers business errors with 200)\n%s", res.Status, res.Raw)
	}
	if len(res.Resp.Errors) == 0 {
		t.Fatalf("no errors, want %s\n%s", code, res.Raw)
	}
	got := res.Resp.Errors[0]
	if got.ErrorCode != code || (message != "" && got.ErrorMessage != message) {
		t.Fatalf("error = %s %q, want %s %q\n%s", got.ErrorCode, got.ErrorMessage, code, message, res.Raw)
	}
	if res.Resp.Response == nil || res.Resp.Response.AuthStatus || res.Resp.Response.AuthToken != nil {
		t.Fatalf("response must be {authStatus:false, authToken:null} on error\n%s", res.Raw)
	}
	if bytes.Contains(res.Raw, []byte(`"message"`)) {
		t.Fatalf("IDA errors carry errorMessage, never message\n%s", res.Raw)
	}
}

// idaWantVerified asserts a successful authentication.
func idaWantVerified(t *testing.T, res idaTestResult) string {
	t.Helper()
	if res.Status != http.StatusOK {
		t.Fatalf("HTTP %d\n%s", res.Status, res.Raw)
	}
	r := res.Resp
	if r.Response == nil || !r.Response.AuthStatus || len(r.Errors) != 0 {
		t.Fatalf("not verified:\n%s", res.Raw)
	}
	if !bytes.Contains(res.Raw, []byte(`"errors":null`)) {
		t.Fatalf("success must carry errors:null\n%s", res.Raw)
	}
	if r.Response.AuthToken == nil || len(*r.Response.AuthToken) != 36 || strings.Trim(*r.Response.AuthToken, "0123456789") != "" {
		t.Fatalf("authToken must be a 36-digit partner-specific token\n%s", res.Raw)
	}
	return *r.Response.AuthToken
}
