package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestAuthentication(t *testing.T) {
	env := newEnv(t, nil)
	key := testKey(t, "opencrvs")
	pubPEM := publicPEM(t, key)

	hs256, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claimsFor(time.Now().Add(time.Hour))).SignedString(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claimsFor(time.Now().Add(time.Hour))).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	noExp := claimsFor(time.Now())
	delete(noExp, "exp")
	valid := validToken(t, key)
	// A valid token with its payload swapped for one claiming another subject.
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + strings.Split(signRS256(t, testKey(t, "other"), jwt.MapClaims{"sub": "admin", "exp": time.Now().Add(time.Hour).Unix()}), ".")[1] + "." + parts[2]

	tests := []struct {
		name    string
		headers []string
		want    int
	}{
		{"valid token", bearer(valid), http.StatusOK},
		{"lower-case scheme", []string{"Authorization", "bearer " + valid}, http.StatusOK},
		{"expired", bearer(signRS256(t, key, claimsFor(time.Now().Add(-time.Minute)))), http.StatusUnauthorized},
		{"no exp", bearer(signRS256(t, key, noExp)), http.StatusUnauthorized},
		{"HS256 with the public key as secret", bearer(hs256), http.StatusUnauthorized},
		{"alg none", bearer(none), http.StatusUnauthorized},
		{"signed by another key", bearer(validToken(t, testKey(t, "other"))), http.StatusUnauthorized},
		{"tampered payload", bearer(tampered), http.StatusUnauthorized},
		{"malformed", bearer("not.a.jwt"), http.StatusUnauthorized},
		{"two segments", bearer("abc.def"), http.StatusUnauthorized},
		{"empty bearer", []string{"Authorization", "Bearer "}, http.StatusUnauthorized},
		{"missing header", nil, http.StatusUnauthorized},
		{"basic scheme", []string{"Authorization", "Basic dXNlcjpwYXNz"}, http.StatusUnauthorized},
		{"token without scheme", []string{"Authorization", valid}, http.StatusUnauthorized},
		{"two authorization headers", append(bearer(valid), bearer(valid)...), http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := env.do(t, http.MethodGet, "/v1/auth-token/clients", nil, tc.headers...)
			if tc.want == http.StatusUnauthorized {
				assertUnauthorized(t, r)
				return
			}
			if r.status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.status, tc.want, r.body)
			}
		})
	}
	if strings.Contains(env.logs.String(), valid) || strings.Contains(env.logs.String(), parts[2]) {
		t.Error("a raw token reached the logs")
	}
}

func TestClientStatesResponse(t *testing.T) {
	env := newEnv(t, nil)
	r := env.do(t, http.MethodGet, "/v1/auth-token/clients", nil, bearer(validToken(t, testKey(t, "opencrvs")))...)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if strings.Contains(r.body, mosipToken) || strings.Contains(strings.ToLower(r.body), `"token"`) {
		t.Fatalf("response carries a token: %s", r.body)
	}
	var got struct {
		Clients []map[string]any `json:"clients"`
	}
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatalf("not JSON: %v: %s", err, r.body)
	}
	if len(got.Clients) != 2 {
		t.Fatalf("got %d clients, want 2: %s", len(got.Clients), r.body)
	}
	packet, websub := got.Clients[0], got.Clients[1]
	for k, want := range map[string]any{
		"client": "packet", "mosipClientId": "mosip-crvs-client", "hasToken": true,
		"acquiredAt": "2026-03-01T10:00:00Z", "cacheHits": "41", "source": "auth_manager",
		// EmitUnpopulated: empty fields are present.
		"lastRefreshError": "",
	} {
		if packet[k] != want {
			t.Errorf("packet.%s = %#v, want %#v", k, packet[k], want)
		}
	}
	if websub["lastRefreshError"] != "KER-ATH-401: invalid credentials" || websub["hasToken"] != false {
		t.Errorf("websub state wrong: %v", websub)
	}
	if _, snake := packet["mosip_client_id"]; snake {
		t.Error("JSON uses proto names instead of camelCase")
	}
}

