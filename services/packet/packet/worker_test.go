package packet

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/mosip"
	"github.com/mosipcrvs/bridge/services/packet/internal/store"
)

// A failure MOSIP answered is recorded even when the context of the call
// ended just after (the request's deadline); a call the end of its own
// context cut is no answer, and is left for the job to try again.
func TestFailRecordsAnswersNotCuts(t *testing.T) {
	t.Parallel()
	f := newFakeMOSIP(t)
	svc := newReplica(t, testConfig(t, f, filepath.Join(t.TempDir(), "p.db"), testKeys(t), nil), options{}, false)
	ctx := context.Background()
	tx, _, err := svc.store.Submit(ctx, store.Submission{Process: store.ProcessNew, EventID: "ev", ActionID: "act",
		Token: config.Secret("tok"), Payload: store.PersonalData(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	ended, cancel := context.WithCancel(ctx)
	cancel()

	cut := &mosip.Error{Kind: mosip.KindTransport, Err: fmt.Errorf("put: %w", context.Canceled)}
	if got, err := svc.fail(ended, tx, cut, false); err == nil || got.Attempts != 0 {
		t.Errorf("fail(cut call) = attempts %d, %v; want nothing recorded and an error", got.Attempts, err)
	}
	unavailable := &mosip.Error{Kind: mosip.KindHTTP, Status: 503}
	got, err := svc.fail(ended, tx, unavailable, false)
	if err == nil || got.Attempts != 1 || got.LastError == "" {
		t.Errorf("fail(503 after the deadline) = attempts %d (%q), %v; want the attempt recorded", got.Attempts, got.LastError, err)
	}
	stored, err := svc.store.Get(ctx, tx.ID)
	if err != nil || stored.Attempts != 1 || stored.Status != store.StatusReceived {
		t.Errorf("stored: %+v, %v; want received with one attempt", stored, err)
	}
}
