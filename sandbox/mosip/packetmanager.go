package mosip

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// CreatePacketPath is the packet manager's createPacket endpoint
// (servlet path /commons/v1/packetmanager).
const CreatePacketPath = "/commons/v1/packetmanager/createPacket"

// PacketWriterResponseID is the envelope id of createPacket answers.
const PacketWriterResponseID = "mosip.registration.packet.writer"

// pmCreatePacketRoles is mosip.role.commons-packet.putcreatepacket.
var pmCreatePacketRoles = []string{"REGISTRATION_PROCESSOR", "ONLINE_REGISTRATION_CLIENT"}

// pmMaxBody bounds a createPacket body: packets carry base64 documents.
const pmMaxBody = 32 << 20

// pmTimeFormat is MOSIP's UTC timestamp pattern yyyy-MM-dd'T'HH:mm:ss.SSS'Z'.
const pmTimeFormat = "2006-01-02T15:04:05.000Z"

// DefaultPacketProviders returns the writer providers a CRVS deployment
// configures (provider.packetwriter.*): source CRVS1 for the CRVS processes
// (CRVS_UPDATE as on mosip-config dev2) and MOSIP's own OPENCRVS mediator
// pair.
func DefaultPacketProviders() map[string][]string {
	return map[string][]string{
		"CRVS1":    {"CRVS_NEW", "CRVS_DEATH", "CRVS_UPDATE"},
		"OPENCRVS": {"OPENCRVS_NEW"},
	}
}

// PacketManagerOptions configures NewPacketManager.
type PacketManagerOptions struct {
	// Auth is the auth manager whose tokens are accepted (required).
	Auth *AuthManager
	// Schema is the ID schema used when a request has no schemaJson, and
	// the "master data" schema the registration processor validates
	// identities against; nil means the embedded DefaultIDSchema.
	Schema []byte
	// Providers maps a source to the processes its writer provider serves;
	// nil means DefaultPacketProviders.
	Providers map[string][]string
	// Logger receives what MOSIP would only log (swallowed exceptions,
	// dropped fields); nil discards.
	Logger *slog.Logger
	// DeferFieldValidation, when true, stores field values that violate the
	// schema, as packet-manager master does (its writer never validates
	// values), leaving the failure to the registration processor's
	// ID-object validation. By default createPacket answers response:null
	// for such values so bad field mapping shows up at once.
	DeferFieldValidation bool
	// RequireSchemaJSON, when true, fails a request without schemaJson
	// (response:null) as real MOSIP does (its writer parses a null schema);
	// by default the Schema above is used instead.
	RequireSchemaJSON bool
}

// PacketInfo is one sub-packet in a createPacket answer.
type PacketInfo struct {
	ID              string `json:"id"`
	PacketName      string `json:"packetName"`
	Source          string `json:"source"`
	Process         string `json:"process"`
	RefID           string `json:"refId"`
	SchemaVersion   string `json:"schemaVersion"`
	Signature       string `json:"signature"`
	EncryptedHash   string `json:"encryptedHash"`
	ProviderName    string `json:"providerName"`
	ProviderVersion string `json:"providerVersion"`
	CreationDate    string `json:"creationDate"`
}

// PacketDocument is a document written into a packet.
type PacketDocument struct {
	Value     string  `json:"value"`
	Type      string  `json:"type"`
	Format    string  `json:"format"`
	RefNumber *string `json:"refNumber"`
	// Size is the decoded document length in bytes.
	Size int `json:"size"`
}

// Packet is a stored registration packet.
type Packet struct {
	ID                  string
	RefID               string
	Source              string
	Process             string
	AdditionalInfoReqID string
	OfflineMode         bool
	// SchemaVersion is the request's schemaVersion parsed as MOSIP does
	// (Double.valueOf); it is the packet's IDSchemaVersion.
	SchemaVersion float64
	// Fields are the demographic fields written (declared in the schema),
	// as sent on the wire.
	Fields map[string]string
	// Values are the same fields after MOSIP's JSON tokenizer: a JSON
	// object or array is structured (map[string]any / []any with
	// json.Number), anything else the verbatim string.
	Values map[string]any
	// MetaInfo is metaInfo after the tokenizer, plus the registrationId
	// and creationDate the writer adds.
	MetaInfo   map[string]any
	Audits     []map[string]string
	Documents  map[string]PacketDocument
	Biometrics []string
	// Infos is what createPacket answered.
	Infos []PacketInfo
	// Schema is the ID schema the packet was written with.
	Schema  *IDSchema
	Created time.Time
}

// DroppedField is a value createPacket accepted on the wire but did not
// write into the packet, with why.
type DroppedField struct {
	// Name is the field name; metaInfo keys, documents and biometrics are
	// prefixed "metaInfo.", "documents." and "biometrics.".
	Name   string
	Reason string
}

// PacketCall records one createPacket request.
type PacketCall struct {
	At       time.Time
	ClientID string
	ID       string
	Source   string
	Process  string
	// Status is the HTTP status answered.
	Status int
	// Result is one of created, null-response (HTTP 200, response:null),
	// error (HTTP 200 with errors[]), unauthorized, forbidden, bad-request
	// (a Spring 4xx) or server-error (a Spring 500).
	Result string
	// ErrorCode is the errors[] code, or for null-response the code MOSIP
	// would only have logged.
	ErrorCode string
	// Detail is the reason in words.
	Detail string
	// Body is the request body as received (nil when it could not be
	// read); shared, not to be modified.
	Body []byte
}

