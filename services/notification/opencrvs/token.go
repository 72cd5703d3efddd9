package opencrvs

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

const (
	procToken = "auth.token"
	// defaultSystemTokenTTL is OpenCRVS's CONFIG_SYSTEM_TOKEN_EXPIRY_SECONDS
	// default, assumed when a token tells nothing about its expiry.
	defaultSystemTokenTTL = 600 * time.Second
	// maxRefreshMargin is how long before expiry a token is replaced at
	// most; short tokens are replaced after four fifths of their life.
	maxRefreshMargin = 60 * time.Second
)

// systemTokens fetches OpenCRVS 2.1 system-client tokens with
// client_credentials and keeps one until shortly before it expires.
// Concurrent callers share one fetch.
type systemTokens struct {
	url, clientID, clientSecret string
	http                        *http.Client
	timeout                     time.Duration
	now                         func() time.Time
	observe                     func(ctx context.Context, result string)

	mu        sync.Mutex
	token     string
	refreshAt time.Time
	flight    *tokenFlight
}

// tokenFlight is a fetch in progress; done closes when token/err are set.
type tokenFlight struct {
	done  chan struct{}
	token string
	err   error
}

// get returns a valid token, fetching one when none is cached.
func (s *systemTokens) get(ctx context.Context) (string, error) {
	s.mu.Lock()
	if s.token != "" && s.now().Before(s.refreshAt) {
		tok := s.token
		s.mu.Unlock()
		return tok, nil
	}
	f := s.flight
	if f == nil {
		f = &tokenFlight{done: make(chan struct{})}
		s.flight = f
		// Detached from the first caller's cancellation: the others wait
		// for the same fetch.
		go s.run(context.WithoutCancel(ctx), f)
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		return f.token, f.err
	case <-ctx.Done():
		return "", transportError(ctx, procToken, ctx.Err())
	}
}

func (s *systemTokens) run(ctx context.Context, f *tokenFlight) {
	tok, refreshAt, err := s.fetch(ctx)
	result := "ok"
	if err != nil {
		result = err.Code
	}
	s.observe(ctx, result)
	s.mu.Lock()
	if err == nil {
		s.token, s.refreshAt = tok, refreshAt
	}
	s.flight = nil
	s.mu.Unlock()
	f.token = tok
	if err != nil {
		f.err = err
	}
	close(f.done)
}

// invalidate forgets token if it is still the cached one (OpenCRVS
// answered 401 to it: revoked, or signed with a rotated key).
func (s *systemTokens) invalidate(token string) {
	s.mu.Lock()
	if s.token == token {
		s.token = ""
	}
	s.mu.Unlock()
}

// tokenAnswer is the auth service's /token answer, success or OAuth error.
type tokenAnswer struct {
	AccessToken      string          `json:"access_token"`
	TokenType        string          `json:"token_type"`
	ExpiresIn        json.Number     `json:"expires_in"`
	Error            string          `json:"error"`
	ErrorDescription json.RawMessage `json:"error_description"`
}

// fetch is POST {auth}/token with client_id, client_secret and
// grant_type=client_credentials in a form body.
func (s *systemTokens) fetch(ctx context.Context) (string, time.Time, *Error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	form := url.Values{"client_id": {s.clientID}, "client_secret": {s.clientSecret}, "grant_type": {"client_credentials"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, strings.NewReader(form.Encode()))
	if err != nil {
		return "", time.Time{}, &Error{Procedure: procToken, Code: CodeInvalidArgument, Reason: "cannot build the request"}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	sent := s.now()
	resp, err := s.http.Do(req)
	if err != nil {
		return "", time.Time{}, transportError(context.Background(), procToken, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", time.Time{}, transportError(context.Background(), procToken, err)
	}
	var ans tokenAnswer
	jsonErr := json.Unmarshal(raw, &ans)
	if resp.StatusCode != http.StatusOK {
		e := &Error{Procedure: procToken, Status: resp.StatusCode, Code: codeForStatus(resp.StatusCode)}
		if jsonErr == nil && ans.Error != "" {
			e.Code = sanitize(ans.Error)
			var desc string
			if json.Unmarshal(ans.ErrorDescription, &desc) == nil {
				e.Reason = sanitize(desc, s.clientSecret)
			}
		}
		e.Retryable = resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
		return "", time.Time{}, e
	}
	if jsonErr != nil || ans.AccessToken == "" {
		return "", time.Time{}, &Error{Procedure: procToken, Status: resp.StatusCode, Code: CodeMalformed, Retryable: true,
			Reason: "answer has no access_token"}
	}
	return ans.AccessToken, refreshTime(ans.AccessToken, ans.ExpiresIn, sent), nil
}

// refreshTime is when to stop using a token fetched at sent: before the
// JWT's exp, else before expires_in, else before OpenCRVS's default system
// token lifetime.
func refreshTime(token string, expiresIn json.Number, sent time.Time) time.Time {
	exp := sent.Add(defaultSystemTokenTTL)
	if t, ok := jwtExpiry(token); ok {
		exp = t
	} else if n, err := expiresIn.Int64(); err == nil && n > 0 {
		exp = sent.Add(time.Duration(n) * time.Second)
	}
	margin := min(maxRefreshMargin, exp.Sub(sent)/5)
	return exp.Add(-max(margin, 0))
}

// jwtExpiry reads exp from a JWT's payload without verifying it: OpenCRVS
// verifies, the client only needs to know when to fetch a new one.
func jwtExpiry(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return time.Time{}, false
	}
	f, err := claims.Exp.Float64()
	if err != nil || f <= 0 || f > 1e11 {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}
