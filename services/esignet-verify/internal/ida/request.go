// Package ida is the bridge's client of MOSIP ID Authentication (IDA)
// demographic authentication: it builds the request exactly as MOSIP
// specifies (auth data encrypted for the IDA partner certificate, HMAC,
// thumbprint, a detached RS256 signature by the partner key), sends it and
// reads IDA's verdict, telling a person who does not match (a FAILED
// result) from an integration that does not work (an error).
package ida

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mosipcrvs/bridge/pkg/mosip"
	"github.com/mosipcrvs/bridge/pkg/mosipcrypto"
)

// API constants (mosip-config id-authentication-default.properties).
const (
	authID      = "mosip.identity.auth"
	authVersion = "1.0"
	specVersion = "1.0"
)

// Demographics is what one authentication checks.
type Demographics struct {
	// IndividualID is the UIN or VID.
	IndividualID string
	// IDType is "UIN" or "VID".
	IDType string
	// DOB is the date of birth.
	DOB time.Time
	// FirstName, MiddleName and Surname are the name's parts; Name joins
	// them with the configured format.
	FirstName, MiddleName, Surname string
	// Gender is optional.
	Gender string
}

// Attribute names as IDA's error messages call them.
const (
	AttrName   = "name"
	AttrDOB    = "dob"
	AttrGender = "gender"
)

// identityInfo is IDA's IdentityInfoDTO.
type identityInfo struct {
	Language string `json:"language"`
	Value    string `json:"value"`
}

// demographicsDTO is the part of IDA's IdentityDTO the bridge fills.
type demographicsDTO struct {
	Name   []identityInfo `json:"name,omitempty"`
	Gender []identityInfo `json:"gender,omitempty"`
	DOB    string         `json:"dob,omitempty"`
}

// authData is IDA's RequestDTO, encrypted into the request field. OTP,
// PIN and biometrics are left out (null), as MOSIP's own client leaves
// the factors it does not use.
type authData struct {
	Timestamp    string          `json:"timestamp"`
	Demographics demographicsDTO `json:"demographics"`
}

// authRequest is IDA's AuthRequestDTO, in the order MOSIP documents it.
type authRequest struct {
	ID                string         `json:"id"`
	Version           string         `json:"version"`
	IndividualID      string         `json:"individualId"`
	IndividualIDType  string         `json:"individualIdType"`
	TransactionID     string         `json:"transactionID"`
	RequestTime       string         `json:"requestTime"`
	SpecVersion       string         `json:"specVersion"`
	Thumbprint        string         `json:"thumbprint"`
	DomainURI         string         `json:"domainUri"`
	Env               string         `json:"env"`
	ConsentObtained   bool           `json:"consentObtained"`
	Request           string         `json:"request"`
	RequestSessionKey string         `json:"requestSessionKey"`
	RequestHMAC       string         `json:"requestHMAC"`
	Metadata          map[string]any `json:"metadata"`
}

// Builder makes signed IDA authentication requests.
type Builder struct {
	// Keystore is the partner's key and certificate (signs the request).
	Keystore *mosipcrypto.Keystore
	// IDACert is IDA's partner-encryption certificate.
	IDACert *x509.Certificate
	// DomainURI and Env are the request's domainUri and env.
	DomainURI, Env string
	// NameLanguage is the ISO 639-3 code of name and gender ("eng").
	NameLanguage string
	// NameFormat joins the name's parts, e.g. "{firstname} {middlename}
	// {surname}"; empty parts and the spaces around them disappear.
	NameFormat string
	// Genders maps CRVS gender values (lower case) to MOSIP's labels;
	// unmapped values are sent as they are.
	Genders map[string]string
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Built is a request ready to send.
type Built struct {
	// Body is the exact JSON to send; Signature signs these bytes.
	Body []byte
	// Signature is the signature header value.
	Signature string
	// TransactionID is the 10-character id in the body.
	TransactionID string
	// Attributes lists what the request asks IDA to match.
	Attributes []string
}

// Build encrypts d and signs the request.
func (b *Builder) Build(d Demographics) (*Built, error) {
	if b.Keystore == nil || b.IDACert == nil {
		return nil, errors.New("ida: the partner keystore and the IDA certificate are required")
	}
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	t := now()
	demo := demographicsDTO{DOB: d.DOB.Format("2006/01/02")}
	attrs := []string{AttrDOB}
	if name := b.FullName(d.FirstName, d.MiddleName, d.Surname); name != "" {
		demo.Name = []identityInfo{{Language: b.NameLanguage, Value: name}}
		attrs = append([]string{AttrName}, attrs...)
	}
	if g := strings.TrimSpace(d.Gender); g != "" {
		if mapped, ok := b.Genders[strings.ToLower(g)]; ok {
			g = mapped
		}
		demo.Gender = []identityInfo{{Language: b.NameLanguage, Value: g}}
		attrs = append(attrs, AttrGender)
	}
	inner, err := json.Marshal(authData{Timestamp: mosip.RequestTime(t), Demographics: demo})
	if err != nil {
		return nil, err
	}
	enc, err := mosipcrypto.EncryptIDARequest(b.IDACert, inner)
	if err != nil {
		return nil, fmt.Errorf("ida: encrypting the request: %w", err)
	}
	txn := TransactionID()
	body, err := json.Marshal(authRequest{
		ID: authID, Version: authVersion, IndividualID: d.IndividualID, IndividualIDType: d.IDType,
		TransactionID: txn, RequestTime: mosip.RequestTime(t), SpecVersion: specVersion,
		Thumbprint: enc.Thumbprint, DomainURI: b.DomainURI, Env: b.Env, ConsentObtained: true,
		Request: enc.Request, RequestSessionKey: enc.RequestSessionKey, RequestHMAC: enc.RequestHMAC,
		Metadata: map[string]any{},
	})
	if err != nil {
		return nil, err
	}
	sig, err := mosipcrypto.SignDetachedRS256(b.Keystore, body)
	if err != nil {
		return nil, fmt.Errorf("ida: signing the request: %w", err)
	}
	return &Built{Body: body, Signature: sig, TransactionID: txn, Attributes: attrs}, nil
}

// FullName joins the name's parts with the configured format. IDA's exact
// name match compares every word, so middle names must be sent when MOSIP
// holds them (the default format does; the TypeScript mosip-api dropped
// them).
func (b *Builder) FullName(first, middle, surname string) string {
	f := b.NameFormat
	if f == "" {
		f = DefaultNameFormat
	}
	r := strings.NewReplacer("{firstname}", strings.TrimSpace(first), "{middlename}", strings.TrimSpace(middle),
		"{surname}", strings.TrimSpace(surname))
	return strings.Join(strings.Fields(r.Replace(f)), " ")
}

// DefaultNameFormat sends every part of the name.
const DefaultNameFormat = "{firstname} {middlename} {surname}"

// CheckNameFormat reports what is wrong with a name format.
func CheckNameFormat(f string) error {
	rest := strings.NewReplacer("{firstname}", "", "{middlename}", "", "{surname}", "").Replace(f)
	if strings.ContainsAny(rest, "{}") {
		return errors.New("may only use {firstname}, {middlename} and {surname}")
	}
	if !strings.Contains(f, "{firstname}") && !strings.Contains(f, "{surname}") {
		return errors.New("must use {firstname} or {surname}")
	}
	return nil
}

// TransactionID is a fresh IDA transactionID: exactly 10 characters of
// [A-Z2-7] (IDA requires ^[A-Za-z0-9]{10}), from crypto/rand.
func TransactionID() string { return rand.Text()[:10] }