// Packet call results.
const (
	PacketCreated      = "created"
	PacketNullResponse = "null-response"
	PacketError        = "error"
	PacketUnauthorized = "unauthorized"
	PacketForbidden    = "forbidden"
	PacketBadRequest   = "bad-request"
	PacketServerError  = "server-error"
)

type pmKey struct{ id, source, process string }

// PacketManager emulates the packet manager's PUT createPacket with its
// wire quirks: the kernel auth filter (token only from the Authorization
// cookie), Jackson's request binding, writer providers per source/process
// (KER-PUT-006), MOSIP's JSON tokenizer on field values, silent dropping of
// fields the schema does not declare, the catch-all that answers HTTP 200
// with response:null and errors:[] for every writer failure, overwrite on
// re-create, and deletion of the stored packet when a re-create fails.
type PacketManager struct {
	auth            *AuthManager
	schema          *IDSchema
	log             *slog.Logger
	deferValidation bool
	reqJSON         bool

	// schemas are the request schemas parsed so far, by their schemaJson
	// literal.
	schemas *idsCache

	mu        sync.RWMutex
	providers map[string][]string
	packets   map[pmKey]*Packet
	dropped   map[string][]DroppedField
	calls     []PacketCall
	failNext  int
}

// NewPacketManager returns a packet manager; it fails when Auth is nil or
// Schema is not a loadable ID schema.
func NewPacketManager(o PacketManagerOptions) (*PacketManager, error) {
	if o.Auth == nil {
		return nil, errors.New("mosip: PacketManagerOptions.Auth is required")
	}
	doc := o.Schema
	if doc == nil {
		doc = idsDefaultSchemaJSON
	}
	schema, err := ParseIDSchema(doc)
	if err != nil {
		return nil, fmt.Errorf("mosip: packet manager schema: %w", err)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, w := range schema.Warnings() {
		log.Warn("packet manager schema", "warning", w)
	}
	pm := &PacketManager{
		auth: o.Auth, schema: schema, log: log, deferValidation: o.DeferFieldValidation, reqJSON: o.RequireSchemaJSON,
		packets: map[pmKey]*Packet{}, dropped: map[string][]DroppedField{}, schemas: newIDSCache(),
	}
	providers := o.Providers
	if providers == nil {
		providers = DefaultPacketProviders()
	}
	pm.SetProviders(providers)
	return pm, nil
}

// Register mounts PUT createPacket on mux.
func (pm *PacketManager) Register(mux *http.ServeMux) {
	mux.HandleFunc("PUT "+CreatePacketPath, pm.handleCreate)
	// Spring answers other methods with its own JSON error body.
	mux.HandleFunc(CreatePacketPath, func(w http.ResponseWriter, r *http.Request) {
		if _, ok := pm.auth.Authenticate(w, r); !ok {
			return
		}
		w.Header().Set("Allow", http.MethodPut)
		pmSpringError(w, r, http.StatusMethodNotAllowed)
	})
}

// Schema is the configured (master data) ID schema.
func (pm *PacketManager) Schema() *IDSchema { return pm.schema }

// SetProviders replaces the source → processes writer providers.
func (pm *PacketManager) SetProviders(p map[string][]string) {
	c := make(map[string][]string, len(p))
	for s, procs := range p {
		c[s] = append([]string(nil), procs...)
	}
	pm.mu.Lock()
	pm.providers = c
	pm.mu.Unlock()
}

// FailNext makes the next n createPacket calls that get past the provider
// check fail like an object-store error: HTTP 200, response:null, and the
// stored packet for that id/source/process deleted.
func (pm *PacketManager) FailNext(n int) {
	pm.mu.Lock()
	pm.failNext = n
	pm.mu.Unlock()
}

// Packet returns the most recently created packet with the given id (any
// source and process).
func (pm *PacketManager) Packet(id string) (Packet, bool) {
	pm.mu.RLock()
	defer pm.mu.RUnlock()
	var best *Packet
	for k, p := range pm.packets {
		if k.id == id && (best == nil || p.Created.After(best.Created)) {
			best = p
		}
	}
	if best == nil {
		return Packet{}, false
	}
	return best.clone(), true
}

// PacketFor returns the packet stored for id, source and process.
func (pm *PacketManager) PacketFor(id, source, process string) (Packet, bool) {
	pm.mu.RLock()
	defer pm.mu.RUnlock()
	p, ok := pm.packets[pmKey{id, source, process}]
	if !ok {
		return Packet{}, false
	}
	return p.clone(), true
}

// Packets returns every stored packet, oldest first.
func (pm *PacketManager) Packets() []Packet {
	pm.mu.RLock()
	out := make([]Packet, 0, len(pm.packets))
	for _, p := range pm.packets {
		out = append(out, p.clone())
	}
	pm.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out
}

// Calls returns every createPacket request served, in order.
func (pm *PacketManager) Calls() []PacketCall {
	pm.mu.RLock()
	defer pm.mu.RUnlock()
	return append([]PacketCall(nil), pm.calls...)
}

// DroppedFields returns what the latest createPacket for id accepted but
// did not write.
func (pm *PacketManager) DroppedFields(id string) []DroppedField {
	pm.mu.RLock()
	defer pm.mu.RUnlock()
	return append([]DroppedField(nil), pm.dropped[id]...)
}

func (pm *PacketManager) record(c PacketCall) {
	pm.mu.Lock()
	pm.calls = append(pm.calls, c)
	pm.mu.Unlock()
}

// pmDTO is PacketDto after Jackson-like binding.
type pmDTO struct {
	ID, AdditionalInfoReqID, RefID, Process, Source, SchemaVersion *string
	// SchemaJSON is schemaJson as sent: a JSON string literal (or another
	// scalar, which Jackson reads as its text), nil when absent or null.
	// It stays undecoded until the schema cache misses.
	SchemaJSON                                     json.RawMessage
	OfflineMode                                    bool
	Fields, MetaInfo                               map[string]*string
	Audits                                         []map[string]*string
	Documents                                      map[string]*pmDocDTO
	Biometrics                                     map[string]json.RawMessage
	hasFields, hasMeta, hasDocs, hasAudits, hasBio bool
}

type pmDocDTO struct {
	Document                       []byte
	Value, Type, Format, RefNumber *string
}

func (pm *PacketManager) handleCreate(w http.ResponseWriter, r *http.Request) {
	call := PacketCall{At: time.Now()}
	defer func() { pm.record(call) }()

	// The kernel auth filter runs before Spring MVC.
	caller, ok := pm.auth.Authenticate(w, r)
	if !ok {
		call.Status, call.Result, call.ErrorCode = http.StatusUnauthorized, PacketUnauthorized, "KER-ATH-401"
		return
	}
	call.ClientID = caller.ClientID

	// consumes = application/json: anything else is Spring's 415.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		call.Status, call.Result, call.Detail = http.StatusUnsupportedMediaType, PacketBadRequest, "Content-Type is not application/json"
		pmSpringError(w, r, http.StatusUnsupportedMediaType)
		return
	}
	body, err := pmReadBody(http.MaxBytesReader(w, r.Body, pmMaxBody), r.ContentLength, pmMaxBody)
	if err != nil {
		status := http.StatusBadRequest
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			status = http.StatusRequestEntityTooLarge
		}
		call.Status, call.Result, call.Detail = status, PacketBadRequest, err.Error()
		pmSpringError(w, r, status)
		return
	}
	call.Body = body
	// @RequestBody binding happens before @PreAuthorize is evaluated.
	dto, present, err := pmDecode(body)
	if err != nil {
		call.Status, call.Result, call.Detail = http.StatusBadRequest, PacketBadRequest, "HttpMessageNotReadableException: "+err.Error()
		pm.log.Info("createPacket: body not readable", "err", err)
		pmSpringError(w, r, http.StatusBadRequest)
		return
	}
	if !pmHasAnyRole(caller, pmCreatePacketRoles) {
		call.Status, call.Result, call.ErrorCode = http.StatusForbidden, PacketForbidden, "KER-ATH-403"
		pmForbidden(w)
		return
	}
	if !present {
		// requestr.getRequest() is null: the facade's first log line throws
		// a NullPointerException no advice handles.
		call.Status, call.Result, call.Detail = http.StatusInternalServerError, PacketServerError, "request is null (NullPointerException)"
		pmSpringError(w, r, http.StatusInternalServerError)
		return
	}
	call.ID, call.Source, call.Process = pmDeref(dto.ID), pmDeref(dto.Source), pmDeref(dto.Process)

	if !pm.hasProvider(dto.Source, dto.Process) {
		call.Status, call.Result, call.ErrorCode = http.StatusOK, PacketError, "KER-PUT-006"
		call.Detail = "No available provider for given source and process"
		pm.log.Info("createPacket: no provider", "source", call.Source, "process", call.Process)
		pmAdviceError(w, "KER-PUT-006", "No available provider for given source and process")
		return
	}

	infos, code, reason := pm.create(dto)
	call.Status = http.StatusOK
	if infos == nil {
		call.Result, call.ErrorCode, call.Detail = PacketNullResponse, code, reason
		pm.log.Info("createPacket failed; answering response:null as MOSIP does", "id", call.ID, "code", code, "reason", reason)
		WriteEnvelope(w, http.StatusOK, PacketWriterResponseID, nil, "", "")
		return
	}
	call.Result = PacketCreated
	WriteEnvelope(w, http.StatusOK, PacketWriterResponseID, infos, "", "")
}

