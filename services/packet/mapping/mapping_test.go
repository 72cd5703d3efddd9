package mapping

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDefaultMappingIsValid(t *testing.T) {
	t.Parallel()
	if err := DefaultMapping().Validate(); err != nil {
		t.Fatalf("DefaultMapping().Validate() = %v", err)
	}
	// Each call returns an independent copy, so callers may adjust it.
	a, b := DefaultMapping(), DefaultMapping()
	a.Events[Birth].Fields["gender"].Values["male"] = "changed"
	if b.Events[Birth].Fields["gender"].Values["male"] != "Male" {
		t.Errorf("DefaultMapping() shares state between calls")
	}
}

func TestParseRoundTrip(t *testing.T) {
	t.Parallel()
	doc, err := json.Marshal(DefaultMapping())
	if err != nil {
		t.Fatal(err)
	}
	full := `{"extendDefaults":false,` + string(doc[1:])
	m, err := Parse([]byte(full))
	if err != nil {
		t.Fatalf("Parse(marshalled default) = %v", err)
	}
	if !reflect.DeepEqual(m, DefaultMapping()) {
		t.Errorf("Parse(marshalled default) differs from DefaultMapping()")
	}
}

func TestParseOverlay(t *testing.T) {
	t.Parallel()
	m, err := Parse([]byte(`{
	  "language": "fra",
	  "strict": true,
	  "allowVidForDeath": true,
	  "events": {
	    "birth": {"fields": {"gender": {"kind": "simpleType", "values": {"male": "MLE", "female": "FLE"}},
	                         "fullName": {"kind": "auto"}},
	              "required": ["fullName"]},
	    "death": {"fields": {"deceasedNid": {"target": "UIN"}}}
	  },
	  "metaInfo": {"informantPsut": null, "informantId": {"label": "informantId"}}
	}`))
	if err != nil {
		t.Fatalf("Parse() = %v", err)
	}
	if m.Language != "fra" || !m.Strict || !m.AllowVIDForDeath || m.OutputDateFormat != "yyyy/MM/dd" {
		t.Errorf("Parse() scalars = %q %v %v %q", m.Language, m.Strict, m.AllowVIDForDeath, m.OutputDateFormat)
	}
	birth := m.Events[Birth]
	if got := birth.Fields["gender"].Values["male"]; got != "MLE" {
		t.Errorf("birth gender male = %q, want MLE (rule replaced)", got)
	}
	if birth.Fields["dateOfBirth"].Kind != KindDate {
		t.Errorf("birth dateOfBirth rule lost; overlays keep default rules they do not name")
	}
	if birth.Fields["fullName"].Kind != KindAuto {
		t.Errorf(`"auto" kind = %q, want KindAuto`, birth.Fields["fullName"].Kind)
	}
	if !reflect.DeepEqual(birth.Required, []string{"fullName"}) {
		t.Errorf("birth required = %q, want replaced", birth.Required)
	}
	death := m.Events[Death]
	if death.Fields["deceasedNid"].Target != "UIN" || death.Fields["nationalIdNumber"].Target != "UIN" || !reflect.DeepEqual(death.Required, []string{"UIN"}) {
		t.Errorf("death rules = %+v", death)
	}
	if _, ok := m.MetaInfo["informantPsut"]; ok {
		t.Errorf("metaInfo informantPsut: null did not remove the default forward")
	}
	if m.MetaInfo["informantId"].Label != "informantId" {
		t.Errorf("metaInfo informantId not added")
	}

	// Explicit false switches a default-true-able setting back off.
	m, err = Parse([]byte(`{"strict": false}`))
	if err != nil || m.Strict {
		t.Errorf(`Parse({"strict": false}) = %v, strict %v`, err, m != nil && m.Strict)
	}
}

