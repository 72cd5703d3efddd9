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
//
// A birth or a correction reaches confirmed through credential_received:
// MOSIP answers them with a credential. When the notification service
// reports the confirmation without having reported the credential (it
// reports it only when OpenCRVS could not confirm at once), that step is
// recorded first, so the history shows both, in order.
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
	tx, err := s.svc.store.GetMeta(ctx, req.GetTransactionId())
	if err != nil {
		return nil, s.outcomeError(ctx, req.GetTransactionId(), err)
	}
	// The packet worker may move the step at the same moment (MOSIP can
	// answer before the worker recorded processing_started): a missed
	// compare-and-set says where the transaction is, and the step is tried
	// again from there a few times. One statement moves it, through
	// credential_received when a confirmation would skip that step.
	cur := tx.Status
	for range 5 {
		if cur == to || !store.CanAdvance(cur, to) {
			return &packetv1.RecordOutcomeResponse{TransactionId: tx.ID, Status: string(cur)}, nil
		}
		c := store.Change{Via: viaStep(tx.Process, cur, to)}
		if c.Via != "" {
			c.ViaDetail = "recorded with the confirmation: " + req.GetDetail()
		}
		_, err = s.svc.store.Step(ctx, tx.ID, cur, to, req.GetDetail(), c)
		var conflict *store.ConflictError
		switch {
		case err == nil:
			s.svc.log.InfoContext(ctx, "transaction outcome recorded", slog.String("transaction_id", tx.ID),
				slog.String("from", string(cur)), slog.String("to", string(to)))
			return &packetv1.RecordOutcomeResponse{TransactionId: tx.ID, Status: string(to), Changed: true}, nil
		case errors.As(err, &conflict):
			cur = conflict.Actual
		case errors.Is(err, store.ErrConflict):
			if tx, err = s.svc.store.GetMeta(ctx, req.GetTransactionId()); err != nil {
				return nil, s.outcomeError(ctx, req.GetTransactionId(), err)
			}
			cur = tx.Status
		default:
			return nil, s.outcomeError(ctx, tx.ID, err)
		}
	}
	return nil, status.Error(codes.Aborted, "the transaction kept changing; retry")
}

// viaStep is the step a transaction of process p passes through on its
// way from step from to step to: credential_received when the
// confirmation of a process MOSIP answers with a credential (every one but
// a death) would skip it; "" when there is none.
func viaStep(p store.Process, from, to store.Status) store.Status {
	if to == store.StatusConfirmed && p != store.ProcessDeath &&
		from != store.StatusCredentialReceived && store.CanAdvance(from, store.StatusCredentialReceived) {
		return store.StatusCredentialReceived
	}
	return ""
}

// outcomeError converts a store error of RecordOutcome to its status.
func (s *server) outcomeError(ctx context.Context, id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return status.Errorf(codes.NotFound, "no transaction %q", id)
	}
	s.svc.log.ErrorContext(ctx, "could not record an outcome", slog.String("error", err.Error()))
	return status.Error(codes.Unavailable, "could not record the outcome; retry")
}