func (pm *PacketManager) hasProvider(source, process *string) bool {
	if source == nil || process == nil {
		return false
	}
	pm.mu.RLock()
	defer pm.mu.RUnlock()
	for _, p := range pm.providers[*source] {
		if p == *process {
			return true
		}
	}
	return false
}

// create is the writer facade and PacketWriterImpl: it answers the
// sub-packet infos, or nil with the code and reason MOSIP would only log.
func (pm *PacketManager) create(d *pmDTO) ([]PacketInfo, string, string) {
	id, source, process := pmDeref(d.ID), pmDeref(d.Source), pmDeref(d.Process)
	key := pmKey{id, source, process}
	var dropped []DroppedField
	defer func() {
		pm.mu.Lock()
		pm.dropped[id] = dropped
		pm.mu.Unlock()
		for _, df := range dropped {
			pm.log.Info("createPacket: field not written", "id", id, "field", df.Name, "reason", df.Reason)
		}
	}()

	if !d.hasFields && !d.hasMeta && !d.hasDocs && !d.hasAudits && !d.hasBio {
		// Nothing initialised the writer's per-id state: thrown before the
		// writer's try, so nothing is deleted.
		return nil, "KER-KPM-009", "Packet creator not initialized"
	}

	schema := pm.schema
	if d.SchemaJSON != nil {
		s, err := pm.schemas.get(d.SchemaJSON, func() (*IDSchema, error) {
			doc, err := pmJacksonString(d.SchemaJSON)
			if err != nil {
				return nil, err
			}
			if doc == nil {
				return nil, errors.New("schema is null")
			}
			return ParseIDSchema([]byte(*doc))
		})
		if err != nil {
			return nil, "KER-KPM-002", "Failed to parse json : " + err.Error()
		}
		schema = s
	} else if pm.reqJSON {
		return nil, "KER-KPM-002", "Failed to parse json : schemaJson is null"
	}

	// From here on MOSIP's writer is inside the try whose catch deletes the
	// stored packet before rethrowing.
	fail := func(code, reason string) ([]PacketInfo, string, string) {
		pm.mu.Lock()
		_, existed := pm.packets[key]
		delete(pm.packets, key)
		pm.mu.Unlock()
		if existed {
			pm.log.Info("createPacket: exception occurred, deleting the packet", "id", id, "source", source, "process", process)
		}
		return nil, code, reason
	}

	p := &Packet{
		ID: id, RefID: pmDeref(d.RefID), Source: source, Process: process,
		AdditionalInfoReqID: pmDeref(d.AdditionalInfoReqID), OfflineMode: d.OfflineMode,
		Fields: map[string]string{}, Values: map[string]any{}, MetaInfo: map[string]any{},
		Documents: map[string]PacketDocument{}, Schema: schema, Created: time.Now().UTC(),
	}
	for _, name := range pmSortedKeys(d.Fields) {
		raw := d.Fields[name]
		if raw == nil {
			dropped = append(dropped, DroppedField{name, "null value (never written)"})
			continue
		}
		v, ok, why := pmTokenize(*raw)
		if !ok {
			dropped = append(dropped, DroppedField{name, "JSONTokener failed (" + why + "); exception swallowed, field not set"})
			continue
		}
		f, declared := schema.Field(name)
		switch {
		case !declared:
			dropped = append(dropped, DroppedField{name, "not declared in schemaJson properties.identity.properties"})
		case f.IsDocument() || f.IsBiometric():
			dropped = append(dropped, DroppedField{name, "declared as " + f.Type + "; only documents/biometrics entries are written for it"})
		default:
			p.Fields[name] = *raw
			p.Values[name] = v
		}
	}
	for _, name := range pmSortedKeys(d.MetaInfo) {
		raw := d.MetaInfo[name]
		if raw == nil {
			p.MetaInfo[name] = nil
			continue
		}
		v, ok, why := pmTokenize(*raw)
		if !ok {
			dropped = append(dropped, DroppedField{"metaInfo." + name, "JSONTokener failed (" + why + ")"})
			continue
		}
		p.MetaInfo[name] = v
	}
	for _, a := range d.Audits {
		m := map[string]string{}
		for k, v := range a {
			if v != nil {
				m[k] = *v
			}
		}
		p.Audits = append(p.Audits, m)
	}
	for _, name := range pmSortedKeys(d.Documents) {
		doc := d.Documents[name]
		f, declared := schema.Field(name)
		if doc == nil || !declared || !f.IsDocument() {
			dropped = append(dropped, DroppedField{"documents." + name, "not declared as " + IDSchemaDocumentType + " in the schema"})
			continue
		}
		p.Documents[name] = PacketDocument{Value: name, Type: pmDeref(doc.Type), Format: pmDeref(doc.Format),
			RefNumber: doc.RefNumber, Size: len(doc.Document)}
	}
	for _, name := range pmSortedKeys(d.Biometrics) {
		f, declared := schema.Field(name)
		if !declared || !f.IsBiometric() {
			dropped = append(dropped, DroppedField{"biometrics." + name, "not declared as " + IDSchemaBiometricsType + " in the schema"})
			continue
		}
		var rec struct {
			Segments []json.RawMessage `json:"segments"`
		}
		if json.Unmarshal(d.Biometrics[name], &rec) != nil || len(rec.Segments) == 0 {
			dropped = append(dropped, DroppedField{"biometrics." + name, "no segments"})
			continue
		}
		p.Biometrics = append(p.Biometrics, name)
	}

	if d.SchemaVersion == nil {
		return fail("KER-KPM-006", "Failed to create zip : NullPointerException (schemaVersion is null)")
	}
	version, err := pmParseJavaDouble(*d.SchemaVersion)
	if err != nil {
		return fail("KER-KPM-006", "Failed to create zip : NumberFormatException: "+err.Error())
	}
	p.SchemaVersion = version

	subs := schema.SubPackets()
	for _, s := range subs {
		if s == "id" && len(p.Audits) == 0 {
			return fail("KER-KPM-008", "Registration audits is empty")
		}
	}
	if !pm.deferValidation {
		for _, name := range pmSortedKeys(p.Values) {
			if err := schema.ValidateValue(name, p.Values[name]); err != nil {
				return fail("KER-KPM-007", "Invalid input provided : "+err.Error())
			}
		}
	}
	pm.mu.Lock()
	injected := pm.failNext > 0
	if injected {
		pm.failNext--
	}
	pm.mu.Unlock()
	if injected {
		return fail("KER-PUT-015", "Packet keeper exception occured. (injected)")
	}

	created := p.Created.Format(pmTimeFormat)
	p.MetaInfo["registrationId"] = id
	p.MetaInfo["creationDate"] = created
	infoID := id
	if p.OfflineMode {
		base := id
		if p.AdditionalInfoReqID != "" {
			base = p.AdditionalInfoReqID
		}
		infoID = base + "-" + p.RefID + "-" + p.Created.Format("20060102150405")
	}
	for _, s := range subs {
		p.Infos = append(p.Infos, PacketInfo{
			ID: infoID, PacketName: id + "_" + s, Source: source, Process: process, RefID: p.RefID,
			SchemaVersion: pmJavaDoubleString(version), Signature: pmRandomB64(256), EncryptedHash: pmHashB64(),
			ProviderName: "PacketWriterImpl", ProviderVersion: "v1.0", CreationDate: created,
		})
	}
	p.ID = infoID
	pm.mu.Lock()
	pm.packets[pmKey{infoID, source, process}] = p
	pm.mu.Unlock()
	return append([]PacketInfo(nil), p.Infos...), "", ""
}

