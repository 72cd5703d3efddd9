package packet

import (
	"context"
	"path/filepath"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	packetv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/packet/v1"
)

// The notification service resolves MOSIP's RID to the transaction (with
// the stored token) and records what happened; steps never go backwards
// and repeats change nothing; the history shows every step.
func TestResolveRecordOutcomeAndHistory(t *testing.T) {
	t.Parallel()
	f := newFakeMOSIP(t)
	svc, _ := startService(t, testConfig(t, f, filepath.Join(t.TempDir(), "p.db"), testKeys(t), nil))
	srv := &server{svc: svc}
	ctx := context.Background()
	req := request(t, packetv1.SubmissionKind_SUBMISSION_KIND_REGISTRATION, birthFields(), "event-7")
	resp, err := srv.SubmitRegistration(ctx, req)
	if err != nil || resp.GetStatus() != "processing_started" {
		t.Fatalf("SubmitRegistration = %v, %v", resp, err)
	}
	tx, err := svc.store.Get(ctx, resp.GetTransactionId())
	if err != nil || tx.RegistrationID == "" {
		t.Fatalf("stored transaction: %v", err)
	}

	got, err := srv.ResolveRegistration(ctx, &packetv1.ResolveRegistrationRequest{RegistrationId: tx.RegistrationID})
	if err != nil || got.GetTransactionId() != tx.ID || got.GetEventId() != "event-7" || got.GetCrvsToken() != req.GetCrvsToken() ||
		got.GetProcess() != packetv1.Process_PROCESS_CRVS_NEW || got.GetRegistrationNumber() == "" {
		t.Fatalf("ResolveRegistration = %v, %v", got, err)
	}
	if _, err := srv.ResolveRegistration(ctx, &packetv1.ResolveRegistrationRequest{RegistrationId: "99999"}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown RID: %v, want NotFound", err)
	}
	if _, err := srv.ResolveRegistration(ctx, &packetv1.ResolveRegistrationRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("empty RID: %v, want InvalidArgument", err)
	}

	record := func(o packetv1.Outcome) *packetv1.RecordOutcomeResponse {
		t.Helper()
		r, err := srv.RecordOutcome(ctx, &packetv1.RecordOutcomeRequest{TransactionId: tx.ID, Outcome: o, Detail: "test"})
		if err != nil {
			t.Fatalf("RecordOutcome(%s): %v", o, err)
		}
		return r
	}
	if r := record(packetv1.Outcome_OUTCOME_CREDENTIAL_RECEIVED); !r.GetChanged() || r.GetStatus() != "credential_received" {
		t.Fatalf("credential received: %v", r)
	}
	if r := record(packetv1.Outcome_OUTCOME_CREDENTIAL_RECEIVED); r.GetChanged() {
		t.Fatalf("repeat changed the transaction: %v", r)
	}
	if r := record(packetv1.Outcome_OUTCOME_CONFIRMED); !r.GetChanged() || r.GetStatus() != "confirmed" {
		t.Fatalf("confirmed: %v", r)
	}
	// Finished is final: a late rejection changes nothing.
	if r := record(packetv1.Outcome_OUTCOME_REJECTED); r.GetChanged() || r.GetStatus() != "confirmed" {
		t.Fatalf("rejection after confirmation: %v", r)
	}
	if _, err := srv.RecordOutcome(ctx, &packetv1.RecordOutcomeRequest{TransactionId: tx.ID}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("no outcome: %v, want InvalidArgument", err)
	}

	h, err := srv.GetTransactionHistory(ctx, &packetv1.GetTransactionHistoryRequest{TransactionId: tx.ID})
	if err != nil || h.GetStatus() != "confirmed" {
		t.Fatalf("GetTransactionHistory = %v, %v", h, err)
	}
	var steps []string
	for _, e := range h.GetEntries() {
		steps = append(steps, e.GetToStatus())
	}
	if n := len(steps); n < 4 || steps[n-1] != "confirmed" || steps[n-2] != "credential_received" || steps[0] != "received" {
		t.Fatalf("history = %v", steps)
	}
	if _, err := srv.GetTransactionHistory(ctx, &packetv1.GetTransactionHistoryRequest{TransactionId: "100019999999999"}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown history: %v", err)
	}
}
