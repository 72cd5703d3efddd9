package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mosipcrvs/bridge/sandbox/esignet"
	"github.com/mosipcrvs/bridge/sandbox/pki"
)

// page is an OpenCRVS form page registered at the sandbox eSignet
// (http://localhost:3000/**).
const page = "http://localhost:3000/events/declare/9ec2a7e1/pages/mother"

// oidpRequest is the browser's call after eSignet redirected it back:
// the code and state from the URL, the page URL (with them) as redirectUri.
func (b *idBridge) oidpRequest(t *testing.T, code, state string) answer {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"clientId": b.sb.Config.ESignetClientID,
		"redirectUri": page + "?state=" + url.QueryEscape(state) + "&code=" + url.QueryEscape(code)})
	q := url.Values{"code": {code}, "state": {state}}
	return b.call(t, http.MethodPost, "/esignet/get-oidp-user-info?"+q.Encode(), b.userToken(t), string(body),
		"Origin", "http://localhost:3000")
}

// issue logs a sandbox identity in at eSignet for the form page, as the
// authorize page does, asking for what OpenCRVS forms use.
func (b *idBridge) issue(t *testing.T, uin string) string {
	t.Helper()
	code, err := b.es.IssueCodeFor(esignet.AuthRequest{ClientID: b.sb.Config.ESignetClientID, RedirectURI: page, State: "fetch-on-mount",
		Claims: `{"userinfo":{"name":{"essential":true},"birthdate":{"essential":true},"gender":{},"individual_id":{}},"id_token":{}}`}, uin)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// The browser's code exchange through the gateway against the sandbox
// eSignet: private_key_jwt as eSignet ≥ 1.6 checks it, the userinfo
// verified, and the JSON the OpenCRVS forms read.
func TestESignetUserInfoThroughTheGateway(t *testing.T) {
	t.Parallel()
	b := startIdentityBridge(t, idOptions{})
	code := b.issue(t, "1234567891")
	a := b.oidpRequest(t, code, "fetch-on-mount")
	if a.status != http.StatusOK || !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") ||
		a.header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" {
		t.Fatalf("exchange = %d %s (%v)", a.status, a.body, a.header)
	}
	psut, _ := b.es.PSUT("1234567891", b.sb.Config.ESignetClientID)
	var got map[string]any
	if err := json.Unmarshal([]byte(a.body), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"sub": psut, "name": map[string]any{"firstname": "Jenny", "middlename": "Debra", "surname": "Doe"},
		"gender": "female", "birthDate": "2002-02-01", "dobUnknown": nil, "verificationStatus": "authenticated",
		"idType": "NATIONAL_ID", "nid": "1234567891",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("answer = %s\nwant     %v", a.body, want)
	}

	// What the sandbox eSignet received and accepted.
	reqs := b.es.TokenRequests()
	last := reqs[len(reqs)-1]
	if last.Status != 200 || last.Path != "/esignet"+esignet.TokenPath || last.Form.Get("redirect_uri") != page ||
		last.AssertionHeader["alg"] != "RS256" || last.AssertionClaims["iss"] != b.sb.Config.ESignetClientID ||
		last.AssertionClaims["sub"] != b.sb.Config.ESignetClientID || last.AssertionClaims["aud"] != b.esURL+esignet.TokenPath ||
		last.AssertionClaims["jti"] == nil || last.AssertionClaims["exp"] == nil || last.AssertionClaims["iat"] == nil {
		t.Errorf("token request = %+v", last)
	}

	// A code is single-use; eSignet's refusal reaches the browser as 409.
	if a := b.oidpRequest(t, code, "fetch-on-mount"); a.status != http.StatusConflict || !strings.Contains(a.body, "invalid_grant") {
		t.Errorf("code reused = %d %s", a.status, a.body)
	}
	// Without individual_id released, idType and nid are null.
	code, err := b.es.IssueCode(b.sb.Config.ESignetClientID, page, "1234567890", "s", "")
	if err != nil {
		t.Fatal(err)
	}
	if a := b.oidpRequest(t, code, "s"); a.status != 200 || !strings.Contains(a.body, `"idType":null`) || !strings.Contains(a.body, `"nid":null`) {
		t.Errorf("without individual_id = %d %s", a.status, a.body)
	}

	// Every assertion carries its own jti (eSignet ≥ 1.6 refuses a replay).
	jtis := map[any]bool{}
	for _, r := range b.es.TokenRequests() {
		if jti := r.AssertionClaims["jti"]; jti == nil || jtis[jti] {
			t.Errorf("assertion jti %v missing or repeated", jti)
		} else {
			jtis[jti] = true
		}
	}

	logs := b.logs.String()
	for _, secret := range []string{"Jenny", psut, code, "1234567891", "2002"} {
		if strings.Contains(logs, secret) {
			t.Errorf("%q reached the logs", secret)
		}
	}
}

