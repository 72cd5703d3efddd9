// Package mapping turns the requestFields OpenCRVS sends into the string
// fields a MOSIP packet carries — the "field mapping agreed between CRVS and
// MOSIP".
//
// OpenCRVS country configurations send what is convenient for them: a plain
// full name, dates as YYYY-MM-DD, gender as "male", the deceased's national
// id as nationalIdNumber. MOSIP wants what its ID schema declares: a
// simpleType JSON list for names, yyyy/MM/dd dates, the schema's gender
// value, UIN. MOSIP's packet writer silently drops undeclared fields and
// never checks values, so a wrong mapping shows up only days later as a
// record stuck in OpenCRVS. A Mapping makes the conversion explicit and
// configurable, and Map checks every value against the ID schema before
// anything is sent, reporting every problem at once.
//
// DefaultMapping reproduces what today's OpenCRVS country configurations
// need, so they work unchanged; a deployment overrides single rules with a
// JSON document (file or PACKET_FIELD_MAPPING).
package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Event is the kind of OpenCRVS event a packet is built for. The mapping
// is keyed by event rather than by MOSIP process name because deployments
// rename processes (CRVS_NEW, OPENCRVS_NEW, ...) while the shape of what
// OpenCRVS sends follows the event.
type Event string

// The events OpenCRVS sends to the bridge.
const (
	// Birth is a birth registration (MOSIP process CRVS_NEW by default).
	Birth Event = "birth"
	// Death is a death registration (CRVS_DEATH by default).
	Death Event = "death"
	// Correction is a biographic correction (CRVS_UPDATE by default).
	Correction Event = "correction"
)

// Events lists the known events.
var Events = []Event{Birth, Death, Correction}

func knownEvent(e Event) bool {
	for _, k := range Events {
		if k == e {
			return true
		}
	}
	return false
}

// Kind says how a rule turns an OpenCRVS value into a packet value.
type Kind string

// Rule kinds.
const (
	// KindAuto (empty, or "auto" in JSON) converts by the target field's
	// type in the ID schema: simpleType fields are wrapped in the language,
	// strings are sent as text, numbers, booleans and arrays in their wire
	// form.
	KindAuto Kind = ""
	// KindString sends the value as a plain string.
	KindString Kind = "string"
	// KindSimpleType wraps the value as [{"language":..,"value":..}].
	KindSimpleType Kind = "simpleType"
	// KindDate parses the value with the rule's input formats and writes it
	// in the output format (yyyy/MM/dd by default).
	KindDate Kind = "date"
	// KindConstant always sends Value, whatever OpenCRVS sent.
	KindConstant Kind = "constant"
	// KindDrop never sends the field (deathCertificateNumber): a deliberate
	// omission, not reported as dropped.
	KindDrop Kind = "drop"
)

// UnmarshalText accepts "auto" as a spelling of KindAuto.
func (k *Kind) UnmarshalText(b []byte) error {
	s := Kind(b)
	if s == "auto" {
		s = KindAuto
	}
	*k = s
	return nil
}

func (k Kind) valid() bool {
	switch k {
	case KindAuto, KindString, KindSimpleType, KindDate, KindConstant, KindDrop:
		return true
	}
	return false
}

// Rule maps one OpenCRVS requestFields entry to one ID-schema field.
type Rule struct {
	// Target is the ID-schema field name; empty means the same name.
	Target string `json:"target,omitempty"`
	// Kind is the conversion; empty means by the schema's type.
	Kind Kind `json:"kind,omitempty"`
	// Language overrides the mapping's language for simpleType values.
	Language string `json:"language,omitempty"`
	// DateFormats are the accepted input formats of a date rule, in
	// MOSIP/Java notation (yyyy-MM-dd) or RFC3339; empty means the
	// mapping's DateFormats.
	DateFormats []string `json:"dateFormats,omitempty"`
	// OutputFormat is a date rule's output format; empty means the
	// mapping's OutputDateFormat.
	OutputFormat string `json:"outputFormat,omitempty"`
	// Value is what a constant rule sends, already in wire form.
	Value string `json:"value,omitempty"`
	// Values translates values (matched case-insensitively, e.g.
	// "male" → "Male") before conversion; other values pass unchanged.
	Values map[string]string `json:"values,omitempty"`
}

