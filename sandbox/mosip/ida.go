package mosip

// This file emulates MOSIP ID Authentication (IDA) demographic
// authentication: POST /idauthentication/v1/auth/{MISP-LK}/{partnerId}/{apiKey}.
//
// The checks run in the order real IDA runs them (mosip/id-authentication
// BaseIDAFilter → BaseAuthFilter/IdAuthFilter → AuthRequestValidator →
// identity service → demo matching), so a request with several faults gets
// the same first error as production:
//
//  1. path parameters                       IDA-MPA-038
//  2. body JSON, id, version                IDA-MLC-007 / -006 / -009
//  3. signature header (detached JWS)       IDA-MLC-006 / IDA-MPA-001 / -022 / -002
//  4. Authorization header (consent token)  IDA-MLC-006
//  5. decipher: session key, request, HMAC  IDA-MLC-006 / -007, IDA-MPA-003 / -016
//  6. partner, cert, MISP licence, policy   IDA-MPA-009 / -020 / -021 / -007 / -008 / -017 / -006
//  7. validator: consent, times, domainUri, env, transactionID, individualId,
//     demographics, auth type               IDA-MLC-012 / -001 / -006 / -009 / -013 / -008, IDA-DEA-002
//  8. identity                              IDA-MLC-018 (or legacy -002/-004), IDA-MLC-022 / -023
//  9. demographic match                     IDA-DEA-001 / -003
//
// Every business error is answered HTTP 200 with IDA's own envelope
// (errorCode/errorMessage/actionMessage, responseTime camel-case), as
// IdAuthExceptionHandler does.

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mosipcrvs/bridge/sandbox/pki"
)

// IDA API constants (mosip-config id-authentication-default.properties).
const (
	// IDAAuthPattern is the ServeMux pattern of the authentication endpoint.
	IDAAuthPattern = "POST /idauthentication/v1/auth/{mispLK}/{partnerId}/{apiKey}"
	// IDAAuthID is ida.api.id.auth, the only accepted request id.
	IDAAuthID = "mosip.identity.auth"
	// IDAAuthVersion is ida.api.version.auth, echoed in responses.
	IDAAuthVersion = "1.0"
	// DefaultIDADomainURI is the allowed domainUri when IDAOptions gives none:
	// MOSIP's default is ${mosip.api.internal.url}; this is the sandbox's.
	DefaultIDADomainURI = "https://api-internal.sandbox.mosip.net"
	// IDARequestTimeAllowed is authrequest.received-time-allowed.seconds.
	IDARequestTimeAllowed = 30 * time.Second
	// IDARequestTimeAdjustment is authrequest.received-time-adjustment.seconds:
	// the clock skew tolerated on top of the allowed window, both ways.
	IDARequestTimeAdjustment = 30 * time.Second
)

// IDAEnvironments is mosip.ida.allowed.enviromemnts (sic, MOSIP's spelling).
var IDAEnvironments = []string{"Staging", "Developer", "Pre-Production", "Production"}

// DefaultIDALanguages are the ISO-639-3 codes the emulated IDA supports
// (mosip.mandatory-languages + mosip.optional-languages of MOSIP's sandbox
// deployments); any other language code is IDA-DEA-002.
var DefaultIDALanguages = []string{"eng", "fra", "ara", "hin", "kan", "tam"}

// IDAPartner is an authentication partner as PMS registered it with IDA:
// an approved API key, the MISP licence key it calls through, and the
// certificate its request signatures must carry.
type IDAPartner struct {
	PartnerID      string
	MISPLicenseKey string
	APIKey         string
	// Cert is the partner's signing certificate uploaded to PMS; nil means
	// none was uploaded (IDA-MPA-020).
	Cert *x509.Certificate
	// LicenseBlocked makes the MISP licence key IDA-MPA-017.
	LicenseBlocked bool
	// LicenseExpiresAt, when set, makes the licence key IDA-MPA-008 after it.
	LicenseExpiresAt time.Time
}

// IDAOptions configures NewIDA.
type IDAOptions struct {
	// Registry holds the identities authenticated against (required).
	Registry *Registry
	// IDACert is IDA's partner encryption key (keymanager app IDA, ref
	// PARTNER): clients encrypt the session key for it and send its
	// thumbprint. Generated when nil.
	IDACert *pki.Cert
	// Partners are the registered authentication partners.
	Partners []IDAPartner
	// AllowedDomainURIs is mosip.ida.allowed.domain.uris (compared ignoring
	// case); defaults to DefaultIDADomainURI.
	AllowedDomainURIs []string
	// Languages are the supported language codes; defaults to DefaultIDALanguages.
	Languages []string
	// DataLanguage is the language the registry's names and genders are
	// stored in; defaults to "eng". Asking for another supported language
	// yields IDA-DEA-003 (not available in database).
	DataLanguage string
	// Lenient relaxes, for demos only, what real IDA enforces: any
	// non-empty transactionID, any RFC 3339 requestTime without the time
	// window, and x5c in base64url or PEM form.
	Lenient bool
	// LegacyNotFoundCode answers an unknown UIN/VID with IDA-MLC-002
	// "Invalid UIN" (IDA-MLC-004 "Invalid VID") as IDA 1.1.x and the
	// OpenCRVS mock do, instead of IDA-MLC-018.
	LegacyNotFoundCode bool
	// Now is IDA's clock; defaults to time.Now.
	Now func() time.Time
	// SigningCert, when set, signs every response: a detached JWS in the
	// response-signature header (mosip.signed.response.header).
	SigningCert *pki.Cert
	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
}

