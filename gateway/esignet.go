package gateway

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/mosipcrvs/bridge/pkg/rpc"
	esignetverifyv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/esignetverify/v1"
)

// oidpFields names the REST fields of the service's field violations.
var oidpFields = map[string]string{"code": "code", "state": "state", "client_id": "clientId", "redirect_uri": "redirectUri"}

// oidpUserInfo serves POST /esignet/get-oidp-user-info?code=…&state=…
// with {clientId, redirectUri}: the browser, signed in to OpenCRVS, hands
// over the code eSignet redirected it with; the answer is the verified
// person in the JSON the OpenCRVS forms read.
func (g *Gateway) oidpUserInfo(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	body, ok := g.readBody(w, r)
	if !ok {
		return
	}
	req, violations := parseOIDPRequest(r.URL.Query(), body)
	if len(violations) > 0 {
		g.writeRPCError(w, r, rpc.InvalidArgument("invalid eSignet user info request", violations))
		return
	}
	resp, err := g.clients.esignetVerify.ExchangeAuthorizationCode(r.Context(), req)
	if err != nil {
		g.writeRPCError(w, r, renameViolations(err, oidpFields))
		return
	}
	form := resp.GetFormData().AsMap()
	b, err := json.Marshal(form)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "INTERNAL", msgInternal, nil)
		return
	}
	h := w.Header()
	h.Set("Content-Type", jsonContentType)
	// Personal data: no cache may keep it.
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// parseOIDPRequest checks the query and body shape of the eSignet route,
// naming every problem at once; values are checked by the service.
func parseOIDPRequest(q url.Values, body []byte) (*esignetverifyv1.ExchangeAuthorizationCodeRequest, map[string]string) {
	v := map[string]string{}
	req := &esignetverifyv1.ExchangeAuthorizationCodeRequest{
		Code:  queryParam(q, "code", v),
		State: queryParam(q, "state", v),
	}
	if len(body) == 0 {
		v["clientId"] = "is required (JSON body {clientId, redirectUri})"
		v["redirectUri"] = "is required (JSON body {clientId, redirectUri})"
		return req, v
	}
	fields, ok := jsonObject(body, v)
	if !ok {
		return req, v
	}
	req.ClientId = stringField(fields, "clientId", true, v)
	req.RedirectUri = stringField(fields, "redirectUri", true, v)
	return req, v
}

// queryParam reads a required query parameter given exactly once.
func queryParam(q url.Values, name string, v map[string]string) string {
	vals := q[name]
	switch {
	case len(vals) == 0 || vals[0] == "":
		v[name] = "is required in the query string"
		return ""
	case len(vals) > 1:
		v[name] = "must be given once"
		return ""
	}
	return vals[0]
}

// oauthCallback serves GET /oauth/callback, the one redirect URI a
// country can register at eSignet instead of one per form page: eSignet
// sends the browser here with code and state (or error), and the browser
// is sent on to the OpenCRVS page the state names, once esignet-verify
// has checked that page is on an allowed origin. No OpenCRVS token is
// involved: it is a browser redirect.
func (g *Gateway) oauthCallback(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	q := r.URL.Query()
	resp, err := g.clients.esignetVerify.ResolveAuthorizationCallback(r.Context(), &esignetverifyv1.ResolveAuthorizationCallbackRequest{
		Code: q.Get("code"), State: q.Get("state"), Error: q.Get("error"), ErrorDescription: q.Get("error_description"),
	})
	if err != nil {
		g.writeRPCError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	// The code is in the URL; the next page must not leak it as Referer.
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Location", resp.GetRedirectUrl())
	w.WriteHeader(http.StatusFound)
}