// EventMapping holds the rules of one event.
type EventMapping struct {
	// Fields maps an OpenCRVS requestFields name to its rule. Fields
	// without a rule are sent under their own name, converted by the
	// schema's type. A constant rule's key names the rule only; its Target
	// (or, when empty, the key) is the field it fills.
	Fields map[string]Rule `json:"fields,omitempty"`
	// Required lists ID-schema fields the packet must carry; "a|b" means
	// either. Entries the schema does not declare are ignored, since MOSIP
	// could not store them anyway.
	Required []string `json:"required,omitempty"`
}

// MetaForward forwards one OpenCRVS metaInfo entry into the packet.
type MetaForward struct {
	// Field, when set, fills this requestFields entry with the value (when
	// OpenCRVS did not send it), so it is mapped like any other field.
	Field string `json:"field,omitempty"`
	// FieldEvents limits Field to these events; empty means every event.
	// The informant's token must not be written onto a deceased person's
	// identity, for example.
	FieldEvents []Event `json:"fieldEvents,omitempty"`
	// Label, when set, adds the value to the packet's metaData under this
	// label, where MOSIP can forward it into credential events.
	Label string `json:"label,omitempty"`
}

// Mapping is the complete field mapping of a deployment. Build it with
// DefaultMapping, Parse or LoadEnv; a Mapping is read-only once in use and
// safe for concurrent use.
type Mapping struct {
	// Language is the language code of simpleType values ("eng").
	Language string `json:"language"`
	// DateFormats are the default input formats of date rules.
	DateFormats []string `json:"dateFormats"`
	// OutputDateFormat is the default output format of date rules; MOSIP
	// schemas validate yyyy/MM/dd.
	OutputDateFormat string `json:"outputDateFormat"`
	// Strict refuses fields the ID schema does not declare instead of
	// dropping them with a warning. MOSIP would drop them silently.
	Strict bool `json:"strict"`
	// AllowVIDForDeath accepts a death packet that carries the deceased's
	// VID instead of the UIN. Enable it only when MOSIP runs with
	// registration.processor.vid-support-for-update=true; otherwise MOSIP
	// fails such packets.
	AllowVIDForDeath bool `json:"allowVidForDeath"`
	// VIDField is the ID-schema field that carries a VID ("vid").
	VIDField string `json:"vidField"`
	// Events holds the rules per event.
	Events map[Event]EventMapping `json:"events"`
	// MetaInfo forwards OpenCRVS metaInfo entries, keyed by metaInfo name.
	MetaInfo map[string]MetaForward `json:"metaInfo"`
}

// Names of the ID-schema fields the defaults rely on.
const (
	fieldUIN = "UIN"
	fieldVID = "vid"
)