func TestESignetBadRequests(t *testing.T) {
	t.Parallel()
	b := startIdentityBridge(t, idOptions{})
	tok := b.userToken(t)
	tests := []struct {
		name, query, body string
		status            int
		fields            []string
	}{
		{"no code or state", "", `{"clientId":"c","redirectUri":"` + page + `"}`, 400, []string{`"code"`, `"state"`}},
		{"no body", "?code=x&state=y", "", 400, []string{`"clientId"`, `"redirectUri"`}},
		{"body not an object", "?code=x&state=y", `[]`, 400, []string{`"body"`}},
		{"wrong client", "?code=x&state=y", `{"clientId":"someone-else","redirectUri":"` + page + `"}`, 400, []string{`"clientId"`}},
		{"relative redirect", "?code=x&state=y", `{"clientId":"crvs-esignet-client","redirectUri":"/pages/mother"}`, 400, []string{`"redirectUri"`}},
		{"code twice", "?code=x&code=z&state=y", `{"clientId":"crvs-esignet-client","redirectUri":"` + page + `"}`, 400, []string{`"code"`}},
		{"code with spaces", "?code=a+b&state=y", `{"clientId":"crvs-esignet-client","redirectUri":"` + page + `"}`, 400, []string{`"code"`}},
	}
	for _, tt := range tests {
		a := b.call(t, http.MethodPost, "/esignet/get-oidp-user-info"+tt.query, tok, tt.body)
		if a.status != tt.status {
			t.Errorf("%s: %d %s", tt.name, a.status, a.body)
			continue
		}
		for _, f := range tt.fields {
			if !strings.Contains(a.body, f) {
				t.Errorf("%s: %s does not name %s", tt.name, a.body, f)
			}
		}
	}
	if a := b.call(t, http.MethodPost, "/esignet/get-oidp-user-info?code=x&state=y", "", `{}`); a.status != 401 {
		t.Errorf("without a token = %d", a.status)
	}
	a := b.call(t, http.MethodOptions, "/esignet/get-oidp-user-info?code=x&state=y", "", "",
		"Origin", "http://localhost:3000", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
	if a.status != http.StatusNoContent || a.header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" ||
		!strings.Contains(a.header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight = %d %v", a.status, a.header)
	}
}

// eSignet encrypts userinfo for clients registered with
// userinfo_response_type JWE; the bridge decrypts it with the client key.
func TestESignetJWEUserinfo(t *testing.T) {
	t.Parallel()
	b := startIdentityBridge(t, idOptions{})
	err := b.es.AddClient(esignet.Client{ClientID: b.sb.Config.ESignetClientID, PublicJWK: &b.sb.Keys.ESignetClient.PublicKey,
		RedirectURIs: b.sb.Config.ESignetRedirectURIs, RelyingPartyID: b.sb.Config.PartnerID,
		UserinfoJWE: true, ClientEncryptionKey: &b.sb.Keys.ESignetClient.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	if a := b.oidpRequest(t, b.issue(t, "1234567891"), "s"); a.status != 200 || !strings.Contains(a.body, `"firstname":"Jenny"`) {
		t.Errorf("JWE userinfo = %d %s", a.status, a.body)
	}
}

// resign is an eSignet whose userinfo a test rewrites and signs again
// with eSignet's own key, to produce what eSignet itself must never
// send: the signature is valid, the claims are not.
func resign(t *testing.T, key *rsa.PrivateKey, srv **esignet.Server, mutate func(claims jwt.MapClaims)) func(*esignet.Options) {
	return func(o *esignet.Options) {
		o.SigningKey = key
		o.Wrap = func(endpoint string, h http.Handler) http.Handler {
			if endpoint != esignet.EndpointUserinfo {
				return h
			}
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				if rec.Code != http.StatusOK {
					w.WriteHeader(rec.Code)
					return
				}
				claims := jwt.MapClaims{}
				if _, _, err := jwt.NewParser().ParseUnverified(rec.Body.String(), claims); err != nil {
					t.Errorf("sandbox userinfo: %v", err)
				}
				mutate(claims)
				tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
				delete(tok.Header, "typ")
				tok.Header["kid"] = (*srv).KeyID()
				s, err := tok.SignedString(key)
				if err != nil {
					t.Error(err)
				}
				w.Header().Set("Content-Type", "application/jwt")
				_, _ = w.Write([]byte(s))
			})
		}
	}
}

// What must be rejected is: a userinfo signed by a key that is neither in
// eSignet's JWKS nor pinned, an expired token, one for another client or
// another person, a tampered one. IDA-backed deployments pin IDA's KYC
// certificate.
func TestESignetUserinfoVerification(t *testing.T) {
	t.Parallel()
	ca, err := pki.NewCA("test IDA CA")
	if err != nil {
		t.Fatal(err)
	}
	kyc, err := ca.Issue("ida-kyc-exchange")
	if err != nil {
		t.Fatal(err)
	}
	kycPEM := filepath.Join(t.TempDir(), "ida-kyc.pem")
	if err := os.WriteFile(kycPEM, kyc.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	esKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		esignet func(srv **esignet.Server) func(*esignet.Options)
		env     map[string]string
		status  int
		want    string
	}{
		{name: "signed by IDA's KYC key, not in the JWKS", status: 403, want: "UNKNOWN_KEY",
			esignet: func(**esignet.Server) func(*esignet.Options) {
				return func(o *esignet.Options) { o.UserinfoSigner = kyc }
			}},
		{name: "IDA's KYC key pinned", status: 200, want: `"verificationStatus":"authenticated"`, env: map[string]string{"ESIGNET_USERINFO_CERT_PATH": kycPEM},
			esignet: func(**esignet.Server) func(*esignet.Options) {
				return func(o *esignet.Options) { o.UserinfoSigner = kyc }
			}},
		{name: "IDA's KYC key published in eSignet's JWKS", status: 200, want: `"firstname":"Jenny"`,
			esignet: func(**esignet.Server) func(*esignet.Options) {
				return func(o *esignet.Options) { o.UserinfoSigner = kyc; o.PublishUserinfoSignerInJWKS = true }
			}},
		{name: "id_token expired (eSignet's clock two hours behind)", status: 403, want: "EXPIRED",
			esignet: func(**esignet.Server) func(*esignet.Options) {
				return func(o *esignet.Options) { o.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) } }
			}},
		{name: "userinfo expired", status: 403, want: "EXPIRED", esignet: func(srv **esignet.Server) func(*esignet.Options) {
			return resign(t, esKey, srv, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() })
		}},
		{name: "userinfo for another client", status: 403, want: "AUDIENCE_MISMATCH", esignet: func(srv **esignet.Server) func(*esignet.Options) {
			return resign(t, esKey, srv, func(c jwt.MapClaims) { c["aud"] = "another-relying-party" })
		}},
		{name: "userinfo of another person", status: 403, want: "SUBJECT_MISMATCH", esignet: func(srv **esignet.Server) func(*esignet.Options) {
			return resign(t, esKey, srv, func(c jwt.MapClaims) { c["sub"] = "someone-else" })
		}},
		{name: "userinfo from another issuer", status: 403, want: "ISSUER_MISMATCH", esignet: func(srv **esignet.Server) func(*esignet.Options) {
			return resign(t, esKey, srv, func(c jwt.MapClaims) { c["iss"] = "https://esignet.evil.example" })
		}},
		{name: "userinfo with aud, iss and exp right", status: 200, want: `"nid":"1234567891"`, esignet: func(srv **esignet.Server) func(*esignet.Options) {
			return resign(t, esKey, srv, func(c jwt.MapClaims) {
				c["aud"] = "crvs-esignet-client"
				c["iss"] = (*srv).Issuer()
				c["exp"] = time.Now().Add(time.Hour).Unix()
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var srv *esignet.Server
			b := startIdentityBridge(t, idOptions{esignet: tt.esignet(&srv), env: tt.env})
			srv = b.es
			a := b.oidpRequest(t, b.issue(t, "1234567891"), "s")
			if a.status != tt.status || !strings.Contains(a.body, tt.want) {
				t.Errorf("%d %s, want %d with %s", a.status, a.body, tt.status, tt.want)
			}
			if tt.status != 200 && strings.Contains(a.body, "Jenny") {
				t.Errorf("a rejected userinfo's claims reached the browser: %s", a.body)
			}
		})
	}
}

