// Package packet is the packet service: it turns CRVS registrations into
// MOSIP packets and keeps the transaction record that links MOSIP's answers
// back to the OpenCRVS record.
//
// SubmitRegistration validates and maps a registration, records it durably
// (store.Submit: transaction, RID and River job in one database
// transaction) and drives it through MOSIP itself for a bounded time
// (PACKET_SYNC_DEADLINE). The worker (a River job per transaction,
// scheduled after that drive) drives createPacket and workflowinstance as a
// step machine that resumes from the stored step, so a retry or a restart
// never creates a packet twice.
//
// A River periodic job applies PACKET_RETENTION (retention.go), and
// metrics.go reports the transactions and the queue as gauges. docs/packet.md
// describes the whole service, crash windows included.
//
// main and the all-in-one runner use Run; tests use New, Register, Start and
// Close directly.
package packet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/grpc"

	"github.com/mosipcrvs/bridge/pkg/rpc"
	authtokenv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/authtoken/v1"
	packetv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/packet/v1"
	"github.com/mosipcrvs/bridge/services/packet/idschema"
	"github.com/mosipcrvs/bridge/services/packet/internal/store"
	"github.com/mosipcrvs/bridge/services/packet/mapping"
	"github.com/mosipcrvs/bridge/services/packet/mosipclient"
)

// drainTimeout bounds graceful shutdown of gRPC calls and of running jobs.
const drainTimeout = 10 * time.Second

// Retry schedule of temporary MOSIP failures: exponential from retryBase,
// capped at retryCap, with ±20% jitter; the horizon ends it.
const (
	retryBase = 2 * time.Second
	retryCap  = 5 * time.Minute
)

// pollInterval is how often SubmitRegistration looks at the transaction
// while it waits for the worker.
const pollInterval = 20 * time.Millisecond

// jobTimeout bounds one run of a job (two MOSIP calls of at most 10 s
// each, and the store's steps).
const jobTimeout = 2 * time.Minute

// rescueAfter is when River hands a job that a dead replica left running
// to another worker: the job timeout and a margin, rather than River's
// default hour. A live worker is past its timeout by then.
const rescueAfter = jobTimeout + time.Minute

// jobGrace is the margin between the end of SubmitRegistration's own drive
// of a new transaction (its sync deadline) and the earliest time River may
// run the transaction's job (Submission.JobScheduledAt), so that no
// replica's worker calls MOSIP while that drive may: it covers the time
// MOSIP may go on with a call the deadline cut (River's own retry of a
// timed-out call waits 2 s) and the clock skew between the replica and the
// database River reads the schedule against. River moves scheduled jobs to
// the queue every 5 s, so the job runs 5 to 10 s after the deadline.
const jobGrace = 5 * time.Second

// Service is a configured packet service.
type Service struct {
	cfg     Config
	log     *slog.Logger
	store   store.Store
	queue   store.Queue
	schema  *idschema.Schema
	mapping *mapping.Mapping
	builder *mosipclient.Builder
	client  *mosipclient.Client
	rids    *mosipclient.RIDGenerator
	conn    *grpc.ClientConn
	metrics *metrics
	dropped metric.Int64Counter // metrics.dropped, where SubmitRegistration counts
	keys    *store.Keyring
	now     func() time.Time
	backoff time.Duration
	// jobGrace is how long after a request's own drive must have ended
	// the transaction's job may run (the constant jobGrace unless a test
	// changes it).
	jobGrace time.Duration

	// drivers holds the transactions being driven in this process (id →
	// *driveSlot). A claim keeps SubmitRegistration's own drive and the
	// River job from calling MOSIP at once for one transaction, and lets
	// those waiting for the transaction know at once when its driver is
	// done. Between replicas, the job's schedule keeps them apart
	// (jobGrace), and Step's compare-and-set keeps the steps right.
	drivers sync.Map
}

