package packet

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
)

// rewrapJob finishes a key rotation: it re-seals, with the current key (the
// first of PACKET_TOKEN_KEYS), every token and payload an older key sealed,
// after which the older keys can leave the configuration. A maintenance
// job (maintenance.go), scheduled only while PACKET_TOKEN_KEYS lists more
// than one key. Rewrap skips what the current key sealed; rows a replica
// still running the old configuration seals meanwhile are caught by the
// next run.
type rewrapJob struct{ maintenanceOpts }

// rewrapJobKind is the River kind of rewrapJob and the id of its schedule.
const rewrapJobKind = "packet_key_rewrap"

// Kind implements river.JobArgs.
func (rewrapJob) Kind() string { return rewrapJobKind }

// rewrapSchedule is the periodic job of the rewrap, or nothing when the
// keyring holds a single key. Its worker is registered either way, so a job
// enqueued under an earlier configuration completes.
func rewrapSchedule(keys int, interval time.Duration) []*river.PeriodicJob {
	if keys < 2 {
		return nil
	}
	return []*river.PeriodicJob{periodic(rewrapJob{}, interval)}
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
		slog.Any("older_keys", s.keys.IDs()[1:]))
	return n, nil
}
