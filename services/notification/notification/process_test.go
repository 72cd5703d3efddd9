package notification

import (
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/mosipcrvs/bridge/pkg/config"
)

// With the default settings a retry never waits more than the 5-minute
// cap, however many attempts failed before: after an outage OpenCRVS sees
// the record again within 5 minutes. The waits grow from the 1 s base and
// are full jitter (anywhere from 0 to the bound).
func TestRetryPolicyHonoursCap(t *testing.T) {
	t.Parallel()
	var cfg Config
	_ = config.Load(&cfg, config.MapLookuper(nil)) // the required variables are missing; the defaults load
	if cfg.RetryBase != time.Second || cfg.RetryCap != 5*time.Minute || cfg.RetryHorizon != 72*time.Hour {
		t.Fatalf("defaults base %s, cap %s, horizon %s; want 1s, 5m, 72h", cfg.RetryBase, cfg.RetryCap, cfg.RetryHorizon)
	}
	p := retryPolicy{base: cfg.RetryBase, cap: cfg.RetryCap}
	for _, attempt := range []int{1, 2, 3, 5, 8, 9, 10, 20, 31, 40, 64, 1000, 1_000_000} {
		bound := cfg.RetryCap
		if n := attempt - 1; n < 30 && cfg.RetryBase<<n < cfg.RetryCap {
			bound = cfg.RetryBase << n
		}
		var longest time.Duration
		for range 200 {
			start := time.Now()
			d := p.NextRetry(&rivertype.JobRow{Attempt: attempt}).Sub(start)
			if d < 0 || d > bound+50*time.Millisecond {
				t.Fatalf("attempt %d: retry in %s, want within [0, %s]", attempt, d, bound)
			}
			longest = max(longest, d)
		}
		if longest < bound/4 {
			t.Errorf("attempt %d: longest of 200 waits %s, want full jitter up to %s", attempt, longest, bound)
		}
	}
}

// River's rescue of a job a dead replica left running waits for the job's
// own timeout and a margin, not River's default hour.
func TestRescueAfterJobTimeout(t *testing.T) {
	t.Parallel()
	cfg := Config{Timeout: 10 * time.Second}
	if jobTimeout(cfg) != 40*time.Second || rescueAfter(cfg) != 100*time.Second {
		t.Errorf("job timeout %s, rescue after %s; want 40s and 1m40s", jobTimeout(cfg), rescueAfter(cfg))
	}
}

func TestSweepInterval(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ silence, want time.Duration }{
		{time.Second, 100 * time.Millisecond},
		{10 * time.Second, time.Second},
		{72 * time.Hour, 5 * time.Minute},
	} {
		if got := sweepInterval(tc.silence); got != tc.want {
			t.Errorf("sweepInterval(%s) = %s, want %s", tc.silence, got, tc.want)
		}
	}
}
