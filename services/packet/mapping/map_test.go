package mapping

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/mosipcrvs/bridge/services/packet/idschema"
)

// decode reads a JSON object the way the packet service receives
// requestFields (structpb → map[string]any with float64 numbers).
func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return m
}

func simple(v string) string { return `[{"language":"eng","value":"` + v + `"}]` }

// The payloads below are the ones opencrvs-side.md §1.1 and §1.2 quote
// from opencrvs-farajaland and the opencrvs/mosip tests.
const (
	fjBirth = `{"birthCertificateNumber":"EE008OLG4317","fullName":"Infant Middle Doe","dateOfBirth":"2025-09-01","gender":"male"}`
	fjDeath = `{"deathCertificateNumber":"DD01234ABCDE","fullName":"Deceased Person Doe","dateOfBirth":"1950-03-04","gender":"female","nationalIdNumber":"7186723906"}`
	fjCorr  = `{"VID":"8031687218","fullName":"Infant Updated","dateOfBirth":"2024-01-01","gender":"male"}`
	fjMeta  = `{"informantPsut":"Wk3nX-psut-from-esignet-sub"}`
)

func TestDefaultMappingOpenCRVSExamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		ev         Event
		fields     string
		meta       string
		want       map[string]string
		wantLabels map[string]string
	}{
		{
			name: "birth", ev: Birth, fields: fjBirth, meta: `{}`,
			want: map[string]string{
				"birthCertificateNumber": "EE008OLG4317",
				"fullName":               simple("Infant Middle Doe"),
				"dateOfBirth":            "2025/09/01",
				"gender":                 simple("Male"),
			},
		},
		{
			name: "birth with informant PSUT", ev: Birth, fields: fjBirth, meta: fjMeta,
			want: map[string]string{
				"birthCertificateNumber": "EE008OLG4317",
				"fullName":               simple("Infant Middle Doe"),
				"dateOfBirth":            "2025/09/01",
				"gender":                 simple("Male"),
				"introducerInfoToken":    simple("Wk3nX-psut-from-esignet-sub"),
			},
			wantLabels: map[string]string{"informantPsut": "Wk3nX-psut-from-esignet-sub"},
		},
		{
			name: "death: UIN from nationalIdNumber, no certificate number, death declared, no introducer", ev: Death, fields: fjDeath, meta: fjMeta,
			want: map[string]string{
				"UIN":           "7186723906",
				"fullName":      simple("Deceased Person Doe"),
				"dateOfBirth":   "1950/03/04",
				"gender":        simple("Female"),
				"deathDeclared": "yes",
			},
			wantLabels: map[string]string{"informantPsut": "Wk3nX-psut-from-esignet-sub"},
		},
		{
			name: "death with date of death", ev: Death,
			fields: `{"deathCertificateNumber":"D1","nationalIdNumber":"7186723906","dateOfDeath":"2025-10-02","deathDeclared":"no"}`,
			want:   map[string]string{"UIN": "7186723906", "dateOfDeath": "2025/10/02", "deathDeclared": "yes"},
		},
		{
			name: "correction", ev: Correction, fields: fjCorr, meta: `{}`,
			want: map[string]string{
				"vid":         "8031687218",
				"fullName":    simple("Infant Updated"),
				"dateOfBirth": "2024/01/01",
				"gender":      simple("Male"),
			},
		},
		{
			name: "correction with introducerInfoToken sent by OpenCRVS wins over metaInfo", ev: Correction,
			fields: `{"VID":"8031687218","introducerInfoToken":"psut-in-fields"}`, meta: fjMeta,
			want: map[string]string{
				"vid":                 "8031687218",
				"introducerInfoToken": simple("psut-in-fields"),
			},
			wantLabels: map[string]string{"informantPsut": "Wk3nX-psut-from-esignet-sub"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var meta map[string]any
			if tt.meta != "" {
				meta = decode(t, tt.meta)
			}
			r := DefaultMapping().Apply(tt.ev, Input{RequestFields: decode(t, tt.fields), MetaInfo: meta}, idschema.Default())
			if len(r.Problems) != 0 {
				t.Fatalf("Apply() problems = %v, want none", r.Problems)
			}
			if len(r.Dropped) != 0 {
				t.Errorf("Apply() dropped = %q, want none", r.Dropped)
			}
			if !reflect.DeepEqual(r.Fields, tt.want) {
				t.Errorf("Apply() fields =\n%v\nwant\n%v", r.Fields, tt.want)
			}
			if tt.wantLabels == nil {
				tt.wantLabels = map[string]string{}
			}
			if !reflect.DeepEqual(r.Labels, tt.wantLabels) {
				t.Errorf("Apply() labels = %v, want %v", r.Labels, tt.wantLabels)
			}
		})
	}
}

