package mosip

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

var rptUUID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestRegprocBirthHappyPath(t *testing.T) {
	t.Parallel()
	// Long enough that "processing" is still observable on a loaded
	// machine right after the call (5 ms was not, under CI load).
	e := pmtNewEnv(t, pmtConfig{rp: func(o *RegistrationProcessorOptions) { o.ProcessingDelay = 300 * time.Millisecond }})
	rid := pmtRID()
	if res := e.create(t, pmtPacket(rid, "CRVS1", "CRVS_NEW", pmtBirthFields("Jane Doe"))); res.Body["response"] == nil {
		t.Fatalf("createPacket: %s", res.Raw)
	}
	res := e.workflow(t, pmtWorkflow(rid, "CRVS1", "CRVS_NEW"))
	if res.Status != http.StatusOK {
		t.Fatalf("status %d: %s", res.Status, res.Raw)
	}
	if res.Body["id"] != WorkflowInstanceAPIID || res.Body["version"] != "v1" {
		t.Errorf("envelope id/version = %v/%v", res.Body["id"], res.Body["version"])
	}
	if errs, present := res.Body["errors"]; !present || errs != nil {
		t.Errorf("errors = %#v, want null", errs)
	}
	resp, _ := res.Body["response"].(map[string]any)
	wfID, _ := resp["workflowInstanceId"].(string)
	if !rptUUID.MatchString(wfID) {
		t.Fatalf("workflowInstanceId = %q, want a UUID: %s", wfID, res.Raw)
	}
	if e.rp.Status(rid) != StatusProcessing {
		t.Errorf("status before processing = %q", e.rp.Status(rid))
	}
	e.waitIdle(t)

	ins := e.rp.Instances()
	if len(ins) != 1 || ins[0].ID != wfID || ins[0].Status != ResultProcessed || ins[0].ClientID != "mosip-crvs1-client" {
		t.Fatalf("instances = %+v", ins)
	}
	if !bytes.Contains(ins[0].NotificationInfo, []byte("crvs_user@example.com")) {
		t.Errorf("notificationInfo not kept: %s", ins[0].NotificationInfo)
	}
	id, err := e.reg.Lookup(ins[0].UIN)
	if err != nil {
		t.Fatalf("identity %s not in the registry: %v", ins[0].UIN, err)
	}
	if id.FullName != "Jane Doe" || id.DateOfBirth != "2025/01/31" || id.Gender != "female" || id.VID == "" {
		t.Errorf("identity = %+v", id)
	}
	if !reflect.DeepEqual(id.RegistrationIDs, []string{rid}) || id.Fields["birthCertificateNumber"] != "2025ABCD1234" ||
		id.Fields["fullName"] != pmtSimple("Jane Doe") {
		t.Errorf("identity fields/RIDs = %v / %v", id.Fields, id.RegistrationIDs)
	}

	issued := e.issuer.issued()
	if len(issued) != 2 {
		t.Fatalf("issuer called %d times, want once per partner (2)", len(issued))
	}
	for _, is := range issued {
		if is.RID != rid || is.Identity.UIN != id.UIN {
			t.Errorf("issue call = %+v", is)
		}
	}
	for _, partner := range []string{"opencrvs-partner", "digitalcard-partner"} {
		evs := e.hub.on(CredentialTopic(partner))
		if len(evs) != 1 || !bytes.Contains(evs[0].Body, []byte(id.UIN)) {
			t.Errorf("%s: published %v", CredentialTopic(partner), evs)
		}
	}

	evs := e.hub.on(TopicWorkflowCompleted)
	if len(evs) != 1 {
		t.Fatalf("%d workflow-completed events", len(evs))
	}
	var ev map[string]any
	if err := json.Unmarshal(evs[0].Body, &ev); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"instanceId": rid, "resultCode": "PROCESSED", "workflowType": "CRVS_NEW", "errorCode": nil}
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("event = %s, want %v", evs[0].Body, want)
	}
	// Credentials go out before the packet is reported complete.
	all := e.hub.all()
	if all[len(all)-1].Topic != TopicWorkflowCompleted {
		t.Errorf("publish order = %v", all)
	}
	if c := e.rp.Completed(); len(c) != 1 || c[0].ResultCode != ResultProcessed || c[0].ErrorCode != nil {
		t.Errorf("Completed() = %+v", c)
	}
}