func TestAuthorizationNotForwarded(t *testing.T) {
	env := newEnv(t, nil)
	token := validToken(t, testKey(t, "opencrvs"))
	r := env.do(t, http.MethodGet, "/v1/auth-token/clients", nil, append(bearer(token), "Grpc-Metadata-X-Crvs-Sub", "spoofed")...)
	if r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	_, md := env.backend.auth.last()
	if len(md.Get("authorization")) > 0 || len(md.Get("x-crvs-sub")) > 0 {
		t.Fatalf("client headers reached the service as metadata: %v", md)
	}
}

func TestClaimsOnContext(t *testing.T) {
	env := newEnv(t, nil)
	var (
		got   *Claims
		found bool
	)
	if err := env.gw.mux.HandlePath(http.MethodGet, "/test/claims", func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		got, found = ClaimsFromContext(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}); err != nil {
		t.Fatal(err)
	}
	token := validToken(t, testKey(t, "opencrvs"))
	if r := env.do(t, http.MethodGet, "/test/claims", nil, bearer(token)...); r.status != http.StatusNoContent {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if !found {
		t.Fatal("no claims on the context")
	}
	if got.Subject != "68f0c2b9a1e4d7c3b2a19f01" || got.EventID != "1c4c2208-79ff-47c7-ae4d-e55cfcf4e6e4" ||
		got.ActionID != "6a1d2c4b-93f1-4c3c-8f7e-0b2f1f6b9d20" || got.UserType != "user" || len(got.Scope) != 3 {
		t.Fatalf("claims = %+v", got)
	}
	if got.Token.Value() != token {
		t.Fatal("raw token not available to handlers")
	}
	if time.Until(got.ExpiresAt) < 50*time.Minute {
		t.Errorf("ExpiresAt = %v", got.ExpiresAt)
	}
	for _, s := range []string{fmt.Sprintf("%v", got), fmt.Sprintf("%+v", *got), fmt.Sprintf("%#v", *got)} {
		if strings.Contains(s, token) {
			t.Fatalf("formatting claims reveals the token: %s", s)
		}
	}
	if b, _ := json.Marshal(got); strings.Contains(string(b), token) {
		t.Fatalf("JSON of claims reveals the token: %s", b)
	}
	if _, ok := ClaimsFromContext(t.Context()); ok {
		t.Error("claims found on a bare context")
	}
}

func TestHasScope(t *testing.T) {
	c := &Claims{Scope: []string{"record.search", "type=record.read&event=birth,death", "type=record.confirm-registration"}}
	for _, tc := range []struct {
		scope string
		want  bool
	}{
		{"record.search", true},
		{"record.read", true},
		{"record.confirm-registration", true},
		{"record.reject-registration", false},
		{"birth", false},
	} {
		if got := c.HasScope(tc.scope); got != tc.want {
			t.Errorf("HasScope(%q) = %v, want %v", tc.scope, got, tc.want)
		}
	}
	if (*Claims)(nil).HasScope("record.search") {
		t.Error("nil claims have a scope")
	}
}

func TestScopeAsString(t *testing.T) {
	env := newEnv(t, nil)
	c := claimsFor(time.Now().Add(time.Hour))
	c["scope"] = "record.search record.read"
	claims, err := env.gw.verifier.verify(t.Context(), signRS256(t, testKey(t, "opencrvs"), c))
	if err != nil {
		t.Fatal(err)
	}
	if !claims.HasScope("record.read") || len(claims.Scope) != 2 {
		t.Fatalf("scope = %v", claims.Scope)
	}
	c["scope"] = 42
	if _, err := env.gw.verifier.verify(t.Context(), signRS256(t, testKey(t, "opencrvs"), c)); err == nil {
		t.Fatal("numeric scope accepted")
	}
}

func TestKeyRotation(t *testing.T) {
	const interval = 400 * time.Millisecond
	env := newEnv(t, func(c *Config) { c.KeyRefetchInterval = interval })
	oldKey, newKey, forged := testKey(t, "opencrvs"), testKey(t, "rotated"), testKey(t, "forged")
	get := func(token string) response {
		return env.do(t, http.MethodGet, "/v1/auth-token/clients", nil, bearer(token)...)
	}
	burst := func() {
		t.Helper()
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if r := get(validToken(t, forged)); r.status != http.StatusUnauthorized {
					t.Errorf("forged token: status %d", r.status)
				}
			})
		}
		wg.Wait()
	}

	if r := get(validToken(t, oldKey)); r.status != http.StatusOK {
		t.Fatalf("old key: status %d", r.status)
	}
	if n := env.keys.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches after the first request, want 1", n)
	}

	// OpenCRVS restarts its auth service with a new key.
	env.keys.serve(publicPEM(t, newKey))
	if r := get(validToken(t, newKey)); r.status != http.StatusOK {
		t.Fatalf("rotated key: status %d: %s", r.status, r.body)
	}
	if n := env.keys.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after rotation, want 2 (one refetch)", n)
	}
	if r := get(validToken(t, oldKey)); r.status != http.StatusUnauthorized {
		t.Fatalf("old key still accepted after rotation: %d", r.status)
	}

	// Within the interval of that refetch, bad tokens cause no fetch at all.
	burst()
	if n := env.keys.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after a burst inside the interval, want still 2", n)
	}
	// After the interval, a burst shares one refetch.
	time.Sleep(interval + 50*time.Millisecond)
	burst()
	if n := env.keys.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches after a burst past the interval, want 3", n)
	}
	if r := get(validToken(t, newKey)); r.status != http.StatusOK {
		t.Fatalf("rotated key after bursts: status %d", r.status)
	}
}

