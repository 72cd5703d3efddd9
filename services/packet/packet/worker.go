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

// Work runs the step machine.
func (w *submitWorker) Work(ctx context.Context, job *river.Job[store.SubmitJob]) error {
	return w.svc.drive(ctx, job.Args.TransactionID)
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
// nil when the job is done, a river.JobCancel error when it must not be
// retried, and any other error to have River retry it later.
func (svc *Service) drive(ctx context.Context, id string) error {
	tx, err := svc.store.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	var p payload
	if tx.Status == store.StatusReceived || tx.Status == store.StatusPacketCreated {
		if err := json.Unmarshal(tx.Payload, &p); err != nil {
			return svc.fail(ctx, tx, fmt.Errorf("%s: stored payload unreadable: %w", codeBridge, err), true)
		}
	}
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
			return nil
		}
		var ce *store.ConflictError
		if errors.As(err, &ce) {
			// Someone else moved it: continue from where it really is.
			if tx, err = svc.store.Get(ctx, id); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
	}
}

// createPacket records the RID (first, so a retry reuses it) and creates
// the packet; on success the transaction is packet_created.
func (svc *Service) createPacket(ctx context.Context, tx store.Transaction, p payload) (store.Transaction, error) {
	if tx.RegistrationID == "" {
		rid, err := svc.rids.Next(ctx, tx.ID)
		if err != nil {
			return tx, err
		}
		tx, err = svc.store.Advance(ctx, tx.ID, store.StatusReceived, store.StatusReceived, "registration id chosen",
			func(t *store.Transaction) { t.RegistrationID = rid })
		if err != nil {
			return tx, err
		}
	}
	req, err := svc.builder.CreatePacket(mosipclient.PacketInput{
		RID: tx.RegistrationID, Process: p.Process, RegistrationType: p.RegistrationType,
		SchemaJSON: p.SchemaJSON, Fields: p.Fields, MetaLabels: p.Labels, Audit: p.Audit,
	})
	if err != nil {
		return tx, svc.fail(ctx, tx, fmt.Errorf("%s: %w", codeBridge, err), true)
	}
	if _, err := svc.client.CreatePacket(ctx, req); err != nil {
		return tx, svc.fail(ctx, tx, err, !mosipclient.IsTemporary(err))
	}
	next, err := svc.store.Advance(ctx, tx.ID, store.StatusReceived, store.StatusPacketCreated, "packet created in MOSIP",
		func(t *store.Transaction) { t.Attempts, t.LastError = 0, "" })
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
func (svc *Service) startWorkflow(ctx context.Context, tx store.Transaction, p payload) (store.Transaction, error) {
	req, err := svc.builder.WorkflowInstance(mosipclient.WorkflowInput{RID: tx.RegistrationID, Process: p.Process, Notification: p.Notification})
	if err != nil {
		return tx, svc.fail(ctx, tx, fmt.Errorf("%s: %w", codeBridge, err), true)
	}
	detail := "workflow started in MOSIP"
	if _, err := svc.client.StartWorkflow(ctx, req); err != nil {
		if !errors.Is(err, mosipclient.ErrAlreadySubmitted) {
			return tx, svc.fail(ctx, tx, err, !mosipclient.IsTemporary(err))
		}
		detail = "workflow already present in MOSIP (RPR-WIS-001)"
	}
	next, err := svc.store.Advance(ctx, tx.ID, store.StatusPacketCreated, store.StatusProcessingStarted, detail,
		func(t *store.Transaction) { t.Attempts, t.LastError = 0, "" })
	if err != nil {
		return tx, err
	}
	svc.log.InfoContext(ctx, "processing started", slog.Any("transaction", next))
	return next, nil
}

// fail records a failed step. Permanent failures end the transaction
// (failed) and cancel the job; temporary ones are counted and retried until
// the retry horizon, then the transaction is flagged for rejection.
func (svc *Service) fail(ctx context.Context, tx store.Transaction, cause error, permanent bool) error {
	code, msg := describeFailure(cause)
	lastErr := code + ": " + msg
	switch {
	case permanent:
		if _, err := svc.store.Advance(ctx, tx.ID, tx.Status, store.StatusFailed, "MOSIP refused: "+code,
			func(t *store.Transaction) { t.Attempts++; t.LastError = lastErr }); err != nil {
			return err
		}
		svc.log.WarnContext(ctx, "MOSIP refused the packet; transaction failed", slog.Any("transaction", tx), slog.String("code", code))
		return river.JobCancel(errors.New(lastErr))
	case svc.now().Sub(tx.CreatedAt) > svc.cfg.RetryHorizon:
		if _, err := svc.store.Advance(ctx, tx.ID, tx.Status, store.StatusFlaggedForRejection,
			"MOSIP unreachable beyond PACKET_RETRY_HORIZON: "+code,
			func(t *store.Transaction) { t.Attempts++; t.LastError = lastErr }); err != nil {
			return err
		}
		svc.log.ErrorContext(ctx, "MOSIP unreachable beyond the retry horizon; transaction flagged for rejection",
			slog.Any("transaction", tx), slog.String("code", code))
		return river.JobCancel(errors.New(lastErr))
	default:
		if ctx.Err() == nil {
			if _, err := svc.store.Advance(ctx, tx.ID, tx.Status, tx.Status, "temporary failure: "+code,
				func(t *store.Transaction) { t.Attempts++; t.LastError = lastErr }); err != nil {
				svc.log.WarnContext(ctx, "could not record a failed attempt", slog.String("id", tx.ID), slog.String("error", err.Error()))
			}
		}
		svc.log.WarnContext(ctx, "MOSIP call failed; will retry", slog.Any("transaction", tx), slog.String("error", lastErr))
		return errors.New(lastErr)
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