func TestMapMatchesApply(t *testing.T) {
	t.Parallel()
	m := DefaultMapping()
	fields, dropped, problems := m.Map(Birth, decode(t, fjBirth), nil)
	r := m.Apply(Birth, Input{RequestFields: decode(t, fjBirth)}, idschema.Default())
	if !reflect.DeepEqual(fields, r.Fields) || dropped != nil || problems != nil {
		t.Errorf("Map() = %v, %v, %v; want Apply's fields and nothing else", fields, dropped, problems)
	}
}

func TestEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	in := `{
	  "fullName": "Jo",
	  "dateOfBirth": "01/09/2025",
	  "gender": {"language": "eng"},
	  "phone": "12",
	  "email": ["a"],
	  "deceasedStatus": "maybe",
	  "nickname": "Bob",
	  "documents": {"x": 1},
	  "addressLine1": "[{not json",
	  "postalCode": "",
	  "region": null
	}`
	_, dropped, problems := DefaultMapping().Map(Birth, decode(t, in), idschema.Default())
	want := []FieldProblem{
		{"requestFields.addressLine1", "looks like a JSON list of language values but is not valid JSON"},
		{"requestFields.birthCertificateNumber", "is required for a birth packet (ID-schema field birthCertificateNumber)"},
		{"requestFields.dateOfBirth", "is not a date in any of the formats yyyy-MM-dd, yyyy/MM/dd"},
		{"requestFields.deceasedStatus", "deceasedStatus must be true or false"},
		{"requestFields.email", "must be a string, not a list"},
		{"requestFields.fullName", "fullName[0].value does not match the schema validator ^(?=.{3,50}$).*"},
		{"requestFields.gender", "must have exactly a string language and a string value"},
		{"requestFields.phone", "phone does not match the schema validator ^[+]*([0-9]{1})([0-9]{9})$"},
	}
	if !reflect.DeepEqual(problems, want) {
		t.Errorf("Map() problems =\n%s\nwant\n%s", fmtProblems(problems), fmtProblems(want))
	}
	if wantDropped := []string{"documents", "nickname"}; !reflect.DeepEqual(dropped, wantDropped) {
		t.Errorf("Map() dropped = %q, want %q", dropped, wantDropped)
	}
	if err := Problems(problems).Error(); !strings.HasPrefix(err, "8 field problem(s): requestFields.addressLine1: ") {
		t.Errorf("Problems.Error() = %q", err)
	}
}

func fmtProblems(ps []FieldProblem) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "  %s\n", p)
	}
	return b.String()
}