// DefaultMapping returns the mapping today's OpenCRVS country
// configurations need (opencrvs-farajaland's birth, death and correction
// payloads). Fields without a rule are converted by the schema's type, so
// with the ID schema opencrvs/mosip ships a plain fullName becomes a
// simpleType in the configured language and birthCertificateNumber is kept;
// the rules add what the schema cannot say:
//
//   - every event: dateOfBirth YYYY-MM-DD → yyyy/MM/dd; gender male/female →
//     the schema's value Male/Female;
//   - birth: birthCertificateNumber, fullName, dateOfBirth and gender required;
//   - death: nationalIdNumber → UIN (required); deathCertificateNumber not
//     sent; deathDeclared "yes"; dateOfDeath converted when present;
//     VID → vid (sent, and accepted instead of the UIN, only with
//     AllowVIDForDeath);
//   - correction: VID → vid (vid or UIN required);
//   - metaInfo.informantPsut → introducerInfoToken (birth, correction, when
//     requestFields lacks it) and the metaData label informantPsut.
func DefaultMapping() *Mapping {
	person := func(extra map[string]Rule) map[string]Rule {
		out := map[string]Rule{
			"dateOfBirth": {Kind: KindDate},
			"gender":      {Values: map[string]string{"male": "Male", "female": "Female"}},
		}
		for k, r := range extra {
			out[k] = r
		}
		return out
	}
	return &Mapping{
		Language:         "eng",
		DateFormats:      []string{"yyyy-MM-dd", "yyyy/MM/dd"},
		OutputDateFormat: "yyyy/MM/dd",
		VIDField:         fieldVID,
		Events: map[Event]EventMapping{
			Birth: {
				Fields:   person(nil),
				Required: []string{"birthCertificateNumber", "fullName", "dateOfBirth", "gender"},
			},
			Death: {
				Fields: person(map[string]Rule{
					"deathCertificateNumber": {Kind: KindDrop},
					"nationalIdNumber":       {Target: fieldUIN},
					"VID":                    {Target: fieldVID},
					"deathDeclared":          {Kind: KindConstant, Value: "yes"},
					"dateOfDeath":            {Kind: KindDate},
				}),
				Required: []string{fieldUIN},
			},
			Correction: {
				Fields:   person(map[string]Rule{"VID": {Target: fieldVID}}),
				Required: []string{fieldVID + "|" + fieldUIN},
			},
		},
		MetaInfo: map[string]MetaForward{
			"informantPsut": {Field: "introducerInfoToken", FieldEvents: []Event{Birth, Correction}, Label: "informantPsut"},
		},
	}
}

// Validate checks the mapping itself, independent of any schema, and
// reports every problem, each naming its place in the JSON form.
func (m *Mapping) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if strings.TrimSpace(m.Language) == "" {
		add("language is required")
	}
	if strings.TrimSpace(m.VIDField) == "" {
		add("vidField is required")
	}
	if len(m.DateFormats) == 0 {
		add("dateFormats needs at least one format")
	}
	for i, f := range m.DateFormats {
		if _, err := inputLayout(f); err != nil {
			add("dateFormats[%d]: %v", i, err)
		}
	}
	if _, err := outputLayout(m.OutputDateFormat); err != nil {
		add("outputDateFormat: %v", err)
	}
	for _, ev := range sortedKeys(m.Events) {
		em := m.Events[ev]
		at := "events." + string(ev)
		if !knownEvent(ev) {
			add("%s: unknown event; use birth, death or correction", at)
		}
		for _, name := range sortedKeys(em.Fields) {
			validateRule(em.Fields[name], at+".fields."+name, add)
		}
		for i, req := range em.Required {
			for _, alt := range strings.Split(req, "|") {
				if strings.TrimSpace(alt) == "" {
					add("%s.required[%d]: empty field name in %q", at, i, req)
				}
			}
		}
	}
	for _, key := range sortedKeys(m.MetaInfo) {
		f := m.MetaInfo[key]
		at := "metaInfo." + key
		if f.Field == "" && f.Label == "" {
			add("%s: set field, label or both", at)
		}
		for _, ev := range f.FieldEvents {
			if !knownEvent(ev) {
				add("%s.fieldEvents: unknown event %q", at, ev)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("mapping: %w", errors.Join(errs...))
	}
	return nil
}

func validateRule(r Rule, at string, add func(string, ...any)) {
	if !r.Kind.valid() {
		add("%s.kind: %q is not one of auto, string, simpleType, date, constant, drop", at, r.Kind)
		return
	}
	if r.Kind == KindConstant && r.Value == "" {
		add("%s.value: a constant rule needs a value", at)
	}
	if r.Kind != KindConstant && r.Value != "" {
		add("%s.value: only constant rules take a value", at)
	}
	if r.Kind != KindDate && (len(r.DateFormats) > 0 || r.OutputFormat != "") {
		add("%s: dateFormats and outputFormat apply to date rules only", at)
	}
	for i, f := range r.DateFormats {
		if _, err := inputLayout(f); err != nil {
			add("%s.dateFormats[%d]: %v", at, i, err)
		}
	}
	if r.OutputFormat != "" {
		if _, err := outputLayout(r.OutputFormat); err != nil {
			add("%s.outputFormat: %v", at, err)
		}
	}
}

// EnvMapping is the variable LoadEnv reads: a path to a mapping JSON file,
// or the JSON itself (starting with "{").
const EnvMapping = "PACKET_FIELD_MAPPING"

// LoadEnv returns the mapping PACKET_FIELD_MAPPING describes (a file path
// or inline JSON, see Parse), or DefaultMapping when it is unset or empty.
func LoadEnv(lookup func(string) (string, bool)) (*Mapping, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, _ := lookup(EnvMapping)
	v = strings.TrimSpace(v)
	if v == "" {
		return DefaultMapping(), nil
	}
	doc := []byte(v)
	if !strings.HasPrefix(v, "{") {
		var err error
		if doc, err = os.ReadFile(v); err != nil {
			return nil, fmt.Errorf("%s: %w", EnvMapping, err)
		}
	}
	m, err := Parse(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvMapping, err)
	}
	return m, nil
}

