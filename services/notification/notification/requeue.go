package notification

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"
)

// requeueInterval is how often each replica looks for deliveries left
// without a job.
const requeueInterval = time.Minute

// runRequeue gives a job back to deliveries that lost theirs until ctx
// ends. River's leader discards a stuck job of a kind its client does not
// know: in a schema shared with the packet service, a job of a notification
// replica that died mid-processing is discarded, not retried, whenever the
// packet service's client leads.
func (s *Service) runRequeue(ctx context.Context) {
	for {
		wait := requeueInterval/2 + time.Duration(rand.Int64N(int64(requeueInterval)))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		ids, err := s.db.Requeue(ctx, s.now().Add(-jobTimeout(s.cfg)))
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("deliveries without a job not checked", slog.String("err", err.Error()))
		case len(ids) > 0:
			s.log.Warn("deliveries had lost their job and were queued again", slog.Int("count", len(ids)), slog.Any("event_ids", ids))
		}
	}
}