// IDAError is one entry of the response errors[].
type IDAError struct {
	ErrorCode     string `json:"errorCode"`
	ErrorMessage  string `json:"errorMessage"`
	ActionMessage string `json:"actionMessage,omitempty"`
}

// IDARequest is one recorded authentication call, for tests and the
// fault-injection admin API.
type IDARequest struct {
	Time           time.Time
	MISPLicenseKey string
	PartnerID      string
	APIKey         string
	// Body is the raw HTTP body as received.
	Body []byte
	// IndividualID, IndividualIDType and TransactionID are as sent (type
	// as inferred when the client sent none).
	IndividualID     string
	IndividualIDType string
	TransactionID    string
	// Decrypted is the deciphered inner request JSON; nil when the call
	// failed before deciphering.
	Decrypted []byte
	// AuthStatus and Errors are what was answered.
	AuthStatus bool
	Errors     []IDAError
}

// IDA emulates MOSIP's ID authentication service (demographic auth).
// A successful authentication answers the partner-specific token of the
// person (auth policy authTokenType "partner"): MOSIP's token-id generator
// over the UIN and the partner id, so it is stable per person and partner
// and the same whether the UIN or a VID was presented. It is safe for
// concurrent use.
type IDA struct {
	reg          *Registry
	cert         *pki.Cert
	thumbprint   [32]byte
	partners     []IDAPartner
	domains      []string
	languages    map[string]bool
	dataLanguage string
	now          func() time.Time
	signing      *pki.Cert
	log          *slog.Logger

	lenient    atomic.Bool
	legacyNF   atomic.Bool
	calls      atomic.Int64
	fail       atomic.Int64
	delayNanos atomic.Int64

	mu       sync.Mutex
	recorded []IDARequest
}

// idaMaxRecorded bounds the call log so a long demo does not grow memory.
const idaMaxRecorded = 1000

// idaMaxBody bounds request bodies; a demographic request is a few KiB.
const idaMaxBody = 1 << 20

// NewIDA returns an IDA emulator.
func NewIDA(o IDAOptions) (*IDA, error) {
	if o.Registry == nil {
		return nil, errors.New("mosip: IDA needs a Registry")
	}
	for i, p := range o.Partners {
		if p.PartnerID == "" || p.MISPLicenseKey == "" || p.APIKey == "" {
			return nil, fmt.Errorf("mosip: IDA partner %d: PartnerID, MISPLicenseKey and APIKey are required", i)
		}
	}
	cert := o.IDACert
	if cert == nil {
		ca, err := pki.NewCA("sandbox IDA CA")
		if err != nil {
			return nil, err
		}
		if cert, err = ca.Issue("ida-partner"); err != nil {
			return nil, err
		}
	}
	d := &IDA{
		reg:          o.Registry,
		cert:         cert,
		thumbprint:   cert.Thumbprint(),
		partners:     slices.Clone(o.Partners),
		domains:      slices.Clone(o.AllowedDomainURIs),
		languages:    map[string]bool{},
		dataLanguage: o.DataLanguage,
		now:          o.Now,
		signing:      o.SigningCert,
		log:          o.Logger,
	}
	if len(d.domains) == 0 {
		d.domains = []string{DefaultIDADomainURI}
	}
	langs := o.Languages
	if len(langs) == 0 {
		langs = DefaultIDALanguages
	}
	for _, l := range langs {
		d.languages[l] = true
	}
	if d.dataLanguage == "" {
		d.dataLanguage = "eng"
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	d.lenient.Store(o.Lenient)
	d.legacyNF.Store(o.LegacyNotFoundCode)
	return d, nil
}

// Register mounts the authentication endpoint. Requests whose path lacks one
// of the three path parameters are answered IDA-MPA-038 rather than 404, as
// IDA's filter (mapped on /auth/*) sees them before Spring's routing.
func (d *IDA) Register(mux *http.ServeMux) {
	mux.HandleFunc(IDAAuthPattern, d.serveAuth)
	mux.HandleFunc("POST /idauthentication/v1/auth/{rest...}", d.serveAuth)
	mux.HandleFunc("POST /idauthentication/v1/auth", d.serveAuth)
}

// IDACert is IDA's partner encryption certificate with its key; give
// CertPEM() to the bridge as the IDA certificate.
func (d *IDA) IDACert() *pki.Cert { return d.cert }

// Calls returns how many authentication requests were received.
func (d *IDA) Calls() int64 { return d.calls.Load() }

// Requests returns copies of the recorded calls, oldest first (at most the
// last 1000).
func (d *IDA) Requests() []IDARequest {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]IDARequest, len(d.recorded))
	for i, r := range d.recorded {
		r.Body = bytes.Clone(r.Body)
		r.Decrypted = bytes.Clone(r.Decrypted)
		r.Errors = slices.Clone(r.Errors)
		out[i] = r
	}
	return out
}

// ResetRequests forgets the recorded calls.
func (d *IDA) ResetRequests() {
	d.mu.Lock()
	d.recorded = nil
	d.mu.Unlock()
}

