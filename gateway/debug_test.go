package gateway

import (
	"strings"
	"testing"
	"time"
)

func tokenWithScopes(t *testing.T, scopes ...string) string {
	c := claimsFor(time.Now().Add(time.Hour))
	c["scope"] = scopes
	return signRS256(t, testKey(t, "opencrvs"), c)
}

func TestDebugTransactions(t *testing.T) {
	t.Parallel()
	env := newEnv(t, nil)
	tests := []struct {
		name, method, path string
		scopes             []string
		status             int
		body               string
	}{
		{"list 2.0", "GET", "/debug/transactions", []string{"type=record.search&event=birth,death"}, 200,
			`[{"eventId":"e1","actionId":"a1","id":"100010000000001","registration_number":"EE008OLG4317","created_at":"2025-09-10 13:15:13","status":"processing_started"}]`},
		{"list 1.9", "GET", "/debug/transactions/", []string{"search.birth", "search.death"}, 200, `"id":"100010000000001"`},
		{"list 1.9 half the scopes", "GET", "/debug/transactions", []string{"search.birth"}, 403, forbiddenBody},
		{"list no scope", "GET", "/debug/transactions", []string{"record.read"}, 403, forbiddenBody},
		{"delete 2.0", "DELETE", "/debug/transactions/100010000000001", []string{"type=record.reject-registration"}, 200, `{"registrationNumber":"EE008OLG4317"}`},
		{"delete 1.9", "DELETE", "/debug/transactions/100010000000001", []string{"record.reject-registration"}, 200, `{"registrationNumber":"EE008OLG4317"}`},
		{"delete unknown", "DELETE", "/debug/transactions/42", []string{"record.reject-registration"}, 404, `{"error":"Transaction with id '42' not found."}`},
		{"delete without scope", "DELETE", "/debug/transactions/100010000000001", []string{"record.search"}, 403, forbiddenBody},
	}
	for _, tt := range tests {
		tok := tokenWithScopes(t, tt.scopes...)
		r := env.do(t, tt.method, tt.path, nil, bearer(tok)...)
		if r.status != tt.status || !strings.Contains(r.body, tt.body) {
			t.Errorf("%s: %d %s, want %d with %s", tt.name, r.status, r.body, tt.status, tt.body)
		}
		if strings.Contains(r.body, tok) || strings.Contains(r.body, "token") {
			t.Errorf("%s: the response carries a token: %s", tt.name, r.body)
		}
	}
	if r := env.do(t, "GET", "/debug/transactions", nil); r.status != 401 || r.body != unauthorizedBody {
		t.Errorf("without token: %d %s", r.status, r.body)
	}
}
