// Package idschema reads a MOSIP ID schema — the JSON schema whose
// properties.identity.properties declare every identity field a country's
// MOSIP accepts — and checks packet field values against it before they are
// sent.
//
// MOSIP's packet writer keeps only the fields the schema declares and
// never validates their values; a wrong value surfaces much later, when the
// registration processor's ID-object validation fails the packet and the
// record stalls in OpenCRVS. Checking here turns those failures into an
// immediate, complete list of problems.
//
// Values are checked in their wire form: the string that goes into the
// createPacket fields map (a plain string, or JSON text for simpleType and
// array fields). Problem messages name the field and the rule, never the
// value, because values are personal data.
package idschema

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// default-id-schema.json is the ID schema opencrvs/mosip's mosip-api ships
// for CRVS packets (fullName as simpleType, dateOfBirth as yyyy/MM/dd, UIN,
// deathDeclared, dateOfDeath, introducerInfoToken, ...). It is what the
// TypeScript middleware sends when OpenCRVS sends no schemaJson, so it is
// the default that keeps today's deployments working.
//
//go:embed data/default-id-schema.json
var defaultJSON []byte

// References MOSIP schemas use for their three complex types. The packet
// writer routes fields by comparing $ref with exactly these strings.
const (
	RefSimpleType     = "#/definitions/simpleType"
	RefDocumentType   = "#/definitions/documentType"
	RefBiometricsType = "#/definitions/biometricsType"
)

// Kind is how a field's value is written on the wire.
type Kind int

const (
	// KindString is a plain string sent verbatim.
	KindString Kind = iota + 1
	// KindNumber is a number sent as its decimal text.
	KindNumber
	// KindBoolean is "true" or "false".
	KindBoolean
	// KindSimpleType is a multi-language value sent as JSON text:
	// [{"language":"eng","value":"..."}].
	KindSimpleType
	// KindArray is a JSON array sent as JSON text, e.g. selectedHandles.
	KindArray
	// KindObject is a JSON object sent as JSON text.
	KindObject
	// KindDocument is a documentType field; it travels in the packet's
	// documents, never in fields.
	KindDocument
	// KindBiometrics is a biometricsType field; it travels in the packet's
	// biometrics, never in fields.
	KindBiometrics
)

// String names the kind as schemas and mapping configuration spell it.
func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindNumber:
		return "number"
	case KindBoolean:
		return "boolean"
	case KindSimpleType:
		return "simpleType"
	case KindArray:
		return "array"
	case KindObject:
		return "object"
	case KindDocument:
		return "documentType"
	case KindBiometrics:
		return "biometricsType"
	default:
		return "unknown"
	}
}

// Demographic reports whether values of this kind go into the packet's
// fields map (everything except documents and biometrics).
func (k Kind) Demographic() bool { return k != KindDocument && k != KindBiometrics }

// categories are the fieldCategory values MOSIP's writer maps to
// sub-packets; any other value makes the writer fail on the schema.
var categories = map[string]bool{"pvt": true, "kyc": true, "none": true, "evidence": true, "optional": true}

// Field is one identity property of the schema.
type Field struct {
	// Name is the property name, e.g. "fullName".
	Name string
	// Kind is how the value is written.
	Kind Kind
	// Ref is the $ref, empty when the field declares a type.
	Ref string
	// Category is the lower-cased fieldCategory ("none" when absent); it
	// decides which sub-packet the writer puts the field in.
	Category string
	// Format is the schema's format hint ("none", "kyc", ...), informational.
	Format string
	// Handle marks fields MOSIP may register as handles (birthCertificateNumber).
	Handle bool
	// Required is true when identity.required lists the field.
	Required bool
	// Validators are the field's regex validators that could be enforced.
	Validators []*Validator

	node map[string]any // resolved schema node, for the JSON-schema keywords
}

// Schema is a parsed MOSIP ID schema. It is immutable and safe for
// concurrent use.
type Schema struct {
	compact  string
	fields   map[string]*Field
	names    []string
	required []string
	warnings []string
}

// maxRefDepth bounds $ref chasing so that a self-referencing schema cannot loop.
const maxRefDepth = 16