// FailNext makes the next n calls fail the way MOSIP's Istio ingress does
// when IDA is down: HTTP 503 "no healthy upstream", no JSON.
func (d *IDA) FailNext(n int) { d.fail.Store(int64(n)) }

// SetDelay makes every call wait d before answering (client timeout tests).
func (d *IDA) SetDelay(delay time.Duration) { d.delayNanos.Store(int64(delay)) }

// SetLenient switches the demo relaxations of IDAOptions.Lenient.
func (d *IDA) SetLenient(on bool) { d.lenient.Store(on) }

// SetLegacyNotFoundCode switches IDAOptions.LegacyNotFoundCode.
func (d *IDA) SetLegacyNotFoundCode(on bool) { d.legacyNF.Store(on) }

// idaFault is a business error: the code, message and optional action
// message IDA puts in errors[].
type idaFault struct{ code, msg, action string }

func idaMissing(param string) *idaFault {
	return &idaFault{code: "IDA-MLC-006", msg: "Missing Input Parameter - " + param}
}

func idaInvalid(param string) *idaFault {
	return &idaFault{code: "IDA-MLC-009", msg: "Invalid Input Parameter - " + param}
}

var (
	idaErrUnableToProcess = &idaFault{code: "IDA-MLC-007", msg: "Request could not be processed. Please try again"}
	idaErrSignature       = &idaFault{code: "IDA-MPA-001", msg: "Digital signature verification failed for signature header"}
	idaErrInvalidCert     = &idaFault{code: "IDA-MPA-002", msg: "Invalid certificate in digital signature"}
	idaErrDecrypt         = &idaFault{code: "IDA-MPA-003", msg: "Unable to decrypt Request"}
	idaErrHMAC            = &idaFault{code: "IDA-MPA-016", msg: "HMAC Validation failed"}
	idaErrCertNotFound    = &idaFault{code: "IDA-MPA-020", msg: "Partner (Auth) Certificate not found in DB."}
	idaErrCertMismatch    = &idaFault{code: "IDA-MPA-021", msg: "Partner (Auth) Certificate not matching with signature header certificate."}
	idaErrCertNotInHeader = &idaFault{code: "IDA-MPA-022", msg: "Partner (Auth) Certificate not found in Request signature header."}
	idaErrLicenseKey      = &idaFault{code: "IDA-MPA-007", msg: "License key does not belong to a registered MISP"}
	idaErrLicenseExpired  = &idaFault{code: "IDA-MPA-008", msg: "License key of MISP has expired"}
	idaErrLicenseBlocked  = &idaFault{code: "IDA-MPA-017", msg: "License key of MISP is blocked"}
	idaErrNotRegistered   = &idaFault{code: "IDA-MPA-009", msg: "Partner is not registered"}
	// The wording of IDA-MPA-038 was not found in the IDA sources read; the
	// code is from the reference (§6.1).
	idaErrPathParams  = &idaFault{code: "IDA-MPA-038", msg: "Required path parameters MISP-LK, Auth-Partner-ID and API-Key are missing"}
	idaErrConsent     = &idaFault{code: "IDA-MLC-012", msg: "Individual's Consent is not available"}
	idaErrNoAuthType  = &idaFault{code: "IDA-MLC-008", msg: "No authentication type selected"}
	idaErrMissingDemo = &idaFault{code: "IDA-MLC-013", msg: "Missing demo auth attribute"}
	idaErrTimestamp   = &idaFault{code: "IDA-MLC-001",
		msg:    fmt.Sprintf("Request to be received at MOSIP within %d seconds", int(IDARequestTimeAllowed/time.Second)),
		action: fmt.Sprintf("Please send the request within %d seconds", int(IDARequestTimeAllowed/time.Second))}
)

// idaResponse is AuthResponseDTO as IDA serialises it.
type idaResponse struct {
	ID            string          `json:"id"`
	Version       string          `json:"version"`
	TransactionID *string         `json:"transactionID"`
	ResponseTime  string          `json:"responseTime"`
	Response      idaResponseBody `json:"response"`
	Errors        []IDAError      `json:"errors"`
}

type idaResponseBody struct {
	AuthStatus bool    `json:"authStatus"`
	AuthToken  *string `json:"authToken"`
}

// idaCall carries one request through the pipeline.
type idaCall struct {
	rec     IDARequest
	body    map[string]json.RawMessage
	txnID   *string
	cert    *x509.Certificate
	inner   map[string]json.RawMessage
	demo    idaDemographics
	lenient bool
}

