package packet

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/mosipcrvs/bridge/pkg/logging"
	"github.com/mosipcrvs/bridge/pkg/sqlstore/sqlstoretest"
	packetv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/packet/v1"
	"github.com/mosipcrvs/bridge/services/packet/internal/store"
)

// newReplica builds a service with o's seams on cfg's database and, when
// start is set, starts its River workers; it is closed at cleanup.
func newReplica(t *testing.T, cfg Config, o options, start bool) *Service {
	t.Helper()
	o.tokens, o.backoff = fakeTokens{}, 10*time.Millisecond
	svc, err := newService(context.Background(), cfg, logging.Discard(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := svc.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	if start {
		if err := svc.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return svc
}

// waitJobsDone waits until the packet queue has no job left to run.
func waitJobsDone(t *testing.T, svc *Service) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := svc.store.Counts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		left := int64(0)
		for _, n := range c.Jobs {
			left += n
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs still waiting or running after 20s: %v", c.Jobs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Two replicas on one Postgres database: the one that received the
// registration drives it in the request, and the other's River workers,
// which could fetch its job, never call createPacket for it at the same
// time (MOSIP requires never two concurrent createPacket calls for one
// id), whether the request's drive succeeds or its deadline cuts a call
// MOSIP goes on with. The receiving replica runs no workers, so only the
// other one could take the job.
func TestReplicaWaitsForTheRequestsDrive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// deadline is PACKET_SYNC_DEADLINE, grace the margin after it
		// before the job may run, delay how long MOSIP takes for the
		// first createPacket.
		deadline, grace, delay time.Duration
		// status is what the request answers; creates how many
		// createPacket calls there are in all.
		status  store.Status
		creates int
	}{
		{name: "slow createPacket within the deadline", deadline: 3 * time.Second, grace: 100 * time.Millisecond,
			delay: time.Second, status: store.StatusProcessingStarted, creates: 1},
		{name: "deadline cuts the call MOSIP goes on with", deadline: 500 * time.Millisecond, grace: 2 * time.Second,
			delay: 1500 * time.Millisecond, status: store.StatusReceived, creates: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeMOSIP(t)
			f.createDelay = []time.Duration{tt.delay}
			cfg := testConfig(t, f, filepath.Join(t.TempDir(), "unused.db"), testKeys(t), map[string]string{
				"DATABASE_URL":         sqlstoretest.PostgresURL(t, "packet_replicas"),
				"PACKET_SYNC_DEADLINE": tt.deadline.String(),
			})
			receiver := newReplica(t, cfg, options{jobGrace: tt.grace}, false)
			other := newReplica(t, cfg, options{jobGrace: tt.grace}, true)

			resp, err := (&server{svc: receiver}).SubmitRegistration(context.Background(),
				request(t, packetv1.SubmissionKind_SUBMISSION_KIND_REGISTRATION, birthFields(), "event-1"))
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetStatus() != string(tt.status) {
				t.Errorf("SubmitRegistration status = %s, want %s", resp.GetStatus(), tt.status)
			}
			waitJobsDone(t, other)
			waitStatus(t, other, resp.GetTransactionId(), store.StatusProcessingStarted)

			f.mu.Lock()
			defer f.mu.Unlock()
			if f.maxCreating != 1 {
				t.Errorf("up to %d createPacket calls at once for one RID, want 1", f.maxCreating)
			}
			if f.createCalls != tt.creates || f.workflowOK != 1 {
				t.Errorf("createPacket %d calls, workflow %d ok; want %d and 1", f.createCalls, f.workflowOK, tt.creates)
			}
			for _, rid := range f.createRIDs {
				if rid != f.createRIDs[0] {
					t.Errorf("createPacket RIDs %v, want the same RID every time", f.createRIDs)
					break
				}
			}
		})
	}
}
