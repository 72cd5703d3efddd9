package mosip

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/mosipcrvs/bridge/pkg/ldproof"
	"github.com/mosipcrvs/bridge/sandbox/pki"
)

// CredentialPolicy selects which identifier the partner's credential policy
// shares in credentialSubject.
type CredentialPolicy string

// Credential policies. The attribute names are the policy's
// shareableAttributes[].attributeName, so they are also the
// credentialSubject keys.
const (
	// CredentialPolicyPSUT shares "PSUT": the partner-specific UIN token of
	// GenerateTokenID. MOSIP's credential service has no such attribute; a
	// deployment that wants one adds it, which the sandbox models.
	CredentialPolicyPSUT CredentialPolicy = "PSUT"
	// CredentialPolicyVID shares "VID" (source VID, PERPETUAL, format
	// "retrieve") and adds ExpiryTimestamp/TransactionLimit to event.data.
	CredentialPolicyVID CredentialPolicy = "VID"
	// CredentialPolicyUIN shares the raw "UIN".
	CredentialPolicyUIN CredentialPolicy = "UIN"
	// CredentialPolicyPSUTAndVID shares both "PSUT" and "VID".
	CredentialPolicyPSUTAndVID CredentialPolicy = "PSUT+VID"
)

// Canonicalization selects what the VC's RsaSignature2018 proof signs.
type Canonicalization string

const (
	// CanonicalizationURDNA2015 is what MOSIP (ld-signatures-java) and its
	// verifiers do: the signed payload is SHA-256(URDNA2015 N-Quads of the
	// proof options under the security-v2 context) ‖ SHA-256(URDNA2015
	// N-Quads of the VC without "proof"), 64 bytes.
	CanonicalizationURDNA2015 Canonicalization = "URDNA2015"
	// CanonicalizationJCS reproduces the OpenCRVS mock: the signed payload
	// is the RFC 8785 (JCS) serialisation of the VC without "proof". Same
	// header (PS256, b64=false) and jws shape; only the payload differs.
	CanonicalizationJCS Canonicalization = "JCS"
)

// Fixed values of the credential service (mosip-config id-repository and
// credential-service defaults, regproc credential-requestor stage).
const (
	credIDURLPrefix      = "http://credential.idrepo/credentials/"
	credTemplateTypeCode = "RPR_UIN_CARD_TEMPLATE"
	credType             = "vercred"
	credVCVersion        = "VC-V1"
	credPublisher        = "CREDENTIAL_SERVICE"
	// A perpetual VID (validForInMinutes null) gets LocalDateTime.MAX with
	// year 9999 as its expiry and no transaction limit.
	credPerpetualVIDExpiry = "9999-12-31T23:59:59.999999999"
	// credMaxShareKey bounds the datashare path segments we look up.
	credMaxShareKey = 512
)

// Datashare service answers (mosip/durian data-share DataUtilityErrorCodes;
// "usuage" is MOSIP's spelling).
const (
	credDataShareServiceID   = "mosip.data.share"
	credDataShareVersion     = "1.0"
	credDataShareErrCode     = "DAT-SER-006"
	credDataShareNotFoundMsg = "Data share not found"
	credDataShareExpiredMsg  = "Data share usuage expired"
)