// pmTokenize is RegistrationPacket.setFields: org.json's JSONTokener reads
// the first value; an object or array is stored structured, anything else
// the raw string. Input the tokenizer rejects (empty, a leading delimiter,
// an unterminated quote, malformed JSON) throws, and MOSIP swallows the
// exception: the field is simply not set (ok=false).
func pmTokenize(raw string) (any, bool, string) {
	i := 0
	for i < len(raw) && raw[i] > 0 && raw[i] <= ' ' {
		i++
	}
	if i == len(raw) {
		return nil, false, "Missing value"
	}
	switch c := raw[i]; c {
	case '{', '[':
		dec := json.NewDecoder(strings.NewReader(raw[i:]))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, false, "malformed JSON: " + err.Error()
		}
		return v, true, ""
	case '"', '\'':
		for j := i + 1; j < len(raw); j++ {
			switch raw[j] {
			case '\\':
				j++
			case '\n', '\r':
				return nil, false, "Unterminated string"
			case c:
				return raw, true, ""
			}
		}
		return nil, false, "Unterminated string"
	default:
		if c < ' ' || strings.IndexByte(",:]}/\\;=#", c) >= 0 {
			return nil, false, "Missing value"
		}
		return raw, true, ""
	}
}

// pmDecode binds the body like Spring's Jackson converter binds
// RequestWrapper<PacketDto>: unknown properties ignored, scalars coerced to
// strings, an object or array where a string is declared is unreadable.
// present is false when "request" is absent or null. The body is scanned
// once; the DTO's raw values alias it.
func pmDecode(body []byte) (*pmDTO, bool, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, false, errors.New("required request body is missing")
	}
	top, err := pmObject(body, json.Valid(body))
	if err != nil {
		return nil, false, err
	}
	for _, k := range []string{"id", "version", "requesttime"} {
		raw, ok := top[k]
		if !ok {
			continue
		}
		s, err := pmJacksonString(raw)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", k, err)
		}
		// requesttime is a LocalDateTime: jsr310's deserializer reads a
		// trailing Z as an instant, anything else as ISO_LOCAL_DATE_TIME.
		if k == "requesttime" && s != nil && *s != "" && !pmISOLocalDateTime(strings.TrimSuffix(*s, "Z")) {
			return nil, false, fmt.Errorf("requesttime: cannot deserialize LocalDateTime from %q", *s)
		}
	}
	reqRaw, ok := top["request"]
	if !ok || pmIsNull(reqRaw) {
		return nil, false, nil
	}
	// From here on every value is part of a body that decoded: valid JSON.
	req, err := pmObject(reqRaw, true)
	if err != nil {
		return nil, false, fmt.Errorf("request: %w", err)
	}
	d := &pmDTO{}
	var schemaJSON *string
	strs := map[string]**string{"id": &d.ID, "additionalInfoReqId": &d.AdditionalInfoReqID, "refId": &d.RefID,
		"process": &d.Process, "source": &d.Source, "schemaVersion": &d.SchemaVersion, "schemaJson": &schemaJSON}
	for k, dst := range strs {
		raw, ok := req[k]
		if !ok {
			continue
		}
		if k == "schemaJson" && len(raw) > 0 && raw[0] == '"' {
			// A string: bound as is, unescaped only if the schema cache
			// does not know it.
			d.SchemaJSON = raw
			continue
		}
		s, err := pmJacksonString(raw)
		if err != nil {
			return nil, false, fmt.Errorf("request.%s: %w", k, err)
		}
		*dst = s
	}
	if schemaJSON != nil {
		d.SchemaJSON = req["schemaJson"]
	}
	if raw, ok := req["offlineMode"]; ok {
		b, err := pmJacksonBool(raw)
		if err != nil {
			return nil, false, fmt.Errorf("request.offlineMode: %w", err)
		}
		d.OfflineMode = b
	}
	if d.Fields, d.hasFields, err = pmStringMap(req["fields"]); err != nil {
		return nil, false, fmt.Errorf("request.fields: %w", err)
	}
	if d.MetaInfo, d.hasMeta, err = pmStringMap(req["metaInfo"]); err != nil {
		return nil, false, fmt.Errorf("request.metaInfo: %w", err)
	}
	if raw, ok := req["audits"]; ok && !pmIsNull(raw) {
		list, err := pmArray(raw, true)
		if err != nil {
			return nil, false, fmt.Errorf("request.audits: expected an array: %w", err)
		}
		d.hasAudits = true
		for i, item := range list {
			m, _, err := pmStringMap(item)
			if err != nil {
				return nil, false, fmt.Errorf("request.audits[%d]: %w", i, err)
			}
			d.Audits = append(d.Audits, m)
		}
	}
	if raw, ok := req["documents"]; ok && !pmIsNull(raw) {
		docs, err := pmObject(raw, true)
		if err != nil {
			return nil, false, fmt.Errorf("request.documents: %w", err)
		}
		d.hasDocs = true
		d.Documents = map[string]*pmDocDTO{}
		for name, draw := range docs {
			if pmIsNull(draw) {
				d.Documents[name] = nil
				continue
			}
			fieldsRaw, err := pmObject(draw, true)
			if err != nil {
				return nil, false, fmt.Errorf("request.documents.%s: %w", name, err)
			}
			doc := &pmDocDTO{}
			for k, dst := range map[string]**string{"value": &doc.Value, "type": &doc.Type, "format": &doc.Format, "refNumber": &doc.RefNumber} {
				if v, ok := fieldsRaw[k]; ok {
					if *dst, err = pmJacksonString(v); err != nil {
						return nil, false, fmt.Errorf("request.documents.%s.%s: %w", name, k, err)
					}
				}
			}
			if v, ok := fieldsRaw["document"]; ok && !pmIsNull(v) {
				s, err := pmJacksonString(v)
				if err != nil || s == nil {
					return nil, false, fmt.Errorf("request.documents.%s.document: expected base64 text", name)
				}
				if doc.Document, err = pmDecodeBase64(*s); err != nil {
					return nil, false, fmt.Errorf("request.documents.%s.document: %w", name, err)
				}
			}
			d.Documents[name] = doc
		}
	}
	if raw, ok := req["biometrics"]; ok && !pmIsNull(raw) {
		bios, err := pmObject(raw, true)
		if err != nil {
			return nil, false, fmt.Errorf("request.biometrics: %w", err)
		}
		d.hasBio = true
		d.Biometrics = map[string]json.RawMessage{}
		for name, b := range bios {
			if !pmIsNull(b) {
				if _, err := pmObject(b, true); err != nil {
					return nil, false, fmt.Errorf("request.biometrics.%s: %w", name, err)
				}
			}
			d.Biometrics[name] = b
		}
	}
	return d, true, nil
}

