package packet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/rpc"
	packetv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/packet/v1"
	"github.com/mosipcrvs/bridge/services/packet/idschema"
	"github.com/mosipcrvs/bridge/services/packet/internal/store"
	"github.com/mosipcrvs/bridge/services/packet/mapping"
	"github.com/mosipcrvs/bridge/services/packet/mosipclient"
)

// Field names OpenCRVS sends that choose the process.
const (
	fieldBRN = "birthCertificateNumber"
	fieldDRN = "deathCertificateNumber"
	fieldVID = "VID"
)

// payload is what the worker needs to build both MOSIP requests; stored
// sealed in the transaction (it holds personal data).
type payload struct {
	Event            mapping.Event `json:"event"`
	Process          string        `json:"process"`
	RegistrationType string        `json:"registrationType"`
	// SchemaJSON is the schema the request brought; empty means the
	// service's configured schema (PACKET_ID_SCHEMA), which is not copied
	// into every stored payload.
	SchemaJSON   string                   `json:"schemaJson,omitempty"`
	Fields       map[string]string        `json:"fields"`
	Labels       map[string]string        `json:"labels,omitempty"`
	Notification mosipclient.Notification `json:"notification"`
	Audit        map[string]any           `json:"audit,omitempty"`
}

// server implements PacketService.
type server struct {
	packetv1.UnimplementedPacketServiceServer
	svc *Service
}

// selection is the event and process a request asks for.
type selection struct {
	event              mapping.Event
	process            store.Process
	registrationNumber string
}

// selectProcess chooses the event from the submission kind and the
// requestFields, or returns the violations (field → description).
func selectProcess(kind packetv1.SubmissionKind, fields map[string]any) (selection, map[string]string) {
	switch kind {
	case packetv1.SubmissionKind_SUBMISSION_KIND_REGISTRATION:
		brn, hasBRN := present(fields, fieldBRN)
		drn, hasDRN := present(fields, fieldDRN)
		switch {
		case hasBRN && hasDRN:
			return selection{}, map[string]string{"requestFields." + fieldDRN: "must not be sent together with " + fieldBRN}
		case hasBRN:
			return selection{event: mapping.Birth, process: store.ProcessNew, registrationNumber: brn}, nil
		case hasDRN:
			return selection{event: mapping.Death, process: store.ProcessDeath, registrationNumber: drn}, nil
		default:
			return selection{}, map[string]string{"requestFields." + fieldBRN: "required: " + fieldBRN + " (birth) or " + fieldDRN + " (death)"}
		}
	case packetv1.SubmissionKind_SUBMISSION_KIND_UPDATE_BIOGRAPHICS:
		if _, ok := present(fields, fieldVID); !ok {
			return selection{}, map[string]string{"requestFields." + fieldVID: "required for update-biographics"}
		}
		return selection{event: mapping.Correction, process: store.ProcessUpdate}, nil
	default:
		return selection{}, map[string]string{"kind": "must be REGISTRATION or UPDATE_BIOGRAPHICS"}
	}
}

// present returns a requestFields value as text and whether it was sent
// (null and blank count as not sent).
func present(fields map[string]any, name string) (string, bool) {
	v, ok := fields[name]
	if !ok || v == nil {
		return "", false
	}
	var s string
	switch x := v.(type) {
	case string:
		s = strings.TrimSpace(x)
	case float64:
		s = fmt.Sprint(x)
	default:
		return "", true
	}
	return s, s != ""
}

