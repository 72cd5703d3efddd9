// Package notification is the notification service: it keeps the WebSub
// subscriptions to MOSIP's hub alive, stores every verified delivery
// before acknowledging it, and turns credentials and packet-status events
// into confirmations (accept or reject) of the right OpenCRVS record —
// retried while OpenCRVS is down, dead-lettered with a reason when retrying
// cannot help.
package notification

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"google.golang.org/grpc"

	"github.com/mosipcrvs/bridge/pkg/mosipcrypto"
	"github.com/mosipcrvs/bridge/pkg/rpc"
	"github.com/mosipcrvs/bridge/pkg/sqlstore"
	authtokenv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/authtoken/v1"
	packetv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/packet/v1"
	"github.com/mosipcrvs/bridge/services/notification/internal/credential"
	"github.com/mosipcrvs/bridge/services/notification/internal/store"
	"github.com/mosipcrvs/bridge/services/notification/opencrvs"
	"github.com/mosipcrvs/bridge/services/notification/websub"
)

// WebSubClientName is the auth-token client whose token authenticates the
// bridge at the hub (MOSIP_WEBSUB_AUTH_*; its client id is the partner id).
const WebSubClientName = "websub"

// maxBody bounds a delivery; MOSIP's credential events are a few kB.
const maxBody = 1 << 20

// Service is a running notification service.
type Service struct {
	cfg      Config
	log      *slog.Logger
	db       *store.DB
	queue    sqlstore.Queue
	verifier *credential.Verifier
	crvs     *opencrvs.Client
	subs     *websub.Manager
	packet   packetv1.PacketServiceClient
	conns    []*grpc.ClientConn
	secrets  []topicSecret
	// secretKeys are the secrets alone, in the same order, for the hot path.
	secretKeys [][]byte
	metrics    *metrics
	now        func() time.Time
	// handling holds the registration ids whose deliveries a worker of
	// this process is handling (registration id → channel closed when
	// done): see claimRegistration.
	handling sync.Map
	// stop ends what Start runs besides the queue; bg waits for it.
	stop context.CancelFunc
	bg   sync.WaitGroup
}

// topicSecret is a hub.secret and the topics it signs.
type topicSecret struct {
	secret []byte
	topics []string
}

