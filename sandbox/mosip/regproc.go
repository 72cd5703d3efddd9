package mosip

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Registration processor endpoints and the envelope ids they validate.
const (
	WorkflowInstancePath         = "/registrationprocessor/v1/workflowmanager/workflowinstance"
	RegistrationStatusSearchPath = "/registrationprocessor/v1/registrationstatus/search"
	// WorkflowInstanceAPIID is mosip.regproc.workflow-manager.instance.api-id.
	WorkflowInstanceAPIID = "mosip.registration.processor.workflow.instance"
	// WorkflowInstanceAPIVersion is mosip.regproc.workflow-manager.instance.version.
	WorkflowInstanceAPIVersion = "v1"
	// RegistrationStatusAPIID and RegistrationStatusAPIVersion are what the
	// status search validates.
	RegistrationStatusAPIID      = "mosip.registration.status"
	RegistrationStatusAPIVersion = "1.0"
)

// Workflow result and error codes of REGISTRATION_PROCESSOR_WORKFLOW_COMPLETED_EVENT.
const (
	ResultProcessed     = "PROCESSED"
	ResultFailed        = "FAILED"
	ResultRejected      = "REJECTED"
	ErrorPacketFailed   = "PACKET_FAILED"
	ErrorPacketRejected = "PACKET_REJECTED"
	// StatusProcessing is an instance's status until it completes.
	StatusProcessing = "PROCESSING"
)

// Role lists of the two endpoints (APIAuthorityList / @PreAuthorize).
var (
	rpWorkflowInstanceRoles = []string{"ONLINE_REGISTRATION_CLIENT", "REGISTRATION_PROCESSOR", "GLOBAL_ADMIN"}
	rpStatusSearchRoles     = []string{"REGISTRATION_ADMIN", "REGISTRATION_OFFICER", "REGISTRATION_SUPERVISOR", "RESIDENT"}
)

// DefaultStatusesConsideredProcessed is
// mosip.registration.processor.registration.status.external-statuses-to-consider-processed:
// the status search reports these external statuses as PROCESSED, so by
// default a rejected or failed packet looks processed there.
var DefaultStatusesConsideredProcessed = []string{"UIN_GENERATED", "REREGISTER", "REJECTED", "REPROCESS_FAILED"}

// OutcomeFunc decides a packet's forced outcome after ID-object
// validation: resultCode "" or PROCESSED lets processing go on; FAILED or
// REJECTED completes the workflow that way (errorCode "" picks
// PACKET_FAILED / PACKET_REJECTED).
type OutcomeFunc func(p Packet) (resultCode, errorCode string)

// DefaultOutcome is the sandbox's demo rule: a fullName containing the
// upper-case word REJECT is REJECTED (as a dedupe or manual-adjudication
// rejection would be), one containing FAIL is FAILED; anything else goes on.
func DefaultOutcome(p Packet) (string, string) {
	name := rpFirstValue(p.Values["fullName"])
	switch {
	case strings.Contains(name, "REJECT"):
		return ResultRejected, ErrorPacketRejected
	case strings.Contains(name, "FAIL"):
		return ResultFailed, ErrorPacketFailed
	}
	return "", ""
}

