// Package store keeps the packet service's transactions: the durable record
// that links a registration OpenCRVS handed over to the packet sent to MOSIP
// and to MOSIP's answer, so that the answer can be reported back to the right
// OpenCRVS record however long it takes and whatever crashes in between.
//
// Two implementations satisfy one contract (see the contract test):
// PostgreSQL through pgx for production and SQLite (pure Go, no cgo) as the
// embedded default. Both keep, in the same database:
//
//   - packet_transactions: one row per transaction, its current step and the
//     ids that link OpenCRVS and MOSIP. The OpenCRVS record token and the
//     packet payload (personal data) are sealed with AES-256-GCM (Keyring).
//   - packet_audit: an append-only trail of every state change, enforced by
//     database triggers.
//   - River's tables: the durable job queue. Submit writes the transaction,
//     its first audit entry and its job in one database transaction, so a
//     transaction without a job (or a job without a transaction) never exists.
//
// A worker drives a transaction forward with Step (or Advance, which takes
// any mutation but reads the row first), a compare-and-set on the current
// step: a retried job reads the step it stopped at and resumes there, and
// two workers racing on one transaction cannot both win. The SubmitJob
// worker is expected to work like this:
//
//   - received: the MOSIP RID is recorded before the packet is sent, so a
//     retry after a crash sends the same RID rather than a second packet
//     under a new one. Submit records it with the transaction when the
//     submission chooses it (Submission.ChooseRID); otherwise the worker
//     chooses it and records it first, with Step(id, received, received,
//     Change{RegistrationID: ...}). Create the packet; Step(id, received,
//     packet_created, ...).
//   - packet_created: start processing; Step to processing_started.
//   - later steps belong to the notification service (MOSIP's answer and
//     OpenCRVS's confirmation); the job is done.
//   - a *ConflictError means someone else moved the transaction: read it
//     again and continue from its step; cancelled or finished means stop.
//
// Run workers with NewQueue, which builds the River client for whichever
// database the store uses.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/mosipcrvs/bridge/pkg/config"
)

// Process is the MOSIP registration process of a packet.
type Process string

// The processes MOSIP's registration processor knows for OpenCRVS packets.
const (
	// ProcessNew creates an identity for a birth.
	ProcessNew Process = "CRVS_NEW"
	// ProcessDeath marks an identity deceased.
	ProcessDeath Process = "CRVS_DEATH"
	// ProcessUpdate corrects biographic data of an identity.
	ProcessUpdate Process = "CRVS_UPDATE"
)

// Valid reports whether p is one of the known processes.
func (p Process) Valid() bool {
	switch p {
	case ProcessNew, ProcessDeath, ProcessUpdate:
		return true
	}
	return false
}

// Submission is what the packet service hands to Submit: a registration
// OpenCRVS sent, already validated and turned into the MOSIP request.
type Submission struct {
	// Process is the MOSIP process of the packet.
	Process Process
	// EventID and ActionID are the eventId and actionId claims of the
	// OpenCRVS record token. Together they are the idempotency key: the same
	// pair submitted again returns the first transaction. Either may be empty
	// (update-biographics carries no action); then every Submit creates a new
	// transaction. An ActionID without an EventID is invalid.
	EventID, ActionID string
	// RegistrationNumber is the OpenCRVS registration number (BRN or DRN).
	// It is not unique: a correction of a record reuses it.
	RegistrationNumber string
	// TrackingID is the OpenCRVS tracking id.
	TrackingID string
	// Token is the OpenCRVS record token, needed later to confirm or reject
	// the record. Stored sealed; never logged.
	Token config.Secret
	// Payload is the validated MOSIP packet request (JSON) the worker sends.
	// It holds personal data: stored sealed, wiped by Purge.
	Payload PersonalData
	// ChooseRID, when not nil, chooses the MOSIP registration id (RID) of
	// a new transaction inside Submit's database transaction, from the
	// transaction id and the next number of the RID sequence every replica
	// shares (NextRIDSequence's, drawn for it), so that no step of its own
	// has to record it. It is not called for a duplicate. nil leaves the
	// RID to the worker.
	ChooseRID func(transactionID string, ridSequence int64) (string, error)
	// JobScheduledAt, when not zero, is the earliest time River may run the
	// transaction's job: the submitter drives the transaction itself until
	// then, and no replica's worker may call MOSIP for it meanwhile. Zero
	// makes the job available at once.
	JobScheduledAt time.Time
}

