package notification

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	packetv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/packet/v1"
	"github.com/mosipcrvs/bridge/services/notification/internal/credential"
	"github.com/mosipcrvs/bridge/services/notification/internal/inbox"
	"github.com/mosipcrvs/bridge/services/notification/internal/store"
	"github.com/mosipcrvs/bridge/services/notification/opencrvs"
)

// failure is a processing error with its fate: retried (temporary) or
// dead-lettered with reason.
type failure struct {
	reason    string
	permanent bool
	// credStatus, when set, is published as CREDENTIAL_STATUS_UPDATE.
	credStatus string
}

func (f *failure) Error() string { return f.reason }

func permanentf(format string, args ...any) *failure {
	return &failure{reason: fmt.Sprintf(format, args...), permanent: true}
}

// worker processes stored deliveries (River job).
type worker struct {
	river.WorkerDefaults[store.ProcessJob]
	s *Service
}

// Timeout bounds one attempt (several calls); River cancels the context.
func (w *worker) Timeout(*river.Job[store.ProcessJob]) time.Duration { return jobTimeout(w.s.cfg) }

func (w *worker) Work(ctx context.Context, job *river.Job[store.ProcessJob]) error {
	return w.s.process(ctx, job.Args.EventID)
}

// retryPolicy is full-jitter exponential backoff: a random delay in
// [0, min(cap, base·2^(attempt-1))], so a recovering OpenCRVS is not hit by
// every retry at once.
type retryPolicy struct{ base, cap time.Duration }

func (p retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	d := p.cap
	if n := job.Attempt - 1; n < 30 {
		if e := p.base << n; e > 0 && e < p.cap {
			d = e
		}
	}
	return time.Now().Add(time.Duration(rand.Int64N(int64(d) + 1)))
}

// process handles one delivery; a returned error makes River retry it.
func (s *Service) process(ctx context.Context, eventID string) error {
	dl, err := s.db.Get(ctx, eventID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted by retention; nothing to do
	}
	if err != nil {
		return err
	}
	if dl.State != store.StateReceived {
		return nil // processed, or an operator discarded it
	}
	log := s.log.With(slog.String("event_id", dl.EventID), slog.String("kind", dl.Kind))
	ev, res, f := s.handle(ctx, dl, log)
	if f == nil {
		_, err := s.db.Record(ctx, eventID, store.Update{State: res.state, Reason: res.reason, Attempt: true,
			RegistrationID: res.rid, TransactionID: res.txid})
		if err != nil && !errors.Is(err, store.ErrState) {
			return err
		}
		s.metrics.processed(ctx, dl.Kind, res.state)
		if ev.Kind == inbox.KindCredential && res.state == store.StateDone {
			s.publishStatus(ctx, ev.RequestID, credential.StatusServed, log)
		}
		return nil
	}
	age := s.now().Sub(dl.ReceivedAt)
	dead := f.permanent || age > s.cfg.RetryHorizon
	u := store.Update{Reason: f.reason, Attempt: true, RegistrationID: res.rid, TransactionID: res.txid}
	if dead {
		u.State = store.StateDead
		if !f.permanent {
			u.Reason = fmt.Sprintf("gave up after %s: %s", age.Round(time.Second), f.reason)
		}
	}
	if _, err := s.db.Record(ctx, eventID, u); err != nil && !errors.Is(err, store.ErrState) {
		return err
	}
	if !dead {
		log.Warn("delivery processing will be retried", slog.String("reason", f.reason))
		return f
	}
	log.Error("delivery dead-lettered", slog.String("reason", u.Reason))
	s.metrics.processed(ctx, dl.Kind, store.StateDead)
	if f.credStatus != "" {
		s.publishStatus(ctx, ev.RequestID, f.credStatus, log)
	}
	return nil
}

// handle processes a delivery by what it is: a silence entry the bridge
// wrote itself, a credential or a status event.
func (s *Service) handle(ctx context.Context, dl store.Delivery, log *slog.Logger) (inbox.Event, result, *failure) {
	if dl.Topic == store.SilenceTopic {
		res, f := s.processSilence(ctx, dl, log)
		return inbox.Event{}, res, f
	}
	ev, err := inbox.Parse(dl.Body)
	switch {
	case err != nil:
		return ev, result{}, permanentf("%v", err)
	case ev.Kind == inbox.KindCredential:
		res, f := s.processCredential(ctx, dl, ev, log)
		return ev, res, f
	default:
		res, f := s.processStatus(ctx, dl, ev, log)
		return ev, res, f
	}
}

