package mosip

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestPacketManagerCreateHappyPath(t *testing.T) {
	t.Parallel()
	e := pmtNewEnv(t, pmtConfig{})
	rid := pmtRID()
	res := e.create(t, pmtPacket(rid, "CRVS1", "CRVS_NEW", pmtBirthFields("Jane Doe")))
	if res.Status != http.StatusOK {
		t.Fatalf("status %d: %s", res.Status, res.Raw)
	}
	if res.Body["id"] != PacketWriterResponseID || res.Body["version"] != "v1" {
		t.Errorf("envelope id/version = %v/%v", res.Body["id"], res.Body["version"])
	}
	if errs, ok := res.Body["errors"].([]any); !ok || len(errs) != 0 {
		t.Errorf("errors = %#v, want []", res.Body["errors"])
	}
	list, ok := res.Body["response"].([]any)
	if !ok || len(list) != 3 {
		t.Fatalf("response = %s, want 3 PacketInfos", res.Raw)
	}
	// MOSIP's writer iterates a HashMap of sub-packet names.
	wantNames := []string{rid + "_evidence", rid + "_optional", rid + "_id"}
	b64url := regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	for i, item := range list {
		info := item.(map[string]any)
		want := map[string]any{"id": rid, "packetName": wantNames[i], "source": "CRVS1", "process": "CRVS_NEW",
			"refId": "10001_10004", "schemaVersion": "0.1", "providerName": "PacketWriterImpl", "providerVersion": "v1.0"}
		for k, v := range want {
			if info[k] != v {
				t.Errorf("info[%d].%s = %v, want %v", i, k, info[k], v)
			}
		}
		for _, k := range []string{"signature", "encryptedHash"} {
			s, _ := info[k].(string)
			if !b64url.MatchString(s) {
				t.Errorf("info[%d].%s = %q is not unpadded base64url", i, k, s)
			}
		}
		if h, err := base64.RawURLEncoding.DecodeString(info["encryptedHash"].(string)); err != nil || len(h) != 32 {
			t.Errorf("encryptedHash decodes to %d bytes (%v), want a SHA-256", len(h), err)
		}
		if _, err := time.Parse("2006-01-02T15:04:05.000Z", info["creationDate"].(string)); err != nil {
			t.Errorf("creationDate %v: %v", info["creationDate"], err)
		}
	}

	p, ok := e.pm.PacketFor(rid, "CRVS1", "CRVS_NEW")
	if !ok {
		t.Fatal("packet not stored")
	}
	if p.SchemaVersion != 0.1 || p.RefID != "10001_10004" {
		t.Errorf("stored version/refId = %v/%q", p.SchemaVersion, p.RefID)
	}
	if _, ok := p.Values["fullName"].([]any); !ok {
		t.Errorf("fullName stored as %T, want a structured JSON array", p.Values["fullName"])
	}
	if p.Values["dateOfBirth"] != "2025/01/31" || p.Fields["fullName"] != pmtSimple("Jane Doe") {
		t.Errorf("stored values: dob %v fullName %q", p.Values["dateOfBirth"], p.Fields["fullName"])
	}
	if p.MetaInfo["registrationId"] != rid || p.MetaInfo["creationDate"] == nil {
		t.Errorf("writer metaInfo additions missing: %v", p.MetaInfo)
	}
	if _, ok := p.MetaInfo["metaData"].([]any); !ok {
		t.Errorf("metaInfo.metaData stored as %T, want structured", p.MetaInfo["metaData"])
	}
	if len(p.Audits) != 1 || p.Audits[0]["eventId"] != "CRVS_CREATE_PACKET" {
		t.Errorf("audits = %v", p.Audits)
	}
	if got, ok := e.pm.Packet(rid); !ok || got.ID != rid {
		t.Errorf("Packet(%s) = %v, %v", rid, got.ID, ok)
	}
	if n := len(e.pm.Packets()); n != 1 {
		t.Errorf("Packets() has %d packets", n)
	}
	calls := e.pm.Calls()
	if len(calls) != 1 || calls[0].Result != PacketCreated || calls[0].ClientID != "mosip-crvs1-client" || calls[0].ID != rid {
		t.Errorf("calls = %+v", calls)
	}
	if d := e.pm.DroppedFields(rid); len(d) != 0 {
		t.Errorf("dropped = %v", d)
	}
}

