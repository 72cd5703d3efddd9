// Package mosipclient builds and sends the two MOSIP requests that turn a
// CRVS registration into a MOSIP identity operation: createPacket (packet
// manager) and workflowinstance (registration processor), plus the
// registration ids (RIDs) those requests are keyed by.
//
// The requests are built exactly as MOSIP binds them (field names, string
// maps, the schema as a JSON string, metaInfo and audits in the shapes the
// registration processor reads). The client sends MOSIP's token as the
// Authorization cookie, renews it once when MOSIP rejects it, and applies
// MOSIP's wire rule (HTTP status, then errors[], then a non-null response):
// createPacket answers HTTP 200 with response:null for most failures.
//
// The client never retries anything but an expired token: a createPacket
// that may have reached the writer must not be repeated blindly (a failed
// re-create deletes the stored packet), and a second workflowinstance is
// refused with RPR-WIS-001. The caller's job queue decides on retries,
// using IsTemporary.
package mosipclient

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mosipcrvs/bridge/pkg/mosip"
)

// Endpoint paths below the MOSIP base URL.
const (
	// CreatePacketPath is the packet manager's createPacket (PUT).
	CreatePacketPath = "/commons/v1/packetmanager/createPacket"
	// WorkflowInstancePath is the workflow manager's workflowinstance (POST).
	WorkflowInstancePath = "/registrationprocessor/v1/workflowmanager/workflowinstance"
)

// Envelope ids and versions.
const (
	// CreatePacketID is the createPacket envelope id. The packet manager
	// does not check it (the TypeScript mosip-api sends the placeholder
	// "string"); we send the id the packet writer answers with, so both
	// sides' logs name the same operation.
	CreatePacketID = "mosip.registration.packet.writer"
	// CreatePacketVersion is the createPacket envelope version (unchecked,
	// as answered by the packet writer).
	CreatePacketVersion = "v1"
	// WorkflowInstanceID must equal the workflow manager's
	// mosip.regproc.workflow-manager.instance.api-id, or it answers RPR-WIN-001.
	WorkflowInstanceID = "mosip.registration.processor.workflow.instance"
	// WorkflowInstanceVersion must equal
	// mosip.regproc.workflow-manager.instance.version.
	WorkflowInstanceVersion = "v1"
)

// Registration types, the metaData registrationType value. The registration
// processor maps CRVS processes to these categories (CRVS_NEW → NEW,
// CRVS_DEATH and CRVS_UPDATE → UPDATE).
const (
	RegistrationNew    = "NEW"
	RegistrationUpdate = "UPDATE"
)

// Audit values of the audit entry every packet carries (MOSIP requires a
// non-empty audit list for the id sub-packet, KER-KPM-008).
const (
	auditEventID         = "CRVS_CREATE_PACKET"
	auditEventName       = "packet created"
	auditEventType       = "CRVS"
	auditApplicationID   = "CRVS"
	auditApplicationName = "OpenCRVS"
	auditIDType          = "REGISTRATION_ID"
)

// metaData labels the builder owns; forwarded labels may not replace them.
const (
	labelRegistrationType = "registrationType"
	labelCenterID         = "centerId"
	labelMachineID        = "machineId"
)

// CreatePacketBody is the createPacket request body, MOSIP's PacketDto.
// Every map is sent (empty maps as {}), so MOSIP never sees null where it
// iterates.
type CreatePacketBody struct {
	// ID is the RID.
	ID string `json:"id"`
	// RefID is "<centre>_<machine>", the packet's encryption reference.
	RefID string `json:"refId"`
	// OfflineMode is always false; true changes how MOSIP names the packet.
	OfflineMode bool `json:"offlineMode"`
	// Process is the MOSIP process (CRVS_NEW, CRVS_DEATH, CRVS_UPDATE).
	Process string `json:"process"`
	// Source is the packet source (CRVS1); source and process must match a
	// writer provider configured in MOSIP, else KER-PUT-006.
	Source string `json:"source"`
	// SchemaVersion is the ID-schema version MOSIP's master data knows.
	SchemaVersion string `json:"schemaVersion"`
	// SchemaJSON is the ID schema, as a JSON string.
	SchemaJSON string `json:"schemaJson"`
	// Fields are the identity values, all strings (complex types as JSON text).
	Fields map[string]string `json:"fields"`
	// MetaInfo holds metaData, operationsData, capturedRegisteredDevices
	// and creationDate, each a string.
	MetaInfo map[string]string `json:"metaInfo"`
	// Audits is the packet's audit trail (never empty).
	Audits []map[string]string `json:"audits"`
	// Documents is always empty: the bridge sends no documents.
	Documents map[string]json.RawMessage `json:"documents"`
	// Biometrics is always empty: the bridge sends no biometrics.
	Biometrics map[string]json.RawMessage `json:"biometrics"`
}

