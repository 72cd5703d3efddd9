package mosip

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestIDSchemaDefault(t *testing.T) {
	t.Parallel()
	s, err := ParseIDSchema(DefaultIDSchema())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Fields()); n != 52 {
		t.Errorf("%d identity fields, want 52", n)
	}
	if got, want := s.Required(), []string{"IDSchemaVersion", "fullName", "dateOfBirth", "gender", "addressLine1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("required = %v, want %v", got, want)
	}
	if got := s.SubPackets(); !reflect.DeepEqual(got, []string{"evidence", "optional", "id"}) {
		t.Errorf("sub-packets = %v", got)
	}
	if w := s.Warnings(); len(w) != 0 {
		t.Errorf("validators not enforced: %v", w)
	}
	checks := []struct {
		field, typ, category string
		subs                 []string
		doc, bio, handle     bool
	}{
		{"fullName", "#/definitions/simpleType", "pvt", []string{"id"}, false, false, false},
		{"UIN", "string", "none", []string{"id", "evidence", "optional"}, false, false, false},
		{"introducerInfoToken", "#/definitions/simpleType", "evidence", []string{"evidence"}, false, false, false},
		{"proofOfAddress", IDSchemaDocumentType, "pvt", []string{"id"}, true, false, false},
		{"individualBiometrics", IDSchemaBiometricsType, "pvt", []string{"id"}, false, true, false},
		{"birthCertificateNumber", "string", "pvt", []string{"id"}, false, false, true},
	}
	for _, c := range checks {
		f, ok := s.Field(c.field)
		if !ok {
			t.Errorf("%s missing", c.field)
			continue
		}
		if f.Type != c.typ || f.Category != c.category || !reflect.DeepEqual(f.SubPackets, c.subs) ||
			f.IsDocument() != c.doc || f.IsBiometric() != c.bio || f.Handle != c.handle {
			t.Errorf("%s = %+v", c.field, f)
		}
	}
	// DefaultIDSchema hands out copies.
	b := DefaultIDSchema()
	b[0] = 'x'
	if DefaultIDSchema()[0] == 'x' {
		t.Error("DefaultIDSchema returned the embedded slice")
	}
}

func TestIDSchemaValidateValue(t *testing.T) {
	t.Parallel()
	s, err := ParseIDSchema(DefaultIDSchema())
	if err != nil {
		t.Fatal(err)
	}
	tok := func(raw string) any {
		v, ok, why := pmTokenize(raw)
		if !ok {
			t.Fatalf("tokenize %q: %s", raw, why)
		}
		return v
	}
	cases := []struct {
		field string
		value any
		ok    bool
	}{
		{"dateOfBirth", "2025/01/31", true},
		{"dateOfBirth", "2025-01-31", false},
		{"dateOfBirth", "2025/13/01", false},
		{"dateOfBirth", "1868/01/01", false},
		{"dateOfDeath", "2025/02/28", true},
		{"fullName", tok(pmtSimple("Jane Doe")), true},
		{"fullName", tok(pmtSimple("Jo")), false},
		{"fullName", tok(pmtSimple(strings.Repeat("é", 50))), true},
		{"fullName", tok(pmtSimple(strings.Repeat("é", 51))), false},
		{"fullName", "Jane Doe", false},
		{"fullName", tok(`[{"language":"eng","value":"Jane Doe"},{"language":"fra","value":"Jeanne Doe"}]`), true},
		{"fullName", tok(`[{"language":"eng"}]`), false},
		{"fullName", tok(`[{"language":"eng","value":7}]`), false},
		{"fullName", tok(`{"language":"eng","value":"Jane Doe"}`), false},
		{"gender", tok(`[]`), true},
		{"postalCode", "AB123", true},
		{"postalCode", "NA", true},
		{"postalCode", "1234", false},
		{"email", "jane.doe@example.com", true},
		{"email", "jane", false},
		{"phone", "+2601234567890", false},
		{"phone", "+1234567890", true},
		{"deathDeclared", "yes", true},
		{"deathDeclared", "Yes", false},
		{"IDSchemaVersion", json.Number("0.1"), true},
		{"IDSchemaVersion", json.Number("-1"), false},
		{"IDSchemaVersion", "0.1", false},
		{"deceasedStatus", true, true},
		{"deceasedStatus", "true", false},
		{"selectedHandles", tok(`["birthCertificateNumber"]`), true},
		{"selectedHandles", tok(`[1]`), false},
		{"birthCertificateNumber", `"quoted"`, true},
		{"motherName", "x", false},
	}
	for _, c := range cases {
		err := s.ValidateValue(c.field, c.value)
		if (err == nil) != c.ok {
			t.Errorf("ValidateValue(%s, %#v) = %v, want ok=%v", c.field, c.value, err, c.ok)
		}
	}
}