func (s *server) SubmitRegistration(ctx context.Context, req *packetv1.SubmitRegistrationRequest) (*packetv1.SubmitRegistrationResponse, error) {
	svc := s.svc
	fields := req.GetRequestFields().AsMap()
	sel, violations := selectProcess(req.GetKind(), fields)
	if req.GetActionId() != "" && req.GetEventId() == "" {
		if violations == nil {
			violations = map[string]string{}
		}
		violations["event_id"] = "required with action_id"
	}
	schema, schemaJSON := svc.schema, ""
	if req.GetSchemaJson() != "" {
		sc, err := idschema.Parse([]byte(req.GetSchemaJson()))
		if err != nil {
			if violations == nil {
				violations = map[string]string{}
			}
			violations["schemaJson"] = "not a usable MOSIP ID schema: " + err.Error()
		} else {
			schemaJSON = sc.JSON()
		}
		schema = sc
	}
	if len(violations) > 0 {
		return nil, rpc.InvalidArgument("the registration is invalid", violations)
	}

	res := svc.mapping.Apply(sel.event, mapping.Input{RequestFields: fields, MetaInfo: req.GetMetaInfo().AsMap()}, schema)
	if len(res.Problems) > 0 {
		v := map[string]string{}
		for _, p := range res.Problems {
			if prev, ok := v[p.Field]; ok {
				v[p.Field] = prev + "; " + p.Message
			} else {
				v[p.Field] = p.Message
			}
		}
		return nil, rpc.InvalidArgument(fmt.Sprintf("the registration does not fit the MOSIP ID schema (%d problem(s))", len(res.Problems)), v)
	}
	if len(res.Dropped) > 0 {
		svc.log.WarnContext(ctx, "requestFields dropped: the ID schema does not declare them",
			slog.String("event", string(sel.event)), slog.Any("fields", res.Dropped))
		svc.dropped.Add(ctx, int64(len(res.Dropped)), metric.WithAttributes(attribute.String("event", string(sel.event))))
	}

	p := payload{
		Event:            sel.event,
		Process:          svc.processName(sel.process),
		RegistrationType: mosipclient.RegistrationUpdate,
		SchemaJSON:       schemaJSON,
		Fields:           res.Fields,
		Labels:           res.Labels,
		Notification: mosipclient.Notification{
			Name:  req.GetNotification().GetRecipientFullName(),
			Email: req.GetNotification().GetRecipientEmail(),
			Phone: req.GetNotification().GetRecipientPhone(),
		},
		Audit: req.GetAudit().AsMap(),
	}
	if sel.process == store.ProcessNew {
		p.RegistrationType = mosipclient.RegistrationNew
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encode payload: %v", err)
	}
	// This request drives a new transaction itself until the deadline; its
	// job may run only once that drive has certainly ended (jobGrace).
	deadline := svc.syncDeadline(ctx)
	tx, created, err := svc.store.Submit(ctx, store.Submission{
		Process: sel.process, EventID: req.GetEventId(), ActionID: req.GetActionId(),
		RegistrationNumber: sel.registrationNumber, TrackingID: req.GetTrackingId(),
		Token: config.Secret(req.GetCrvsToken()), Payload: store.PersonalData(raw),
		ChooseRID: svc.rids.Make, JobScheduledAt: deadline.Add(svc.jobGrace),
	})
	if err != nil {
		if errors.Is(err, store.ErrInvalid) {
			return nil, rpc.InvalidArgument(err.Error(), nil)
		}
		svc.log.ErrorContext(ctx, "could not record the transaction", slog.String("error", err.Error()))
		return nil, status.Error(codes.Unavailable, "could not record the transaction; retry")
	}
	if created {
		svc.log.InfoContext(ctx, "transaction received", slog.Any("transaction", tx))
	} else {
		svc.log.InfoContext(ctx, "resubmission: returning the existing transaction", slog.Any("transaction", tx))
	}
	driven := false
	if created {
		tx, driven = svc.driveNow(ctx, tx, &p, deadline)
	}
	if !driven {
		tx = svc.wait(ctx, tx, deadline)
	}
	if tx.Status == store.StatusFailed {
		return nil, failedStatus(tx)
	}
	return &packetv1.SubmitRegistrationResponse{
		TransactionId: tx.ID, Process: protoProcess(tx.Process), Status: string(tx.Status), Created: created,
	}, nil
}

// inFlight reports whether the worker is still on its way to MOSIP.
func inFlight(st store.Status) bool {
	return st == store.StatusReceived || st == store.StatusPacketCreated
}

// syncDeadline is when SubmitRegistration answers at the latest:
// PACKET_SYNC_DEADLINE from now, or just before the caller gives up.
func (svc *Service) syncDeadline(ctx context.Context) time.Time {
	deadline := time.Now().Add(svc.cfg.SyncDeadline)
	if d, ok := ctx.Deadline(); ok {
		// Leave the answer time to travel back before the caller gives up.
		if d = d.Add(-100 * time.Millisecond); d.Before(deadline) {
			deadline = d
		}
	}
	return deadline
}

