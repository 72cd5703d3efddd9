package mosipclient

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mosipcrvs/bridge/services/packet/idschema"
	"github.com/mosipcrvs/bridge/services/packet/mapping"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got (compact JSON, exactly as sent) with
// testdata/<name>.golden.json, which holds the same JSON indented for
// review; -update rewrites it.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, got, "", "  "); err != nil {
		t.Fatalf("%s: output is not JSON: %v", name, err)
	}
	pretty.WriteByte('\n')
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("%s differs from %s (run go test -update after checking):\n%s", name, path, diffLines(string(want), pretty.String()))
	}
}

// diffLines shows the first differing lines, enough to read a golden diff.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + "\n- " + clip(wl) + "\n+ " + clip(gl) + "\n")
			if b.Len() > 2000 {
				break
			}
		}
	}
	return b.String()
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

func testBuilder() *Builder {
	return &Builder{
		CenterID: "10001", MachineID: "10004", Source: "CRVS1", SchemaVersion: "0.1",
		HostName: "packet-0", HostIP: "10.0.0.7",
		Now:     func() time.Time { return fixedNow },
		NewUUID: func() string { return "c75a6315-96e9-4a3f-bcda-2432ec354336" },
	}
}

func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// mapped runs the default mapping over an OpenCRVS payload, as the packet
// service does before building the packet.
func mapped(t *testing.T, ev mapping.Event, fields, meta string) mapping.Result {
	t.Helper()
	r := mapping.DefaultMapping().Apply(ev, mapping.Input{RequestFields: decodeJSON(t, fields), MetaInfo: decodeJSON(t, meta)}, idschema.Default())
	if len(r.Problems) > 0 {
		t.Fatalf("mapping problems: %v", r.Problems)
	}
	return r
}

func TestCreatePacketGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		ev     mapping.Event
		in     PacketInput
		fields string
		meta   string
		audit  string
	}{
		{
			name:   "createpacket_birth",
			ev:     mapping.Birth,
			in:     PacketInput{RID: "10001100040004220250110061144", Process: "CRVS_NEW", RegistrationType: RegistrationNew},
			fields: `{"birthCertificateNumber":"EE008OLG4317","fullName":"Infant Middle Doe","dateOfBirth":"2025-09-01","gender":"male"}`,
			meta:   `{"informantPsut":"Wk3nX-psut-from-esignet-sub"}`,
			audit:  `{}`,
		},
		{
			name:   "createpacket_death",
			ev:     mapping.Death,
			in:     PacketInput{RID: "100011234567890", Process: "CRVS_DEATH", RegistrationType: RegistrationUpdate},
			fields: `{"deathCertificateNumber":"DD01234ABCDE","fullName":"Deceased Person Doe","dateOfBirth":"1950-03-04","gender":"female","nationalIdNumber":"7186723906"}`,
			meta:   `{"informantPsut":"Wk3nX-psut-from-esignet-sub"}`,
			audit:  `{"eventId":"OPENCRVS_REGISTER","sessionUserId":"k-bwalya","count":2,"nothing":null}`,
		},
		{
			name:   "createpacket_correction",
			ev:     mapping.Correction,
			in:     PacketInput{RID: "10001100040004320250110061144", Process: "CRVS_UPDATE", RegistrationType: RegistrationUpdate},
			fields: `{"VID":"8031687218","fullName":"Infant Updated","dateOfBirth":"2024-01-01","gender":"male","introducerInfoToken":"psut-of-informant"}`,
			meta:   `{}`,
			audit:  `{}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := mapped(t, tt.ev, tt.fields, tt.meta)
			in := tt.in
			in.SchemaJSON = idschema.Default().JSON()
			in.Fields = r.Fields
			in.MetaLabels = r.Labels
			in.Audit = decodeJSON(t, tt.audit)
			req, err := testBuilder().CreatePacket(in)
			if err != nil {
				t.Fatalf("CreatePacket() = %v", err)
			}
			got, err := encode(req)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name, got)
		})
	}
}

func TestWorkflowInstanceGolden(t *testing.T) {
	t.Parallel()
	req, err := testBuilder().WorkflowInstance(WorkflowInput{
		RID: "10001100040004220250110061144", Process: "CRVS_NEW",
		Notification: Notification{Name: "Jane Doe", Phone: "+260211000000", Email: "jane@example.com"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := encode(req)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "workflowinstance", got)
}

func TestCreatePacketWireDetails(t *testing.T) {
	t.Parallel()
	r := mapped(t, mapping.Birth, `{"birthCertificateNumber":"B1","fullName":"Smith & <Sons>","dateOfBirth":"2025-09-01","gender":"male"}`, `{}`)
	b := testBuilder()
	b.OfficerID = "officer-1"
	req, err := b.CreatePacket(PacketInput{RID: "100011234567890", Process: "CRVS_NEW", RegistrationType: RegistrationNew,
		SchemaJSON: idschema.Default().JSON(), Fields: r.Fields})
	if err != nil {
		t.Fatal(err)
	}
	wire, err := encode(req)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		ID, Version, RequestTime string
		Metadata                 map[string]any
		Request                  map[string]json.RawMessage
	}
	if err := json.Unmarshal(wire, &back); err != nil {
		t.Fatal(err)
	}
	if back.ID != CreatePacketID || back.Version != CreatePacketVersion || back.RequestTime != "2025-01-10T06:11:44.123Z" {
		t.Errorf("envelope = %q %q %q", back.ID, back.Version, back.RequestTime)
	}
	// The schema travels as a JSON string, not an object.
	var schemaText string
	if err := json.Unmarshal(back.Request["schemaJson"], &schemaText); err != nil || schemaText != idschema.Default().JSON() {
		t.Errorf("schemaJson is not the schema as a string: %v", err)
	}
	// Every field and metaInfo value is a string (MOSIP binds Map<String,String>).
	for _, key := range []string{"fields", "metaInfo"} {
		var m map[string]string
		if err := json.Unmarshal(back.Request[key], &m); err != nil {
			t.Errorf("%s is not a map of strings: %v", key, err)
		}
	}
	if !bytes.Contains(wire, []byte(`Smith & <Sons>`)) {
		t.Errorf("names are HTML-escaped on the wire; MOSIP must receive them as written")
	}
	if !bytes.Contains(wire, []byte(`{\"label\":\"officerId\",\"value\":\"officer-1\"},{\"label\":\"supervisorId\",\"value\":null}`)) {
		t.Errorf("operationsData does not carry the officer id and a null supervisor")
	}
	// A short RID carries no time: creationDate is the build time.
	if req.Request.MetaInfo["creationDate"] != "2025-01-10T06:11:44.123Z" {
		t.Errorf("creationDate = %q, want the build time", req.Request.MetaInfo["creationDate"])
	}
	if req.Request.Documents == nil || req.Request.Biometrics == nil || len(req.Request.Audits) != 1 {
		t.Errorf("documents/biometrics must be empty objects and audits one entry: %+v", req.Request)
	}
}

func TestCreatePacketRefusesBadInput(t *testing.T) {
	t.Parallel()
	good := PacketInput{RID: "10001100040004220250110061144", Process: "CRVS_NEW", RegistrationType: RegistrationNew,
		SchemaJSON: `{"properties":{}}`, Fields: map[string]string{"UIN": "1"}}
	tests := []struct {
		name   string
		mutate func(*Builder, *PacketInput)
		want   []string
	}{
		{"bad settings", func(b *Builder, _ *PacketInput) {
			b.CenterID, b.MachineID, b.Source, b.SchemaVersion = "1", "", " ", "v1"
		},
			[]string{`centre id "1" must be 5 digits`, `machine id "" must be 5 digits`, "source is required", `schema version "v1" must be a number`}},
		{"everything missing", func(_ *Builder, in *PacketInput) { *in = PacketInput{} },
			[]string{"RID is required", "process is required", "registration type is required", "schema JSON must be a JSON object", "fields must not be empty"}},
		{"schema not an object", func(_ *Builder, in *PacketInput) { in.SchemaJSON = `"x"` }, []string{"schema JSON must be a JSON object"}},
		{"RID of another machine", func(_ *Builder, in *PacketInput) { in.RID = "10001100050004220250110061144" },
			[]string{"RID does not start with centre 10001 and machine 10004 (refId 10001_10004)"}},
		{"builder-owned label", func(_ *Builder, in *PacketInput) { in.MetaLabels = map[string]string{"centerId": "x"} },
			[]string{`metaData label "centerId" is set by the builder`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, in := testBuilder(), good
			tt.mutate(b, &in)
			_, err := b.CreatePacket(in)
			if err == nil {
				t.Fatalf("CreatePacket() = nil error, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("CreatePacket() error %q is missing %q", err, w)
				}
			}
		})
	}
	if _, err := testBuilder().CreatePacket(good); err != nil {
		t.Errorf("CreatePacket(good) = %v", err)
	}
}

func TestWorkflowInstanceRefusesBadInput(t *testing.T) {
	t.Parallel()
	b := testBuilder()
	b.Source = ""
	_, err := b.WorkflowInstance(WorkflowInput{})
	for _, w := range []string{"RID is required", "process is required", "source is required"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("WorkflowInstance({}) error %v is missing %q", err, w)
		}
	}
}

func TestBuilderDefaults(t *testing.T) {
	t.Parallel()
	b := &Builder{CenterID: "10001", MachineID: "10004", Source: "CRVS1", SchemaVersion: "0.1"}
	req, err := b.CreatePacket(PacketInput{RID: "100011234567890", Process: "CRVS_NEW", RegistrationType: RegistrationNew,
		SchemaJSON: `{}`, Fields: map[string]string{"UIN": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	a := req.Request.Audits[0]
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(a["uuid"]) {
		t.Errorf("default uuid %q is not a version 4 UUID", a["uuid"])
	}
	if a["hostName"] == "" || a["hostIp"] != "127.0.0.1" {
		t.Errorf("default host = %q %q", a["hostName"], a["hostIp"])
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", req.RequestTime); err != nil {
		t.Errorf("requesttime %q: %v", req.RequestTime, err)
	}
}
