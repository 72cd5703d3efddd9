package authmanager

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/mosipcrvs/bridge/pkg/mosip"
)

// Causes carried inside a *mosip.Error of kind KindMalformed when the
// auth manager said "success" but what it handed over is unusable.
var (
	// ErrNoToken: neither the Authorization header nor the Authorization
	// cookie held a usable token.
	ErrNoToken = errors.New("auth manager response carries no usable Authorization token")
	// ErrExpired: the token's JWT exp is already past, so caching it would
	// only produce 401s (usually a clock far ahead of Keycloak's).
	ErrExpired = errors.New("auth manager issued a token that has already expired")
)

// Expiry sources, reported in Token.ExpirySource.
const (
	ExpiryJWT     = "jwt"
	ExpiryMaxAge  = "max-age"
	ExpiryDefault = "default"
)

// maxTokenLen bounds what we accept as a token; Keycloak access tokens with
// many roles are a few KB, far below this.
const maxTokenLen = 16 << 10

// authCookie is the cookie (and header) name MOSIP uses for the token.
const authCookie = "Authorization"

// ParseResponse turns the auth manager's answer into a Token. The token is
// taken from the Authorization response header, else from the
// Authorization cookie. Its expiry is the JWT exp when the token is a JWT,
// else the cookie's Max-Age, else defaultTTL; acquired is when the request
// was sent, which keeps TTL-based expiries on the safe side.
//
// MOSIP reports failures inside HTTP 200, so the envelope is checked first;
// every error is a *mosip.Error that never contains the token.
func ParseResponse(status int, header http.Header, body []byte, acquired time.Time, defaultTTL time.Duration) (Token, error) {
	if _, err := mosip.CheckResponse(status, body); err != nil {
		return Token{}, err
	}
	value, cookie := findToken(header)
	if value == "" {
		return Token{}, &mosip.Error{Kind: mosip.KindMalformed, Status: status, Err: ErrNoToken}
	}
	tok := Token{Value: value, AcquiredAt: acquired}
	switch exp, ok := jwtExpiry(value, acquired); {
	case ok:
		tok.ExpiresAt, tok.ExpirySource = exp, ExpiryJWT
	case cookie != nil && cookie.Value == value && cookie.MaxAge > 0:
		tok.ExpiresAt, tok.ExpirySource = acquired.Add(time.Duration(cookie.MaxAge)*time.Second), ExpiryMaxAge
	default:
		tok.ExpiresAt, tok.ExpirySource = acquired.Add(defaultTTL), ExpiryDefault
	}
	if !tok.ExpiresAt.After(acquired) {
		return Token{}, &mosip.Error{Kind: mosip.KindMalformed, Status: status, Err: ErrExpired}
	}
	return tok, nil
}

// findToken returns the token and, when present, the Authorization cookie
// (whose Max-Age may date the token).
func findToken(header http.Header) (string, *http.Cookie) {
	var cookie *http.Cookie
	// http.Response.Cookies parses Set-Cookie per RFC 6265, so values that
	// contain '=' or attributes in any order are handled.
	for _, c := range (&http.Response{Header: header}).Cookies() {
		if c.Name == authCookie {
			cookie = c
		}
	}
	if v := strings.TrimSpace(header.Get(authCookie)); v != "" {
		if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
			v = strings.TrimSpace(v[7:])
		}
		if validToken(v) {
			return v, cookie
		}
	}
	if cookie != nil && validToken(cookie.Value) {
		return cookie.Value, cookie
	}
	return "", nil
}

// validToken accepts what can be sent back as `Cookie: Authorization=<v>`:
// RFC 6265 cookie-octets only, so a broken upstream cannot make us inject
// header syntax into later requests.
func validToken(v string) bool {
	if v == "" || len(v) > maxTokenLen {
		return false
	}
	for i := 0; i < len(v); i++ {
		b := v[i]
		if b <= 0x20 || b >= 0x7f || b == '"' || b == ',' || b == ';' || b == '\\' {
			return false
		}
	}
	return true
}

// jwtExpiry reads exp (and iat) from a JWS compact token without verifying
// the signature: MOSIP services verify it, we only need to know when to
// refresh. ok is false for anything that is not a well-formed JWT with a
// plausible exp.
//
// When iat is present the expiry is min(exp, acquired + (exp - iat)), so a
// local clock running behind Keycloak's does not make us use the token
// past its real end; a clock running ahead is covered by exp itself.
func jwtExpiry(token string, acquired time.Time) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp json.Number `json:"exp"`
		Iat json.Number `json:"iat"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return time.Time{}, false
	}
	exp, ok := numericDate(claims.Exp)
	if !ok {
		return time.Time{}, false
	}
	if iat, ok := numericDate(claims.Iat); ok && iat.Before(exp) {
		if byLifetime := acquired.Add(exp.Sub(iat)); byLifetime.Before(exp) {
			return byLifetime, true
		}
	}
	return exp, true
}

// numericDate parses an RFC 7519 NumericDate (seconds, possibly
// fractional) within a sane range.
func numericDate(n json.Number) (time.Time, bool) {
	if n == "" {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f <= 0 || f > 253402300799 { // year 9999
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}
