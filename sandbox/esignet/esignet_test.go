package esignet_test

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/mosipcrvs/bridge/sandbox/esignet"
	"github.com/mosipcrvs/bridge/sandbox/mosip"
)

// TestESignetCodeFlow is the whole browser flow as OpenCRVS and the bridge
// drive it: authorize page, identity picked, redirect with code and state,
// code exchanged with a private_key_jwt assertion, userinfo verified
// against the JWKS fetched over HTTP.
func TestESignetCodeFlow(t *testing.T) {
	t.Parallel()
	e := esSetup(t, nil)
	q := esAuthQuery("client-a", esRedirect, "fetch-on-mount", "nonce-123")

	resp, page := e.get(t, "/authorize", q)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /authorize = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{"Jenny Debra Doe", "••••••7891", `name="typed_id"`, "<code>name</code>", "<code>birthdate</code>"} {
		if !strings.Contains(page, want) {
			t.Errorf("authorize page lacks %q", want)
		}
	}

	red := e.login(t, q, esJenny)
	if red.Get("state") != "fetch-on-mount" || red.Get("code") == "" || red.Get("iss") != e.base {
		t.Fatalf("redirect query = %v", red)
	}

	form := e.tokenForm("client-a", red.Get("code"))
	st, tok := e.token(t, "/oauth/v2/token", form)
	if st != http.StatusOK {
		t.Fatalf("token = %d %v", st, tok)
	}
	if tok["token_type"] != "Bearer" || tok["expires_in"] != float64(3600) {
		t.Errorf("token response = %v", tok)
	}
	keys := esFetchJWKS(t, e)
	access := tok["access_token"].(string)
	_, idc := esVerifyJWS(t, tok["id_token"].(string), keys)
	sum := sha256.Sum256([]byte(access))
	wantAtHash := base64.RawURLEncoding.EncodeToString(sum[:16])
	psut, err := e.es.PSUT(esJenny, "client-a")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"iss": e.base, "aud": "client-a", "sub": psut, "nonce": "nonce-123",
		"at_hash": wantAtHash, "acr": "mosip:idp:acr:generated-code"} {
		if idc[k] != want {
			t.Errorf("id_token %s = %v, want %v", k, idc[k], want)
		}
	}

	resp, body := e.userinfo(t, "Bearer "+access)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/jwt" {
		t.Fatalf("userinfo = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	_, claims := esVerifyJWS(t, body, keys)
	// scope profile adds gender (MOSIP master data spelling) to the claims asked for.
	want := map[string]any{"sub": psut, "name": "Jenny Debra Doe", "birthdate": "2002/02/01", "gender": "Female"}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("userinfo %s = %v, want %v", k, claims[k], v)
		}
	}
	for _, absent := range []string{"given_name", "family_name", "middle_name", "individual_id", "email", "phone_number", "address"} {
		if _, ok := claims[absent]; ok {
			t.Errorf("userinfo has %s (%v); the Farajaland request does not release it", absent, claims[absent])
		}
	}
	if len(psut) != 36 || strings.Contains(body, esJenny) {
		t.Errorf("sub %q must be a 36-digit PSUT and the UIN must not leak", psut)
	}

	// The access token stays usable for its lifetime.
	if resp, again := e.userinfo(t, "Bearer "+access); resp.StatusCode != http.StatusOK || again != body {
		t.Errorf("second userinfo = %d, same body %v", resp.StatusCode, again == body)
	}
	for ep, min := range map[string]int64{esignet.EndpointAuthorize: 2, esignet.EndpointToken: 1, esignet.EndpointUserinfo: 2, esignet.EndpointJWKS: 1} {
		if got := e.es.Calls(ep); got < min {
			t.Errorf("Calls(%s) = %d, want ≥ %d", ep, got, min)
		}
	}
}

