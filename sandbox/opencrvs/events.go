package opencrvs

import (
	"crypto/rand"
	"fmt"
)

// Action statuses: an action the country config answered 202 for stays
// Requested ("Pending external validation") until an integration accepts or
// rejects it with a confirmation action pointing back at it.
const (
	StatusRequested = "Requested"
	StatusAccepted  = "Accepted"
	StatusRejected  = "Rejected"
)

// Action types the emulator writes.
const (
	ActionCreate            = "CREATE"
	ActionDeclare           = "DECLARE"
	ActionRegister          = "REGISTER"
	ActionRequestCorrection = "REQUEST_CORRECTION"
	ActionApproveCorrection = "APPROVE_CORRECTION"
	ActionRead              = "READ"
	ActionAssign            = "ASSIGN"
	ActionUnassign          = "UNASSIGN"
)

// The registrar who declares and requests actions in the sandbox, and their
// office; confirmations are attributed to whoever's token made them.
const (
	sandboxRegistrarID   = "6810f2b9a1e4d7c3b2a19f01"
	sandboxRegistrarRole = "LOCAL_REGISTRAR"
	sandboxOfficeID      = "028d2c85-ca31-426d-b5d1-2cef545a4902"
)

// Action is one entry of an EventDocument's actions, with the fields and
// field order of OpenCRVS's ActionDocument; absent values are omitted as the
// events service strips nulls. Rejected confirmations carry no declaration.
type Action struct {
	ID                 string         `json:"id"`
	TransactionID      string         `json:"transactionId"`
	CreatedByUserType  string         `json:"createdByUserType"`
	CreatedAt          string         `json:"createdAt"`
	CreatedBy          string         `json:"createdBy"`
	CreatedByRole      string         `json:"createdByRole,omitempty"`
	CreatedAtLocation  string         `json:"createdAtLocation,omitempty"`
	Declaration        map[string]any `json:"declaration,omitzero"`
	Annotation         map[string]any `json:"annotation,omitzero"`
	Status             string         `json:"status"`
	OriginalActionID   string         `json:"originalActionId,omitempty"`
	Type               string         `json:"type"`
	RegistrationNumber string         `json:"registrationNumber,omitempty"`
	RequestID          string         `json:"requestId,omitempty"`
	AssignedTo         string         `json:"assignedTo,omitempty"`
	Content            map[string]any `json:"content,omitzero"`
}

// EventDocument is OpenCRVS's EventDocument: what event.get and the
// confirmation procedures return.
type EventDocument struct {
	ID         string   `json:"id"`
	Type       string   `json:"type"`
	CreatedAt  string   `json:"createdAt"`
	UpdatedAt  string   `json:"updatedAt"`
	Actions    []Action `json:"actions"`
	TrackingID string   `json:"trackingId"`
}

// PendingAction returns the Requested action no confirmation points at yet,
// as OpenCRVS's getPendingAction does (the bridge dispatches on its type and
// requestId).
func (e EventDocument) PendingAction() (Action, bool) {
	for _, a := range e.Actions {
		if a.Status == StatusRequested && e.confirmationOf(a.ID) == nil {
			return a, true
		}
	}
	return Action{}, false
}

// Confirmation returns the Accepted or Rejected action that confirms
// actionID, if any.
func (e EventDocument) Confirmation(actionID string) (Action, bool) {
	if c := e.confirmationOf(actionID); c != nil {
		return *c, true
	}
	return Action{}, false
}

func (e *EventDocument) confirmationOf(actionID string) *Action {
	for i := range e.Actions {
		if e.Actions[i].OriginalActionID == actionID {
			return &e.Actions[i]
		}
	}
	return nil
}

func (e *EventDocument) action(id string) *Action {
	for i := range e.Actions {
		if e.Actions[i].ID == id {
			return &e.Actions[i]
		}
	}
	return nil
}

// assignee is the user of the last ASSIGN not followed by an UNASSIGN.
func (e *EventDocument) assignee() string {
	who := ""
	for _, a := range e.Actions {
		switch a.Type {
		case ActionAssign:
			who = a.AssignedTo
		case ActionUnassign:
			who = ""
		}
	}
	return who
}

// clone deep-copies so callers never share maps with the store.
func (e *EventDocument) clone() EventDocument {
	out := *e
	out.Actions = make([]Action, len(e.Actions))
	for i, a := range e.Actions {
		a.Declaration = copyMap(a.Declaration)
		a.Annotation = copyMap(a.Annotation)
		a.Content = copyMap(a.Content)
		out.Actions[i] = a
	}
	return out
}

func copyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = copyValue(v)
	}
	return out
}

func copyValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return copyMap(t)
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = copyValue(x)
		}
		return out
	}
	return v
}

// CreateEvent stores a new event of the given type ("birth", "death", or any
// configured type) with an accepted CREATE and a DECLARE carrying the
// declaration (keys like "child.dob", "mother.nid"), and returns its id.
func (c *CRVS) CreateEvent(eventType string, declaration map[string]any) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.timestamp()
	ev := &EventDocument{ID: newUUID(), Type: eventType, CreatedAt: now, UpdatedAt: now, TrackingID: trackingID()}
	decl := copyMap(declaration)
	if decl == nil {
		decl = map[string]any{}
	}
	ev.Actions = append(ev.Actions,
		c.registrarAction(ActionCreate, StatusAccepted, map[string]any{}),
		c.registrarAction(ActionDeclare, StatusAccepted, decl))
	c.events[ev.ID] = ev
	return ev.ID
}

// RequestAction adds a Requested action to an event, as core does when the
// country config trigger answers 202: REGISTER (the record goes to "Pending
// external validation") or APPROVE_CORRECTION (preceded by the accepted
// REQUEST_CORRECTION it approves; requestID is that request's id, which the
// correction accept must echo). actionID goes into the record token.
func (c *CRVS) RequestAction(eventID, actionType string) (actionID, requestID string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ev := c.events[eventID]
	if ev == nil {
		return "", "", fmt.Errorf("opencrvs: event %s not found", eventID)
	}
	switch actionType {
	case ActionRegister:
		a := c.registrarAction(ActionRegister, StatusRequested, map[string]any{})
		ev.Actions = append(ev.Actions, a)
		return a.ID, "", nil
	case ActionApproveCorrection:
		req := c.registrarAction(ActionRequestCorrection, StatusAccepted, map[string]any{})
		a := c.registrarAction(ActionApproveCorrection, StatusRequested, map[string]any{})
		a.RequestID = req.ID
		ev.Actions = append(ev.Actions, req, a)
		return a.ID, req.ID, nil
	}
	return "", "", fmt.Errorf("opencrvs: cannot request a %q action (REGISTER or APPROVE_CORRECTION)", actionType)
}

// Event returns a copy of the stored event.
func (c *CRVS) Event(eventID string) (EventDocument, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ev := c.events[eventID]
	if ev == nil {
		return EventDocument{}, false
	}
	return ev.clone(), true
}

// Assign records an ASSIGN of the event to userID. OpenCRVS 2.1 refuses
// confirmations with CONFLICT "User is assigned to this event" while anyone
// is assigned, so an assigned event makes accept and reject answer CONFLICT
// until Unassign.
func (c *CRVS) Assign(eventID, userID string) error {
	return c.addAssignment(eventID, ActionAssign, userID)
}

// Unassign records an UNASSIGN, lifting the CONFLICT Assign causes.
func (c *CRVS) Unassign(eventID string) error {
	return c.addAssignment(eventID, ActionUnassign, "")
}

func (c *CRVS) addAssignment(eventID, actionType, userID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	ev := c.events[eventID]
	if ev == nil {
		return fmt.Errorf("opencrvs: event %s not found", eventID)
	}
	a := c.registrarAction(actionType, StatusAccepted, map[string]any{})
	a.AssignedTo = userID
	ev.Actions = append(ev.Actions, a)
	return nil
}

// registrarAction builds an action by the sandbox registrar. Caller holds c.mu.
func (c *CRVS) registrarAction(actionType, status string, declaration map[string]any) Action {
	return Action{ID: newUUID(), TransactionID: newUUID(), CreatedByUserType: "user", CreatedAt: c.timestamp(),
		CreatedBy: sandboxRegistrarID, CreatedByRole: sandboxRegistrarRole, CreatedAtLocation: sandboxOfficeID,
		Declaration: declaration, Status: status, Type: actionType}
}

// timestamp formats now like the events service (UTC, milliseconds, Z).
func (c *CRVS) timestamp() string {
	return c.now().UTC().Format("2006-01-02T15:04:05.000Z")
}

// newUUID returns a random RFC 9562 version 4 UUID, the id format of events
// and actions (inputs are validated with zod's uuid()).
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// trackingID returns a 7-character [0-9A-Z] tracking id like "BXZK9QF".
func trackingID() string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, 7)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
