package gateway

import (
	"context"
	"net/http"
	"regexp"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// routePolicy is what the edge enforces on a route before its handler
// runs. The zero value is the safe default: OpenCRVS JWT required and the
// default deadline.
type routePolicy struct {
	// public routes skip the OpenCRVS JWT check: probes, the OpenAPI
	// document and MOSIP's WebSub deliveries (authenticated by their HMAC).
	public bool
	// timeout is the route's deadline; zero means Config.RequestTimeout.
	timeout time.Duration
	// anyScope, when set, refuses (403) tokens that carry none of these
	// scopes.
	anyScope []string
}

// deliveryScopes may operate the dead letters: those who may reject or
// register a record (OpenCRVS 1.9/2.0 and 2.1 names).
var deliveryScopes = []string{"record.reject-registration", "record.register"}

// route is a hand-written endpoint. To add one (e.g. POST
// /events/registration): write its handler, a runtime.HandlerFunc that reads
// path parameters from its third argument and calls a service through one
// of g.backends' connections, and append it to rawRoutes. The edge then
// applies CORS, trailing-slash tolerance, the JWT check (unless public),
// the body limit, the deadline, tracing and the access log. Use
// g.readBody for the body (it answers 413) and g.writeRPCError for gRPC
// errors so the error mapping stays in one place.
type route struct {
	method string
	// template is a grpc-gateway path template: literal segments and
	// {name} variables, as in api_config.yaml.
	template string
	policy   routePolicy
	handler  runtime.HandlerFunc
}

const (
	// readyTimeout bounds each backend health check of /readyz: a hung
	// backend must not hold the probe longer than the kubelet's default 1 s
	// probe timeout, and a healthy one answers in milliseconds.
	readyTimeout = time.Second
	// operatorTimeout is for read-only operator routes: they are cheap, and
	// an operator is better served by a quick 504 than a 14 s wait.
	operatorTimeout = 5 * time.Second
	// esignetTimeout covers eSignet's token and userinfo calls; the
	// browser gives up after 5 s anyway.
	esignetTimeout = 10 * time.Second
)

// rawRoutes lists the hand-written routes.
func (g *Gateway) rawRoutes() []route {
	return []route{
		{method: http.MethodGet, template: "/healthz", policy: routePolicy{public: true, timeout: time.Second}, handler: g.healthz},
		{method: http.MethodGet, template: "/readyz", policy: routePolicy{public: true, timeout: readyTimeout + time.Second}, handler: g.readyz},
		{method: http.MethodGet, template: "/openapi.json", policy: routePolicy{public: true, timeout: time.Second}, handler: serveOpenAPI},
		// The routes OpenCRVS country configurations call (the TypeScript
		// mosip-api contract), with the record-specific token.
		{method: http.MethodPost, template: "/events/registration", handler: g.registration},
		{method: http.MethodPost, template: "/events/update-biographics", handler: g.updateBiographics},
		// Identity verification (esignet-verify): the country config's
		// /verify, the browser's eSignet code exchange with the user's
		// session token, and eSignet's redirect to the static callback.
		{method: http.MethodPost, template: "/verify", handler: g.verify},
		{method: http.MethodPost, template: "/esignet/get-oidp-user-info", policy: routePolicy{timeout: esignetTimeout}, handler: g.oidpUserInfo},
		{method: http.MethodGet, template: "/oauth/callback", policy: routePolicy{public: true, timeout: operatorTimeout}, handler: g.oauthCallback},
		// MOSIP's WebSub hub: deliveries (HMAC-signed, no JWT) and intent
		// verification.
		{method: http.MethodPost, template: "/websub/callback", policy: routePolicy{public: true, timeout: operatorTimeout}, handler: g.websubDelivery},
		{method: http.MethodGet, template: "/websub/callback", policy: routePolicy{public: true, timeout: operatorTimeout}, handler: g.websubIntent},
		{method: http.MethodGet, template: "/debug/transactions", policy: routePolicy{timeout: operatorTimeout}, handler: g.listDebugTransactions},
		{method: http.MethodDelete, template: "/debug/transactions/{id}", policy: routePolicy{timeout: operatorTimeout}, handler: g.deleteDebugTransaction},
	}
}

// rpcRoutePolicies overrides the default policy of routes mapped by
// api_config.yaml, keyed "METHOD template" with the template exactly as
// api_config.yaml writes it. Routes missing here need a JWT and get
// Config.RequestTimeout.
var rpcRoutePolicies = map[string]routePolicy{
	"GET /v1/auth-token/clients": {timeout: operatorTimeout},
	"GET /v1/subscriptions":      {timeout: operatorTimeout},
	// Dead letters: reading them needs record search, acting on them the
	// scopes that decide a record's fate.
	"GET /v1/deliveries":                     {timeout: operatorTimeout, anyScope: []string{"record.search", "search.birth"}},
	"POST /v1/deliveries/{event_id}:replay":  {timeout: operatorTimeout, anyScope: deliveryScopes},
	"POST /v1/deliveries/{event_id}:discard": {timeout: operatorTimeout, anyScope: deliveryScopes},
}

// routePolicies merges the raw routes' policies with rpcRoutePolicies and
// returns the longest deadline any route can have.
func (g *Gateway) routePolicies() (map[string]routePolicy, time.Duration) {
	policies := make(map[string]routePolicy, len(rpcRoutePolicies))
	longest := g.cfg.RequestTimeout
	add := func(key string, p routePolicy) {
		if p.timeout == 0 {
			p.timeout = g.cfg.RequestTimeout
		}
		longest = max(longest, p.timeout)
		policies[key] = p
	}
	for k, p := range rpcRoutePolicies {
		add(k, p)
	}
	for _, rt := range g.rawRoutes() {
		add(rt.method+" "+rt.template, rt.policy)
	}
	return policies, longest
}

func (g *Gateway) policyFor(key string) routePolicy {
	if p, ok := g.policies[key]; ok {
		return p
	}
	return routePolicy{timeout: g.cfg.RequestTimeout}
}

// captureSuffix turns grpc-gateway's "{name=*}" back into the "{name}" of
// the template, so keys, span names and logs read like api_config.yaml.
var captureSuffix = regexp.MustCompile(`\{([^=}]+)=\*\}`)

// routeTemplate is the template of the route the mux matched.
func routeTemplate(ctx context.Context) string {
	p, ok := runtime.HTTPPattern(ctx)
	if !ok {
		return ""
	}
	return captureSuffix.ReplaceAllString(p.String(), "{$1}")
}

// routeMiddleware runs on every matched route, generated or raw: it names
// the span and access-log line after the route template (never the raw path
// with its ids), then enforces the route's policy.
func (g *Gateway) routeMiddleware(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		ctx := r.Context()
		tmpl := routeTemplate(ctx)
		key := r.Method + " " + tmpl
		if st := stateFrom(ctx); st != nil {
			st.route = key
		}
		span := trace.SpanFromContext(ctx)
		span.SetName(key)
		span.SetAttributes(attribute.String("http.route", tmpl))
		if l, ok := otelhttp.LabelerFromContext(ctx); ok {
			l.Add(attribute.String("http.route", tmpl))
		}

		p := g.policyFor(key)
		if !p.public {
			if r = g.authenticate(w, r); r == nil {
				return
			}
			if len(p.anyScope) > 0 && !hasAnyScope(r, p.anyScope) {
				writeRaw(w, http.StatusForbidden, forbiddenBody)
				return
			}
		}
		if r.ContentLength > g.cfg.MaxBodyBytes {
			writeBodyTooLarge(w)
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, g.cfg.MaxBodyBytes), st: stateFrom(ctx)}
		}
		ctx, cancel := context.WithTimeout(r.Context(), p.timeout)
		defer cancel()
		next(w, r.WithContext(ctx), params)
	}
}

func isProbe(path string) bool { return path == "/healthz" || path == "/readyz" }

func hasAnyScope(r *http.Request, scopes []string) bool {
	c, ok := ClaimsFromContext(r.Context())
	if !ok {
		return false
	}
	for _, s := range scopes {
		if c.HasScope(s) {
			return true
		}
	}
	return false
}