// TestESignetProfileScope: scope profile releases gender (MOSIP's "Male"),
// and an OpenID-only request releases nothing but sub.
func TestESignetProfileScope(t *testing.T) {
	t.Parallel()
	e := esSetup(t, nil)
	tests := []struct {
		name, scope string
		want        map[string]any
		absent      []string
	}{
		{"profile", "openid profile", map[string]any{"name": "Jenny Debra Doe", "gender": "Female", "birthdate": "2002/02/01"}, []string{"email"}},
		{"openid only", "openid", map[string]any{}, []string{"name", "gender", "birthdate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, err := e.es.IssueCodeFor(esignet.AuthRequest{ClientID: "client-a", RedirectURI: esRedirect, Scope: tt.scope}, esJenny)
			if err != nil {
				t.Fatal(err)
			}
			claims := e.claimsFor(t, "client-a", code)
			for k, v := range tt.want {
				if claims[k] != v {
					t.Errorf("%s = %v, want %v", k, claims[k], v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := claims[k]; ok {
					t.Errorf("%s released", k)
				}
			}
			if claims["sub"] == nil {
				t.Error("no sub")
			}
		})
	}
}

// TestESignetAuthorizeErrors: refused requests render a 400 page and are
// never redirected, whatever the redirect_uri.
func TestESignetAuthorizeErrors(t *testing.T) {
	t.Parallel()
	e := esSetup(t, nil)
	tests := []struct {
		name   string
		mutate func(url.Values)
		want   string
	}{
		{"unknown client", func(q url.Values) { q.Set("client_id", "nobody") }, "invalid_client_id"},
		{"missing client", func(q url.Values) { q.Del("client_id") }, "invalid_client_id"},
		{"unregistered redirect", func(q url.Values) { q.Set("redirect_uri", "https://evil.example/steal") }, "invalid_redirect_uri"},
		{"registered redirect plus query", func(q url.Values) { q.Set("redirect_uri", esRedirect+"?x=1") }, "invalid_redirect_uri"},
		{"registered redirect plus slash", func(q url.Values) { q.Set("redirect_uri", esRedirect+"/") }, "invalid_redirect_uri"},
		{"other client's redirect", func(q url.Values) {
			q.Set("client_id", "client-b")
			q.Set("redirect_uri", "https://register.example/events/x")
		}, "invalid_redirect_uri"},
		{"response_type token", func(q url.Values) { q.Set("response_type", "token") }, "invalid_response_type"},
		{"no openid scope", func(q url.Values) { q.Set("scope", "profile") }, "invalid_scope"},
		{"claims not JSON", func(q url.Values) { q.Set("claims", "{name") }, "invalid_claim"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := esAuthQuery("client-a", esRedirect, "s", "n")
			tt.mutate(q)
			resp, body := e.get(t, "/authorize", q)
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Fatalf("= %d Location %q, want 400 without redirect", resp.StatusCode, resp.Header.Get("Location"))
			}
			if !strings.Contains(body, "<code>"+tt.want+"</code>") {
				t.Errorf("page does not name %s:\n%s", tt.want, body)
			}
			if strings.Contains(body, "transaction_id") {
				t.Error("error page offers a login form")
			}
		})
	}
}

// TestESignetAuthorizeSubmit covers the page's POST: wildcard redirect
// URIs, typed VIDs, unknown and deactivated people, cancel, stale pages,
// and HTML escaping of hostile data.
func TestESignetAuthorizeSubmit(t *testing.T) {
	t.Parallel()
	e := esSetup(t, nil)
	deceased := e.reg.Create(mosip.Identity{FullName: "Late Person", DateOfBirth: "1950/01/01", Gender: "male", Deceased: true})
	e.reg.Create(mosip.Identity{FullName: `<script>alert("x")</script>`, DateOfBirth: "1990/01/01", Gender: "female"})

	page := func(t *testing.T, q url.Values) (string, string) {
		resp, body := e.get(t, "/authorize", q)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET = %d", resp.StatusCode)
		}
		return esTxnRe.FindStringSubmatch(body)[1], body
	}

	t.Run("wildcard redirect and typed VID", func(t *testing.T) {
		redirect := "https://register.example/events/declare/9ec2/pages/mother"
		q := esAuthQuery("client-a", redirect, "st", "n")
		txn, _ := page(t, q)
		resp, _ := e.postForm(t, "/authorize", url.Values{"transaction_id": {txn}, "individual_id": {esJenny}, "typed_id": {esJennyVID}})
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, redirect+"?state=st&code=") {
			t.Fatalf("= %d %q", resp.StatusCode, loc)
		}
	})
	t.Run("escaping", func(t *testing.T) {
		_, body := page(t, esAuthQuery("client-a", esRedirect, "s", "n"))
		if strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;") {
			t.Errorf("hostile name not escaped")
		}
	})
	for _, tc := range []struct{ name, id, want string }{
		{"unknown UIN", "9999999999", "IDA-MLC-018"},
		{"deactivated UIN", deceased.UIN, "IDA-MLC-003"},
		{"nothing picked", "", "invalid_identifier"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			txn, _ := page(t, esAuthQuery("client-a", esRedirect, "s", "n"))
			resp, body := e.postForm(t, "/authorize", url.Values{"transaction_id": {txn}, "individual_id": {tc.id}})
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" || !strings.Contains(body, tc.want) {
				t.Errorf("= %d %q, want the page again naming %s", resp.StatusCode, resp.Header.Get("Location"), tc.want)
			}
			// The page stays usable after a failed login.
			resp, _ = e.postForm(t, "/authorize", url.Values{"transaction_id": {txn}, "individual_id": {esJenny}})
			if resp.StatusCode != http.StatusFound {
				t.Errorf("retry = %d", resp.StatusCode)
			}
		})
	}
	t.Run("cancel", func(t *testing.T) {
		for _, state := range []string{"abc", ""} {
			q := esAuthQuery("client-a", esRedirect, state, "n")
			if state == "" {
				q.Del("state")
			}
			txn, _ := page(t, q)
			resp, _ := e.postForm(t, "/authorize", url.Values{"transaction_id": {txn}, "action": {"cancel"}})
			loc, _ := url.Parse(resp.Header.Get("Location"))
			wantState := state
			if state == "" {
				wantState = "null" // eSignet's UI sets state even when it has none
			}
			if resp.StatusCode != http.StatusFound || loc.Query().Get("error") != "consent_rejected" || loc.Query().Get("state") != wantState || loc.Query().Get("code") != "" {
				t.Errorf("cancel = %d %v", resp.StatusCode, loc)
			}
		}
	})
	t.Run("stale or used page", func(t *testing.T) {
		txn, _ := page(t, esAuthQuery("client-a", esRedirect, "s", "n"))
		if resp, _ := e.postForm(t, "/authorize", url.Values{"transaction_id": {txn}, "individual_id": {esJenny}}); resp.StatusCode != http.StatusFound {
			t.Fatalf("first = %d", resp.StatusCode)
		}
		for _, id := range []string{txn, "forged"} {
			resp, body := e.postForm(t, "/authorize", url.Values{"transaction_id": {id}, "individual_id": {esJenny}})
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "invalid_transaction") {
				t.Errorf("reused/forged page = %d", resp.StatusCode)
			}
		}
	})
}

