// Package gateway is the REST edge of the bridge: the HTTP contract that
// OpenCRVS (country config and browser client) and operators call, mapped
// onto the gRPC services. It checks OpenCRVS JWTs, answers CORS, limits
// bodies, sets deadlines, maps gRPC errors to HTTP once and serves the
// OpenAPI document and the health probes.
//
// Routes come from two places: the RPCs that gateway/api_config.yaml maps
// (registered through the generated Register*HandlerClient functions, so
// every call goes through the gRPC client's interceptors and tracing), and
// hand-written raw routes listed in rawRoutes (routes.go) for wire contracts
// that are not a plain RPC. docs/gateway.md describes both.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/mosipcrvs/bridge/pkg/rpc"
	authtokenv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/authtoken/v1"
	esignetverifyv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/esignetverify/v1"
	notificationv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/notification/v1"
	packetv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/packet/v1"
)

const (
	// readHeaderTimeout stops clients that open connections and send
	// headers slowly from holding them.
	readHeaderTimeout = 10 * time.Second
	// idleTimeout closes idle keep-alive connections.
	idleTimeout = 2 * time.Minute
	// maxHeaderBytes leaves room for OpenCRVS tokens (a few KiB with their
	// scope lists) and little else.
	maxHeaderBytes = 64 << 10
	// shutdownGrace is added to the longest route deadline when draining,
	// so requests in flight at shutdown can finish and be answered.
	shutdownGrace = 2 * time.Second
)

// backend is one gRPC service the gateway talks to.
type backend struct {
	name string
	conn *grpc.ClientConn
}

type clients struct {
	authToken     authtokenv1.AuthTokenServiceClient
	packet        packetv1.PacketServiceClient
	esignetVerify esignetverifyv1.EsignetVerifyServiceClient
	notification  notificationv1.NotificationServiceClient
}

// Gateway is the REST edge. Build it with New, serve Handler (or use Run),
// and Close it to release the gRPC connections.
type Gateway struct {
	cfg      Config
	logger   *slog.Logger
	backends []backend
	mux      *runtime.ServeMux
	handler  http.Handler
	keys     *keyStore
	verifier *verifier
	cors     *cors
	// policies holds the policy of every route with a non-default one,
	// keyed "METHOD template". Written in New only.
	policies map[string]routePolicy
	// maxTimeout is the longest deadline any route may have.
	maxTimeout time.Duration
	// clients are what handlers call; generated routes and raw routes
	// share them, and with them the connections' interceptors and tracing.
	clients clients

	stop      context.CancelFunc
	closeOnce sync.Once
	closeErr  error
}

// New builds a gateway for cfg. It validates cfg and creates lazily
// connecting gRPC clients for the four services, so it succeeds while they
// are still starting; /readyz tells when they are reachable. The OpenCRVS
// public key is fetched on the first authenticated request (Run starts
// fetching it at once).
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gateway: invalid configuration: %w", err)
	}
	if logger == nil {
		return nil, errors.New("gateway: a logger is required")
	}
	origin, err := canonicalOrigin(cfg.CRVS.ClientAppURL.String())
	if err != nil {
		return nil, fmt.Errorf("gateway: CLIENT_APP_URL: %w", err)
	}
	g := &Gateway{cfg: cfg, logger: logger, cors: &cors{origin: origin}}
	g.policies, g.maxTimeout = g.routePolicies()

	base, stop := context.WithCancel(context.WithoutCancel(ctx))
	g.stop = stop
	keyClient := &http.Client{Transport: otelhttp.NewTransport(http.DefaultTransport), Timeout: keyFetchTimeout}
	g.keys = newKeyStore(base, cfg.CRVS.PublicKeyURL.String(), keyClient, cfg.KeyRefetchInterval, logger)
	g.verifier = newVerifier(g.keys)

	for _, b := range []struct{ name, target string }{
		{"auth-token", cfg.AuthTokenAddr},
		{"packet", cfg.PacketAddr},
		{"esignet-verify", cfg.EsignetVerifyAddr},
		{"notification", cfg.NotificationAddr},
	} {
		// The client-side default deadline must not cut a route's longer one;
		// each request's own context deadline is what normally applies.
		conn, err := rpc.Dial(b.target, rpc.ClientOptions{TLS: cfg.TLS, Timeout: g.maxTimeout})
		if err != nil {
			g.Close()
			return nil, fmt.Errorf("gateway: %s: %w", b.name, err)
		}
		g.backends = append(g.backends, backend{name: b.name, conn: conn})
	}
	g.clients = clients{
		authToken:     authtokenv1.NewAuthTokenServiceClient(g.backends[0].conn),
		packet:        packetv1.NewPacketServiceClient(g.backends[1].conn),
		esignetVerify: esignetverifyv1.NewEsignetVerifyServiceClient(g.backends[2].conn),
		notification:  notificationv1.NewNotificationServiceClient(g.backends[3].conn),
	}

	g.mux = runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: true, UseProtoNames: false},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true},
		}),
		runtime.WithErrorHandler(g.errorHandler),
		runtime.WithRoutingErrorHandler(g.routingErrorHandler),
		runtime.WithMiddlewares(g.routeMiddleware),
		// Identity reaches the services through the request messages the
		// edge builds, never through client-controlled headers: forwarding
		// Grpc-Metadata-* would let callers inject metadata, and forwarding
		// backend metadata would leak internals into responses.
		runtime.WithIncomingHeaderMatcher(noHeaders),
		runtime.WithOutgoingHeaderMatcher(noHeaders),
		runtime.WithOutgoingTrailerMatcher(noHeaders),
		// A form POST must not be re-dispatched to a GET route or change
		// its method through a header: every route answers only its method.
		runtime.WithDisablePathLengthFallback(),
		runtime.WithDisableHTTPMethodOverride(),
	)
	if err := g.registerRoutes(ctx); err != nil {
		g.Close()
		return nil, err
	}

	var h http.Handler = g.mux
	h = g.cors.wrap(h)
	h = trimTrailingSlash(h)
	h = g.accessLog(h)
	g.handler = otelhttp.NewHandler(h, "gateway",
		// Probes every few seconds would drown the traces.
		otelhttp.WithFilter(func(r *http.Request) bool { return !isProbe(r.URL.Path) }),
	)
	return g, nil
}