func TestProblemsNeverContainValues(t *testing.T) {
	t.Parallel()
	const v = "Qx9PersonalValue"
	// Every value below is wrong for its field in some way.
	in := map[string]any{
		"fullName":         v + strings.Repeat("x", 60),
		"dateOfBirth":      v,
		"gender":           map[string]any{"language": v},
		"phone":            v,
		"email":            []any{v},
		"deceasedStatus":   v,
		"IDSchemaVersion":  v,
		"addressLine1":     "[{" + v,
		"selectedHandles":  []any{map[string]any{"k": v}},
		"birthCertificate": v,
		"city":             []any{v},
		"zone":             map[string]any{"eng": []any{v}},
		"dateOfDeath":      3,
	}
	for _, ev := range Events {
		for _, strict := range []bool{false, true} {
			m := DefaultMapping()
			m.Strict = strict
			r := m.Apply(ev, Input{RequestFields: in, MetaInfo: map[string]any{"informantPsut": []any{v}}}, idschema.Default())
			if len(r.Problems) == 0 {
				t.Fatalf("%s strict=%v: no problems", ev, strict)
			}
			for _, p := range r.Problems {
				if strings.Contains(p.String(), "Qx9") {
					t.Errorf("%s strict=%v: problem %q contains the value", ev, strict, p)
				}
			}
		}
	}
}

func TestStrictMode(t *testing.T) {
	t.Parallel()
	in := decode(t, `{"birthCertificateNumber":"B1","fullName":"Baby Doe","dateOfBirth":"2025-01-02","gender":"female",
		"nickname":"Bo","proofOfAddress":"doc","deathCertificateNumber":"ignored"}`)
	lax := DefaultMapping()
	fields, dropped, problems := lax.Map(Birth, in, idschema.Default())
	if len(problems) != 0 {
		t.Fatalf("lax Map() problems = %v", problems)
	}
	if want := []string{"deathCertificateNumber", "nickname", "proofOfAddress"}; !reflect.DeepEqual(dropped, want) {
		t.Errorf("lax Map() dropped = %q, want %q", dropped, want)
	}
	if _, ok := fields["nickname"]; ok {
		t.Errorf("lax Map() sent an undeclared field")
	}

	strict := DefaultMapping()
	strict.Strict = true
	fields, dropped, problems = strict.Map(Birth, in, idschema.Default())
	want := []FieldProblem{
		{"requestFields.deathCertificateNumber", "deathCertificateNumber is not a field of the ID schema (strict mode refuses undeclared fields)"},
		{"requestFields.nickname", "nickname is not a field of the ID schema (strict mode refuses undeclared fields)"},
		{"requestFields.proofOfAddress", "proofOfAddress is a documentType field of the ID schema and cannot be sent as a value"},
	}
	if !reflect.DeepEqual(problems, want) {
		t.Errorf("strict Map() problems =\n%s\nwant\n%s", fmtProblems(problems), fmtProblems(want))
	}
	if dropped != nil {
		t.Errorf("strict Map() dropped = %q, want none", dropped)
	}
	if len(fields) != 4 {
		t.Errorf("strict Map() fields = %v, want the 4 valid ones", fields)
	}
	// A drop rule is deliberate: strict mode does not refuse it.
	_, _, problems = strict.Map(Death, decode(t, `{"deathCertificateNumber":"D1","nationalIdNumber":"7186723906"}`), idschema.Default())
	if len(problems) != 0 {
		t.Errorf("strict death Map() problems = %v, want none (deathCertificateNumber is dropped by rule)", problems)
	}
}

