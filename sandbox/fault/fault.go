// Package fault injects failures into the sandbox's emulated endpoints so
// tests and demos can watch the bridge cope: added latency, an error rate
// with a chosen status and body, and "401 storms" that reject every token.
//
// Rules are set per endpoint name (the name an emulator route is registered
// under, e.g. "mosip.createPacket") through the Go API or the admin HTTP API
// (see Admin), and take effect at once.
package fault

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Rule is what happens to requests for one endpoint.
type Rule struct {
	// Latency is added before the request is handled.
	Latency Duration `json:"latency,omitempty"`
	// ErrorRate (0..1) is the share of requests answered with Status and
	// Body instead of reaching the emulator.
	ErrorRate float64 `json:"errorRate,omitempty"`
	// Status of injected errors (default 503).
	Status int `json:"status,omitempty"`
	// Body of injected errors (default a MOSIP-style envelope naming the fault).
	Body string `json:"body,omitempty"`
	// Unauthorized answers every request 401 KER-ATH-401, as MOSIP's auth
	// adapter does when tokens are rejected (a "401 storm").
	Unauthorized bool `json:"unauthorized,omitempty"`
	// Remaining, when positive, limits the rule to that many more requests
	// (then it removes itself); 0 means no limit.
	Remaining int `json:"remaining,omitempty"`
}

// Duration is a time.Duration that reads and writes as "250ms" in JSON.
type Duration time.Duration

// MarshalJSON writes the duration as text.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "250ms" or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("latency: %w", err)
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("latency must be a duration like \"250ms\"")
	}
	*d = Duration(n)
	return nil
}

// Validate reports what is wrong with a rule.
func (r Rule) Validate() error {
	switch {
	case r.ErrorRate < 0 || r.ErrorRate > 1:
		return fmt.Errorf("errorRate must be between 0 and 1, got %g", r.ErrorRate)
	case r.Status != 0 && (r.Status < 100 || r.Status > 599):
		return fmt.Errorf("status must be an HTTP status, got %d", r.Status)
	case r.Latency < 0 || time.Duration(r.Latency) > 5*time.Minute:
		return fmt.Errorf("latency must be between 0 and 5m, got %s", time.Duration(r.Latency))
	case r.Remaining < 0:
		return fmt.Errorf("remaining must not be negative, got %d", r.Remaining)
	}
	return nil
}

// Injector holds the rules and counts what it injected.
type Injector struct {
	mu       sync.RWMutex
	rules    map[string]*Rule
	injected atomic.Int64
}

// New returns an injector with no rules.
func New() *Injector { return &Injector{rules: map[string]*Rule{}} }

// Set replaces the rule of endpoint.
func (in *Injector) Set(endpoint string, r Rule) error {
	if err := r.Validate(); err != nil {
		return err
	}
	in.mu.Lock()
	in.rules[endpoint] = &r
	in.mu.Unlock()
	return nil
}

// Clear removes the rule of endpoint, or every rule when endpoint is "".
func (in *Injector) Clear(endpoint string) {
	in.mu.Lock()
	if endpoint == "" {
		in.rules = map[string]*Rule{}
	} else {
		delete(in.rules, endpoint)
	}
	in.mu.Unlock()
}

// Rules returns a copy of the current rules.
func (in *Injector) Rules() map[string]Rule {
	in.mu.RLock()
	defer in.mu.RUnlock()
	out := make(map[string]Rule, len(in.rules))
	for k, r := range in.rules {
		out[k] = *r
	}
	return out
}

// Injected counts requests that got an injected error or 401.
func (in *Injector) Injected() int64 { return in.injected.Load() }

// take returns the rule for endpoint, consuming one use of a limited rule.
func (in *Injector) take(endpoint string) (Rule, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	r, ok := in.rules[endpoint]
	if !ok {
		return Rule{}, false
	}
	out := *r
	if r.Remaining > 0 {
		r.Remaining--
		if r.Remaining == 0 {
			delete(in.rules, endpoint)
		}
	}
	return out, true
}

// Wrap returns h with the faults of endpoint applied.
func (in *Injector) Wrap(endpoint string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rule, ok := in.take(endpoint)
		if !ok {
			h.ServeHTTP(w, r)
			return
		}
		if rule.Latency > 0 {
			select {
			case <-time.After(time.Duration(rule.Latency)):
			case <-r.Context().Done():
				return
			}
		}
		switch {
		case rule.Unauthorized:
			in.injected.Add(1)
			writeJSON(w, http.StatusUnauthorized, `{"errors":[{"errorCode":"KER-ATH-401","message":"Authentication Failed"}]}`)
		case rule.ErrorRate > 0 && rand.Float64() < rule.ErrorRate:
			in.injected.Add(1)
			status, body := rule.Status, rule.Body
			if status == 0 {
				status = http.StatusServiceUnavailable
			}
			if body == "" {
				body = fmt.Sprintf(`{"errors":[{"errorCode":"SANDBOX-FAULT","message":"fault injected on %s"}]}`, endpoint)
			}
			writeJSON(w, status, body)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// Admin serves the fault rules over HTTP:
//
//	GET    {prefix}          → {"<endpoint>": Rule, ...}
//	PUT    {prefix}/{name}   ← Rule JSON (replaces the endpoint's rule)
//	DELETE {prefix}/{name}   removes it; DELETE {prefix} removes all
//
// known lists the endpoint names that exist, so a typo is a 404, not a rule
// that never fires.
func (in *Injector) Admin(mux *http.ServeMux, prefix string, known []string) {
	names := map[string]bool{}
	for _, n := range known {
		names[n] = true
	}
	mux.HandleFunc("GET "+prefix, func(w http.ResponseWriter, _ *http.Request) {
		sorted := append([]string(nil), known...)
		sort.Strings(sorted)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"rules": in.Rules(), "endpoints": sorted, "injected": in.Injected()})
	})
	mux.HandleFunc("DELETE "+prefix, func(w http.ResponseWriter, _ *http.Request) {
		in.Clear("")
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT "+prefix+"/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if !names[name] {
			writeJSON(w, http.StatusNotFound, fmt.Sprintf(`{"error":%q}`, "unknown endpoint "+name))
			return
		}
		var rule Rule
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rule); err != nil {
			writeJSON(w, http.StatusBadRequest, fmt.Sprintf(`{"error":%q}`, "invalid rule: "+err.Error()))
			return
		}
		if err := in.Set(name, rule); err != nil {
			writeJSON(w, http.StatusBadRequest, fmt.Sprintf(`{"error":%q}`, err.Error()))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE "+prefix+"/{name}", func(w http.ResponseWriter, r *http.Request) {
		in.Clear(r.PathValue("name"))
		w.WriteHeader(http.StatusNoContent)
	})
}