// registerRoutes puts the generated RPC routes and then the raw routes on
// the mux. Later registrations win on overlapping templates, so a raw
// route can replace a generated one.
func (g *Gateway) registerRoutes(ctx context.Context) error {
	if err := authtokenv1.RegisterAuthTokenServiceHandlerClient(ctx, g.mux, g.clients.authToken); err != nil {
		return fmt.Errorf("gateway: registering AuthTokenService routes: %w", err)
	}
	if err := packetv1.RegisterPacketServiceHandlerClient(ctx, g.mux, g.clients.packet); err != nil {
		return fmt.Errorf("gateway: registering PacketService routes: %w", err)
	}
	if err := esignetverifyv1.RegisterEsignetVerifyServiceHandlerClient(ctx, g.mux, g.clients.esignetVerify); err != nil {
		return fmt.Errorf("gateway: registering EsignetVerifyService routes: %w", err)
	}
	if err := notificationv1.RegisterNotificationServiceHandlerClient(ctx, g.mux, g.clients.notification); err != nil {
		return fmt.Errorf("gateway: registering NotificationService routes: %w", err)
	}
	for _, rt := range g.rawRoutes() {
		if err := g.mux.HandlePath(rt.method, rt.template, rt.handler); err != nil {
			return fmt.Errorf("gateway: route %s %s: %w", rt.method, rt.template, err)
		}
	}
	return nil
}

func noHeaders(string) (string, bool) { return "", false }

// Handler is the gateway's HTTP handler, tracing included.
func (g *Gateway) Handler() http.Handler { return g.handler }

// Close releases the gRPC connections and stops background key fetches.
// It is safe to call more than once.
func (g *Gateway) Close() error {
	g.closeOnce.Do(func() {
		g.stop()
		var errs []error
		for _, b := range g.backends {
			if err := b.conn.Close(); err != nil {
				errs = append(errs, fmt.Errorf("closing %s connection: %w", b.name, err))
			}
		}
		g.closeErr = errors.Join(errs...)
	})
	return g.closeErr
}

// Run serves the gateway on lis until ctx is done, then stops accepting,
// lets requests in flight finish (bounded by the longest route deadline
// plus a short grace) and closes the gateway. It returns nil after a clean
// shutdown.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, lis net.Listener) error {
	g, err := New(ctx, cfg, logger)
	if err != nil {
		_ = lis.Close()
		return err
	}
	defer g.Close()

	// Warm the key up so the first OpenCRVS request does not wait for it; a
	// failure is logged and retried on demand.
	go func() { _, _ = g.keys.current(context.WithoutCancel(ctx)) }()

	srv := &http.Server{
		Handler:           g.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       g.maxTimeout,
		WriteTimeout:      g.maxTimeout + shutdownGrace,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	logger.InfoContext(ctx, "gateway listening", slog.String("addr", lis.Addr().String()))

	select {
	case err := <-served:
		return fmt.Errorf("gateway: serving HTTP: %w", err)
	case <-ctx.Done():
	}
	logger.Info("gateway shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), g.maxTimeout+shutdownGrace)
	defer cancel()
	shutdownErr := srv.Shutdown(sctx)
	if shutdownErr != nil {
		// Requests still running past their deadline are cut off.
		_ = srv.Close()
		shutdownErr = fmt.Errorf("gateway: graceful shutdown: %w", shutdownErr)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		shutdownErr = errors.Join(shutdownErr, fmt.Errorf("gateway: serving HTTP: %w", err))
	}
	if err := g.Close(); err != nil {
		shutdownErr = errors.Join(shutdownErr, err)
	}
	logger.Info("gateway stopped")
	return shutdownErr
}
