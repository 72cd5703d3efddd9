package authmanager

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mosipcrvs/bridge/pkg/mosip"
	"github.com/mosipcrvs/bridge/services/auth-token/internal/fakeauth"
)

const okBody = `{"id":"mosip.io.clientId.pwd","version":"1.0","responsetime":"2025-01-10T06:11:44.123Z","metadata":null,` +
	`"response":{"status":"Success","message":"Clientid and Token combination had been validated successfully"},"errors":[]}`

func jwtWithClaims(claims string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." + enc.EncodeToString([]byte(claims)) + ".c2ln"
}

func TestParseResponse(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 10, 6, 0, 0, 0, time.UTC)
	jwt := fakeauth.JWT("c", now, now.Add(5*time.Minute), 1)
	jwtOtherValue := fakeauth.JWT("c", now, now.Add(7*time.Minute), 2)
	const ttl = 30 * time.Minute
	tests := []struct {
		name       string
		status     int
		header     http.Header
		body       string
		wantToken  string
		wantExpiry time.Time
		wantSource string
		wantKind   mosip.Kind
		wantCode   string
		wantIs     error
	}{
		{
			name: "JWT in header", status: 200, body: okBody,
			header:    http.Header{"Authorization": {jwt}},
			wantToken: jwt, wantExpiry: now.Add(5 * time.Minute), wantSource: ExpiryJWT,
		},
		{
			name: "header wins over cookie", status: 200, body: okBody,
			header:    http.Header{"Authorization": {jwt}, "Set-Cookie": {"Authorization=" + jwtOtherValue + "; Max-Age=60; Path=/"}},
			wantToken: jwt, wantExpiry: now.Add(5 * time.Minute), wantSource: ExpiryJWT,
		},
		{
			name: "Bearer prefix tolerated", status: 200, body: okBody,
			header:    http.Header{"Authorization": {"Bearer " + jwt}},
			wantToken: jwt, wantExpiry: now.Add(5 * time.Minute), wantSource: ExpiryJWT,
		},
		{
			name: "JWT in cookie only (OpenCRVS mock)", status: 200, body: okBody,
			header:    http.Header{"Set-Cookie": {"Authorization=" + jwt + "; Max-Age=6000000; Path=/; HttpOnly"}},
			wantToken: jwt, wantExpiry: now.Add(5 * time.Minute), wantSource: ExpiryJWT,
		},
		{
			name: "cookie among others", status: 200, body: okBody,
			header:    http.Header{"Set-Cookie": {"JSESSIONID=abc; Path=/", "Authorization=" + jwt + "; Path=/"}},
			wantToken: jwt, wantExpiry: now.Add(5 * time.Minute), wantSource: ExpiryJWT,
		},
		{
			name: "opaque token with cookie Max-Age", status: 200, body: okBody,
			header:    http.Header{"Set-Cookie": {"Authorization=opaque==value; Max-Age=600; Path=/"}},
			wantToken: "opaque==value", wantExpiry: now.Add(10 * time.Minute), wantSource: ExpiryMaxAge,
		},
		{
			name: "opaque header token dated by matching cookie", status: 200, body: okBody,
			header:    http.Header{"Authorization": {"opaque"}, "Set-Cookie": {"Authorization=opaque; Max-Age=120"}},
			wantToken: "opaque", wantExpiry: now.Add(2 * time.Minute), wantSource: ExpiryMaxAge,
		},
		{
			name: "opaque header token, different cookie: default TTL", status: 200, body: okBody,
			header:    http.Header{"Authorization": {"opaque"}, "Set-Cookie": {"Authorization=other; Max-Age=120"}},
			wantToken: "opaque", wantExpiry: now.Add(ttl), wantSource: ExpiryDefault,
		},
		{
			name: "opaque token without Max-Age: default TTL", status: 200, body: okBody,
			header:    http.Header{"Authorization": {"opaque"}},
			wantToken: "opaque", wantExpiry: now.Add(ttl), wantSource: ExpiryDefault,
		},
		{
			name: "malformed JWT payload falls back", status: 200, body: okBody,
			header:    http.Header{"Authorization": {"aaa.!!!.ccc"}},
			wantToken: "aaa.!!!.ccc", wantExpiry: now.Add(ttl), wantSource: ExpiryDefault,
		},
		{
			name: "JWT without exp falls back", status: 200, body: okBody,
			header:    http.Header{"Authorization": {jwtWithClaims(`{"sub":"x"}`)}},
			wantToken: jwtWithClaims(`{"sub":"x"}`), wantExpiry: now.Add(ttl), wantSource: ExpiryDefault,
		},
		{
			name: "JWT with string exp falls back", status: 200, body: okBody,
			header:    http.Header{"Authorization": {jwtWithClaims(`{"exp":"soon"}`)}},
			wantToken: jwtWithClaims(`{"exp":"soon"}`), wantExpiry: now.Add(ttl), wantSource: ExpiryDefault,
		},
		{
			name: "fractional exp", status: 200, body: okBody,
			header:    http.Header{"Authorization": {jwtWithClaims(`{"exp":1736488801.5}`)}},
			wantToken: jwtWithClaims(`{"exp":1736488801.5}`), wantExpiry: time.Unix(1736488801, 5e8).UTC(), wantSource: ExpiryJWT,
		},
		{
			// Keycloak's clock is 2 minutes ahead: iat is 2 minutes in our future,
			// so exp alone would overstate what is left by 2 minutes.
			name: "clock behind Keycloak uses lifetime", status: 200, body: okBody,
			header:     http.Header{"Authorization": {fakeauth.JWT("c", now.Add(2*time.Minute), now.Add(7*time.Minute), 3)}},
			wantToken:  fakeauth.JWT("c", now.Add(2*time.Minute), now.Add(7*time.Minute), 3),
			wantExpiry: now.Add(5 * time.Minute), wantSource: ExpiryJWT,
		},
		{
			name: "already expired JWT", status: 200, body: okBody,
			header:   http.Header{"Authorization": {fakeauth.JWT("c", now.Add(-time.Hour), now.Add(-time.Minute), 4)}},
			wantKind: mosip.KindMalformed, wantIs: ErrExpired,
		},
		{
			name: "errors inside HTTP 200 beat a token", status: 200,
			header:   http.Header{"Authorization": {jwt}},
			body:     `{"response":null,"errors":[{"errorCode":"KER-ATH-026","message":"Realm not found:: nope"}]}`,
			wantKind: mosip.KindRejected, wantCode: "KER-ATH-026",
		},
		{
			name: "response null", status: 200, header: http.Header{"Authorization": {jwt}},
			body:     `{"response":null,"errors":[]}`,
			wantKind: mosip.KindMalformed, wantIs: mosip.ErrNoResponse,
		},
		{
			name: "no token anywhere", status: 200, header: http.Header{}, body: okBody,
			wantKind: mosip.KindMalformed, wantIs: ErrNoToken,
		},
		{
			name: "deleted cookie is no token", status: 200, body: okBody,
			header:   http.Header{"Set-Cookie": {"Authorization=; Max-Age=0"}},
			wantKind: mosip.KindMalformed, wantIs: ErrNoToken,
		},
		{
			name: "token with header syntax rejected", status: 200, body: okBody,
			header:   http.Header{"Authorization": {"abc; Path=/"}},
			wantKind: mosip.KindMalformed, wantIs: ErrNoToken,
		},
		{
			name: "5xx", status: 503, header: http.Header{}, body: ``,
			wantKind: mosip.KindHTTP,
		},
		{
			name: "500 with errorCode 500 (wrong secret upstream)", status: 500, header: http.Header{},
			body:     `{"errors":[{"errorCode":"500","message":"401 Unauthorized: [no body]"}]}`,
			wantKind: mosip.KindHTTP, wantCode: "500",
		},
		{
			name: "401", status: 401, header: http.Header{},
			body:     `{"errors":[{"errorCode":"KER-ATH-401","message":"Authentication Failed"}]}`,
			wantKind: mosip.KindHTTP, wantCode: "KER-ATH-401",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok, err := ParseResponse(tt.status, tt.header, []byte(tt.body), now, ttl)
			if tt.wantKind == 0 {
				if err != nil {
					t.Fatalf("ParseResponse error = %v", err)
				}
				if tok.Value != tt.wantToken || !tok.ExpiresAt.Equal(tt.wantExpiry) || tok.ExpirySource != tt.wantSource || !tok.AcquiredAt.Equal(now) {
					t.Errorf("ParseResponse = {%q exp %v src %s acq %v}, want {%q exp %v src %s acq %v}",
						tok.Value, tok.ExpiresAt, tok.ExpirySource, tok.AcquiredAt, tt.wantToken, tt.wantExpiry, tt.wantSource, now)
				}
				return
			}
			var me *mosip.Error
			if !errors.As(err, &me) {
				t.Fatalf("ParseResponse error = %v (%T), want *mosip.Error", err, err)
			}
			if me.Kind != tt.wantKind || me.Code != tt.wantCode {
				t.Errorf("error = {kind %v code %q}, want {kind %v code %q}", me.Kind, me.Code, tt.wantKind, tt.wantCode)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.wantIs)
			}
			if strings.Contains(err.Error(), jwt) {
				t.Errorf("error %q contains the token", err)
			}
		})
	}
}