func TestPacketManagerAuth(t *testing.T) {
	t.Parallel()
	e := pmtNewEnv(t, pmtConfig{})
	expired := pmtExpiredToken(t, e)
	cases := []struct {
		name       string
		token      string
		hdr        []string
		wantStatus int
		wantCode   string
	}{
		{"no cookie", "", nil, 401, "KER-ATH-401"},
		{"bearer header instead of cookie", "", []string{"Authorization", "Bearer " + e.token}, 401, "KER-ATH-401"},
		{"raw header instead of cookie", "", []string{"Authorization", e.token}, 401, "KER-ATH-401"},
		{"expired token", expired, nil, 401, "KER-ATH-401"},
		{"foreign token", "eyJhbGciOiJub25lIn0.e30.", nil, 401, "KER-ATH-401"},
		{"role missing", pmtToken(t, e, "resident-only"), nil, 403, "KER-ATH-403"},
		{"ONLINE_REGISTRATION_CLIENT only", pmtToken(t, e, "orc-only"), nil, 200, ""},
		{"REGISTRATION_PROCESSOR only", pmtToken(t, e, "regproc-only"), nil, 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rid := pmtRID()
			res := pmtDo(t, e, http.MethodPut, CreatePacketPath, pmtPacket(rid, "CRVS1", "CRVS_NEW", pmtBirthFields("Jane Doe")), c.token, c.hdr...)
			if res.Status != c.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.Status, c.wantStatus, res.Raw)
			}
			if got := pmtErrorCodes(res.Body); c.wantCode != "" && (len(got) != 1 || got[0] != c.wantCode) {
				t.Errorf("errors = %v, want [%s]", got, c.wantCode)
			}
			if _, stored := e.pm.PacketFor(rid, "CRVS1", "CRVS_NEW"); stored != (c.wantStatus == 200) {
				t.Errorf("packet stored = %v", stored)
			}
		})
	}
}

// Every writer failure after the provider check answers HTTP 200 with
// response:null and errors:[]; the code MOSIP only logs is in Calls.
func TestPacketManagerNullResponseQuirks(t *testing.T) {
	t.Parallel()
	e := pmtNewEnv(t, pmtConfig{})
	cases := []struct {
		name     string
		mutate   func(req, fields map[string]any)
		wantCode string
	}{
		{"dateOfBirth not yyyy/MM/dd", func(_, f map[string]any) { f["dateOfBirth"] = "2025-01-31" }, "KER-KPM-007"},
		{"fullName plain string, not simpleType", func(_, f map[string]any) { f["fullName"] = "Jane Doe" }, "KER-KPM-007"},
		{"simpleType entry without language", func(_, f map[string]any) { f["gender"] = `[{"value":"Female"}]` }, "KER-KPM-007"},
		{"simpleType entry with extra property", func(_, f map[string]any) {
			f["gender"] = `[{"language":"eng","value":"Female","code":"F"}]`
		}, "KER-KPM-007"},
		{"simpleType not unique", func(_, f map[string]any) {
			f["gender"] = `[{"language":"eng","value":"F"},{"language":"eng","value":"F"}]`
		}, "KER-KPM-007"},
		{"fullName shorter than its validator allows", func(_, f map[string]any) { f["fullName"] = pmtSimple("Jo") }, "KER-KPM-007"},
		{"fullName longer than 50", func(_, f map[string]any) { f["fullName"] = pmtSimple(strings.Repeat("a", 51)) }, "KER-KPM-007"},
		{"deathDeclared outside yes|no", func(_, f map[string]any) { f["deathDeclared"] = "maybe" }, "KER-KPM-007"},
		{"boolean field stays a string", func(_, f map[string]any) { f["deceasedStatus"] = "true" }, "KER-KPM-007"},
		{"selectedHandles of numbers", func(_, f map[string]any) { f["selectedHandles"] = "[1,2]" }, "KER-KPM-007"},
		{"empty audits", func(r, _ map[string]any) { r["audits"] = []any{} }, "KER-KPM-008"},
		{"no audits", func(r, _ map[string]any) { delete(r, "audits") }, "KER-KPM-008"},
		{"schemaJson not JSON", func(r, _ map[string]any) { r["schemaJson"] = "{not json" }, "KER-KPM-002"},
		{"schemaJson without identity", func(r, _ map[string]any) { r["schemaJson"] = `{"properties":{}}` }, "KER-KPM-002"},
		{"schemaJson with unknown fieldCategory", func(r, _ map[string]any) {
			r["schemaJson"] = `{"properties":{"identity":{"properties":{"x":{"type":"string","fieldCategory":"secret"}}}}}`
		}, "KER-KPM-002"},
		{"schemaVersion not a number", func(r, _ map[string]any) { r["schemaVersion"] = "v0.1" }, "KER-KPM-006"},
		{"schemaVersion missing", func(r, _ map[string]any) { delete(r, "schemaVersion") }, "KER-KPM-006"},
		{"nothing to write", func(r, _ map[string]any) {
			delete(r, "fields")
			delete(r, "metaInfo")
			delete(r, "audits")
		}, "KER-KPM-009"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rid := pmtRID()
			body := pmtPacket(rid, "CRVS1", "CRVS_NEW", pmtBirthFields("Jane Doe"))
			req := pmtReq(body)
			c.mutate(req, req["fields"].(map[string]any))
			res := e.create(t, body)
			if res.Status != http.StatusOK {
				t.Fatalf("status %d, want 200: %s", res.Status, res.Raw)
			}
			if r, present := res.Body["response"]; !present || r != nil {
				t.Errorf("response = %v, want null", r)
			}
			if errs, ok := res.Body["errors"].([]any); !ok || len(errs) != 0 {
				t.Errorf("errors = %#v, want []", res.Body["errors"])
			}
			if res.Body["id"] != PacketWriterResponseID {
				t.Errorf("envelope id = %v", res.Body["id"])
			}
			if _, ok := e.pm.Packet(rid); ok {
				t.Error("a packet was stored")
			}
			var call *PacketCall
			for _, c := range e.pm.Calls() {
				if c.ID == rid {
					call = &c
				}
			}
			if call == nil || call.Result != PacketNullResponse || call.ErrorCode != c.wantCode {
				t.Errorf("call = %+v, want null-response %s", call, c.wantCode)
			}
		})
	}
}

