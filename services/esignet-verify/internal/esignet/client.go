// Package esignet is the bridge's eSignet (OpenID Connect) relying party:
// it exchanges an authorization code with a private_key_jwt client
// assertion, fetches the userinfo, and trusts it only after verifying it:
// decrypted when eSignet sends a JWE, its signature checked against
// eSignet's JWKS or a configured certificate (IDA's KYC signing key in
// IDA-backed deployments), its iss, aud and time claims checked, and its
// sub bound to the verified id_token's.
package esignet

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

// maxResponseBytes bounds what is read from the token and userinfo
// endpoints.
const maxResponseBytes = 1 << 20

// Options configures New.
type Options struct {
	// TokenURL and UserinfoURL are eSignet's endpoints (required).
	TokenURL, UserinfoURL string
	// JWKSURL is eSignet's key set; empty means only PinnedCerts verify.
	JWKSURL string
	// Issuer, when set, must be the iss of the id_token and of a userinfo
	// that carries one.
	Issuer string
	// ClientKey signs client assertions (required).
	ClientKey *ClientKey
	// DecryptionKey opens JWE userinfo; defaults to ClientKey's key.
	DecryptionKey *rsa.PrivateKey
	// PinnedCerts are certificates trusted to sign userinfo besides the
	// JWKS keys.
	PinnedCerts []*x509.Certificate
	// AssertionAlgorithm is RS256 (default) or PS256.
	AssertionAlgorithm string
	// AssertionAudience is the assertion's aud; defaults to TokenURL.
	AssertionAudience string
	// AssertionTTL is the assertion's lifetime; default 2 minutes.
	AssertionTTL time.Duration
	// Leeway is the clock skew tolerated on exp, nbf and iat; default 30 s.
	Leeway time.Duration
	// JWKSMinRefresh throttles refetches for unknown key ids; default 30 s.
	JWKSMinRefresh time.Duration
	// JWKSCacheTTL is how long fetched keys are used; default 1 h.
	JWKSCacheTTL time.Duration
	// Timeout bounds each HTTP call; default 10 s.
	Timeout time.Duration
	// Transport is the HTTP transport (tests); wrapped with otelhttp.
	Transport http.RoundTripper
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives warnings (JWKS refresh failures); nil discards.
	Logger *slog.Logger
}

// Client talks to one eSignet as one relying party. It is safe for
// concurrent use.
type Client struct {
	tokenURL, userinfoURL string
	issuer                string
	assertionAudience     string
	assertionTTL          time.Duration
	leeway                time.Duration
	signer                jose.Signer
	decryptionKey         *rsa.PrivateKey
	http                  *http.Client
	keys                  *keySource
	clock                 func() time.Time
	log                   *slog.Logger
}

