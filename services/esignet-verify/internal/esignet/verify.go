package esignet

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/mosipcrvs/bridge/pkg/mosipcrypto"
)

// Algorithms a userinfo or id_token may be signed with: eSignet and
// keymanager sign with RS256, PS256 is what keymanager's other JWS
// flavours use. Anything else (none, HMAC with a public key as secret…) is
// refused before any key is looked at.
var signatureAlgorithms = []string{"RS256", "PS256"}

// JWE algorithms eSignet encrypts userinfo with (RSA-OAEP-256/A256GCM by
// default; the others are what its Nimbus library can be configured to).
var (
	jweKeyAlgorithms = []jose.KeyAlgorithm{jose.RSA_OAEP_256, jose.RSA_OAEP}
	jweContentAlgs   = []jose.ContentEncryption{jose.A256GCM, jose.A192GCM, jose.A128GCM,
		jose.A128CBC_HS256, jose.A192CBC_HS384, jose.A256CBC_HS512}
)

// maxTokenBytes bounds a userinfo or id_token; IDA's KYC token with a
// picture stays well under it.
const maxTokenBytes = 1 << 20

// expectation is what a verified token's claims must satisfy; empty
// fields are not checked.
type expectation struct {
	// token names it in errors: "userinfo" or "id_token".
	token string
	// audience must be in aud when the token has an aud (always for id_token).
	audience string
	// issuer must equal iss when the token has an iss (always for id_token).
	issuer string
	// strict requires iss, aud and exp to be present (id_token).
	strict bool
}

// verified is a token whose signature and claims passed.
type verified struct {
	claims map[string]any
	// by names the key that verified it.
	by string
}

// verifyToken decrypts (JWE) and verifies (JWS) token, then checks its
// claims against e.
func (c *Client) verifyToken(ctx context.Context, token string, e expectation) (*verified, error) {
	token = strings.TrimSpace(token)
	if len(token) > maxTokenBytes {
		return nil, verr(e.token, ReasonMalformed, "larger than 1 MiB")
	}
	switch strings.Count(token, ".") {
	case 4:
		inner, err := c.decrypt(token, e.token)
		if err != nil {
			return nil, err
		}
		token = strings.TrimSpace(inner)
		if strings.Count(token, ".") != 2 {
			return nil, verr(e.token, ReasonUnsigned, "the decrypted content is not a signed JWT")
		}
	case 2:
	default:
		if strings.HasPrefix(token, "{") {
			return nil, verr(e.token, ReasonUnsigned, "plain JSON; eSignet must sign it")
		}
		return nil, verr(e.token, ReasonMalformed, "neither a compact JWS nor a JWE")
	}
	parts := strings.Split(token, ".")
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, verr(e.token, ReasonMalformed, "header is not base64url")
	}
	var h jwsHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, verr(e.token, ReasonMalformed, "header is not a JSON object")
	}
	var crit struct {
		Crit json.RawMessage `json:"crit"`
		B64  json.RawMessage `json:"b64"`
	}
	_ = json.Unmarshal(hb, &crit)
	switch {
	case h.Alg == "" || strings.EqualFold(h.Alg, "none"):
		return nil, verr(e.token, ReasonUnsigned, "alg is none")
	case !slices.Contains(signatureAlgorithms, h.Alg):
		return nil, verr(e.token, ReasonAlgorithm, "alg %s is not one of %s", printable(h.Alg), strings.Join(signatureAlgorithms, ", "))
	case len(crit.Crit) > 0 || len(crit.B64) > 0:
		return nil, verr(e.token, ReasonMalformed, "critical or b64 header parameters are not supported")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, verr(e.token, ReasonMalformed, "payload is not base64url")
	}

	keys, err := c.keys.candidates(ctx, h)
	if err != nil {
		return nil, err
	}
	by, ok := "", false
	named := false
	for _, k := range keys {
		named = named || k.named
		if k.alg != "" && k.alg != h.Alg {
			continue
		}
		if verifyWith(k.pub, parts[0]+".."+parts[2], payload, h.Alg) {
			by, ok = k.id, true
			break
		}
	}
	if !ok {
		switch {
		case named:
			return nil, verr(e.token, ReasonSignature, "the signature does not verify with the key it names")
		case h.Kid != "" || len(h.X5C) > 0:
			return nil, verr(e.token, ReasonUnknownKey, "signed by a key that is neither in eSignet's JWKS nor a configured certificate")
		case len(keys) == 0:
			return nil, verr(e.token, ReasonUnknownKey, "no verification key is configured or published")
		default:
			return nil, verr(e.token, ReasonSignature, "no trusted key verifies the signature")
		}
	}

	claims, cerr := decodeClaims(e.token, payload)
	if cerr != nil {
		return nil, cerr
	}
	if cerr := c.checkClaims(claims, e); cerr != nil {
		return nil, cerr
	}
	return &verified{claims: claims, by: by}, nil
}

