// Package mosip emulates the MOSIP services the bridge talks to, faithfully
// on the wire, for `make run` and end-to-end tests. The services never import
// it: they only see its URLs.
//
// This first part is the kernel auth manager's client-credentials endpoint.
package mosip

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AuthPath is the auth manager's client id / secret key endpoint.
const AuthPath = "/v1/authmanager/authenticate/clientidsecretkey"

// Client is a Keycloak client the emulated auth manager accepts.
type Client struct {
	ClientID string
	Secret   string
	// AppID must be one of the known app ids (it selects the realm).
	AppID string
	// Roles go into realm_access.roles of issued tokens.
	Roles []string
}

// DefaultRoles are given to clients configured without roles: what a CRVS
// deployment grants its packet and WebSub clients.
var DefaultRoles = []string{"REGISTRATION_PROCESSOR", "ONLINE_REGISTRATION_CLIENT",
	"SUBSCRIBE_CREDENTIAL_ISSUED_INDIVIDUAL", "SUBSCRIBE_REGISTRATION_PROCESSOR_WORKFLOW_COMPLETED_EVENT_GENERAL",
	"PUBLISH_CREDENTIAL_STATUS_UPDATE_GENERAL"}

// AuthManager emulates POST /v1/authmanager/authenticate/clientidsecretkey:
// it checks client id, secret and app id, issues an RS256-signed JWT with a
// real exp, and answers the way MOSIP does: the token in an Authorization
// response header and a Set-Cookie Authorization=… cookie (Max-Age from
// CookieMaxAge, unrelated to exp, as in MOSIP), the body carrying only a
// status; failures come back with HTTP 200 and errors[].
type AuthManager struct {
	// TokenLifetime is the JWT lifetime (Keycloak's access token lifespan).
	TokenLifetime time.Duration
	// CookieMaxAge is the cookie Max-Age in seconds (MOSIP's auth.jwt.expiry).
	CookieMaxAge int
	// Issuer is the JWT iss (the realm URL in MOSIP).
	Issuer string

	key     *rsa.PrivateKey
	kid     string // Keycloak names its realm keys; derived from the public key
	mu      sync.RWMutex
	clients map[string]Client
	realms  map[string]bool
	calls   atomic.Int64
	fail    atomic.Int64 // next N calls answer HTTP 500, for fault tests

	// verified remembers tokens whose signature was checked, so a client
	// reusing its token (every request of a registration does) costs no
	// RSA verification; exp is still checked on every use.
	vmu      sync.RWMutex
	verified map[string]authVerified
	// now is the clock of token checks; nil means time.Now (tests move it).
	now func() time.Time
}

// authVerified is a token that passed Verify: who it names and until when.
type authVerified struct {
	caller Caller
	exp    time.Time
}

// authMaxVerified bounds the verified-token memo: when full, expired
// tokens are dropped, and all of them if none has expired.
const authMaxVerified = 1024

// NewAuthManager returns an auth manager that knows the given clients.
func NewAuthManager(clients ...Client) (*AuthManager, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	a := &AuthManager{
		kid:           base64.RawURLEncoding.EncodeToString(sum[:16]),
		TokenLifetime: time.Hour,
		CookieMaxAge:  6000000,
		Issuer:        "http://sandbox-keycloak/auth/realms/mosip",
		key:           key,
		clients:       map[string]Client{},
		verified:      map[string]authVerified{},
		// The app ids of mosip.kernel.auth.appid-realm-map in MOSIP's defaults.
		realms: map[string]bool{"admin": true, "regproc": true, "ida": true, "registrationclient": true,
			"partner": true, "resident": true, "prereg": true, "websub": true},
	}
	for _, c := range clients {
		a.clients[c.ClientID] = c
	}
	return a, nil
}

// Calls returns how many authenticate requests were served.
func (a *AuthManager) Calls() int64 { return a.calls.Load() }

// FailNext makes the next n calls answer HTTP 500 like a failing Keycloak.
func (a *AuthManager) FailNext(n int) { a.fail.Store(int64(n)) }

// PublicKey is the key that verifies issued tokens.
func (a *AuthManager) PublicKey() *rsa.PublicKey { return &a.key.PublicKey }

// ValidToken reports whether token was issued by this auth manager and has
// not expired.
func (a *AuthManager) ValidToken(token string) bool {
	_, ok := a.Verify(token)
	return ok
}

type authRequest struct {
	ID          string `json:"id"`
	Version     string `json:"version"`
	RequestTime string `json:"requesttime"`
	Request     *struct {
		ClientID  string `json:"clientId"`
		SecretKey string `json:"secretKey"`
		AppID     string `json:"appId"`
	} `json:"request"`
}