// WorkflowBody is the workflowinstance request body.
type WorkflowBody struct {
	// RegistrationID, Process and Source must equal the createPacket id,
	// process and source.
	RegistrationID string `json:"registrationId"`
	// Process is the MOSIP process name.
	Process string `json:"process"`
	// Source is the packet source.
	Source string `json:"source"`
	// AdditionalInfoReqID is empty for CRVS packets.
	AdditionalInfoReqID string `json:"additionalInfoReqId"`
	// NotificationInfo is whom MOSIP notifies (stored encrypted by MOSIP).
	NotificationInfo Notification `json:"notificationInfo"`
}

// Notification is the contact MOSIP sends SMS and e-mail notifications to.
type Notification struct {
	// Name is the recipient's name.
	Name string `json:"name"`
	// Phone is the recipient's phone number.
	Phone string `json:"phone"`
	// Email is the recipient's e-mail address.
	Email string `json:"email"`
}

// Builder builds both requests for one deployment. Its fields are the
// deployment's constants; set them once and share the Builder.
type Builder struct {
	// CenterID and MachineID (five digits each) name the registration
	// centre and machine registered for the CRVS in MOSIP's master data.
	CenterID, MachineID string
	// Source is the packet source, e.g. "CRVS1" (MOSIP's default config)
	// or "OPENCRVS" (what the TypeScript mosip-api sends).
	Source string
	// SchemaVersion is the ID-schema version, e.g. "0.1"; MOSIP parses it
	// as a number.
	SchemaVersion string
	// HostName and HostIP go into the audit entry; empty HostName means
	// the machine's host name, empty HostIP means 127.0.0.1.
	HostName, HostIP string
	// OfficerID and SupervisorID go into operationsData; empty means null,
	// as MOSIP's own CRVS mediator sends.
	OfficerID, SupervisorID string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// NewUUID makes the audit entry's uuid; nil means a random version 4 UUID.
	NewUUID func() string
}

// Validate checks the deployment constants, reporting every problem.
func (b *Builder) Validate() error {
	var errs []error
	if !digits(b.CenterID, idPartLength) {
		errs = append(errs, fmt.Errorf("centre id %q must be %d digits", b.CenterID, idPartLength))
	}
	if !digits(b.MachineID, idPartLength) {
		errs = append(errs, fmt.Errorf("machine id %q must be %d digits", b.MachineID, idPartLength))
	}
	if strings.TrimSpace(b.Source) == "" {
		errs = append(errs, errors.New("source is required"))
	}
	if _, err := strconv.ParseFloat(strings.TrimSpace(b.SchemaVersion), 64); err != nil {
		errs = append(errs, fmt.Errorf("schema version %q must be a number such as 0.1", b.SchemaVersion))
	}
	if len(errs) > 0 {
		return fmt.Errorf("mosipclient: %w", errors.Join(errs...))
	}
	return nil
}

// RefID is "<centre>_<machine>".
func (b *Builder) RefID() string { return b.CenterID + "_" + b.MachineID }

// PacketInput is what varies per packet.
type PacketInput struct {
	// RID is the registration id (see RIDGenerator).
	RID string
	// Process is the MOSIP process name.
	Process string
	// RegistrationType is RegistrationNew or RegistrationUpdate.
	RegistrationType string
	// SchemaJSON is the ID schema document (idschema.Schema.JSON()).
	SchemaJSON string
	// Fields are the mapped packet fields (mapping.Map).
	Fields map[string]string
	// MetaLabels are extra metaData labels (mapping's forwarded metaInfo).
	MetaLabels map[string]string
	// Audit is OpenCRVS's audit object; when not empty it is added to the
	// packet's audits after the bridge's own entry.
	Audit map[string]any
}

// label is one entry of MOSIP's stringified label/value lists.
type label struct {
	Label string  `json:"label"`
	Value *string `json:"value"`
}