// New builds a client.
func New(o Options) (*Client, error) {
	if o.TokenURL == "" || o.UserinfoURL == "" {
		return nil, errors.New("esignet: TokenURL and UserinfoURL are required")
	}
	if o.ClientKey == nil || o.ClientKey.Key == nil {
		return nil, errors.New("esignet: ClientKey is required")
	}
	if o.JWKSURL == "" && len(o.PinnedCerts) == 0 {
		return nil, errors.New("esignet: a JWKS URL or a pinned certificate is needed to verify userinfo")
	}
	alg := jose.SignatureAlgorithm(o.AssertionAlgorithm)
	if alg == "" {
		alg = jose.RS256
	}
	if alg != jose.RS256 && alg != jose.PS256 {
		return nil, fmt.Errorf("esignet: assertion algorithm %s is not RS256 or PS256", alg)
	}
	signer, err := newSigner(o.ClientKey, alg)
	if err != nil {
		return nil, fmt.Errorf("esignet: %w", err)
	}
	c := &Client{
		tokenURL: o.TokenURL, userinfoURL: o.UserinfoURL, issuer: o.Issuer,
		assertionAudience: o.AssertionAudience, assertionTTL: o.AssertionTTL, leeway: o.Leeway,
		signer: signer, decryptionKey: o.DecryptionKey, clock: o.Now, log: o.Logger,
	}
	if c.assertionAudience == "" {
		c.assertionAudience = o.TokenURL
	}
	if c.assertionTTL <= 0 {
		c.assertionTTL = 2 * time.Minute
	}
	if c.leeway <= 0 {
		c.leeway = 30 * time.Second
	}
	if c.decryptionKey == nil {
		c.decryptionKey = o.ClientKey.Key
	}
	if c.clock == nil {
		c.clock = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	base := o.Transport
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 32
		base = t
	}
	c.http = &http.Client{Transport: otelhttp.NewTransport(base), Timeout: timeout,
		// eSignet answers these endpoints directly; a redirect would send
		// the code or the access token somewhere unexpected.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	c.keys = &keySource{jwksURL: o.JWKSURL, client: c.http, pinned: o.PinnedCerts,
		minRefresh: o.JWKSMinRefresh, ttl: o.JWKSCacheTTL, now: c.clock, log: c.log}
	if c.keys.minRefresh <= 0 {
		c.keys.minRefresh = 30 * time.Second
	}
	if c.keys.ttl <= 0 {
		c.keys.ttl = time.Hour
	}
	return c, nil
}

// Result is a verified userinfo.
type Result struct {
	// Claims are the userinfo claims as decoded JSON (numbers as float64).
	Claims map[string]any
	// VerifiedBy names the key that verified the userinfo.
	VerifiedBy string
}

// tokenResponse is eSignet's token endpoint answer.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	IDToken     string `json:"id_token"`
	TokenType   string `json:"token_type"`
}

// Exchange trades an authorization code for the person's verified
// userinfo. redirectURI must be the one of the authorize request, without
// query or fragment (the caller strips them). Errors are *ProviderError,
// *UnavailableError or *VerificationError, and never quote the code or a
// token.
func (c *Client) Exchange(ctx context.Context, code, clientID, redirectURI string) (*Result, error) {
	// The code is single-use: make sure the keys that will verify what it
	// buys can be had before spending it (a cache hit once warm).
	if c.keys.jwksURL != "" {
		if _, err := c.keys.current(ctx); err != nil && len(c.keys.pinned) == 0 {
			return nil, err
		}
	}
	assertion, err := c.signAssertion(clientID)
	if err != nil {
		return nil, err
	}
	tok, err := c.token(ctx, code, clientID, redirectURI, assertion)
	if err != nil {
		return nil, err
	}
	var idSub string
	if tok.IDToken != "" {
		v, err := c.verifyToken(ctx, tok.IDToken, expectation{token: "id_token", audience: clientID, issuer: c.issuer, strict: true})
		if err != nil {
			return nil, err
		}
		idSub = str(v.claims["sub"])
	}
	raw, err := c.userinfo(ctx, tok.AccessToken)
	if err != nil {
		return nil, err
	}
	v, err := c.verifyToken(ctx, raw, expectation{token: "userinfo", audience: clientID, issuer: c.issuer})
	if err != nil {
		return nil, err
	}
	if idSub != "" && str(v.claims["sub"]) != idSub {
		return nil, verr("userinfo", ReasonSubjectMismatch, "sub differs from the id_token's")
	}
	claims, _ := plain(v.claims).(map[string]any)
	return &Result{Claims: claims, VerifiedBy: v.by}, nil
}

