package mosip

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// id-schema.json is the MOSIP ID schema opencrvs/mosip's mosip-api ships
// for CRVS packets (fullName as simpleType, dateOfBirth as yyyy/MM/dd,
// UIN, deathDeclared, dateOfDeath, ...): the sandbox's "master data"
// schema and the default schemaJson of createPacket.
//
//go:embed data/id-schema.json
var idsDefaultSchemaJSON []byte

// DefaultIDSchema returns a copy of the embedded ID schema document.
func DefaultIDSchema() []byte { return bytes.Clone(idsDefaultSchemaJSON) }

// Definition references the packet writer switches on: a field whose $ref
// is one of these goes to the packet's documents or biometrics, anything
// else is demographic.
const (
	IDSchemaDocumentType   = "#/definitions/documentType"
	IDSchemaBiometricsType = "#/definitions/biometricsType"
)

// idsCategorySubPackets is the writer's fieldCategory → sub-packet table;
// a category missing from it makes MOSIP's writer fail (it dereferences the
// missing entry), so ParseIDSchema rejects it too.
var idsCategorySubPackets = map[string][]string{
	"pvt":      {"id"},
	"kyc":      {"id"},
	"none":     {"id", "evidence", "optional"},
	"evidence": {"evidence"},
	"optional": {"optional"},
}

// idsSubPacketOrder is the order MOSIP's writer visits (and answers) the
// sub-packets in: it iterates a java.util.HashMap keyed by the sub-packet
// names, whose bucket order for these three strings is evidence (4),
// optional (10), id (11).
var idsSubPacketOrder = []string{"evidence", "optional", "id"}

// IDSchema is a MOSIP ID schema read the way the packet writer reads
// schemaJson (properties.identity.properties), plus a JSON-schema validator
// for the value subset MOSIP schemas use, so the sandbox can do the ID-object
// validation real registration processing does.
//
// An IDSchema does not change once parsed (it only remembers the patterns
// it compiled) and is safe for concurrent use, so one parsed document
// serves every packet written with it.
type IDSchema struct {
	root     map[string]any
	fields   map[string]*IDSchemaField
	names    []string
	required []string
	warnings []string
	subs     []string
	// patterns holds the compiled "pattern" keywords met while validating
	// (pattern string → *idsRegex, or nil when Go cannot compile it).
	patterns sync.Map
}

// IDSchemaField is one identity property of an ID schema.
type IDSchemaField struct {
	Name string
	// Category is the lower-cased fieldCategory ("none" when absent).
	Category string
	// Type is the $ref when present, else the type keyword: what the writer
	// uses to tell documents and biometrics from demographic fields.
	Type string
	// SubPackets are the sub-packets the field is written to.
	SubPackets []string
	// Handle marks fields declared as handles (e.g. birthCertificateNumber).
	Handle bool

	node       map[string]any
	validators []*idsRegex
}

// IsDocument reports whether the writer treats the field as a document.
func (f *IDSchemaField) IsDocument() bool { return f.Type == IDSchemaDocumentType }

// IsBiometric reports whether the writer treats the field as biometrics.
func (f *IDSchemaField) IsBiometric() bool { return f.Type == IDSchemaBiometricsType }