// driveNow drives a transaction SubmitRegistration has just created, in
// the request, until it is past the worker's steps or the deadline, rather
// than waiting for the queue: the answer then costs MOSIP's two calls and
// two steps in the store. Temporary failures are retried on the worker's
// schedule for as long as the deadline allows. It returns the transaction
// as last recorded, and driven false (nothing done) when a driver in this
// process has it already.
//
// The job stays enqueued as the durable fallback, scheduled after the
// deadline and a margin (Submission.JobScheduledAt), so that no replica's
// worker calls MOSIP for the transaction while this drive may: every MOSIP
// call here runs under a context that ends at the deadline, and recording
// MOSIP's last answer takes at most recordTimeout more, well within the
// margin. When River runs the job, it finds the steps done, or resumes
// from the last one.
func (svc *Service) driveNow(ctx context.Context, tx store.Transaction, p *payload, deadline time.Time) (store.Transaction, bool) {
	slot, ok := svc.tryClaim(tx.ID)
	if !ok {
		return tx, false
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	defer func() { svc.release(tx.ID, slot, tx.Status) }()
	for attempt := 1; ; attempt++ {
		cur, err := svc.driveFrom(dctx, tx, p)
		tx = cur
		var cancelled *river.JobCancelError
		if err == nil || errors.As(err, &cancelled) || dctx.Err() != nil {
			return tx, true
		}
		delay := retryDelay(svc.backoff, attempt)
		if time.Until(deadline) <= delay {
			return tx, true // the job retries after the deadline
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-dctx.Done():
			t.Stop()
			return tx, true
		}
	}
}

// wait watches the transaction until the worker moved it past packet
// creation or the deadline passed, and returns the last state seen. It
// reads the transaction when a driver in this process finishes with it,
// and every pollInterval in case a driver elsewhere moved it.
func (svc *Service) wait(ctx context.Context, tx store.Transaction, deadline time.Time) store.Transaction {
	if !inFlight(tx.Status) {
		return tx
	}
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return tx
		case <-t.C:
		case <-svc.driverDone(tx.ID):
		}
		cur, err := svc.store.Get(ctx, tx.ID)
		if err != nil {
			if ctx.Err() == nil {
				svc.log.WarnContext(ctx, "could not read the transaction while waiting", slog.String("id", tx.ID), slog.String("error", err.Error()))
			}
			return tx
		}
		tx = cur
		if !inFlight(tx.Status) {
			return tx
		}
	}
	return tx
}

// failedStatus is the FailedPrecondition answer for a transaction MOSIP
// refused: MOSIP's code in ErrorInfo, no personal data.
func failedStatus(tx store.Transaction) error {
	code := failureCode(tx.LastError)
	st := status.New(codes.FailedPrecondition, fmt.Sprintf("MOSIP refused the packet of transaction %s (%s)", tx.ID, code))
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: code, Domain: "mosip",
		Metadata: map[string]string{"transaction_id": tx.ID}}); err == nil {
		st = d
	}
	return st.Err()
}

func (s *server) GetTransaction(ctx context.Context, req *packetv1.GetTransactionRequest) (*packetv1.GetTransactionResponse, error) {
	if req.GetTransactionId() == "" {
		return nil, rpc.InvalidArgument("transaction_id is required", map[string]string{"transaction_id": "required"})
	}
	tx, err := s.svc.store.Get(ctx, req.GetTransactionId())
	if errors.Is(err, store.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "no transaction %q", req.GetTransactionId())
	}
	if err != nil {
		s.svc.log.ErrorContext(ctx, "could not read a transaction", slog.String("error", err.Error()))
		return nil, status.Error(codes.Unavailable, "could not read the transaction; retry")
	}
	return &packetv1.GetTransactionResponse{
		TransactionId: tx.ID, Process: protoProcess(tx.Process), Status: string(tx.Status),
		CreatedAt: timestamppb.New(tx.CreatedAt),
	}, nil
}

// processName is the configured MOSIP process name of p.
func (svc *Service) processName(p store.Process) string {
	switch p {
	case store.ProcessNew:
		return svc.cfg.ProcessBirth
	case store.ProcessDeath:
		return svc.cfg.ProcessDeath
	default:
		return svc.cfg.ProcessUpdate
	}
}

func protoProcess(p store.Process) packetv1.Process {
	switch p {
	case store.ProcessNew:
		return packetv1.Process_PROCESS_CRVS_NEW
	case store.ProcessDeath:
		return packetv1.Process_PROCESS_CRVS_DEATH
	case store.ProcessUpdate:
		return packetv1.Process_PROCESS_CRVS_UPDATE
	}
	return packetv1.Process_PROCESS_UNSPECIFIED
}
