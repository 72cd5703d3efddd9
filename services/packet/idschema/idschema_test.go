package idschema

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDefaultSchema(t *testing.T) {
	t.Parallel()
	s := Default()
	if got := len(s.Fields()); got != 52 {
		t.Errorf("len(Fields()) = %d, want 52", got)
	}
	if w := s.Warnings(); len(w) != 0 {
		t.Errorf("Warnings() = %q, want none: every validator of the default schema must be enforced", w)
	}
	if got, want := s.Required(), []string{"IDSchemaVersion", "fullName", "dateOfBirth", "gender", "addressLine1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Required() = %q, want %q", got, want)
	}
	tests := []struct {
		name     string
		kind     Kind
		category string
		handle   bool
		required bool
		nvalid   int
	}{
		{"fullName", KindSimpleType, "pvt", false, true, 1},
		{"gender", KindSimpleType, "pvt", false, true, 0},
		{"dateOfBirth", KindString, "pvt", false, true, 1},
		{"UIN", KindString, "none", false, false, 0},
		{"vid", KindString, "none", false, false, 0},
		{"birthCertificateNumber", KindString, "pvt", true, false, 0},
		{"IDSchemaVersion", KindNumber, "none", false, true, 0},
		{"deceasedStatus", KindBoolean, "kyc", false, false, 0},
		{"selectedHandles", KindArray, "none", false, false, 0},
		{"proofOfAddress", KindDocument, "pvt", false, false, 0},
		{"individualBiometrics", KindBiometrics, "pvt", false, false, 0},
		{"introducerInfoToken", KindSimpleType, "evidence", false, false, 0},
		{"deathDeclared", KindString, "pvt", false, false, 1},
	}
	for _, tt := range tests {
		f, ok := s.Field(tt.name)
		if !ok {
			t.Errorf("Field(%q) missing", tt.name)
			continue
		}
		if f.Kind != tt.kind || f.Category != tt.category || f.Handle != tt.handle || f.Required != tt.required || len(f.Validators) != tt.nvalid {
			t.Errorf("Field(%q) = kind %v category %q handle %v required %v validators %d, want %v %q %v %v %d",
				tt.name, f.Kind, f.Category, f.Handle, f.Required, len(f.Validators), tt.kind, tt.category, tt.handle, tt.required, tt.nvalid)
		}
	}
	if s.Has("VID") || !s.Has("vid") {
		t.Errorf("Has: the default schema declares vid (lower case) and not VID")
	}
}

