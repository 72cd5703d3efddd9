// Package fakeauth is a test double of MOSIP's auth manager
// clientidsecretkey endpoint served over real HTTP. It checks the request
// envelope like the real controller, issues JWTs with exp and iat (the
// signature is a placeholder: clients never verify it), counts calls and
// can be told to fail, to answer slowly or to deliver the token the way the
// OpenCRVS mock does (cookie only).
package fakeauth

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mosipcrvs/bridge/pkg/mosip"
)

// Path is where the fake serves, as on a real MOSIP.
const Path = "/v1/authmanager/authenticate/clientidsecretkey"

// Failure makes the fake answer with an error instead of a token.
type Failure struct {
	// Status is the HTTP status (200 for a business refusal, as MOSIP does).
	Status int
	// Code and Message go into errors[] when Code is set.
	Code, Message string
}

// Server is a running fake auth manager.
type Server struct {
	srv   *httptest.Server
	calls atomic.Int64
	seq   atomic.Int64

	mu         sync.Mutex
	clients    map[string]string // clientId → secret
	ttl        time.Duration
	delay      time.Duration
	failure    *Failure
	cookieOnly bool
	now        func() time.Time
	last       string
}

// New starts a fake that accepts the given clientId → secret pairs and
// issues tokens valid for ttl. It stops when the test ends.
func New(t testing.TB, clients map[string]string, ttl time.Duration) *Server {
	t.Helper()
	s := &Server{clients: clients, ttl: ttl, now: time.Now}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the full clientidsecretkey URL, as MOSIP_AUTH_URL holds it.
func (s *Server) URL() *url.URL {
	u, _ := url.Parse(s.srv.URL + Path)
	return u
}

// Calls is how many requests reached the endpoint, failed ones included.
func (s *Server) Calls() int64 { return s.calls.Load() }

// LastToken is the most recently issued token.
func (s *Server) LastToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// SetTTL changes the lifetime of tokens issued from now on.
func (s *Server) SetTTL(d time.Duration) { s.mu.Lock(); s.ttl = d; s.mu.Unlock() }

// SetDelay makes every answer wait d first.
func (s *Server) SetDelay(d time.Duration) { s.mu.Lock(); s.delay = d; s.mu.Unlock() }

// SetFailure makes every answer fail (nil restores success).
func (s *Server) SetFailure(f *Failure) { s.mu.Lock(); s.failure = f; s.mu.Unlock() }

// SetCookieOnly delivers the token only in Set-Cookie, like the OpenCRVS mock.
func (s *Server) SetCookieOnly(b bool) { s.mu.Lock(); s.cookieOnly = b; s.mu.Unlock() }

// SetClock makes issued tokens' iat and exp follow now.
func (s *Server) SetClock(now func() time.Time) { s.mu.Lock(); s.now = now; s.mu.Unlock() }

// Close stops the server; later calls fail to connect.
func (s *Server) Close() { s.srv.Close() }

type request struct {
	ID          string          `json:"id"`
	Version     string          `json:"version"`
	RequestTime string          `json:"requesttime"`
	Metadata    json.RawMessage `json:"metadata"`
	Request     *struct {
		ClientID  string `json:"clientId"`
		SecretKey string `json:"secretKey"`
		AppID     string `json:"appId"`
	} `json:"request"`
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	s.mu.Lock()
	delay, failure, ttl, cookieOnly, now := s.delay, s.failure, s.ttl, s.cookieOnly, s.now
	s.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != Path {
		http.NotFound(w, r)
		return
	}
	var req request
	decodeErr := json.NewDecoder(r.Body).Decode(&req)
	// Waiting after the body is consumed lets the server notice a client
	// that gave up, so a timed-out caller does not hold the test open.
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if decodeErr != nil || req.Request == nil {
		writeErrors(w, http.StatusOK, "KER-ATH-002", "Invalid request")
		return
	}
	if r.Header.Get("Content-Type") != "application/json" || req.ID == "" || req.Version == "" ||
		string(req.Metadata) != "{}" {
		writeErrors(w, http.StatusOK, "KER-ATH-002", "Invalid envelope")
		return
	}
	if _, err := time.Parse(mosip.TimeLayout, req.RequestTime); err != nil {
		writeErrors(w, http.StatusOK, "KER-ATH-002", "Invalid requesttime")
		return
	}
	if failure != nil {
		if failure.Code != "" {
			writeErrors(w, failure.Status, failure.Code, failure.Message)
		} else {
			w.WriteHeader(failure.Status)
		}
		return
	}
	s.mu.Lock()
	secret, ok := s.clients[req.Request.ClientID]
	s.mu.Unlock()
	if !ok || secret != req.Request.SecretKey || req.Request.AppID == "" {
		writeErrors(w, http.StatusOK, "KER-ATH-401", "Authentication Failed")
		return
	}
	issued := now()
	token := JWT(req.Request.ClientID, issued, issued.Add(ttl), s.seq.Add(1))
	s.mu.Lock()
	s.last = token
	s.mu.Unlock()
	if !cookieOnly {
		w.Header().Set("Authorization", token)
	}
	// Max-Age mirrors auth.jwt.expiry, which is unrelated to the JWT's exp.
	http.SetCookie(w, &http.Cookie{Name: "Authorization", Value: token, MaxAge: 6000000, Path: "/", HttpOnly: true})
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": req.ID, "version": req.Version, "responsetime": mosip.RequestTime(issued), "metadata": nil,
		"response": map[string]string{"status": "Success", "message": "Clientid and Token combination had been validated successfully"},
		"errors":   []any{},
	})
}

func writeErrors(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": nil, "version": nil, "responsetime": mosip.RequestTime(time.Now()), "metadata": nil, "response": nil,
		"errors": []map[string]string{{"errorCode": code, "message": msg}},
	})
}

// JWT builds a Keycloak-shaped access token with the given times. exp and
// iat keep millisecond fractions so sub-second lifetimes work in tests
// (RFC 7519 NumericDate allows non-integer values).
func JWT(clientID string, iat, exp time.Time, jti int64) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]any{
		"exp": json.Number(numericDate(exp)), "iat": json.Number(numericDate(iat)),
		"iss": "https://keycloak.example/auth/realms/mosip", "azp": clientID,
		"jti": fmt.Sprintf("fake-%d", jti),
	})
	return header + "." + enc.EncodeToString(claims) + "." + enc.EncodeToString([]byte("not-a-signature"))
}

func numericDate(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}
