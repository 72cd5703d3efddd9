package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/felixge/httpsnoop"
)

// reqState is what the outer middlewares learn from the inner ones about a
// request: the route the mux matched and whether the body hit the limit.
type reqState struct {
	route        string
	bodyTooLarge atomic.Bool
}

type stateKey struct{}

func stateFrom(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey{}).(*reqState)
	return st
}

func routeFromContext(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil {
		return st.route
	}
	return ""
}

// accessLog logs one line per request and turns a panic into a 500. The
// line has the route template rather than the path, and no query string,
// headers or body: paths carry ids, queries carry eSignet codes, headers
// carry tokens and bodies carry personal data.
func (g *Gateway) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		st := &reqState{}
		r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
		status := 0
		ww := httpsnoop.Wrap(w, httpsnoop.Hooks{
			WriteHeader: func(next httpsnoop.WriteHeaderFunc) httpsnoop.WriteHeaderFunc {
				return func(code int) {
					if status == 0 {
						status = code
					}
					next(code)
				}
			},
			Write: func(next httpsnoop.WriteFunc) httpsnoop.WriteFunc {
				return func(b []byte) (int, error) {
					if status == 0 {
						status = http.StatusOK
					}
					return next(b)
				}
			},
		})
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				g.logger.ErrorContext(r.Context(), "panic serving request",
					slog.String("method", r.Method), slog.String("route", st.route),
					slog.String("panic", fmt.Sprint(p)), slog.String("stack", string(debug.Stack())))
				if status == 0 {
					writeError(ww, http.StatusInternalServerError, "INTERNAL", msgInternal, nil)
				}
				status = http.StatusInternalServerError
			}
			if status == 0 {
				status = http.StatusOK
			}
			route := st.route
			if route == "" {
				route = "unmatched"
			}
			level := slog.LevelInfo
			if isProbe(r.URL.Path) && status < 500 {
				level = slog.LevelDebug
			}
			g.logger.LogAttrs(r.Context(), level, "http request",
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.Int("status", status),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			)
		}()
		next.ServeHTTP(ww, r)
	})
}

// trimTrailingSlash makes "/v1/auth-token/clients/" reach the route
// "/v1/auth-token/clients", as the TypeScript mosip-api's
// ignoreTrailingSlash did for every route (MOSIP calls
// /websub/callback/ with the slash).
func trimTrailingSlash(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
			u := *r.URL
			u.Path = strings.TrimRight(p, "/")
			if u.Path == "" {
				u.Path = "/"
			}
			if u.RawPath != "" {
				u.RawPath = strings.TrimRight(u.RawPath, "/")
				if u.RawPath == "" {
					u.RawPath = "/"
				}
			}
			r2 := new(http.Request)
			*r2 = *r
			r2.URL = &u
			r = r2
		}
		next.ServeHTTP(w, r)
	})
}

// limitedBody records that the body limit was hit, so the error handler
// can answer 413 even though grpc-gateway reports the read failure as a
// plain InvalidArgument.
type limitedBody struct {
	io.ReadCloser
	st *reqState
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var tooLarge *http.MaxBytesError
	if err != nil && b.st != nil && errors.As(err, &tooLarge) {
		b.st.bodyTooLarge.Store(true)
	}
	return n, err
}

// readBody reads a raw route's request body. On failure it has already
// answered (413 over the limit, 400 otherwise) and returns false.
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(r.Body)
	if err == nil {
		return b, true
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		writeBodyTooLarge(w)
	} else {
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Could not read the request body", nil)
	}
	return nil, false
}

// cors answers the browser for the one origin OpenCRVS's client runs on;
// the e-Signet call is cross-origin with an Authorization header, so the
// preflight must succeed without a token. Other origins get no CORS
// headers, so browsers refuse to hand them the responses.
type cors struct {
	origin string // canonical, from CLIENT_APP_URL
}

const (
	corsAllowMethods = "GET, POST, DELETE, OPTIONS"
	corsAllowHeaders = "Content-Type, Authorization"
	corsMaxAge       = "600"
)

func (c *cors) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		// Answers differ by Origin, so shared caches must key on it.
		h.Add("Vary", "Origin")
		allowed := origin != "" && c.allows(origin)
		if r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			if st := stateFrom(r.Context()); st != nil {
				st.route = "OPTIONS preflight"
			}
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			if allowed {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Allow-Methods", corsAllowMethods)
				h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
				h.Set("Access-Control-Max-Age", corsMaxAge)
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin)
		}
		next.ServeHTTP(w, r)
	})
}

func (c *cors) allows(origin string) bool {
	o, err := canonicalOrigin(origin)
	return err == nil && o == c.origin
}

// canonicalOrigin reduces a URL or Origin header to scheme://host[:port]
// in lower case without a default port, so "https://Register.example.org/"
// and the browser's "https://register.example.org" compare equal.
func canonicalOrigin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("%q is not an http(s) origin", raw)
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
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