// result is how a processed delivery ends.
type result struct {
	state, reason, rid, txid string
}

func (s *Service) processCredential(ctx context.Context, dl store.Delivery, ev inbox.Event, log *slog.Logger) (result, *failure) {
	res := result{rid: ev.RegistrationID}
	enc := ev.Credential
	if enc == "" {
		enc = dl.Fetched
	}
	if enc == "" {
		var err error
		if enc, err = s.verifier.FetchDataShare(ctx, ev.DataShareURI); err != nil {
			return res, credFailure(err)
		}
		// A data share can be read only a few times: keep what was read.
		if _, err := s.db.Record(ctx, dl.EventID, store.Update{Fetched: enc}); err != nil {
			return res, &failure{reason: "store data share content: " + err.Error()}
		}
	}
	if s.cfg.SkipVerification {
		log.Warn("CREDENTIAL VERIFICATION IS DISABLED (MOSIP_VC_VERIFICATION_DISABLED=true): this credential's signatures are not checked")
	}
	cred, err := s.verifier.Open(ctx, enc, ev.ProofSignature, ev.RegistrationID)
	if err != nil {
		return res, credFailure(err)
	}
	res.rid = cred.RegistrationID
	release, err := s.claimRegistration(ctx, cred.RegistrationID)
	if err != nil {
		return res, &failure{reason: "waiting for another delivery of the same registration: " + err.Error()}
	}
	defer release()
	tx, f := s.resolve(ctx, cred.RegistrationID)
	if f != nil {
		f.credStatus = credential.StatusParseError
		return res, f
	}
	if tx == nil {
		return res, &failure{reason: "unknown registration id: no transaction of this bridge has it", permanent: true,
			credStatus: credential.StatusParseError}
	}
	res.txid = tx.GetTransactionId()
	if done := finished(tx.GetStatus()); done {
		res.state, res.reason = store.StateDone, "transaction already "+tx.GetStatus()
		return res, nil
	}
	if tx.GetStatus() == stepFlaggedForRejection {
		// MOSIP failed the packet, or it stayed silent too long: the record
		// is being rejected, and a late credential must not race that.
		res.state, res.reason = store.StateDone, "transaction flagged for rejection; the credential does not accept the record"
		return res, nil
	}
	var nid string
	if tx.GetProcess() != packetv1.Process_PROCESS_CRVS_DEATH {
		if nid, err = cred.Identifier(s.cfg.IdentifierPolicy, s.cfg.NationalIDKey); err != nil {
			return res, &failure{reason: err.Error(), permanent: true, credStatus: credential.StatusParseError}
		}
	}
	// One call to the packet service when OpenCRVS confirms at once: it
	// records the credential's step with the confirmation. Otherwise the
	// credential's step is recorded now, so the history says MOSIP
	// answered while the retries go on.
	out, f := s.confirm(ctx, tx, true, nid, "")
	if f != nil {
		if tx.GetStatus() == stepCredentialReceived {
			return res, f
		}
		rf := s.recordOutcome(ctx, tx, packetv1.Outcome_OUTCOME_CREDENTIAL_RECEIVED, "credential "+ev.ID)
		if rf != nil && !rf.permanent && f.permanent {
			// Not dead-lettered before the history is complete: retried.
			return res, rf
		}
		return res, f
	}
	st, f := s.recordStep(ctx, tx, packetv1.Outcome_OUTCOME_CONFIRMED, "credential "+ev.ID+"; OpenCRVS: "+out.String())
	if f != nil {
		return res, f
	}
	res.state, res.reason = store.StateDone, "confirmed ("+out.String()+")"
	if st != stepConfirmed {
		// Flagged for rejection (MOSIP's failure, or its silence) after
		// the transaction was read: the record was accepted all the same.
		res.reason += "; the transaction is " + st
		log.Error("record accepted in OpenCRVS while its transaction moved on", slog.String("transaction_id", res.txid),
			slog.String("status", st))
		return res, nil
	}
	log.Info("record confirmed", slog.String("transaction_id", res.txid), slog.String("outcome", out.String()))
	return res, nil
}