func TestPacketManagerNoProvider(t *testing.T) {
	t.Parallel()
	e := pmtNewEnv(t, pmtConfig{})
	cases := []struct {
		name            string
		source, process any
	}{
		{"TS middleware pair OPENCRVS+CRVS_NEW", "OPENCRVS", "CRVS_NEW"},
		{"unknown process", "CRVS1", "CRVS_BIRTH"},
		{"process names are case sensitive", "CRVS1", "crvs_new"},
		{"no source", nil, "CRVS_NEW"},
		{"no process", "CRVS1", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			body := pmtPacket(pmtRID(), "", "", pmtBirthFields("Jane Doe"))
			pmtReq(body)["source"], pmtReq(body)["process"] = c.source, c.process
			res := e.create(t, body)
			if res.Status != http.StatusOK {
				t.Fatalf("status %d: %s", res.Status, res.Raw)
			}
			if got := pmtErrorCodes(res.Body); !reflect.DeepEqual(got, []string{"KER-PUT-006"}) {
				t.Fatalf("errors = %v: %s", got, res.Raw)
			}
			if msg := pmtErrorMessage(res.Body); msg != "No available provider for given source and process" {
				t.Errorf("message = %q", msg)
			}
			// The controller advice builds a bare ResponseWrapper.
			if res.Body["id"] != nil || res.Body["version"] != nil || res.Body["response"] != nil {
				t.Errorf("advice envelope id/version/response = %v/%v/%v", res.Body["id"], res.Body["version"], res.Body["response"])
			}
		})
	}

	t.Run("SetProviders", func(t *testing.T) {
		t.Parallel()
		e := pmtNewEnv(t, pmtConfig{pm: func(o *PacketManagerOptions) {
			o.Providers = map[string][]string{"OPENCRVS": {"CRVS_NEW"}}
		}})
		if res := e.create(t, pmtPacket(pmtRID(), "OPENCRVS", "CRVS_NEW", pmtBirthFields("Jane Doe"))); res.Body["response"] == nil {
			t.Fatalf("configured OPENCRVS+CRVS_NEW refused: %s", res.Raw)
		}
		if res := e.create(t, pmtPacket(pmtRID(), "CRVS1", "CRVS_NEW", pmtBirthFields("Jane Doe"))); !reflect.DeepEqual(pmtErrorCodes(res.Body), []string{"KER-PUT-006"}) {
			t.Fatalf("unconfigured CRVS1 accepted: %s", res.Raw)
		}
		e.pm.SetProviders(DefaultPacketProviders())
		if res := e.create(t, pmtPacket(pmtRID(), "CRVS1", "CRVS_DEATH", map[string]any{"UIN": "7186723906"})); res.Body["response"] == nil {
			t.Fatalf("after SetProviders(defaults) CRVS1+CRVS_DEATH refused: %s", res.Raw)
		}
	})
}