// CredentialOptions configures the emulated credential service.
type CredentialOptions struct {
	// PartnerID is the credential partner (the bridge's MOSIP partner id);
	// events go to "<PartnerID>/CREDENTIAL_ISSUED". Required.
	PartnerID string
	// PartnerCert is the partner's encryption certificate uploaded to PMS;
	// the bridge holds its private key. Required.
	PartnerCert *x509.Certificate
	// SigningCert is the credential service's keymanager signing key and
	// certificate; generated from a fresh sandbox CA when nil.
	SigningCert *pki.Cert
	// Policy is the identifier shared; default CredentialPolicyPSUT.
	Policy CredentialPolicy
	// Attributes are the policy's other shareable attributes, by ID-schema
	// name; nil means fullName, dateOfBirth, gender. Values keep the
	// ID-schema shape: fullName and gender as [{language,value}],
	// dateOfBirth as "yyyy/MM/dd"; identity Fields (as stored from the
	// packet) win over the Identity struct.
	Attributes []string
	// Language of simpleType values built from the Identity struct;
	// default "eng".
	Language string
	// MetaInfoFields are packet metaData labels copied into event.data (the
	// partner profile's metaInfoFields, e.g. "opencrvsBRN"); values come
	// from the identity's Fields.
	MetaInfoFields []string
	// Canonicalization of the VC proof; default CanonicalizationURDNA2015.
	Canonicalization Canonicalization
	// PublicBaseURL is ${mosip.api.public.host} with scheme: the base of
	// the issuer, verificationMethod, MOSIP context and datashare URLs.
	// Default "http://localhost".
	PublicBaseURL string
	// DataShare makes the policy's typeOfShare "Data Share": data.credential
	// is left out and event.dataShareUri points at this component.
	DataShare bool
	// DataSharePolicyID is the policy id in datashare URLs; default
	// "mpolicy-default-opencrvs".
	DataSharePolicyID string
	// DataShareTransactions is the policy's transactionsAllowed: how many
	// GETs a share answers before "usuage expired"; default 2.
	DataShareTransactions int
	// DataShareValidFor, when positive, also expires shares by age. Zero
	// (the default) matches MOSIP's datashare, which stores
	// validForInMinutes but never checks it on GET.
	DataShareValidFor time.Duration
	// TokenIDLength, TokenIDUINSalt and TokenIDPartnerSalt configure PSUT
	// generation; defaults DefaultTokenID*.
	TokenIDLength      int
	TokenIDUINSalt     string
	TokenIDPartnerSalt string
	// Contexts are extra pinned JSON-LD documents by URL, e.g. a real
	// ODRLContextURL document (an entry for a bundled URL replaces it). Without an ODRL document the served
	// mosip-context.json omits MOSIP's ODRL import: with the real ODRL
	// context, the "language" key of simpleType values maps to
	// odrl:language and is signed; without it, it is silently dropped from
	// the canonical form.
	Contexts map[string][]byte
	// ContextTerms are added to the served mosip-context.json. nil means
	// {"PSUT": "mosip:PSUT"}: MOSIP's context lacks PSUT, and JSON-LD drops
	// undefined terms silently, so without a definition the LD proof would
	// not cover it. Pass an empty map to reproduce that.
	ContextTerms map[string]string
}

// IssuedCredential records one IssueCredential call.
type IssuedCredential struct {
	RegistrationID   string
	EventID          string
	TransactionID    string
	CredentialID     string
	PartnerID        string
	Policy           CredentialPolicy
	Canonicalization Canonicalization
	// DataShareURI is set when the credential went through the datashare.
	DataShareURI string
	IssuedAt     time.Time
}

// CredentialService emulates MOSIP's credential service (id-repository
// credential-service with the keymanager and datashare it calls) for one
// partner: it builds the vercred VC with an RsaSignature2018 LD proof,
// signs and encrypts it for the partner, and returns the CREDENTIAL_ISSUED
// event; it also serves the documents a verifier resolves and the
// datashare. It is safe for concurrent use.
type CredentialService struct {
	partnerID    string
	partnerCert  *x509.Certificate
	signing      *pki.Cert
	kid          string
	attributes   []string
	language     string
	metaInfo     []string
	base         string
	mosipCtx     []byte
	loader       *ldproof.Loader
	extraCtx     map[string][]byte
	sharePolicy  string
	shareTx      int
	shareTTL     time.Duration
	tokenLen     int
	tokenUINSalt string
	tokenPSalt   string

	mu        sync.Mutex
	policy    CredentialPolicy
	canon     Canonicalization
	dataShare bool
	issued    []IssuedCredential
	shares    map[string]*credShare

	shareGets atomic.Int64
}

type credShare struct {
	body      []byte
	remaining int
	created   time.Time
}

var _ CredentialIssuer = (*CredentialService)(nil)

