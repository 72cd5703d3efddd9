package opencrvs

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer is the iss of every OpenCRVS token (JWT_ISSUER of the auth service).
const Issuer = "opencrvs:auth-service"

// Token lifetimes of the OpenCRVS auth service defaults.
const (
	// ActionConfirmationTTL is CONFIG_ACTION_CONFIRMATION_TOKEN_EXPIRY_SECONDS
	// (604 800 s): how long the record token the bridge stores stays usable.
	ActionConfirmationTTL = 7 * 24 * time.Hour
	// UserTokenTTL is CONFIG_TOKEN_EXPIRY_SECONDS, a logged-in user's session.
	UserTokenTTL = 7 * 24 * time.Hour
	// SystemTokenTTL is CONFIG_SYSTEM_TOKEN_EXPIRY_SECONDS: a system client
	// must fetch a fresh token per callback.
	SystemTokenTTL = 600 * time.Second
)

// OpenCRVS generations whose token shapes differ.
const (
	// Generation19 writes plain scopes ("record.confirm-registration") and the
	// 13 legacy audiences; userType is always "user".
	Generation19 = "1.9"
	// Generation20 writes qs-encoded scopes ("type=record.confirm-registration")
	// and the six events-era audiences.
	Generation20 = "2.0"
)

// Scope types the confirmation flow depends on.
const (
	// ScopeConfirmRegistration and ScopeRejectRegistration are carried only by
	// record-specific action-confirmation tokens (1.9, 2.0).
	ScopeConfirmRegistration = "record.confirm-registration"
	ScopeRejectRegistration  = "record.reject-registration"
	// ScopeRead lets event.get read a record.
	ScopeRead = "record.read"
	// ScopeActionAccept and ScopeActionReject are the 2.1 system-client scopes
	// of the draft documentation.
	ScopeActionAccept = "record.action.accept"
	ScopeActionReject = "record.action.reject"
	// ScopeRegister and ScopeCorrect are what the 2.1 mosip-api code checks
	// instead; the list is not final, so the emulator honours both.
	ScopeRegister = "record.register"
	ScopeCorrect  = "record.correct"
)

// Audience lists, in the order the auth service writes them.
var (
	// confirmationAudiences19 is the v1.9 createTokenForActionConfirmation list.
	confirmationAudiences19 = []string{"opencrvs:gateway-user", "opencrvs:user-mgnt-user", "opencrvs:auth-user",
		"opencrvs:hearth-user", "opencrvs:notification-user", "opencrvs:workflow-user", "opencrvs:search-user",
		"opencrvs:metrics-user", "opencrvs:countryconfig-user", "opencrvs:webhooks-user", "opencrvs:config-user",
		"opencrvs:documents-user", "opencrvs:notification-api-user"}
	// confirmationAudiences20 is the v2.0 createTokenForActionConfirmation list.
	confirmationAudiences20 = []string{"opencrvs:gateway-user", "opencrvs:events-user", "opencrvs:user-mgnt-user",
		"opencrvs:auth-user", "opencrvs:countryconfig-user", "opencrvs:documents-user"}
	// webUserAudiences19 is WEB_USER_JWT_AUDIENCES of v1.9.
	webUserAudiences19 = []string{"opencrvs:auth-user", "opencrvs:user-mgnt-user", "opencrvs:hearth-user",
		"opencrvs:gateway-user", "opencrvs:notification-user", "opencrvs:workflow-user", "opencrvs:search-user",
		"opencrvs:metrics-user", "opencrvs:countryconfig-user", "opencrvs:webhooks-user", "opencrvs:config-user",
		"opencrvs:documents-user"}
	// webUserAudiences20 is WEB_USER_JWT_AUDIENCES of v2.0 onwards.
	webUserAudiences20 = []string{"opencrvs:auth-user", "opencrvs:user-mgnt-user", "opencrvs:gateway-user",
		"opencrvs:events-user", "opencrvs:countryconfig-user", "opencrvs:documents-user"}
)

// EncodeScope encodes a scope the 2.0 way (qs.stringify with comma arrays,
// no URL encoding): EncodeScope("record.read", "birth", "death") is
// "type=record.read&event=birth,death".
func EncodeScope(scopeType string, events ...string) string {
	s := "type=" + scopeType
	if len(events) > 0 {
		s += "&event=" + strings.Join(events, ",")
	}
	return s
}

// crvsClaims lays the claims out in the order jsonwebtoken emits them for the
// auth service's payloads ({scope, eventId, actionId, userType} or {scope,
// userType, role}, then iat, exp, aud, iss, sub), so decoded tokens read
// byte for byte like real ones.
type crvsClaims struct {
	Scope     []string `json:"scope"`
	EventID   string   `json:"eventId,omitempty"`
	ActionID  string   `json:"actionId,omitempty"`
	UserType  string   `json:"userType"`
	Role      string   `json:"role,omitempty"`
	IssuedAt  int64    `json:"iat"`
	ExpiresAt int64    `json:"exp"`
	Audience  []string `json:"aud"`
	Iss       string   `json:"iss"`
	Sub       string   `json:"sub"`
}

// GetExpirationTime implements jwt.Claims.
func (c crvsClaims) GetExpirationTime() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.ExpiresAt, 0)), nil
}

// GetIssuedAt implements jwt.Claims.
func (c crvsClaims) GetIssuedAt() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.IssuedAt, 0)), nil
}

// GetNotBefore implements jwt.Claims.
func (c crvsClaims) GetNotBefore() (*jwt.NumericDate, error) { return nil, nil }

// GetIssuer implements jwt.Claims.
func (c crvsClaims) GetIssuer() (string, error) { return c.Iss, nil }

// GetSubject implements jwt.Claims.
func (c crvsClaims) GetSubject() (string, error) { return c.Sub, nil }

