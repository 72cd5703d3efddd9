package packet

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/mosipcrvs/bridge/services/packet/internal/store"
)

// rewrapJob finishes a key rotation: it re-seals, with the current key (the
// first of PACKET_TOKEN_KEYS), every token and payload an older key sealed,
// after which the older keys can leave the configuration. It is a River
// periodic job, like the retention purge: only River's leader enqueues it,
// hourly and when it becomes leader (so shortly after the deployment that
// put the new key first), and only while PACKET_TOKEN_KEYS lists more than
// one key. Rewrap is idempotent and skips what the current key sealed, so a
// second run costs a query; rows a replica still running the old
// configuration seals meanwhile are caught by the next run.
type rewrapJob struct{}

// rewrapJobKind is the River kind of rewrapJob and the id of its schedule.
const rewrapJobKind = "packet_key_rewrap"

// Kind implements river.JobArgs.
func (rewrapJob) Kind() string { return rewrapJobKind }

// InsertOpts keeps a failing run from retrying for weeks: the next period
// runs it anyway.
func (rewrapJob) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: store.QueueName, MaxAttempts: 3}
}

// rewrapWorker works rewrapJob.
type rewrapWorker struct {
	river.WorkerDefaults[rewrapJob]
	svc *Service
}

// Work re-seals what older keys sealed.
func (w *rewrapWorker) Work(ctx context.Context, _ *river.Job[rewrapJob]) error {
	_, err := w.svc.rewrap(ctx)
	return err
}

// Timeout lets a large table take longer than packet jobs; Rewrap commits a
// batch at a time, so a run cut short keeps what it did.
func (w *rewrapWorker) Timeout(*river.Job[rewrapJob]) time.Duration { return purgeTimeout }

// rewrapSchedule is the periodic job of the rewrap, or nothing when the
// keyring holds a single key. Its worker is registered either way, so a job
// enqueued under an earlier configuration completes.
func rewrapSchedule(keys int, interval time.Duration) []*river.PeriodicJob {
	if keys < 2 {
		return nil
	}
	return []*river.PeriodicJob{river.NewPeriodicJob(
		river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return rewrapJob{}, nil },
		&river.PeriodicJobOpts{ID: rewrapJobKind, RunOnStart: true},
	)}
}

// rewrappedLogMessage is logged after every rewrap run.
const rewrappedLogMessage = "key rotation: tokens and packet data re-sealed with the current key"

// rewrap re-seals, logs and counts.
func (s *Service) rewrap(ctx context.Context) (int, error) {
	n, err := s.store.Rewrap(ctx)
	if n > 0 {
		s.metrics.rewrapped.Add(ctx, int64(n))
	}
	if err != nil {
		return n, fmt.Errorf("key rotation: %d transaction(s) re-sealed, then: %w", n, err)
	}
	s.log.InfoContext(ctx, rewrappedLogMessage, slog.Int("count", n), slog.String("current_key", s.keys.Current()),
		slog.Any("older_keys_unused", s.keys.IDs()[1:]))
	return n, nil
}