func TestWrongAlgorithmCausesNoRefetch(t *testing.T) {
	env := newEnv(t, nil)
	if r := env.do(t, http.MethodGet, "/v1/auth-token/clients", nil, bearer(validToken(t, testKey(t, "opencrvs")))...); r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	hs256, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claimsFor(time.Now().Add(time.Hour))).SignedString([]byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	assertUnauthorized(t, env.do(t, http.MethodGet, "/v1/auth-token/clients", nil, bearer(hs256)...))
	if n := env.keys.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1: a non-RS256 token says nothing about key rotation", n)
	}
}

func TestKeyServerUnavailable(t *testing.T) {
	t.Run("failing", func(t *testing.T) {
		env := newEnv(t, nil)
		env.keys.failing.Store(true)
		assertUnauthorized(t, env.do(t, http.MethodGet, "/v1/auth-token/clients", nil, bearer(validToken(t, testKey(t, "opencrvs")))...))
		if logs := env.logs.String(); !contains(logs, "fetching the OpenCRVS public key failed", `"level":"ERROR"`) {
			t.Fatalf("no error log: %s", logs)
		}
		// Recovery: once the key server answers again (after the retry
		// backoff) the same token is accepted.
		env.keys.failing.Store(false)
		env.gw.keys.mu.Lock()
		env.gw.keys.lastFailure = time.Time{}
		env.gw.keys.mu.Unlock()
		if r := env.do(t, http.MethodGet, "/v1/auth-token/clients", nil, bearer(validToken(t, testKey(t, "opencrvs")))...); r.status != http.StatusOK {
			t.Fatalf("after recovery: status %d", r.status)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		env := newEnv(t, func(c *Config) { c.CRVS.PublicKeyURL = mustURL(t, "http://"+closedAddr(t)+"/.well-known") })
		assertUnauthorized(t, env.do(t, http.MethodGet, "/v1/auth-token/clients", nil, bearer(validToken(t, testKey(t, "opencrvs")))...))
		// Within the backoff the next request fails at once, without a fetch.
		assertUnauthorized(t, env.do(t, http.MethodGet, "/v1/auth-token/clients", nil, bearer(validToken(t, testKey(t, "opencrvs")))...))
		if logs := env.logs.String(); !contains(logs, "fetching the OpenCRVS public key failed", "OpenCRVS public key unavailable") {
			t.Fatalf("no error log: %s", logs)
		}
	})
	t.Run("not a key", func(t *testing.T) {
		env := newEnv(t, nil)
		env.keys.serve([]byte("<html>auth</html>"))
		assertUnauthorized(t, env.do(t, http.MethodGet, "/v1/auth-token/clients", nil, bearer(validToken(t, testKey(t, "opencrvs")))...))
	})
}