// RegistrationProcessorOptions configures NewRegistrationProcessor.
type RegistrationProcessorOptions struct {
	// Auth, Packets and Registry are required.
	Auth     *AuthManager
	Packets  *PacketManager
	Registry *Registry
	// Hub receives CREDENTIAL_ISSUED and WORKFLOW_COMPLETED events; nil
	// skips publishing (the events are still recorded, see Completed).
	Hub Publisher
	// Issuer builds the credentials of identities a CRVS_NEW packet
	// created or a CRVS_UPDATE packet changed; nil skips them.
	Issuer CredentialIssuer
	// CredentialPartners get one credential each for every processed new
	// registration and update, published on CredentialTopic(partner).
	CredentialPartners []string
	// ProcessingDelay is the time between a workflow instance and its
	// processing (MOSIP's re-processor picks instances up on a schedule);
	// zero or negative means 2 s.
	ProcessingDelay time.Duration
	// Outcome forces results; nil means DefaultOutcome.
	Outcome OutcomeFunc
	// MandatoryFields overrides, per process, the identity attributes the
	// ID-object validation requires ("a|b" means either). Defaults:
	// CRVS_DEATH → UIN; CRVS_UPDATE → UIN|vid; any other process → the
	// master schema's identity required list without IDSchemaVersion (or
	// fullName, dateOfBirth, gender when the schema has none).
	MandatoryFields map[string][]string
	// RejectUnknownPackets makes workflowinstance answer RPR-WIS-000 for a
	// registrationId/process/source with no stored packet. Real MOSIP does
	// not look: it accepts the instance and the packet fails in processing,
	// which is the default here.
	RejectUnknownPackets bool
	// StatusesConsideredProcessed replaces DefaultStatusesConsideredProcessed
	// when not nil (an empty slice reports raw external statuses).
	StatusesConsideredProcessed []string
	// Logger receives processing details; nil discards.
	Logger *slog.Logger
}

// WorkflowInstance is one accepted workflowinstance request and its fate.
type WorkflowInstance struct {
	ID                  string
	RegistrationID      string
	Process             string
	Source              string
	AdditionalInfoReqID string
	NotificationInfo    json.RawMessage
	ClientID            string
	Created             time.Time
	// Status is PROCESSING until processed, then PROCESSED, FAILED or REJECTED.
	Status string
	// ErrorCode is PACKET_FAILED or PACKET_REJECTED for failures.
	ErrorCode string
	// Reason says why a packet failed (MOSIP keeps this in its logs only).
	Reason string
	// UIN is the identity the packet created or changed.
	UIN       string
	Completed time.Time
	// Body is the workflowinstance request body as received; shared, not
	// to be modified.
	Body []byte
}

// RegistrationProcessor emulates the workflow manager's workflowinstance
// API and the registration processing behind it: after ProcessingDelay it
// validates the packet's identity against the master ID schema and the
// process's mandatory attributes, applies the packet to the Registry
// (CRVS_NEW creates an identity and CRVS_UPDATE changes one, each then
// issuing the identity a credential per partner; CRVS_DEATH marks the
// UIN's holder deceased without any credential), and publishes
// REGISTRATION_PROCESSOR_WORKFLOW_COMPLETED_EVENT. It also serves the
// registration status search.
type RegistrationProcessor struct {
	o     RegistrationProcessorOptions
	log   *slog.Logger
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup
	delay time.Duration

	mu        sync.Mutex
	instances []*WorkflowInstance
	// latestOf is the latest instance of each registration id; present
	// says which registration id and process pairs have one.
	latestOf  map[string]*WorkflowInstance
	present   map[rpInstanceKey]bool
	completed []WorkflowCompleted
	pending   int
	idle      chan struct{}
}

// NewRegistrationProcessor returns a registration processor; Auth, Packets
// and Registry are required.
func NewRegistrationProcessor(o RegistrationProcessorOptions) (*RegistrationProcessor, error) {
	if o.Auth == nil || o.Packets == nil || o.Registry == nil {
		return nil, errors.New("mosip: RegistrationProcessorOptions needs Auth, Packets and Registry")
	}
	rp := &RegistrationProcessor{o: o, log: o.Logger, delay: o.ProcessingDelay, idle: make(chan struct{}),
		latestOf: map[string]*WorkflowInstance{}, present: map[rpInstanceKey]bool{}}
	close(rp.idle)
	if rp.log == nil {
		rp.log = slog.New(slog.DiscardHandler)
	}
	if rp.delay <= 0 {
		rp.delay = 2 * time.Second
	}
	if rp.o.Outcome == nil {
		rp.o.Outcome = DefaultOutcome
	}
	rp.o.CredentialPartners = append([]string(nil), o.CredentialPartners...)
	rp.ctx, rp.stop = context.WithCancel(context.Background())
	return rp, nil
}

