package mosipcrypto

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrSignature: a JWS is malformed, uses a refused algorithm or key, or its
// signature does not verify.
var ErrSignature = errors.New("signature verification failed")

// SignDetachedRS256 signs payload as MOSIP's partners sign requests (the
// IDA `signature` header): a compact JWS with detached payload,
// "<b64url(header)>..<b64url(signature)>", RS256 over
// b64url(header) "." b64url(payload), header {"alg":"RS256","x5c":[...]}
// with the certificate as standard base64 of its DER (RFC 7515; keymanager
// 1.3 refuses base64url-of-PEM).
func SignDetachedRS256(ks *Keystore, payload []byte) (string, error) {
	header, err := json.Marshal(struct {
		Alg string   `json:"alg"`
		X5C []string `json:"x5c"`
	}{"RS256", []string{base64.StdEncoding.EncodeToString(ks.Cert.Raw)}})
	if err != nil {
		return "", err
	}
	h := base64.RawURLEncoding.EncodeToString(header)
	p := base64.RawURLEncoding.EncodeToString(payload)
	digest := sha256.Sum256([]byte(h + "." + p))
	sig, err := signPKCS1v15SHA256(ks.Key, digest[:])
	if err != nil {
		return "", fmt.Errorf("RS256: %w", err)
	}
	return h + ".." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// JWSHeader is the part of a protected header the verifier reads.
type JWSHeader struct {
	Alg  string   `json:"alg"`
	Kid  string   `json:"kid,omitempty"`
	X5C  []string `json:"x5c,omitempty"`
	B64  *bool    `json:"b64,omitempty"`
	Crit []string `json:"crit,omitempty"`
}

// VerifyOptions say which signatures VerifyDetached accepts.
type VerifyOptions struct {
	// Algorithms allowed; empty means RS256 and PS256.
	Algorithms []string
	// Key verifies the signature when set; otherwise the certificate in
	// the header's x5c does, and it must be one of Trusted.
	Key *rsa.PublicKey
	// Trusted pins the certificates an x5c may carry (compared by DER).
	// With neither Key nor Trusted nothing verifies.
	Trusted []*x509.Certificate
}

// ParseDetached splits a detached compact JWS ("header..signature") and
// decodes its header.
func ParseDetached(jws string) (JWSHeader, string, []byte, error) {
	var h JWSHeader
	parts := strings.Split(jws, ".")
	if len(parts) != 3 || parts[1] != "" {
		return h, "", nil, fmt.Errorf("%w: not a detached compact JWS", ErrSignature)
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return h, "", nil, fmt.Errorf("%w: header is not base64url", ErrSignature)
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return h, "", nil, fmt.Errorf("%w: header is not JSON", ErrSignature)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return h, "", nil, fmt.Errorf("%w: signature is not base64url", ErrSignature)
	}
	return h, parts[0], sig, nil
}

// VerifyDetached verifies a detached compact JWS over payload, in either
// of MOSIP's forms: b64=true (the signing input carries b64url(payload);
// event.data.proof.signature, IDA signatures) or RFC 7797 b64=false with
// "b64" in crit (the raw payload; RsaSignature2018 proofs). It returns the
// certificate that verified, or nil when opts.Key did.
func VerifyDetached(jws string, payload []byte, opts VerifyOptions) (*x509.Certificate, error) {
	h, encHeader, sig, err := ParseDetached(jws)
	if err != nil {
		return nil, err
	}
	algs := opts.Algorithms
	if len(algs) == 0 {
		algs = []string{"RS256", "PS256"}
	}
	if !slices.Contains(algs, h.Alg) {
		return nil, fmt.Errorf("%w: algorithm %q not allowed", ErrSignature, h.Alg)
	}
	for _, c := range h.Crit {
		if c != "b64" {
			return nil, fmt.Errorf("%w: unsupported critical header %q", ErrSignature, c)
		}
	}
	unencoded := h.B64 != nil && !*h.B64
	if unencoded && !slices.Contains(h.Crit, "b64") {
		return nil, fmt.Errorf("%w: b64=false without crit", ErrSignature)
	}

	key, cert := opts.Key, (*x509.Certificate)(nil)
	if key == nil {
		if cert, err = pinnedX5C(h.X5C, opts.Trusted); err != nil {
			return nil, err
		}
		key = cert.PublicKey.(*rsa.PublicKey)
	}

	d := sha256.New()
	d.Write([]byte(encHeader))
	d.Write([]byte{'.'})
	if unencoded {
		d.Write(payload)
	} else {
		enc := base64.RawURLEncoding
		buf := make([]byte, enc.EncodedLen(len(payload)))
		enc.Encode(buf, payload)
		d.Write(buf)
	}
	digest := d.Sum(nil)
	switch h.Alg {
	case "RS256":
		err = rsa.VerifyPKCS1v15(key, crypto.SHA256, digest, sig)
	case "PS256":
		// Java's PS256 uses a salt as long as the hash; accept any length
		// the signer chose, as RFC 7518 allows.
		err = rsa.VerifyPSS(key, crypto.SHA256, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	default:
		return nil, fmt.Errorf("%w: algorithm %q not supported", ErrSignature, h.Alg)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: signature does not match", ErrSignature)
	}
	return cert, nil
}

// pinnedX5C returns the header's leaf certificate when it is one of the
// trusted ones. x5c is standard base64 DER (RFC 7515); url-safe is
// tolerated since some MOSIP versions emit it.
func pinnedX5C(x5c []string, trusted []*x509.Certificate) (*x509.Certificate, error) {
	if len(x5c) == 0 {
		return nil, fmt.Errorf("%w: no x5c certificate in the header and no key configured", ErrSignature)
	}
	der, err := DecodeBase64(x5c[0])
	if err != nil {
		return nil, fmt.Errorf("%w: x5c is not base64", ErrSignature)
	}
	for _, t := range trusted {
		if string(t.Raw) == string(der) {
			if _, ok := t.PublicKey.(*rsa.PublicKey); !ok {
				return nil, fmt.Errorf("%w: certificate key is not RSA", ErrSignature)
			}
			return t, nil
		}
	}
	return nil, fmt.Errorf("%w: x5c certificate is not a trusted signer", ErrSignature)
}
