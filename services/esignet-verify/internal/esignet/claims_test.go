package esignet_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mosipcrvs/bridge/services/esignet-verify/internal/esignet"
)

func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// The answer is what the OpenCRVS forms read, from claims as eSignet
// (IDA's KYC exchange) sends them.
func TestFormData(t *testing.T) {
	t.Parallel()
	v20 := esignet.Mapping{Language: "eng", NameShape: esignet.NameShape20, IDType: "NATIONAL_ID"}
	v19 := esignet.Mapping{Language: "eng", NameShape: esignet.NameShape19, IDType: "NATIONAL_ID"}
	tests := []struct {
		name   string
		m      esignet.Mapping
		claims string
		want   string
	}{
		{"IDA claims, 2.0 shape", v20,
			`{"sub":"psut","name":"Jane Mary Doe","gender":"Female","birthdate":"1990/01/31","individual_id":"1234567890"}`,
			`{"sub":"psut","name":{"firstname":"Jane","middlename":"Mary","surname":"Doe"},"gender":"female","birthDate":"1990-01-31","dobUnknown":null,"verificationStatus":"authenticated","idType":"NATIONAL_ID","nid":"1234567890"}`},
		{"no middle name, no individual_id, no birthdate", v20, `{"sub":"psut","name":"Jane Doe","gender":"female"}`,
			`{"sub":"psut","name":{"firstname":"Jane","surname":"Doe"},"gender":"female","verificationStatus":"authenticated","idType":null,"nid":null}`},
		{"1.9 shape keeps every part", v19, `{"sub":"psut","name":"Jane Doe"}`,
			`{"sub":"psut","name":{"firstname":"Jane","middlename":"","surname":"Doe"},"verificationStatus":"authenticated","idType":null,"nid":null}`},
		{"name#lang, configured language wins", v20, `{"sub":"s","name#fra":"Jeanne Biche","name#eng":"Jane Doe","gender#eng":"Female"}`,
			`{"sub":"s","name":{"firstname":"Jane","surname":"Doe"},"gender":"female","verificationStatus":"authenticated","idType":null,"nid":null}`},
		{"IDA's two-letter suffix", v20, `{"sub":"s","name#fr":"Jeanne Biche","name#en":"Jane Doe"}`,
			`{"sub":"s","name":{"firstname":"Jane","surname":"Doe"},"verificationStatus":"authenticated","idType":null,"nid":null}`},
		{"only another language", v20, `{"sub":"s","name#fra":"Jeanne Biche"}`,
			`{"sub":"s","name":{"firstname":"Jeanne","surname":"Biche"},"verificationStatus":"authenticated","idType":null,"nid":null}`},
		{"given and family names when a country maps them", v19, `{"sub":"s","name":"X Y Z","given_name":"Jane","middle_name":"Mary","family_name":"Doe"}`,
			`{"sub":"s","name":{"firstname":"Jane","middlename":"Mary","surname":"Doe"},"verificationStatus":"authenticated","idType":null,"nid":null}`},
		{"unreadable birthdate", v20, `{"sub":"s","birthdate":"31.01.1990"}`,
			`{"sub":"s","name":{"firstname":"","surname":""},"birthDate":"","dobUnknown":null,"verificationStatus":"authenticated","idType":null,"nid":null}`},
		{"ISO birthdate", v20, `{"sub":"s","birthdate":"1990-01-31"}`,
			`{"sub":"s","name":{"firstname":"","surname":""},"birthDate":"1990-01-31","dobUnknown":null,"verificationStatus":"authenticated","idType":null,"nid":null}`},
		{"mapped claims", esignet.Mapping{Language: "eng", NameShape: esignet.NameShape20, IDType: "NATIONAL_ID",
			Fields: []esignet.FieldMapping{{Claim: "phone_number", Field: "informant.phone"}, {Claim: "address.locality", Field: "address.city"},
				{Claim: "email", Field: "email"}}},
			`{"sub":"s","phone_number":"+260911111111","address#eng":{"locality#eng":"Ilanga","region#eng":"Central"}}`,
			`{"sub":"s","name":{"firstname":"","surname":""},"verificationStatus":"authenticated","idType":null,"nid":null,"informant":{"phone":"+260911111111"},"address":{"city":"Ilanga"}}`},
	}
	for _, tt := range tests {
		claims := decode(t, tt.claims)
		got := tt.m.FormData(claims, tt.m.Person(claims))
		if want := decode(t, tt.want); !reflect.DeepEqual(got, want) {
			gb, _ := json.Marshal(got)
			t.Errorf("%s:\n got %s\nwant %s", tt.name, gb, tt.want)
		}
	}
}

func TestParseFieldMappings(t *testing.T) {
	t.Parallel()
	got, err := esignet.ParseFieldMappings([]string{"phone_number:phone", " address.locality : address.city "})
	if err != nil || len(got) != 2 || got[1] != (esignet.FieldMapping{Claim: "address.locality", Field: "address.city"}) {
		t.Errorf("ParseFieldMappings = %v, %v", got, err)
	}
	_, err = esignet.ParseFieldMappings([]string{"phone", "a:", ":b", "a..b:c", "email:sub", "x:verificationStatus.y"})
	for _, want := range []string{`"phone"`, `"a:"`, `":b"`, `"a..b:c"`, "sub is set by the service", "verificationStatus is set"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %s", err, want)
		}
	}
}

// FuzzFormData: whatever claims a (verified) userinfo carries, mapping
// them never panics and the dates it answers are real dates.
func FuzzFormData(f *testing.F) {
	f.Add(`{"sub":"psut","name":"Jane Mary Doe","gender":"Female","birthdate":"1990/01/31","individual_id":"1234567890"}`)
	f.Add(`{"sub":1,"name#eng":["x"],"birthdate":{"a":1},"address":"str","given_name":null}`)
	f.Add(`{"name#":"","#":"","birthdate":"0000/00/00","phone_number":{"x":{"y":2}}}`)
	m := esignet.Mapping{Language: "eng", NameShape: esignet.NameShape19, IDType: "NATIONAL_ID",
		Fields: []esignet.FieldMapping{{Claim: "phone_number.x", Field: "a.b"}, {Claim: "address", Field: "a"}}}
	f.Fuzz(func(t *testing.T, s string) {
		var claims map[string]any
		if json.Unmarshal([]byte(s), &claims) != nil {
			return
		}
		p := m.Person(claims)
		out := m.FormData(claims, p)
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("FormData is not JSON: %v", err)
		}
		if p.BirthDate != "" {
			if _, err := time.Parse("2006-01-02", p.BirthDate); err != nil {
				t.Fatalf("birthDate %q", p.BirthDate)
			}
		}
	})
}