func (d *IDA) serveAuth(w http.ResponseWriter, r *http.Request) {
	d.calls.Add(1)
	if delay := time.Duration(d.delayNanos.Load()); delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if d.fail.Load() > 0 && d.fail.Add(-1) >= 0 {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "no healthy upstream")
		return
	}
	c := &idaCall{lenient: d.lenient.Load()}
	c.rec.Time = d.now()
	c.rec.MISPLicenseKey, c.rec.PartnerID, c.rec.APIKey = idaPathParams(r)

	token, fault := d.authenticate(w, r, c)
	resp := idaResponse{
		ID: IDAAuthID, Version: IDAAuthVersion, TransactionID: c.txnID,
		ResponseTime: d.now().UTC().Format("2006-01-02T15:04:05.000Z07:00"),
	}
	switch {
	case len(fault) > 0:
		for _, f := range fault {
			resp.Errors = append(resp.Errors, IDAError{ErrorCode: f.code, ErrorMessage: f.msg, ActionMessage: f.action})
		}
	default:
		resp.Response = idaResponseBody{AuthStatus: true, AuthToken: &token}
	}
	c.rec.AuthStatus = resp.Response.AuthStatus
	c.rec.Errors = resp.Errors
	d.record(c.rec)
	d.log.Info("ida auth", "partner", c.rec.PartnerID, "individualIdType", c.rec.IndividualIDType,
		"transactionID", c.rec.TransactionID, "authStatus", resp.Response.AuthStatus, "errors", len(resp.Errors))

	out, err := json.Marshal(resp)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if d.signing != nil {
		if sig, err := idaDetachedJWS(d.signing, out); err == nil {
			w.Header().Set("response-signature", sig)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

func (d *IDA) record(r IDARequest) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.recorded = append(d.recorded, r)
	if n := len(d.recorded) - idaMaxRecorded; n > 0 {
		d.recorded = slices.Delete(d.recorded, 0, n)
	}
}

// idaPathParams returns the three path parameters; empty when absent (a
// request that matched one of the catch-all patterns).
func idaPathParams(r *http.Request) (lk, partner, apiKey string) {
	if rest := r.PathValue("rest"); rest != "" || r.PathValue("mispLK") == "" {
		parts := strings.Split(rest, "/")
		if len(parts) != 3 {
			return "", "", ""
		}
		return parts[0], parts[1], parts[2]
	}
	return r.PathValue("mispLK"), r.PathValue("partnerId"), r.PathValue("apiKey")
}

// authenticate runs IDA's checks in order; it returns the token on success
// or the errors to answer.
func (d *IDA) authenticate(w http.ResponseWriter, r *http.Request, c *idaCall) (string, []*idaFault) {
	if c.rec.MISPLicenseKey == "" || c.rec.PartnerID == "" || c.rec.APIKey == "" {
		return "", []*idaFault{idaErrPathParams}
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, idaMaxBody))
	c.rec.Body = raw
	if err != nil || json.Unmarshal(raw, &c.body) != nil || c.body == nil {
		return "", []*idaFault{idaErrUnableToProcess}
	}
	if f := c.readOuter(); f != nil {
		return "", []*idaFault{f}
	}
	if f := idaCheckIDVersion(c.body); f != nil {
		return "", []*idaFault{f}
	}
	cert, f := d.verifySignature(r.Header.Get("signature"), raw, c.lenient)
	if f != nil {
		return "", []*idaFault{f}
	}
	c.cert = cert
	// IDA's BaseAuthFilter requires the consent-token header; MOSIP's own
	// client sends the literal "Authorization".
	if r.Header.Get("Authorization") == "" {
		return "", []*idaFault{idaMissing("Authorization - header")}
	}
	plain, f := d.decipher(c.body)
	c.rec.Decrypted = plain // kept on an HMAC mismatch, to show what was compared
	if f != nil {
		return "", []*idaFault{f}
	}
	if json.Unmarshal(plain, &c.inner) != nil || c.inner == nil {
		return "", []*idaFault{idaErrUnableToProcess}
	}
	if f := c.readDemographics(); f != nil {
		return "", []*idaFault{f}
	}
	if f := d.checkPartner(c); f != nil {
		return "", []*idaFault{f}
	}
	if f := d.validate(c); f != nil {
		return "", []*idaFault{f}
	}
	id, f := d.identity(c)
	if f != nil {
		return "", []*idaFault{f}
	}
	if faults := d.match(c, id); len(faults) > 0 {
		return "", faults
	}
	return GenerateTokenID(id.UIN, c.rec.PartnerID, DefaultTokenIDUINSalt, DefaultTokenIDPartnerSalt, DefaultTokenIDLength), nil
}

// readOuter extracts the string fields the response and the record need.
// Field names are matched exactly, as Jackson does (Go's encoding/json
// would match them ignoring case).
func (c *idaCall) readOuter() *idaFault {
	var f *idaFault
	get := func(key string) *string {
		s, ok, err := idaString(c.body[key])
		if err != nil && f == nil {
			f = idaErrUnableToProcess
		}
		if !ok {
			return nil
		}
		return &s
	}
	c.txnID = get("transactionID")
	if c.txnID != nil {
		c.rec.TransactionID = *c.txnID
	}
	if v := get("individualId"); v != nil {
		c.rec.IndividualID = *v
	}
	if v := get("individualIdType"); v != nil {
		c.rec.IndividualIDType = *v
	}
	return f
}

// idaString reads a JSON value into a Java String field: absent or null is
// "not set"; numbers and booleans are coerced, as Jackson does; objects and
// arrays fail deserialisation.
func idaString(raw json.RawMessage) (string, bool, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", false, nil
	}
	switch raw[0] {
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err == nil, err
	case '{', '[':
		return "", false, errors.New("not a scalar")
	default:
		return string(raw), true, nil
	}
}

// idaBool reads a Java primitive boolean: absent/null is false; "true" and
// "false" strings are coerced.
func idaBool(raw json.RawMessage) (bool, error) {
	raw = bytes.TrimSpace(raw)
	switch string(raw) {
	case "", "null", "false", `"false"`:
		return false, nil
	case "true", `"true"`:
		return true, nil
	}
	return false, errors.New("not a boolean")
}

var idaVersionPattern = regexp.MustCompile(`^\d+(\.\d+)?$`)