// Parse reads an ID schema document. It fails, listing every problem,
// where MOSIP's packet writer would fail to use the schema: not a JSON
// object, no properties.identity.properties, a field that is not an object,
// an unknown fieldCategory, or a field with neither a $ref nor a type.
// Validators that cannot be enforced in Go are reported by Warnings, not as
// errors, because MOSIP still enforces them later.
func Parse(doc []byte) (*Schema, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("idschema: not a JSON object: %w", err)
	}
	if dec.More() {
		return nil, errors.New("idschema: trailing data after the schema object")
	}
	if root == nil {
		return nil, errors.New("idschema: schema is null")
	}
	props, _ := root["properties"].(map[string]any)
	identity, _ := props["identity"].(map[string]any)
	fieldProps, ok := identity["properties"].(map[string]any)
	if !ok {
		return nil, errors.New("idschema: properties.identity.properties is missing or not an object")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, doc); err != nil {
		return nil, fmt.Errorf("idschema: %w", err)
	}
	s := &Schema{compact: buf.String(), fields: make(map[string]*Field, len(fieldProps))}
	required := map[string]bool{}
	if list, ok := identity["required"].([]any); ok {
		for _, r := range list {
			if name, ok := r.(string); ok && !required[name] {
				required[name] = true
				s.required = append(s.required, name)
			}
		}
	}
	var problems []error
	for name, raw := range fieldProps {
		f, warnings, err := parseField(root, name, raw)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		f.Required = required[name]
		s.warnings = append(s.warnings, warnings...)
		s.fields[name] = f
		s.names = append(s.names, name)
	}
	if len(problems) > 0 {
		sort.Slice(problems, func(i, j int) bool { return problems[i].Error() < problems[j].Error() })
		return nil, fmt.Errorf("idschema: %w", errors.Join(problems...))
	}
	sort.Strings(s.names)
	sort.Strings(s.warnings)
	return s, nil
}

func parseField(root map[string]any, name string, raw any) (*Field, []string, error) {
	node, ok := raw.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("field %s: not an object", name)
	}
	f := &Field{Name: name, Category: "none"}
	if c, present := node["fieldCategory"]; present {
		cs, ok := c.(string)
		if !ok || !categories[strings.ToLower(cs)] {
			return nil, nil, fmt.Errorf("field %s: fieldCategory must be one of pvt, kyc, none, evidence, optional", name)
		}
		f.Category = strings.ToLower(cs)
	}
	f.Format, _ = node["format"].(string)
	f.Handle, _ = node["handle"].(bool)
	resolved := node
	if ref, present := node["$ref"]; present {
		rs, ok := ref.(string)
		if !ok {
			return nil, nil, fmt.Errorf("field %s: $ref is not a string", name)
		}
		f.Ref = rs
		target, err := resolve(root, rs)
		if err != nil {
			return nil, nil, fmt.Errorf("field %s: %w", name, err)
		}
		resolved = target
	}
	f.node = resolved
	switch f.Ref {
	case RefSimpleType:
		f.Kind = KindSimpleType
	case RefDocumentType:
		f.Kind = KindDocument
	case RefBiometricsType:
		f.Kind = KindBiometrics
	default:
		k, err := kindOf(resolved)
		if err != nil {
			return nil, nil, fmt.Errorf("field %s: %w", name, err)
		}
		f.Kind = k
	}
	var warnings []string
	if list, ok := node["validators"].([]any); ok {
		for i, item := range list {
			vm, _ := item.(map[string]any)
			typ, _ := vm["type"].(string)
			pattern, _ := vm["validator"].(string)
			if !strings.EqualFold(typ, "regex") {
				warnings = append(warnings, fmt.Sprintf("field %s: validator %d has type %q, only regex is enforced", name, i, typ))
				continue
			}
			v, err := CompileValidator(pattern)
			if err != nil {
				warnings = append(warnings, fmt.Sprintf("field %s: validator %q cannot be enforced in Go (%v); MOSIP still applies it", name, pattern, err))
				continue
			}
			f.Validators = append(f.Validators, v)
		}
	}
	return f, warnings, nil
}

// kindOf reads a field's kind from its type keyword. A type list such as
// ["string","null"] counts as its first non-null entry. A definition that
// looks like simpleType (an array of language/value objects) counts as one,
// so schemas that rename the definition still get multi-language values.
func kindOf(node map[string]any) (Kind, error) {
	var typ string
	switch t := node["type"].(type) {
	case string:
		typ = t
	case []any:
		for _, e := range t {
			if s, ok := e.(string); ok && s != "null" {
				typ = s
				break
			}
		}
	}
	switch typ {
	case "string":
		return KindString, nil
	case "number", "integer":
		return KindNumber, nil
	case "boolean":
		return KindBoolean, nil
	case "array":
		if items, ok := node["items"].(map[string]any); ok {
			if p, ok := items["properties"].(map[string]any); ok && p["language"] != nil && p["value"] != nil {
				return KindSimpleType, nil
			}
		}
		return KindArray, nil
	case "object":
		return KindObject, nil
	case "":
		return 0, errors.New("neither $ref nor type is declared")
	default:
		return 0, fmt.Errorf("unsupported type %q", typ)
	}
}