func TestRegprocDeath(t *testing.T) {
	t.Parallel()
	e := pmtNewEnv(t, pmtConfig{})
	person := DefaultIdentities()[0]
	rid := pmtRID()
	e.submit(t, rid, "CRVS1", "CRVS_DEATH", map[string]any{"UIN": person.UIN, "deathDeclared": "yes", "dateOfDeath": "2025/02/01"})
	e.waitIdle(t)
	id, err := e.reg.Lookup(person.UIN)
	if err != nil {
		t.Fatal(err)
	}
	if !id.Deceased || id.DateOfDeath != "2025/02/01" || id.Fields["deathDeclared"] != "yes" {
		t.Errorf("identity after death = %+v", id)
	}
	if len(id.RegistrationIDs) == 0 || id.RegistrationIDs[len(id.RegistrationIDs)-1] != rid {
		t.Errorf("death RID not recorded: %v", id.RegistrationIDs)
	}
	if n := len(e.issuer.issued()); n != 0 {
		t.Errorf("a death issued %d credentials", n)
	}
	for _, ev := range e.hub.all() {
		if strings.HasSuffix(ev.Topic, "/"+CredentialIssuedEvent) {
			t.Errorf("a death published on %s", ev.Topic)
		}
	}
	evs := e.completed(t, rid)
	if len(evs) != 1 || evs[0]["resultCode"] != "PROCESSED" || evs[0]["workflowType"] != "CRVS_DEATH" || evs[0]["errorCode"] != nil {
		t.Errorf("events = %v", evs)
	}
}

func TestRegprocFailures(t *testing.T) {
	t.Parallel()
	e := pmtNewEnv(t, pmtConfig{})
	person := DefaultIdentities()[1]
	birth := func(mod func(map[string]any)) map[string]any {
		f := pmtBirthFields("Jane Doe")
		mod(f)
		return f
	}
	cases := []struct {
		name    string
		process string
		fields  map[string]any
		reason  string
	}{
		{"death without UIN", "CRVS_DEATH", map[string]any{"deathDeclared": "yes", "dateOfDeath": "2025/02/01"}, "mandatory attribute UIN"},
		{"death of an unknown UIN", "CRVS_DEATH", map[string]any{"UIN": "1000000001", "deathDeclared": "yes"}, "not found"},
		{"death by VID (vid-support-for-update=false)", "CRVS_DEATH", map[string]any{"UIN": person.VID, "deathDeclared": "yes"}, "not found"},
		{"update of an unknown UIN", "CRVS_UPDATE", map[string]any{"UIN": "1000000001", "fullName": pmtSimple("New Name")}, "not found"},
		{"update without UIN or VID", "CRVS_UPDATE", map[string]any{"fullName": pmtSimple("New Name")}, "mandatory attribute UIN|vid"},
		{"birth without gender", "CRVS_NEW", birth(func(f map[string]any) { delete(f, "gender") }), "mandatory attribute gender"},
		{"birth without addressLine1 (schema required)", "CRVS_NEW", birth(func(f map[string]any) { delete(f, "addressLine1") }), "mandatory attribute addressLine1"},
		{"birth whose fullName was dropped", "CRVS_NEW", birth(func(f map[string]any) { f["fullName"] = "" }), "mandatory attribute fullName"},
	}
	t.Run("group", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				rid := pmtRID()
				before := len(e.reg.All())
				e.submit(t, rid, "CRVS1", c.process, c.fields)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				for e.rp.Status(rid) == StatusProcessing && ctx.Err() == nil {
					time.Sleep(2 * time.Millisecond)
				}
				var in WorkflowInstance
				for _, i := range e.rp.Instances() {
					if i.RegistrationID == rid {
						in = i
					}
				}
				if in.Status != ResultFailed || in.ErrorCode != ErrorPacketFailed || !strings.Contains(in.Reason, c.reason) {
					t.Errorf("instance = %+v, want FAILED/PACKET_FAILED with %q", in, c.reason)
				}
				evs := e.completed(t, rid)
				if len(evs) != 1 || evs[0]["resultCode"] != "FAILED" || evs[0]["errorCode"] != "PACKET_FAILED" || evs[0]["workflowType"] != c.process {
					t.Errorf("events = %v", evs)
				}
				if c.process == "CRVS_NEW" && len(e.reg.All()) != before {
					t.Error("a failed birth created an identity")
				}
			})
		}
	})
	if id, _ := e.reg.Lookup(person.UIN); id.Deceased {
		t.Error("a death by VID marked the holder deceased")
	}
}

