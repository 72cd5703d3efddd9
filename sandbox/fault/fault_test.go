package fault_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mosipcrvs/bridge/sandbox/fault"
)

func setup(t *testing.T) (*fault.Injector, *httptest.Server) {
	t.Helper()
	in := fault.New()
	mux := http.NewServeMux()
	mux.Handle("GET /ok", in.Wrap("ok", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "fine") })))
	in.Admin(mux, "/admin/faults", []string{"ok"})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return in, srv
}

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		rule       string
		wantStatus []int // one per request
		wantBody   string
	}{
		{"no rule", "", []int{200, 200}, "fine"},
		{"always 503", `{"errorRate":1}`, []int{503, 503}, "SANDBOX-FAULT"},
		{"custom status twice", `{"errorRate":1,"status":500,"body":"{\"x\":1}","remaining":2}`, []int{500, 500, 200}, ""},
		{"401 storm", `{"unauthorized":true}`, []int{401, 401}, "KER-ATH-401"},
		{"latency only", `{"latency":"30ms"}`, []int{200}, "fine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, srv := setup(t)
			if tt.rule != "" {
				if st, body := do(t, http.MethodPut, srv.URL+"/admin/faults/ok", tt.rule); st != http.StatusNoContent {
					t.Fatalf("PUT rule = %d %s", st, body)
				}
			}
			for i, want := range tt.wantStatus {
				start := time.Now()
				st, body := do(t, http.MethodGet, srv.URL+"/ok", "")
				if st != want {
					t.Errorf("request %d = %d %s, want %d", i, st, body, want)
				}
				if tt.wantBody != "" && !strings.Contains(body, tt.wantBody) {
					t.Errorf("request %d body = %s, want %q in it", i, body, tt.wantBody)
				}
				if strings.Contains(tt.rule, "latency") && time.Since(start) < 30*time.Millisecond {
					t.Errorf("latency not applied: %v", time.Since(start))
				}
			}
		})
	}
}

func TestAdminRejectsBadRules(t *testing.T) {
	t.Parallel()
	in, srv := setup(t)
	for _, tc := range []struct{ path, body string }{
		{"/admin/faults/ok", `{"errorRate":2}`},
		{"/admin/faults/ok", `{"status":42,"errorRate":1}`},
		{"/admin/faults/ok", `{"latency":"soon"}`},
		{"/admin/faults/ok", `{"bogus":true}`},
		{"/admin/faults/nope", `{"errorRate":1}`},
	} {
		st, body := do(t, http.MethodPut, srv.URL+tc.path, tc.body)
		if st != http.StatusBadRequest && st != http.StatusNotFound {
			t.Errorf("PUT %s %s = %d %s, want 400/404", tc.path, tc.body, st, body)
		}
	}
	if len(in.Rules()) != 0 {
		t.Errorf("bad rules were stored: %v", in.Rules())
	}
	_ = in.Set("ok", fault.Rule{ErrorRate: 1})
	if st, body := do(t, http.MethodGet, srv.URL+"/admin/faults", ""); st != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("GET rules = %d %s", st, body)
	}
	do(t, http.MethodDelete, srv.URL+"/admin/faults", "")
	if st, _ := do(t, http.MethodGet, srv.URL+"/ok", ""); st != 200 {
		t.Errorf("after DELETE all: %d", st)
	}
}