func FuzzParseAuthResponse(f *testing.F) {
	now := time.Date(2025, 1, 10, 6, 0, 0, 0, time.UTC)
	jwt := fakeauth.JWT("c", now, now.Add(time.Hour), 1)
	f.Add(200, jwt, "", okBody)
	f.Add(200, "", "Authorization="+jwt+"; Max-Age=60", okBody)
	f.Add(200, "opaque", "Authorization=opaque; Max-Age=-1", okBody)
	f.Add(200, "a.b.c", "Authorization", `{"response":{}}`)
	f.Add(200, jwtWithClaims(`{"exp":1e308,"iat":-1}`), "", okBody)
	f.Add(200, jwtWithClaims(`{"exp":1736488801.5,"iat":1736488800}`), "", okBody)
	f.Add(401, "", "", `{"errors":[{"errorCode":"KER-ATH-401","message":"x"}]}`)
	f.Add(200, "", "", `{"errors":[{}]}`)
	f.Fuzz(func(t *testing.T, status int, authHeader, setCookie, body string) {
		h := http.Header{}
		if authHeader != "" {
			h.Set("Authorization", authHeader)
		}
		if setCookie != "" {
			h.Add("Set-Cookie", setCookie)
		}
		tok, err := ParseResponse(status, h, []byte(body), now, time.Minute)
		if err != nil {
			var me *mosip.Error
			if !errors.As(err, &me) {
				t.Fatalf("error %T is not *mosip.Error", err)
			}
			if tok != (Token{}) {
				t.Fatalf("token %+v returned with error", tok)
			}
			return
		}
		if !validToken(tok.Value) {
			t.Fatalf("accepted invalid token %q", tok.Value)
		}
		if !tok.ExpiresAt.After(tok.AcquiredAt) {
			t.Fatalf("expiry %v not after acquisition %v", tok.ExpiresAt, tok.AcquiredAt)
		}
		if status < 200 || status > 299 {
			t.Fatalf("status %d accepted", status)
		}
	})
}
