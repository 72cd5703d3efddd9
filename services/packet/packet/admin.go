package packet

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/mosipcrvs/bridge/pkg/rpc"
	packetv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/packet/v1"
	"github.com/mosipcrvs/bridge/services/packet/internal/store"
)

// ListTransactions pages through transactions for support screens; the
// store leaves tokens and payloads out of lists.
func (s *server) ListTransactions(ctx context.Context, req *packetv1.ListTransactionsRequest) (*packetv1.ListTransactionsResponse, error) {
	f := store.Filter{Limit: int(req.GetPageSize()), Cursor: req.GetPageToken()}
	v := map[string]string{}
	if st := req.GetStatus(); st != "" {
		if !store.Status(st).Valid() {
			v["status"] = "unknown step"
		}
		f.Status = store.Status(st)
	}
	switch req.GetProcess() {
	case packetv1.Process_PROCESS_UNSPECIFIED:
	case packetv1.Process_PROCESS_CRVS_NEW:
		f.Process = store.ProcessNew
	case packetv1.Process_PROCESS_CRVS_DEATH:
		f.Process = store.ProcessDeath
	case packetv1.Process_PROCESS_CRVS_UPDATE:
		f.Process = store.ProcessUpdate
	default:
		v["process"] = "unknown process"
	}
	if req.GetPageSize() < 0 || req.GetPageSize() > 500 {
		v["page_size"] = "must be between 0 and 500"
	}
	if len(v) > 0 {
		return nil, rpc.InvalidArgument("invalid list request", v)
	}
	page, err := s.svc.store.List(ctx, f)
	if errors.Is(err, store.ErrInvalid) {
		return nil, rpc.InvalidArgument("invalid list request", map[string]string{"page_token": "is not a token this service issued"})
	}
	if err != nil {
		s.svc.log.ErrorContext(ctx, "could not list transactions", slog.String("error", err.Error()))
		return nil, status.Error(codes.Unavailable, "could not list transactions; retry")
	}
	out := &packetv1.ListTransactionsResponse{NextPageToken: page.Next}
	for _, tx := range page.Transactions {
		out.Transactions = append(out.Transactions, &packetv1.TransactionSummary{
			TransactionId: tx.ID, EventId: tx.EventID, ActionId: tx.ActionID, RegistrationNumber: tx.RegistrationNumber,
			Process: protoProcess(tx.Process), Status: string(tx.Status), CreatedAt: timestamppb.New(tx.CreatedAt),
		})
	}
	return out, nil
}

// CancelTransaction stops an unfinished transaction and frees its OpenCRVS
// event and action, as today's DELETE /debug/transactions/{id} does.
func (s *server) CancelTransaction(ctx context.Context, req *packetv1.CancelTransactionRequest) (*packetv1.CancelTransactionResponse, error) {
	if req.GetTransactionId() == "" {
		return nil, rpc.InvalidArgument("transaction_id is required", map[string]string{"transaction_id": "required"})
	}
	tx, err := s.svc.store.Cancel(ctx, req.GetTransactionId(), "cancelled by an operator")
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, status.Errorf(codes.NotFound, "Transaction with id '%s' not found.", req.GetTransactionId())
	case errors.Is(err, store.ErrConflict):
		return nil, status.Errorf(codes.FailedPrecondition, "transaction %s is already finished", req.GetTransactionId())
	case err != nil:
		s.svc.log.ErrorContext(ctx, "could not cancel a transaction", slog.String("error", err.Error()))
		return nil, status.Error(codes.Unavailable, "could not cancel the transaction; retry")
	}
	return &packetv1.CancelTransactionResponse{TransactionId: tx.ID, RegistrationNumber: tx.RegistrationNumber, Status: string(tx.Status)}, nil
}
