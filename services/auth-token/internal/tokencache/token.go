package tokencache

import "time"

// Policy is the expiry arithmetic: how long before expiry a token stops
// being handed out, and when a replacement is fetched in the background.
type Policy struct {
	// Skew is how long before ExpiresAt a token stops being handed out, to
	// absorb clock differences and the time the caller needs to use it.
	// It is clamped to a quarter of the token's lifetime so short-lived
	// tokens stay usable for most of their life.
	Skew time.Duration
	// RefreshFraction of the lifetime after acquisition, a background
	// refresh starts while the current token keeps being served.
	RefreshFraction float64
}

// Defaults follow Envoy's refresh at half the lifetime and a skew between
// x/oauth2's 10 s and Envoy's 60 s JWT clock skew.
const (
	DefaultSkew            = 30 * time.Second
	DefaultRefreshFraction = 0.5
)

func (p Policy) withDefaults() Policy {
	if p.Skew <= 0 {
		p.Skew = DefaultSkew
	}
	if p.RefreshFraction <= 0 || p.RefreshFraction >= 1 {
		p.RefreshFraction = DefaultRefreshFraction
	}
	return p
}

// Schedule returns when a token acquired at acquired and expiring at
// expires should be refreshed in the background (refreshAt) and when it
// must no longer be handed out (staleAt). refreshAt never comes after
// staleAt; a token with no lifetime left is stale at once.
func (p Policy) Schedule(acquired, expires time.Time) (refreshAt, staleAt time.Time) {
	p = p.withDefaults()
	lifetime := expires.Sub(acquired)
	if lifetime <= 0 {
		return expires, expires
	}
	skew := min(p.Skew, lifetime/4)
	staleAt = expires.Add(-skew)
	refreshAt = acquired.Add(time.Duration(float64(lifetime) * p.RefreshFraction))
	if refreshAt.After(staleAt) {
		refreshAt = staleAt
	}
	return refreshAt, staleAt
}

// token is immutable once published through entry.cur, which is what
// makes the lock-free L1 read safe.
type token struct {
	value      string
	acquiredAt time.Time
	expiresAt  time.Time
	refreshAt  time.Time
	staleAt    time.Time
	// source is "auth_manager" or the L2 store's name.
	source string
}

// Sources reported in ClientState.source.
const sourceAuthManager = "auth_manager"

func newToken(p Policy, e Entry, source string) *token {
	// Round(0) drops monotonic readings so comparisons are on wall time
	// whichever replica or clock produced the times.
	acq, exp := e.AcquiredAt.Round(0), e.ExpiresAt.Round(0)
	refreshAt, staleAt := p.Schedule(acq, exp)
	return &token{value: e.Token, acquiredAt: acq, expiresAt: exp, refreshAt: refreshAt, staleAt: staleAt, source: source}
}

// Token is what GetToken hands out.
type Token struct {
	// Value is the token itself.
	Value string
	// ExpiresAt is when MOSIP stops accepting it.
	ExpiresAt time.Time
}