// NewCredentialService validates opts and returns the credential service.
func NewCredentialService(opts CredentialOptions) (*CredentialService, error) {
	if opts.PartnerID == "" {
		return nil, errors.New("mosip: credential service: PartnerID is required")
	}
	if opts.PartnerCert == nil {
		return nil, errors.New("mosip: credential service: PartnerCert is required")
	}
	if opts.Policy == "" {
		opts.Policy = CredentialPolicyPSUT
	}
	if err := credCheckPolicy(opts.Policy); err != nil {
		return nil, err
	}
	if opts.Canonicalization == "" {
		opts.Canonicalization = CanonicalizationURDNA2015
	}
	if err := credCheckCanon(opts.Canonicalization); err != nil {
		return nil, err
	}
	if opts.Attributes == nil {
		opts.Attributes = []string{"fullName", "dateOfBirth", "gender"}
	}
	if opts.Language == "" {
		opts.Language = "eng"
	}
	if opts.PublicBaseURL == "" {
		opts.PublicBaseURL = "http://localhost"
	}
	if opts.DataSharePolicyID == "" {
		opts.DataSharePolicyID = "mpolicy-default-opencrvs"
	}
	if opts.DataShareTransactions <= 0 {
		opts.DataShareTransactions = 2
	}
	if opts.TokenIDLength <= 0 {
		opts.TokenIDLength = DefaultTokenIDLength
	}
	if opts.TokenIDUINSalt == "" {
		opts.TokenIDUINSalt = DefaultTokenIDUINSalt
	}
	if opts.TokenIDPartnerSalt == "" {
		opts.TokenIDPartnerSalt = DefaultTokenIDPartnerSalt
	}
	if opts.ContextTerms == nil {
		opts.ContextTerms = map[string]string{"PSUT": "mosip:PSUT"}
	}
	base := strings.TrimRight(opts.PublicBaseURL, "/")
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("mosip: credential service: PublicBaseURL %q is not an absolute http(s) URL", opts.PublicBaseURL)
	}
	signing := opts.SigningCert
	if signing == nil {
		ca, err := pki.NewCA("sandbox MOSIP keymanager CA")
		if err != nil {
			return nil, err
		}
		if signing, err = ca.Issue("CREDENTIAL_SERVICE"); err != nil {
			return nil, err
		}
	}
	_, keepODRL := opts.Contexts[ODRLContextURL]
	mosipCtx, err := ldMOSIPContext(base, keepODRL, opts.ContextTerms)
	if err != nil {
		return nil, err
	}
	extra := make(map[string][]byte, len(opts.Contexts))
	for u, d := range opts.Contexts {
		if !json.Valid(d) {
			return nil, fmt.Errorf("mosip: credential service: context %q is not JSON", u)
		}
		extra[u] = bytes.Clone(d)
	}
	s := &CredentialService{
		partnerID:    opts.PartnerID,
		partnerCert:  opts.PartnerCert,
		signing:      signing,
		kid:          credKeyID(signing),
		attributes:   append([]string(nil), opts.Attributes...),
		language:     opts.Language,
		metaInfo:     append([]string(nil), opts.MetaInfoFields...),
		base:         base,
		mosipCtx:     mosipCtx,
		extraCtx:     extra,
		sharePolicy:  opts.DataSharePolicyID,
		shareTx:      opts.DataShareTransactions,
		shareTTL:     opts.DataShareValidFor,
		tokenLen:     opts.TokenIDLength,
		tokenUINSalt: opts.TokenIDUINSalt,
		tokenPSalt:   opts.TokenIDPartnerSalt,
		policy:       opts.Policy,
		canon:        opts.Canonicalization,
		dataShare:    opts.DataShare,
		shares:       map[string]*credShare{},
	}
	s.loader = newLDLoader(s.MOSIPContextURL(), mosipCtx, extra)
	return s, nil
}

func credCheckPolicy(p CredentialPolicy) error {
	switch p {
	case CredentialPolicyPSUT, CredentialPolicyVID, CredentialPolicyUIN, CredentialPolicyPSUTAndVID:
		return nil
	}
	return fmt.Errorf("mosip: unknown credential policy %q (PSUT, VID, UIN or PSUT+VID)", p)
}

