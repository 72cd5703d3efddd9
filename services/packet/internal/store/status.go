package store

// Status is the step a transaction reached.
type Status string

// The steps of a transaction. The main path is received → packet_created →
// processing_started → credential_received → confirmed; the others end it
// early or flag it.
const (
	// StatusReceived: recorded, job enqueued, nothing sent to MOSIP yet.
	StatusReceived Status = "received"
	// StatusPacketCreated: MOSIP's packet manager holds the packet.
	StatusPacketCreated Status = "packet_created"
	// StatusProcessingStarted: MOSIP's registration processor took it.
	StatusProcessingStarted Status = "processing_started"
	// StatusCredentialReceived: MOSIP answered with the credential (UIN);
	// OpenCRVS has not confirmed the record yet.
	StatusCredentialReceived Status = "credential_received"
	// StatusConfirmed: OpenCRVS confirmed the record. Finished.
	StatusConfirmed Status = "confirmed"
	// StatusFlaggedForRejection: MOSIP refused the packet; OpenCRVS has to
	// reject the record.
	StatusFlaggedForRejection Status = "flagged_for_rejection"
	// StatusRejected: OpenCRVS rejected the record. Finished.
	StatusRejected Status = "rejected"
	// StatusFailed: the bridge gave up (retries exhausted, a bug); an
	// operator decides. Finished.
	StatusFailed Status = "failed"
	// StatusCancelled: withdrawn by an operator; frees the idempotency key.
	// Finished.
	StatusCancelled Status = "cancelled"
)

// statuses lists every status in the order of the main path first.
var statuses = []Status{
	StatusReceived, StatusPacketCreated, StatusProcessingStarted, StatusCredentialReceived,
	StatusConfirmed, StatusFlaggedForRejection, StatusRejected, StatusFailed, StatusCancelled,
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, x := range statuses {
		if s == x {
			return true
		}
	}
	return false
}

// Finished reports whether s ends the transaction: nothing moves it any
// more, and Purge may wipe its token and payload.
func (s Status) Finished() bool {
	switch s {
	case StatusConfirmed, StatusRejected, StatusFailed, StatusCancelled:
		return true
	}
	return false
}

// mainPath orders the steps of a successful transaction.
var mainPath = map[Status]int{
	StatusReceived: 0, StatusPacketCreated: 1, StatusProcessingStarted: 2,
	StatusCredentialReceived: 3, StatusConfirmed: 4,
}

// CanAdvance reports whether Advance may move a transaction from one step to
// another. The rules keep a slow or duplicated worker from moving a
// transaction backwards or out of a finished state:
//
//   - along the main path only forwards; steps may be skipped (a death
//     packet yields no credential, so processing_started → confirmed);
//   - any unfinished step may go to flagged_for_rejection, rejected, failed
//     or cancelled; flagged_for_rejection only to rejected, failed or
//     cancelled;
//   - a step may stay where it is (from == to) to record data, unless
//     finished;
//   - nothing leaves a finished step.
func CanAdvance(from, to Status) bool {
	if !from.Valid() || !to.Valid() || from.Finished() {
		return false
	}
	if from == to {
		return true
	}
	switch to {
	case StatusFlaggedForRejection, StatusRejected, StatusFailed, StatusCancelled:
		return true
	}
	f, fromMain := mainPath[from]
	t, toMain := mainPath[to]
	return fromMain && toMain && t > f
}