func TestIDSchemaParseErrors(t *testing.T) {
	t.Parallel()
	wrap := func(fields string) string { return `{"properties":{"identity":{"properties":` + fields + `}}}` }
	cases := []struct {
		name, doc string
	}{
		{"not JSON", `{`},
		{"JSON array", `[]`},
		{"null", `null`},
		{"no properties", `{}`},
		{"no identity", `{"properties":{}}`},
		{"identity without properties", `{"properties":{"identity":{}}}`},
		{"field not an object", wrap(`{"a":"string"}`)},
		{"unknown fieldCategory", wrap(`{"a":{"type":"string","fieldCategory":"secret"}}`)},
		{"fieldCategory not a string", wrap(`{"a":{"type":"string","fieldCategory":1}}`)},
		{"no type nor $ref", wrap(`{"a":{"fieldCategory":"pvt"}}`)},
		{"type is a list", wrap(`{"a":{"type":["string","null"]}}`)},
		{"$ref not a string", wrap(`{"a":{"$ref":1}}`)},
	}
	for _, c := range cases {
		if _, err := ParseIDSchema([]byte(c.doc)); err == nil {
			t.Errorf("%s: ParseIDSchema(%s) succeeded", c.name, c.doc)
		}
	}
	s, err := ParseIDSchema([]byte(wrap(`{"a":{"type":"string","fieldCategory":"OPTIONAL"},"b":{"type":"string"}}`)))
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := s.Field("a"); f.Category != "optional" {
		t.Errorf("fieldCategory not lower-cased: %q", f.Category)
	}
	if f, _ := s.Field("b"); f.Category != "none" {
		t.Errorf("missing fieldCategory = %q, want none", f.Category)
	}
}

func TestIDSchemaJavaRegex(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern string
		in      string
		match   bool
	}{
		{`^(?=.{3,50}$).*`, "abc", true},
		{`^(?=.{3,50}$).*`, "ab", false},
		{`^(?=.{0,50}$).*`, "", true},
		{`^(?=.{3}$).*`, "abcd", false},
		{`^(?=.{3,}$).*`, strings.Repeat("a", 500), true},
		{`^(?=.{3,5}$)[a-z]*`, "ab1", false},
		{`^(?=.{1,100}$).*`, "line\nbreak", false},
		{`^[(?i)A-Z0-9]{5}$|^NA$`, "NA", true},
		{`[0-9]+`, "12a", false},
	}
	for _, c := range cases {
		re, err := idsCompileJavaRegex(c.pattern, true)
		if err != nil {
			t.Errorf("%s: %v", c.pattern, err)
			continue
		}
		if got := re.match(c.in); got != c.match {
			t.Errorf("%s matches %q = %v, want %v", c.pattern, c.in, got, c.match)
		}
	}
	s, err := ParseIDSchema([]byte(`{"properties":{"identity":{"properties":{"a":{"type":"string",
		"validators":[{"type":"regex","validator":"^a++$"},{"type":"regex","validator":"^b$"}]}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if w := s.Warnings(); len(w) != 1 || !strings.Contains(w[0], "a++") {
		t.Errorf("warnings = %v, want the possessive validator reported", w)
	}
	if err := s.ValidateValue("a", "c"); err == nil {
		t.Error("the usable validator ^b$ was not enforced")
	}
}

func TestIDSchemaCacheBounded(t *testing.T) {
	t.Parallel()
	c := newIDSCache()
	parses := 0
	get := func(i int) *IDSchema {
		t.Helper()
		doc := []byte(fmt.Sprintf(`{"properties":{"identity":{"properties":{"f%d":{"type":"string"}}}}}`, i))
		s, err := c.get(doc, func() (*IDSchema, error) { parses++; return ParseIDSchema(doc) })
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := s.Field(fmt.Sprintf("f%d", i)); !ok {
			t.Fatalf("schema %d answered with fields %v", i, s.Fields())
		}
		return s
	}
	for i := range idsCacheEntries {
		get(i)
	}
	get(0) // most recently used
	if parses != idsCacheEntries {
		t.Fatalf("%d parses for %d documents and a repeat", parses, idsCacheEntries)
	}
	get(idsCacheEntries) // evicts the least recently used: 1
	if n := c.len(); n != idsCacheEntries {
		t.Errorf("%d entries, bound %d", n, idsCacheEntries)
	}
	parses = 0
	get(0)
	if parses != 0 {
		t.Error("the most recently used schema was evicted")
	}
	get(1)
	if parses != 1 {
		t.Error("the least recently used schema was not the one evicted")
	}
}

// Patterns are compiled once per schema and applied like before.
func TestIDSchemaPattern(t *testing.T) {
	t.Parallel()
	s, err := ParseIDSchema([]byte(`{"properties":{"identity":{"properties":{
		"code":{"type":"string","pattern":"^[A-Z]{2}[0-9]+$"},
		"loose":{"type":"string","pattern":"(?<=x)y"}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.ValidateValue("code", "AB12"); err != nil {
			t.Errorf("AB12: %v", err)
		}
		if err := s.ValidateValue("code", "ab12"); err == nil {
			t.Error("ab12 matched ^[A-Z]{2}[0-9]+$")
		}
		// Go cannot compile a lookbehind: not enforced, as before.
		if err := s.ValidateValue("loose", "anything"); err != nil {
			t.Errorf("uncompilable pattern enforced: %v", err)
		}
	}
}