func TestDeathNeedsUIN(t *testing.T) {
	t.Parallel()
	noUIN := `{"deathCertificateNumber":"D1","fullName":"Dead Person","VID":"1234567890"}`
	tests := []struct {
		name     string
		allowVID bool
		in       string
		want     []FieldProblem
		wantKey  string
	}{
		{"UIN missing", false, `{"deathCertificateNumber":"D1","fullName":"Dead Person"}`,
			[]FieldProblem{{"requestFields.nationalIdNumber", "is required for a death packet (ID-schema field UIN)"}}, ""},
		{"VID not allowed", false, noUIN,
			[]FieldProblem{{"requestFields.nationalIdNumber", "is required for a death packet (ID-schema field UIN)"}}, ""},
		{"VID allowed", true, noUIN, nil, "vid"},
		{"VID allowed, nothing sent", true, `{"fullName":"Dead Person"}`,
			[]FieldProblem{{"requestFields.nationalIdNumber", "is required for a death packet (one of the ID-schema fields UIN, vid)"}}, ""},
		{"UIN sent directly", false, `{"UIN":"7186723906"}`, nil, "UIN"},
		{"UIN and VID, VID not allowed: VID not sent", false, `{"nationalIdNumber":"7186723906","VID":"1234567890"}`, nil, "UIN"},
		{"blank nationalIdNumber is absent", false, `{"nationalIdNumber":"  "}`,
			[]FieldProblem{{"requestFields.nationalIdNumber", "is required for a death packet (ID-schema field UIN)"}}, ""},
		{"UIN and nationalIdNumber both sent", false, `{"UIN":"7186723906","nationalIdNumber":"7186723906"}`,
			[]FieldProblem{{"requestFields.nationalIdNumber", "maps to UIN, which requestFields.UIN already provides"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := DefaultMapping()
			m.AllowVIDForDeath = tt.allowVID
			fields, _, problems := m.Map(Death, decode(t, tt.in), idschema.Default())
			if !reflect.DeepEqual(problems, tt.want) {
				t.Errorf("Map() problems =\n%s\nwant\n%s", fmtProblems(problems), fmtProblems(tt.want))
			}
			if tt.wantKey != "" {
				if _, ok := fields[tt.wantKey]; !ok {
					t.Errorf("Map() fields = %v, want %s", fields, tt.wantKey)
				}
			}
			if _, sent := fields["vid"]; sent && !tt.allowVID {
				t.Errorf("Map() sent a vid for a death although VIDs are not allowed")
			}
		})
	}
}

func TestConversions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		field string
		in    any
		want  string
	}{
		{"number UIN", "UIN", float64(7186723906), "7186723906"},
		{"json.Number UIN", "UIN", json.Number("7186723906"), "7186723906"},
		{"trimmed string", "birthCertificateNumber", "  B123 ", "B123"},
		{"simpleType from list", "fullName", []any{map[string]any{"language": "fra", "value": "Jeanne"}, map[string]any{"language": "eng", "value": "Jane"}},
			`[{"language":"fra","value":"Jeanne"},{"language":"eng","value":"Jane"}]`},
		{"simpleType from one object", "fullName", map[string]any{"language": "fra", "value": "Jeanne"}, `[{"language":"fra","value":"Jeanne"}]`},
		{"simpleType from language map", "fullName", map[string]any{"fra": "Jeanne", "eng": "Jane"},
			`[{"language":"eng","value":"Jane"},{"language":"fra","value":"Jeanne"}]`},
		{"simpleType from JSON text", "fullName", `[{"language":"eng","value":"Jane Doe"}]`, simple("Jane Doe")},
		{"simpleType keeps & and <", "fullName", "Smith & <Sons>", `[{"language":"eng","value":"Smith & <Sons>"}]`},
		{"simpleType escapes quotes", "fullName", `Jane "JJ" Doe`, `[{"language":"eng","value":"Jane \"JJ\" Doe"}]`},
		{"gender value table is case-insensitive", "gender", "FEMALE", simple("Female")},
		{"unknown gender passes", "gender", "Intersex", simple("Intersex")},
		{"number field", "IDSchemaVersion", float64(0.1), "0.1"},
		{"boolean field", "deceasedStatus", true, "true"},
		{"boolean text", "deceasedStatus", " TRUE ", "true"},
		{"array from list", "selectedHandles", []any{"birthCertificateNumber"}, `["birthCertificateNumber"]`},
		{"array from string", "selectedHandles", "birthCertificateNumber", `["birthCertificateNumber"]`},
		{"array from JSON text", "selectedHandles", `["a","b"]`, `["a","b"]`},
		{"date already in MOSIP form", "dateOfBirth", "2024/02/29", "2024/02/29"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := DefaultMapping().Apply(Birth, Input{RequestFields: map[string]any{tt.field: tt.in}}, idschema.Default())
			for _, p := range r.Problems {
				if p.Field == "requestFields."+tt.field {
					t.Fatalf("Apply() problem %s", p)
				}
			}
			if got := r.Fields[tt.field]; got != tt.want {
				t.Errorf("Apply(%s) = %s, want %s", tt.field, got, tt.want)
			}
		})
	}
}