// Requests Spring never hands to the controller get Spring Boot's own
// error bodies, not a MOSIP envelope.
func TestPacketManagerUnreadableRequests(t *testing.T) {
	t.Parallel()
	e := pmtNewEnv(t, pmtConfig{})
	good := func() map[string]any { return pmtPacket(pmtRID(), "CRVS1", "CRVS_NEW", pmtBirthFields("Jane Doe")) }
	cases := []struct {
		name       string
		body       func() any
		hdr        []string
		wantStatus int
	}{
		{"not JSON", func() any { return []byte(`{"request": {`) }, nil, 400},
		{"empty body", func() any { return []byte{} }, nil, 400},
		{"body is an array", func() any { return []byte(`[]`) }, nil, 400},
		{"field value is a JSON object, not a string", func() any {
			b := good()
			pmtReq(b)["fields"].(map[string]any)["fullName"] = []map[string]string{{"language": "eng", "value": "Jane Doe"}}
			return b
		}, nil, 400},
		{"metaInfo value is an object", func() any {
			b := good()
			pmtReq(b)["metaInfo"].(map[string]any)["metaData"] = map[string]any{"label": "x"}
			return b
		}, nil, 400},
		{"fields is a string", func() any { b := good(); pmtReq(b)["fields"] = "{}"; return b }, nil, 400},
		{"audits is an object, not a list", func() any {
			b := good()
			pmtReq(b)["audits"] = map[string]string{"eventId": "X"}
			return b
		}, nil, 400},
		{"offlineMode is an object", func() any { b := good(); pmtReq(b)["offlineMode"] = map[string]any{}; return b }, nil, 400},
		{"requesttime not a date", func() any { b := good(); b["requesttime"] = "yesterday"; return b }, nil, 400},
		{"document not base64", func() any {
			b := good()
			pmtReq(b)["documents"] = map[string]any{"proofOfBirth": map[string]any{"document": "!!!", "format": "pdf"}}
			return b
		}, nil, 400},
		{"wrong content type", func() any { return good() }, []string{"Content-Type", "text/plain"}, 415},
		{"request missing", func() any { b := good(); delete(b, "request"); return b }, nil, 500},
		{"request null", func() any { b := good(); b["request"] = nil; return b }, nil, 500},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res := pmtDo(t, e, http.MethodPut, CreatePacketPath, c.body(), e.token, c.hdr...)
			if res.Status != c.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.Status, c.wantStatus, res.Raw)
			}
			if res.Body["status"] != float64(c.wantStatus) || res.Body["error"] != http.StatusText(c.wantStatus) ||
				res.Body["path"] != CreatePacketPath || res.Body["timestamp"] == nil {
				t.Errorf("not Spring Boot's error body: %s", res.Raw)
			}
		})
	}

	t.Run("scalars are coerced to strings", func(t *testing.T) {
		t.Parallel()
		b := good()
		rid := pmtReq(b)["id"].(string)
		pmtReq(b)["fields"].(map[string]any)["birthCertificateNumber"] = 20250131
		pmtReq(b)["schemaVersion"] = 0.1
		pmtReq(b)["offlineMode"] = "false"
		res := e.create(t, b)
		if res.Body["response"] == nil {
			t.Fatalf("coercible scalars refused: %s", res.Raw)
		}
		p, _ := e.pm.PacketFor(rid, "CRVS1", "CRVS_NEW")
		if p.Values["birthCertificateNumber"] != "20250131" {
			t.Errorf("number stored as %#v, want the string \"20250131\"", p.Values["birthCertificateNumber"])
		}
	})

	t.Run("wrong method", func(t *testing.T) {
		t.Parallel()
		res := pmtDo(t, e, http.MethodPost, CreatePacketPath, good(), e.token)
		if res.Status != http.StatusMethodNotAllowed {
			t.Errorf("POST createPacket: status %d, want 405", res.Status)
		}
	})
}