func TestRegprocUpdate(t *testing.T) {
	t.Parallel()
	e := pmtNewEnv(t, pmtConfig{})
	people := DefaultIdentities()
	cases := []struct {
		name   string
		by     func(Identity) map[string]any
		target Identity
	}{
		{"by UIN", func(p Identity) map[string]any { return map[string]any{"UIN": p.UIN} }, people[2]},
		{"by VID", func(p Identity) map[string]any { return map[string]any{"vid": p.VID} }, people[3]},
	}
	t.Run("group", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				fields := c.by(c.target)
				fields["fullName"] = pmtSimple("Renamed Person")
				fields["gender"] = pmtSimple("Male")
				fields["dateOfBirth"] = "1990/05/06"
				rid := pmtRID()
				e.submit(t, rid, "CRVS1", "CRVS_UPDATE", fields)
				e.waitIdle(t)
				id, _ := e.reg.Lookup(c.target.UIN)
				if id.FullName != "Renamed Person" || id.Gender != "male" || id.DateOfBirth != "1990/05/06" || id.Deceased {
					t.Errorf("identity = %+v", id)
				}
				if evs := e.completed(t, rid); len(evs) != 1 || evs[0]["resultCode"] != "PROCESSED" || evs[0]["workflowType"] != "CRVS_UPDATE" {
					t.Errorf("events = %v", evs)
				}
				// As after a birth: one credential per partner, of the
				// updated identity, requested with the update's RID.
				var calls []pmtIssue
				for _, is := range e.issuer.issued() {
					if is.RID == rid {
						calls = append(calls, is)
					}
				}
				if len(calls) != 2 {
					t.Fatalf("%d credentials issued for the update, want one per partner (2)", len(calls))
				}
				for _, is := range calls {
					if is.Identity.UIN != c.target.UIN || is.Identity.FullName != "Renamed Person" ||
						is.Identity.RegistrationIDs[len(is.Identity.RegistrationIDs)-1] != rid {
						t.Errorf("credential of %+v, want the updated identity", is.Identity)
					}
				}
				for _, partner := range []string{"opencrvs-partner", "digitalcard-partner"} {
					n := 0
					for _, ev := range e.hub.on(CredentialTopic(partner)) {
						if bytes.Contains(ev.Body, []byte(rid)) {
							n++
						}
					}
					if n != 1 {
						t.Errorf("%s: %d credentials for %s, want 1", CredentialTopic(partner), n, rid)
					}
				}
			})
		}
	})
}

// A processed CRVS_UPDATE gets the partner a real credential, as a birth
// does: signed, encrypted for the partner, on <partner>/CREDENTIAL_ISSUED,
// naming the update packet's RID and carrying the updated demographics;
// published before the packet is reported complete. A failed update
// issues none, and a credential request that fails fails the packet.
func TestRegprocUpdateIssuesCredential(t *testing.T) {
	t.Parallel()
	creds, _ := credTestService(t, CredentialOptions{})
	e := pmtNewEnv(t, pmtConfig{rp: func(o *RegistrationProcessorOptions) {
		o.Issuer, o.CredentialPartners = creds, []string{creds.PartnerID()}
	}})
	topic := CredentialTopic(creds.PartnerID())
	person := DefaultIdentities()[4]

	rid := pmtRID()
	e.submit(t, rid, "CRVS1", "CRVS_UPDATE", map[string]any{"vid": person.VID, "fullName": pmtSimple("Corrected Name")})
	e.waitIdle(t)
	if st := e.rp.Status(rid); st != ResultProcessed {
		t.Fatalf("update status = %s (%+v)", st, e.rp.Instances())
	}
	evs := e.hub.on(topic)
	if len(evs) != 1 {
		t.Fatalf("%d events on %s, want 1", len(evs), topic)
	}
	ev := credTestParseEvent(t, evs[0].Body)
	if ev.Topic != topic || ev.Publisher != "CREDENTIAL_SERVICE" || credTestDataString(t, ev, "registrationId") != rid {
		t.Errorf("event topic %q publisher %q registrationId %q, want %q, CREDENTIAL_SERVICE, %q",
			ev.Topic, ev.Publisher, credTestDataString(t, ev, "registrationId"), topic, rid)
	}
	certs := credTestCerts(t)
	plain := credTestDecrypt(t, certs.partner.Key, certs.partner.DER, credTestDataString(t, ev, "credential"))
	var proof struct {
		Signature string `json:"signature"`
	}
	if err := json.Unmarshal(ev.Event.Data["proof"], &proof); err != nil {
		t.Fatalf("data.proof: %v", err)
	}
	credTestVerifyCertJWS(t, proof.Signature, plain)
	var vc struct {
		CredentialSubject map[string]json.RawMessage `json:"credentialSubject"`
	}
	if err := json.Unmarshal(plain, &vc); err != nil {
		t.Fatal(err)
	}
	var subjectID, psut string
	_ = json.Unmarshal(vc.CredentialSubject["id"], &subjectID)
	_ = json.Unmarshal(vc.CredentialSubject["PSUT"], &psut)
	if !strings.HasSuffix(subjectID, "/"+rid) || psut != creds.PartnerToken(person.UIN) ||
		!bytes.Contains(vc.CredentialSubject["fullName"], []byte("Corrected Name")) {
		t.Errorf("credentialSubject = %s, want id …/%s, the holder's PSUT and the corrected name", plain, rid)
	}
	if is := creds.Issued(); len(is) != 1 || is[0].RegistrationID != rid {
		t.Errorf("Issued() = %+v", is)
	}
	all := e.hub.all()
	if len(all) != 2 || all[0].Topic != topic || all[1].Topic != TopicWorkflowCompleted {
		t.Errorf("publish order = %v, want the credential, then the packet status", all)
	}

	// An update of nobody issues nothing.
	failed := pmtRID()
	e.submit(t, failed, "CRVS1", "CRVS_UPDATE", map[string]any{"UIN": "1000000001", "fullName": pmtSimple("Nobody")})
	e.waitIdle(t)
	if st := e.rp.Status(failed); st != ResultFailed || len(e.hub.on(topic)) != 1 {
		t.Errorf("unknown UIN: status %s, %d credentials", st, len(e.hub.on(topic)))
	}
}