func credCheckCanon(c Canonicalization) error {
	switch c {
	case CanonicalizationURDNA2015, CanonicalizationJCS:
		return nil
	}
	return fmt.Errorf("mosip: unknown canonicalization %q (URDNA2015 or JCS)", c)
}

// IssuerURL is the VC issuer (the controller document).
func (s *CredentialService) IssuerURL() string { return s.base + "/.well-known/controller.json" }

// VerificationMethodURL is the proof's verificationMethod (the public key document).
func (s *CredentialService) VerificationMethodURL() string {
	return s.base + "/.well-known/public-key.json"
}

// MOSIPContextURL is the deployment context URL the VC names.
func (s *CredentialService) MOSIPContextURL() string {
	return s.base + "/.well-known/mosip-context.json"
}

// MOSIPContext returns the served mosip-context.json, so a verifier under
// test can pin exactly what the sandbox signs with.
func (s *CredentialService) MOSIPContext() []byte { return bytes.Clone(s.mosipCtx) }

// SigningCert is the credential signing key and certificate (the x5c of
// data.proof.signature and the key behind public-key.json).
func (s *CredentialService) SigningCert() *pki.Cert { return s.signing }

// PartnerID is the partner this service issues for.
func (s *CredentialService) PartnerID() string { return s.partnerID }

// SetPolicy changes the shared identifier for later credentials.
func (s *CredentialService) SetPolicy(p CredentialPolicy) error {
	if err := credCheckPolicy(p); err != nil {
		return err
	}
	s.mu.Lock()
	s.policy = p
	s.mu.Unlock()
	return nil
}

// SetCanonicalization changes what later VC proofs sign.
func (s *CredentialService) SetCanonicalization(c Canonicalization) error {
	if err := credCheckCanon(c); err != nil {
		return err
	}
	s.mu.Lock()
	s.canon = c
	s.mu.Unlock()
	return nil
}

// SetDataShare switches later credentials between inline ("direct") and
// datashare delivery.
func (s *CredentialService) SetDataShare(on bool) {
	s.mu.Lock()
	s.dataShare = on
	s.mu.Unlock()
}

// Issued returns every credential issued so far, oldest first.
func (s *CredentialService) Issued() []IssuedCredential {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]IssuedCredential(nil), s.issued...)
}

// DataShareFetches counts datashare GETs, answered or refused.
func (s *CredentialService) DataShareFetches() int64 { return s.shareGets.Load() }

// PartnerToken is the PSUT this service puts in credentials for uin.
func (s *CredentialService) PartnerToken(uin string) string {
	return GenerateTokenID(uin, s.partnerID, s.tokenUINSalt, s.tokenPSalt, s.tokenLen)
}