// New opens the inbox, loads the keys and connects to auth-token, packet,
// MOSIP and OpenCRVS clients. Nothing runs until Start.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Service, error) {
	if logger == nil {
		return nil, errors.New("notification: logger is required")
	}
	if err := errors.Join(cfg.Validate(), cfg.TLS.Validate()); err != nil {
		return nil, fmt.Errorf("notification: invalid configuration: %w", err)
	}
	s := &Service{cfg: cfg, log: logger, now: cfg.Clock}
	if s.now == nil {
		s.now = time.Now
	}
	ok := false
	defer func() {
		if !ok {
			_ = s.Close()
		}
	}()
	var err error
	if s.metrics, err = newMetrics(s); err != nil {
		return nil, err
	}
	ks, err := mosipcrypto.LoadKeystoreFile(cfg.KeystorePath, cfg.KeystorePassword.Value())
	if err != nil {
		return nil, fmt.Errorf("notification: DECRYPT_P12_FILE_PATH: %w", err)
	}
	var certs []*x509.Certificate
	for _, p := range cfg.SigningCertPaths {
		c, err := mosipcrypto.LoadCertificateFile(p)
		if err != nil {
			return nil, fmt.Errorf("notification: MOSIP_CREDENTIAL_SIGNING_CERT_PATHS: %w", err)
		}
		certs = append(certs, c)
	}
	contexts := map[string][]byte{}
	for _, pair := range cfg.ContextFiles {
		u, f, _ := strings.Cut(pair, "=")
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("notification: MOSIP_VC_CONTEXT_FILES: %w", err)
		}
		contexts[u] = b
	}
	if cfg.SkipVerification {
		logger.Warn("CREDENTIAL VERIFICATION IS DISABLED (MOSIP_VC_VERIFICATION_DISABLED=true): forged or tampered credentials will be accepted")
	}
	s.verifier, err = credential.New(credential.Options{
		Keystore: ks, SigningCerts: certs, VerificationMethods: cfg.VerificationMethods,
		Canonicalization: cfg.Canonicalization, Contexts: contexts, ContextURLs: cfg.ContextURLs,
		DataShareHosts: cfg.DataShareHosts, SkipVerification: cfg.SkipVerification,
		Fetcher: credential.NewFetcher(cfg.Timeout, 4<<20, cfg.AllowPrivateTargets),
	})
	if err != nil {
		return nil, fmt.Errorf("notification: %w", err)
	}
	s.crvs, err = opencrvs.New(opencrvs.Options{
		GatewayURL: cfg.OpenCRVSGatewayURL, AuthURL: cfg.OpenCRVSAuthURL,
		ClientID: cfg.OpenCRVSClientID, ClientSecret: cfg.OpenCRVSClientSecret.Value(),
		Timeout: cfg.Timeout, Logger: logger.With(slog.String("component", "opencrvs")),
	})
	if err != nil {
		return nil, fmt.Errorf("notification: %w", err)
	}

	dial := func(addr string) (*grpc.ClientConn, error) {
		conn, err := rpc.Dial(addr, rpc.ClientOptions{Timeout: cfg.Timeout, TLS: cfg.TLS})
		if err == nil {
			s.conns = append(s.conns, conn)
		}
		return conn, err
	}
	atConn, err := dial(cfg.AuthTokenAddr)
	if err != nil {
		return nil, fmt.Errorf("notification: auth-token: %w", err)
	}
	pkConn, err := dial(cfg.PacketAddr)
	if err != nil {
		return nil, fmt.Errorf("notification: packet: %w", err)
	}
	s.packet = packetv1.NewPacketServiceClient(pkConn)
	// The hub token's expiry is auth-token's, on the real clock.
	hub := &hubToken{client: authtokenv1.NewAuthTokenServiceClient(atConn), now: time.Now}

	credSecrets := [][]byte{[]byte(cfg.Secret.Value())}
	if cfg.PreviousSecret != "" {
		credSecrets = append(credSecrets, []byte(cfg.PreviousSecret.Value()))
	}
	subs := []websub.Subscription{{Name: "credential", Topic: cfg.credentialTopic(), Callback: cfg.CallbackURL.String(), Secret: cfg.Secret.Value()}}
	for _, sec := range credSecrets {
		s.secrets = append(s.secrets, topicSecret{secret: sec, topics: []string{cfg.credentialTopic()}})
	}
	if cfg.StatusSubscription {
		cb, sec := cfg.CallbackURL, cfg.Secret
		if cfg.StatusCallbackURL != nil {
			cb = cfg.StatusCallbackURL
		}
		if cfg.StatusSecret != "" {
			sec = cfg.StatusSecret
		}
		subs = append(subs, websub.Subscription{Name: "status", Topic: cfg.statusTopic(), Callback: cb.String(), Secret: sec.Value()})
		s.secrets = append(s.secrets, topicSecret{secret: []byte(sec.Value()), topics: []string{cfg.statusTopic()}})
		if cfg.StatusSecret == "" && cfg.PreviousSecret != "" {
			s.secrets = append(s.secrets, topicSecret{secret: []byte(cfg.PreviousSecret.Value()), topics: []string{cfg.statusTopic()}})
		}
	}
	s.secrets = mergeSecrets(s.secrets)
	for _, ts := range s.secrets {
		s.secretKeys = append(s.secretKeys, ts.secret)
	}
	s.subs, err = websub.New(websub.Options{
		HubURL: cfg.HubURL, Subscriptions: subs, Logger: logger.With(slog.String("component", "websub")),
		ResubscribeInterval: cfg.ResubscribeInterval,
		HTTPTimeout:         cfg.Timeout,
		Token:               hub.Get,
		// The hub refused the token: drop exactly that one.
		Invalidate: hub.Invalidate,
	})
	if err != nil {
		return nil, fmt.Errorf("notification: %w", err)
	}

	if cfg.DatabaseURL != "" {
		s.db, err = store.OpenPostgres(ctx, cfg.DatabaseURL, store.Options{Logger: logger, Clock: s.now})
	} else {
		if err := os.MkdirAll(filepath.Dir(cfg.SQLitePath), 0o700); err != nil {
			return nil, fmt.Errorf("notification: %w", err)
		}
		s.db, err = store.OpenSQLite(ctx, cfg.SQLitePath, store.Options{Logger: logger, Clock: s.now})
	}
	if err != nil {
		return nil, fmt.Errorf("notification: store: %w", err)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &worker{s: s})
	s.queue, err = s.db.NewQueue(&river.Config{
		Workers:     workers,
		Queues:      map[string]river.QueueConfig{store.QueueName: {MaxWorkers: cfg.Workers}},
		RetryPolicy: retryPolicy{base: cfg.RetryBase, cap: cfg.RetryCap},
		// A job left running by a replica that died is retried once it
		// cannot still be running (River's default waits an hour).
		JobTimeout: jobTimeout(cfg), RescueStuckJobsAfter: rescueAfter(cfg),
		// Deliveries arrive in bursts; a short poll keeps receipt-to-accept
		// latency low when the insert notification is missed (SQLite has
		// none). Under a backlog River fetches again when a worker frees
		// up, but no sooner than the cooldown after the previous fetch: at
		// 20 ms a freed worker waited 10 ms on average and the fetched jobs
		// started in bursts; at 5 ms 8 workers confirm about 30% more
		// credentials per second, callbacks answer as fast.
		FetchPollInterval: 100 * time.Millisecond, FetchCooldown: 5 * time.Millisecond,
		MaxAttempts: 1_000_000, // the retry horizon decides, not a count
	})
	if err != nil {
		return nil, fmt.Errorf("notification: %w", err)
	}
	ok = true
	return s, nil
}