func TestRegprocUpdateCredentialFailure(t *testing.T) {
	t.Parallel()
	e := pmtNewEnv(t, pmtConfig{})
	e.issuer.mu.Lock()
	e.issuer.err = errPmtIssuer
	e.issuer.mu.Unlock()
	person := DefaultIdentities()[5]
	rid := pmtRID()
	e.submit(t, rid, "CRVS1", "CRVS_UPDATE", map[string]any{"UIN": person.UIN, "fullName": pmtSimple("Changed Anyway")})
	e.waitIdle(t)
	in := e.rp.Instances()[0]
	if in.Status != ResultFailed || in.UIN != person.UIN || !strings.Contains(in.Reason, "credential request") {
		t.Errorf("instance = %+v, want FAILED by the credential request, with the UIN", in)
	}
	// The ID repository was updated before the credential stage.
	if id, _ := e.reg.Lookup(person.UIN); id.FullName != "Changed Anyway" {
		t.Errorf("identity = %+v", id)
	}
}

func TestRegprocOutcomes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		fullName   string
		outcome    OutcomeFunc
		wantResult string
		wantCode   string
	}{
		{"default rule: REJECT", "Jane REJECT Doe", nil, "REJECTED", "PACKET_REJECTED"},
		{"default rule: FAIL", "Jane FAIL Doe", nil, "FAILED", "PACKET_FAILED"},
		{"default rule ignores lower case", "Jane Failure Doe", nil, "PROCESSED", ""},
		{"custom rule", "Jane Doe", func(p Packet) (string, string) {
			if p.Values["birthCertificateNumber"] == "2025ABCD1234" {
				return ResultRejected, "DEDUPE_REJECTED"
			}
			return "", ""
		}, "REJECTED", "DEDUPE_REJECTED"},
		{"custom rule, default error code", "Jane Doe", func(Packet) (string, string) { return ResultFailed, "" }, "FAILED", "PACKET_FAILED"},
		{"custom rule lets it through", "Jane REJECT Doe", func(Packet) (string, string) { return ResultProcessed, "" }, "PROCESSED", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := pmtNewEnv(t, pmtConfig{rp: func(o *RegistrationProcessorOptions) { o.Outcome = c.outcome }})
			rid := pmtRID()
			before := len(e.reg.All())
			e.submit(t, rid, "CRVS1", "CRVS_NEW", pmtBirthFields(c.fullName))
			e.waitIdle(t)
			evs := e.completed(t, rid)
			if len(evs) != 1 || evs[0]["resultCode"] != c.wantResult {
				t.Fatalf("events = %v, want %s", evs, c.wantResult)
			}
			var wantCode any
			if c.wantCode != "" {
				wantCode = c.wantCode
			}
			if evs[0]["errorCode"] != wantCode {
				t.Errorf("errorCode = %v, want %v", evs[0]["errorCode"], wantCode)
			}
			processed := c.wantResult == ResultProcessed
			if created := len(e.reg.All()) > before; created != processed {
				t.Errorf("identity created = %v", created)
			}
			if issued := len(e.issuer.issued()) > 0; issued != processed {
				t.Errorf("credential issued = %v", issued)
			}
			if e.rp.Status(rid) != c.wantResult {
				t.Errorf("Status = %q", e.rp.Status(rid))
			}
		})
	}
}

func TestRegprocIDObjectValidation(t *testing.T) {
	t.Parallel()
	deferred := func(o *PacketManagerOptions) { o.DeferFieldValidation = true }
	cases := []struct {
		name   string
		cfg    pmtConfig
		mutate func(map[string]any)
		want   string
	}{
		{"invalid value accepted by createPacket fails in processing", pmtConfig{pm: deferred},
			func(f map[string]any) { f["dateOfBirth"] = "2025-01-31" }, "FAILED"},
		{"plain-string fullName fails in processing", pmtConfig{pm: deferred},
			func(f map[string]any) { f["fullName"] = "Jane Doe" }, "FAILED"},
		{"MandatoryFields override", pmtConfig{rp: func(o *RegistrationProcessorOptions) {
			o.MandatoryFields = map[string][]string{"CRVS_NEW": {"fullName", "dateOfBirth|age"}}
		}}, func(f map[string]any) { delete(f, "gender"); delete(f, "addressLine1") }, "PROCESSED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := pmtNewEnv(t, c.cfg)
			rid := pmtRID()
			f := pmtBirthFields("Jane Doe")
			c.mutate(f)
			e.submit(t, rid, "CRVS1", "CRVS_NEW", f)
			e.waitIdle(t)
			if evs := e.completed(t, rid); len(evs) != 1 || evs[0]["resultCode"] != c.want {
				t.Errorf("events = %v, want %s (instances %+v)", evs, c.want, e.rp.Instances())
			}
		})
	}
}