// pmObject decodes a JSON object into its members as pmStrictUnmarshal
// into a map[string]json.RawMessage does (null gives a nil map). When
// valid says data passed json.Valid (or is a value inside a document that
// did), an object is split without being scanned again and its members
// alias data; anything else goes through pmStrictUnmarshal.
func pmObject(data []byte, valid bool) (map[string]json.RawMessage, error) {
	if valid {
		if m, ok := pmMembers(data); ok {
			return m, nil
		}
	}
	var m map[string]json.RawMessage
	err := pmStrictUnmarshal(data, &m)
	return m, err
}

// pmArray is pmObject for a JSON array ([]json.RawMessage).
func pmArray(data []byte, valid bool) ([]json.RawMessage, error) {
	if valid {
		if l, ok := pmElements(data); ok {
			return l, nil
		}
	}
	var l []json.RawMessage
	err := pmStrictUnmarshal(data, &l)
	return l, err
}

// pmMembers splits a valid JSON object the way encoding/json decodes it
// into a map[string]json.RawMessage: keys unescaped, values without
// surrounding space, the last of repeated keys kept. Values alias v
// (capacity clipped). ok is false when v is not an object or does not
// read as one, and the caller decodes it the slow way.
func pmMembers(v []byte) (map[string]json.RawMessage, bool) {
	i := pmSkipSpace(v, 0)
	if i >= len(v) || v[i] != '{' {
		return nil, false
	}
	m := map[string]json.RawMessage{}
	i = pmSkipSpace(v, i+1)
	if i < len(v) && v[i] == '}' {
		return m, pmSkipSpace(v, i+1) == len(v)
	}
	for {
		end, ok := pmValueEnd(v, i)
		if !ok || v[i] != '"' {
			return nil, false
		}
		key, ok := pmKeyString(v[i:end])
		if !ok {
			return nil, false
		}
		i = pmSkipSpace(v, end)
		if i >= len(v) || v[i] != ':' {
			return nil, false
		}
		i = pmSkipSpace(v, i+1)
		if end, ok = pmValueEnd(v, i); !ok {
			return nil, false
		}
		m[key] = v[i:end:end]
		i = pmSkipSpace(v, end)
		if i >= len(v) {
			return nil, false
		}
		switch v[i] {
		case ',':
			i = pmSkipSpace(v, i+1)
		case '}':
			return m, pmSkipSpace(v, i+1) == len(v)
		default:
			return nil, false
		}
	}
}

