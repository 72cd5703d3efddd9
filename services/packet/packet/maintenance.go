package packet

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/mosipcrvs/bridge/services/packet/internal/store"
)

// The packet service's maintenance (the retention purge, the key
// rotation's rewrap) runs as River periodic jobs: only the replica River
// elected leader enqueues them, on a schedule and once when it becomes
// leader (so shortly after start). Each job is idempotent and commits a
// batch at a time, so a leader change that runs one twice costs a query,
// and a run cut short keeps what it did.

// maintenanceTimeout bounds one run. It stays well below River's rescue of
// stuck jobs (JobTimeout + 1 h), which would otherwise start a second run
// beside a slow one.
const maintenanceTimeout = 30 * time.Minute

// maintenanceOpts gives a maintenance job its insert options: the packet
// queue, and few attempts (the next period runs it anyway).
type maintenanceOpts struct{}

// InsertOpts implements river.JobArgsWithInsertOpts.
func (maintenanceOpts) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: store.QueueName, MaxAttempts: 3}
}

// maintenanceWorker works a maintenance job of kind T with run, a method of
// the service that reports how many rows it changed.
type maintenanceWorker[T river.JobArgs] struct {
	river.WorkerDefaults[T]
	run func(context.Context) (int, error)
}

// Work runs the maintenance.
func (w *maintenanceWorker[T]) Work(ctx context.Context, _ *river.Job[T]) error {
	_, err := w.run(ctx)
	return err
}

// Timeout lets a large table take longer than packet jobs.
func (w *maintenanceWorker[T]) Timeout(*river.Job[T]) time.Duration { return maintenanceTimeout }

// periodic schedules args every interval and when a replica becomes leader.
func periodic(args river.JobArgs, interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(
		river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return args, nil },
		&river.PeriodicJobOpts{ID: args.Kind(), RunOnStart: true},
	)
}
