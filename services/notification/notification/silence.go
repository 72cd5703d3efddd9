package notification

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	packetv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/packet/v1"
	"github.com/mosipcrvs/bridge/services/notification/internal/store"
)

// NOTIFICATION_REJECT_AFTER_SILENCE: a packet MOSIP took for processing
// and never answered (no credential, no status event) leaves its CRVS
// record pending for ever. Every replica sweeps the packet service's
// processing_started transactions now and then; each silent one becomes an
// inbox entry "silence-<transaction id>" (topic store.SilenceTopic), so
// however many replicas and sweeps find it, one entry and one job exist,
// retried and dead-lettered like a delivery, and an operator who discards
// it keeps the record from being rejected.

// Transaction steps the notification service reads (the packet service's).
const (
	stepProcessingStarted   = "processing_started"
	stepCredentialReceived  = "credential_received"
	stepFlaggedForRejection = "flagged_for_rejection"
	stepConfirmed           = "confirmed"
)

// silenceDetailPrefix starts the detail the rule records when it flags a
// transaction, so a retry knows the flag is its own.
const silenceDetailPrefix = "no answer from MOSIP within "

// silentRecord is the body of a silence entry: what rejecting the record
// needs, no personal data.
type silentRecord struct {
	TransactionID      string    `json:"transactionId"`
	EventID            string    `json:"eventId"`
	ActionID           string    `json:"actionId"`
	RegistrationNumber string    `json:"registrationNumber"`
	Process            string    `json:"process"`
	ProcessingSince    time.Time `json:"processingSince"`
	Silence            string    `json:"silence"`
}

// sweepInterval is how often each replica looks for silent packets: a
// tenth of the silence, between 100 ms and 5 minutes.
func sweepInterval(silence time.Duration) time.Duration {
	return min(max(silence/10, 100*time.Millisecond), 5*time.Minute)
}

// runSilenceSweeps sweeps until ctx ends, at jittered times so replicas
// spread their reads of the packet service.
func (s *Service) runSilenceSweeps(ctx context.Context) {
	every := sweepInterval(s.cfg.RejectAfterSilence)
	for {
		wait := every/2 + time.Duration(rand.Int64N(int64(every)))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if err := s.sweepSilent(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("silent packets not checked", slog.String("err", err.Error()))
		}
	}
}

// sweepSilent stores a silence entry for every transaction that reached
// processing_started longer than the silence ago and has no delivery from
// MOSIP. It judges nothing while deliveries wait that are not yet tied to a
// transaction: one of them may be the answer.
func (s *Service) sweepSilent(ctx context.Context) error {
	waiting, err := s.db.Unattributed(ctx)
	if err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	if waiting {
		return nil
	}
	silence := s.cfg.RejectAfterSilence
	cutoff := s.now().Add(-silence)
	token := ""
	var errs []error
	for {
		lctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		page, err := s.packet.ListTransactions(lctx, &packetv1.ListTransactionsRequest{
			Status: stepProcessingStarted, PageSize: 500, PageToken: token})
		cancel()
		if err != nil {
			return fmt.Errorf("packet service: %s", status.Convert(err).Message())
		}
		for _, t := range page.GetTransactions() {
			// Processing starts after the transaction is created.
			if t.GetCreatedAt().AsTime().After(cutoff) {
				continue
			}
			// One transaction the packet service cannot describe does not
			// hold up the others.
			if err := s.checkSilent(ctx, t, cutoff, silence); err != nil && len(errs) < 5 {
				errs = append(errs, fmt.Errorf("transaction %s: %w", t.GetTransactionId(), err))
			}
		}
		if token = page.GetNextPageToken(); token == "" {
			return errors.Join(errs...)
		}
	}
}

func (s *Service) checkSilent(ctx context.Context, t *packetv1.TransactionSummary, cutoff time.Time, silence time.Duration) error {
	// The inbox first: it is local, and after an outage of MOSIP's hub
	// many packets may wait, answered (a birth's PROCESSED) but without
	// their credential yet.
	answered, err := s.db.Answered(ctx, t.GetTransactionId())
	if err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	if answered {
		return nil
	}
	hist, f := s.history(ctx, t.GetTransactionId())
	if f != nil {
		return f
	}
	since, ok := processingSince(hist)
	if !ok || hist.GetStatus() != stepProcessingStarted || since.After(cutoff) {
		return nil
	}
	body, err := json.Marshal(silentRecord{
		TransactionID: t.GetTransactionId(), EventID: t.GetEventId(), ActionID: t.GetActionId(),
		RegistrationNumber: t.GetRegistrationNumber(), Process: t.GetProcess().String(),
		ProcessingSince: since, Silence: silence.String(),
	})
	if err != nil {
		return err
	}
	dup, err := s.db.Receive(ctx, "silence-"+t.GetTransactionId(), store.SilenceTopic, "status", "", body)
	if err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	if !dup {
		s.log.Warn("no answer from MOSIP: the record will be rejected", slog.String("transaction_id", t.GetTransactionId()),
			slog.Time("processing_since", since), slog.Duration("silence", silence))
	}
	return nil
}