func TestParseFromScratch(t *testing.T) {
	t.Parallel()
	m, err := Parse([]byte(`{"extendDefaults": false, "language": "eng", "vidField": "VID",
	  "dateFormats": ["dd.MM.yyyy"], "outputDateFormat": "yyyy/MM/dd",
	  "events": {"birth": {"fields": {"dob": {"target": "dateOfBirth", "kind": "date"}}}}}`))
	if err != nil {
		t.Fatalf("Parse() = %v", err)
	}
	if len(m.Events) != 1 || len(m.MetaInfo) != 0 || m.VIDField != "VID" {
		t.Errorf("Parse(extendDefaults false) kept defaults: %+v", m)
	}
	fields, _, problems := m.Map(Birth, map[string]any{"dob": "31.01.2025"}, nil)
	if len(problems) != 0 || fields["dateOfBirth"] != "2025/01/31" {
		t.Errorf("Map() = %v, %v", fields, problems)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"not JSON", `{`, []string{"mapping: unexpected EOF"}},
		{"trailing", `{} {}`, []string{"trailing data"}},
		{"unknown key", `{"langauge": "eng"}`, []string{`unknown field "langauge"`}},
		{"unknown rule key", `{"events":{"birth":{"fields":{"x":{"taget":"y"}}}}}`, []string{`unknown field "taget"`}},
		{"every problem at once", `{
		  "extendDefaults": false,
		  "dateFormats": ["yy-MM-dd"],
		  "outputDateFormat": "dd MMM yyyy",
		  "events": {
		    "brith": {},
		    "birth": {"fields": {
		      "a": {"kind": "constant"},
		      "b": {"kind": "text"},
		      "c": {"kind": "string", "value": "x"},
		      "d": {"kind": "string", "dateFormats": ["yyyy-MM-dd"]},
		      "e": {"kind": "date", "dateFormats": ["yyyy-MM-dd HH:mm:ss.SSS", "yyyy-MM-dd'X'"], "outputFormat": "MM/dd"}},
		      "required": ["UIN|", "fullName"]}
		  },
		  "metaInfo": {"p": {}, "q": {"field": "x", "fieldEvents": ["burial"]}}}`,
			[]string{
				"language is required",
				"vidField is required",
				`dateFormats[0]: date format "yy-MM-dd": 'y' is not supported`,
				`outputDateFormat: date format "dd MMM yyyy": 'M' appears more than once`,
				"events.birth.fields.a.value: a constant rule needs a value",
				`events.birth.fields.b.kind: "text" is not one of`,
				"events.birth.fields.c.value: only constant rules take a value",
				"events.birth.fields.d: dateFormats and outputFormat apply to date rules only",
				`events.birth.fields.e.dateFormats[1]: date format "yyyy-MM-dd'X'": quoted 'X' is not supported`,
				`events.birth.fields.e.outputFormat: date format "MM/dd": needs yyyy, a month and a day`,
				`events.birth.required[0]: empty field name in "UIN|"`,
				"events.brith: unknown event",
				"metaInfo.p: set field, label or both",
				`metaInfo.q.fieldEvents: unknown event "burial"`,
			}},
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
					t.Errorf("Parse() error is missing %q; got:\n%v", w, err)
				}
			}
		})
	}
}

func TestLoadEnv(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "mapping.json")
	if err := os.WriteFile(file, []byte(`{"strict": true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		env        map[string]string
		wantStrict bool
		wantErr    string
	}{
		{"unset", nil, false, ""},
		{"blank", map[string]string{EnvMapping: " "}, false, ""},
		{"inline", map[string]string{EnvMapping: `{"strict": true}`}, true, ""},
		{"file", map[string]string{EnvMapping: file}, true, ""},
		{"missing file", map[string]string{EnvMapping: filepath.Join(dir, "nope.json")}, false, "PACKET_FIELD_MAPPING: open"},
		{"invalid", map[string]string{EnvMapping: `{"events":{"x":{}}}`}, false, "PACKET_FIELD_MAPPING: mapping: events.x: unknown event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := LoadEnv(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("LoadEnv() error = %v, want prefix %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Strict != tt.wantStrict {
				t.Errorf("LoadEnv().Strict = %v, want %v", m.Strict, tt.wantStrict)
			}
		})
	}
}

func TestDateFormats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		formats []string
		output  string
		want    string
		ok      bool
	}{
		{"2025-09-01", []string{"yyyy-MM-dd"}, "yyyy/MM/dd", "2025/09/01", true},
		{"01.09.2025", []string{"yyyy-MM-dd", "dd.MM.yyyy"}, "yyyy/MM/dd", "2025/09/01", true},
		{"1/9/2025", []string{"d/M/yyyy"}, "yyyy/MM/dd", "2025/09/01", true},
		{"2025-09-01T23:30:00.000+03:00", []string{"yyyy-MM-dd'T'HH:mm:ss.SSSXXX"}, "yyyy/MM/dd", "2025/09/01", true},
		{"2025-09-01T23:30:00Z", []string{"RFC3339"}, "yyyy-MM-dd", "2025-09-01", true},
		{"2025-02-29", []string{"yyyy-MM-dd"}, "yyyy/MM/dd", "", false},
		{"2024-02-29", []string{"yyyy-MM-dd"}, "yyyy/MM/dd", "2024/02/29", true},
		{"2025-9-1", []string{"yyyy-MM-dd"}, "yyyy/MM/dd", "", false},
		{"", []string{"yyyy-MM-dd"}, "yyyy/MM/dd", "", false},
	}
	for _, tt := range tests {
		got, ok, err := convertDate(tt.in, tt.formats, tt.output)
		if err != nil || ok != tt.ok || got != tt.want {
			t.Errorf("convertDate(%q, %q, %q) = %q, %v, %v; want %q, %v", tt.in, tt.formats, tt.output, got, ok, err, tt.want, tt.ok)
		}
	}
	for _, bad := range []string{"", "yyyy", "yy-MM-dd", "yyyy-MM-dd hh", "yyyy-MM-dd EEE", "yyyy-MM-dd'", "yyyy-MM-ddSSS", "yyyy-MM-dd'Mon'", "2006-01-02"} {
		if _, err := javaLayout(bad); err == nil {
			t.Errorf("javaLayout(%q) = nil error, want one", bad)
		}
	}
}