// pmElements is pmMembers for a valid JSON array.
func pmElements(v []byte) ([]json.RawMessage, bool) {
	i := pmSkipSpace(v, 0)
	if i >= len(v) || v[i] != '[' {
		return nil, false
	}
	l := []json.RawMessage{}
	i = pmSkipSpace(v, i+1)
	if i < len(v) && v[i] == ']' {
		return l, pmSkipSpace(v, i+1) == len(v)
	}
	for {
		end, ok := pmValueEnd(v, i)
		if !ok {
			return nil, false
		}
		l = append(l, v[i:end:end])
		i = pmSkipSpace(v, end)
		if i >= len(v) {
			return nil, false
		}
		switch v[i] {
		case ',':
			i = pmSkipSpace(v, i+1)
		case ']':
			return l, pmSkipSpace(v, i+1) == len(v)
		default:
			return nil, false
		}
	}
}

// pmKeyString unescapes an object key (a string literal) as encoding/json does.
func pmKeyString(lit []byte) (string, bool) {
	if k, ok := pmPlainString(lit); ok {
		return k, true
	}
	var k string
	return k, json.Unmarshal(lit, &k) == nil
}

// pmPlainString reads a JSON string literal that needs no unescaping:
// quoted printable ASCII without quotes or backslashes inside, whose value
// is its inner bytes. ok is false for anything else, left to
// encoding/json.
func pmPlainString(lit []byte) (string, bool) {
	if len(lit) < 2 || lit[0] != '"' || lit[len(lit)-1] != '"' {
		return "", false
	}
	inner := lit[1 : len(lit)-1]
	for _, c := range inner {
		if c < ' ' || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			return "", false
		}
	}
	return string(inner), true
}

// pmSkipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func pmSkipSpace(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r') {
		i++
	}
	return i
}

// pmValueEnd returns the index just past the JSON value starting at i,
// which is known to be valid: strings end at the first quote not escaped,
// objects and arrays where their brackets balance (outside strings), other
// literals at the next delimiter.
func pmValueEnd(v []byte, i int) (int, bool) {
	if i >= len(v) {
		return 0, false
	}
	switch v[i] {
	case '"':
		return pmStringEnd(v, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(v); j++ {
			switch v[j] {
			case '"':
				end, ok := pmStringEnd(v, j)
				if !ok {
					return 0, false
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	default:
		j := i
		for j < len(v) && strings.IndexByte(",}] \t\n\r", v[j]) < 0 {
			j++
		}
		return j, j > i
	}
}

// pmStringEnd returns the index just past the string literal whose opening
// quote is at i: the first quote preceded by an even number of
// backslashes.
func pmStringEnd(v []byte, i int) (int, bool) {
	for j := i + 1; j < len(v); {
		k := bytes.IndexByte(v[j:], '"')
		if k < 0 {
			return 0, false
		}
		q := j + k
		n := 0
		for b := q - 1; b > i && v[b] == '\\'; b-- {
			n++
		}
		if n%2 == 0 {
			return q + 1, true
		}
		j = q + 1
	}
	return 0, false
}

// pmReadBody reads a request body into one buffer sized from its
// Content-Length (when known and within limit) instead of growing one.
func pmReadBody(r io.Reader, contentLength, limit int64) ([]byte, error) {
	if contentLength <= 0 || contentLength > limit {
		return io.ReadAll(r)
	}
	// bytes.Buffer reads until EOF and grows when less than
	// bytes.MinRead is free.
	b := bytes.NewBuffer(make([]byte, 0, contentLength+bytes.MinRead))
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}

// pmStrictUnmarshal decodes exactly one JSON value of the target's kind.
func pmStrictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

func pmIsNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// pmJacksonString binds a JSON value to a Java String the way Jackson's
// StringDeserializer does: strings as is, other scalars as their text,
// null as null, objects and arrays rejected.
func pmJacksonString(raw json.RawMessage) (*string, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return nil, errors.New("missing value")
	}
	switch t[0] {
	case 'n':
		return nil, nil
	case '"':
		if s, ok := pmPlainString(t); ok {
			return &s, nil
		}
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return nil, err
		}
		return &s, nil
	case '{', '[':
		return nil, errors.New("cannot deserialize value of type `java.lang.String` from " + map[byte]string{'{': "Object", '[': "Array"}[t[0]] + " value")
	default:
		var v any
		if err := json.Unmarshal(t, &v); err != nil {
			return nil, err
		}
		s := string(t)
		return &s, nil
	}
}

func pmJacksonBool(raw json.RawMessage) (bool, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return false, err
	}
	switch x := v.(type) {
	case nil:
		return false, nil
	case bool:
		return x, nil
	case float64:
		return x != 0, nil
	case string:
		switch strings.TrimSpace(x) {
		case "true", "True", "TRUE":
			return true, nil
		case "false", "False", "FALSE", "":
			return false, nil
		}
	}
	return false, errors.New("cannot deserialize value of type `boolean`")
}

// pmStringMap binds Map<String,String> from a valid JSON value; present
// reports a non-null map.
func pmStringMap(raw json.RawMessage) (map[string]*string, bool, error) {
	if raw == nil || pmIsNull(raw) {
		return nil, false, nil
	}
	m, err := pmObject(raw, true)
	if err != nil {
		return nil, false, fmt.Errorf("expected an object of strings: %w", err)
	}
	out := make(map[string]*string, len(m))
	for k, v := range m {
		s, err := pmJacksonString(v)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = s
	}
	return out, true, nil
}

func pmDecodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawURLEncoding.DecodeString(s)
}