func TestDateProblems(t *testing.T) {
	t.Parallel()
	for _, in := range []any{"2025-02-30", "2025-13-01", "1/2/2025", "20250101", "2025-01-01T00:00:00Z", float64(2025)} {
		_, _, problems := DefaultMapping().Map(Correction, map[string]any{"VID": "1", "dateOfBirth": in}, idschema.Default())
		if len(problems) != 1 || problems[0].Field != "requestFields.dateOfBirth" {
			t.Errorf("Map(dateOfBirth=%v) problems = %v, want one about dateOfBirth", in, problems)
		}
	}
	// 1868 is a real date the schema's validator refuses.
	_, _, problems := DefaultMapping().Map(Correction, map[string]any{"VID": "1", "dateOfBirth": "1868-01-01"}, idschema.Default())
	if len(problems) != 1 || !strings.Contains(problems[0].Message, "validator") {
		t.Errorf("Map(dateOfBirth=1868-01-01) problems = %v, want the schema validator's", problems)
	}
}

func TestCustomSchemaAndKindMismatch(t *testing.T) {
	t.Parallel()
	// A country whose schema has gender as a plain string and a custom
	// simpleType definition name.
	schema, err := idschema.Parse([]byte(`{
	  "definitions": {"ml": {"type":"array","items":{"type":"object","properties":{"language":{"type":"string"},"value":{"type":"string"}}}}},
	  "properties":{"identity":{"properties":{
	    "fullName":{"$ref":"#/definitions/ml"},
	    "gender":{"type":"string","validators":[{"type":"regex","validator":"^(Male|Female)$"}]},
	    "dateOfBirth":{"$ref":"#/definitions/ml"},
	    "birthCertificateNumber":{"type":"string"}
	  }}}}`))
	if err != nil {
		t.Fatal(err)
	}
	fields, _, problems := DefaultMapping().Map(Birth, decode(t, fjBirth), schema)
	want := []FieldProblem{{"requestFields.dateOfBirth", "the mapping sends date but the ID schema declares dateOfBirth as simpleType"}}
	if !reflect.DeepEqual(problems, want) {
		t.Errorf("Map() problems =\n%s\nwant\n%s", fmtProblems(problems), fmtProblems(want))
	}
	if fields["gender"] != "Male" || fields["fullName"] != simple("Infant Middle Doe") {
		t.Errorf("Map() fields = %v: auto rules must follow the schema (gender plain, fullName simpleType)", fields)
	}
	m := DefaultMapping()
	m.Events[Birth].Fields["fullName"] = Rule{Kind: KindString}
	_, _, problems = m.Map(Birth, decode(t, fjBirth), idschema.Default())
	if len(problems) == 0 || problems[0].Message != "the mapping sends string but the ID schema declares fullName as simpleType" {
		t.Errorf("Map() with a string rule for a simpleType field: problems = %v", problems)
	}
}

func TestConstantRules(t *testing.T) {
	t.Parallel()
	m := DefaultMapping()
	m.Events[Birth].Fields["handles"] = Rule{Target: "selectedHandles", Kind: KindConstant, Value: `["birthCertificateNumber"]`}
	m.Events[Birth].Fields["bad"] = Rule{Target: "deathDeclared", Kind: KindConstant, Value: "maybe"}
	m.Events[Birth].Fields["ghost"] = Rule{Target: "notInSchema", Kind: KindConstant, Value: "x"}
	fields, dropped, problems := m.Map(Birth, decode(t, fjBirth), idschema.Default())
	if fields["selectedHandles"] != `["birthCertificateNumber"]` {
		t.Errorf("constant selectedHandles = %q", fields["selectedHandles"])
	}
	want := []FieldProblem{{"mapping.events.birth.fields.bad", "deathDeclared does not match the schema validator ^(yes|no)$"}}
	if !reflect.DeepEqual(problems, want) {
		t.Errorf("problems =\n%s\nwant\n%s", fmtProblems(problems), fmtProblems(want))
	}
	if !reflect.DeepEqual(dropped, []string{"ghost"}) {
		t.Errorf("dropped = %q, want [ghost]", dropped)
	}
}