// The workflow manager validates only id, version and requesttime; every
// answer is HTTP 200.
func TestRegprocWorkflowRequestErrors(t *testing.T) {
	t.Parallel()
	e := pmtNewEnv(t, pmtConfig{rp: func(o *RegistrationProcessorOptions) { o.ProcessingDelay = time.Hour }})
	cases := []struct {
		name     string
		mutate   func(map[string]any)
		raw      []byte
		wantCode string
		wantMsg  string
	}{
		{"id missing", func(b map[string]any) { delete(b, "id") }, nil, "RPR-WIN-000", "Missing Request Value - id"},
		{"id null", func(b map[string]any) { b["id"] = nil }, nil, "RPR-WIN-000", "Missing Request Value - id"},
		{"id wrong", func(b map[string]any) { b["id"] = "mosip.registration.processor.workflow" }, nil, "RPR-WIN-001", "Invalid Request Value - id"},
		{"id other case", func(b map[string]any) { b["id"] = strings.ToUpper(WorkflowInstanceAPIID) }, nil, "", ""},
		{"version missing", func(b map[string]any) { delete(b, "version") }, nil, "RPR-WIN-000", "Missing Request Value - version"},
		{"version v2", func(b map[string]any) { b["version"] = "v2" }, nil, "RPR-WIN-001", "Invalid Request Value - version"},
		{"version 1.0", func(b map[string]any) { b["version"] = "1.0" }, nil, "RPR-WIN-001", "Invalid Request Value - version"},
		{"version V1", func(b map[string]any) { b["version"] = "V1" }, nil, "", ""},
		{"requesttime missing", func(b map[string]any) { delete(b, "requesttime") }, nil, "RPR-WIN-000", "Missing Request Value - requesttime"},
		{"requesttime without millis", func(b map[string]any) { b["requesttime"] = "2025-04-08T12:34:56Z" }, nil, "RPR-WIN-001", "Invalid Request Value - requesttime"},
		{"requesttime with offset", func(b map[string]any) { b["requesttime"] = "2025-04-08T12:34:56.000+00:00" }, nil, "RPR-WIN-001", "Invalid Request Value - requesttime"},
		{"requesttime garbage", func(b map[string]any) { b["requesttime"] = "now" }, nil, "RPR-WIN-001", "Invalid Request Value - requesttime"},
		{"requesttime ISO local", func(b map[string]any) { b["requesttime"] = "2025-04-08T12:34:56" }, nil, "", ""},
		{"requesttime ISO local nanos", func(b map[string]any) { b["requesttime"] = "2025-04-08T12:34:56.123456789" }, nil, "", ""},
		{"request missing", func(b map[string]any) { delete(b, "request") }, nil, "RPR-WIN-002", "Unknown Exception"},
		{"request is a string", func(b map[string]any) { b["request"] = "x" }, nil, "RPR-WIN-002", "Unknown Exception"},
		{"registrationId an object", func(b map[string]any) { b["request"].(map[string]any)["registrationId"] = map[string]any{} }, nil, "RPR-WIN-002", "Unknown Exception"},
		{"not JSON", nil, []byte("registrationId=1"), "RPR-WIN-002", "Unknown Exception"},
		{"empty body", nil, []byte{}, "RPR-WIN-002", "Unknown Exception"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var body any = c.raw
			if c.mutate != nil {
				b := pmtWorkflow(pmtRID(), "CRVS1", "CRVS_NEW")
				c.mutate(b)
				body = b
			}
			res := pmtDo(t, e, http.MethodPost, WorkflowInstancePath, body, e.token)
			if res.Status != http.StatusOK {
				t.Fatalf("status %d, want 200: %s", res.Status, res.Raw)
			}
			if res.Body["id"] != WorkflowInstanceAPIID || res.Body["version"] != "v1" {
				t.Errorf("envelope id/version = %v/%v", res.Body["id"], res.Body["version"])
			}
			if c.wantCode == "" {
				if res.Body["response"] == nil || res.Body["errors"] != nil {
					t.Errorf("valid request refused: %s", res.Raw)
				}
				return
			}
			if got := pmtErrorCodes(res.Body); !reflect.DeepEqual(got, []string{c.wantCode}) || pmtErrorMessage(res.Body) != c.wantMsg {
				t.Errorf("errors = %v %q, want %s %q", got, pmtErrorMessage(res.Body), c.wantCode, c.wantMsg)
			}
			if r, present := res.Body["response"]; !present || r != nil {
				t.Errorf("response = %v, want null", r)
			}
		})
	}
}

