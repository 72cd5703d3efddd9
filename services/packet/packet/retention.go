package packet

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/mosipcrvs/bridge/services/packet/internal/store"
)

// purgeInterval is how often the retention purge runs (and once when a
// replica becomes River's leader, so also shortly after start).
const purgeInterval = time.Hour

// purgeTimeout bounds one purge run. Purge commits a batch at a time, so a
// run cut short keeps what it did and the next one goes on; it stays well
// below River's rescue of stuck jobs (JobTimeout + 1 h), which would
// otherwise start a second run beside a slow one.
const purgeTimeout = 30 * time.Minute

// purgeJob is the River job that applies PACKET_RETENTION: it wipes the
// OpenCRVS token and the packet payload (personal data) of transactions
// that finished longer ago, keeping their ids, steps and audit trail.
//
// It is a River periodic job: only the replica River elected leader
// enqueues it, so replicas do not each purge. A leader change may run it
// twice in an interval; Purge is idempotent, so that costs one query.
type purgeJob struct{}

// purgeJobKind is the River kind of purgeJob and the id of its schedule.
const purgeJobKind = "packet_retention_purge"

// Kind implements river.JobArgs.
func (purgeJob) Kind() string { return purgeJobKind }

// InsertOpts keeps a failing purge from retrying for weeks: the next
// period runs it anyway.
func (purgeJob) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: store.QueueName, MaxAttempts: 3}
}

// purgeWorker works purgeJob.
type purgeWorker struct {
	river.WorkerDefaults[purgeJob]
	svc *Service
}

// Work purges what retention allows.
func (w *purgeWorker) Work(ctx context.Context, _ *river.Job[purgeJob]) error {
	_, err := w.svc.purge(ctx)
	return err
}

// Timeout lets a purge of a large backlog run longer than packet jobs.
func (w *purgeWorker) Timeout(*river.Job[purgeJob]) time.Duration { return purgeTimeout }

// purgeSchedule is the periodic job of the purge, or nothing when
// retention is off. Its worker is registered either way, so jobs a
// previous configuration enqueued still complete (doing nothing).
func purgeSchedule(retention, interval time.Duration) []*river.PeriodicJob {
	if retention <= 0 {
		return nil
	}
	return []*river.PeriodicJob{river.NewPeriodicJob(
		river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return purgeJob{}, nil },
		&river.PeriodicJobOpts{ID: purgeJobKind, RunOnStart: true},
	)}
}

// purgedLogMessage is logged after every purge run, with the count.
const purgedLogMessage = "retention: tokens and packet data of finished transactions wiped"

// purge wipes the tokens and payloads of transactions finished before now
// minus PACKET_RETENTION, logs and counts how many; nothing when retention
// is off.
func (s *Service) purge(ctx context.Context) (int, error) {
	if s.cfg.Retention <= 0 {
		return 0, nil
	}
	cutoff := s.now().Add(-s.cfg.Retention)
	n, err := s.store.Purge(ctx, cutoff)
	if n > 0 {
		s.metrics.purged.Add(ctx, int64(n))
	}
	if err != nil {
		// River logs the job's error; the count says what was done anyway.
		return n, fmt.Errorf("retention purge: %d transaction(s) purged, then: %w", n, err)
	}
	s.log.InfoContext(ctx, purgedLogMessage,
		slog.Int("count", n), slog.Time("finished_before", cutoff), slog.Duration("retention", s.cfg.Retention))
	return n, nil
}