// ParseIDSchema reads an ID schema document. It fails where MOSIP's packet
// writer fails to load schemaJson: not a JSON object, no
// properties.identity.properties object, a field that is not an object, a
// fieldCategory outside pvt/kyc/none/evidence/optional, or a field with
// neither a string $ref nor a string type.
func ParseIDSchema(doc []byte) (*IDSchema, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("schema is not a JSON object: %w", err)
	}
	if root == nil {
		return nil, errors.New("schema is null")
	}
	props, ok := root["properties"].(map[string]any)
	if !ok {
		return nil, errors.New(`JSONObject["properties"] not found`)
	}
	identity, ok := props["identity"].(map[string]any)
	if !ok {
		return nil, errors.New(`JSONObject["identity"] not found`)
	}
	fieldProps, ok := identity["properties"].(map[string]any)
	if !ok {
		return nil, errors.New(`JSONObject["properties"] of identity not found`)
	}
	s := &IDSchema{root: root, fields: map[string]*IDSchemaField{}}
	if req, ok := identity["required"].([]any); ok {
		for _, r := range req {
			if name, ok := r.(string); ok {
				s.required = append(s.required, name)
			}
		}
	}
	for name, raw := range fieldProps {
		node, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("JSONObject[%q] is not a JSONObject", name)
		}
		f := &IDSchemaField{Name: name, Category: "none", node: node}
		if c, present := node["fieldCategory"]; present {
			cs, ok := c.(string)
			if !ok {
				return nil, fmt.Errorf("field %s: fieldCategory is not a string", name)
			}
			f.Category = strings.ToLower(cs)
		}
		sub, ok := idsCategorySubPackets[f.Category]
		if !ok {
			return nil, fmt.Errorf("field %s: fieldCategory %q maps to no sub-packet", name, f.Category)
		}
		f.SubPackets = sub
		if ref, present := node["$ref"]; present {
			if f.Type, ok = ref.(string); !ok {
				return nil, fmt.Errorf("field %s: $ref is not a string", name)
			}
		} else if f.Type, ok = node["type"].(string); !ok {
			return nil, fmt.Errorf("field %s: JSONObject[\"type\"] is not a string", name)
		}
		f.Handle, _ = node["handle"].(bool)
		if vs, ok := node["validators"].([]any); ok {
			for _, v := range vs {
				vm, _ := v.(map[string]any)
				if t, _ := vm["type"].(string); t != "regex" {
					continue
				}
				p, _ := vm["validator"].(string)
				re, err := idsCompileJavaRegex(p, true)
				if err != nil {
					s.warnings = append(s.warnings, fmt.Sprintf("field %s: validator %q not usable in Go and ignored: %v", name, p, err))
					continue
				}
				f.validators = append(f.validators, re)
			}
		}
		s.fields[name] = f
		s.names = append(s.names, name)
	}
	sort.Strings(s.names)
	s.subs = s.subPackets()
	return s, nil
}

// Field returns the identity property name.
func (s *IDSchema) Field(name string) (*IDSchemaField, bool) {
	f, ok := s.fields[name]
	return f, ok
}

// Fields returns the identity property names, sorted.
func (s *IDSchema) Fields() []string { return append([]string(nil), s.names...) }

// Required returns the identity object's required list (possibly empty).
func (s *IDSchema) Required() []string { return append([]string(nil), s.required...) }

// Warnings lists validators that could not be translated to Go regular
// expressions and are therefore not enforced.
func (s *IDSchema) Warnings() []string { return append([]string(nil), s.warnings...) }

// SubPackets returns the sub-packets this schema's fields go to, in the
// order MOSIP's writer creates and reports them.
func (s *IDSchema) SubPackets() []string { return append([]string(nil), s.subs...) }

func (s *IDSchema) subPackets() []string {
	used := map[string]bool{}
	for _, f := range s.fields {
		for _, p := range f.SubPackets {
			used[p] = true
		}
	}
	var out []string
	for _, p := range idsSubPacketOrder {
		if used[p] {
			out = append(out, p)
		}
	}
	return out
}

// ValidateValue checks a stored field value (a string, or the structured
// JSON the packet writer's tokenizer produced: map[string]any, []any,
// json.Number) against the field's JSON schema and its regex validators
// (for simpleType values the validators apply to every entry's value).
func (s *IDSchema) ValidateValue(name string, v any) error {
	f, ok := s.fields[name]
	if !ok {
		return fmt.Errorf("%s: not an identity property of the schema (additionalProperties is false)", name)
	}
	if err := s.validateNode(f.node, v, name, 0); err != nil {
		return err
	}
	for _, re := range f.validators {
		switch x := v.(type) {
		case string:
			if !re.match(x) {
				return fmt.Errorf("%s: %q does not match validator %s", name, x, re.src)
			}
		case []any:
			for i, item := range x {
				m, _ := item.(map[string]any)
				val, ok := m["value"].(string)
				if ok && !re.match(val) {
					return fmt.Errorf("%s[%d].value: %q does not match validator %s", name, i, val, re.src)
				}
			}
		}
	}
	return nil
}

// idsMaxDepth bounds $ref chasing so a self-referencing schema cannot loop.
const idsMaxDepth = 32

func (s *IDSchema) resolve(ref string) (map[string]any, error) {
	if !strings.HasPrefix(ref, "#") {
		return nil, fmt.Errorf("unsupported non-local $ref %q", ref)
	}
	var cur any = s.root
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#"), "/") {
		if tok == "" {
			continue
		}
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("unresolvable $ref %q", ref)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("unresolvable $ref %q", ref)
		}
	}
	node, ok := cur.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("$ref %q is not a schema object", ref)
	}
	return node, nil
}