func TestRegprocDuplicateInstance(t *testing.T) {
	t.Parallel()
	e := pmtNewEnv(t, pmtConfig{})
	rid := pmtRID()
	e.submit(t, rid, "CRVS1", "CRVS_NEW", pmtBirthFields("Jane Doe"))
	for _, when := range []string{"while processing", "after processing"} {
		if when == "after processing" {
			e.waitIdle(t)
		}
		res := e.workflow(t, pmtWorkflow(rid, "CRVS1", "CRVS_NEW"))
		if res.Status != 200 || !reflect.DeepEqual(pmtErrorCodes(res.Body), []string{"RPR-WIS-001"}) ||
			pmtErrorMessage(res.Body) != "WorkflowInstance already present" || res.Body["response"] != nil {
			t.Errorf("%s: second instance = %d %s", when, res.Status, res.Raw)
		}
	}
	if n := len(e.rp.Instances()); n != 1 {
		t.Errorf("%d instances, want 1", n)
	}
	if n := len(e.completed(t, rid)); n != 1 {
		t.Errorf("%d completed events, want 1", n)
	}
	// Another process for the same RID is another instance.
	if res := e.workflow(t, pmtWorkflow(rid, "CRVS1", "CRVS_UPDATE")); res.Body["response"] == nil {
		t.Errorf("other process refused: %s", res.Raw)
	}
}

func TestRegprocUnknownPacket(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		reject bool
		source string
	}{
		{"never created: accepted, then FAILED", false, "CRVS1"},
		{"source mismatch: accepted, then FAILED", false, "OPENCRVS"},
		{"RejectUnknownPackets: RPR-WIS-000", true, "CRVS1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := pmtNewEnv(t, pmtConfig{rp: func(o *RegistrationProcessorOptions) { o.RejectUnknownPackets = c.reject }})
			rid := pmtRID()
			if c.source != "CRVS1" {
				if res := e.create(t, pmtPacket(rid, "CRVS1", "CRVS_NEW", pmtBirthFields("Jane Doe"))); res.Body["response"] == nil {
					t.Fatal(string(res.Raw))
				}
			}
			res := e.workflow(t, pmtWorkflow(rid, c.source, "CRVS_NEW"))
			if res.Status != 200 {
				t.Fatalf("status %d", res.Status)
			}
			if c.reject {
				if got := pmtErrorCodes(res.Body); !reflect.DeepEqual(got, []string{"RPR-WIS-000"}) || pmtErrorMessage(res.Body) != "Unknown Exception" {
					t.Errorf("errors = %s", res.Raw)
				}
				if len(e.rp.Instances()) != 0 {
					t.Error("instance recorded")
				}
				return
			}
			if res.Body["response"] == nil {
				t.Fatalf("instance refused: %s", res.Raw)
			}
			e.waitIdle(t)
			evs := e.completed(t, rid)
			if len(evs) != 1 || evs[0]["resultCode"] != "FAILED" || evs[0]["errorCode"] != "PACKET_FAILED" {
				t.Errorf("events = %v", evs)
			}
			if in := e.rp.Instances()[0]; !strings.Contains(in.Reason, "packet store") {
				t.Errorf("reason = %q", in.Reason)
			}
		})
	}
}

// A failed re-create deletes the packet; a workflow started on it then
// fails (the production hazard of blind createPacket retries).
func TestRegprocPacketDeletedBeforeProcessing(t *testing.T) {
	t.Parallel()
	e := pmtNewEnv(t, pmtConfig{rp: func(o *RegistrationProcessorOptions) { o.ProcessingDelay = 200 * time.Millisecond }})
	rid := pmtRID()
	e.submit(t, rid, "CRVS1", "CRVS_NEW", pmtBirthFields("Jane Doe"))
	bad := pmtBirthFields("Jane Doe")
	bad["dateOfBirth"] = "2025-01-31"
	if res := e.create(t, pmtPacket(rid, "CRVS1", "CRVS_NEW", bad)); res.Body["response"] != nil {
		t.Fatal("invalid re-create accepted")
	}
	e.waitIdle(t)
	if evs := e.completed(t, rid); len(evs) != 1 || evs[0]["resultCode"] != "FAILED" {
		t.Errorf("events = %v", evs)
	}
}

func TestRegprocAuth(t *testing.T) {
	t.Parallel()
	e := pmtNewEnv(t, pmtConfig{rp: func(o *RegistrationProcessorOptions) { o.ProcessingDelay = time.Hour }})
	cases := []struct {
		name       string
		token      string
		hdr        []string
		wantStatus int
		wantCode   string
	}{
		{"no cookie", "", nil, 401, "KER-ATH-401"},
		{"bearer header instead of cookie", "", []string{"Authorization", "Bearer " + e.token}, 401, "KER-ATH-401"},
		{"expired token", pmtExpiredToken(t, e), nil, 401, "KER-ATH-401"},
		{"role missing", pmtToken(t, e, "resident-only"), nil, 403, "KER-ATH-403"},
		{"GLOBAL_ADMIN", pmtToken(t, e, "global-admin"), nil, 200, ""},
		{"REGISTRATION_PROCESSOR", pmtToken(t, e, "regproc-only"), nil, 200, ""},
		{"ONLINE_REGISTRATION_CLIENT", pmtToken(t, e, "orc-only"), nil, 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res := pmtDo(t, e, http.MethodPost, WorkflowInstancePath, pmtWorkflow(pmtRID(), "CRVS1", "CRVS_NEW"), c.token, c.hdr...)
			if res.Status != c.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.Status, c.wantStatus, res.Raw)
			}
			if got := pmtErrorCodes(res.Body); c.wantCode != "" && !reflect.DeepEqual(got, []string{c.wantCode}) {
				t.Errorf("errors = %v", got)
			}
		})
	}
}