func TestPacketManagerDroppedFields(t *testing.T) {
	t.Parallel()
	e := pmtNewEnv(t, pmtConfig{})
	rid := pmtRID()
	fields := pmtBirthFields("Jane Doe")
	fields["informantName"] = "John Doe"          // not in the schema
	fields["motherNid"] = "1234567890"            // not in the schema
	fields["proofOfAddress"] = "proof.pdf"        // a documentType field sent as a field
	fields["email"] = ""                          // JSONTokener: Missing value
	fields["phone"] = "#0123456789"               // a leading delimiter: Missing value
	fields["addressLine2"] = `[{"language":"eng"` // malformed JSON array
	fields["city"] = nil                          // null is never written
	body := pmtPacket(rid, "CRVS1", "CRVS_NEW", fields)
	pmtReq(body)["documents"] = map[string]any{
		"proofOfBirth":    map[string]any{"document": base64.StdEncoding.EncodeToString([]byte("%PDF")), "value": "proofOfBirth", "type": "DOC001", "format": "pdf"},
		"proofOfIdentity": map[string]any{"document": base64.StdEncoding.EncodeToString([]byte("%PDF")), "type": "DOC002", "format": "pdf", "refNumber": "123"},
	}
	res := e.create(t, body)
	if res.Body["response"] == nil {
		t.Fatalf("createPacket failed: %s", res.Raw)
	}
	got := map[string]string{}
	for _, d := range e.pm.DroppedFields(rid) {
		got[d.Name] = d.Reason
	}
	for _, name := range []string{"informantName", "motherNid", "proofOfAddress", "email", "phone", "addressLine2", "city", "documents.proofOfBirth"} {
		if got[name] == "" {
			t.Errorf("%s not reported dropped (dropped: %v)", name, got)
		}
	}
	if len(got) != 8 {
		t.Errorf("dropped %d fields, want 8: %v", len(got), got)
	}
	p, _ := e.pm.PacketFor(rid, "CRVS1", "CRVS_NEW")
	for _, name := range []string{"informantName", "motherNid", "proofOfAddress", "email", "phone", "addressLine2", "city"} {
		if _, ok := p.Values[name]; ok {
			t.Errorf("dropped field %s is in the packet", name)
		}
	}
	if d, ok := p.Documents["proofOfIdentity"]; !ok || d.Size != 4 || d.Type != "DOC002" {
		t.Errorf("declared document = %+v, %v", d, ok)
	}
}

func TestPacketManagerTokenizer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in     string
		ok     bool
		stored any
	}{
		{`[{"language":"eng","value":"Jane"}]`, true, []any{map[string]any{"language": "eng", "value": "Jane"}}},
		{`  {"a":1}`, true, map[string]any{"a": json.Number("1")}},
		{`["x"] trailing`, true, []any{"x"}},
		{"Jane Doe", true, "Jane Doe"},
		{"12345", true, "12345"},
		{"true", true, "true"},
		{`"quoted"`, true, `"quoted"`},
		{`'single'`, true, `'single'`},
		{"", false, nil},
		{"   ", false, nil},
		{"#tag", false, nil},
		{"/path", false, nil},
		{"=x", false, nil},
		{`"unterminated`, false, nil},
		{`[{"language":`, false, nil},
		{`{bad}`, false, nil},
	}
	for _, c := range cases {
		v, ok, why := pmTokenize(c.in)
		if ok != c.ok || !reflect.DeepEqual(v, c.stored) {
			t.Errorf("pmTokenize(%q) = %#v, %v (%s); want %#v, %v", c.in, v, ok, why, c.stored, c.ok)
		}
	}
}

func TestPacketManagerOverwriteAndDeleteOnFailedRecreate(t *testing.T) {
	t.Parallel()
	e := pmtNewEnv(t, pmtConfig{})
	rid := pmtRID()
	mustCreate := func(name string) {
		t.Helper()
		if res := e.create(t, pmtPacket(rid, "CRVS1", "CRVS_NEW", pmtBirthFields(name))); res.Body["response"] == nil {
			t.Fatalf("create %s: %s", name, res.Raw)
		}
	}
	mustCreate("Jane Doe")
	mustCreate("Janet Doe")
	p, ok := e.pm.PacketFor(rid, "CRVS1", "CRVS_NEW")
	if !ok || p.Fields["fullName"] != pmtSimple("Janet Doe") {
		t.Fatalf("re-create did not overwrite: %v", p.Fields["fullName"])
	}
	if n := len(e.pm.Packets()); n != 1 {
		t.Fatalf("%d packets after overwrite, want 1", n)
	}

	// A failure before the writer's try (schemaJson unreadable) keeps it.
	bad := pmtPacket(rid, "CRVS1", "CRVS_NEW", pmtBirthFields("Jane Doe"))
	pmtReq(bad)["schemaJson"] = "not json"
	if res := e.create(t, bad); res.Body["response"] != nil {
		t.Fatalf("bad schemaJson accepted: %s", res.Raw)
	}
	if _, ok := e.pm.PacketFor(rid, "CRVS1", "CRVS_NEW"); !ok {
		t.Fatal("a schemaJson failure deleted the stored packet")
	}

	// A failure inside it (invalid value) deletes the good packet.
	fields := pmtBirthFields("Jane Doe")
	fields["dateOfBirth"] = "31/01/2025"
	if res := e.create(t, pmtPacket(rid, "CRVS1", "CRVS_NEW", fields)); res.Body["response"] != nil {
		t.Fatalf("invalid re-create accepted: %s", res.Raw)
	}
	if _, ok := e.pm.PacketFor(rid, "CRVS1", "CRVS_NEW"); ok {
		t.Fatal("failed re-create did not delete the previously stored packet")
	}

	// Another process's packet for the same RID is a separate object.
	mustCreate("Jane Doe")
	if res := e.create(t, pmtPacket(rid, "CRVS1", "CRVS_UPDATE", map[string]any{"UIN": "7186723906", "dateOfBirth": "bad"})); res.Body["response"] != nil {
		t.Fatalf("invalid update accepted: %s", res.Raw)
	}
	if _, ok := e.pm.PacketFor(rid, "CRVS1", "CRVS_NEW"); !ok {
		t.Fatal("a failed CRVS_UPDATE deleted the CRVS_NEW packet")
	}
}