// validateNode implements the draft-07 keywords MOSIP ID schemas use.
func (s *IDSchema) validateNode(node map[string]any, v any, path string, depth int) error {
	if depth > idsMaxDepth {
		return fmt.Errorf("%s: schema nesting too deep", path)
	}
	if ref, ok := node["$ref"].(string); ok {
		target, err := s.resolve(ref)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		// draft-07 ignores siblings of $ref.
		return s.validateNode(target, v, path, depth+1)
	}
	if t, present := node["type"]; present {
		if err := idsCheckType(t, v, path); err != nil {
			return err
		}
	}
	if enum, ok := node["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if idsEqual(e, v) {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("%s: value not in enum", path)
		}
	}
	switch x := v.(type) {
	case string:
		n := utf8.RuneCountInString(x)
		if m, ok := idsNum(node["minLength"]); ok && float64(n) < m {
			return fmt.Errorf("%s: shorter than minLength %v", path, m)
		}
		if m, ok := idsNum(node["maxLength"]); ok && float64(n) > m {
			return fmt.Errorf("%s: longer than maxLength %v", path, m)
		}
		if p, ok := node["pattern"].(string); ok {
			if re := s.pattern(p); re != nil && !re.match(x) {
				return fmt.Errorf("%s: %q does not match pattern %s", path, x, p)
			}
		}
	case json.Number, float64:
		f, _ := idsNum(x)
		if m, ok := idsNum(node["minimum"]); ok && f < m {
			return fmt.Errorf("%s: %v is below minimum %v", path, f, m)
		}
		if m, ok := idsNum(node["maximum"]); ok && f > m {
			return fmt.Errorf("%s: %v is above maximum %v", path, f, m)
		}
	case []any:
		if m, ok := idsNum(node["minItems"]); ok && float64(len(x)) < m {
			return fmt.Errorf("%s: fewer than minItems %v", path, m)
		}
		if m, ok := idsNum(node["maxItems"]); ok && float64(len(x)) > m {
			return fmt.Errorf("%s: more than maxItems %v", path, m)
		}
		if u, _ := node["uniqueItems"].(bool); u {
			seen := map[string]bool{}
			for i, item := range x {
				k, _ := json.Marshal(item)
				if seen[string(k)] {
					return fmt.Errorf("%s[%d]: duplicate item (uniqueItems)", path, i)
				}
				seen[string(k)] = true
			}
		}
		if items, ok := node["items"].(map[string]any); ok {
			for i, item := range x {
				if err := s.validateNode(items, item, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
					return err
				}
			}
		}
	case map[string]any:
		props, _ := node["properties"].(map[string]any)
		if req, ok := node["required"].([]any); ok {
			for _, r := range req {
				if name, ok := r.(string); ok {
					if _, present := x[name]; !present {
						return fmt.Errorf("%s: required property %q missing", path, name)
					}
				}
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if sub, ok := props[k].(map[string]any); ok {
				if err := s.validateNode(sub, x[k], path+"."+k, depth+1); err != nil {
					return err
				}
				continue
			}
			switch ap := node["additionalProperties"].(type) {
			case bool:
				if !ap {
					return fmt.Errorf("%s: property %q not allowed (additionalProperties is false)", path, k)
				}
			case map[string]any:
				if err := s.validateNode(ap, x[k], path+"."+k, depth+1); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// pattern compiles a "pattern" keyword once per schema; nil means Go
// cannot compile it and it is not enforced.
func (s *IDSchema) pattern(p string) *idsRegex {
	if re, ok := s.patterns.Load(p); ok {
		return re.(*idsRegex)
	}
	re, err := idsCompileJavaRegex(p, false)
	if err != nil {
		re = nil
	}
	s.patterns.Store(p, re)
	return re
}

func idsCheckType(t any, v any, path string) error {
	var types []string
	switch x := t.(type) {
	case string:
		types = []string{x}
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok {
				types = append(types, s)
			}
		}
	default:
		return nil
	}
	for _, want := range types {
		if idsIsType(want, v) {
			return nil
		}
	}
	return fmt.Errorf("%s: %s found, %s expected", path, idsTypeName(v), strings.Join(types, " or "))
}

func idsIsType(want string, v any) bool {
	switch want {
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := idsNum(v)
		return ok
	case "integer":
		f, ok := idsNum(v)
		return ok && f == math.Trunc(f)
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "null":
		return v == nil
	}
	return false
}

func idsTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number, float64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// idsNum reads a JSON number (json.Number from UseNumber decoding, or float64).
func idsNum(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	}
	return 0, false
}

func idsEqual(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// idsRegex is a Java regular expression translated to Go's RE2, with a
// leading length lookahead (^(?=.{m,n}$)…, which RE2 lacks and MOSIP
// schemas use for every length-limited name field) turned into a rune
// count check.
type idsRegex struct {
	src      string
	re       *regexp.Regexp
	lenCheck bool
	min, max int // max < 0: unbounded
}

var idsLookahead = regexp.MustCompile(`^\^\(\?=\.\{(\d+)(,(\d*))?\}\$\)`)

// idsCompileJavaRegex compiles a Java pattern; full makes it a whole-string
// match like Java's Pattern.matches, which MOSIP's validators use.
func idsCompileJavaRegex(p string, full bool) (*idsRegex, error) {
	r := &idsRegex{src: p, max: -1}
	rest := p
	if m := idsLookahead.FindStringSubmatch(p); m != nil {
		r.lenCheck = true
		r.min, _ = strconv.Atoi(m[1])
		switch {
		case m[2] == "":
			r.max = r.min
		case m[3] != "":
			r.max, _ = strconv.Atoi(m[3])
		}
		rest = "^" + p[len(m[0]):]
	}
	expr := rest
	if full {
		expr = "^(?:" + rest + ")$"
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	r.re = re
	return r, nil
}

func (r *idsRegex) match(s string) bool {
	if r.lenCheck {
		n := utf8.RuneCountInString(s)
		if n < r.min || (r.max >= 0 && n > r.max) {
			return false
		}
	}
	return r.re.MatchString(s)
}

// idsCacheEntries bounds an idsCache; documents larger than
// idsCacheMaxDoc are parsed every time rather than kept.
const (
	idsCacheEntries = 16
	idsCacheMaxDoc  = 1 << 20
)

// idsCache keeps parsed ID schemas by the bytes they came from (for
// createPacket, the schemaJson string literal as sent, so a hit needs no
// unescaping either), so a client sending the same schemaJson with every
// packet (as CRVS clients do) has it parsed and its validators compiled
// once. Entries are found by
// a hash of the bytes and confirmed by comparing them; the least recently
// used entry makes room for a new one. Documents that fail to parse are not
// kept. It is safe for concurrent use.
type idsCache struct {
	seed    maphash.Seed
	mu      sync.Mutex
	clock   uint64
	entries []idsCacheEntry
}

type idsCacheEntry struct {
	sum    uint64
	key    []byte
	schema *IDSchema
	used   uint64
}

func newIDSCache() *idsCache { return &idsCache{seed: maphash.MakeSeed()} }

// get returns the schema cached for key, or parses it with parse (outside
// the lock) and keeps the result.
func (c *idsCache) get(key []byte, parse func() (*IDSchema, error)) (*IDSchema, error) {
	sum := maphash.Bytes(c.seed, key)
	c.mu.Lock()
	for i := range c.entries {
		if e := &c.entries[i]; e.sum == sum && bytes.Equal(e.key, key) {
			c.clock++
			e.used = c.clock
			s := e.schema
			c.mu.Unlock()
			return s, nil
		}
	}
	c.mu.Unlock()
	s, err := parse()
	if err != nil || len(key) > idsCacheMaxDoc {
		return s, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.entries {
		if e := &c.entries[i]; e.sum == sum && bytes.Equal(e.key, key) {
			return e.schema, nil // parsed meanwhile by another request
		}
	}
	c.clock++
	e := idsCacheEntry{sum: sum, key: bytes.Clone(key), schema: s, used: c.clock}
	if len(c.entries) < idsCacheEntries {
		c.entries = append(c.entries, e)
		return s, nil
	}
	lru := 0
	for i := range c.entries {
		if c.entries[i].used < c.entries[lru].used {
			lru = i
		}
	}
	c.entries[lru] = e
	return s, nil
}

// len is how many schemas are kept.
func (c *idsCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