// Register mounts the workflowinstance and registration status routes.
func (rp *RegistrationProcessor) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST "+WorkflowInstancePath, rp.handleWorkflow)
	mux.HandleFunc("POST "+RegistrationStatusSearchPath, rp.handleStatusSearch)
}

// Close abandons instances still waiting for their processing delay and
// waits for any being processed; later instances are accepted but never
// processed.
func (rp *RegistrationProcessor) Close() error {
	// Under mu so no handler can schedule (wg.Add) after Wait has begun.
	rp.mu.Lock()
	rp.stop()
	rp.mu.Unlock()
	rp.wg.Wait()
	return nil
}

// WaitIdle blocks until no instance is waiting or being processed.
func (rp *RegistrationProcessor) WaitIdle(ctx context.Context) error {
	for {
		rp.mu.Lock()
		if rp.pending == 0 {
			rp.mu.Unlock()
			return nil
		}
		ch := rp.idle
		rp.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Instances returns every accepted workflow instance, oldest first.
func (rp *RegistrationProcessor) Instances() []WorkflowInstance {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	out := make([]WorkflowInstance, len(rp.instances))
	for i, in := range rp.instances {
		out[i] = *in
	}
	return out
}

// Status returns the latest instance's status for a registration id
// (PROCESSING, PROCESSED, FAILED or REJECTED), or "" when there is none.
func (rp *RegistrationProcessor) Status(rid string) string {
	if in, ok := rp.latest(rid); ok {
		return in.Status
	}
	return ""
}

// Completed returns every WORKFLOW_COMPLETED event emitted, in order.
func (rp *RegistrationProcessor) Completed() []WorkflowCompleted {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return append([]WorkflowCompleted(nil), rp.completed...)
}

func (rp *RegistrationProcessor) latest(rid string) (WorkflowInstance, bool) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if in, ok := rp.latestOf[rid]; ok {
		return *in, true
	}
	return WorkflowInstance{}, false
}

// rpInstanceKey is what makes a workflow instance a duplicate.
type rpInstanceKey struct{ registrationID, process string }

// rpWorkflowDTO is WorkflowInstanceDTO as Jackson binds it.
type rpWorkflowDTO struct {
	ID, Version, RequestTime *string
	Request                  *struct {
		RegistrationID, Process, Source, AdditionalInfoReqID *string
		NotificationInfo                                     json.RawMessage
	}
}

func (rp *RegistrationProcessor) handleWorkflow(w http.ResponseWriter, r *http.Request) {
	caller, ok := rp.o.Auth.Authenticate(w, r)
	if !ok {
		return
	}
	if !pmHasAnyRole(caller, rpWorkflowInstanceRoles) {
		pmForbidden(w)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		rpWorkflowError(w, "RPR-WIN-002", "Unknown Exception")
		return
	}
	dto, err := rpDecodeWorkflow(body)
	if err != nil {
		// Body not JSON, a type Jackson cannot bind, or no request object
		// (a NullPointerException): the verticle's catch-all.
		rp.log.Info("workflowinstance: unreadable request", "err", err)
		rpWorkflowError(w, "RPR-WIN-002", "Unknown Exception")
		return
	}
	if code, msg := rpValidateWorkflow(dto); code != "" {
		rpWorkflowError(w, code, msg)
		return
	}
	req := dto.Request
	in := &WorkflowInstance{
		ID: rpUUID(), RegistrationID: pmDeref(req.RegistrationID), Process: pmDeref(req.Process),
		Source: pmDeref(req.Source), AdditionalInfoReqID: pmDeref(req.AdditionalInfoReqID),
		NotificationInfo: req.NotificationInfo, ClientID: caller.ClientID, Created: time.Now().UTC(),
		Status: StatusProcessing, Body: body,
	}
	if rp.duplicate(in) {
		rpWorkflowError(w, "RPR-WIS-001", "WorkflowInstance already present")
		return
	}
	if rp.o.RejectUnknownPackets {
		if _, ok := rp.o.Packets.PacketFor(in.RegistrationID, in.Source, in.Process); !ok {
			rpWorkflowError(w, "RPR-WIS-000", "Unknown Exception")
			return
		}
	}
	rp.mu.Lock()
	if rp.duplicateLocked(in) {
		rp.mu.Unlock()
		rpWorkflowError(w, "RPR-WIS-001", "WorkflowInstance already present")
		return
	}
	rp.instances = append(rp.instances, in)
	rp.latestOf[in.RegistrationID] = in
	rp.present[rpInstanceKey{in.RegistrationID, in.Process}] = true
	scheduled := rp.ctx.Err() == nil
	if scheduled {
		if rp.pending == 0 {
			rp.idle = make(chan struct{})
		}
		rp.pending++
		rp.wg.Add(1)
	}
	rp.mu.Unlock()
	if scheduled {
		go rp.run(in)
	}
	rpWriteWorkflow(w, map[string]string{"workflowInstanceId": in.ID}, nil)
}

// duplicate reports whether registrationId+process already has an instance.
func (rp *RegistrationProcessor) duplicate(in *WorkflowInstance) bool {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.duplicateLocked(in)
}

func (rp *RegistrationProcessor) duplicateLocked(in *WorkflowInstance) bool {
	return rp.present[rpInstanceKey{in.RegistrationID, in.Process}]
}

func rpDecodeWorkflow(body []byte) (*rpWorkflowDTO, error) {
	top, err := pmObject(body, json.Valid(body))
	if err != nil {
		return nil, err
	}
	if top == nil {
		return nil, errors.New("body is null")
	}
	d := &rpWorkflowDTO{}
	for k, dst := range map[string]**string{"id": &d.ID, "version": &d.Version, "requesttime": &d.RequestTime} {
		if raw, ok := top[k]; ok {
			s, err := pmJacksonString(raw)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			*dst = s
		}
	}
	raw, ok := top["request"]
	if !ok || pmIsNull(raw) {
		return nil, errors.New("request is null")
	}
	req, err := pmObject(raw, true)
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	d.Request = &struct {
		RegistrationID, Process, Source, AdditionalInfoReqID *string
		NotificationInfo                                     json.RawMessage
	}{}
	for k, dst := range map[string]**string{"registrationId": &d.Request.RegistrationID, "process": &d.Request.Process,
		"source": &d.Request.Source, "additionalInfoReqId": &d.Request.AdditionalInfoReqID} {
		if v, ok := req[k]; ok {
			s, err := pmJacksonString(v)
			if err != nil {
				return nil, fmt.Errorf("request.%s: %w", k, err)
			}
			*dst = s
		}
	}
	if ni, ok := req["notificationInfo"]; ok && !pmIsNull(ni) {
		if _, err := pmObject(ni, true); err != nil {
			return nil, fmt.Errorf("request.notificationInfo: %w", err)
		}
		d.Request.NotificationInfo = append(json.RawMessage(nil), ni...)
	}
	return d, nil
}

// rpValidateWorkflow is WorkflowInstanceRequestValidator: id, version,
// then requesttime, each missing (RPR-WIN-000) or invalid (RPR-WIN-001).
func rpValidateWorkflow(d *rpWorkflowDTO) (string, string) {
	switch {
	case d.ID == nil:
		return "RPR-WIN-000", "Missing Request Value - id"
	case !strings.EqualFold(*d.ID, WorkflowInstanceAPIID):
		return "RPR-WIN-001", "Invalid Request Value - id"
	case d.Version == nil:
		return "RPR-WIN-000", "Missing Request Value - version"
	case !strings.EqualFold(*d.Version, WorkflowInstanceAPIVersion):
		return "RPR-WIN-001", "Invalid Request Value - version"
	case d.RequestTime == nil:
		return "RPR-WIN-000", "Missing Request Value - requesttime"
	case !rpKernelDateTime(*d.RequestTime):
		return "RPR-WIN-001", "Invalid Request Value - requesttime"
	}
	return "", ""
}

var rpUTCPattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

// rpKernelDateTime is kernel DateUtils.parseToLocalDateTime: exactly
// yyyy-MM-dd'T'HH:mm:ss.SSS'Z', else ISO_LOCAL_DATE_TIME (no zone at all).
func rpKernelDateTime(s string) bool {
	if rpUTCPattern.MatchString(s) {
		_, err := time.Parse(pmTimeFormat, s)
		return err == nil
	}
	return pmISOLocalDateTime(s)
}

// rpWriteWorkflow answers like WorkflowInstanceApi.setResponse: always
// HTTP 200, pretty-printed (Json.encodePrettily), null response on error
// and null errors on success.
func rpWriteWorkflow(w http.ResponseWriter, response any, errs []map[string]string) {
	body := struct {
		ID           string              `json:"id"`
		Version      string              `json:"version"`
		ResponseTime string              `json:"responsetime"`
		Response     any                 `json:"response"`
		Errors       []map[string]string `json:"errors"`
	}{WorkflowInstanceAPIID, WorkflowInstanceAPIVersion, time.Now().UTC().Format(pmTimeFormat), response, errs}
	b, _ := json.MarshalIndent(body, "", "  ")
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, POST")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func rpWorkflowError(w http.ResponseWriter, code, message string) {
	rpWriteWorkflow(w, nil, []map[string]string{{"errorCode": code, "message": message}})
}

func (rp *RegistrationProcessor) run(in *WorkflowInstance) {
	defer func() {
		rp.mu.Lock()
		rp.pending--
		if rp.pending == 0 {
			close(rp.idle)
		}
		rp.mu.Unlock()
		rp.wg.Done()
	}()
	t := time.NewTimer(rp.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-rp.ctx.Done():
		return
	}
	rp.mu.Lock()
	inst := *in
	rp.mu.Unlock()
	result, errCode, reason, uin := rp.process(inst)
	if result == ResultProcessed {
		errCode = ""
	}
	rp.log.Info("registration processed", "rid", inst.RegistrationID, "process", inst.Process,
		"result", result, "errorCode", errCode, "reason", reason, "uin", uin)
	ev := WorkflowCompleted{InstanceID: inst.RegistrationID, ResultCode: result, WorkflowType: inst.Process}
	if errCode != "" {
		ev.ErrorCode = &errCode
	}
	rp.mu.Lock()
	in.Status, in.ErrorCode, in.Reason, in.UIN, in.Completed = result, errCode, reason, uin, time.Now().UTC()
	rp.completed = append(rp.completed, ev)
	rp.mu.Unlock()
	rp.publish(TopicWorkflowCompleted, ev)
}

func (rp *RegistrationProcessor) publish(topic string, v any) {
	body, ok := v.([]byte)
	if !ok {
		var err error
		if body, err = json.Marshal(v); err != nil {
			rp.log.Error("event encoding failed", "topic", topic, "err", err)
			return
		}
	}
	if rp.o.Hub == nil {
		rp.log.Info("no hub configured; event not published", "topic", topic)
		return
	}
	if err := rp.o.Hub.Publish(topic, body); err != nil {
		rp.log.Warn("publish failed", "topic", topic, "err", err)
	}
}

// process runs the packet through validation and its process's effect.
func (rp *RegistrationProcessor) process(in WorkflowInstance) (result, errCode, reason, uin string) {
	failed := func(why string) (string, string, string, string) {
		return ResultFailed, ErrorPacketFailed, why, uin
	}
	p, ok := rp.o.Packets.PacketFor(in.RegistrationID, in.Source, in.Process)
	if !ok {
		return failed(fmt.Sprintf("no packet %s for source %s and process %s in the packet store", in.RegistrationID, in.Source, in.Process))
	}
	master := rp.o.Packets.Schema()
	for _, name := range pmSortedKeys(p.Values) {
		if err := master.ValidateValue(name, p.Values[name]); err != nil {
			return failed("ID object validation failed: " + err.Error())
		}
	}
	for _, m := range rp.mandatory(in.Process, master) {
		present := false
		for _, alt := range strings.Split(m, "|") {
			if rpPresent(p.Values[alt]) {
				present = true
				break
			}
		}
		if !present {
			return failed("ID object validation failed: mandatory attribute " + m + " missing")
		}
	}
	if res, code := rp.o.Outcome(p); res != "" && res != ResultProcessed {
		if code == "" {
			code = ErrorPacketFailed
			if res == ResultRejected {
				code = ErrorPacketRejected
			}
		}
		return res, code, "outcome rule", ""
	}

	switch in.Process {
	case "CRVS_DEATH":
		// VID is not accepted for updates (vid-support-for-update=false).
		target := rpString(p.Values["UIN"])
		if found, err := rp.o.Registry.Lookup(target); err != nil || found.UIN != target {
			return failed("UIN " + target + " not found in the ID repository")
		}
		id, err := rp.o.Registry.Update(target, func(id *Identity) {
			id.Deceased = true
			id.DateOfDeath = rpString(p.Values["dateOfDeath"])
			rpMerge(id, p, in.RegistrationID)
		})
		if err != nil {
			return failed("UIN " + target + " not found in the ID repository")
		}
		return ResultProcessed, "", "", id.UIN
	case "CRVS_UPDATE":
		target := rpString(p.Values["UIN"])
		if target == "" {
			target = rpString(p.Values["vid"])
		}
		id, err := rp.o.Registry.Update(target, func(id *Identity) {
			if v := rpFirstValue(p.Values["fullName"]); v != "" {
				id.FullName = v
			}
			if v := rpString(p.Values["dateOfBirth"]); v != "" {
				id.DateOfBirth = v
			}
			if v := rpFirstValue(p.Values["gender"]); v != "" {
				id.Gender = strings.ToLower(v)
			}
			rpMerge(id, p, in.RegistrationID)
		})
		if err != nil {
			return failed("UIN/VID " + target + " not found in the ID repository")
		}
		// CRVS_UPDATE's route (mosip-config dev2) ends, like CRVS_NEW's,
		// with the stage that requests the partners' credentials.
		uin = id.UIN
		if why := rp.issueCredentials(id, in.RegistrationID); why != "" {
			return failed(why)
		}
		return ResultProcessed, "", "", uin
	}

	id := Identity{
		FullName:    rpFirstValue(p.Values["fullName"]),
		DateOfBirth: rpString(p.Values["dateOfBirth"]),
		Gender:      strings.ToLower(rpFirstValue(p.Values["gender"])),
		Email:       rpString(p.Values["email"]),
		Phone:       rpString(p.Values["phone"]),
	}
	rpMerge(&id, p, in.RegistrationID)
	id = rp.o.Registry.Create(id)
	uin = id.UIN
	if why := rp.issueCredentials(id, in.RegistrationID); why != "" {
		return failed(why)
	}
	return ResultProcessed, "", "", uin
}

// issueCredentials is the credential-requestor stage: one credential of
// the identity per partner, requested with the packet's RID (the
// credential's registrationId and credentialSubject.id), published on the
// partner's CREDENTIAL_ISSUED topic. It returns why the stage failed the
// packet, or "".
func (rp *RegistrationProcessor) issueCredentials(id Identity, rid string) string {
	if rp.o.Issuer == nil {
		rp.log.Info("no credential issuer configured; no credential", "rid", rid)
		return ""
	}
	for _, partner := range rp.o.CredentialPartners {
		event, err := rp.o.Issuer.IssueCredential(id, rid)
		if err != nil {
			// The stage fails the packet, though the ID repository already
			// holds the new or changed identity.
			return "credential request for " + partner + " failed: " + err.Error()
		}
		rp.publish(CredentialTopic(partner), event)
	}
	return ""
}

func (rp *RegistrationProcessor) mandatory(process string, master *IDSchema) []string {
	if m, ok := rp.o.MandatoryFields[process]; ok {
		return m
	}
	switch process {
	case "CRVS_DEATH":
		return []string{"UIN"}
	case "CRVS_UPDATE":
		return []string{"UIN|vid"}
	}
	var out []string
	for _, r := range master.Required() {
		if r != "IDSchemaVersion" {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		out = []string{"fullName", "dateOfBirth", "gender"}
	}
	return out
}

func rpMerge(id *Identity, p Packet, rid string) {
	if id.Fields == nil {
		id.Fields = map[string]string{}
	}
	for k, v := range p.Fields {
		id.Fields[k] = v
	}
	id.RegistrationIDs = append(id.RegistrationIDs, rid)
}

func rpPresent(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return strings.TrimSpace(x) != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

func rpString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

// rpFirstValue reads a simpleType value ([{language, value}, ...]): the
// first entry's value; a plain string is returned as is.
func rpFirstValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		if len(x) > 0 {
			if m, ok := x[0].(map[string]any); ok {
				s, _ := m["value"].(string)
				return s
			}
		}
	}
	return ""
}

func rpUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// handleStatusSearch is RegistrationStatusController.search.
func (rp *RegistrationProcessor) handleStatusSearch(w http.ResponseWriter, r *http.Request) {
	caller, ok := rp.o.Auth.Authenticate(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	var dto struct {
		ID          *string `json:"id"`
		Version     *string `json:"version"`
		RequestTime *string `json:"requesttime"`
		Request     []struct {
			RegistrationID string `json:"registrationId"`
		} `json:"request"`
	}
	if err != nil || len(bytes.TrimSpace(body)) == 0 || pmStrictUnmarshal(body, &dto) != nil {
		pmSpringError(w, r, http.StatusBadRequest)
		return
	}
	if !pmHasAnyRole(caller, rpStatusSearchRoles) {
		pmForbidden(w)
		return
	}
	if code, msg := rpValidateStatus(dto.ID, dto.Version, dto.RequestTime); code != "" {
		rpWriteStatus(w, nil, []map[string]string{{"errorCode": code, "message": msg}})
		return
	}
	considered := DefaultStatusesConsideredProcessed
	if rp.o.StatusesConsideredProcessed != nil {
		considered = rp.o.StatusesConsideredProcessed
	}
	found := []map[string]string{}
	errs := []map[string]string{}
	for _, q := range dto.Request {
		in, ok := rp.latest(q.RegistrationID)
		if !ok {
			errs = append(errs, map[string]string{"errorCode": "RPR-RGS-031", "message": "RID Not Found", "registrationId": q.RegistrationID})
			continue
		}
		status := map[string]string{ResultProcessed: "PROCESSED", ResultRejected: "REJECTED", ResultFailed: "REPROCESS_FAILED"}[in.Status]
		if status == "" {
			status = "PROCESSING"
		}
		for _, c := range considered {
			if c == status {
				status = "PROCESSED"
			}
		}
		found = append(found, map[string]string{"registrationId": q.RegistrationID, "statusCode": status})
	}
	rpWriteStatus(w, found, errs)
}

// rpValidateStatus is RegistrationStatusRequestValidator (requesttime in
// yyyy-MM-dd'T'HH:mm:ss.SSS'Z' and not in the future).
func rpValidateStatus(id, version, reqTime *string) (string, string) {
	switch {
	case id == nil:
		return "RPR-RGS-021", "Missing Request Parameter - id"
	case *id != RegistrationStatusAPIID:
		return "RPR-RGS-024", "Invalid Request Parameter - id"
	case version == nil:
		return "RPR-RGS-019", "Missing Request Value - version"
	case *version != RegistrationStatusAPIVersion:
		return "RPR-RGS-022", "Invalid Request Parameter - version"
	case reqTime == nil:
		return "RPR-RGS-020", "Missing Request Parameter - requesttime"
	}
	t, err := time.Parse(pmTimeFormat, *reqTime)
	if err != nil || !t.Before(time.Now()) {
		return "RPR-RGS-023", "Invalid Request Parameter - requesttime"
	}
	return "", ""
}

func rpWriteStatus(w http.ResponseWriter, response any, errs []map[string]string) {
	pmWriteJSON(w, http.StatusOK, map[string]any{
		"id": RegistrationStatusAPIID, "version": RegistrationStatusAPIVersion,
		"responsetime": time.Now().UTC().Format(pmTimeFormat), "response": response, "errors": errs,
	})
}