// TestESignetRedirectMatching: registered URIs are AntPathMatcher patterns.
func TestESignetRedirectMatching(t *testing.T) {
	t.Parallel()
	esLoadKeys(t)
	tests := []struct {
		registered, requested string
		ok                    bool
	}{
		{"https://r.example/cb", "https://r.example/cb", true},
		{"https://r.example/cb", "https://r.example/cb/", false},
		{"https://r.example/cb", "https://r.example/cb?x=1", false},
		{"https://r.example/cb", "http://r.example/cb", false},
		{"https://r.example/cb", "https://r.example/cb2", false},
		{"https://r.example/c*", "https://r.example/cb2", true},
		{"https://r.example/c*", "https://r.example/cb/x", false},
		{"https://r.example/**", "https://r.example/events/a/b", true},
		{"https://r.example/events/**", "https://r.example/events", true},
		{"https://r.example/events/*/pages/*", "https://r.example/events/1/pages/mother", true},
		{"https://r.example/cb?", "https://r.example/cbx", true},
		{"https://r.example/cb", "not a url", false},
		{"https://r.example/cb", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.registered+" vs "+tt.requested, func(t *testing.T) {
			t.Parallel()
			e := esSetup(t, func(o *esignet.Options) {
				o.Clients = []esignet.Client{{ClientID: "c", PublicJWK: &esKeys.clientA.PublicKey, RedirectURIs: []string{tt.registered}}}
			})
			_, err := e.es.IssueCode("c", tt.requested, esJenny, "", "")
			var ee *esignet.Error
			switch {
			case tt.ok && err != nil:
				t.Errorf("refused: %v", err)
			case !tt.ok && (!errors.As(err, &ee) || ee.Code != "invalid_redirect_uri"):
				t.Errorf("err = %v, want invalid_redirect_uri", err)
			}
		})
	}
}