// jobTimeout bounds one processing attempt (several calls).
func jobTimeout(cfg Config) time.Duration { return 4 * cfg.Timeout }

// rescueAfter is when River retries a job a dead replica left running.
func rescueAfter(cfg Config) time.Duration { return jobTimeout(cfg) + time.Minute }

// Start begins processing, keeping subscriptions alive, giving deliveries
// that lost their job a new one and, when configured, looking for packets
// MOSIP never answered; ctx ends them all.
func (s *Service) Start(ctx context.Context) error {
	if err := s.queue.Start(ctx); err != nil {
		return fmt.Errorf("notification: queue: %w", err)
	}
	ctx, s.stop = context.WithCancel(ctx)
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		if err := s.subs.Run(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("websub subscriptions stopped", slog.String("err", err.Error()))
		}
	}()
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.runRequeue(ctx)
	}()
	if s.cfg.RejectAfterSilence > 0 {
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			s.runSilenceSweeps(ctx)
		}()
	}
	return nil
}

// Close stops the workers (waiting a little for running jobs) and the
// background work, and closes connections.
func (s *Service) Close() error {
	if s.stop != nil {
		s.stop()
		s.bg.Wait()
	}
	var errs []error
	if s.queue != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, s.queue.Stop(ctx))
		cancel()
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	for _, c := range s.conns {
		errs = append(errs, c.Close())
	}
	if s.metrics != nil {
		s.metrics.close()
	}
	return errors.Join(errs...)
}

// drainTimeout bounds the graceful stop of the gRPC server.
const drainTimeout = 10 * time.Second

// Run serves the notification gRPC API on lis until ctx is done.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, lis net.Listener) error {
	svc, err := New(ctx, cfg, logger)
	if err != nil {
		_ = lis.Close()
		if ctx.Err() != nil {
			return nil // asked to stop while starting
		}
		return err
	}
	srv, err := rpc.NewServer(rpc.ServerOptions{Logger: logger, TLS: cfg.TLS})
	if err != nil {
		_ = lis.Close()
		return errors.Join(fmt.Errorf("notification: %w", err), svc.Close())
	}
	if err := svc.Start(ctx); err != nil {
		_ = lis.Close()
		return errors.Join(err, svc.Close())
	}
	svc.Register(srv)
	logger.Info("notification serving", slog.String("addr", lis.Addr().String()),
		slog.String("rsa_backend", mosipcrypto.RSABackend()))
	err = srv.Serve(ctx, lis, drainTimeout)
	return errors.Join(err, svc.Close())
}

// mergeSecrets joins entries with the same secret, so one shared by both
// subscriptions vouches for both topics.
func mergeSecrets(in []topicSecret) []topicSecret {
	var out []topicSecret
next:
	for _, ts := range in {
		for i := range out {
			if string(out[i].secret) == string(ts.secret) {
				for _, t := range ts.topics {
					if !slices.Contains(out[i].topics, t) {
						out[i].topics = append(out[i].topics, t)
					}
				}
				continue next
			}
		}
		out = append(out, topicSecret{secret: ts.secret, topics: slices.Clone(ts.topics)})
	}
	return out
}
