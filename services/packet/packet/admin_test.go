package packet

import (
	"context"
	"path/filepath"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	packetv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/packet/v1"
)

func TestListAndCancel(t *testing.T) {
	t.Parallel()
	f := newFakeMOSIP(t)
	svc, _ := startService(t, testConfig(t, f, filepath.Join(t.TempDir(), "p.db"), testKeys(t), nil))
	srv := &server{svc: svc}
	ctx := context.Background()
	resp, err := srv.SubmitRegistration(ctx, request(t, packetv1.SubmissionKind_SUBMISSION_KIND_REGISTRATION, birthFields(), "event-9"))
	if err != nil {
		t.Fatal(err)
	}
	list, err := srv.ListTransactions(ctx, &packetv1.ListTransactionsRequest{Process: packetv1.Process_PROCESS_CRVS_NEW})
	if err != nil || len(list.GetTransactions()) != 1 {
		t.Fatalf("ListTransactions = %v, %v", list, err)
	}
	got := list.GetTransactions()[0]
	if got.GetTransactionId() != resp.GetTransactionId() || got.GetEventId() != "event-9" || got.GetRegistrationNumber() == "" {
		t.Errorf("summary = %v", got)
	}
	if _, err := srv.ListTransactions(ctx, &packetv1.ListTransactionsRequest{Status: "sleeping"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("unknown status = %v, want InvalidArgument", err)
	}

	c, err := srv.CancelTransaction(ctx, &packetv1.CancelTransactionRequest{TransactionId: resp.GetTransactionId()})
	if err != nil || c.GetStatus() != "cancelled" || c.GetRegistrationNumber() != got.GetRegistrationNumber() {
		t.Fatalf("CancelTransaction = %v, %v", c, err)
	}
	if _, err := srv.CancelTransaction(ctx, &packetv1.CancelTransactionRequest{TransactionId: "100019999999999"}); status.Code(err) != codes.NotFound {
		t.Errorf("cancel unknown = %v, want NotFound", err)
	}
	// The record may be submitted again once its transaction is cancelled.
	again, err := srv.SubmitRegistration(ctx, request(t, packetv1.SubmissionKind_SUBMISSION_KIND_REGISTRATION, birthFields(), "event-9"))
	if err != nil || !again.GetCreated() || again.GetTransactionId() == resp.GetTransactionId() {
		t.Errorf("resubmission after cancel = %v, %v; want a new transaction", again, err)
	}
}