// document is the JSON form of a mapping. It differs from Mapping only in
// extendDefaults and in pointer booleans, so that an overlay can tell
// "false" from "not given".
type document struct {
	// ExtendDefaults (default true) applies the document on top of
	// DefaultMapping; false starts from an empty mapping.
	ExtendDefaults   *bool                   `json:"extendDefaults"`
	Language         string                  `json:"language"`
	DateFormats      []string                `json:"dateFormats"`
	OutputDateFormat string                  `json:"outputDateFormat"`
	Strict           *bool                   `json:"strict"`
	AllowVIDForDeath *bool                   `json:"allowVidForDeath"`
	VIDField         string                  `json:"vidField"`
	Events           map[Event]EventMapping  `json:"events"`
	MetaInfo         map[string]*MetaForward `json:"metaInfo"`
}

// Parse reads a mapping document. By default it is an overlay on
// DefaultMapping: scalar settings replace the defaults, each rule replaces
// the default rule of the same event and field, a required list replaces
// the event's list, and a metaInfo entry set to null removes a default
// forward. With "extendDefaults": false the document is the whole mapping.
// Unknown keys are refused, so a misspelt setting cannot be ignored.
//
// Example: send gender as MOSIP's codes and refuse unknown fields:
//
//	{"strict": true,
//	 "events": {"birth": {"fields": {"gender": {"kind": "simpleType", "values": {"male": "MLE", "female": "FLE"}}}}}}
func Parse(doc []byte) (*Mapping, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	var d document
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("mapping: %w", err)
	}
	if dec.More() {
		return nil, errors.New("mapping: trailing data after the mapping object")
	}
	m := &Mapping{Events: map[Event]EventMapping{}, MetaInfo: map[string]MetaForward{}}
	if d.ExtendDefaults == nil || *d.ExtendDefaults {
		m = DefaultMapping()
	}
	if d.Language != "" {
		m.Language = d.Language
	}
	if d.DateFormats != nil {
		m.DateFormats = d.DateFormats
	}
	if d.OutputDateFormat != "" {
		m.OutputDateFormat = d.OutputDateFormat
	}
	if d.Strict != nil {
		m.Strict = *d.Strict
	}
	if d.AllowVIDForDeath != nil {
		m.AllowVIDForDeath = *d.AllowVIDForDeath
	}
	if d.VIDField != "" {
		m.VIDField = d.VIDField
	}
	for ev, em := range d.Events {
		cur := m.Events[ev]
		if cur.Fields == nil {
			cur.Fields = map[string]Rule{}
		}
		for name, r := range em.Fields {
			cur.Fields[name] = r
		}
		if em.Required != nil {
			cur.Required = em.Required
		}
		m.Events[ev] = cur
	}
	for key, f := range d.MetaInfo {
		if f == nil {
			delete(m.MetaInfo, key)
			continue
		}
		m.MetaInfo[key] = *f
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// sortedKeys returns the keys in order, nil for an empty map.
func sortedKeys[K ~string, V any](m map[K]V) []K {
	if len(m) == 0 {
		return nil
	}
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}