// IssueCredential implements CredentialIssuer: it builds, signs and
// encrypts the credential of id for the packet registrationID and returns
// the CREDENTIAL_ISSUED event JSON the credential service publishes on
// "<partnerId>/CREDENTIAL_ISSUED".
func (s *CredentialService) IssueCredential(id Identity, registrationID string) ([]byte, error) {
	if registrationID == "" {
		return nil, errors.New("mosip: issue credential: empty registration id")
	}
	if id.UIN == "" {
		return nil, errors.New("mosip: issue credential: identity has no UIN")
	}
	s.mu.Lock()
	policy, canon, dataShare := s.policy, s.canon, s.dataShare
	s.mu.Unlock()

	sharesVID := policy == CredentialPolicyVID || policy == CredentialPolicyPSUTAndVID
	if sharesVID && id.VID == "" {
		return nil, errors.New("mosip: issue credential: policy shares a VID but the identity has none")
	}
	now := time.Now().UTC()

	subject := credObj{{"id", credIDURLPrefix + registrationID}, {"vcVer", credVCVersion}}
	if policy == CredentialPolicyPSUT || policy == CredentialPolicyPSUTAndVID {
		subject = append(subject, credKV{"PSUT", s.PartnerToken(id.UIN)})
	}
	if sharesVID {
		subject = append(subject, credKV{"VID", id.VID})
	}
	if policy == CredentialPolicyUIN {
		subject = append(subject, credKV{"UIN", id.UIN})
	}
	for _, name := range s.attributes {
		if subject.has(name) {
			continue // a JSON object cannot carry a key twice
		}
		if v, ok := credAttribute(id, name, s.language); ok {
			subject = append(subject, credKV{name, v})
		}
	}

	credentialID := uuid.NewString()
	vc := credObj{
		{"@context", []any{CredentialsV1ContextURL, s.MOSIPContextURL(), map[string]string{"sec": "https://w3id.org/security#"}}},
		{"type", []string{"VerifiableCredential", "MOSIPVerifiableCredential"}},
		{"id", credIDURLPrefix + credentialID},
		{"issuer", s.IssuerURL()},
		{"issuanceDate", now.Format("2006-01-02T15:04:05.000Z")},
		{"credentialSubject", subject},
	}
	proof := credObj{
		{"type", "RsaSignature2018"},
		{"created", now.Format("2006-01-02T15:04:05Z")},
		{"proofPurpose", "assertionMethod"},
		{"verificationMethod", s.VerificationMethodURL()},
	}
	payload, err := s.proofPayload(canon, vc, proof)
	if err != nil {
		return nil, err
	}
	jws, err := credLDJWS(s.signing.Key, s.kid, payload)
	if err != nil {
		return nil, err
	}
	vc = append(vc, credKV{"proof", append(proof, credKV{"jws", jws})})
	plaintext, err := credMarshal(vc)
	if err != nil {
		return nil, err
	}

	signature, err := credCertJWS(s.signing, plaintext)
	if err != nil {
		return nil, err
	}
	encrypted, err := EncryptForPartner(s.partnerCert, plaintext)
	if err != nil {
		return nil, err
	}
	pin, err := credDigits(6)
	if err != nil {
		return nil, err
	}

	data := credObj{{"registrationId", registrationID}, {"templateTypeCode", credTemplateTypeCode}}
	for _, f := range s.metaInfo {
		if v, ok := id.Fields[f]; ok {
			data = append(data, credKV{f, v})
		}
	}
	if sharesVID {
		data = append(data, credKV{"ExpiryTimestamp", credPerpetualVIDExpiry}, credKV{"TransactionLimit", nil})
	}
	var shareURI *string
	if dataShare {
		u, err := s.storeShare(encrypted, now)
		if err != nil {
			return nil, err
		}
		shareURI = &u
	} else {
		data = append(data, credKV{"credential", encrypted})
	}
	data = append(data,
		credKV{"proof", credObj{{"signature", signature}}},
		credKV{"credentialType", credType},
		credKV{"protectionKey", pin},
	)

	eventID, transactionID := uuid.NewString(), uuid.NewString()
	ts := now.Format("2006-01-02T15:04:05.000Z")
	event := credObj{
		{"publisher", credPublisher},
		{"topic", CredentialTopic(s.partnerID)},
		{"publishedOn", ts},
		{"event", credObj{
			{"id", eventID},
			{"transactionId", transactionID},
			{"type", credObj{{"namespace", "mosip"}, {"name", "mosip"}}},
			{"timestamp", ts},
			{"dataShareUri", shareURI},
			{"data", data},
		}},
	}
	body, err := credMarshal(event)
	if err != nil {
		return nil, err
	}

	rec := IssuedCredential{
		RegistrationID: registrationID, EventID: eventID, TransactionID: transactionID,
		CredentialID: credentialID, PartnerID: s.partnerID, Policy: policy,
		Canonicalization: canon, IssuedAt: now,
	}
	if shareURI != nil {
		rec.DataShareURI = *shareURI
	}
	s.mu.Lock()
	s.issued = append(s.issued, rec)
	s.mu.Unlock()
	return body, nil
}

// proofPayload is what the LD proof's PS256 signature covers.
func (s *CredentialService) proofPayload(canon Canonicalization, vc, proof credObj) ([]byte, error) {
	doc, err := credDecode(vc)
	if err != nil {
		return nil, err
	}
	if canon == CanonicalizationJCS {
		return ldJCS(doc)
	}
	proofDoc, err := credDecode(append(credObj{{"@context", SecurityV2ContextURL}}, proof...))
	if err != nil {
		return nil, err
	}
	proofNQ, err := ldNQuads(proofDoc, s.loader)
	if err != nil {
		return nil, err
	}
	docNQ, err := ldNQuads(doc, s.loader)
	if err != nil {
		return nil, err
	}
	ph, dh := sha256.Sum256([]byte(proofNQ)), sha256.Sum256([]byte(docNQ))
	return append(ph[:], dh[:]...), nil
}