func (s *Service) processStatus(ctx context.Context, _ store.Delivery, ev inbox.Event, log *slog.Logger) (result, *failure) {
	res := result{rid: ev.RegistrationID}
	release, err := s.claimRegistration(ctx, ev.RegistrationID)
	if err != nil {
		return res, &failure{reason: "waiting for another delivery of the same registration: " + err.Error()}
	}
	defer release()
	tx, f := s.resolve(ctx, ev.RegistrationID)
	if f != nil {
		return res, f
	}
	if tx == nil {
		// The status topic is general: most events are other systems' RIDs.
		res.state, res.reason = store.StateIgnored, "not a registration of this bridge"
		return res, nil
	}
	res.txid = tx.GetTransactionId()
	detail := "MOSIP " + ev.ResultCode
	if ev.ErrorCode != "" {
		detail += " " + ev.ErrorCode
	}
	if finished(tx.GetStatus()) {
		res.state, res.reason = store.StateDone, detail+"; transaction already "+tx.GetStatus()
		return res, nil
	}
	switch ev.ResultCode {
	case "PROCESSED":
		if tx.GetProcess() != packetv1.Process_PROCESS_CRVS_DEATH {
			// Births and corrections are confirmed by their credential.
			res.state, res.reason = store.StateDone, detail+"; waiting for the credential"
			return res, nil
		}
		// MOSIP issues no credential for a death: this event confirms it.
		out, f := s.confirm(ctx, tx, true, "", "")
		if f != nil {
			return res, f
		}
		if f := s.recordOutcome(ctx, tx, packetv1.Outcome_OUTCOME_CONFIRMED, detail+"; OpenCRVS: "+out.String()); f != nil {
			return res, f
		}
		res.state, res.reason = store.StateDone, "death confirmed ("+out.String()+")"
		log.Info("death confirmed", slog.String("transaction_id", res.txid))
	case "FAILED", "REJECTED":
		if f := s.recordOutcome(ctx, tx, packetv1.Outcome_OUTCOME_FLAGGED_FOR_REJECTION, detail); f != nil {
			return res, f
		}
		if !s.cfg.RejectOnFailure {
			res.state, res.reason = store.StateDone, detail+"; flagged for rejection (rejection switched off)"
			return res, nil
		}
		out, f := s.reject(ctx, tx, detail)
		if f != nil {
			return res, f
		}
		res.state, res.reason = store.StateDone, detail+"; rejected ("+out.String()+")"
		log.Warn("record rejected after MOSIP failure", slog.String("transaction_id", res.txid), slog.String("mosip", detail))
	default:
		res.state, res.reason = store.StateIgnored, "result code "+ev.ResultCode+" needs no action"
	}
	return res, nil
}