func verifyWith(pub *rsa.PublicKey, detached string, payload []byte, alg string) bool {
	_, err := mosipcrypto.VerifyDetached(detached, payload, mosipcrypto.VerifyOptions{Algorithms: []string{alg}, Key: pub})
	return err == nil
}

// decrypt opens a compact JWE with the client's decryption key.
func (c *Client) decrypt(token, name string) (string, error) {
	if c.decryptionKey == nil {
		return "", verr(name, ReasonDecryption, "encrypted, but no decryption key is configured")
	}
	obj, err := jose.ParseEncryptedCompact(token, jweKeyAlgorithms, jweContentAlgs)
	if err != nil {
		return "", verr(name, ReasonDecryption, "not a JWE this client accepts (RSA-OAEP-256/RSA-OAEP with AES-GCM or AES-CBC-HMAC)")
	}
	pt, err := obj.Decrypt(c.decryptionKey)
	if err != nil {
		return "", verr(name, ReasonDecryption, "cannot be decrypted with the client's key")
	}
	return string(pt), nil
}

func decodeClaims(token string, payload []byte) (map[string]any, *VerificationError) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil || claims == nil {
		return nil, verr(token, ReasonMalformed, "claims are not a JSON object")
	}
	if dec.More() {
		return nil, verr(token, ReasonMalformed, "claims are followed by other data")
	}
	return claims, nil
}

// checkClaims applies e. IDA's KYC token (what eSignet returns as userinfo
// with the MOSIP IDA plugin) carries only sub and the released claims, so
// for userinfo iss, aud and exp are checked when present; the id_token
// (strict) must carry all three.
func (c *Client) checkClaims(claims map[string]any, e expectation) *VerificationError {
	if sub, _ := claims["sub"].(string); strings.TrimSpace(sub) == "" {
		return verr(e.token, ReasonSubject, "sub is missing")
	}
	if err := checkTimes(e.token, claims, c.now(), c.leeway, e.strict); err != nil {
		return err
	}
	if iss, present := claims["iss"]; present || e.strict {
		s, _ := iss.(string)
		if e.issuer != "" && s != e.issuer {
			return verr(e.token, ReasonIssuer, "iss is not the configured eSignet issuer")
		}
		if e.strict && s == "" {
			return verr(e.token, ReasonMalformed, "iss is missing")
		}
	}
	if aud, present := claims["aud"]; present || e.strict {
		list, err := audiences(aud)
		if err != nil {
			return verr(e.token, ReasonMalformed, "aud is neither a string nor an array of strings")
		}
		if !slices.Contains(list, e.audience) {
			return verr(e.token, ReasonAudience, "aud does not name this client")
		}
	}
	return nil
}

func audiences(v any) ([]string, error) {
	switch a := v.(type) {
	case string:
		return []string{a}, nil
	case []any:
		out := make([]string, 0, len(a))
		for _, x := range a {
			s, ok := x.(string)
			if !ok {
				return nil, errors.New("not a string")
			}
			out = append(out, s)
		}
		return out, nil
	case nil:
		return nil, nil
	default:
		return nil, errors.New("not a string")
	}
}

// now is the client's clock.
func (c *Client) now() time.Time { return c.clock() }

// checkTimes is the leeway-aware check of exp, nbf and iat shared by the
// userinfo and id_token checks; expRequired makes a missing exp an error.
func checkTimes(token string, claims map[string]any, now time.Time, leeway time.Duration, expRequired bool) *VerificationError {
	num := func(name string) (int64, bool, *VerificationError) {
		v, ok := claims[name]
		if !ok || v == nil {
			return 0, false, nil
		}
		n, ok := v.(json.Number)
		if !ok {
			return 0, false, verr(token, ReasonMalformed, "%s is not a number", name)
		}
		f, err := n.Float64()
		if err != nil {
			return 0, false, verr(token, ReasonMalformed, "%s is not a number", name)
		}
		return int64(f), true, nil
	}
	exp, hasExp, e := num("exp")
	if e != nil {
		return e
	}
	if !hasExp && expRequired {
		return verr(token, ReasonMalformed, "exp is missing")
	}
	if hasExp && now.After(time.Unix(exp, 0).Add(leeway)) {
		return verr(token, ReasonExpired, "expired %s ago", now.Sub(time.Unix(exp, 0)).Truncate(time.Second))
	}
	nbf, hasNbf, e := num("nbf")
	if e != nil {
		return e
	}
	if hasNbf && now.Add(leeway).Before(time.Unix(nbf, 0)) {
		return verr(token, ReasonNotYetValid, "not valid before %s", time.Unix(nbf, 0).UTC().Format(time.RFC3339))
	}
	iat, hasIat, e := num("iat")
	if e != nil {
		return e
	}
	if hasIat && now.Add(leeway).Before(time.Unix(iat, 0)) {
		return verr(token, ReasonNotYetValid, "issued in the future (%s)", time.Unix(iat, 0).UTC().Format(time.RFC3339))
	}
	return nil
}