func TestSchemaJSONIsCompactDocument(t *testing.T) {
	t.Parallel()
	var want bytes.Buffer
	if err := json.Compact(&want, DefaultJSON()); err != nil {
		t.Fatal(err)
	}
	if got := Default().JSON(); got != want.String() {
		t.Errorf("JSON() differs from the compacted document")
	}
	again, err := Parse([]byte(Default().JSON()))
	if err != nil {
		t.Fatalf("Parse(JSON()) = %v", err)
	}
	if !reflect.DeepEqual(again.Fields(), Default().Fields()) {
		t.Errorf("Parse(JSON()).Fields() differs")
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		want []string // substrings, all of which must appear
	}{
		{"not JSON", `{"a":`, []string{"not a JSON object"}},
		{"array", `[1]`, []string{"not a JSON object"}},
		{"null", `null`, []string{"schema is null"}},
		{"trailing", `{"properties":{"identity":{"properties":{}}}} {}`, []string{"trailing data"}},
		{"no identity", `{"properties":{}}`, []string{"properties.identity.properties"}},
		{"every field problem at once", `{"properties":{"identity":{"properties":{
			"a":{"fieldCategory":"secret","type":"string"},
			"b":{"fieldCategory":"pvt"},
			"c":"x",
			"d":{"$ref":"#/definitions/nowhere"},
			"e":{"type":"string"}}}}}`,
			[]string{"field a: fieldCategory", "field b: neither $ref nor type", "field c: not an object", `field d: $ref "#/definitions/nowhere" does not resolve`}},
		{"remote ref", `{"properties":{"identity":{"properties":{"a":{"$ref":"http://x/y"}}}}}`, []string{"not local"}},
		{"ref loop", `{"definitions":{"x":{"$ref":"#/definitions/y"},"y":{"$ref":"#/definitions/x"}},
			"properties":{"identity":{"properties":{"a":{"$ref":"#/definitions/x"}}}}}`, []string{"nests deeper"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse() = nil error, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse() error = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestParseKinds(t *testing.T) {
	t.Parallel()
	doc := `{
	  "definitions": {
	    "langValue": {"type":"array","items":{"type":"object","properties":{"language":{"type":"string"},"value":{"type":"string"}}}},
	    "alias": {"$ref":"#/definitions/langValue"}
	  },
	  "properties":{"identity":{"properties":{
	    "name": {"$ref":"#/definitions/alias"},
	    "age": {"type":"integer","minimum":0,"maximum":150},
	    "nick": {"type":["string","null"],"minLength":2,"maxLength":4},
	    "code": {"type":"string","enum":["A","B"]},
	    "ref": {"type":"string","pattern":"[0-9]{3}"},
	    "obj": {"type":"object","fieldCategory":"OPTIONAL"}
	  }}}}`
	s, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Kind{"name": KindSimpleType, "age": KindNumber, "nick": KindString, "code": KindString, "ref": KindString, "obj": KindObject}
	for name, kind := range want {
		if f, _ := s.Field(name); f.Kind != kind {
			t.Errorf("Field(%q).Kind = %v, want %v", name, f.Kind, kind)
		}
	}
	if f, _ := s.Field("obj"); f.Category != "optional" {
		t.Errorf("obj category = %q, want optional (lower-cased)", f.Category)
	}
	checks := []struct {
		field, wire string
		ok          bool
	}{
		{"name", `[{"language":"eng","value":"x"}]`, true},
		{"age", "7", true},
		{"age", "7.5", false},
		{"age", "-1", false},
		{"age", "151", false},
		{"age", "seven", false},
		{"nick", "abc", true},
		{"nick", "a", false},
		{"nick", "abcde", false},
		{"code", "A", true},
		{"code", "C", false},
		{"ref", "ab123cd", true}, // JSON-schema pattern searches
		{"ref", "ab12", false},
		{"obj", `{"a":1}`, true},
		{"obj", `[1]`, false},
	}
	for _, c := range checks {
		got := s.Validate(c.field, c.wire)
		if (len(got) == 0) != c.ok {
			t.Errorf("Validate(%q, %q) = %q, want ok=%v", c.field, c.wire, got, c.ok)
		}
	}
}

func TestValidateDefaultSchema(t *testing.T) {
	t.Parallel()
	s := Default()
	tests := []struct {
		field, wire string
		want        []string // expected messages, exactly
	}{
		{"fullName", `[{"language":"eng","value":"Jane Doe"}]`, nil},
		{"fullName", `[{"language":"eng","value":"Jane Doe"},{"language":"fra","value":"Jeanne Doe"}]`, nil},
		{"fullName", `Jane Doe`, []string{"fullName must be a JSON array of {language, value} objects"}},
		{"fullName", `[]`, []string{"fullName must have at least one language value"}},
		{"fullName", `[{"language":"eng","value":"Jo"}]`, []string{"fullName[0].value does not match the schema validator ^(?=.{3,50}$).*"}},
		{"fullName", `[{"value":"Jane"},{"language":"eng","value":"Jane","extra":"x"},{"language":"eng","value":"Jane"},3,{"language":"fra"}]`, []string{
			"fullName[0].language is required",
			`fullName[1] has property "extra"; only language and value are allowed`,
			`fullName[2].language repeats "eng"`,
			"fullName[3] must be a {language, value} object",
			"fullName[4].value is required",
		}},
		{"fullName", `[{"language":1,"value":"Jane"}]`, []string{"fullName[0] language and value must be strings"}},
		{"dateOfBirth", "2025/01/31", nil},
		{"dateOfBirth", "2025-01-31", []string{"dateOfBirth does not match the schema validator ^(1869|18[7-9][0-9]|19[0-9][0-9]|20[0-9][0-9])/([0][1-9]|1[0-2])/([0][1-9]|[1-2][0-9]|3[01])$"}},
		{"deathDeclared", "yes", nil},
		{"deathDeclared", "Yes", []string{"deathDeclared does not match the schema validator ^(yes|no)$"}},
		{"deathDeclared", "yes\n", []string{"deathDeclared does not match the schema validator ^(yes|no)$"}},
		{"postalCode", "AB12C", nil},
		{"postalCode", "NA", nil},
		{"postalCode", "AB12", []string{"postalCode does not match the schema validator ^[(?i)A-Z0-9]{5}$|^NA$"}},
		{"email", "jane.doe@example.com", nil},
		{"phone", "+1234567890", nil},
		{"phone", "12345", []string{`phone does not match the schema validator ^[+]*([0-9]{1})([0-9]{9})$`}},
		{"IDSchemaVersion", "0.1", nil},
		{"IDSchemaVersion", "-1", []string{"IDSchemaVersion is below the minimum 0"}},
		{"IDSchemaVersion", "NaN", []string{"IDSchemaVersion must be a number"}},
		{"deceasedStatus", "true", nil},
		{"deceasedStatus", "yes", []string{"deceasedStatus must be true or false"}},
		{"selectedHandles", `["birthCertificateNumber"]`, nil},
		{"selectedHandles", `"birthCertificateNumber"`, []string{"selectedHandles must be a JSON array"}},
		{"selectedHandles", `[1]`, []string{"selectedHandles[0] must be a string"}},
		{"proofOfAddress", `{}`, []string{"proofOfAddress is a document field; documents cannot be sent as field values"}},
		{"individualBiometrics", `{}`, []string{"individualBiometrics is a biometrics field; biometrics cannot be sent as field values"}},
		{"nickname", "x", []string{"nickname is not a field of the ID schema"}},
		{"addressLine2", `[{"language":"eng","value":"ab"},{"language":"fra","value":"abc"}]`, []string{"addressLine2[0].value does not match the schema validator ^(?=.{3,50}$).*"}},
	}
	for _, tt := range tests {
		got := s.Validate(tt.field, tt.wire)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Validate(%q, %q) = %q, want %q", tt.field, tt.wire, got, tt.want)
		}
	}
}

func TestValidateNeverQuotesTheValue(t *testing.T) {
	t.Parallel()
	const secret = "Zq7Secret-Value-Xy"
	s := Default()
	wires := []string{secret, `[{"language":"eng","value":"` + secret + `"}]`, `[{"language":"` + secret + `"}]`, `["` + secret + `"]`}
	for _, name := range s.Fields() {
		for _, w := range wires {
			for _, msg := range s.Validate(name, w) {
				if strings.Contains(msg, "Zq7Secret") {
					t.Errorf("Validate(%q, ...) message %q contains the value", name, msg)
				}
			}
		}
	}
}

func TestValidators(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern string
		match   []string
		noMatch []string
	}{
		{`^(?=.{3,50}$).*`, []string{"abc", "Ünïcödé", strings.Repeat("x", 50)}, []string{"ab", strings.Repeat("x", 51), "ab\ncd"}},
		{`^(?=.{0,50}$).*`, []string{"", "x"}, []string{strings.Repeat("x", 51)}},
		{`(?=.{2}$)^[a-z]+$`, []string{"ab"}, []string{"a", "abc", "A1"}},
		{`^(?=.{2,}$)[0-9]+`, []string{"12", "123456"}, []string{"1", "12a"}},
		{`^\p{Alpha}+$`, []string{"abcXYZ"}, []string{"abc1", "é"}},
		{`^[\p{Alpha} ]+$`, []string{"ab cd"}, []string{"ab-cd"}},
		{`^\P{Digit}+$`, []string{"abc"}, []string{"a1"}},
		{`^\p{IsLatin}+$`, []string{"Ünïcödé"}, []string{"Ωμέγα"}},
		{`^\p{L}[\p{L} .'-]*$`, []string{"Jean-Luc O'Neil"}, []string{"1abc"}},
		{`^\Q[a]\E[0-9]$`, []string{"[a]1"}, []string{"a1"}},
		{`[0-9]{3}`, []string{"123"}, []string{"a123", "1234"}}, // whole-value match
		{`^(yes|no)$`, []string{"yes", "no"}, []string{"yesno", "YES"}},
	}
	for _, tt := range tests {
		v, err := CompileValidator(tt.pattern)
		if err != nil {
			t.Errorf("CompileValidator(%q) = %v", tt.pattern, err)
			continue
		}
		for _, s := range tt.match {
			if !v.Match(s) {
				t.Errorf("CompileValidator(%q).Match(%q) = false, want true", tt.pattern, s)
			}
		}
		for _, s := range tt.noMatch {
			if v.Match(s) {
				t.Errorf("CompileValidator(%q).Match(%q) = true, want false", tt.pattern, s)
			}
		}
	}
	for _, bad := range []string{`^(?!x).*`, `^(a)\1$`, `[a-z&&[^e]]`, `\p{Alpha`, `a*+`} {
		if _, err := CompileValidator(bad); err == nil {
			t.Errorf("CompileValidator(%q) = nil error, want an error (not expressible in RE2)", bad)
		}
	}
}

func TestUnenforceableValidatorIsAWarning(t *testing.T) {
	t.Parallel()
	doc := `{"properties":{"identity":{"properties":{
	  "a":{"type":"string","validators":[{"type":"regex","validator":"^(?!x).*$"},{"type":"regex","validator":"^[a-z]+$"}]},
	  "b":{"type":"string","validators":[{"type":"length","validator":"5"}]}}}}}`
	s, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	w := s.Warnings()
	if len(w) != 2 || !strings.Contains(w[0], "field a") || !strings.Contains(w[1], `field b: validator 0 has type "length"`) {
		t.Errorf("Warnings() = %q, want one for a's lookahead and one for b's length validator", w)
	}
	if got := s.Validate("a", "ABC"); len(got) != 1 {
		t.Errorf("Validate(a, ABC) = %q, want the enforceable validator to fail", got)
	}
}

func TestLoadEnv(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	small := `{"properties":{"identity":{"properties":{"UIN":{"type":"string"}}}}}`
	file := filepath.Join(dir, "schema.json")
	if err := os.WriteFile(file, []byte(small), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		fields  int
		wantErr string
	}{
		{"unset", nil, 52, ""},
		{"empty", map[string]string{EnvSchema: "  "}, 52, ""},
		{"inline", map[string]string{EnvSchema: small}, 1, ""},
		{"file", map[string]string{EnvSchema: file}, 1, ""},
		{"missing file", map[string]string{EnvSchema: filepath.Join(dir, "nope.json")}, 0, "PACKET_ID_SCHEMA: idschema: open"},
		{"bad file", map[string]string{EnvSchema: bad}, 0, "PACKET_ID_SCHEMA: idschema: not a JSON object"},
		{"bad inline", map[string]string{EnvSchema: `{"properties":1}`}, 0, "PACKET_ID_SCHEMA: idschema: properties.identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := LoadEnv(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("LoadEnv() error = %v, want prefix %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Fields()) != tt.fields {
				t.Errorf("LoadEnv() has %d fields, want %d", len(s.Fields()), tt.fields)
			}
		})
	}
}