// GetAudience implements jwt.Claims.
func (c crvsClaims) GetAudience() (jwt.ClaimStrings, error) { return c.Audience, nil }

// RecordTokenOptions describe an action-confirmation token: the
// record-specific token core passes to the country config trigger, which the
// country config forwards to mosip-api on /events/registration.
type RecordTokenOptions struct {
	// EventID and ActionID are the event and its Requested action. Required.
	EventID, ActionID string
	// Generation is Generation19 or Generation20 (the default).
	Generation string
	// Subject is the user (or system client) whose token was exchanged;
	// default a random 24-hex id like OpenCRVS's user ids.
	Subject string
	// UserType is the subject's type in 2.0 ("user" default, or "system");
	// 1.9 always writes "user".
	UserType string
	// TTL defaults to ActionConfirmationTTL.
	TTL time.Duration
	// IssuedAt defaults to now; set it in the past to mint expired tokens.
	IssuedAt time.Time
	// ExtraScopes are the subject's scopes the exchange keeps. nil means the
	// generation's typical set (2.0: type=record.read&event=birth,death;
	// 1.9: record.read); an empty non-nil slice means none.
	ExtraScopes []string
}

// RecordToken mints an action-confirmation token exactly as the auth
// service's createTokenForActionConfirmation does for the generation.
func (a *Auth) RecordToken(o RecordTokenOptions) (string, error) {
	if o.EventID == "" || o.ActionID == "" {
		return "", fmt.Errorf("opencrvs: record token needs EventID and ActionID")
	}
	c := crvsClaims{EventID: o.EventID, ActionID: o.ActionID, Iss: Issuer, Sub: o.Subject, UserType: o.UserType}
	switch o.Generation {
	case Generation19:
		c.Scope = []string{ScopeConfirmRegistration, ScopeRejectRegistration}
		c.Audience = confirmationAudiences19
		c.UserType = "user"
		if o.ExtraScopes == nil {
			o.ExtraScopes = []string{ScopeRead}
		}
	case Generation20, "":
		c.Scope = []string{EncodeScope(ScopeConfirmRegistration), EncodeScope(ScopeRejectRegistration)}
		c.Audience = confirmationAudiences20
		if o.ExtraScopes == nil {
			o.ExtraScopes = []string{EncodeScope(ScopeRead, "birth", "death")}
		}
	default:
		return "", fmt.Errorf("opencrvs: unknown generation %q", o.Generation)
	}
	c.Scope = append(c.Scope, o.ExtraScopes...)
	if c.UserType == "" {
		c.UserType = "user"
	}
	return a.signTimed(c, o.IssuedAt, o.TTL, ActionConfirmationTTL)
}

// UserTokenOptions describe a logged-in user's session token.
type UserTokenOptions struct {
	// Subject is the user id; default a random 24-hex id.
	Subject string
	// Scopes are written as given (use EncodeScope for 2.0 scopes).
	Scopes []string
	// Role is the user's role, e.g. "LOCAL_REGISTRAR"; omitted when empty.
	Role string
	// Generation selects the audience list; default Generation20.
	Generation string
	// TTL defaults to UserTokenTTL.
	TTL time.Duration
	// IssuedAt defaults to now.
	IssuedAt time.Time
}

// UserToken mints a session token as the auth service's createToken does at
// login (userType "user"): what the browser sends to mosip-api's e-Signet
// route.
func (a *Auth) UserToken(o UserTokenOptions) (string, error) {
	aud, err := webAudiences(o.Generation)
	if err != nil {
		return "", err
	}
	c := crvsClaims{Scope: o.Scopes, UserType: "user", Role: o.Role, Audience: aud, Iss: Issuer, Sub: o.Subject}
	return a.signTimed(c, o.IssuedAt, o.TTL, UserTokenTTL)
}

// SystemTokenOptions describe a system client's token.
type SystemTokenOptions struct {
	// Subject is the system client's id; default a random 24-hex id.
	Subject string
	// Scopes are written as given.
	Scopes []string
	// Generation selects the audience list; default Generation20.
	Generation string
	// TTL defaults to SystemTokenTTL.
	TTL time.Duration
	// IssuedAt defaults to now.
	IssuedAt time.Time
}

// SystemToken mints a system client's token as createToken does for
// userType "system" (what POST /auth/token answers with client_credentials).
func (a *Auth) SystemToken(o SystemTokenOptions) (string, error) {
	aud, err := webAudiences(o.Generation)
	if err != nil {
		return "", err
	}
	c := crvsClaims{Scope: o.Scopes, UserType: "system", Audience: aud, Iss: Issuer, Sub: o.Subject}
	return a.signTimed(c, o.IssuedAt, o.TTL, SystemTokenTTL)
}

func webAudiences(generation string) ([]string, error) {
	switch generation {
	case Generation19:
		return webUserAudiences19, nil
	case Generation20, "":
		return webUserAudiences20, nil
	}
	return nil, fmt.Errorf("opencrvs: unknown generation %q", generation)
}

// signTimed fills the defaults shared by every minter and signs.
func (a *Auth) signTimed(c crvsClaims, issuedAt time.Time, ttl, defaultTTL time.Duration) (string, error) {
	if issuedAt.IsZero() {
		issuedAt = time.Now()
	}
	if ttl <= 0 {
		ttl = defaultTTL
	}
	if c.Sub == "" {
		c.Sub = objectID()
	}
	if c.Scope == nil {
		c.Scope = []string{}
	}
	c.IssuedAt = issuedAt.Unix()
	c.ExpiresAt = issuedAt.Add(ttl).Unix()
	return a.sign(c)
}

// objectID returns a random 24-hex id shaped like the Mongo ObjectIds
// OpenCRVS uses for users and system clients.
func objectID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