// ServeHTTP implements the endpoint.
func (a *AuthManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.calls.Add(1)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if a.fail.Load() > 0 {
		a.fail.Add(-1)
		writeEnvelope(w, http.StatusInternalServerError, nil, "500", "500 Internal Server Error: keycloak unavailable")
		return
	}
	var req authRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil || req.Request == nil {
		writeEnvelope(w, http.StatusOK, nil, "KER-ATH-003", "Invalid request: request body is missing or malformed")
		return
	}
	in := req.Request
	if in.ClientID == "" || in.SecretKey == "" || in.AppID == "" {
		writeEnvelope(w, http.StatusOK, nil, "KER-ATH-003", "clientId, secretKey and appId are required")
		return
	}
	if !a.realms[in.AppID] {
		writeEnvelope(w, http.StatusOK, nil, "KER-ATH-026", "Realm not found:: "+in.AppID)
		return
	}
	a.mu.RLock()
	c, ok := a.clients[in.ClientID]
	a.mu.RUnlock()
	if !ok || c.Secret != in.SecretKey || (c.AppID != "" && c.AppID != in.AppID) {
		writeEnvelope(w, http.StatusOK, nil, "KER-ATH-401", "Authentication failed: invalid client id or secret")
		return
	}
	token, err := a.issue(c)
	if err != nil {
		writeEnvelope(w, http.StatusInternalServerError, nil, "500", "token signing failed")
		return
	}
	w.Header().Set("Authorization", token)
	http.SetCookie(w, &http.Cookie{Name: "Authorization", Value: token, MaxAge: a.CookieMaxAge, Path: "/", HttpOnly: true})
	writeEnvelope(w, http.StatusOK, map[string]string{
		"status":  "Success",
		"message": "Clientid and Token combination had been validated successfully",
	}, "", "")
}

func (a *AuthManager) issue(c Client) (string, error) {
	now := time.Now()
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	roles := c.Roles
	if len(roles) == 0 {
		roles = DefaultRoles
	}
	claims := jwt.MapClaims{
		"iss": a.Issuer, "azp": c.ClientID, "sub": "service-account-" + c.ClientID,
		"iat": now.Unix(), "exp": now.Add(a.TokenLifetime).Unix(), "jti": hex.EncodeToString(jti),
		"realm_access": map[string]any{"roles": roles}, "typ": "Bearer",
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = a.kid
	return t.SignedString(a.key)
}

// writeEnvelope answers for the auth manager (its envelope id).
func writeEnvelope(w http.ResponseWriter, status int, response any, code, message string) {
	WriteEnvelope(w, status, "mosip.io.clientId.pwd", response, code, message)
}

// Caller is who a valid token was issued to.
type Caller struct {
	// ClientID is the Keycloak client (azp); "service-account-<id>" is the userId.
	ClientID string
	Roles    []string
}

// HasRole reports whether the caller holds role.
func (c Caller) HasRole(role string) bool {
	for _, r := range c.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Verify checks a token this auth manager issued (signature and exp) and
// returns its caller.
func (a *AuthManager) Verify(token string) (Caller, bool) {
	now := a.clock()
	a.vmu.RLock()
	v, ok := a.verified[token]
	a.vmu.RUnlock()
	if ok {
		// jwt's rule: valid while now < exp.
		if now.Before(v.exp) {
			return v.caller, true
		}
		return Caller{}, false
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return a.PublicKey(), nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		return Caller{}, false
	}
	c := callerOf(claims)
	// A token with nbf is checked every time: only exp is re-checked from
	// the memo.
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		if nbf, err := claims.GetNotBefore(); err == nil && nbf == nil {
			a.remember(token, authVerified{caller: c, exp: exp.Time})
		}
	}
	return c, true
}

func (a *AuthManager) clock() time.Time {
	if a.now != nil {
		return a.now()
	}
	return time.Now()
}

func (a *AuthManager) remember(token string, v authVerified) {
	a.vmu.Lock()
	defer a.vmu.Unlock()
	if a.verified == nil {
		a.verified = map[string]authVerified{}
	}
	if len(a.verified) >= authMaxVerified {
		now := a.clock()
		for t, e := range a.verified {
			if !now.Before(e.exp) {
				delete(a.verified, t)
			}
		}
		if len(a.verified) >= authMaxVerified {
			clear(a.verified)
		}
	}
	a.verified[token] = v
}

// callerOf reads the caller of verified claims; its Roles are clipped so a
// caller appending to them cannot write into a remembered caller's.
func callerOf(claims jwt.MapClaims) Caller {
	c := Caller{}
	c.ClientID, _ = claims["azp"].(string)
	if ra, ok := claims["realm_access"].(map[string]any); ok {
		if roles, ok := ra["roles"].([]any); ok {
			for _, r := range roles {
				if s, ok := r.(string); ok {
					c.Roles = append(c.Roles, s)
				}
			}
		}
	}
	c.Roles = slices.Clip(c.Roles)
	return c
}

// Authenticate is the kernel auth adapter of the emulated MOSIP services:
// the token is read only from a cookie named Authorization (never a Bearer
// header), as MOSIP's AuthFilter does. A missing, expired or foreign token
// is answered HTTP 401 with KER-ATH-401 and ok=false.
func (a *AuthManager) Authenticate(w http.ResponseWriter, r *http.Request) (Caller, bool) {
	if ck, err := r.Cookie("Authorization"); err == nil {
		if c, ok := a.Verify(ck.Value); ok {
			return c, true
		}
	}
	writeEnvelope(w, http.StatusUnauthorized, nil, "KER-ATH-401", "Authentication Failed")
	return Caller{}, false
}

// WriteEnvelope writes MOSIP's kernel ResponseWrapper with the given status,
// response and (when code is not empty) one error; the emulated services
// share it.
func WriteEnvelope(w http.ResponseWriter, status int, id string, response any, code, message string) {
	body := map[string]any{
		"id": id, "version": "v1",
		"responsetime": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		"metadata":     nil, "response": response, "errors": []any{},
	}
	if code != "" {
		body["errors"] = []map[string]string{{"errorCode": code, "message": message}}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