// claimRegistration waits until no other worker of this process handles a
// delivery of the registration id, and claims it; release ends the claim.
// Two deliveries of one registration (MOSIP re-issuing a credential, or a
// death's status event and a credential) then never both find the
// transaction open and both call OpenCRVS: the second reads the
// transaction after the first recorded its outcome. Replicas are not
// serialized; the deterministic transactionId (confirmationID) makes
// OpenCRVS apply their calls once.
func (s *Service) claimRegistration(ctx context.Context, rid string) (release func(), err error) {
	mine := make(chan struct{})
	for {
		cur, loaded := s.handling.LoadOrStore(rid, mine)
		if !loaded {
			return func() {
				s.handling.CompareAndDelete(rid, mine)
				close(mine)
			}, nil
		}
		select {
		case <-cur.(chan struct{}):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func finished(status string) bool {
	switch status {
	case "confirmed", "rejected", "failed", "cancelled":
		return true
	}
	return false
}

// resolve finds the transaction of a RID; nil when the packet service does
// not know it.
func (s *Service) resolve(ctx context.Context, rid string) (*packetv1.ResolveRegistrationResponse, *failure) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	tx, err := s.packet.ResolveRegistration(ctx, &packetv1.ResolveRegistrationRequest{RegistrationId: rid})
	switch status.Code(err) {
	case codes.OK:
		return tx, nil
	case codes.NotFound:
		return nil, nil
	case codes.InvalidArgument:
		return nil, permanentf("registration id refused by the packet service: %s", status.Convert(err).Message())
	default:
		return nil, &failure{reason: "packet service: " + status.Convert(err).Message()}
	}
}

func (s *Service) recordOutcome(ctx context.Context, tx *packetv1.ResolveRegistrationResponse, o packetv1.Outcome, detail string) *failure {
	_, f := s.recordStep(ctx, tx, o, detail)
	return f
}

// recordStep reports an outcome and returns the step the transaction is
// at afterwards.
func (s *Service) recordStep(ctx context.Context, tx *packetv1.ResolveRegistrationResponse, o packetv1.Outcome, detail string) (string, *failure) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	r, err := s.packet.RecordOutcome(ctx, &packetv1.RecordOutcomeRequest{TransactionId: tx.GetTransactionId(), Outcome: o, Detail: detail})
	if err != nil {
		return "", recordFailure(o, err)
	}
	return r.GetStatus(), nil
}

// confirm accepts or rejects the CRVS record. The OpenCRVS transactionId
// is derived from the bridge transaction and the verb, so every retry and
// every duplicate event names the same action.
func (s *Service) confirm(ctx context.Context, tx *packetv1.ResolveRegistrationResponse, accept bool, nid, reason string) (opencrvs.Outcome, *failure) {
	verb := "reject"
	if accept {
		verb = "accept"
	}
	cf := opencrvs.Confirmation{
		EventID: tx.GetEventId(), ActionID: tx.GetActionId(), RecordToken: tx.GetCrvsToken(),
		TransactionID:      confirmationID(tx.GetTransactionId(), verb),
		RegistrationNumber: tx.GetRegistrationNumber(), NationalID: nid, Reason: reason,
	}
	ctx, cancel := context.WithTimeout(ctx, 2*s.cfg.Timeout)
	defer cancel()
	var out opencrvs.Outcome
	var err error
	if accept {
		out, err = s.crvs.Accept(ctx, cf)
	} else {
		out, err = s.crvs.Reject(ctx, cf)
	}
	if err != nil {
		return 0, &failure{reason: "OpenCRVS " + verb + ": " + err.Error(), permanent: !opencrvs.IsRetryable(err)}
	}
	return out, nil
}

// reject rejects the CRVS record with reason and then records the
// transaction rejected: the rejection of a packet MOSIP failed, and of one
// it never answered.
func (s *Service) reject(ctx context.Context, tx *packetv1.ResolveRegistrationResponse, reason string) (opencrvs.Outcome, *failure) {
	out, f := s.confirm(ctx, tx, false, "", reason)
	if f != nil {
		return 0, f
	}
	if f := s.recordOutcome(ctx, tx, packetv1.Outcome_OUTCOME_REJECTED, reason+"; OpenCRVS: "+out.String()); f != nil {
		return 0, f
	}
	return out, nil
}

// confirmationID is "mosip-" and a UUID-shaped hash of the transaction and
// verb.
func confirmationID(txid, verb string) string {
	sum := sha256.Sum256([]byte("mosipcrvs/" + txid + "/" + verb))
	h := hex.EncodeToString(sum[:16])
	return "mosip-" + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func credFailure(err error) *failure {
	var ce *credential.Error
	if errors.As(err, &ce) {
		return &failure{reason: ce.Reason, permanent: ce.Permanent, credStatus: ce.Status}
	}
	return &failure{reason: err.Error()}
}

// publishStatus tells MOSIP what became of a credential, as its own
// mediator does; best effort (the CRVS record does not depend on it).
func (s *Service) publishStatus(ctx context.Context, requestID, st string, log *slog.Logger) {
	if !s.cfg.PublishStatus || requestID == "" || s.subs == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := s.subs.PublishCredentialStatus(ctx, requestID, st); err != nil {
		log.Warn("CREDENTIAL_STATUS_UPDATE not published", slog.String("status", st), slog.String("err", err.Error()))
	}
}