// resolve follows a local JSON pointer ($ref "#/definitions/x"), chasing
// chained references up to maxRefDepth.
func resolve(root map[string]any, ref string) (map[string]any, error) {
	for depth := 0; depth < maxRefDepth; depth++ {
		if !strings.HasPrefix(ref, "#") {
			return nil, fmt.Errorf("$ref %q is not local to the schema", ref)
		}
		var cur any = root
		for _, tok := range strings.Split(strings.TrimPrefix(ref, "#"), "/") {
			if tok == "" {
				continue
			}
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("$ref %q does not resolve", ref)
			}
			if cur, ok = m[tok]; !ok {
				return nil, fmt.Errorf("$ref %q does not resolve", ref)
			}
		}
		node, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q is not a schema object", ref)
		}
		next, chained := node["$ref"].(string)
		if !chained {
			return node, nil
		}
		ref = next
	}
	return nil, fmt.Errorf("$ref %q nests deeper than %d", ref, maxRefDepth)
}

// JSON returns the schema document, compacted, as it goes into the
// createPacket schemaJson string.
func (s *Schema) JSON() string { return s.compact }

// Field returns the identity property called name.
func (s *Schema) Field(name string) (*Field, bool) {
	f, ok := s.fields[name]
	return f, ok
}

// Has reports whether the schema declares the identity property name.
func (s *Schema) Has(name string) bool { _, ok := s.fields[name]; return ok }

// Fields returns the identity property names, sorted.
func (s *Schema) Fields() []string { return append([]string(nil), s.names...) }

// Required returns identity.required in document order.
func (s *Schema) Required() []string { return append([]string(nil), s.required...) }

// Warnings lists validators that are not enforced here (MOSIP still
// enforces them), for a start-up log line.
func (s *Schema) Warnings() []string { return append([]string(nil), s.warnings...) }

// Validate checks one wire value for the field name and returns every
// problem as a message that names the field and the rule, never the value.
// An undeclared field is a problem: MOSIP would drop it.
func (s *Schema) Validate(name, wire string) []string {
	f, ok := s.fields[name]
	if !ok {
		return []string{fmt.Sprintf("%s is not a field of the ID schema", name)}
	}
	return f.Validate(wire)
}

// Validate checks one wire value against the field's type, JSON-schema
// keywords and regex validators. For simpleType values the checks apply to
// every entry's value.
func (f *Field) Validate(wire string) []string {
	switch f.Kind {
	case KindDocument:
		return []string{fmt.Sprintf("%s is a document field; documents cannot be sent as field values", f.Name)}
	case KindBiometrics:
		return []string{fmt.Sprintf("%s is a biometrics field; biometrics cannot be sent as field values", f.Name)}
	case KindSimpleType:
		return f.validateSimpleType(wire)
	case KindNumber:
		n, err := strconv.ParseFloat(strings.TrimSpace(wire), 64)
		if err != nil || math.IsInf(n, 0) || math.IsNaN(n) {
			return []string{fmt.Sprintf("%s must be a number", f.Name)}
		}
		out := checkNumber(f.node, n, f.Name)
		return append(out, f.checkValidators(wire, f.Name)...)
	case KindBoolean:
		if wire != "true" && wire != "false" {
			return []string{fmt.Sprintf("%s must be true or false", f.Name)}
		}
		return nil
	case KindArray:
		var list []any
		if err := json.Unmarshal([]byte(wire), &list); err != nil || list == nil {
			return []string{fmt.Sprintf("%s must be a JSON array", f.Name)}
		}
		if items, ok := f.node["items"].(map[string]any); ok {
			if t, _ := items["type"].(string); t == "string" {
				for i, item := range list {
					if _, ok := item.(string); !ok {
						return []string{fmt.Sprintf("%s[%d] must be a string", f.Name, i)}
					}
				}
			}
		}
		return nil
	case KindObject:
		var obj map[string]any
		if err := json.Unmarshal([]byte(wire), &obj); err != nil || obj == nil {
			return []string{fmt.Sprintf("%s must be a JSON object", f.Name)}
		}
		return nil
	default:
		out := checkString(f.node, wire, f.Name)
		return append(out, f.checkValidators(wire, f.Name)...)
	}
}

// simpleEntry is one language/value pair of a simpleType value.
type simpleEntry struct {
	Language *string `json:"language"`
	Value    *string `json:"value"`
}