func (c *Client) token(ctx context.Context, code, clientID, redirectURI, assertion string) (*tokenResponse, error) {
	form := url.Values{
		"grant_type":            {"authorization_code"},
		"code":                  {code},
		"client_id":             {clientID},
		"redirect_uri":          {redirectURI},
		"client_assertion_type": {ClientAssertionType},
		"client_assertion":      {assertion},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	status, body, err := c.do(req, "token")
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, providerOrUnavailable("token", status, body, "")
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return nil, &UnavailableError{Endpoint: "token", Status: status, Err: errors.New("the answer is not a JSON token response")}
	}
	if tr.AccessToken == "" {
		return nil, &UnavailableError{Endpoint: "token", Status: status, Err: errors.New("the answer has no access_token")}
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "Bearer") {
		return nil, &UnavailableError{Endpoint: "token", Status: status, Err: fmt.Errorf("token_type %s is not Bearer", printable(tr.TokenType))}
	}
	return &tr, nil
}

func (c *Client) userinfo(ctx context.Context, accessToken string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.userinfoURL, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/jwt, application/json")
	status, body, err := c.doWithHeader(req, "userinfo", func(h http.Header) string { return h.Get("WWW-Authenticate") })
	if err != nil {
		return "", err
	}
	if status.code != http.StatusOK {
		return "", providerOrUnavailable("userinfo", status.code, body, status.header)
	}
	if mt, _, err := mime.ParseMediaType(status.contentType); err == nil && mt == "application/json" {
		return "", verr("userinfo", ReasonUnsigned, "eSignet answered plain JSON; it must sign userinfo")
	}
	return string(body), nil
}

type httpStatus struct {
	code        int
	contentType string
	header      string
}

func (c *Client) do(req *http.Request, endpoint string) (int, []byte, error) {
	st, body, err := c.doWithHeader(req, endpoint, nil)
	return st.code, body, err
}

func (c *Client) doWithHeader(req *http.Request, endpoint string, header func(http.Header) string) (httpStatus, []byte, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error quotes the URL, which carries nothing secret here; the
		// code and tokens travel in the body and headers.
		return httpStatus{}, nil, &UnavailableError{Endpoint: endpoint, Err: unwrapURLError(err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return httpStatus{}, nil, &UnavailableError{Endpoint: endpoint, Status: resp.StatusCode, Err: unwrapURLError(err)}
	}
	if len(body) > maxResponseBytes {
		return httpStatus{}, nil, &UnavailableError{Endpoint: endpoint, Status: resp.StatusCode, Err: errors.New("answer larger than 1 MiB")}
	}
	st := httpStatus{code: resp.StatusCode, contentType: resp.Header.Get("Content-Type")}
	if header != nil {
		st.header = header(resp.Header)
	}
	return st, body, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if errors.Is(ue.Err, context.DeadlineExceeded) {
			return context.DeadlineExceeded
		}
		if errors.Is(ue.Err, context.Canceled) {
			return context.Canceled
		}
		return ue.Err
	}
	return err
}

// providerOrUnavailable classifies a non-200 answer: 5xx, 408 and 429
// are eSignet being unavailable; other statuses are refusals, with the
// OAuth error from the JSON body or the WWW-Authenticate header.
func providerOrUnavailable(endpoint string, status int, body []byte, wwwAuth string) error {
	if status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests {
		return &UnavailableError{Endpoint: endpoint, Status: status, Err: errors.New(http.StatusText(status))}
	}
	pe := &ProviderError{Endpoint: endpoint, Status: status}
	var oe struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &oe) == nil {
		pe.Code, pe.Description = printable(oe.Error), printable(oe.Description)
	}
	if pe.Code == "" && wwwAuth != "" {
		pe.Code = printable(authParam(wwwAuth, "error"))
	}
	return pe
}

// authParam reads one parameter of a WWW-Authenticate value such as
// `error="invalid_token"` or `Bearer error="invalid_token", …`.
func authParam(h, name string) string {
	for _, part := range strings.FieldsFunc(h, func(r rune) bool { return r == ',' || r == ' ' }) {
		k, v, ok := strings.Cut(part, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}

// JWKSFetches reports how many times the key set was fetched (tests).
func (c *Client) JWKSFetches() int64 {
	c.keys.mu.Lock()
	defer c.keys.mu.Unlock()
	return c.keys.fetches
}