func TestRegprocStatusSearch(t *testing.T) {
	t.Parallel()
	search := func(t *testing.T, e *pmtEnv, token string, mutate func(map[string]any), rids ...string) pmtResult {
		t.Helper()
		var req []map[string]string
		for _, r := range rids {
			req = append(req, map[string]string{"registrationId": r})
		}
		body := map[string]any{"id": RegistrationStatusAPIID, "version": "1.0", "requesttime": pmtNow(), "request": req}
		if mutate != nil {
			mutate(body)
		}
		return pmtDo(t, e, http.MethodPost, RegistrationStatusSearchPath, body, token)
	}
	statuses := func(res pmtResult) map[string]string {
		out := map[string]string{}
		list, _ := res.Body["response"].([]any)
		for _, item := range list {
			m := item.(map[string]any)
			out[m["registrationId"].(string)] = m["statusCode"].(string)
		}
		return out
	}
	for _, c := range []struct {
		name       string
		considered []string
		want       map[string]string // by fullName
	}{
		{"default: rejected and failed look PROCESSED", nil,
			map[string]string{"Jane Doe": "PROCESSED", "Jane REJECT Doe": "PROCESSED", "Jane FAIL Doe": "PROCESSED"}},
		{"raw external statuses", []string{},
			map[string]string{"Jane Doe": "PROCESSED", "Jane REJECT Doe": "REJECTED", "Jane FAIL Doe": "REPROCESS_FAILED"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := pmtNewEnv(t, pmtConfig{rp: func(o *RegistrationProcessorOptions) { o.StatusesConsideredProcessed = c.considered }})
			admin := pmtToken(t, e, "reg-admin")
			ridByName := map[string]string{}
			var rids []string
			for name := range c.want {
				rid := pmtRID()
				ridByName[name] = rid
				rids = append(rids, rid)
				e.submit(t, rid, "CRVS1", "CRVS_NEW", pmtBirthFields(name))
			}
			e.waitIdle(t)
			unknown := "10001100049999920250101000000"
			res := search(t, e, admin, nil, append(rids, unknown)...)
			if res.Status != 200 || res.Body["id"] != RegistrationStatusAPIID || res.Body["version"] != "1.0" {
				t.Fatalf("status %d: %s", res.Status, res.Raw)
			}
			got := statuses(res)
			for name, want := range c.want {
				if got[ridByName[name]] != want {
					t.Errorf("%s: statusCode %q, want %q", name, got[ridByName[name]], want)
				}
			}
			errs, _ := res.Body["errors"].([]any)
			if len(errs) != 1 {
				t.Fatalf("errors = %v", res.Body["errors"])
			}
			if m := errs[0].(map[string]any); m["errorCode"] != "RPR-RGS-031" || m["message"] != "RID Not Found" || m["registrationId"] != unknown {
				t.Errorf("unknown RID error = %v", m)
			}
		})
	}

	t.Run("processing and request errors", func(t *testing.T) {
		t.Parallel()
		e := pmtNewEnv(t, pmtConfig{rp: func(o *RegistrationProcessorOptions) { o.ProcessingDelay = time.Hour }})
		admin := pmtToken(t, e, "reg-admin")
		rid := pmtRID()
		e.submit(t, rid, "CRVS1", "CRVS_NEW", pmtBirthFields("Jane Doe"))
		if got := statuses(search(t, e, admin, nil, rid)); got[rid] != "PROCESSING" {
			t.Errorf("pending instance = %q, want PROCESSING", got[rid])
		}
		// DefaultRoles (a CRVS client) lack the status roles.
		if res := search(t, e, e.token, nil, rid); res.Status != 403 {
			t.Errorf("CRVS client: status %d, want 403", res.Status)
		}
		if res := search(t, e, "", nil, rid); res.Status != 401 {
			t.Errorf("no cookie: status %d, want 401", res.Status)
		}
		future := time.Now().UTC().Add(time.Hour).Format("2006-01-02T15:04:05.000Z")
		for _, c := range []struct {
			name   string
			mutate func(map[string]any)
			code   string
		}{
			{"id missing", func(b map[string]any) { delete(b, "id") }, "RPR-RGS-021"},
			{"id wrong", func(b map[string]any) { b["id"] = WorkflowInstanceAPIID }, "RPR-RGS-024"},
			{"version missing", func(b map[string]any) { delete(b, "version") }, "RPR-RGS-019"},
			{"version v1", func(b map[string]any) { b["version"] = "v1" }, "RPR-RGS-022"},
			{"requesttime missing", func(b map[string]any) { delete(b, "requesttime") }, "RPR-RGS-020"},
			{"requesttime in the future", func(b map[string]any) { b["requesttime"] = future }, "RPR-RGS-023"},
			{"requesttime without millis", func(b map[string]any) { b["requesttime"] = "2025-01-01T00:00:00Z" }, "RPR-RGS-023"},
		} {
			res := search(t, e, admin, c.mutate, rid)
			if res.Status != 200 || !reflect.DeepEqual(pmtErrorCodes(res.Body), []string{c.code}) || res.Body["response"] != nil {
				t.Errorf("%s: %d %s, want %s", c.name, res.Status, res.Raw, c.code)
			}
		}
		if res := pmtDo(t, e, http.MethodPost, RegistrationStatusSearchPath, []byte("{"), admin); res.Status != 400 {
			t.Errorf("unreadable body: status %d", res.Status)
		}
	})
}