// A country registers one redirect URI at eSignet, the bridge's static
// callback: eSignet sends the browser there, the callback sends it on to
// the form page the state names, and the exchange uses the registered URI.
// The whole browser flow runs against the sandbox's authorize page.
func TestOAuthCallbackFlow(t *testing.T) {
	t.Parallel()
	b := startIdentityBridge(t, idOptions{env: map[string]string{"ESIGNET_REDIRECT_URI": "{gateway}/oauth/callback"}})
	callback := b.gatewayURL + "/oauth/callback"
	if err := b.es.AddClient(esignet.Client{ClientID: b.sb.Config.ESignetClientID, PublicJWK: &b.sb.Keys.ESignetClient.PublicKey,
		RedirectURIs: []string{callback}, RelyingPartyID: b.sb.Config.PartnerID}); err != nil {
		t.Fatal(err)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	formPage := page + "?workqueue=ready"
	q := url.Values{"client_id": {b.sb.Config.ESignetClientID}, "redirect_uri": {callback}, "response_type": {"code"},
		"scope": {"openid profile"}, "state": {formPage}, "acr_values": {"mosip:idp:acr:generated-code"},
		"claims": {`{"userinfo":{"name":{"essential":true},"birthdate":{"essential":true}}}`}}
	resp, err := http.Get(b.esURL + esignet.AuthorizePath + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="transaction_id" value="([^"]+)"`).FindSubmatch(html)
	if m == nil {
		t.Fatalf("authorize page without a transaction: %d %s", resp.StatusCode, html)
	}
	resp, err = noRedirect.PostForm(b.esURL+esignet.AuthorizePath, url.Values{"transaction_id": {string(m[1])}, "individual_id": {"1234567891"}, "action": {"login"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	toCallback := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(toCallback, callback+"?") {
		t.Fatalf("eSignet redirected to %d %q", resp.StatusCode, toCallback)
	}
	resp, err = noRedirect.Get(toCallback)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(back.String(), page+"?") ||
		back.Query().Get("workqueue") != "ready" || back.Query().Get("state") != formPage || back.Query().Get("code") == "" ||
		resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("callback answered %d %q (%v)", resp.StatusCode, resp.Header.Get("Location"), resp.Header)
	}
	// The form page's HTTP field posts what it reads from its URL.
	body, _ := json.Marshal(map[string]string{"clientId": b.sb.Config.ESignetClientID, "redirectUri": back.String()})
	qs := url.Values{"code": {back.Query().Get("code")}, "state": {back.Query().Get("state")}}
	a := b.call(t, http.MethodPost, "/esignet/get-oidp-user-info?"+qs.Encode(), b.userToken(t), string(body))
	if a.status != 200 || !strings.Contains(a.body, `"firstname":"Jenny"`) {
		t.Fatalf("exchange after the callback = %d %s", a.status, a.body)
	}
	if reqs := b.es.TokenRequests(); reqs[len(reqs)-1].Form.Get("redirect_uri") != callback {
		t.Errorf("the exchange sent redirect_uri %q, want the registered callback", reqs[len(reqs)-1].Form.Get("redirect_uri"))
	}

	for _, tt := range []struct{ name, query string }{
		{"foreign page", "?code=abc&state=" + url.QueryEscape("https://evil.example.net/x")},
		{"no state", "?code=abc"},
		{"no code", "?state=" + url.QueryEscape(page)},
	} {
		if a := b.call(t, http.MethodGet, "/oauth/callback"+tt.query, "", ""); a.status != http.StatusBadRequest || a.header.Get("Location") != "" {
			t.Errorf("%s: %d %s (Location %q)", tt.name, a.status, a.body, a.header.Get("Location"))
		}
	}
	a = b.call(t, http.MethodGet, "/oauth/callback?error=consent_rejected&error_description=consent_rejected&state="+url.QueryEscape(page), "", "")
	if loc := a.header.Get("Location"); a.status != http.StatusFound || !strings.Contains(loc, "error=consent_rejected") {
		t.Errorf("cancelled login: %d %q", a.status, loc)
	}
}