// CreatePacket builds the createPacket request. It refuses input MOSIP
// would swallow into response:null (no fields, no schema) and a 29-digit
// RID whose centre and machine differ from the refId, which MOSIP could
// not decrypt.
func (b *Builder) CreatePacket(in PacketInput) (mosip.Request[CreatePacketBody], error) {
	var zero mosip.Request[CreatePacketBody]
	if err := b.Validate(); err != nil {
		return zero, err
	}
	var errs []error
	if in.RID == "" {
		errs = append(errs, errors.New("RID is required"))
	} else if _, is29 := RIDTime(in.RID); is29 && in.RID[:2*idPartLength] != b.CenterID+b.MachineID {
		errs = append(errs, fmt.Errorf("RID does not start with centre %s and machine %s (refId %s)", b.CenterID, b.MachineID, b.RefID()))
	}
	if in.Process == "" {
		errs = append(errs, errors.New("process is required"))
	}
	if in.RegistrationType == "" {
		errs = append(errs, errors.New("registration type is required"))
	}
	if !json.Valid([]byte(in.SchemaJSON)) || !strings.HasPrefix(strings.TrimSpace(in.SchemaJSON), "{") {
		errs = append(errs, errors.New("schema JSON must be a JSON object"))
	}
	if len(in.Fields) == 0 {
		errs = append(errs, errors.New("fields must not be empty"))
	}
	for name := range in.MetaLabels {
		if name == labelRegistrationType || name == labelCenterID || name == labelMachineID {
			errs = append(errs, fmt.Errorf("metaData label %q is set by the builder", name))
		}
	}
	if len(errs) > 0 {
		return zero, fmt.Errorf("mosipclient: createPacket: %w", errors.Join(errs...))
	}

	now := b.now()
	created := now
	if t, ok := RIDTime(in.RID); ok {
		// MOSIP reads a 29-digit RID's creation time from its last digits;
		// keep creationDate consistent with it.
		created = t
	}
	metaData := []label{
		{labelRegistrationType, ptr(in.RegistrationType)},
		{labelCenterID, ptr(b.CenterID)},
		{labelMachineID, ptr(b.MachineID)},
	}
	for _, name := range sortedKeys(in.MetaLabels) {
		metaData = append(metaData, label{name, ptr(in.MetaLabels[name])})
	}
	operations := []label{{"officerId", optional(b.OfficerID)}, {"supervisorId", optional(b.SupervisorID)}}

	ts := mosip.RequestTime(now)
	audits := []map[string]string{{
		"uuid":            b.uuid(),
		"createdAt":       ts,
		"eventId":         auditEventID,
		"eventName":       auditEventName,
		"eventType":       auditEventType,
		"hostName":        b.hostName(),
		"hostIp":          b.hostIP(),
		"applicationId":   auditApplicationID,
		"applicationName": auditApplicationName,
		"id":              in.RID,
		"idType":          auditIDType,
		"actionTimeStamp": ts,
	}}
	if extra := stringMap(in.Audit); len(extra) > 0 {
		audits = append(audits, extra)
	}
	fields := make(map[string]string, len(in.Fields))
	for k, v := range in.Fields {
		fields[k] = v
	}
	body := CreatePacketBody{
		ID:            in.RID,
		RefID:         b.RefID(),
		OfflineMode:   false,
		Process:       in.Process,
		Source:        b.Source,
		SchemaVersion: strings.TrimSpace(b.SchemaVersion),
		SchemaJSON:    in.SchemaJSON,
		Fields:        fields,
		MetaInfo: map[string]string{
			"metaData":                  encodeString(metaData),
			"operationsData":            encodeString(operations),
			"capturedRegisteredDevices": "[]",
			"creationDate":              mosip.RequestTime(created),
		},
		Audits:     audits,
		Documents:  map[string]json.RawMessage{},
		Biometrics: map[string]json.RawMessage{},
	}
	return mosip.NewRequest(CreatePacketID, CreatePacketVersion, now, body), nil
}

// WorkflowInput is what varies per workflow instance.
type WorkflowInput struct {
	// RID and Process are those of the created packet.
	RID, Process string
	// Notification is whom MOSIP notifies; empty strings are allowed.
	Notification Notification
}

// WorkflowInstance builds the workflowinstance request that starts
// processing of a created packet. The workflow manager reads its body with
// unknown properties ignored, so the kernel envelope's metadata is harmless.
func (b *Builder) WorkflowInstance(in WorkflowInput) (mosip.Request[WorkflowBody], error) {
	var zero mosip.Request[WorkflowBody]
	var errs []error
	if in.RID == "" {
		errs = append(errs, errors.New("RID is required"))
	}
	if in.Process == "" {
		errs = append(errs, errors.New("process is required"))
	}
	if strings.TrimSpace(b.Source) == "" {
		errs = append(errs, errors.New("source is required"))
	}
	if len(errs) > 0 {
		return zero, fmt.Errorf("mosipclient: workflowinstance: %w", errors.Join(errs...))
	}
	return mosip.NewRequest(WorkflowInstanceID, WorkflowInstanceVersion, b.now(), WorkflowBody{
		RegistrationID:      in.RID,
		Process:             in.Process,
		Source:              b.Source,
		AdditionalInfoReqID: "",
		NotificationInfo:    in.Notification,
	}), nil
}

func (b *Builder) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *Builder) uuid() string {
	if b.NewUUID != nil {
		return b.NewUUID()
	}
	var u [16]byte
	_, _ = rand.Read(u[:]) // crypto/rand.Read never fails on supported platforms
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

func (b *Builder) hostName() string {
	if b.HostName != "" {
		return b.HostName
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "mosip-crvs-bridge"
}

func (b *Builder) hostIP() string {
	if b.HostIP != "" {
		return b.HostIP
	}
	return "127.0.0.1"
}

func ptr(s string) *string { return &s }

// optional is nil (JSON null) for an empty string.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// stringMap renders an OpenCRVS object as MOSIP's Map<String,String>:
// strings as they are, other values as JSON text, nulls left out.
func stringMap(in map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range in {
		switch x := v.(type) {
		case nil:
		case string:
			out[k] = x
		default:
			if s := encodeString(x); s != "" {
				out[k] = s
			}
		}
	}
	return out
}

// encode writes JSON the way MOSIP receives it: without HTML escaping, so
// "&" and "<" in names reach MOSIP unchanged.
func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// encodeString is encode for values that always encode (labels, decoded
// JSON); it returns "" if one does not.
func encodeString(v any) string {
	b, err := encode(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