// idaCheckIDVersion is BaseIDAFilter#validateRequest.
func idaCheckIDVersion(body map[string]json.RawMessage) *idaFault {
	id, ok, _ := idaString(body["id"])
	if !ok || id == "" {
		return idaMissing("id")
	}
	if id != IDAAuthID {
		return idaInvalid("id")
	}
	ver, ok, _ := idaString(body["version"])
	if !ok || ver == "" {
		return idaMissing("version")
	}
	if !idaVersionPattern.MatchString(ver) {
		return idaInvalid("version")
	}
	return nil
}

// verifySignature checks the detached JWS of the signature header over the
// raw body (keymanager jwtVerify with actualData = b64url(body)) and returns
// the x5c certificate it was verified with.
func (d *IDA) verifySignature(sig string, body []byte, lenient bool) (*x509.Certificate, *idaFault) {
	sig = strings.TrimSpace(sig)
	if sig == "" {
		return nil, idaMissing("signature header")
	}
	parts := strings.Split(sig, ".")
	if len(parts) != 3 {
		return nil, idaErrSignature
	}
	hdrJSON, err := idaB64URL(parts[0])
	if err != nil {
		return nil, idaErrSignature
	}
	var hdr struct {
		Alg string            `json:"alg"`
		X5C []json.RawMessage `json:"x5c"`
	}
	if json.Unmarshal(hdrJSON, &hdr) != nil {
		return nil, idaErrSignature
	}
	if len(hdr.X5C) == 0 {
		return nil, idaErrCertNotInHeader
	}
	var x5c string
	if json.Unmarshal(hdr.X5C[0], &x5c) != nil {
		return nil, idaErrSignature
	}
	cert, err := idaParseX5C(x5c, lenient)
	if err != nil {
		return nil, idaErrSignature
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || hdr.Alg != "RS256" {
		return nil, idaErrSignature
	}
	payload := base64.RawURLEncoding.EncodeToString(body)
	// An attached payload is only acceptable when it is the body itself.
	if parts[1] != "" && strings.TrimRight(parts[1], "=") != payload {
		return nil, idaErrSignature
	}
	sigBytes, err := idaB64URL(parts[2])
	if err != nil {
		return nil, idaErrSignature
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + payload))
	if rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sigBytes) != nil {
		return nil, idaErrSignature
	}
	if now := d.now(); now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return nil, idaErrInvalidCert
	}
	return cert, nil
}

// idaParseX5C decodes x5c[0]. Keymanager ≥1.3 uses java.util.Base64's
// basic decoder (standard alphabet, padding optional, no line breaks) and
// expects DER; base64url or PEM only pass in lenient mode (keymanager 1.2.x
// decoded with lenient commons-codec).
func idaParseX5C(s string, lenient bool) (*x509.Certificate, error) {
	if !lenient {
		der, err := idaB64(base64.RawStdEncoding, s)
		if err != nil {
			return nil, err
		}
		return x509.ParseCertificate(der)
	}
	candidates := [][]byte{[]byte(s)}
	norm := strings.NewReplacer("-", "+", "_", "/", "\n", "", "\r", "", " ", "").Replace(strings.TrimRight(s, "="))
	if b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(norm, "=")); err == nil {
		candidates = append(candidates, b)
	}
	for _, b := range candidates {
		if blk, _ := pem.Decode(b); blk != nil {
			b = blk.Bytes
		}
		if c, err := x509.ParseCertificate(b); err == nil {
			return c, nil
		}
	}
	return nil, errors.New("x5c: no certificate")
}

// idaB64URL decodes base64url with optional padding (Java's URL decoder);
// the standard alphabet's + and / are rejected.
func idaB64URL(s string) ([]byte, error) { return idaB64(base64.RawURLEncoding, s) }

// idaB64 decodes like java.util.Base64's basic and URL decoders: padding
// optional, and line breaks rejected (Go's decoder would skip them).
func idaB64(enc *base64.Encoding, s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("base64: line break")
	}
	return enc.Strict().DecodeString(strings.TrimRight(s, "="))
}

// decipher is IdAuthFilter#decipherRequest: it decrypts requestHMAC and
// request with the session key, checks the thumbprint, and compares the
// HMAC with the upper-case hex SHA-256 of the decrypted request.
func (d *IDA) decipher(body map[string]json.RawMessage) ([]byte, *idaFault) {
	reqB64, ok, err := idaString(body["request"])
	if err != nil || (ok && reqB64 == "") {
		return nil, idaErrUnableToProcess
	}
	if !ok {
		return nil, idaMissing("request")
	}
	hmacB64, ok, err := idaString(body["requestHMAC"])
	if err != nil {
		return nil, idaErrUnableToProcess
	}
	if !ok {
		return nil, idaMissing("requestHMAC")
	}
	encReq, err1 := idaB64URL(reqB64)
	encHMAC, err2 := idaB64URL(hmacB64)
	if err1 != nil || err2 != nil {
		return nil, idaErrUnableToProcess
	}
	skB64, ok, err := idaString(body["requestSessionKey"])
	if err != nil || !ok {
		return nil, idaErrDecrypt
	}
	encKey, err := idaB64URL(skB64)
	if err != nil {
		return nil, idaErrUnableToProcess
	}
	tp, ok, _ := idaString(body["thumbprint"])
	if !ok || !d.thumbprintMatches(tp) {
		return nil, idaErrDecrypt
	}
	key, err := rsa.DecryptOAEP(sha256.New(), nil, d.cert.Key, encKey, nil)
	if err != nil {
		return nil, idaErrDecrypt
	}
	hmacPlain, err := idaOpenGCM(key, encHMAC)
	if err != nil {
		return nil, idaErrDecrypt
	}
	plain, err := idaOpenGCM(key, encReq)
	if err != nil {
		return nil, idaErrDecrypt
	}
	sum := sha256.Sum256(plain)
	if string(hmacPlain) != strings.ToUpper(hex.EncodeToString(sum[:])) {
		return plain, idaErrHMAC
	}
	return plain, nil
}

