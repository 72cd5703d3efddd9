package packet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/mosipcrvs/bridge/pkg/mosip"
	"github.com/mosipcrvs/bridge/services/packet/internal/store"
	"github.com/mosipcrvs/bridge/services/packet/mosipclient"
)

// submitWorker works store.SubmitJob: it drives one transaction through
// createPacket and workflowinstance.
type submitWorker struct {
	river.WorkerDefaults[store.SubmitJob]
	svc *Service
}

// Work runs the step machine. The job of a new transaction is scheduled
// after SubmitRegistration's own drive (driveNow) has ended; should it run
// while a driver in this process still has the transaction anyway, it waits
// for that driver first, and is done if that reached the end of the
// worker's steps.
func (w *submitWorker) Work(ctx context.Context, job *river.Job[store.SubmitJob]) error {
	id := job.Args.TransactionID
	slot, reached, err := w.svc.claim(ctx, id)
	if err != nil {
		return err
	}
	var tx store.Transaction
	defer func() { w.svc.release(id, slot, tx.Status) }()
	if reached != "" && !inFlight(reached) {
		tx.Status = reached
		return nil
	}
	tx, err = w.svc.drive(ctx, id)
	return err
}

// driveSlot is a claim on driving one transaction in this process.
type driveSlot struct {
	done chan struct{}
	// reached is the step the driver left the transaction at ("" when
	// unknown); written before done is closed.
	reached store.Status
}

// tryClaim claims the transaction id, or returns false when someone in
// this process drives it.
func (svc *Service) tryClaim(id string) (*driveSlot, bool) {
	slot := &driveSlot{done: make(chan struct{})}
	if _, loaded := svc.drivers.LoadOrStore(id, slot); loaded {
		return nil, false
	}
	return slot, true
}

// claim waits until the transaction id is free and claims it. reached is
// the step the last driver it waited for left it at ("" when it waited for
// none).
func (svc *Service) claim(ctx context.Context, id string) (slot *driveSlot, reached store.Status, err error) {
	for {
		slot := &driveSlot{done: make(chan struct{})}
		cur, loaded := svc.drivers.LoadOrStore(id, slot)
		if !loaded {
			return slot, reached, nil
		}
		other := cur.(*driveSlot)
		select {
		case <-other.done:
			reached = other.reached
		case <-ctx.Done():
			return nil, "", ctx.Err()
		}
	}
}

// release ends a claim, recording the step the transaction reached, and
// wakes those waiting for it.
func (svc *Service) release(id string, slot *driveSlot, reached store.Status) {
	slot.reached = reached
	svc.drivers.CompareAndDelete(id, slot)
	close(slot.done)
}

// driverDone is closed when the current driver of the transaction id in
// this process is done; nil (never ready) when there is none.
func (svc *Service) driverDone(id string) <-chan struct{} {
	if cur, ok := svc.drivers.Load(id); ok {
		return cur.(*driveSlot).done
	}
	return nil
}

// NextRetry backs off exponentially from the base (2 s) to 5 min, ±20%.
func (w *submitWorker) NextRetry(job *river.Job[store.SubmitJob]) time.Time {
	return time.Now().Add(retryDelay(w.svc.backoff, job.Attempt))
}

func retryDelay(base time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < retryCap; i++ {
		d *= 2
	}
	d = min(d, retryCap)
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}

// Failure codes the bridge uses when MOSIP gave none.
const (
	codePacketRefused = "PACKET_REFUSED"
	codeToken         = "AUTH_TOKEN"
	codeBridge        = "BRIDGE_ERROR"
)

// drive moves the transaction forward from the step it is at. It returns
// the transaction as last seen, and nil when the job is done, a
// river.JobCancel error when it must not be retried, and any other error
// to have River retry it later.
func (svc *Service) drive(ctx context.Context, id string) (store.Transaction, error) {
	tx, err := svc.store.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return tx, river.JobCancel(err)
	}
	if err != nil {
		return tx, err
	}
	return svc.driveFrom(ctx, tx, nil)
}