func TestRegprocCloseAndWait(t *testing.T) {
	t.Parallel()
	e := pmtNewEnv(t, pmtConfig{rp: func(o *RegistrationProcessorOptions) { o.ProcessingDelay = time.Hour }})
	rid := pmtRID()
	e.submit(t, rid, "CRVS1", "CRVS_NEW", pmtBirthFields("Jane Doe"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := e.rp.WaitIdle(ctx); err == nil {
		t.Error("WaitIdle returned while an instance was pending")
	}
	done := make(chan struct{})
	go func() { _ = e.rp.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not abandon the pending instance")
	}
	e.waitIdle(t)
	if e.rp.Status(rid) != StatusProcessing || len(e.hub.all()) != 0 {
		t.Errorf("after Close: status %q, events %v", e.rp.Status(rid), e.hub.all())
	}
	// Accepted after Close, never processed.
	rid2 := pmtRID()
	e.submit(t, rid2, "CRVS1", "CRVS_NEW", pmtBirthFields("Jane Doe"))
	e.waitIdle(t)
	if e.rp.Status(rid2) != StatusProcessing {
		t.Errorf("instance after Close: %q", e.rp.Status(rid2))
	}
}

func TestRegprocWithoutHubOrIssuer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		cfg        func(*RegistrationProcessorOptions)
		wantResult string
	}{
		{"no hub, no issuer", func(o *RegistrationProcessorOptions) { o.Hub, o.Issuer = nil, nil }, "PROCESSED"},
		{"issuer error fails the packet", nil, "FAILED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := pmtNewEnv(t, pmtConfig{rp: c.cfg})
			if c.cfg == nil {
				e.issuer.mu.Lock()
				e.issuer.err = errPmtIssuer
				e.issuer.mu.Unlock()
			}
			rid := pmtRID()
			e.submit(t, rid, "CRVS1", "CRVS_NEW", pmtBirthFields("Jane Doe"))
			e.waitIdle(t)
			got := e.rp.Completed()
			if len(got) != 1 || got[0].ResultCode != c.wantResult || got[0].InstanceID != rid {
				t.Errorf("Completed() = %+v", got)
			}
			if in := e.rp.Instances()[0]; in.UIN == "" {
				t.Error("no identity created (UIN generation precedes credentials)")
			}
		})
	}

	if _, err := NewRegistrationProcessor(RegistrationProcessorOptions{}); err == nil {
		t.Error("NewRegistrationProcessor without Auth/Packets/Registry succeeded")
	}
}

// BenchmarkWorkflowInstance starts a workflow after many others, as late
// in a long benchmark run.
func BenchmarkWorkflowInstance(b *testing.B) {
	e := pmtNewEnv(b, pmtConfig{rp: func(o *RegistrationProcessorOptions) { o.ProcessingDelay = time.Hour }})
	// Instances accepted before the timed ones.
	const earlier = 20000
	bodies := make([][]byte, earlier+b.N)
	for i := range bodies {
		raw, err := json.Marshal(pmtWorkflow(fmt.Sprintf("10001100049%018d", i), "CRVS1", "CRVS_NEW"))
		if err != nil {
			b.Fatal(err)
		}
		bodies[i] = raw
	}
	cookie := &http.Cookie{Name: "Authorization", Value: e.token}
	send := func(body []byte) {
		req := httptest.NewRequest(http.MethodPost, WorkflowInstancePath, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.AddCookie(cookie)
		w := httptest.NewRecorder()
		e.rp.handleWorkflow(w, req)
		if !bytes.Contains(w.Body.Bytes(), []byte("workflowInstanceId")) {
			b.Fatalf("workflowinstance = %d %s", w.Code, w.Body)
		}
	}
	for _, body := range bodies[:earlier] {
		send(body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		send(bodies[earlier+i])
	}
}