// thumbprintMatches is IdAuthSecurityManager#getBytesFromThumbprint: hex
// first (either case), else base64url with or without padding.
func (d *IDA) thumbprintMatches(tp string) bool {
	b, err := hex.DecodeString(tp)
	if err != nil {
		if b, err = idaB64URL(tp); err != nil {
			return false
		}
	}
	return bytes.Equal(b, d.thumbprint[:])
}

// idaOpenGCM decrypts keymanager's symmetric layout ciphertext‖tag‖IV with a
// 16-byte IV and no AAD.
func idaOpenGCM(key, data []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, 16)
	if err != nil {
		return nil, err
	}
	if len(data) < 16+gcm.Overhead() {
		return nil, errors.New("ciphertext too short")
	}
	iv := data[len(data)-16:]
	return gcm.Open(nil, iv, data[:len(data)-16], nil)
}

// idaIdentityInfo is IdentityInfoDTO.
type idaIdentityInfo struct {
	Language *string
	Value    *string
}

// idaDemographics holds the demographics the emulator evaluates.
type idaDemographics struct {
	Name, Gender []idaIdentityInfo
	DOB          *string
	Phone, Email *string
	Timestamp    *string
	OTP, PIN     bool
	Bio          bool
}

func (dm idaDemographics) isDemo() bool {
	return len(dm.Name) > 0 || len(dm.Gender) > 0 || dm.DOB != nil || dm.Phone != nil || dm.Email != nil
}

// readDemographics decodes the deciphered RequestDTO (exact field names).
func (c *idaCall) readDemographics() *idaFault {
	dm := &c.demo
	if s, ok, err := idaString(c.inner["timestamp"]); err != nil {
		return idaErrUnableToProcess
	} else if ok {
		dm.Timestamp = &s
	}
	if s, ok, err := idaString(c.inner["otp"]); err != nil {
		return idaErrUnableToProcess
	} else {
		dm.OTP = ok && s != ""
	}
	if s, ok, err := idaString(c.inner["staticPin"]); err != nil {
		return idaErrUnableToProcess
	} else {
		dm.PIN = ok && s != ""
	}
	if raw := bytes.TrimSpace(c.inner["biometrics"]); len(raw) > 0 && string(raw) != "null" {
		var bio []json.RawMessage
		if json.Unmarshal(raw, &bio) != nil {
			return idaErrUnableToProcess
		}
		dm.Bio = len(bio) > 0
	}
	raw := bytes.TrimSpace(c.inner["demographics"])
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var demo map[string]json.RawMessage
	if json.Unmarshal(raw, &demo) != nil {
		return idaErrUnableToProcess
	}
	var err error
	if dm.Name, err = idaInfoList(demo["name"]); err != nil {
		return idaErrUnableToProcess
	}
	if dm.Gender, err = idaInfoList(demo["gender"]); err != nil {
		return idaErrUnableToProcess
	}
	for key, dst := range map[string]**string{"dob": &dm.DOB, "phoneNumber": &dm.Phone, "emailId": &dm.Email} {
		s, ok, err := idaString(demo[key])
		if err != nil {
			return idaErrUnableToProcess
		}
		if ok && s != "" {
			*dst = &s
		}
	}
	return nil
}

func idaInfoList(raw json.RawMessage) ([]idaIdentityInfo, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, err
	}
	out := make([]idaIdentityInfo, 0, len(items))
	for _, it := range items {
		var info idaIdentityInfo
		for key, dst := range map[string]**string{"language": &info.Language, "value": &info.Value} {
			s, ok, err := idaString(it[key])
			if err != nil {
				return nil, err
			}
			if ok {
				*dst = &s
			}
		}
		out = append(out, info)
	}
	return out, nil
}

// checkPartner is PartnerServiceManager#validateAndGetPolicy followed by
// the auth-policy check: the (partner, API key) mapping, the signature
// certificate against the partner's (or its MISP's) PMS certificate, the
// MISP licence key, and which auth types the policy allows (demo only).
func (d *IDA) checkPartner(c *idaCall) *idaFault {
	var partner *IDAPartner
	for i := range d.partners {
		p := &d.partners[i]
		if p.PartnerID == c.rec.PartnerID && p.APIKey == c.rec.APIKey {
			partner = p
			break
		}
	}
	// A wrong API key is no mapping at all: IDA answers "not registered".
	if partner == nil {
		return idaErrNotRegistered
	}
	var misp *IDAPartner
	for i := range d.partners {
		if d.partners[i].MISPLicenseKey == c.rec.MISPLicenseKey {
			misp = &d.partners[i]
			break
		}
	}
	certOK := idaSameCert(partner.Cert, c.cert) || (misp != nil && idaSameCert(misp.Cert, c.cert))
	if !certOK {
		if partner.Cert == nil {
			return idaErrCertNotFound
		}
		return idaErrCertMismatch
	}
	switch {
	case misp == nil:
		return idaErrLicenseKey
	case misp.LicenseBlocked:
		return idaErrLicenseBlocked
	case !misp.LicenseExpiresAt.IsZero() && d.now().After(misp.LicenseExpiresAt):
		return idaErrLicenseExpired
	}
	notAllowed := func(kind string) *idaFault {
		return &idaFault{code: "IDA-MPA-006", msg: kind + " Authentication usage not allowed as per policy",
			action: "Please use other Authentication Types in the request"}
	}
	switch {
	case c.demo.Bio:
		return notAllowed("BIO")
	case c.demo.PIN:
		return notAllowed("SPIN")
	case c.demo.OTP:
		return notAllowed("OTP")
	}
	return nil
}

// idaSameCert compares certificates as IDA does: SHA-256 of the DER.
func idaSameCert(a, b *x509.Certificate) bool {
	if a == nil || b == nil {
		return false
	}
	return sha256.Sum256(a.Raw) == sha256.Sum256(b.Raw)
}

var idaTxnIDPattern = regexp.MustCompile(`^[A-Za-z0-9]{10}$`)

// validate is AuthRequestValidator#validate, in its order.
func (d *IDA) validate(c *idaCall) *idaFault {
	consent, err := idaBool(c.body["consentObtained"])
	if err != nil {
		return idaErrUnableToProcess
	}
	if !consent {
		return idaErrConsent
	}
	reqTime, _, _ := idaString(c.body["requestTime"])
	if f := d.checkTime(reqTime, "requestTime", c.lenient); f != nil {
		return f
	}
	ts := ""
	if c.demo.Timestamp != nil {
		ts = *c.demo.Timestamp
	}
	if f := d.checkTime(ts, "request/timestamp", c.lenient); f != nil {
		return f
	}
	// A null domainUri or env passes: IDA only rejects values that are set
	// and not configured (compared ignoring case).
	if uri, ok, _ := idaString(c.body["domainUri"]); ok && !idaContainsFold(d.domains, uri) {
		return idaInvalid("request/domainUri")
	}
	if env, ok, _ := idaString(c.body["env"]); ok && !idaContainsFold(IDAEnvironments, env) {
		return idaInvalid("request/env")
	}
	switch {
	case c.txnID == nil || *c.txnID == "":
		return idaMissing("transactionID")
	case !c.lenient && !idaTxnIDPattern.MatchString(*c.txnID):
		return idaInvalid("transactionID")
	}
	if strings.TrimSpace(c.rec.IndividualID) == "" {
		return idaMissing("individualId")
	}
	switch c.rec.IndividualIDType {
	case "":
		// AuthController infers the type when the client sends none.
		c.rec.IndividualIDType = "UIN"
		if id, err := d.reg.Lookup(c.rec.IndividualID); err == nil && id.VID == c.rec.IndividualID {
			c.rec.IndividualIDType = "VID"
		}
	case "UIN", "VID":
	default:
		return idaInvalid("individualIdType")
	}
	if c.demo.isDemo() {
		if f := d.checkDemo(c.demo); f != nil {
			return f
		}
	}
	if !c.demo.isDemo() && !c.demo.OTP && !c.demo.PIN && !c.demo.Bio {
		return idaErrNoAuthType
	}
	return nil
}

// checkTime validates requestTime / request.timestamp: pattern
// yyyy-MM-dd'T'HH:mm:ss.SSSXXX, not after now+adjustment, not before
// now-(allowed+adjustment).
func (d *IDA) checkTime(v, param string, lenient bool) *idaFault {
	if v == "" {
		return idaMissing(param)
	}
	t, err := time.Parse("2006-01-02T15:04:05.000Z07:00", v)
	if err != nil && lenient {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
			if t, err = time.Parse(layout, v); err == nil {
				break
			}
		}
	}
	if err != nil {
		return idaInvalid(param)
	}
	if lenient {
		return nil
	}
	now := d.now()
	if t.After(now.Add(IDARequestTimeAdjustment)) || t.Before(now.Add(-(IDARequestTimeAllowed + IDARequestTimeAdjustment))) {
		return idaErrTimestamp
	}
	return nil
}

func idaContainsFold(list []string, v string) bool {
	for _, s := range list {
		if strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}

// checkDemo is BaseAuthRequestValidator#checkDemoAuth for the evaluated
// attributes: values present, language codes present, supported and not
// repeated, and the date of birth in mosip.date-of-birth.pattern.
func (d *IDA) checkDemo(dm idaDemographics) *idaFault {
	for _, list := range [][]idaIdentityInfo{dm.Name, dm.Gender} {
		for _, info := range list {
			if info.Value == nil {
				return idaErrMissingDemo
			}
		}
		seen := map[string]bool{}
		for _, info := range list {
			if info.Language == nil || *info.Language == "" {
				return idaMissing("LanguageCode")
			}
			lang := *info.Language
			if !d.languages[lang] {
				return &idaFault{code: "IDA-DEA-002", msg: "Unsupported Language Code - request : " + lang,
					action: "Please provide valid Language"}
			}
			if seen[lang] {
				return idaInvalid("LanguageCode")
			}
			seen[lang] = true
		}
	}
	if dm.DOB != nil {
		if _, err := time.Parse("2006/01/02", *dm.DOB); err != nil {
			return idaInvalid("request/demographics/dob")
		}
	}
	return nil
}

// identity finds the identity for the declared id type. IDA keeps UINs and
// VIDs apart, so a VID sent as UIN is not found.
func (d *IDA) identity(c *idaCall) (Identity, *idaFault) {
	idType, idv := c.rec.IndividualIDType, c.rec.IndividualID
	id, err := d.reg.Lookup(idv)
	found := err == nil && ((idType == "UIN" && id.UIN == idv) || (idType == "VID" && id.VID == idv))
	if !found {
		if d.legacyNF.Load() {
			if idType == "VID" {
				return Identity{}, &idaFault{code: "IDA-MLC-004", msg: "Invalid VID", action: "Please retry with correct VID"}
			}
			return Identity{}, &idaFault{code: "IDA-MLC-002", msg: "Invalid UIN", action: "Please retry with the correct UIN"}
		}
		return Identity{}, &idaFault{code: "IDA-MLC-018", msg: idType + " not available in database"}
	}
	// A processed death deactivates the identity in id-repo, which IDA's
	// identity cache records as expired; IDA ≥1.2 then answers these codes
	// (IDA-MLC-003 "UIN has been deactivated" is the pre-1.2 one).
	if id.Deceased {
		if idType == "VID" {
			return Identity{}, &idaFault{code: "IDA-MLC-023", msg: "VID is expired/deactivated"}
		}
		return Identity{}, &idaFault{code: "IDA-MLC-022", msg: "UIN is deactivated/blocked"}
	}
	return id, nil
}

// match compares the demographics like IDA's EXACT strategies backed by
// MOSIP's reference demo SDK; every mismatching attribute yields an error.
func (d *IDA) match(c *idaCall, id Identity) []*idaFault {
	var faults []*idaFault
	multi := func(attr string, infos []idaIdentityInfo, stored string) {
		for _, info := range infos {
			lang := *info.Language
			switch {
			case lang != d.dataLanguage || stored == "":
				faults = append(faults, &idaFault{code: "IDA-DEA-003",
					msg: fmt.Sprintf("Demographic data %s in %s not available in database", attr, lang)})
			case !idaExactTokens(*info.Value, stored):
				faults = append(faults, &idaFault{code: "IDA-DEA-001",
					msg:    fmt.Sprintf("Demographic data %s in %s did not match", attr, lang),
					action: fmt.Sprintf("Please re-enter your %s in %s", attr, lang)})
			}
		}
	}
	single := func(attr string, v *string, stored string, eq func(a, b string) bool) {
		switch {
		case v == nil:
		case stored == "":
			faults = append(faults, &idaFault{code: "IDA-DEA-003",
				msg: fmt.Sprintf("Demographic data %s not available in database", attr)})
		case !eq(*v, stored):
			faults = append(faults, &idaFault{code: "IDA-DEA-001",
				msg:    fmt.Sprintf("Demographic data %s did not match", attr),
				action: fmt.Sprintf("Please re-enter your %s", attr)})
		}
	}
	multi("name", c.demo.Name, id.FullName)
	single("dob", c.demo.DOB, id.DateOfBirth, idaSameDate)
	multi("gender", c.demo.Gender, id.Gender)
	exact := func(a, b string) bool { return a == b }
	single("phoneNumber", c.demo.Phone, id.Phone, exact)
	single("emailId", c.demo.Email, id.Email, exact)
	return faults
}

// idaExactTokens is the reference demo SDK's exact match: lower-cased,
// whitespace-tokenised, same number of tokens, every token present (order
// not significant).
func idaExactTokens(a, b string) bool {
	ta, tb := strings.Fields(strings.ToLower(a)), strings.Fields(strings.ToLower(b))
	if len(ta) == 0 || len(ta) != len(tb) {
		return false
	}
	slices.Sort(ta)
	slices.Sort(tb)
	return slices.Equal(ta, tb)
}

// idaSameDate compares yyyy/MM/dd dates as dates (DOBMatchingStrategy).
func idaSameDate(a, b string) bool {
	ta, err1 := time.Parse("2006/01/02", a)
	tb, err2 := time.Parse("2006/01/02", b)
	return err1 == nil && err2 == nil && ta.Equal(tb)
}

// idaDetachedJWS signs body as keymanager's jwtSign with includePayload
// false: <b64url(header)>..<b64url(RS256 signature)>, the certificate in x5c.
func idaDetachedJWS(c *pki.Cert, body []byte) (string, error) {
	hdr, err := json.Marshal(map[string]any{
		"alg": "RS256",
		"x5c": []string{base64.StdEncoding.EncodeToString(c.DER)},
		"kid": hex.EncodeToString(idaCertSum(c.DER)),
	})
	if err != nil {
		return "", err
	}
	h := base64.RawURLEncoding.EncodeToString(hdr)
	digest := sha256.Sum256([]byte(h + "." + base64.RawURLEncoding.EncodeToString(body)))
	sig, err := rsa.SignPKCS1v15(rand.Reader, c.Key, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	return h + ".." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func idaCertSum(der []byte) []byte {
	s := sha256.Sum256(der)
	return s[:]
}
