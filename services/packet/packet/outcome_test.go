package packet

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
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

// A confirmation reported without the credential before it (the
// notification service reports the credential only when OpenCRVS could
// not confirm at once) records credential_received first for births and
// corrections, never for a death, which MOSIP answers without a
// credential; repeats and a late confirmation change nothing.
func TestConfirmationRecordsTheCredentialStep(t *testing.T) {
	t.Parallel()
	f := newFakeMOSIP(t)
	svc, _ := startService(t, testConfig(t, f, filepath.Join(t.TempDir(), "p.db"), testKeys(t), nil))
	srv := &server{svc: svc}
	ctx := context.Background()
	reg, upd := packetv1.SubmissionKind_SUBMISSION_KIND_REGISTRATION, packetv1.SubmissionKind_SUBMISSION_KIND_UPDATE_BIOGRAPHICS
	death := map[string]any{"deathCertificateNumber": "DD01234ABCDE", "fullName": "Deceased Doe", "dateOfBirth": "1950-03-04",
		"gender": "female", "nationalIdNumber": "7186723906"}
	correction := map[string]any{"VID": "8031687218", "fullName": "Infant Updated"}
	co, cr, ff := packetv1.Outcome_OUTCOME_CONFIRMED, packetv1.Outcome_OUTCOME_CREDENTIAL_RECEIVED, packetv1.Outcome_OUTCOME_FLAGGED_FOR_REJECTION
	tests := []struct {
		name   string
		kind   packetv1.SubmissionKind
		fields map[string]any
		// before are outcomes reported first; the test then reports
		// CONFIRMED twice.
		before []packetv1.Outcome
		status string
		// tail is the end of the history: "from>to" entries.
		tail []string
	}{
		{"birth", reg, birthFields(), nil, "confirmed",
			[]string{"processing_started>credential_received", "credential_received>confirmed"}},
		{"correction", upd, correction, nil, "confirmed",
			[]string{"processing_started>credential_received", "credential_received>confirmed"}},
		{"death", reg, death, nil, "confirmed", []string{"packet_created>processing_started", "processing_started>confirmed"}},
		{"birth whose credential was reported", reg, birthFields(), []packetv1.Outcome{cr}, "confirmed",
			[]string{"packet_created>processing_started", "processing_started>credential_received", "credential_received>confirmed"}},
		{"birth flagged for rejection", reg, birthFields(), []packetv1.Outcome{ff}, "flagged_for_rejection",
			[]string{"packet_created>processing_started", "processing_started>flagged_for_rejection"}},
	}
	for i, tc := range tests {
		resp, err := srv.SubmitRegistration(ctx, request(t, tc.kind, tc.fields, fmt.Sprintf("event-c%d", i)))
		if err != nil || resp.GetStatus() != "processing_started" {
			t.Fatalf("%s: SubmitRegistration = %v, %v", tc.name, resp, err)
		}
		id := resp.GetTransactionId()
		for _, o := range tc.before {
			if _, err := srv.RecordOutcome(ctx, &packetv1.RecordOutcomeRequest{TransactionId: id, Outcome: o, Detail: "before"}); err != nil {
				t.Fatalf("%s: RecordOutcome(%s) = %v", tc.name, o, err)
			}
		}
		for n := range 2 {
			r, err := srv.RecordOutcome(ctx, &packetv1.RecordOutcomeRequest{TransactionId: id, Outcome: co, Detail: "credential e1; OpenCRVS: accepted"})
			if wantChanged := n == 0 && tc.status == "confirmed"; err != nil || r.GetStatus() != tc.status || r.GetChanged() != wantChanged {
				t.Errorf("%s: RecordOutcome(CONFIRMED) #%d = %v, %v; want status %s, changed %t", tc.name, n+1, r, err, tc.status, wantChanged)
			}
		}
		h, err := srv.GetTransactionHistory(ctx, &packetv1.GetTransactionHistoryRequest{TransactionId: id})
		if err != nil {
			t.Fatalf("%s: GetTransactionHistory = %v", tc.name, err)
		}
		var steps []string
		for _, e := range h.GetEntries() {
			steps = append(steps, e.GetFromStatus()+">"+e.GetToStatus())
			if e.GetToStatus() == "credential_received" && len(tc.before) == 0 &&
				e.GetDetail() != "recorded with the confirmation: credential e1; OpenCRVS: accepted" {
				t.Errorf("%s: credential step detail %q", tc.name, e.GetDetail())
			}
		}
		if len(steps) < len(tc.tail) || !slices.Equal(steps[len(steps)-len(tc.tail):], tc.tail) {
			t.Errorf("%s: history %v, want it to end with %v", tc.name, steps, tc.tail)
		}
	}
}
