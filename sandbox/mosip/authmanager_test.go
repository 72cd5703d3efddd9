package mosip

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func amServer(t *testing.T) (*AuthManager, *httptest.Server) {
	t.Helper()
	am, err := NewAuthManager(Client{ClientID: "mosip-crvs1-client", Secret: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(AuthPath, am)
	mux.HandleFunc("/protected", func(w http.ResponseWriter, r *http.Request) {
		if c, ok := am.Authenticate(w, r); ok {
			_, _ = io.WriteString(w, c.ClientID)
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return am, srv
}

func amBody(clientID, secret, appID string) string {
	return `{"id":"mosip.io.clientId.pwd","version":"1.0","requesttime":"2026-01-01T00:00:00.000Z","metadata":{},` +
		`"request":{"clientId":"` + clientID + `","secretKey":"` + secret + `","appId":"` + appID + `"}}`
}

func TestAuthManagerIssuesTokensTheMOSIPWay(t *testing.T) {
	t.Parallel()
	am, srv := amServer(t)
	am.TokenLifetime = 10 * time.Minute
	resp, err := http.Post(srv.URL+AuthPath, "application/json", strings.NewReader(amBody("mosip-crvs1-client", "s3cret", "regproc")))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	header := resp.Header.Get("Authorization")
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "Authorization" {
			cookie = c
		}
	}
	if resp.StatusCode != 200 || header == "" || cookie == nil || cookie.Value != header || cookie.MaxAge != 6000000 {
		t.Fatalf("status %d, header %q, cookie %+v", resp.StatusCode, header, cookie)
	}
	if strings.Contains(string(body), header) {
		t.Error("the token is in the body; MOSIP only sends it in the header and cookie")
	}
	var env struct {
		Response struct{ Status string } `json:"response"`
		Errors   []any                   `json:"errors"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Response.Status != "Success" || len(env.Errors) != 0 {
		t.Errorf("body = %s", body)
	}
	parts := strings.Split(header, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Exp int64  `json:"exp"`
		Azp string `json:"azp"`
	}
	_ = json.Unmarshal(payload, &claims)
	if d := time.Until(time.Unix(claims.Exp, 0)); d < 9*time.Minute || d > 10*time.Minute || claims.Azp != "mosip-crvs1-client" {
		t.Errorf("claims = %+v (exp in %v)", claims, d)
	}
	if am.Calls() != 1 {
		t.Errorf("Calls() = %d", am.Calls())
	}

	// The token opens MOSIP services only as a cookie.
	for _, tc := range []struct {
		name, header, value string
		want                int
	}{
		{"cookie", "Cookie", "Authorization=" + header, 200},
		{"bearer header", "Authorization", "Bearer " + header, 401},
		{"no token", "", "", 401},
		{"garbage cookie", "Cookie", "Authorization=abc", 401},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/protected", nil)
		if tc.header != "" {
			req.Header.Set(tc.header, tc.value)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || (tc.want == 401 && !strings.Contains(string(b), "KER-ATH-401")) {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, b, tc.want)
		}
	}
}

func TestAuthManagerErrorsInsideHTTP200(t *testing.T) {
	t.Parallel()
	am, srv := amServer(t)
	tests := []struct {
		name, body string
		status     int
		code       string
	}{
		{"wrong secret", amBody("mosip-crvs1-client", "nope", "regproc"), 200, "KER-ATH-401"},
		{"unknown client", amBody("someone", "s3cret", "regproc"), 200, "KER-ATH-401"},
		{"unknown app id", amBody("mosip-crvs1-client", "s3cret", "nowhere"), 200, "KER-ATH-026"},
		{"missing fields", amBody("", "", ""), 200, "KER-ATH-003"},
		{"malformed JSON", `{"request":`, 200, "KER-ATH-003"},
		{"no request", `{"id":"x"}`, 200, "KER-ATH-003"},
	}
	for _, tt := range tests {
		resp, err := http.Post(srv.URL+AuthPath, "application/json", strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.Contains(string(b), `"errorCode":"`+tt.code+`"`) || resp.Header.Get("Authorization") != "" {
			t.Errorf("%s: %d %s, want %d with %s and no token", tt.name, resp.StatusCode, b, tt.status, tt.code)
		}
	}
	am.FailNext(1)
	resp, _ := http.Post(srv.URL+AuthPath, "application/json", strings.NewReader(amBody("mosip-crvs1-client", "s3cret", "regproc")))
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Errorf("FailNext: %d, want 500", resp.StatusCode)
	}
	resp, _ = http.Get(srv.URL + AuthPath)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET = %d, want 405", resp.StatusCode)
	}
}

func TestAuthManagerExpiredTokenRejected(t *testing.T) {
	t.Parallel()
	am, _ := amServer(t)
	am.TokenLifetime = -time.Minute
	tok, err := am.issue(Client{ClientID: "mosip-crvs1-client"})
	if err != nil {
		t.Fatal(err)
	}
	if am.ValidToken(tok) {
		t.Error("an expired token was accepted")
	}
}

// Verify remembers tokens it checked, but a remembered token still expires
// at its exp, and a forged or foreign one is never accepted.
func TestAuthManagerVerifyRemembersTokens(t *testing.T) {
	t.Parallel()
	am, err := NewAuthManager(Client{ClientID: "mosip-crvs1-client", Secret: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	am.now = func() time.Time { return now }
	sign := func(claims jwt.MapClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
		s, err := tok.SignedString(am.key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	exp := now.Add(2 * time.Second).Unix()
	roles := map[string]any{"roles": []string{"ONLINE_REGISTRATION_CLIENT"}}
	tok := sign(jwt.MapClaims{"azp": "mosip-crvs1-client", "exp": exp, "realm_access": roles})
	for i := range 2 {
		c, ok := am.Verify(tok)
		if !ok || c.ClientID != "mosip-crvs1-client" || !c.HasRole("ONLINE_REGISTRATION_CLIENT") {
			t.Fatalf("Verify #%d = %+v, %v, want the caller", i+1, c, ok)
		}
	}
	if n := len(am.verified); n != 1 {
		t.Errorf("%d tokens remembered, want 1", n)
	}
	// Callers share the remembered roles: appending must copy them.
	if c, _ := am.Verify(tok); cap(c.Roles) != len(c.Roles) {
		t.Errorf("roles have spare capacity (%d > %d): an append would write into the remembered caller's", cap(c.Roles), len(c.Roles))
	}

	now = time.Unix(exp, 0)
	if _, ok := am.Verify(tok); ok {
		t.Error("a remembered token was accepted at its exp")
	}

	now = time.Now()
	notYet := sign(jwt.MapClaims{"azp": "x", "exp": now.Add(time.Hour).Unix(), "nbf": now.Add(time.Minute).Unix()})
	other, _ := NewAuthManager()
	foreign := func() string {
		s, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"azp": "x", "exp": now.Add(time.Hour).Unix()}).SignedString(other.key)
		return s
	}()
	for name, tok := range map[string]string{"nbf in the future": notYet, "another key": foreign, "garbage": "a.b.c"} {
		for range 2 {
			if _, ok := am.Verify(tok); ok {
				t.Errorf("%s: accepted", name)
			}
		}
	}
}

func TestAuthManagerRememberIsBounded(t *testing.T) {
	t.Parallel()
	am, err := NewAuthManager()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	am.now = func() time.Time { return now }
	for i := range authMaxVerified {
		am.remember(fmt.Sprint("expired", i), authVerified{exp: now.Add(-time.Second)})
	}
	am.remember("live", authVerified{exp: now.Add(time.Hour)})
	if _, ok := am.verified["live"]; !ok || len(am.verified) != 1 {
		t.Errorf("after a full memo of expired tokens: %d remembered (live kept: %v), want only the new one", len(am.verified), ok)
	}
	for i := range 2 * authMaxVerified {
		am.remember(fmt.Sprint("t", i), authVerified{exp: now.Add(time.Hour)})
		if len(am.verified) > authMaxVerified {
			t.Fatalf("%d tokens remembered, bound %d", len(am.verified), authMaxVerified)
		}
	}
}