// pmParseJavaDouble is Double.valueOf: surrounding whitespace trimmed, an
// optional d/D/f/F suffix, NaN and Infinity spelled Java's way.
func pmParseJavaDouble(s string) (float64, error) {
	t := strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
	switch t {
	case "NaN", "+NaN", "-NaN":
		return math.NaN(), nil
	case "Infinity", "+Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	if n := len(t); n > 0 && strings.IndexByte("dDfF", t[n-1]) >= 0 {
		t = t[:n-1]
	}
	if t == "" || strings.ContainsAny(t, "_nNiI") {
		return 0, fmt.Errorf("for input string: %q", s)
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		return 0, fmt.Errorf("for input string: %q", s)
	}
	return f, nil
}

// pmJavaDoubleString is Double.toString: plain decimal with at least one
// fraction digit for 1e-3 <= |d| < 1e7, else d.dddE±n.
func pmJavaDoubleString(d float64) string {
	switch {
	case math.IsNaN(d):
		return "NaN"
	case math.IsInf(d, 1):
		return "Infinity"
	case math.IsInf(d, -1):
		return "-Infinity"
	case d == 0:
		if math.Signbit(d) {
			return "-0.0"
		}
		return "0.0"
	}
	if a := math.Abs(d); a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(d, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(d, 'E', -1, 64)
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

func pmRandomB64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func pmHashB64() string {
	b := make([]byte, 64)
	_, _ = rand.Read(b)
	h := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(h[:])
}

func pmDeref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func pmSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func pmHasAnyRole(c Caller, roles []string) bool {
	for _, r := range roles {
		if c.HasRole(r) {
			return true
		}
	}
	return false
}

// pmForbidden is the auth adapter's answer to a token without the
// endpoint's role.
func pmForbidden(w http.ResponseWriter) {
	pmWriteJSON(w, http.StatusForbidden, map[string]any{
		"id": nil, "version": nil, "responsetime": time.Now().UTC().Format(pmTimeFormat), "metadata": nil,
		"response": nil, "errors": []map[string]string{{"errorCode": "KER-ATH-403", "message": "Forbidden"}},
	})
}

// pmAdviceError is PacketServiceControllerAdvice: HTTP 200, a bare
// ResponseWrapper (no id, no version) carrying the exception's code.
func pmAdviceError(w http.ResponseWriter, code, message string) {
	pmWriteJSON(w, http.StatusOK, map[string]any{
		"id": nil, "version": nil, "responsetime": time.Now().UTC().Format(pmTimeFormat), "metadata": nil,
		"response": nil, "errors": []map[string]string{{"errorCode": code, "message": message}},
	})
}

// pmSpringError is Spring Boot's default error body, what a request the
// controller never sees (unreadable body, wrong media type) or an exception
// no advice handles gets.
func pmSpringError(w http.ResponseWriter, r *http.Request, status int) {
	pmWriteJSON(w, status, map[string]any{
		"timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000-07:00"),
		"status":    status, "error": http.StatusText(status), "path": r.URL.Path,
	})
}

func pmWriteJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (p *Packet) clone() Packet {
	c := *p
	c.Fields = make(map[string]string, len(p.Fields))
	for k, v := range p.Fields {
		c.Fields[k] = v
	}
	c.Values, _ = pmDeepCopy(p.Values).(map[string]any)
	c.MetaInfo, _ = pmDeepCopy(p.MetaInfo).(map[string]any)
	c.Audits = make([]map[string]string, len(p.Audits))
	for i, a := range p.Audits {
		m := make(map[string]string, len(a))
		for k, v := range a {
			m[k] = v
		}
		c.Audits[i] = m
	}
	c.Documents = make(map[string]PacketDocument, len(p.Documents))
	for k, v := range p.Documents {
		c.Documents[k] = v
	}
	c.Biometrics = append([]string(nil), p.Biometrics...)
	c.Infos = append([]PacketInfo(nil), p.Infos...)
	return c
}

func pmDeepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = pmDeepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = pmDeepCopy(e)
		}
		return s
	}
	return v
}

var pmISOLocalRe = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$`)

// pmISOLocalDateTime reports whether s is a valid java.time
// ISO_LOCAL_DATE_TIME (seconds and up to nine fraction digits optional).
func pmISOLocalDateTime(s string) bool {
	m := pmISOLocalRe.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	sec := m[6]
	if sec == "" {
		sec = "00"
	}
	_, err := time.Parse("2006-01-02T15:04:05", m[1]+"-"+m[2]+"-"+m[3]+"T"+m[4]+":"+m[5]+":"+sec)
	return err == nil
}