// TestESignetTokenErrors: each way a token request fails, with eSignet's
// status, error and error_description, and whether the code survives.
func TestESignetTokenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		opts   func(*esignet.Options)
		path   string
		mutate func(t *testing.T, e *esEnv, f url.Values)
		// want: status, error and error_description; status 200 means the
		// request must succeed.
		status          int
		errCode, desc   string
		codeStillUsable bool
		detail          string
	}{
		{name: "happy v2", status: 200},
		{name: "aud = issuer", status: 200, mutate: func(_ *testing.T, e *esEnv, f url.Values) {
			f.Set("client_assertion", e.assertion("client-a", e.base, nil))
		}},
		{name: "aud as array", status: 200, mutate: func(_ *testing.T, e *esEnv, f url.Values) {
			f.Set("client_assertion", e.assertion("client-a", "", func(c jwt.MapClaims) { c["aud"] = []string{"x", e.base + "/oauth/v2/token"} }))
		}},
		{name: "legacy endpoint, legacy aud", path: "/oauth/token", status: 200, mutate: func(_ *testing.T, e *esEnv, f url.Values) {
			f.Set("client_assertion", e.assertion("client-a", e.base+"/oauth/token", nil))
		}},
		{name: "legacy endpoint, v2 aud", path: "/oauth/token", status: 400, errCode: "invalid_client", desc: "invalid_client", codeStillUsable: true, detail: "aud"},
		{name: "no client_id (optional)", status: 200, mutate: func(_ *testing.T, _ *esEnv, f url.Values) { f.Del("client_id") }},
		{name: "wrong grant_type", status: 400, errCode: "unsupported_grant_type", desc: "unsupported_grant_type", codeStillUsable: true,
			mutate: func(_ *testing.T, _ *esEnv, f url.Values) { f.Set("grant_type", "client_credentials") }},
		{name: "no code", status: 400, errCode: "invalid_grant", desc: "invalid_grant", codeStillUsable: true,
			mutate: func(_ *testing.T, _ *esEnv, f url.Values) { f.Del("code") }},
		{name: "unknown code", status: 400, errCode: "invalid_grant", desc: "invalid_grant", codeStillUsable: true,
			mutate: func(_ *testing.T, _ *esEnv, f url.Values) {
				f.Set("code", "b4HYYY9j8uEpQsXolSBdgRC6zLf97H5QE1iqh6Hb3aw")
			}},
		{name: "code expired", status: 400, errCode: "invalid_grant", desc: "invalid_grant",
			mutate: func(_ *testing.T, e *esEnv, f url.Values) {
				e.clock.Advance(61 * time.Second)
				f.Set("client_assertion", e.assertion("client-a", e.base+"/oauth/v2/token", nil))
			}},
		{name: "code just alive", status: 200, mutate: func(_ *testing.T, e *esEnv, f url.Values) {
			e.clock.Advance(59 * time.Second)
			f.Set("client_assertion", e.assertion("client-a", e.base+"/oauth/v2/token", nil))
		}},
		{name: "code reused", status: 400, errCode: "invalid_grant", desc: "invalid_grant",
			mutate: func(t *testing.T, e *esEnv, f url.Values) {
				e.exchange(t, "client-a", f.Get("code"))
			}},
		{name: "redirect_uri mismatch", status: 400, errCode: "invalid_request", desc: "invalid_redirect_uri", codeStillUsable: true,
			mutate: func(_ *testing.T, _ *esEnv, f url.Values) { f.Set("redirect_uri", "https://register.example/events/x") }},
		{name: "redirect_uri with query", status: 400, errCode: "invalid_request", desc: "invalid_redirect_uri", codeStillUsable: true,
			mutate: func(_ *testing.T, _ *esEnv, f url.Values) { f.Set("redirect_uri", esRedirect+"?state=x&code=y") }},
		{name: "redirect_uri not a URL", status: 400, errCode: "invalid_request", desc: "invalid_redirect_uri", codeStillUsable: true,
			mutate: func(_ *testing.T, _ *esEnv, f url.Values) { f.Set("redirect_uri", "callback") }},
		{name: "client_id mismatch", status: 400, errCode: "invalid_request", desc: "invalid_client_id", codeStillUsable: true,
			mutate: func(_ *testing.T, _ *esEnv, f url.Values) { f.Set("client_id", "client-b") }},
		{name: "wrong assertion type", status: 400, errCode: "invalid_client", desc: "invalid_client", codeStillUsable: true,
			mutate: func(_ *testing.T, _ *esEnv, f url.Values) { f.Set("client_assertion_type", "urn:x") }},
		{name: "no assertion", status: 400, errCode: "invalid_client", desc: "invalid_client", codeStillUsable: true,
			mutate: func(_ *testing.T, _ *esEnv, f url.Values) { f.Del("client_assertion") }},
		{name: "bad signature", status: 400, errCode: "invalid_client", desc: "invalid_client", codeStillUsable: true, detail: "signature",
			mutate: func(_ *testing.T, e *esEnv, f url.Values) {
				// client-b's key signs an assertion claiming to be client-a.
				c := jwt.MapClaims{"iss": "client-a", "sub": "client-a", "aud": e.base + "/oauth/v2/token", "iat": e.clock.Now().Unix(),
					"exp": e.clock.Now().Add(time.Minute).Unix(), "jti": esJTI()}
				s, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, c).SignedString(esKeys.clientB)
				f.Set("client_assertion", s)
			}},
		{name: "HS256", status: 400, errCode: "invalid_client", desc: "invalid_client", codeStillUsable: true,
			mutate: func(_ *testing.T, e *esEnv, f url.Values) {
				c := jwt.MapClaims{"iss": "client-a", "sub": "client-a", "aud": e.base + "/oauth/v2/token", "iat": e.clock.Now().Unix(),
					"exp": e.clock.Now().Add(time.Minute).Unix(), "jti": esJTI()}
				s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte("secret"))
				f.Set("client_assertion", s)
			}},
		{name: "wrong aud", status: 400, errCode: "invalid_client", desc: "invalid_client", codeStillUsable: true, detail: "aud",
			mutate: func(_ *testing.T, e *esEnv, f url.Values) {
				f.Set("client_assertion", e.assertion("client-a", "https://elsewhere.example/token", nil))
			}},
		{name: "iss not client", status: 400, errCode: "invalid_client", desc: "invalid_client", codeStillUsable: true, detail: "iss",
			mutate: func(_ *testing.T, e *esEnv, f url.Values) {
				f.Set("client_assertion", e.assertion("client-a", e.base+"/oauth/v2/token", func(c jwt.MapClaims) { c["iss"] = "someone" }))
			}},
		{name: "sub not client", status: 400, errCode: "invalid_client", desc: "invalid_client", codeStillUsable: true, detail: "sub",
			mutate: func(_ *testing.T, e *esEnv, f url.Values) {
				f.Set("client_assertion", e.assertion("client-a", e.base+"/oauth/v2/token", func(c jwt.MapClaims) { c["sub"] = "someone" }))
			}},
		{name: "missing jti", status: 400, errCode: "invalid_client", desc: "invalid_client", codeStillUsable: true, detail: "no jti",
			mutate: func(_ *testing.T, e *esEnv, f url.Values) {
				f.Set("client_assertion", e.assertion("client-a", e.base+"/oauth/v2/token", func(c jwt.MapClaims) { delete(c, "jti") }))
			}},
		{name: "missing jti, eSignet 1.5", status: 200, opts: func(o *esignet.Options) { o.JTIOptional = true },
			mutate: func(_ *testing.T, e *esEnv, f url.Values) {
				f.Set("client_assertion", e.assertion("client-a", e.base+"/oauth/v2/token", func(c jwt.MapClaims) { delete(c, "jti") }))
			}},
		{name: "reused jti", status: 400, errCode: "invalid_client", desc: "invalid_client", codeStillUsable: true, detail: "replayed",
			mutate: func(t *testing.T, e *esEnv, f url.Values) {
				first := e.tokenForm("client-a", e.code(t, "client-a", esJenny))
				if st, out := e.token(t, "/oauth/v2/token", first); st != 200 {
					t.Fatalf("first exchange = %d %v", st, out)
				}
				f.Set("client_assertion", first.Get("client_assertion"))
			}},
		{name: "missing iat", status: 400, errCode: "invalid_client", desc: "invalid_client", codeStillUsable: true, detail: "iat",
			mutate: func(_ *testing.T, e *esEnv, f url.Values) {
				f.Set("client_assertion", e.assertion("client-a", e.base+"/oauth/v2/token", func(c jwt.MapClaims) { delete(c, "iat") }))
			}},
		{name: "missing exp", status: 400, errCode: "invalid_client", desc: "invalid_client", codeStillUsable: true, detail: "exp",
			mutate: func(_ *testing.T, e *esEnv, f url.Values) {
				f.Set("client_assertion", e.assertion("client-a", e.base+"/oauth/v2/token", func(c jwt.MapClaims) { delete(c, "exp") }))
			}},
		{name: "expired assertion", status: 400, errCode: "invalid_client", desc: "invalid_client", codeStillUsable: true, detail: "expired",
			mutate: func(_ *testing.T, e *esEnv, f url.Values) {
				f.Set("client_assertion", e.assertion("client-a", e.base+"/oauth/v2/token", func(c jwt.MapClaims) { c["exp"] = e.clock.Now().Add(-6 * time.Second).Unix() }))
			}},
		{name: "expired within leeway", status: 200,
			mutate: func(_ *testing.T, e *esEnv, f url.Values) {
				f.Set("client_assertion", e.assertion("client-a", e.base+"/oauth/v2/token", func(c jwt.MapClaims) { c["exp"] = e.clock.Now().Add(-3 * time.Second).Unix() }))
			}},
		{name: "not yet valid", status: 400, errCode: "invalid_client", desc: "invalid_client", codeStillUsable: true,
			mutate: func(_ *testing.T, e *esEnv, f url.Values) {
				f.Set("client_assertion", e.assertion("client-a", e.base+"/oauth/v2/token", func(c jwt.MapClaims) { c["nbf"] = e.clock.Now().Add(time.Minute).Unix() }))
			}},
		{name: "KYC exchange fails", status: 400, errCode: "invalid_request", desc: "kyc_exchange_failed", codeStillUsable: true,
			mutate: func(_ *testing.T, e *esEnv, _ url.Values) { e.es.FailKYCExchange(1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := esSetup(t, tt.opts)
			code := e.code(t, "client-a", esJenny)
			f := e.tokenForm("client-a", code)
			if tt.path == "" {
				tt.path = "/oauth/v2/token"
			}
			if tt.mutate != nil {
				tt.mutate(t, e, f)
			}
			resp, body := e.postForm(t, tt.path, f)
			var out map[string]any
			if err := json.Unmarshal([]byte(body), &out); err != nil {
				t.Fatalf("body not JSON: %q", body)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("= %d %v, want %d", resp.StatusCode, out, tt.status)
			}
			if tt.status == 200 {
				if out["access_token"] == nil || out["id_token"] == nil {
					t.Errorf("success without tokens: %v", out)
				}
				return
			}
			if out["error"] != tt.errCode || out["error_description"] != tt.desc {
				t.Errorf("= %v, want error %s / %s", out, tt.errCode, tt.desc)
			}
			if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("headers = %v", resp.Header)
			}
			recs := e.es.TokenRequests()
			last := recs[len(recs)-1]
			if last.Error != tt.errCode || (tt.detail != "" && !strings.Contains(last.Detail, tt.detail)) {
				t.Errorf("recorded %q / %q, want detail about %q", last.Error, last.Detail, tt.detail)
			}
			// A failed exchange does not consume the code (eSignet evicts it
			// only on success): a correct retry works.
			st, out := e.token(t, "/oauth/v2/token", e.tokenForm("client-a", code))
			if tt.codeStillUsable != (st == 200) {
				t.Errorf("retry with a good request = %d %v, want usable=%v", st, out, tt.codeStillUsable)
			}
		})
	}
}