// options are the seams tests use; production code passes none.
type options struct {
	tokens  mosipclient.TokenSource
	http    *http.Client
	now     func() time.Time
	backoff time.Duration
	// purgeInterval replaces the hourly period of the retention purge and
	// of the key rotation's rewrap.
	purgeInterval time.Duration
	// meters replaces the global meter provider.
	meters metric.MeterProvider
	// jobGrace replaces jobGrace's default (5 s).
	jobGrace time.Duration
}

// New validates cfg, opens the store and builds the service and its job
// queue. It does not start the queue (Start) nor contact MOSIP.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Service, error) {
	return newService(ctx, cfg, logger, options{})
}

func newService(ctx context.Context, cfg Config, logger *slog.Logger, o options) (*Service, error) {
	if logger == nil {
		return nil, errors.New("packet: logger is required")
	}
	if err := errors.Join(cfg.Validate(), cfg.TLS.Validate()); err != nil {
		return nil, fmt.Errorf("packet: invalid configuration: %w", err)
	}
	schema, err := cfg.schema()
	if err != nil {
		return nil, fmt.Errorf("packet: %w", err)
	}
	mp, err := cfg.mapping()
	if err != nil {
		return nil, fmt.Errorf("packet: %w", err)
	}
	keys, err := store.ParseKeyring(cfg.TokenKeys.Value())
	if err != nil {
		return nil, fmt.Errorf("packet: PACKET_TOKEN_KEYS: %w", err)
	}
	s := &Service{
		cfg: cfg, log: logger, schema: schema, mapping: mp,
		builder: &mosipclient.Builder{CenterID: cfg.CenterID, MachineID: cfg.MachineID,
			Source: cfg.PacketSource, SchemaVersion: cfg.SchemaVersion},
		now: o.now, backoff: o.backoff, jobGrace: o.jobGrace, keys: keys,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.jobGrace <= 0 {
		s.jobGrace = jobGrace
	}
	if s.backoff <= 0 {
		s.backoff = retryBase
	}
	interval := o.purgeInterval
	if interval <= 0 {
		interval = purgeInterval
	}

	tokens := o.tokens
	if tokens == nil {
		s.conn, err = rpc.Dial(cfg.AuthTokenAddr, rpc.ClientOptions{TLS: cfg.TLS})
		if err != nil {
			return nil, fmt.Errorf("packet: auth-token: %w", err)
		}
		tokens = mosipclient.NewAuthTokenSource(authtokenv1.NewAuthTokenServiceClient(s.conn))
	}
	s.client = &mosipclient.Client{
		CreatePacketURL: cfg.CreatePacketURL.String(), WorkflowInstanceURL: cfg.ProcessPacketURL.String(),
		HTTP: o.http, Tokens: tokens,
	}

	sopts := store.Options{
		IDPrefix: cfg.TransactionIDPrefix, Keyring: keys, Now: o.now, Logger: logger,
		JobMaxAttempts: maxAttempts(cfg.RetryHorizon),
	}
	if cfg.DatabaseURL != "" {
		s.store, err = store.OpenPostgres(ctx, cfg.DatabaseURL, sopts)
	} else {
		if dir := filepath.Dir(cfg.SQLitePath); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				_ = s.closeConn()
				return nil, fmt.Errorf("packet: PACKET_SQLITE_PATH: %w", err)
			}
		}
		s.store, err = store.OpenSQLite(ctx, cfg.SQLitePath, sopts)
	}
	if err != nil {
		_ = s.closeConn()
		return nil, fmt.Errorf("packet: store: %w", err)
	}
	fail := func(err error) (*Service, error) {
		s.metrics.close()
		return nil, errors.Join(fmt.Errorf("packet: %w", err), s.store.Close(), s.closeConn())
	}

	// The RID sequence is the database's, shared by every replica.
	s.rids, err = mosipclient.NewRIDGenerator(mosipclient.RIDConfig{
		Form: mosipclient.RIDForm(cfg.RIDForm), CenterID: cfg.CenterID, MachineID: cfg.MachineID,
		Sequence: s.store.NextRIDSequence, Now: o.now})
	if err != nil {
		return fail(err)
	}
	if s.metrics, err = newMetrics(s, o.meters); err != nil {
		return fail(fmt.Errorf("metrics: %w", err))
	}
	s.dropped = s.metrics.dropped

	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &submitWorker{svc: s}); err != nil {
		return fail(err)
	}
	if err := river.AddWorkerSafely(workers, &maintenanceWorker[purgeJob]{run: s.purge}); err != nil {
		return fail(err)
	}
	if err := river.AddWorkerSafely(workers, &maintenanceWorker[rewrapJob]{run: s.rewrap}); err != nil {
		return fail(err)
	}
	s.queue, err = s.store.NewQueue(workers, river.Config{
		FetchCooldown:        10 * time.Millisecond,
		FetchPollInterval:    50 * time.Millisecond,
		JobTimeout:           jobTimeout,
		RescueStuckJobsAfter: rescueAfter,
		PeriodicJobs:         append(purgeSchedule(cfg.Retention, interval), rewrapSchedule(len(keys.IDs()), interval)...),
	})
	if err != nil {
		return fail(err)
	}
	db := "sqlite " + cfg.SQLitePath
	if cfg.DatabaseURL != "" {
		db = "postgres"
	}
	logger.Info("packet configured", slog.String("store", db), slog.String("rid_form", cfg.RIDForm),
		slog.String("source", cfg.PacketSource), slog.Duration("sync_deadline", cfg.SyncDeadline),
		slog.Duration("retry_horizon", cfg.RetryHorizon), slog.Duration("retention", cfg.Retention))
	return s, nil
}