// Transaction is the stored record of one registration on its way to MOSIP
// and back.
type Transaction struct {
	// ID is TRANSACTION_ID_PREFIX followed by a zero-padded sequence number,
	// 15 digits in all.
	ID string
	// Process is the MOSIP process of the packet.
	Process Process
	// Status is the step the transaction reached.
	Status Status
	// EventID and ActionID come from the OpenCRVS record token.
	EventID, ActionID string
	// RegistrationNumber is the OpenCRVS registration number.
	RegistrationNumber string
	// RegistrationID is the MOSIP registration id (RID) of the packet; set
	// by the worker (through Advance) before it creates the packet, so a
	// retry sends the same RID rather than a second packet.
	RegistrationID string
	// TrackingID is the OpenCRVS tracking id.
	TrackingID string
	// Token is the OpenCRVS record token; empty in List results and after
	// Purge.
	Token config.Secret
	// Payload is the MOSIP packet request; empty in List results and after
	// Purge.
	Payload PersonalData
	// JobID is the River job that drives the transaction.
	JobID int64
	// Attempts counts the worker's attempts at the current step; the worker
	// maintains it through Advance.
	Attempts int
	// LastError is the last failure, for operators. It must never hold
	// personal data: write error codes and messages of MOSIP, not the request.
	LastError string
	// CreatedAt and UpdatedAt are in UTC, truncated to microseconds (what
	// both databases keep).
	CreatedAt, UpdatedAt time.Time
	// PurgedAt is when Purge wiped the token and payload; zero before.
	PurgedAt time.Time
}

// LogValue logs only what identifies the transaction and its progress, so a
// transaction can be passed to a logger whole.
func (t Transaction) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", t.ID),
		slog.String("process", string(t.Process)),
		slog.String("status", string(t.Status)),
		slog.Int("attempts", t.Attempts),
	)
}

// PersonalData is a byte string holding personal data. Printing or logging
// it shows only "[redacted]"; use the bytes themselves to send it.
type PersonalData []byte

// String keeps fmt from revealing the data.
func (p PersonalData) String() string {
	if len(p) == 0 {
		return ""
	}
	return "[redacted]"
}

// GoString keeps %#v from revealing the data.
func (p PersonalData) GoString() string { return p.String() }

// LogValue keeps slog from revealing the data.
func (p PersonalData) LogValue() slog.Value { return slog.StringValue(p.String()) }

// MarshalJSON keeps encoders from revealing the data (the payload is sent
// as the raw bytes, never by marshalling a Transaction).
func (p PersonalData) MarshalJSON() ([]byte, error) { return []byte(`"` + p.String() + `"`), nil }

// AuditEntry is one state change of a transaction.
type AuditEntry struct {
	// Seq orders entries; it grows with every entry of the database.
	Seq int64
	// TransactionID is the transaction that changed.
	TransactionID string
	// At is when the change was committed (UTC).
	At time.Time
	// From is the step before (empty for the first entry) and To the step
	// after; they are equal when a step only recorded data or a purge.
	From, To Status
	// Detail says why, for operators; never personal data.
	Detail string
}

// Filter selects transactions for List. Zero fields select everything.
type Filter struct {
	// Status and Process, when set, must match.
	Status  Status
	Process Process
	// RegistrationNumber, when set, must match.
	RegistrationNumber string
	// Since (inclusive) and Until (exclusive) bound CreatedAt.
	Since, Until time.Time
	// Limit is the page size: 50 when zero, at most 500.
	Limit int
	// Cursor continues a previous List; pass its next cursor unchanged.
	Cursor string
}

// Page is one page of List results.
type Page struct {
	// Transactions are newest first, without Token and Payload: listing is
	// for support screens, which must not see either.
	Transactions []Transaction
	// Next is the cursor of the following page, empty on the last page.
	Next string
}

// Mutation changes the fields of a transaction that a step may record:
// RegistrationID (once: the first non-empty value stays), TrackingID,
// Attempts and LastError. Other fields are fixed at Submit (Status changes
// through Advance's to); changing them makes Advance fail with ErrInvalid.
type Mutation func(*Transaction)