// TestESignetTokenTransport: content type and method errors.
func TestESignetTokenTransport(t *testing.T) {
	t.Parallel()
	e := esSetup(t, nil)
	req, _ := http.NewRequest(http.MethodPost, e.base+"/oauth/v2/token", strings.NewReader(`{"grant_type":"authorization_code"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, body := e.do(t, req)
	if resp.StatusCode != http.StatusUnsupportedMediaType || resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(body, "not supported") {
		t.Errorf("JSON body = %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, body = e.get(t, "/oauth/v2/token", nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(body, "invalid_request") {
		t.Errorf("GET = %d %s", resp.StatusCode, body)
	}
	// Spring binds query parameters too: a form split between query and
	// body is accepted.
	f := e.tokenForm("client-a", e.code(t, "client-a", esJenny))
	code := f.Get("code")
	f.Del("code")
	req, _ = http.NewRequest(http.MethodPost, e.base+"/oauth/v2/token?code="+url.QueryEscape(code), strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	if resp, body := e.do(t, req); resp.StatusCode != http.StatusOK {
		t.Errorf("code in query = %d %s", resp.StatusCode, body)
	}
}

// TestESignetConcurrentExchange: one code, many racing exchanges, one wins.
func TestESignetConcurrentExchange(t *testing.T) {
	t.Parallel()
	e := esSetup(t, nil)
	code := e.code(t, "client-a", esJenny)
	const n = 8
	forms := make([]url.Values, n)
	for i := range forms {
		forms[i] = e.tokenForm("client-a", code)
	}
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, e.base+"/oauth/v2/token", strings.NewReader(forms[i].Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := e.client.Do(req)
			if err == nil {
				statuses[i] = resp.StatusCode
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		if s == http.StatusOK {
			ok++
		}
	}
	if ok != 1 {
		t.Errorf("statuses = %v, want exactly one 200", statuses)
	}
}

// TestESignetUserinfoErrors: 401 with eSignet's WWW-Authenticate (no auth
// scheme) and an empty body; the Bearer scheme itself is never checked.
func TestESignetUserinfoErrors(t *testing.T) {
	t.Parallel()
	e := esSetup(t, nil)
	access, _ := e.exchange(t, "client-a", e.code(t, "client-a", esJenny))
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"sub": "x", "exp": time.Now().Add(time.Hour).Unix()}).SignedString(esKeys.other)
	tests := []struct {
		name, authz string
		advance     time.Duration
		status      int
		wantAuth    string
	}{
		{"no header", "", 0, 401, `error="missing_header"`},
		{"garbage token", "Bearer garbage", 0, 401, `error="invalid_token"`},
		{"forged token", "Bearer " + forged, 0, 401, `error="invalid_token"`},
		{"no space", access, 0, 401, `error="unknown_error"`},
		{"other scheme still works", "Basic " + access, 0, 200, ""},
		{"valid", "Bearer " + access, 0, 200, ""},
		{"expired", "Bearer " + access, time.Hour + time.Second, 401, `error="invalid_token"`},
	}
	for _, tt := range tests { // sequential: the last case moves the clock
		t.Run(tt.name, func(t *testing.T) {
			e.clock.Advance(tt.advance)
			resp, body := e.userinfo(t, tt.authz)
			if resp.StatusCode != tt.status || resp.Header.Get("WWW-Authenticate") != tt.wantAuth {
				t.Errorf("= %d %q, want %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), tt.status, tt.wantAuth)
			}
			if tt.status == 401 && body != "" {
				t.Errorf("401 body = %q, want empty", body)
			}
		})
	}
}

// TestESignetUserinfoSigner: with IDA's KYC-exchange key the userinfo does
// not verify against eSignet's JWKS, only against the x5c certificate.
func TestESignetUserinfoSigner(t *testing.T) {
	t.Parallel()
	for _, publish := range []bool{false, true} {
		t.Run(map[bool]string{false: "not in JWKS", true: "published"}[publish], func(t *testing.T) {
			t.Parallel()
			e := esSetup(t, func(o *esignet.Options) {
				o.UserinfoSigner = esKeys.uiSigner
				o.PublishUserinfoSignerInJWKS = publish
			})
			access, idToken := e.exchange(t, "client-a", e.code(t, "client-a", esJenny))
			keys := esFetchJWKS(t, e)
			esVerifyJWS(t, idToken, keys) // tokens are still eSignet's
			_, body := e.userinfo(t, "Bearer "+access)
			header, claims, ok := esCheckJWS(t, body, e.es.PublicKey())
			if ok {
				t.Fatal("userinfo verifies with eSignet's JWKS key")
			}
			kid, _ := header["kid"].(string)
			if _, inJWKS := keys[kid]; inJWKS != publish {
				t.Errorf("signer kid in JWKS = %v, want %v", inJWKS, publish)
			}
			cert := esX5C(t, header)
			pool := x509.NewCertPool()
			pool.AddCert(esKeys.ca.Cert.Cert)
			if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
				t.Errorf("x5c does not chain to the CA: %v", err)
			}
			if _, _, ok := esCheckJWS(t, body, cert.PublicKey.(*rsa.PublicKey)); !ok {
				t.Error("userinfo does not verify with the x5c certificate")
			}
			if claims["name"] != "Jenny Debra Doe" {
				t.Errorf("claims = %v", claims)
			}
		})
	}
}

// TestESignetUserinfoJWE: a JWE client gets RSA-OAEP-256/A256GCM around
// the JWS, openable with the standard library and with go-jose.
func TestESignetUserinfoJWE(t *testing.T) {
	t.Parallel()
	e := esSetup(t, nil)
	access, _ := e.exchange(t, "client-jwe", e.code(t, "client-jwe", esJenny))
	resp, body := e.userinfo(t, "Bearer "+access)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/jwt" {
		t.Fatalf("= %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	h, plain := esDecryptJWE(t, body, esKeys.enc)
	if h["cty"] != "JWT" {
		t.Errorf("JWE cty = %v", h["cty"])
	}
	_, claims := esVerifyJWS(t, string(plain), esFetchJWKS(t, e))
	if claims["name"] != "Jenny Debra Doe" {
		t.Errorf("claims = %v", claims)
	}
	obj, err := jose.ParseEncrypted(body, []jose.KeyAlgorithm{jose.RSA_OAEP_256}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		t.Fatal(err)
	}
	viaJose, err := obj.Decrypt(esKeys.enc)
	if err != nil || string(viaJose) != string(plain) {
		t.Errorf("go-jose decrypt = %v, same plaintext %v", err, string(viaJose) == string(plain))
	}
}

// TestESignetLocales: IDA's #lang claims.
func TestESignetLocales(t *testing.T) {
	t.Parallel()
	e := esSetup(t, func(o *esignet.Options) { o.Locales = []string{"eng", "fr"} })
	bilingual := e.reg.Create(mosip.Identity{FullName: "Jane Doe", DateOfBirth: "1995/04/12", Gender: "female",
		Fields: map[string]string{
			"fullName": `[{"language":"eng","value":"Jane Doe"},{"language":"fra","value":"Jeanne Doe"}]`,
			"gender":   `[{"language":"eng","value":"Female"},{"language":"fra","value":"Femme"}]`,
		}})
	englishOnly := e.reg.Create(mosip.Identity{FullName: "Only English", DateOfBirth: "1995/04/12", Gender: "male",
		Fields: map[string]string{"fullName": `[{"language":"eng","value":"Only English"}]`}})
	tests := []struct {
		name, id, claimsLocales string
		want                    map[string]any
		absent                  []string
	}{
		{"seed identity, two locales", esJenny, "", map[string]any{"name#eng": "Jenny Debra Doe", "name#fra": "Jenny Debra Doe",
			"gender#eng": "Female", "gender#fra": "Female", "birthdate": "2002/02/01"}, []string{"name", "gender", "birthdate#eng"}},
		{"bilingual data", bilingual.UIN, "", map[string]any{"name#eng": "Jane Doe", "name#fra": "Jeanne Doe", "gender#fra": "Femme"}, []string{"name"}},
		{"claims_locales narrows", bilingual.UIN, "fr", map[string]any{"name": "Jeanne Doe", "gender": "Femme"}, []string{"name#fra", "name#eng"}},
		{"data in one language only", englishOnly.UIN, "", map[string]any{"name": "Only English"}, []string{"name#eng"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, err := e.es.IssueCodeFor(esignet.AuthRequest{ClientID: "client-a", RedirectURI: esRedirect, ClaimsLocales: tt.claimsLocales}, tt.id)
			if err != nil {
				t.Fatal(err)
			}
			claims := e.claimsFor(t, "client-a", code)
			for k, v := range tt.want {
				if claims[k] != v {
					t.Errorf("%s = %v, want %v (all: %v)", k, claims[k], v, claims)
				}
			}
			for _, k := range tt.absent {
				if _, ok := claims[k]; ok {
					t.Errorf("%s present: %v", k, claims)
				}
			}
		})
	}
}

// TestESignetAddress: the address claim from stored packet fields.
func TestESignetAddress(t *testing.T) {
	t.Parallel()
	e := esSetup(t, nil)
	id := e.reg.Create(mosip.Identity{FullName: "A B", DateOfBirth: "1990/01/01", Gender: "male", Fields: map[string]string{
		"addressLine1": `[{"language":"eng","value":"12 Main St"}]`, "city": `[{"language":"eng","value":"Ibombo"}]`, "postalCode": "10101"}})
	code, err := e.es.IssueCodeFor(esignet.AuthRequest{ClientID: "client-a", RedirectURI: esRedirect, Claims: esFarajaland}, id.UIN)
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := e.claimsFor(t, "client-a", code)["address"].(map[string]any)
	want := map[string]any{"street_address": "12 Main St", "locality": "Ibombo", "postal_code": "10101"}
	if len(addr) != len(want) {
		t.Errorf("address = %v, want %v", addr, want)
	}
	for k, v := range want {
		if addr[k] != v {
			t.Errorf("address.%s = %v, want %v", k, addr[k], v)
		}
	}
}

// TestESignetPSUT: sub is stable per person and partner, differs across
// partners, and is never the UIN.
func TestESignetPSUT(t *testing.T) {
	t.Parallel()
	e := esSetup(t, nil)
	sub := func(client, id string) string {
		code, err := e.es.IssueCode(client, esRedirect, id, "", "")
		if err != nil {
			t.Fatal(err)
		}
		_, idToken := e.exchange(t, client, code)
		claims := e.claimsFor(t, client, e.code(t, client, id))
		_, idc := esVerifyJWS(t, idToken, esFetchJWKS(t, e))
		if idc["sub"] != claims["sub"] {
			t.Errorf("id_token sub %v != userinfo sub %v", idc["sub"], claims["sub"])
		}
		return claims["sub"].(string)
	}
	a1, a2 := sub("client-a", esJenny), sub("client-a", esJenny)
	viaVID := sub("client-a", esJennyVID)
	b := sub("client-b", esJenny)
	samePartner := sub("client-a2", esJenny)
	other := sub("client-a", "1234567892")
	switch {
	case a1 != a2 || a1 != viaVID:
		t.Errorf("PSUT not stable: %s %s %s", a1, a2, viaVID)
	case a1 == b:
		t.Errorf("two partners share a PSUT %s", a1)
	case a1 != samePartner:
		t.Errorf("clients of one partner differ: %s %s", a1, samePartner)
	case a1 == other:
		t.Errorf("two people share a PSUT")
	case !regexp.MustCompile(`^[0-9]{36}$`).MatchString(a1) || a1 == esJenny:
		t.Errorf("PSUT %q is not a 36-digit token", a1)
	}
	if want := mosip.GenerateTokenID(esJenny, "partner-a", mosip.DefaultTokenIDUINSalt, mosip.DefaultTokenIDPartnerSalt, 36); a1 != want {
		t.Errorf("PSUT = %s, want MOSIP's token ID %s", a1, want)
	}
}

// TestESignetIndividualID: individual_id only when asked for in claims
// (and registered for the client), carrying the ID the person used.
func TestESignetIndividualID(t *testing.T) {
	t.Parallel()
	e := esSetup(t, nil)
	withID := `{"userinfo":{"name":{"essential":true},"individual_id":{"essential":true}}}`
	tests := []struct {
		name, client, claims, login string
		want                        any
	}{
		{"asked, UIN", "client-a", withID, esJenny, esJenny},
		{"asked, VID", "client-a", withID, esJennyVID, esJennyVID},
		{"not asked", "client-a", esFarajaland, esJenny, nil},
		{"asked but not registered", "client-narrow", withID, esJenny, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, err := e.es.IssueCodeFor(esignet.AuthRequest{ClientID: tt.client, RedirectURI: esRedirect, Scope: "openid", Claims: tt.claims}, tt.login)
			if err != nil {
				t.Fatal(err)
			}
			claims := e.claimsFor(t, tt.client, code)
			if claims["individual_id"] != tt.want {
				t.Errorf("individual_id = %v, want %v", claims["individual_id"], tt.want)
			}
			if claims["name"] != "Jenny Debra Doe" {
				t.Errorf("name = %v", claims["name"])
			}
		})
	}
}

// TestESignetDiscoveryAndJWKS: the well-known documents.
func TestESignetDiscoveryAndJWKS(t *testing.T) {
	t.Parallel()
	e := esSetup(t, nil)
	resp, body := e.get(t, "/.well-known/openid-configuration", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("= %d", resp.StatusCode)
	}
	var d map[string]any
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"issuer": e.base, "authorization_endpoint": e.base + "/authorize", "token_endpoint": e.base + "/oauth/v2/token",
		"userinfo_endpoint": e.base + "/oidc/userinfo", "jwks_uri": e.base + "/.well-known/jwks.json",
	} {
		if d[k] != want {
			t.Errorf("%s = %v, want %s", k, d[k], want)
		}
	}
	for k, want := range map[string]string{
		"token_endpoint_auth_methods_supported": "private_key_jwt", "token_endpoint_auth_signing_alg_values_supported": "RS256",
		"response_types_supported": "code", "subject_types_supported": "pairwise", "id_token_signing_alg_values_supported": "RS256",
		"userinfo_signing_alg_values_supported": "RS256", "claims_supported": "individual_id",
	} {
		list, _ := d[k].([]any)
		found := false
		for _, v := range list {
			found = found || v == want
		}
		if !found {
			t.Errorf("%s = %v, want it to list %s", k, d[k], want)
		}
	}

	resp, body = e.get(t, "/.well-known/jwks.json", nil)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal([]byte(body), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks = %d %s", resp.StatusCode, body)
	}
	k := set.Keys[0]
	if k["kid"] != e.es.KeyID() || k["use"] != "sig" || k["alg"] != "RS256" || k["kty"] != "RSA" {
		t.Errorf("jwk = %v", k)
	}
	if pub := esFetchJWKS(t, e)[e.es.KeyID()]; pub == nil || !pub.Equal(e.es.PublicKey()) {
		t.Error("JWKS key is not the signing key")
	}
	x5c := esX5C(t, map[string]any{"x5c": k["x5c"]})
	if !x5c.PublicKey.(*rsa.PublicKey).Equal(e.es.PublicKey()) {
		t.Error("x5c certificate is not for the signing key")
	}
}

// TestESignetIssueCodeErrors: the test hook reports typed errors.
func TestESignetIssueCodeErrors(t *testing.T) {
	t.Parallel()
	e := esSetup(t, nil)
	for _, tc := range []struct{ client, redirect, id, want string }{
		{"nobody", esRedirect, esJenny, "invalid_client_id"},
		{"client-a", "https://evil.example/", esJenny, "invalid_redirect_uri"},
		{"client-a", esRedirect, "0000000000", "IDA-MLC-018"},
	} {
		_, err := e.es.IssueCode(tc.client, tc.redirect, tc.id, "", "")
		var ee *esignet.Error
		if !errors.As(err, &ee) || ee.Code != tc.want {
			t.Errorf("IssueCode(%s, %s, %s) = %v, want %s", tc.client, tc.redirect, tc.id, err, tc.want)
		}
	}
	if err := e.es.AddClient(esignet.Client{ClientID: "x", PublicJWK: &esKeys.clientA.PublicKey, RedirectURIs: []string{esRedirect}, UserinfoJWE: true}); err == nil {
		t.Error("JWE client without encryption key accepted")
	}
}

// TestESignetRecords: token requests and jtis are recorded for tests.
func TestESignetRecords(t *testing.T) {
	t.Parallel()
	e := esSetup(t, nil)
	f := e.tokenForm("client-a", e.code(t, "client-a", esJenny))
	e.token(t, "/oauth/v2/token", f)
	recs := e.es.TokenRequests()
	if len(recs) != 1 || recs[0].Status != 200 || recs[0].Form.Get("code") != f.Get("code") {
		t.Fatalf("records = %+v", recs)
	}
	jti, _ := recs[0].AssertionClaims["jti"].(string)
	if jti == "" || recs[0].AssertionHeader["alg"] != "RS256" {
		t.Errorf("assertion not decoded: %v %v", recs[0].AssertionHeader, recs[0].AssertionClaims)
	}
	if used := e.es.UsedJTIs(); len(used) != 1 || used[0] != jti {
		t.Errorf("UsedJTIs = %v, want [%s]", used, jti)
	}
}