// maxAttempts lets the retry horizon, not River's attempt limit, end the
// retries: enough attempts at the capped interval to outlast the horizon.
func maxAttempts(horizon time.Duration) int {
	n := int(horizon/retryCap) + 50
	return min(max(n, 25), 30000)
}

// Register adds PacketService to srv and marks it serving.
func (s *Service) Register(srv *rpc.Server) {
	packetv1.RegisterPacketServiceServer(srv.Server, &server{svc: s})
	srv.SetServing(packetv1.PacketService_ServiceDesc.ServiceName, true)
}

// Start starts the job queue. It keeps running until Close, whatever
// happens to ctx, so that shutdown can drain gRPC calls first.
func (s *Service) Start(ctx context.Context) error {
	if err := s.queue.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("packet: start queue: %w", err)
	}
	return nil
}

// Close stops the queue (letting running jobs finish for up to 10 s),
// unregisters the gauges, closes the store and the auth-token connection.
func (s *Service) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	err := s.queue.Stop(ctx)
	s.metrics.close()
	return errors.Join(err, s.store.Close(), s.closeConn())
}

func (s *Service) closeConn() error {
	if s.conn == nil {
		return nil
	}
	return s.conn.Close()
}

// Run builds the service, starts its queue, serves it on lis until ctx is
// done, drains gRPC calls for up to 10 s, stops the queue and closes the
// store. lis is closed on return.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, lis net.Listener) error {
	return run(ctx, cfg, logger, lis, options{})
}

func run(ctx context.Context, cfg Config, logger *slog.Logger, lis net.Listener, o options) error {
	svc, err := newService(ctx, cfg, logger, o)
	if err != nil {
		_ = lis.Close()
		if ctx.Err() != nil {
			// Asked to stop while still starting (migrations take a moment):
			// a clean stop, not a failure.
			return nil
		}
		return err
	}
	srv, err := rpc.NewServer(rpc.ServerOptions{Logger: logger, TLS: cfg.TLS})
	if err != nil {
		_ = lis.Close()
		return errors.Join(fmt.Errorf("packet: %w", err), svc.Close())
	}
	if err := svc.Start(ctx); err != nil {
		_ = lis.Close()
		return errors.Join(err, svc.Close())
	}
	svc.Register(srv)
	logger.Info("packet serving", slog.String("addr", lis.Addr().String()))
	err = srv.Serve(ctx, lis, drainTimeout)
	return errors.Join(err, svc.Close())
}