func TestUnknownEventMapsBySchema(t *testing.T) {
	t.Parallel()
	fields, _, problems := DefaultMapping().Map("adoption", map[string]any{"fullName": "Some Body", "dateOfBirth": "2020/01/01"}, idschema.Default())
	if len(problems) != 0 || fields["fullName"] != simple("Some Body") || fields["dateOfBirth"] != "2020/01/01" {
		t.Errorf("Map(adoption) = %v, %v", fields, problems)
	}
}

func TestMetaInfoLabelMustBeScalar(t *testing.T) {
	t.Parallel()
	r := DefaultMapping().Apply(Death, Input{RequestFields: decode(t, `{"UIN":"7186723906"}`), MetaInfo: map[string]any{"informantPsut": map[string]any{"a": 1}}}, nil)
	want := []FieldProblem{{"metaInfo.informantPsut", "must be a string to be forwarded as the metaData label informantPsut"}}
	if !reflect.DeepEqual(r.Problems, want) {
		t.Errorf("Apply() problems = %v, want %v", r.Problems, want)
	}
}

// FuzzMap feeds arbitrary requestFields and metaInfo JSON through every
// event, strict and lax: Apply must never panic, only send declared fields
// whose values pass the schema, and be deterministic.
func FuzzMap(f *testing.F) {
	f.Add([]byte(fjBirth), []byte(fjMeta))
	f.Add([]byte(fjDeath), []byte(`{}`))
	f.Add([]byte(fjCorr), []byte(`{"informantPsut":1}`))
	f.Add([]byte(`{"fullName":[{"language":"eng","value":"x"}],"gender":{"eng":"m"},"selectedHandles":["a",1],"UIN":1e300,"deceasedStatus":"TRUE"}`), []byte(`null`))
	f.Add([]byte(`{"":null,"dateOfDeath":"2025-02-29","IDSchemaVersion":"-0","addressLine1":"[{\"language\":\"eng\"}]"}`), []byte(`[]`))
	schema := idschema.Default()
	f.Fuzz(func(t *testing.T, fieldsJSON, metaJSON []byte) {
		var fields, meta map[string]any
		if json.Unmarshal(fieldsJSON, &fields) != nil {
			return
		}
		_ = json.Unmarshal(metaJSON, &meta)
		for _, ev := range append(Events, "other") {
			for _, strict := range []bool{false, true} {
				m := DefaultMapping()
				m.Strict = strict
				in := Input{RequestFields: fields, MetaInfo: meta}
				r := m.Apply(ev, in, schema)
				for name, wire := range r.Fields {
					f, ok := schema.Field(name)
					if !ok || !f.Kind.Demographic() {
						t.Fatalf("%s: sent undeclared or non-demographic field %q", ev, name)
					}
					if msgs := f.Validate(wire); len(msgs) > 0 {
						t.Fatalf("%s: sent %s failing the schema: %q", ev, name, msgs)
					}
				}
				if strict && len(r.Dropped) > 0 {
					t.Fatalf("%s: strict mode dropped %q", ev, r.Dropped)
				}
				if !sort.StringsAreSorted(r.Dropped) {
					t.Fatalf("%s: dropped not sorted", ev)
				}
				for _, p := range r.Problems {
					if p.Field == "" || p.Message == "" {
						t.Fatalf("%s: incomplete problem %+v", ev, p)
					}
				}
				if again := m.Apply(ev, in, schema); !reflect.DeepEqual(r, again) {
					t.Fatalf("%s: Apply is not deterministic", ev)
				}
			}
		}
	})
}
