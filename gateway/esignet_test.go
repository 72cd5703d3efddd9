package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The browser's eSignet call: the user's session token, CORS, code and
// state in the query, {clientId, redirectUri} in the body, the form data
// as JSON.
func TestOIDPUserInfoRoute(t *testing.T) {
	t.Parallel()
	env, f := newVerifyEnv(t)
	tok := validToken(t, testKey(t, "opencrvs"))
	body := `{"clientId":"crvs-client","redirectUri":"` + clientAppURL + `/events/1/pages/mother?state=fetch-on-mount&code=c0de"}`
	r := env.do(t, "POST", "/esignet/get-oidp-user-info?code=c0de&state=fetch-on-mount", strings.NewReader(body),
		append(bearer(tok), "Content-Type", "application/json", "Origin", clientAppURL)...)
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != clientAppURL || r.header.Get("Cache-Control") != "no-store" ||
		!strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("exchange = %d %s (%v)", r.status, r.body, r.header)
	}
	var got map[string]any
	_ = json.Unmarshal([]byte(r.body), &got)
	want := map[string]any{"sub": "psut", "name": map[string]any{"firstname": "Jane", "surname": "Doe"}, "gender": "female",
		"birthDate": "1990-01-31", "dobUnknown": nil, "verificationStatus": "authenticated", "idType": nil, "nid": nil}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("answer = %s", r.body)
	}
	_, ex := f.last()
	if ex.GetCode() != "c0de" || ex.GetState() != "fetch-on-mount" || ex.GetClientId() != "crvs-client" || !strings.Contains(ex.GetRedirectUri(), "/pages/mother") {
		t.Errorf("request = %v", ex)
	}

	tests := []struct {
		name, query, body string
		status            int
		want              []string
	}{
		{"no code, no state", "", body, 400, []string{`"field":"code"`, `"field":"state"`}},
		{"code twice", "?code=a&code=b&state=s", body, 400, []string{`"field":"code"`, "once"}},
		{"no body", "?code=a&state=s", "", 400, []string{`"field":"clientId"`, `"field":"redirectUri"`}},
		{"body fields of the wrong type", "?code=a&state=s", `{"clientId":5}`, 400, []string{`"field":"clientId"`, `"field":"redirectUri"`}},
		{"service violation renamed", "?code=a&state=s", `{"clientId":"other","redirectUri":"x"}`, 400, []string{`"field":"clientId"`}},
	}
	for _, tt := range tests {
		r := env.do(t, "POST", "/esignet/get-oidp-user-info"+tt.query, strings.NewReader(tt.body), bearer(tok)...)
		if r.status != tt.status || !contains(r.body, tt.want...) {
			t.Errorf("%s: %d %s", tt.name, r.status, r.body)
		}
	}
	f.setErr(status.Error(codes.PermissionDenied, "the eSignet userinfo could not be verified: UNKNOWN_KEY"))
	r = env.do(t, "POST", "/esignet/get-oidp-user-info?code=a&state=s", strings.NewReader(body), bearer(tok)...)
	if r.status != 403 || !strings.Contains(r.body, "UNKNOWN_KEY") {
		t.Errorf("unverifiable userinfo = %d %s", r.status, r.body)
	}
	assertUnauthorized(t, env.do(t, "POST", "/esignet/get-oidp-user-info?code=a&state=s", strings.NewReader(body)))
	pre := env.do(t, "OPTIONS", "/esignet/get-oidp-user-info?code=a&state=s", nil,
		"Origin", clientAppURL, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
	if pre.status != 204 || pre.header.Get("Access-Control-Allow-Origin") != clientAppURL {
		t.Errorf("preflight = %d %v", pre.status, pre.header)
	}
	if strings.Contains(env.logs.String(), "c0de") || strings.Contains(env.logs.String(), "psut") {
		t.Error("the code or the PSUT reached the logs")
	}
}

// GET /oauth/callback needs no token (it is a browser redirect from
// eSignet) and redirects only where the service allows.
func TestOAuthCallbackRoute(t *testing.T) {
	t.Parallel()
	env, _ := newVerifyEnv(t)
	// Look at the redirect instead of following it.
	client := env.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	get := func(path string) response {
		t.Helper()
		resp, err := client.Get(env.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
	}
	target := clientAppURL + "/events/1/pages/mother"
	r := get("/oauth/callback?code=c0de&state=" + url.QueryEscape(target) + "&iss=x")
	if r.status != 302 || r.header.Get("Location") != target+"?code=c0de" || r.header.Get("Referrer-Policy") != "no-referrer" ||
		r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("callback = %d %v", r.status, r.header)
	}
	r = get("/oauth/callback?code=c0de&state=" + url.QueryEscape("https://evil.example.net/"))
	if r.status != 400 || r.header.Get("Location") != "" || !strings.Contains(r.body, `"field":"state"`) {
		t.Errorf("foreign target = %d %s", r.status, r.body)
	}
}

func FuzzParseOIDPRequest(f *testing.F) {
	f.Add("code=a&state=b", []byte(`{"clientId":"c","redirectUri":"https://x/y"}`))
	f.Add("code=a&code=b", []byte(`{"clientId":1}`))
	f.Add("%zz", []byte("{\"clientId\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		req, v := parseOIDPRequest(q, body)
		if len(v) > 0 {
			return
		}
		if req.GetCode() == "" || req.GetState() == "" || len(q["code"]) != 1 || len(q["state"]) != 1 {
			t.Fatalf("accepted %q without exactly one code and state", query)
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("accepted body %q", body)
		}
		for _, k := range []string{"clientId", "redirectUri"} {
			if _, ok := m[k].(string); !ok {
				t.Fatalf("accepted body %q without %s", body, k)
			}
		}
	})
}
