// Package credential opens the credentials MOSIP issues to the bridge's
// partner: it fetches them from the data share when not inline, decrypts
// them with the partner key (VER_R2), verifies the event's signature over
// the plaintext (x5c pinned to MOSIP's credential-signing certificate) and
// the credential's own RsaSignature2018 proof (URDNA2015 or JCS, contexts
// offline, verificationMethod from an allowlist), and reads the registration
// id and the identifier the sharing policy allows.
package credential

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mosipcrvs/bridge/pkg/ldproof"
	"github.com/mosipcrvs/bridge/pkg/mosipcrypto"
)

// Canonicalization of the credential proof.
const (
	URDNA2015 = "urdna2015"
	JCS       = "jcs"
)

// Options configure a Verifier.
type Options struct {
	// Keystore is the partner key the credentials are encrypted for.
	Keystore *mosipcrypto.Keystore
	// SigningCerts pin MOSIP's credential-signing certificates: the x5c
	// of event.data.proof.signature must be one of them.
	SigningCerts []*x509.Certificate
	// VerificationMethods is the exact-match allowlist of the proof's
	// verificationMethod URLs.
	VerificationMethods []string
	// Canonicalization is URDNA2015 (MOSIP) or JCS (some emulators).
	Canonicalization string
	// Contexts are JSON-LD context documents by URL (the deployment's
	// mosip-context.json and what it imports), added to the bundled W3C
	// ones.
	Contexts map[string][]byte
	// ContextURLs may be fetched once (through Fetcher) and cached when a
	// credential names them and they are not in Contexts.
	ContextURLs []string
	// DataShareHosts are the hosts (host[:port]) a dataShareUri may point at.
	DataShareHosts []string
	// Fetcher fetches keys, contexts and data shares.
	Fetcher *Fetcher
	// SkipVerification turns both signature checks off. Only for
	// deployments that cannot verify yet; the caller warns loudly.
	SkipVerification bool
	// KeyTTL is how long a fetched verification key is trusted before it
	// is fetched again (default 1h).
	KeyTTL time.Duration
}

// Verifier opens credentials. It is safe for concurrent use.
type Verifier struct {
	o Options

	mu       sync.Mutex
	keys     map[string]cachedKey
	contexts map[string][]byte
	// ld serves contexts; rebuilt only when a fetched context is added.
	ld *ldproof.Loader
}

type cachedKey struct {
	key     *rsa.PublicKey
	fetched time.Time
}

// New checks the options.
func New(o Options) (*Verifier, error) {
	if o.Keystore == nil {
		return nil, errors.New("credential: no partner keystore")
	}
	if o.Fetcher == nil {
		return nil, errors.New("credential: no fetcher")
	}
	switch o.Canonicalization {
	case "":
		o.Canonicalization = URDNA2015
	case URDNA2015, JCS:
	default:
		return nil, fmt.Errorf("credential: canonicalization %q: want %s or %s", o.Canonicalization, URDNA2015, JCS)
	}
	if !o.SkipVerification {
		if len(o.SigningCerts) == 0 {
			return nil, errors.New("credential: no MOSIP credential-signing certificate to pin")
		}
		if len(o.VerificationMethods) == 0 {
			return nil, errors.New("credential: empty verificationMethod allowlist")
		}
	}
	if o.KeyTTL <= 0 {
		o.KeyTTL = time.Hour
	}
	ctxs := make(map[string][]byte, len(o.Contexts))
	for u, d := range o.Contexts {
		ctxs[u] = d
	}
	return &Verifier{o: o, keys: map[string]cachedKey{}, contexts: ctxs, ld: ldproof.NewLoader(ctxs)}, nil
}

// Error is why a credential could not be opened. Permanent errors (bad
// data, failed verification) go to the dead letters; the others (MOSIP's
// data share or key document unreachable) are retried.
type Error struct {
	// Status is the CREDENTIAL_STATUS_UPDATE status that reports it.
	Status    string
	Reason    string
	Permanent bool
	Err       error
}

func (e *Error) Error() string { return e.Reason }

func (e *Error) Unwrap() error { return e.Err }

func permanent(status, reason string, err error) *Error {
	return &Error{Status: status, Reason: reason, Permanent: true, Err: err}
}

// Statuses of MOSIP's mediator for CREDENTIAL_STATUS_UPDATE.
const (
	StatusServed        = "served"
	StatusDecryptError  = "serving_error_decrypt"
	StatusParseError    = "serving_error_json_parse"
	StatusVerifyError   = "serving_error_verification"
	StatusDataShareFail = "serving_error_datashare"
)

// Credential is an opened, verified credential.
type Credential struct {
	// RegistrationID is the RID: data.registrationId, else the end of
	// credentialSubject.id.
	RegistrationID string
	// Subject is credentialSubject.
	Subject map[string]any
	// Verified is false only when verification is switched off.
	Verified bool
}

