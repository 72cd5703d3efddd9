package packet

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
)

// purgeInterval is how often the retention purge and the rewrap run (and
// once when a replica becomes River's leader, so also shortly after start).
const purgeInterval = time.Hour

// purgeJob is the River job that applies PACKET_RETENTION: it wipes the
// OpenCRVS token and the packet payload (personal data) of transactions
// that finished longer ago, keeping their ids, steps and audit trail. A
// maintenance job (maintenance.go).
type purgeJob struct{ maintenanceOpts }

// purgeJobKind is the River kind of purgeJob and the id of its schedule.
const purgeJobKind = "packet_retention_purge"

// Kind implements river.JobArgs.
func (purgeJob) Kind() string { return purgeJobKind }

// purgeSchedule is the periodic job of the purge, or nothing when
// retention is off. Its worker is registered either way, so jobs a
// previous configuration enqueued still complete (doing nothing).
func purgeSchedule(retention, interval time.Duration) []*river.PeriodicJob {
	if retention <= 0 {
		return nil
	}
	return []*river.PeriodicJob{periodic(purgeJob{}, interval)}
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