func TestPacketManagerFailNext(t *testing.T) {
	t.Parallel()
	e := pmtNewEnv(t, pmtConfig{})
	rid := pmtRID()
	body := pmtPacket(rid, "CRVS1", "CRVS_NEW", pmtBirthFields("Jane Doe"))
	if res := e.create(t, body); res.Body["response"] == nil {
		t.Fatalf("create: %s", res.Raw)
	}
	e.pm.FailNext(1)
	if res := e.create(t, body); res.Status != 200 || res.Body["response"] != nil {
		t.Fatalf("injected failure: status %d %s", res.Status, res.Raw)
	}
	if _, ok := e.pm.Packet(rid); ok {
		t.Error("injected keeper failure did not delete the packet")
	}
	if res := e.create(t, body); res.Body["response"] == nil {
		t.Fatalf("FailNext(1) failed more than once: %s", res.Raw)
	}
}

func TestPacketManagerOptions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		cfg     func(*PacketManagerOptions)
		mutate  func(req map[string]any)
		created bool
	}{
		{"no schemaJson uses the configured schema", nil, func(r map[string]any) { delete(r, "schemaJson") }, true},
		{"RequireSchemaJSON fails without schemaJson", func(o *PacketManagerOptions) { o.RequireSchemaJSON = true },
			func(r map[string]any) { delete(r, "schemaJson") }, false},
		{"DeferFieldValidation stores invalid values", func(o *PacketManagerOptions) { o.DeferFieldValidation = true },
			func(r map[string]any) { r["fields"].(map[string]any)["dateOfBirth"] = "2025-01-31" }, true},
		{"configured schema without dateOfBirth drops it", func(o *PacketManagerOptions) {
			o.Schema = []byte(`{"properties":{"identity":{"properties":{"fullName":{"$ref":"#/definitions/simpleType","fieldCategory":"pvt"}}}},
				"definitions":{"simpleType":{"type":"array"}}}`)
		}, func(r map[string]any) { delete(r, "schemaJson") }, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := pmtNewEnv(t, pmtConfig{pm: c.cfg})
			rid := pmtRID()
			body := pmtPacket(rid, "CRVS1", "CRVS_NEW", pmtBirthFields("Jane Doe"))
			c.mutate(pmtReq(body))
			res := e.create(t, body)
			if created := res.Body["response"] != nil; created != c.created {
				t.Fatalf("created = %v, want %v: %s", created, c.created, res.Raw)
			}
		})
	}

	if _, err := NewPacketManager(PacketManagerOptions{}); err == nil {
		t.Error("NewPacketManager without Auth succeeded")
	}
	auth, _ := NewAuthManager()
	if _, err := NewPacketManager(PacketManagerOptions{Auth: auth, Schema: []byte("{}")}); err == nil {
		t.Error("NewPacketManager with an unloadable schema succeeded")
	}
}

func TestPacketManagerOfflineMode(t *testing.T) {
	t.Parallel()
	e := pmtNewEnv(t, pmtConfig{})
	rid := pmtRID()
	body := pmtPacket(rid, "CRVS1", "CRVS_NEW", pmtBirthFields("Jane Doe"))
	pmtReq(body)["offlineMode"] = true
	res := e.create(t, body)
	list, _ := res.Body["response"].([]any)
	if len(list) != 3 {
		t.Fatalf("response: %s", res.Raw)
	}
	info := list[0].(map[string]any)
	if !regexp.MustCompile(`^` + rid + `-10001_10004-\d{14}$`).MatchString(info["id"].(string)) {
		t.Errorf("offline id = %v, want <rid>-<refId>-yyyyMMddHHmmss", info["id"])
	}
	if info["packetName"] != rid+"_evidence" {
		t.Errorf("packetName = %v", info["packetName"])
	}
}