// driveFrom is drive from a transaction already read; p, when not nil, is
// its payload already decoded.
func (svc *Service) driveFrom(ctx context.Context, tx store.Transaction, p *payload) (store.Transaction, error) {
	if p == nil && (tx.Status == store.StatusReceived || tx.Status == store.StatusPacketCreated) {
		p = new(payload)
		if err := json.Unmarshal(tx.Payload, p); err != nil {
			return svc.fail(ctx, tx, fmt.Errorf("%s: stored payload unreadable: %w", codeBridge, err), true)
		}
	}
	id := tx.ID
	for {
		var err error
		switch tx.Status {
		case store.StatusReceived:
			tx, err = svc.createPacket(ctx, tx, p)
		case store.StatusPacketCreated:
			tx, err = svc.startWorkflow(ctx, tx, p)
		default:
			// processing_started and later belong to the notification
			// service; finished or flagged transactions need nothing more.
			return tx, nil
		}
		var ce *store.ConflictError
		if errors.As(err, &ce) {
			// Someone else moved it: continue from where it really is.
			if tx, err = svc.store.Get(ctx, id); err != nil {
				return tx, err
			}
			continue
		}
		if err != nil {
			return tx, err
		}
	}
}

// createPacket records the RID (first, so a retry reuses it) and creates
// the packet; on success the transaction is packet_created.
func (svc *Service) createPacket(ctx context.Context, tx store.Transaction, p *payload) (store.Transaction, error) {
	if tx.RegistrationID == "" {
		// Submit records the RID with the transaction; older rows, or a
		// store that did not, get it here.
		rid, err := svc.rids.Next(ctx, tx.ID)
		if err != nil {
			return tx, err
		}
		next, err := svc.store.Step(ctx, tx.ID, store.StatusReceived, store.StatusReceived, "registration id chosen",
			store.Change{RegistrationID: rid})
		if err != nil {
			return tx, err
		}
		tx = next
	}
	schemaJSON := p.SchemaJSON
	if schemaJSON == "" {
		schemaJSON = svc.schema.JSON()
	}
	req, err := svc.builder.CreatePacket(mosipclient.PacketInput{
		RID: tx.RegistrationID, Process: p.Process, RegistrationType: p.RegistrationType,
		SchemaJSON: schemaJSON, Fields: p.Fields, MetaLabels: p.Labels, Audit: p.Audit,
	})
	if err != nil {
		return svc.fail(ctx, tx, fmt.Errorf("%s: %w", codeBridge, err), true)
	}
	if _, err := svc.client.CreatePacket(ctx, req); err != nil {
		return svc.fail(ctx, tx, err, !mosipclient.IsTemporary(err))
	}
	rctx, cancel := recordContext(ctx)
	defer cancel()
	next, err := svc.store.Step(rctx, tx.ID, store.StatusReceived, store.StatusPacketCreated, "packet created in MOSIP",
		store.Change{Succeeded: true})
	if err != nil {
		// The packet exists but the step is not recorded: retrying would
		// re-create it under the same RID, which MOSIP overwrites.
		return tx, err
	}
	svc.log.InfoContext(ctx, "packet created", slog.Any("transaction", next))
	return next, nil
}

// startWorkflow starts MOSIP's processing of the created packet; on success
// (or RPR-WIS-001: our earlier call got through) the transaction is
// processing_started.
func (svc *Service) startWorkflow(ctx context.Context, tx store.Transaction, p *payload) (store.Transaction, error) {
	req, err := svc.builder.WorkflowInstance(mosipclient.WorkflowInput{RID: tx.RegistrationID, Process: p.Process, Notification: p.Notification})
	if err != nil {
		return svc.fail(ctx, tx, fmt.Errorf("%s: %w", codeBridge, err), true)
	}
	detail := "workflow started in MOSIP"
	if _, err := svc.client.StartWorkflow(ctx, req); err != nil {
		if !errors.Is(err, mosipclient.ErrAlreadySubmitted) {
			return svc.fail(ctx, tx, err, !mosipclient.IsTemporary(err))
		}
		detail = "workflow already present in MOSIP (RPR-WIS-001)"
	}
	rctx, cancel := recordContext(ctx)
	defer cancel()
	// The worker's part ends here: a job still waiting (the fallback of a
	// request's own drive) goes with the step.
	next, err := svc.store.Step(rctx, tx.ID, store.StatusPacketCreated, store.StatusProcessingStarted, detail,
		store.Change{Succeeded: true, EndJob: true})
	if err != nil {
		return tx, err
	}
	svc.log.InfoContext(ctx, "processing started", slog.Any("transaction", next))
	return next, nil
}