// credAttribute resolves a policy attribute from the identity: the stored
// packet field first (JSON values decoded so lists and objects stay
// structured, as VerCredProvider no longer stringifies them), else the
// Identity struct in ID-schema shape.
func credAttribute(id Identity, name, lang string) (any, bool) {
	if raw, ok := id.Fields[name]; ok && raw != "" {
		t := strings.TrimSpace(raw)
		if (strings.HasPrefix(t, "[") || strings.HasPrefix(t, "{")) && json.Valid([]byte(t)) {
			return json.RawMessage(t), true
		}
		return raw, true
	}
	simple := func(v string) (any, bool) {
		if v == "" {
			return nil, false
		}
		return []credLangValue{{Language: lang, Value: v}}, true
	}
	plain := func(v string) (any, bool) { return v, v != "" }
	switch name {
	case "fullName":
		return simple(id.FullName)
	case "gender":
		return simple(id.Gender)
	case "dateOfBirth":
		return plain(id.DateOfBirth)
	case "email":
		return plain(id.Email)
	case "phone":
		return plain(id.Phone)
	case "UIN":
		return plain(id.UIN)
	case "VID":
		return plain(id.VID)
	case "dateOfDeath":
		return plain(id.DateOfDeath)
	}
	return nil, false
}

type credLangValue struct {
	Language string `json:"language"`
	Value    string `json:"value"`
}

// storeShare keeps an encrypted credential for the datashare GET and
// returns its URL. The key follows MOSIP's datashare: subscriber + policy +
// yyyyMMddHHmmss + 8 random alphanumerics.
func (s *CredentialService) storeShare(encrypted string, now time.Time) (string, error) {
	suffix, err := credAlnum(8)
	if err != nil {
		return "", err
	}
	key := s.partnerID + s.sharePolicy + now.Format("20060102150405") + suffix
	s.mu.Lock()
	s.shares[s.shareKey(s.sharePolicy, s.partnerID, key)] = &credShare{body: []byte(encrypted), remaining: s.shareTx, created: now}
	s.mu.Unlock()
	return s.base + "/v1/datashare/get/" + url.PathEscape(s.sharePolicy) + "/" + url.PathEscape(s.partnerID) + "/" + url.PathEscape(key), nil
}

func (s *CredentialService) shareKey(policy, subscriber, key string) string {
	return policy + "\x00" + subscriber + "\x00" + key
}

// Register serves the documents a verifier resolves and the datashare:
//
//	GET /.well-known/public-key.json     RsaVerificationKey2018 with publicKeyPem
//	GET /.well-known/controller.json     issuer, assertionMethod → public-key.json
//	GET /.well-known/mosip-context.json  the deployment context the VC names
//	GET /.well-known/cred-v1.jsonld, security-v1.jsonld, security-v2.jsonld
//	    (and odrl.jsonld when configured): the pinned contexts, for verifiers
//	GET /v1/datashare/get/{policyId}/{subscriberId}/{randomShareKey}
//	    the encrypted credential (base64url text) as the body; refused with
//	    HTTP 200 and a JSON errors[] (DAT-SER-006), as MOSIP's datashare does,
//	    once transactionsAllowed GETs were answered or the key is unknown.
func (s *CredentialService) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /.well-known/public-key.json", s.handlePublicKey)
	mux.HandleFunc("GET /.well-known/controller.json", s.handleController)
	mux.HandleFunc("GET /.well-known/mosip-context.json", credServeJSON(s.mosipCtx))
	mux.HandleFunc("GET /.well-known/cred-v1.jsonld", credServeJSON(ldCredentialsV1))
	mux.HandleFunc("GET /.well-known/security-v1.jsonld", credServeJSON(ldSecurityV1))
	mux.HandleFunc("GET /.well-known/security-v2.jsonld", credServeJSON(ldSecurityV2))
	if odrl, ok := s.extraCtx[ODRLContextURL]; ok {
		mux.HandleFunc("GET /.well-known/odrl.jsonld", credServeJSON(odrl))
	}
	mux.HandleFunc("GET /v1/datashare/get/{policyId}/{subscriberId}/{randomShareKey}", s.handleDataShare)
}

