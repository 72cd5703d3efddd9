package esignet

// The token endpoint, as eSignet's OAuthController / OAuthServiceImpl /
// TokenServiceImpl behave: form binding (query parameters count too, as
// with Spring's @ModelAttribute), bean validation, then the code (which is
// only consumed by a successful exchange, so a failed attempt can be
// retried within the code's lifetime), then private_key_jwt. Every error is
// HTTP 400 {"error","error_description"} where "error" is one of
// invalid_client, unsupported_grant_type, invalid_scope, invalid_grant and
// anything else becomes invalid_request, and error_description is eSignet's
// internal error code (its message lookup returns the code itself).

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TokenRequest is one recorded call to a token endpoint.
type TokenRequest struct {
	Time time.Time
	// Path is the endpoint called (v2 or legacy).
	Path string
	// Form is every parameter received (query and body).
	Form url.Values
	// AssertionHeader and AssertionClaims are the client_assertion decoded
	// without verification (nil when it does not parse), so tests can check
	// what a client sent (a jti, its aud…).
	AssertionHeader map[string]any
	AssertionClaims map[string]any
	// Status, Error and Description are the answer ("" Error on success).
	Status      int
	Error       string
	Description string
	// Detail says which check failed: eSignet only logs it, the wire
	// carries Error and Description alone.
	Detail string
}

// TokenRequests returns the recorded token requests, oldest first.
func (s *Server) TokenRequests() []TokenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TokenRequest, len(s.tokenReq))
	for i, tr := range s.tokenReq {
		tr.Form = cloneValues(tr.Form)
		out[i] = tr
	}
	return out
}

// UsedJTIs returns the client assertion jti values already seen (a replay
// of any of them is refused), oldest first.
func (s *Server) UsedJTIs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.jtiOrder...)
}

func (s *Server) record(tr TokenRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenReq = append(s.tokenReq, tr)
	if len(s.tokenReq) > maxRecords {
		s.tokenReq = append([]TokenRequest(nil), s.tokenReq[len(s.tokenReq)-maxRecords:]...)
	}
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// tokenError is a refused token request.
type tokenError struct {
	status      int
	code, desc  string
	detail      string
	problemJSON bool // Spring's ProblemDetail body instead of OAuthError
}

// oauthErr maps an eSignet error code to the wire error the way
// ExceptionHandlerAdvice does.
func oauthErr(esignetCode, detail string) *tokenError {
	wire := "invalid_request"
	switch esignetCode {
	case "invalid_client", "unsupported_grant_type", "invalid_scope", "invalid_grant":
		wire = esignetCode
	}
	return &tokenError{status: http.StatusBadRequest, code: wire, desc: esignetCode, detail: detail}
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, v2 bool) {
	tr := TokenRequest{Time: s.now(), Path: r.URL.Path}
	resp, terr := s.exchange(w, r, v2, &tr)
	if terr != nil {
		tr.Status, tr.Error, tr.Description, tr.Detail = terr.status, terr.code, terr.desc, terr.detail
		s.record(tr)
		s.log.Info("esignet: token refused", "error", terr.code, "description", terr.desc, "detail", terr.detail)
		if terr.problemJSON {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(terr.status)
			_ = json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": http.StatusText(terr.status),
				"status": terr.status, "detail": terr.desc, "instance": r.URL.Path})
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		writeJSON(w, terr.status, map[string]string{"error": terr.code, "error_description": terr.desc})
		return
	}
	tr.Status = http.StatusOK
	s.record(tr)
	writeJSON(w, http.StatusOK, resp)
}

func serveTokenMethodNotAllowed(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Allow", http.MethodPost)
	writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "invalid_request", "error_description": "Method Not Allowed"})
}

