package esignetverify

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/mosipcrvs/bridge/pkg/rpc"
	esignetverifyv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/esignetverify/v1"
)

// ResolveAuthorizationCallback answers where the static callback
// (GET /oauth/callback) sends the browser: the OpenCRVS page the state
// names, with eSignet's code and state (or error) added to its query. A
// state that names a page outside the allowed origins is refused, so the
// callback cannot be used to send codes, or people, elsewhere.
func (s *server) ResolveAuthorizationCallback(_ context.Context, req *esignetverifyv1.ResolveAuthorizationCallbackRequest) (*esignetverifyv1.ResolveAuthorizationCallbackResponse, error) {
	target, violations := s.svc.callbackTarget(req)
	if len(violations) > 0 {
		return nil, rpc.InvalidArgument("invalid authorization callback", violations)
	}
	return &esignetverifyv1.ResolveAuthorizationCallbackResponse{RedirectUrl: target}, nil
}

func (s *Service) callbackTarget(req *esignetverifyv1.ResolveAuthorizationCallbackRequest) (string, map[string]string) {
	v := map[string]string{}
	state := req.GetState()
	var target *url.URL
	switch {
	case state == "":
		v["state"] = "is required: it names the page to return to"
	case textProblem(state, maxStateLen) != "":
		v["state"] = textProblem(state, maxStateLen)
	default:
		u, problem := s.returnURL(state)
		if problem != "" {
			v["state"] = problem
		}
		target = u
	}
	errCode, errDesc := req.GetError(), req.GetErrorDescription()
	if errCode != "" {
		if p := tokenProblem(errCode, 256); p != "" {
			v["error"] = p
		}
		if p := textProblem(errDesc, 1024); p != "" {
			v["error_description"] = p
		}
	} else if p := tokenProblem(req.GetCode(), maxCodeLen); p != "" {
		v["code"] = p
	}
	if len(v) > 0 {
		return "", v
	}
	q := target.Query()
	for _, k := range []string{"code", "state", "error", "error_description"} {
		q.Del(k)
	}
	if errCode != "" {
		q.Set("error", errCode)
		if errDesc != "" {
			q.Set("error_description", errDesc)
		}
	} else {
		q.Set("code", req.GetCode())
	}
	q.Set("state", state)
	target.RawQuery = q.Encode()
	return target.String(), nil
}

// returnURL reads the page to return to from state: an absolute URL, or
// one encoded in base64url (for authorize requests that keep state free
// of URL syntax), on an allowed origin.
func (s *Service) returnURL(state string) (*url.URL, string) {
	raw := state
	if !strings.Contains(raw, "://") {
		dec, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(raw, "="))
		if err != nil || !strings.Contains(string(dec), "://") {
			return nil, "must be the absolute URL of the page to return to (or that URL in base64url)"
		}
		raw = string(dec)
		if p := textProblem(raw, maxStateLen); p != "" {
			return nil, p
		}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, "must name an absolute http(s) URL without credentials"
	}
	origin, err := canonicalOrigin(raw)
	if err != nil || !slices.Contains(s.callbackOrigins, origin) {
		if len(s.callbackOrigins) == 0 {
			return nil, "names a page outside the allowed origins (none configured: set ESIGNET_CALLBACK_ALLOWED_ORIGINS or CLIENT_APP_URL)"
		}
		return nil, "names a page outside the allowed origins"
	}
	return u, ""
}

// callbackOrigins is ESIGNET_CALLBACK_ALLOWED_ORIGINS, or CLIENT_APP_URL's
// origin, canonical.
func callbackOrigins(c ESignetConfig) []string {
	var out []string
	for _, o := range c.CallbackAllowedOrigins {
		if co, err := canonicalOrigin(o); err == nil {
			out = append(out, co)
		}
	}
	if len(out) == 0 && c.ClientAppURL != nil {
		if co, err := canonicalOrigin(c.ClientAppURL.String()); err == nil {
			out = append(out, co)
		}
	}
	return out
}

// canonicalOrigin reduces a URL to scheme://host[:port], lower case,
// without a default port.
func canonicalOrigin(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("%q is not a URL", raw)
	}
	scheme := strings.ToLower(u.Scheme)
	if (scheme != "http" && scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an http(s) origin", raw)
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}