func credServeJSON(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}
}

func (s *CredentialService) handlePublicKey(w http.ResponseWriter, _ *http.Request) {
	der, err := x509.MarshalPKIXPublicKey(&s.signing.Key.PublicKey)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	credWriteJSON(w, credObj{
		{"@context", SecurityV2ContextURL},
		{"type", "RsaVerificationKey2018"},
		{"id", s.VerificationMethodURL()},
		{"controller", s.IssuerURL()},
		{"publicKeyPem", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))},
	})
}

func (s *CredentialService) handleController(w http.ResponseWriter, _ *http.Request) {
	credWriteJSON(w, credObj{
		{"@context", SecurityV2ContextURL},
		{"id", s.IssuerURL()},
		{"assertionMethod", []string{s.VerificationMethodURL()}},
	})
}

func (s *CredentialService) handleDataShare(w http.ResponseWriter, r *http.Request) {
	s.shareGets.Add(1)
	policy, subscriber, key := r.PathValue("policyId"), r.PathValue("subscriberId"), r.PathValue("randomShareKey")
	if len(policy)+len(subscriber)+len(key) > credMaxShareKey {
		credDataShareError(w, credDataShareNotFoundMsg)
		return
	}
	s.mu.Lock()
	sh, ok := s.shares[s.shareKey(policy, subscriber, key)]
	var body []byte
	expired := false
	if ok {
		switch {
		case sh.remaining < 1:
			expired = true
		case s.shareTTL > 0 && time.Since(sh.created) > s.shareTTL:
			expired = true
		default:
			sh.remaining--
			body = sh.body
		}
	}
	s.mu.Unlock()
	switch {
	case !ok:
		credDataShareError(w, credDataShareNotFoundMsg)
	case expired:
		credDataShareError(w, credDataShareExpiredMsg)
	default:
		// Spring's byte[] converter: the stored bytes verbatim.
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(body)
	}
}

// credDataShareError writes the datashare exception handler's answer: HTTP
// 200, a DataShareResponseDto with dataShare null and errors[].
func credDataShareError(w http.ResponseWriter, msg string) {
	credWriteJSON(w, credObj{
		{"id", credDataShareServiceID},
		{"version", credDataShareVersion},
		{"responsetime", time.Now().UTC().Format("2006-01-02T15:04:05.000Z")},
		{"dataShare", nil},
		{"errors", []credObj{{{"errorCode", credDataShareErrCode}, {"message", msg}}}},
	})
}

func credWriteJSON(w http.ResponseWriter, v any) {
	b, err := credMarshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// credKV and credObj build JSON objects whose member order is the order of
// construction, so events and credentials read like MOSIP's.
type credKV struct {
	K string
	V any
}

type credObj []credKV

func (o credObj) has(k string) bool {
	for _, kv := range o {
		if kv.K == k {
			return true
		}
	}
	return false
}

// MarshalJSON writes the members in order.
func (o credObj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := credMarshal(kv.K)
		if err != nil {
			return nil, err
		}
		v, err := credMarshal(kv.V)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// credMarshal is json.Marshal without HTML escaping (Jackson does not
// escape <, > or &).
func credMarshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// credDecode turns a built object into the generic JSON values json-gold
// and JCS work on, via its wire bytes.
func credDecode(v any) (any, error) {
	b, err := credMarshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func credDigits(n int) (string, error) {
	const digits = "0123456789"
	return credRandom(n, digits)
}

func credAlnum(n int) (string, error) {
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	return credRandom(n, alnum)
}

func credRandom(n int, alphabet string) (string, error) {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		x, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		b[i] = alphabet[x.Int64()]
	}
	return string(b), nil
}