func (s *Server) exchange(w http.ResponseWriter, r *http.Request, v2 bool, tr *TokenRequest) (map[string]any, *tokenError) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, &tokenError{status: http.StatusUnsupportedMediaType, problemJSON: true,
			desc: fmt.Sprintf("Content-Type '%s' is not supported.", ct), detail: "not a form post"}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		return nil, oauthErr("invalid_request", "unreadable form: "+err.Error())
	}
	f := r.Form
	tr.Form = cloneValues(f)
	assertion := f.Get("client_assertion")
	tr.AssertionHeader, tr.AssertionClaims = decodeUnverified(assertion)

	// Bean validation of TokenRequest, field by field.
	switch {
	case f.Get("grant_type") != "authorization_code":
		return nil, oauthErr("unsupported_grant_type", "grant_type must be authorization_code")
	case strings.TrimSpace(f.Get("code")) == "":
		return nil, oauthErr("invalid_grant", "code is required")
	case !validURL(f.Get("redirect_uri")):
		return nil, oauthErr("invalid_redirect_uri", "redirect_uri is not a valid URL")
	case f.Get("client_assertion_type") != ClientAssertionType:
		return nil, oauthErr("invalid_client", "client_assertion_type must be "+ClientAssertionType)
	case strings.TrimSpace(assertion) == "":
		return nil, oauthErr("invalid_client", "client_assertion is required")
	}

	codeKey := hashKey(f.Get("code"))
	now := s.now()
	s.mu.Lock()
	g, ok := s.codes[codeKey]
	if ok && now.After(g.expires) {
		delete(s.codes, codeKey)
		ok = false
	}
	s.mu.Unlock()
	if !ok {
		return nil, oauthErr("invalid_grant", "unknown, used or expired code")
	}
	if id := f.Get("client_id"); id != "" && id != g.client.ClientID {
		return nil, oauthErr("invalid_client_id", "client_id differs from the authorize request's")
	}
	if f.Get("redirect_uri") != g.redirectURI {
		return nil, oauthErr("invalid_redirect_uri", fmt.Sprintf("redirect_uri %q differs from the authorize request's %q", f.Get("redirect_uri"), g.redirectURI))
	}
	// The client's current registration (its key may have been rotated).
	c, ok := s.client(g.client.ClientID)
	if !ok {
		return nil, oauthErr("invalid_client", "client no longer registered")
	}
	iss := s.issuerFor(r)
	auds := []string{iss + TokenPath, iss}
	if !v2 {
		auds = []string{iss + LegacyTokenPath, iss}
	}
	if detail := s.verifyAssertion(c, assertion, auds); detail != "" {
		return nil, oauthErr("invalid_client", detail)
	}
	if s.kycFail.Load() > 0 && s.kycFail.Add(-1) >= 0 {
		return nil, oauthErr("kyc_exchange_failed", "injected KYC exchange failure")
	}
	// IDA's KYC exchange happens here: the userinfo is fixed (and signed)
	// at token time, later changes to the identity do not show in it.
	id, err := s.reg.Lookup(g.uin)
	if err != nil {
		return nil, oauthErr("IDA-MLC-018", "identity vanished before the KYC exchange")
	}
	kyc, err := s.signUserinfo(s.kycClaims(g, id))
	if err != nil {
		return nil, &tokenError{status: http.StatusInternalServerError, code: "unknown_error", desc: "unknown_error", detail: err.Error()}
	}

	now = s.now()
	// eSignet's access token has no jti, so two exchanges for the same
	// person and client within one second yield the same token and share a
	// userinfo cache entry. The sandbox adds a jti so parallel tests logging
	// in one seed identity cannot collide.
	access, err := s.sign(jwt.MapClaims{
		"iss": iss, "sub": g.psut, "aud": c.ClientID, "iat": now.Unix(),
		"exp": now.Add(s.accessTTL).Unix(), "client_id": c.ClientID, "jti": randomToken(),
	})
	if err != nil {
		return nil, &tokenError{status: http.StatusInternalServerError, code: "unknown_error", desc: "unknown_error", detail: err.Error()}
	}
	atHash := hashKey(access)
	var nonce any // eSignet writes "nonce": null when the request had none
	if g.nonce != "" {
		nonce = g.nonce
	}
	idToken, err := s.sign(jwt.MapClaims{
		"iss": iss, "sub": g.psut, "aud": c.ClientID, "iat": now.Unix(), "exp": now.Add(s.idTTL).Unix(),
		"auth_time": g.authTime.Unix(), "nonce": nonce, "acr": g.acr, "at_hash": atHash,
	})
	if err != nil {
		return nil, &tokenError{status: http.StatusInternalServerError, code: "unknown_error", desc: "unknown_error", detail: err.Error()}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.codes[codeKey] != g {
		// A concurrent exchange of the same code won.
		return nil, oauthErr("invalid_grant", "code used concurrently")
	}
	delete(s.codes, codeKey)
	sess := *g
	sess.client = c
	sess.kyc = kyc
	sess.accessToken = access
	sess.expires = now.Add(s.accessTTL)
	s.sessions[atHash] = &sess
	return map[string]any{"access_token": access, "token_type": "Bearer", "id_token": idToken,
		"expires_in": int64(s.accessTTL / time.Second)}, nil
}

// verifyAssertion checks a private_key_jwt client assertion as eSignet's
// TokenServiceImpl does; it returns why it failed, or "".
func (s *Server) verifyAssertion(c Client, assertion string, auds []string) string {
	claims := jwt.MapClaims{}
	p := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(s.now),
		jwt.WithLeeway(s.leeway), jwt.WithExpirationRequired())
	if _, err := p.ParseWithClaims(assertion, claims, func(*jwt.Token) (any, error) { return c.PublicJWK, nil }); err != nil {
		return "client assertion: " + err.Error()
	}
	if iss, _ := claims["iss"].(string); iss != c.ClientID {
		return fmt.Sprintf("client assertion iss %q is not the client id", iss)
	}
	if sub, _ := claims["sub"].(string); sub != c.ClientID {
		return fmt.Sprintf("client assertion sub %q is not the client id", sub)
	}
	if _, ok := claims["iat"].(float64); !ok {
		return "client assertion has no iat"
	}
	aud, _ := claims.GetAudience()
	audOK := false
	for _, a := range aud {
		if contains(auds, a) {
			audOK = true
		}
	}
	if !audOK {
		return fmt.Sprintf("client assertion aud %v names neither %v", []string(aud), auds)
	}
	if s.jtiOptional {
		return ""
	}
	jti, _ := claims["jti"].(string)
	if strings.TrimSpace(jti) == "" {
		return "client assertion has no jti (required since eSignet 1.6)"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, used := s.jtis[jti]; used {
		return fmt.Sprintf("client assertion jti %q replayed", jti)
	}
	s.jtis[jti] = s.now()
	s.jtiOrder = append(s.jtiOrder, jti)
	if len(s.jtiOrder) > maxRecords {
		delete(s.jtis, s.jtiOrder[0])
		s.jtiOrder = s.jtiOrder[1:]
	}
	return ""
}

// sign makes a compact JWS with eSignet's key, headed like keymanager's
// jwtSign (alg and kid, no typ).
func (s *Server) sign(claims jwt.MapClaims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	delete(t.Header, "typ")
	t.Header["kid"] = s.kid
	return t.SignedString(s.key)
}

// decodeUnverified splits a JWT without checking it, for the record.
func decodeUnverified(token string) (header, claims map[string]any) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, nil
	}
	dec := func(seg string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
		if err != nil {
			return nil
		}
		m := map[string]any{}
		if json.Unmarshal(b, &m) != nil {
			return nil
		}
		return m
	}
	return dec(parts[0]), dec(parts[1])
}