// recordTimeout bounds recording MOSIP's answer once the context of the
// call has ended (a request's deadline just after the answer, a job's
// timeout, a shutdown): the answer is kept, rather than a retry calling
// MOSIP again for what it already did. It is shorter than jobGrace, so
// the record lands before the job of a request's transaction may run.
const recordTimeout = 2 * time.Second

// recordContext is ctx for recording an answer MOSIP gave under ctx: it
// does not end with ctx, but recordTimeout after.
func recordContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
}

// fail records a failed step. Permanent failures end the transaction
// (failed) and cancel the job; temporary ones are counted and retried until
// the retry horizon, then the transaction is flagged for rejection. A call
// cut by the end of ctx itself (the request's deadline, the job's timeout,
// a shutdown) is no answer of MOSIP's and is not recorded: the job tries
// again. It returns the transaction as recorded (tx when nothing was) and
// the job's error.
func (svc *Service) fail(ctx context.Context, tx store.Transaction, cause error, permanent bool) (store.Transaction, error) {
	code, msg := describeFailure(cause)
	lastErr := code + ": " + msg
	failure := store.Change{Failure: lastErr}
	// A failed or flagged transaction needs no job either.
	ending := store.Change{Failure: lastErr, EndJob: true}
	if ctx.Err() != nil && errors.Is(cause, ctx.Err()) {
		svc.log.WarnContext(ctx, "MOSIP call cut short; will retry", slog.Any("transaction", tx), slog.String("error", lastErr))
		return tx, errors.New(lastErr)
	}
	rctx, cancel := recordContext(ctx)
	defer cancel()
	switch {
	case permanent:
		next, err := svc.store.Step(rctx, tx.ID, tx.Status, store.StatusFailed, "MOSIP refused: "+code, ending)
		if err != nil {
			return tx, err
		}
		svc.log.WarnContext(ctx, "MOSIP refused the packet; transaction failed", slog.Any("transaction", tx), slog.String("code", code))
		return next, river.JobCancel(errors.New(lastErr))
	case svc.now().Sub(tx.CreatedAt) > svc.cfg.RetryHorizon:
		next, err := svc.store.Step(rctx, tx.ID, tx.Status, store.StatusFlaggedForRejection,
			"MOSIP unreachable beyond PACKET_RETRY_HORIZON: "+code, ending)
		if err != nil {
			return tx, err
		}
		svc.log.ErrorContext(ctx, "MOSIP unreachable beyond the retry horizon; transaction flagged for rejection",
			slog.Any("transaction", tx), slog.String("code", code))
		return next, river.JobCancel(errors.New(lastErr))
	default:
		if next, err := svc.store.Step(rctx, tx.ID, tx.Status, tx.Status, "temporary failure: "+code, failure); err != nil {
			svc.log.WarnContext(ctx, "could not record a failed attempt", slog.String("id", tx.ID), slog.String("error", err.Error()))
		} else {
			tx = next
		}
		svc.log.WarnContext(ctx, "MOSIP call failed; will retry", slog.Any("transaction", tx), slog.String("error", lastErr))
		return tx, errors.New(lastErr)
	}
}

// describeFailure returns a code (MOSIP's when it gave one) and a message
// for LastError; neither carries personal data (the client scrubs the
// packet's values from MOSIP's messages).
func describeFailure(err error) (code, msg string) {
	var me *mosip.Error
	var te *mosipclient.TokenError
	switch {
	case errors.As(err, &te):
		return codeToken, te.Error()
	case errors.As(err, &me):
		code = me.Code
		if code == "" {
			switch {
			case errors.Is(err, mosipclient.ErrPacketRefused):
				code = codePacketRefused
			case me.Kind == mosip.KindHTTP:
				code = fmt.Sprintf("HTTP_%d", me.Status)
			default:
				code = "MOSIP_" + strings.ToUpper(me.Kind.String())
			}
		}
		return code, me.Error()
	}
	msg = err.Error()
	if c, rest, ok := strings.Cut(msg, ": "); ok && c == codeBridge {
		return codeBridge, rest
	}
	return codeBridge, msg
}

// failureCode reads the code back from LastError ("<code>: <message>").
func failureCode(lastError string) string {
	code, _, _ := strings.Cut(lastError, ": ")
	if code == "" {
		return codeBridge
	}
	return code
}
