package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mosipcrvs/bridge/pkg/config"
)

// Claims are the verified claims of the OpenCRVS JWT that authorised a
// request. Handlers read them with ClaimsFromContext.
type Claims struct {
	// Subject is the id of the user or system client the token was issued to.
	Subject string
	// Scope lists the token's scopes as OpenCRVS wrote them: plain
	// ("record.confirm-registration", OpenCRVS 1.9) or query-encoded
	// ("type=record.confirm-registration", OpenCRVS 2.0). Use HasScope.
	Scope []string
	// EventID is the OpenCRVS event of an action-confirmation token.
	EventID string
	// ActionID is the requested action of an action-confirmation token.
	ActionID string
	// UserType is "user" or "system" when OpenCRVS set it.
	UserType string
	// ExpiresAt is the token's exp.
	ExpiresAt time.Time
	// Token is the raw JWT, which handlers forward to services that must
	// call OpenCRVS back with it. Its type keeps it out of logs, fmt and
	// JSON; read it with Token.Value().
	Token config.Secret
}

// HasScope reports whether the token grants the named scope, in either of
// the encodings OpenCRVS uses: "record.search" (1.9) or
// "type=record.search&event=birth" (2.0, where options narrow the scope).
func (c *Claims) HasScope(name string) bool {
	if c == nil {
		return false
	}
	for _, s := range c.Scope {
		if s == name {
			return true
		}
		if strings.Contains(s, "=") {
			if q, err := url.ParseQuery(s); err == nil && q.Get("type") == name {
				return true
			}
		}
	}
	return false
}

type claimsKey struct{}

// ClaimsFromContext returns the claims of the verified OpenCRVS JWT of the
// request whose context is ctx. It reports false on public routes, which
// are not authenticated.
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}

func contextWithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// tokenClaims is the wire form of the claims OpenCRVS puts in its tokens.
type tokenClaims struct {
	jwt.RegisteredClaims
	Scope    scopeList `json:"scope"`
	EventID  string    `json:"eventId"`
	ActionID string    `json:"actionId"`
	UserType string    `json:"userType"`
}

// scopeList accepts the array OpenCRVS sends and, for tokens from other
// issuers of the same key, the space-separated string of RFC 8693.
type scopeList []string

func (s *scopeList) UnmarshalJSON(b []byte) error {
	var list []string
	if err := json.Unmarshal(b, &list); err == nil {
		*s = list
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err != nil {
		return errors.New("scope must be a string or an array of strings")
	}
	*s = strings.Fields(one)
	return nil
}

// verifier checks OpenCRVS JWTs the way the TypeScript mosip-api does:
// RS256 only, signature and exp, no audience or issuer check (OpenCRVS's
// audience lists differ between versions and none names this service).
type verifier struct {
	keys   *keyStore
	parser *jwt.Parser
}

func newVerifier(keys *keyStore) *verifier {
	return &verifier{
		keys: keys,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
			jwt.WithExpirationRequired(),
		),
	}
}

// verify returns the claims of a valid token. A signature that does not
// verify triggers one (rate-limited, shared) refetch of the key, so tokens
// signed with a rotated key are accepted without a restart.
func (v *verifier) verify(ctx context.Context, raw string) (*Claims, error) {
	keys, err := v.keys.current(ctx)
	if err != nil {
		return nil, err
	}
	claims, tok, err := v.parse(raw, keys)
	// Only a real RSA signature mismatch may mean rotation; a token with the
	// wrong alg fails the same sentinel but says nothing about our key.
	if errors.Is(err, jwt.ErrTokenSignatureInvalid) && tok != nil && tok.Method == jwt.SigningMethodRS256 {
		if fresh := v.keys.refresh(ctx, keys); fresh != nil {
			claims, _, err = v.parse(raw, fresh)
		}
	}
	return claims, err
}

func (v *verifier) parse(raw string, ks *keySet) (*Claims, *jwt.Token, error) {
	var tc tokenClaims
	tok, err := v.parser.ParseWithClaims(raw, &tc, func(*jwt.Token) (any, error) { return ks.set, nil })
	if err != nil {
		return nil, tok, err
	}
	if !tok.Valid {
		return nil, tok, errors.New("token not valid")
	}
	c := &Claims{
		Subject:  tc.Subject,
		Scope:    []string(tc.Scope),
		EventID:  tc.EventID,
		ActionID: tc.ActionID,
		UserType: tc.UserType,
		Token:    config.Secret(raw),
	}
	if tc.ExpiresAt != nil {
		c.ExpiresAt = tc.ExpiresAt.Time
	}
	return c, tok, nil
}

// bearerToken extracts the token of an "Authorization: Bearer <jwt>" header.
func bearerToken(h http.Header) (string, error) {
	values := h.Values("Authorization")
	switch len(values) {
	case 0:
		return "", errors.New("no Authorization header")
	case 1:
	default:
		return "", errors.New("more than one Authorization header")
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", errors.New("authorization scheme is not Bearer")
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", errors.New("empty bearer token")
	}
	return token, nil
}

// authenticate verifies the request's bearer token and returns the request
// carrying its claims, or writes the 401 that mosip-api answers and returns
// nil.
func (g *Gateway) authenticate(w http.ResponseWriter, r *http.Request) *http.Request {
	raw, err := bearerToken(r.Header)
	if err == nil {
		var claims *Claims
		if claims, err = g.verifier.verify(r.Context(), raw); err == nil {
			// The claims travel on the context; the header must not reach the
			// services as gRPC metadata (grpc-gateway forwards Authorization
			// unconditionally).
			r.Header.Del("Authorization")
			return r.WithContext(contextWithClaims(r.Context(), claims))
		}
	}
	level := slog.LevelInfo
	if errors.Is(err, errNoKey) {
		level = slog.LevelError
	}
	g.logger.Log(r.Context(), level, "rejected request: OpenCRVS token not accepted",
		slog.String("route", routeFromContext(r.Context())), slog.String("reason", authFailureReason(err)))
	writeUnauthorized(w)
	return nil
}

// authFailureReason describes why a token was refused without quoting it.
func authFailureReason(err error) string {
	switch {
	case errors.Is(err, errNoKey):
		return err.Error()
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "request ended while waiting for the OpenCRVS public key"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "token has no exp"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "signature invalid or algorithm not RS256"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "token unverifiable (unsupported algorithm)"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "token malformed"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "token not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		return "token claims invalid"
	default:
		return fmt.Sprint(err)
	}
}

// writeUnauthorized answers exactly as mosip-api does, which is what the
// OpenCRVS country config and browser client have always seen.
func writeUnauthorized(w http.ResponseWriter) {
	w.Header().Set("Content-Type", jsonContentType)
	w.Header().Set("WWW-Authenticate", "Bearer")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(`{"error":"Unauthorized"}`))
}