func TestPacketManagerJavaDouble(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		ok   bool
		want string
	}{
		{"0.100", true, "0.1"},
		{"1", true, "1.0"},
		{" 1.5 ", true, "1.5"},
		{"2d", true, "2.0"},
		{"1e7", true, "1.0E7"},
		{"0.0001", true, "1.0E-4"},
		{"123456.789", true, "123456.789"},
		{"-0", true, "-0.0"},
		{"NaN", true, "NaN"},
		{"Infinity", true, "Infinity"},
		{"inf", false, ""},
		{"nan", false, ""},
		{"", false, ""},
		{"0.1.2", false, ""},
		{"1_0", false, ""},
	}
	for _, c := range cases {
		f, err := pmParseJavaDouble(c.in)
		if (err == nil) != c.ok {
			t.Errorf("pmParseJavaDouble(%q) error = %v, want ok=%v", c.in, err, c.ok)
			continue
		}
		if c.ok {
			if got := pmJavaDoubleString(f); got != c.want {
				t.Errorf("Double.toString(%q) = %q, want %q", c.in, got, c.want)
			}
		}
	}
	if got := pmJavaDoubleString(math.Inf(-1)); got != "-Infinity" {
		t.Errorf("-Inf = %q", got)
	}
}

// pmObject and pmArray split what encoding/json validated without a second
// decode; they must give exactly what decoding into
// map[string]json.RawMessage / []json.RawMessage gives.
var pmtSplitSeeds = []string{
	`{}`, ` { } `, `[]`, `null`, `"s"`, `1`, `{"a":1}`, `{"a":1,"a":2}`, `{"a" : [1, {"b":"}"}] , "c":null}`,
	`{"\u0072equest":{"x":"\"quoted\" \\ back\\\\"}}`, `{"k\\":"v\\\\"}`, `{"é":"ü","\ud83d\ude00":true}`,
	"{\"bad utf8 \xff\":\"\xfe\"}", `{"n":-1.5e+10,"t":true,"f":false}`, `[1,"two",{"3":[4]},null]`,
	`{"a":{"b":{"c":[[[]]]}}}`, "\t{\n\"ws\"\r:\t\"x\"\n}\n", `{"a":"]}"}`, `{"":""}`,
}

func TestPMObjectMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range pmtSplitSeeds {
		pmtCheckSplit(t, []byte(s))
	}
	body, err := json.Marshal(pmtPacket(pmtRID(), "CRVS1", "CRVS_NEW", pmtBirthFields("Jane Doe")))
	if err != nil {
		t.Fatal(err)
	}
	pmtCheckSplit(t, body)
}

func FuzzPMObject(f *testing.F) {
	for _, s := range pmtSplitSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pmtCheckSplit(t, data)
	})
}

func pmtCheckSplit(t *testing.T, data []byte) {
	t.Helper()
	valid := json.Valid(data)
	var wantObj map[string]json.RawMessage
	wantObjErr := pmStrictUnmarshal(data, &wantObj)
	gotObj, gotObjErr := pmObject(data, valid)
	if (gotObjErr != nil) != (wantObjErr != nil) || !reflect.DeepEqual(gotObj, wantObj) {
		t.Errorf("pmObject(%q) = %q, %v; encoding/json: %q, %v", data, gotObj, gotObjErr, wantObj, wantObjErr)
	}
	var wantArr []json.RawMessage
	wantArrErr := pmStrictUnmarshal(data, &wantArr)
	gotArr, gotArrErr := pmArray(data, valid)
	if (gotArrErr != nil) != (wantArrErr != nil) || !reflect.DeepEqual(gotArr, wantArr) {
		t.Errorf("pmArray(%q) = %q, %v; encoding/json: %q, %v", data, gotArr, gotArrErr, wantArr, wantArrErr)
	}
	// Whatever it is given, the splitter must not fail the wrong way.
	_, _ = pmMembers(data)
	_, _ = pmElements(data)
}

