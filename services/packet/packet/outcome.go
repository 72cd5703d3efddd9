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

// GetTransactionHistory returns the audit trail of a transaction.
func (s *server) GetTransactionHistory(ctx context.Context, req *packetv1.GetTransactionHistoryRequest) (*packetv1.GetTransactionHistoryResponse, error) {
	if req.GetTransactionId() == "" {
		return nil, rpc.InvalidArgument("transaction_id is required", map[string]string{"transaction_id": "required"})
	}
	tx, err := s.svc.store.Get(ctx, req.GetTransactionId())
	if err == nil {
		var entries []store.AuditEntry
		if entries, err = s.svc.store.History(ctx, tx.ID); err == nil {
			out := &packetv1.GetTransactionHistoryResponse{TransactionId: tx.ID, Status: string(tx.Status)}
			for _, e := range entries {
				out.Entries = append(out.Entries, &packetv1.HistoryEntry{
					At: timestamppb.New(e.At), FromStatus: string(e.From), ToStatus: string(e.To), Detail: e.Detail,
				})
			}
			return out, nil
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "no transaction %q", req.GetTransactionId())
	}
	s.svc.log.ErrorContext(ctx, "could not read a transaction's history", slog.String("error", err.Error()))
	return nil, status.Error(codes.Unavailable, "could not read the history; retry")
}

// ResolveRegistration finds the transaction of a RID for the notification
// service, stored token included (the RPC has no REST mapping).
func (s *server) ResolveRegistration(ctx context.Context, req *packetv1.ResolveRegistrationRequest) (*packetv1.ResolveRegistrationResponse, error) {
	rid := req.GetRegistrationId()
	if rid == "" || len(rid) > 64 {
		return nil, rpc.InvalidArgument("invalid registration_id", map[string]string{"registration_id": "1 to 64 characters"})
	}
	tx, err := s.svc.store.GetByRegistrationID(ctx, rid)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, status.Error(codes.NotFound, "no transaction has this registration id")
	case err != nil:
		s.svc.log.ErrorContext(ctx, "could not resolve a registration id", slog.String("error", err.Error()))
		return nil, status.Error(codes.Unavailable, "could not read the transaction; retry")
	}
	return &packetv1.ResolveRegistrationResponse{
		TransactionId: tx.ID, Process: protoProcess(tx.Process), Status: string(tx.Status),
		EventId: tx.EventID, ActionId: tx.ActionID, RegistrationNumber: tx.RegistrationNumber,
		CrvsToken: tx.Token.Value(),
	}, nil
}

// outcomeStatus maps a reported outcome to its step.
var outcomeStatus = map[packetv1.Outcome]store.Status{
	packetv1.Outcome_OUTCOME_CREDENTIAL_RECEIVED:   store.StatusCredentialReceived,
	packetv1.Outcome_OUTCOME_CONFIRMED:             store.StatusConfirmed,
	packetv1.Outcome_OUTCOME_FLAGGED_FOR_REJECTION: store.StatusFlaggedForRejection,
	packetv1.Outcome_OUTCOME_REJECTED:              store.StatusRejected,
}

// RecordOutcome moves a transaction to the reported step. A step the
// transaction cannot move to from where it is (already there, already
// past it, or finished) changes nothing and is not an error, so the
// notification service's retries and redeliveries are harmless.
func (s *server) RecordOutcome(ctx context.Context, req *packetv1.RecordOutcomeRequest) (*packetv1.RecordOutcomeResponse, error) {
	to, ok := outcomeStatus[req.GetOutcome()]
	v := map[string]string{}
	if !ok {
		v["outcome"] = "one of CREDENTIAL_RECEIVED, CONFIRMED, FLAGGED_FOR_REJECTION, REJECTED"
	}
	if req.GetTransactionId() == "" {
		v["transaction_id"] = "required"
	}
	if len(req.GetDetail()) > 1000 {
		v["detail"] = "at most 1000 bytes"
	}
	if len(v) > 0 {
		return nil, rpc.InvalidArgument("invalid outcome", v)
	}
	// The packet worker may move the step at the same moment (MOSIP can
	// answer before the worker recorded processing_started): retry the
	// compare-and-set a few times.
	for range 5 {
		tx, err := s.svc.store.Get(ctx, req.GetTransactionId())
		if errors.Is(err, store.ErrNotFound) {
			return nil, status.Errorf(codes.NotFound, "no transaction %q", req.GetTransactionId())
		}
		if err != nil {
			return nil, status.Error(codes.Unavailable, "could not read the transaction; retry")
		}
		if tx.Status == to || !store.CanAdvance(tx.Status, to) {
			return &packetv1.RecordOutcomeResponse{TransactionId: tx.ID, Status: string(tx.Status)}, nil
		}
		next, err := s.svc.store.Advance(ctx, tx.ID, tx.Status, to, req.GetDetail(), nil)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			s.svc.log.ErrorContext(ctx, "could not record an outcome", slog.String("error", err.Error()))
			return nil, status.Error(codes.Unavailable, "could not record the outcome; retry")
		}
		s.svc.log.InfoContext(ctx, "transaction outcome recorded", slog.String("transaction_id", next.ID),
			slog.String("from", string(tx.Status)), slog.String("to", string(next.Status)))
		return &packetv1.RecordOutcomeResponse{TransactionId: next.ID, Status: string(next.Status), Changed: true}, nil
	}
	return nil, status.Error(codes.Aborted, "the transaction kept changing; retry")
}