func (f *Field) validateSimpleType(wire string) []string {
	var raw []json.RawMessage
	if err := json.Unmarshal([]byte(wire), &raw); err != nil || raw == nil {
		return []string{fmt.Sprintf("%s must be a JSON array of {language, value} objects", f.Name)}
	}
	if len(raw) == 0 {
		return []string{fmt.Sprintf("%s must have at least one language value", f.Name)}
	}
	var out []string
	seen := map[string]bool{}
	for i, item := range raw {
		path := fmt.Sprintf("%s[%d]", f.Name, i)
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(item, &keys); err != nil || keys == nil {
			out = append(out, path+" must be a {language, value} object")
			continue
		}
		var e simpleEntry
		if err := json.Unmarshal(item, &e); err != nil {
			out = append(out, path+" language and value must be strings")
			continue
		}
		for k := range keys {
			if k != "language" && k != "value" {
				out = append(out, fmt.Sprintf("%s has property %q; only language and value are allowed", path, k))
			}
		}
		if e.Language == nil || strings.TrimSpace(*e.Language) == "" {
			out = append(out, path+".language is required")
		} else if seen[*e.Language] {
			out = append(out, fmt.Sprintf("%s.language repeats %q", path, *e.Language))
		} else {
			seen[*e.Language] = true
		}
		if e.Value == nil {
			out = append(out, path+".value is required")
			continue
		}
		out = append(out, f.checkValidators(*e.Value, path+".value")...)
	}
	return out
}

func (f *Field) checkValidators(s, path string) []string {
	var out []string
	for _, v := range f.Validators {
		if !v.Match(s) {
			out = append(out, fmt.Sprintf("%s does not match the schema validator %s", path, v.Pattern))
		}
	}
	return out
}

// checkString applies the JSON-schema string keywords a field may carry
// (minLength, maxLength, pattern, enum).
func checkString(node map[string]any, s, path string) []string {
	var out []string
	n := utf8.RuneCountInString(s)
	if m, ok := number(node["minLength"]); ok && float64(n) < m {
		out = append(out, fmt.Sprintf("%s is shorter than %v characters", path, m))
	}
	if m, ok := number(node["maxLength"]); ok && float64(n) > m {
		out = append(out, fmt.Sprintf("%s is longer than %v characters", path, m))
	}
	if p, ok := node["pattern"].(string); ok {
		// JSON-schema patterns search rather than match the whole string.
		if v, err := compile(p, false); err == nil && !v.Match(s) {
			out = append(out, fmt.Sprintf("%s does not match the schema pattern %s", path, p))
		}
	}
	if enum, ok := node["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if es, ok := e.(string); ok && es == s {
				found = true
				break
			}
		}
		if !found {
			out = append(out, path+" is not one of the values the schema allows")
		}
	}
	return out
}

func checkNumber(node map[string]any, n float64, path string) []string {
	var out []string
	if m, ok := number(node["minimum"]); ok && n < m {
		out = append(out, fmt.Sprintf("%s is below the minimum %v", path, m))
	}
	if m, ok := number(node["maximum"]); ok && n > m {
		out = append(out, fmt.Sprintf("%s is above the maximum %v", path, m))
	}
	if t, _ := node["type"].(string); t == "integer" && n != math.Trunc(n) {
		out = append(out, path+" must be a whole number")
	}
	return out
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	}
	return 0, false
}

// Default returns the built-in schema (the one the TypeScript mosip-api
// ships), parsed once at package initialisation.
func Default() *Schema { return defaultSchema }

// DefaultJSON returns a copy of the built-in schema document.
func DefaultJSON() []byte { return bytes.Clone(defaultJSON) }

var defaultSchema = mustParse(defaultJSON)

func mustParse(doc []byte) *Schema {
	s, err := Parse(doc)
	if err != nil {
		// The embedded document is tested; failing here means a broken build.
		panic(err)
	}
	return s
}

// EnvSchema is the variable LoadEnv reads: a path to the country's ID
// schema file, or the schema itself as inline JSON (starting with "{").
const EnvSchema = "PACKET_ID_SCHEMA"

// LoadEnv returns the schema named by PACKET_ID_SCHEMA (a file path or
// inline JSON) or, when the variable is unset or empty, Default().
func LoadEnv(lookup func(string) (string, bool)) (*Schema, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, _ := lookup(EnvSchema)
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return Default(), nil
	case strings.HasPrefix(v, "{"):
		s, err := Parse([]byte(v))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvSchema, err)
		}
		return s, nil
	default:
		s, err := LoadFile(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvSchema, err)
		}
		return s, nil
	}
}

// LoadFile parses the schema in the file at path.
func LoadFile(path string) (*Schema, error) {
	doc, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("idschema: %w", err)
	}
	return Parse(doc)
}