// Clients send the same schemaJson with every packet: it is parsed once,
// by its bytes, and a different or broken one is not confused with it.
func TestPacketManagerSchemaCache(t *testing.T) {
	t.Parallel()
	e := pmtNewEnv(t, pmtConfig{})
	schemaOf := func(mutate func(req map[string]any)) (*IDSchema, pmtResult) {
		t.Helper()
		rid := pmtRID()
		body := pmtPacket(rid, "CRVS1", "CRVS_NEW", pmtBirthFields("Jane Doe"))
		if mutate != nil {
			mutate(pmtReq(body))
		}
		res := e.create(t, body)
		p, _ := e.pm.PacketFor(rid, "CRVS1", "CRVS_NEW")
		return p.Schema, res
	}
	first, _ := schemaOf(nil)
	second, _ := schemaOf(nil)
	if first == nil || first != second {
		t.Fatalf("the same schemaJson parsed twice (%p, %p)", first, second)
	}
	if n := e.pm.schemas.len(); n != 1 {
		t.Errorf("%d schemas cached, want 1", n)
	}
	// Same schema, other bytes (pretty-printed): parsed on its own, and
	// validates alike.
	var doc any
	if err := json.Unmarshal(DefaultIDSchema(), &doc); err != nil {
		t.Fatal(err)
	}
	pretty, _ := json.MarshalIndent(doc, "", "  ")
	third, res := schemaOf(func(r map[string]any) { r["schemaJson"] = string(pretty) })
	if third == nil || third == first || res.Body["response"] == nil {
		t.Errorf("pretty-printed schema: %p (first %p): %s", third, first, res.Raw)
	}
	// A schema without dateOfBirth drops it: cached schemas are not mixed up.
	small := `{"properties":{"identity":{"properties":{"fullName":{"$ref":"#/definitions/simpleType","fieldCategory":"pvt"},
		"gender":{"$ref":"#/definitions/simpleType","fieldCategory":"pvt"}}}},"definitions":{"simpleType":{"type":"array"}}}`
	for range 2 {
		rid := pmtRID()
		body := pmtPacket(rid, "CRVS1", "CRVS_NEW", pmtBirthFields("Jane Doe"))
		pmtReq(body)["schemaJson"] = small
		if res := e.create(t, body); res.Body["response"] == nil {
			t.Fatalf("small schema: %s", res.Raw)
		}
		if d := e.pm.DroppedFields(rid); len(d) == 0 || d[0].Name != "addressLine1" {
			t.Errorf("small schema dropped %v, want addressLine1 and the others", d)
		}
	}
	// A broken schema fails every time and is not kept.
	for range 2 {
		if _, res := schemaOf(func(r map[string]any) { r["schemaJson"] = `{"properties":{}}` }); res.Body["response"] != nil {
			t.Errorf("broken schema accepted: %s", res.Raw)
		}
	}
	if n := e.pm.schemas.len(); n != 3 {
		t.Errorf("%d schemas cached, want 3", n)
	}
	// A number is read as its text by Jackson, and is no schema.
	if _, res := schemaOf(func(r map[string]any) { r["schemaJson"] = 12 }); res.Body["response"] != nil {
		t.Errorf("schemaJson 12 accepted: %s", res.Raw)
	}
	if c := e.pm.Calls(); c[len(c)-1].ErrorCode != "KER-KPM-002" {
		t.Errorf("schemaJson 12: %+v, want KER-KPM-002", c[len(c)-1])
	}
}

// BenchmarkCreatePacket is the emulator's share of a registration's cost
// (it shares the machine with the services benchmarked against it): one
// createPacket as CRVS clients send it, the same schemaJson every time.
func BenchmarkCreatePacket(b *testing.B) {
	e := pmtNewEnv(b, pmtConfig{rp: func(o *RegistrationProcessorOptions) { o.ProcessingDelay = time.Hour }})
	bodies := make([][]byte, b.N)
	for i := range bodies {
		raw, err := json.Marshal(pmtPacket(pmtRID(), "CRVS1", "CRVS_NEW", pmtBirthFields("Jane Doe")))
		if err != nil {
			b.Fatal(err)
		}
		bodies[i] = raw
	}
	cookie := &http.Cookie{Name: "Authorization", Value: e.token}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		req := httptest.NewRequest(http.MethodPut, CreatePacketPath, bytes.NewReader(bodies[i]))
		req.Header.Set("Content-Type", "application/json")
		req.AddCookie(cookie)
		w := httptest.NewRecorder()
		e.pm.handleCreate(w, req)
		if w.Code != http.StatusOK || bytes.Contains(w.Body.Bytes(), []byte(`"response":null`)) {
			b.Fatalf("createPacket = %d %s", w.Code, w.Body)
		}
	}
}