// processingSince is when the transaction last reached processing_started.
func processingSince(h *packetv1.GetTransactionHistoryResponse) (time.Time, bool) {
	var at time.Time
	for _, e := range h.GetEntries() {
		if e.GetToStatus() == stepProcessingStarted {
			at = e.GetAt().AsTime()
		}
	}
	return at, !at.IsZero()
}

func (s *Service) history(ctx context.Context, txid string) (*packetv1.GetTransactionHistoryResponse, *failure) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	h, err := s.packet.GetTransactionHistory(ctx, &packetv1.GetTransactionHistoryRequest{TransactionId: txid})
	switch status.Code(err) {
	case codes.OK:
		return h, nil
	case codes.NotFound, codes.InvalidArgument:
		return nil, permanentf("packet service: %s", status.Convert(err).Message())
	default:
		return nil, &failure{reason: "packet service: " + status.Convert(err).Message()}
	}
}

// processSilence rejects the record of a silence entry, unless MOSIP
// answered meanwhile: flagged_for_rejection first (so a late credential no
// longer accepts it), then OpenCRVS's reject, then rejected.
func (s *Service) processSilence(ctx context.Context, dl store.Delivery, log *slog.Logger) (result, *failure) {
	var sr silentRecord
	if err := json.Unmarshal(dl.Body, &sr); err != nil || sr.TransactionID == "" {
		return result{}, permanentf("unreadable silence entry")
	}
	res := result{txid: sr.TransactionID}
	hist, f := s.history(ctx, sr.TransactionID)
	if f != nil {
		return res, f
	}
	detail := silenceDetailPrefix + sr.Silence
	switch st := hist.GetStatus(); {
	case finished(st):
		res.state, res.reason = store.StateDone, "transaction already "+st
		return res, nil
	case st == stepProcessingStarted:
		answered, err := s.db.Answered(ctx, sr.TransactionID)
		if err != nil {
			return res, &failure{reason: "inbox: " + err.Error()}
		}
		if answered {
			res.state, res.reason = store.StateDone, "MOSIP answered meanwhile; nothing rejected"
			return res, nil
		}
		// A credential being processed is tied to its transaction only
		// when it is done, and records its step with the confirmation: a
		// delivery not yet tied to a transaction may be this one's answer.
		waiting, err := s.db.Unattributed(ctx)
		if err != nil {
			return res, &failure{reason: "inbox: " + err.Error()}
		}
		if waiting {
			return res, &failure{reason: "deliveries not yet tied to a transaction are being processed; one may be MOSIP's answer"}
		}
		rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		out, err := s.packet.RecordOutcome(rctx, &packetv1.RecordOutcomeRequest{TransactionId: sr.TransactionID,
			Outcome: packetv1.Outcome_OUTCOME_FLAGGED_FOR_REJECTION, Detail: detail})
		cancel()
		if err != nil {
			return res, recordFailure(packetv1.Outcome_OUTCOME_FLAGGED_FOR_REJECTION, err)
		}
		if out.GetStatus() != stepFlaggedForRejection {
			res.state, res.reason = store.StateDone, "transaction moved to "+out.GetStatus()+" meanwhile; nothing rejected"
			return res, nil
		}
	case st == stepFlaggedForRejection:
		// Flagged by an earlier attempt of this entry, or by MOSIP's own
		// FAILED/REJECTED, whose status delivery then decides.
		if !flaggedBySilence(hist) {
			res.state, res.reason = store.StateDone, "MOSIP flagged the transaction meanwhile; its status event decides"
			return res, nil
		}
	default:
		res.state, res.reason = store.StateDone, "transaction is "+st+"; nothing rejected"
		return res, nil
	}
	tx := &packetv1.ResolveRegistrationResponse{TransactionId: sr.TransactionID, EventId: sr.EventID, ActionId: sr.ActionID,
		RegistrationNumber: sr.RegistrationNumber, Status: stepFlaggedForRejection}
	out, f := s.reject(ctx, tx, detail)
	if f != nil {
		return res, f
	}
	res.state, res.reason = store.StateDone, detail+"; rejected ("+out.String()+")"
	log.Warn("record rejected: no answer from MOSIP", slog.String("transaction_id", sr.TransactionID),
		slog.Time("processing_since", sr.ProcessingSince), slog.String("silence", sr.Silence))
	return res, nil
}

// flaggedBySilence reports whether the transaction's last flag is the
// silence rule's.
func flaggedBySilence(h *packetv1.GetTransactionHistoryResponse) bool {
	flagged := false
	for _, e := range h.GetEntries() {
		if e.GetToStatus() == stepFlaggedForRejection {
			flagged = strings.HasPrefix(e.GetDetail(), silenceDetailPrefix)
		}
	}
	return flagged
}

func recordFailure(o packetv1.Outcome, err error) *failure {
	switch status.Code(err) {
	case codes.FailedPrecondition, codes.InvalidArgument, codes.NotFound:
		return permanentf("packet service refused %s: %s", o, status.Convert(err).Message())
	default:
		return &failure{reason: "packet service: " + status.Convert(err).Message()}
	}
}