func TestCache(t *testing.T) {
	t.Parallel()
	c := NewCache(2)
	docs := []string{
		`{"properties":{"identity":{"properties":{"a":{"type":"string"}}}}}`,
		`{"properties":{"identity":{"properties":{"b":{"type":"string"}}}}}`,
		`{"properties":{"identity":{"properties":{"c":{"type":"string"}}}}}`,
	}
	first, err := c.Parse([]byte(docs[0]))
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := c.Parse([]byte(docs[0])); again != first {
		t.Errorf("Parse of the same document returned a new schema, want the cached one")
	}
	if _, err := c.Parse([]byte(`{`)); err == nil {
		t.Errorf("Parse(bad) = nil error")
	}
	for _, d := range docs[1:] {
		if _, err := c.Parse([]byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != 2 {
		t.Errorf("Len() = %d, want 2 (bounded)", c.Len())
	}
	if again, _ := c.Parse([]byte(docs[0])); again == first {
		t.Errorf("the oldest schema was not evicted")
	}
}

func TestKindString(t *testing.T) {
	t.Parallel()
	for k, want := range map[Kind]string{KindString: "string", KindNumber: "number", KindBoolean: "boolean", KindSimpleType: "simpleType",
		KindArray: "array", KindObject: "object", KindDocument: "documentType", KindBiometrics: "biometricsType", 0: "unknown"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
	if KindDocument.Demographic() || !KindSimpleType.Demographic() {
		t.Errorf("Demographic(): documents are not demographic, simpleType is")
	}
}

// FuzzParse feeds arbitrary documents (OpenCRVS may send any schemaJson)
// and values through Parse and Validate: neither may panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte(Default().JSON()), "x")
	f.Add([]byte(`{"properties":{"identity":{"properties":{"a":{"type":"string","validators":[{"type":"regex","validator":"^(?=.{1,3}$)[a-z]*"}]}}}}}`), "ab")
	f.Add([]byte(`{"definitions":{"s":{"type":"array","items":{"properties":{"language":{},"value":{}}}}},"properties":{"identity":{"properties":{"n":{"$ref":"#/definitions/s"}}}}}`), `[{"language":"eng","value":"v"}]`)
	f.Fuzz(func(t *testing.T, doc []byte, wire string) {
		s, err := Parse(doc)
		if err != nil {
			return
		}
		for _, name := range s.Fields() {
			_ = s.Validate(name, wire)
		}
		if _, err := Parse([]byte(s.JSON())); err != nil {
			t.Errorf("Parse(JSON()) = %v after Parse succeeded", err)
		}
	})
}