// Change is what Step records besides the step: the worker's own fields.
type Change struct {
	// RegistrationID, when not empty, records the MOSIP registration id.
	// It is set once: the same RID again changes nothing, another one is
	// refused (ErrInvalid), as is one that belongs to another transaction.
	RegistrationID string
	// Failure, when not empty, records a failed attempt: Attempts grows by
	// one and LastError becomes Failure (cut to 2,000 bytes). Never personal
	// data: MOSIP's code and message, not the request.
	Failure string
	// Succeeded records that the step's work is done: Attempts back to 0,
	// LastError cleared. It cannot go with a Failure.
	Succeeded bool
	// Via, when set, is a step the transaction passes through on its way
	// to the step's destination, in the same compare-and-set: the audit
	// trail gets from→Via (with ViaDetail) and Via→to (with the step's
	// detail), in that order. RecordOutcome uses it for a confirmation that
	// arrives before credential_received was recorded.
	Via       Status
	ViaDetail string
	// EndJob deletes the transaction's River job with the step when the
	// job still waits for its time (scheduled): the step ends the worker's
	// part, and the job would run only to find nothing to do. A job that
	// runs, or is about to, is left alone. SubmitRegistration's own drive
	// sets it, so a registration it took to MOSIP costs no job run later.
	EndJob bool
}

func (c Change) check() error {
	switch {
	case c.Failure != "" && c.Succeeded:
		return fmt.Errorf("%w: a change cannot record a failure and a success", ErrInvalid)
	case len(c.RegistrationID) > maxIDFieldLen:
		return fmt.Errorf("%w: registration id longer than %d bytes", ErrInvalid, maxIDFieldLen)
	case c.Via == "" && c.ViaDetail != "":
		return fmt.Errorf("%w: a detail for a step on the way, but no step", ErrInvalid)
	}
	return nil
}

// Store is the transaction storage of the packet service. Both
// implementations (Postgres, SQLite) pass the same contract test.
type Store interface {
	// Submit records a new transaction with its first audit entry
	// ("received") and its River job in one database transaction. When a
	// live transaction (any step but cancelled) with the same EventID and
	// ActionID exists, it is returned with created false and nothing is
	// written, also when the duplicate arrives concurrently.
	Submit(ctx context.Context, s Submission) (tx Transaction, created bool, err error)
	// Get returns a transaction with its token and payload. ErrNotFound when
	// there is none.
	Get(ctx context.Context, id string) (Transaction, error)
	// GetByIdempotencyKey returns the live transaction of an OpenCRVS event
	// and action. ErrNotFound when there is none.
	GetByIdempotencyKey(ctx context.Context, eventID, actionID string) (Transaction, error)
	// GetMeta returns a transaction without its token and payload (as
	// List does): nothing sealed is read or opened. ErrNotFound when there
	// is none.
	GetMeta(ctx context.Context, id string) (Transaction, error)
	// GetByRegistrationID returns the transaction of a MOSIP registration
	// id (RID) with its token but without its payload, which is neither
	// read nor opened; ErrNotFound when none has it.
	GetByRegistrationID(ctx context.Context, rid string) (Transaction, error)
	// List returns a page of transactions matching f, newest first.
	List(ctx context.Context, f Filter) (Page, error)
	// Advance moves a transaction from step from to step to, applying
	// mutate (may be nil) and appending an audit entry, in one database
	// transaction. It fails with a *ConflictError (errors.Is ErrConflict)
	// when the transaction is no longer at from, and with ErrInvalid when
	// CanAdvance(from, to) is false. from == to records data within a step.
	Advance(ctx context.Context, id string, from, to Status, detail string, mutate Mutation) (Transaction, error)
	// Step is Advance for what the worker records (Change), without reading
	// the transaction first: one compare-and-set with its audit entry. It
	// returns the transaction without its token and payload (as List
	// does), and fails like Advance.
	Step(ctx context.Context, id string, from, to Status, detail string, c Change) (Transaction, error)
	// Cancel moves an unfinished transaction to cancelled and cancels its
	// job. A cancelled transaction frees its idempotency key, so OpenCRVS may
	// submit the record again. Cancelling a cancelled transaction is a no-op;
	// any other finished one is a *ConflictError.
	Cancel(ctx context.Context, id, detail string) (Transaction, error)
	// History returns the audit trail of a transaction, oldest first.
	History(ctx context.Context, id string) ([]AuditEntry, error)
	// Purge wipes the token and payload of finished transactions last
	// updated before cutoff, keeping ids, steps and audit trail, and returns
	// how many it purged. The service calls it with now minus its retention.
	Purge(ctx context.Context, cutoff time.Time) (int, error)
	// Rewrap re-seals every token and payload not sealed with the keyring's
	// current key, and returns how many rows it changed. After it, keys other
	// than the current one can be removed from the configuration.
	Rewrap(ctx context.Context) (int, error)
	// NextRIDSequence draws the next number of the registration-id
	// sequence that every replica on the database shares: 0 to 99999, then
	// 0 again. It is the sequence part of MOSIP's 29-digit RIDs.
	NextRIDSequence(ctx context.Context) (int64, error)
	// Counts returns how many transactions are at each step and how many
	// River jobs of the packet queue wait or run in each state, for gauges.
	Counts(ctx context.Context) (Counts, error)
	// NewQueue builds the River client that works this store's jobs with
	// workers; cfg is River's configuration (Workers is replaced, Queues
	// defaults to the default queue with 10 workers). Start it after Open and
	// stop it before Close.
	NewQueue(workers *river.Workers, cfg river.Config) (Queue, error)
	// Close releases the database. Stop every Queue first.
	Close() error
}