// Open turns the encrypted credential of an event into a verified
// credential. encrypted is data.credential (or the data-share content),
// signature is data.proof.signature, registrationID is data.registrationId
// (may be empty).
func (v *Verifier) Open(ctx context.Context, encrypted, signature, registrationID string) (*Credential, error) {
	plain, err := mosipcrypto.DecryptVERR2(strings.TrimSpace(encrypted), v.o.Keystore)
	if err != nil {
		return nil, permanent(StatusDecryptError, "credential decryption: "+err.Error(), err)
	}
	var vc map[string]any
	if err := json.Unmarshal(plain, &vc); err != nil {
		return nil, permanent(StatusParseError, "decrypted credential is not a JSON object", err)
	}
	subject, ok := vc["credentialSubject"].(map[string]any)
	if !ok {
		return nil, permanent(StatusParseError, "credential has no credentialSubject object", nil)
	}
	c := &Credential{Subject: subject, RegistrationID: registrationID}
	if c.RegistrationID == "" {
		id, _ := subject["id"].(string)
		c.RegistrationID = id[strings.LastIndex(id, "/")+1:]
	}
	if c.RegistrationID == "" {
		return nil, permanent(StatusParseError, "no registration id (data.registrationId, credentialSubject.id)", nil)
	}
	if v.o.SkipVerification {
		return c, nil
	}
	if signature == "" {
		return nil, permanent(StatusVerifyError, "event has no data.proof.signature", nil)
	}
	if _, err := mosipcrypto.VerifyDetached(signature, plain, mosipcrypto.VerifyOptions{
		Algorithms: []string{"RS256", "PS256"}, Trusted: v.o.SigningCerts,
	}); err != nil {
		return nil, permanent(StatusVerifyError, "event proof signature: "+err.Error(), err)
	}
	if err := v.verifyProof(ctx, vc); err != nil {
		return nil, err
	}
	c.Verified = true
	return c, nil
}

// verifyProof checks the credential's RsaSignature2018 proof.
func (v *Verifier) verifyProof(ctx context.Context, vc map[string]any) error {
	proof, ok := vc["proof"].(map[string]any)
	if !ok {
		return permanent(StatusVerifyError, "credential has no proof", nil)
	}
	if t, _ := proof["type"].(string); t != "RsaSignature2018" {
		return permanent(StatusVerifyError, fmt.Sprintf("proof type %q is not RsaSignature2018", t), nil)
	}
	jws, _ := proof["jws"].(string)
	method, _ := proof["verificationMethod"].(string)
	if jws == "" || method == "" {
		return permanent(StatusVerifyError, "proof without jws or verificationMethod", nil)
	}
	if !slices.Contains(v.o.VerificationMethods, method) {
		return permanent(StatusVerifyError, "verificationMethod is not in the allowlist", nil)
	}
	key, err := v.key(ctx, method)
	if err != nil {
		return err
	}
	doc := make(map[string]any, len(vc))
	for k, x := range vc {
		if k != "proof" {
			doc[k] = x
		}
	}
	opts := make(map[string]any, len(proof))
	for k, x := range proof {
		if k != "jws" {
			opts[k] = x
		}
	}
	loader, err := v.loader(ctx, vc["@context"])
	if err != nil {
		return err
	}
	payload, err := ldproof.ProofPayload(v.o.Canonicalization == JCS, doc, opts, loader)
	if err != nil {
		return permanent(StatusVerifyError, "credential canonicalization: "+err.Error(), err)
	}
	if _, err := mosipcrypto.VerifyDetached(jws, payload, mosipcrypto.VerifyOptions{
		Algorithms: []string{"PS256", "RS256"}, Key: key,
	}); err != nil {
		// A key rotated at MOSIP: refetch once before giving up.
		v.forgetKey(method)
		if key2, kerr := v.key(ctx, method); kerr == nil && !key2.Equal(key) {
			if _, err2 := mosipcrypto.VerifyDetached(jws, payload, mosipcrypto.VerifyOptions{Key: key2}); err2 == nil {
				return nil
			}
		}
		return permanent(StatusVerifyError, "credential proof: "+err.Error(), err)
	}
	return nil
}

// key returns the verification method's public key, fetched through the
// SSRF-guarded client and cached.
func (v *Verifier) key(ctx context.Context, method string) (*rsa.PublicKey, error) {
	v.mu.Lock()
	k, ok := v.keys[method]
	v.mu.Unlock()
	if ok && time.Since(k.fetched) < v.o.KeyTTL {
		return k.key, nil
	}
	u, err := url.Parse(method)
	if err != nil {
		return nil, permanent(StatusVerifyError, "verificationMethod is not a URL", err)
	}
	body, err := v.o.Fetcher.Get(ctx, u)
	if err != nil {
		return nil, fetchFailure(StatusVerifyError, "verification key", err)
	}
	var doc struct {
		PublicKeyPem string `json:"publicKeyPem"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.PublicKeyPem == "" {
		return nil, permanent(StatusVerifyError, "verification key document has no publicKeyPem", err)
	}
	block, _ := pem.Decode([]byte(doc.PublicKeyPem))
	if block == nil {
		return nil, permanent(StatusVerifyError, "verification key publicKeyPem is not PEM", nil)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		if cert, cerr := x509.ParseCertificate(block.Bytes); cerr == nil {
			pub, err = cert.PublicKey, nil
		}
	}
	rsaKey, ok := pub.(*rsa.PublicKey)
	if err != nil || !ok {
		return nil, permanent(StatusVerifyError, "verification key is not an RSA public key", err)
	}
	v.mu.Lock()
	v.keys[method] = cachedKey{key: rsaKey, fetched: time.Now()}
	v.mu.Unlock()
	return rsaKey, nil
}

func (v *Verifier) forgetKey(method string) {
	v.mu.Lock()
	delete(v.keys, method)
	v.mu.Unlock()
}

// loader returns an offline loader holding every context the credential
// names, fetching allowlisted ones it does not have yet.
func (v *Verifier) loader(ctx context.Context, contexts any) (*ldproof.Loader, error) {
	var urls []string
	switch c := contexts.(type) {
	case string:
		urls = []string{c}
	case []any:
		for _, x := range c {
			if s, ok := x.(string); ok {
				urls = append(urls, s)
			}
		}
	}
	for _, u := range urls {
		v.mu.Lock()
		have := v.ld.Has(u)
		v.mu.Unlock()
		if have || !slices.Contains(v.o.ContextURLs, u) {
			continue // unknown ones fail in the offline loader, by name
		}
		parsed, err := url.Parse(u)
		if err != nil {
			return nil, permanent(StatusVerifyError, "context URL is not a URL", err)
		}
		body, err := v.o.Fetcher.Get(ctx, parsed)
		if err != nil {
			return nil, fetchFailure(StatusVerifyError, "JSON-LD context", err)
		}
		if !json.Valid(body) {
			return nil, permanent(StatusVerifyError, "JSON-LD context is not JSON", nil)
		}
		v.mu.Lock()
		v.contexts[u] = body
		v.ld = ldproof.NewLoader(v.contexts)
		v.mu.Unlock()
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.ld, nil
}

// FetchDataShare reads a credential from MOSIP's data share service. The
// URI must be on an allowlisted host. The data share answers HTTP 200
// with a JSON errors[] body when the share expired or is unknown.
func (v *Verifier) FetchDataShare(ctx context.Context, uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" {
		return "", permanent(StatusDataShareFail, "dataShareUri is not an absolute URL", err)
	}
	if !slices.Contains(v.o.DataShareHosts, u.Host) {
		return "", permanent(StatusDataShareFail, "dataShareUri host is not allowlisted", nil)
	}
	body, err := v.o.Fetcher.Get(ctx, u)
	if err != nil {
		return "", fetchFailure(StatusDataShareFail, "data share", err)
	}
	trimmed := strings.TrimSpace(string(body))
	if strings.HasPrefix(trimmed, "{") {
		var e struct {
			Errors []struct {
				ErrorCode string `json:"errorCode"`
				Message   string `json:"message"`
			} `json:"errors"`
		}
		if json.Unmarshal(body, &e) == nil && len(e.Errors) > 0 {
			return "", permanent(StatusDataShareFail, fmt.Sprintf("data share: %s %s", e.Errors[0].ErrorCode, e.Errors[0].Message), nil)
		}
	}
	return trimmed, nil
}

func fetchFailure(status, what string, err error) *Error {
	var fe *FetchError
	temporary := errors.As(err, &fe) && fe.Temporary
	return &Error{Status: status, Reason: what + ": " + err.Error(), Permanent: !temporary, Err: err}
}

// Identifier policies: which credentialSubject value becomes the national
// ID written to the CRVS record.
const (
	PolicyPSUT    = "psut"
	PolicyVID     = "vid"
	PolicyUIN     = "uin"
	PolicyPSUTVID = "psut+vid"
)

// Identifier returns the national ID to write to the CRVS record under
// policy. key overrides the credentialSubject field read for the policy's
// first identifier (MOSIP_VERIFIABLE_CREDENTIAL_NATIONAL_ID_KEY). A UIN is
// returned only under PolicyUIN.
func (c *Credential) Identifier(policy, key string) (string, error) {
	var fields []string
	switch policy {
	case PolicyPSUT:
		fields = []string{"PSUT"}
	case PolicyVID:
		fields = []string{"VID"}
	case PolicyUIN:
		fields = []string{"UIN"}
	case PolicyPSUTVID:
		fields = []string{"VID", "PSUT"}
	default:
		return "", fmt.Errorf("unknown identifier policy %q", policy)
	}
	if key != "" {
		if policy != PolicyUIN && strings.EqualFold(key, "UIN") {
			return "", errors.New("the national id key names the UIN but the policy does not share it")
		}
		fields[0] = key
	}
	for _, f := range fields {
		if s, ok := c.Subject[f].(string); ok && s != "" {
			return s, nil
		}
	}
	return "", fmt.Errorf("credentialSubject has no %s (policy %s)", strings.Join(fields, " or "), policy)
}