// Counts are the sizes an operator watches, read with one GROUP BY each.
type Counts struct {
	// Transactions counts transactions by step; every Status is present.
	Transactions map[Status]int64
	// Jobs counts the River jobs of QueueName by state; every one of
	// JobStates is present. Completed, cancelled and discarded jobs are not
	// counted.
	Jobs map[string]int64
}

// JobStates are the River job states Counts reports: waiting to run
// (available), waiting for their time (scheduled), waiting to retry after a
// failure (retryable) and being worked (running).
var JobStates = []string{"available", "scheduled", "retryable", "running"}

// QueueName is the River queue of the packet service's jobs. It is River's
// default queue; the notification service uses a queue of its own, so the
// two can share a database.
const QueueName = river.QueueDefault

// Queue runs jobs. It is a River client of whichever database the store
// uses, so the service starts and stops workers without knowing which.
type Queue interface {
	// Start begins fetching and working jobs; it returns once started.
	Start(ctx context.Context) error
	// Stop waits for running jobs to finish (or ctx to end) and stops.
	Stop(ctx context.Context) error
}

// SubmitJob is the River job Submit enqueues: drive the transaction forward
// from whatever step it reached. It carries only the id; the worker reads
// the rest from the store, so nothing sensitive sits in the job table.
type SubmitJob struct {
	// TransactionID is the transaction to drive.
	TransactionID string `json:"transaction_id"`
}

// SubmitJobKind is the River kind of SubmitJob.
const SubmitJobKind = "packet_submit"

// Kind implements river.JobArgs.
func (SubmitJob) Kind() string { return SubmitJobKind }

// Options configure a store.
type Options struct {
	// IDPrefix starts every transaction id (TRANSACTION_ID_PREFIX): 1 to 9
	// digits, "10001" when empty. The rest of the 15 digits is the sequence.
	IDPrefix string
	// Keyring seals tokens and payloads. Required.
	Keyring *Keyring
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives River's and the store's logs; discarded when nil.
	Logger *slog.Logger
	// JobMaxAttempts is how often River tries a job before discarding it;
	// River's default (25, about three weeks of backoff) when zero.
	JobMaxAttempts int
}

// Errors of the store; match them with errors.Is.
var (
	// ErrNotFound means no transaction has the id or key.
	ErrNotFound = errors.New("transaction not found")
	// ErrConflict means the transaction is not at the step the caller
	// expected (another worker moved it, or it finished).
	ErrConflict = errors.New("transaction changed concurrently")
	// ErrInvalid means the caller passed something the store refuses.
	ErrInvalid = errors.New("invalid argument")
	// ErrUnknownKey means data was sealed with a key the keyring lacks.
	ErrUnknownKey = errors.New("unknown encryption key")
)

// ConflictError says at which step a transaction really is.
type ConflictError struct {
	// ID is the transaction.
	ID string
	// Expected is the step the caller assumed (empty when any unfinished
	// step would do); Actual is the stored one.
	Expected, Actual Status
}

// Error says where the transaction is.
func (e *ConflictError) Error() string {
	if e.Expected == "" {
		return fmt.Sprintf("transaction %s is already %s", e.ID, e.Actual)
	}
	return fmt.Sprintf("transaction %s is %s, not %s", e.ID, e.Actual, e.Expected)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }
