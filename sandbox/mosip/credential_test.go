package mosip

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	credUUIDRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	credMsRe   = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)
)

func TestCredentialEventShape(t *testing.T) {
	t.Parallel()
	s, srv := credTestService(t, CredentialOptions{})
	rid := "10001100010002420250110061144"
	ev, plain, vc := credTestIssue(t, s, credTestIdentity(), rid)

	if ev.Publisher != "CREDENTIAL_SERVICE" || ev.Topic != "opencrvs-partner/CREDENTIAL_ISSUED" {
		t.Errorf("publisher/topic = %q/%q", ev.Publisher, ev.Topic)
	}
	if !credMsRe.MatchString(ev.PublishedOn) || !credMsRe.MatchString(ev.Event.Timestamp) {
		t.Errorf("publishedOn %q / timestamp %q: want yyyy-MM-ddTHH:mm:ss.SSSZ", ev.PublishedOn, ev.Event.Timestamp)
	}
	if !credUUIDRe.MatchString(ev.Event.ID) || !credUUIDRe.MatchString(ev.Event.TransactionID) || ev.Event.ID == ev.Event.TransactionID {
		t.Errorf("event id %q / transactionId %q: want two distinct UUIDs", ev.Event.ID, ev.Event.TransactionID)
	}
	if ev.Event.Type.Namespace != "mosip" || ev.Event.Type.Name != "mosip" {
		t.Errorf("type = %+v", ev.Event.Type)
	}
	if ev.Event.DataShareURI != nil {
		t.Errorf("dataShareUri = %q, want null for a direct share", *ev.Event.DataShareURI)
	}
	// dataShareUri is present as null, not absent (kernel Event serialises it).
	var rawTop map[string]json.RawMessage
	var rawEvent map[string]json.RawMessage
	fresh, err := s.IssueCredential(credTestIdentity(), rid)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(fresh, &rawTop); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(rawTop["event"], &rawEvent); err != nil {
		t.Fatal(err)
	}
	if v, ok := rawEvent["dataShareUri"]; !ok || string(v) != "null" {
		t.Errorf("event.dataShareUri = %s (present %v), want null", v, ok)
	}

	for key, want := range map[string]string{
		"registrationId": rid, "templateTypeCode": "RPR_UIN_CARD_TEMPLATE", "credentialType": "vercred",
	} {
		if got := credTestDataString(t, ev, key); got != want {
			t.Errorf("data.%s = %q, want %q", key, got, want)
		}
	}
	if pk := credTestDataString(t, ev, "protectionKey"); !regexp.MustCompile(`^\d{6}$`).MatchString(pk) {
		t.Errorf("protectionKey %q: want 6 digits", pk)
	}
	for _, k := range []string{"ExpiryTimestamp", "TransactionLimit"} {
		if _, ok := ev.Event.Data[k]; ok {
			t.Errorf("data.%s present although the policy shares no VID", k)
		}
	}
	var proof struct {
		Signature string `json:"signature"`
	}
	if err := json.Unmarshal(ev.Event.Data["proof"], &proof); err != nil {
		t.Fatal(err)
	}
	cert := credTestVerifyCertJWS(t, proof.Signature, plain)
	if !cert.Equal(credTestCerts(t).signing.Cert) {
		t.Error("x5c is not the credential signing certificate")
	}

	// The VC (§5.2).
	ctx, _ := vc["@context"].([]any)
	if len(ctx) != 3 || ctx[0] != "https://www.w3.org/2018/credentials/v1" || ctx[1] != srv.URL+"/.well-known/mosip-context.json" ||
		!reflect.DeepEqual(ctx[2], map[string]any{"sec": "https://w3id.org/security#"}) {
		t.Errorf("@context = %v", ctx)
	}
	if !reflect.DeepEqual(vc["type"], []any{"VerifiableCredential", "MOSIPVerifiableCredential"}) {
		t.Errorf("type = %v", vc["type"])
	}
	if id, _ := vc["id"].(string); !strings.HasPrefix(id, "http://credential.idrepo/credentials/") || !credUUIDRe.MatchString(strings.TrimPrefix(id, "http://credential.idrepo/credentials/")) {
		t.Errorf("id = %q", id)
	}
	if vc["issuer"] != srv.URL+"/.well-known/controller.json" {
		t.Errorf("issuer = %v", vc["issuer"])
	}
	if d, _ := vc["issuanceDate"].(string); !credMsRe.MatchString(d) {
		t.Errorf("issuanceDate = %q", d)
	}
	cs, _ := vc["credentialSubject"].(map[string]any)
	if id, _ := cs["id"].(string); id != "http://credential.idrepo/credentials/"+rid || !strings.HasSuffix(id, "/"+rid) {
		t.Errorf("credentialSubject.id = %q, want it to end with the RID", id)
	}
	if cs["vcVer"] != "VC-V1" {
		t.Errorf("vcVer = %v", cs["vcVer"])
	}
	if !reflect.DeepEqual(cs["fullName"], []any{map[string]any{"language": "eng", "value": "Jenny Debra Doe"}}) {
		t.Errorf("fullName = %v", cs["fullName"])
	}
	if !reflect.DeepEqual(cs["gender"], []any{map[string]any{"language": "eng", "value": "female"}}) {
		t.Errorf("gender = %v", cs["gender"])
	}
	if cs["dateOfBirth"] != "2002/02/01" {
		t.Errorf("dateOfBirth = %v", cs["dateOfBirth"])
	}
	p, _ := vc["proof"].(map[string]any)
	if p["type"] != "RsaSignature2018" || p["proofPurpose"] != "assertionMethod" || p["verificationMethod"] != srv.URL+"/.well-known/public-key.json" {
		t.Errorf("proof = %v", p)
	}
	if c, _ := p["created"].(string); !regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$`).MatchString(c) {
		t.Errorf("proof.created = %q", c)
	}

	issued := s.Issued()
	if len(issued) != 2 || issued[0].RegistrationID != rid || issued[0].EventID != ev.Event.ID || issued[0].TransactionID != ev.Event.TransactionID {
		t.Errorf("Issued() = %+v", issued)
	}
}

func TestCredentialPolicies(t *testing.T) {
	t.Parallel()
	id := credTestIdentity()
	probe, _ := credTestService(t, CredentialOptions{})
	psut := probe.PartnerToken(id.UIN)
	tests := []struct {
		policy  CredentialPolicy
		want    map[string]string // identifier attributes present
		absent  []string
		withVID bool
	}{
		{CredentialPolicyPSUT, map[string]string{"PSUT": psut}, []string{"VID", "UIN"}, false},
		{CredentialPolicyVID, map[string]string{"VID": id.VID}, []string{"PSUT", "UIN"}, true},
		{CredentialPolicyUIN, map[string]string{"UIN": id.UIN}, []string{"PSUT", "VID"}, false},
		{CredentialPolicyPSUTAndVID, map[string]string{"PSUT": psut, "VID": id.VID}, []string{"UIN"}, true},
	}
	for _, tc := range tests {
		t.Run(string(tc.policy), func(t *testing.T) {
			t.Parallel()
			s, _ := credTestService(t, CredentialOptions{Policy: tc.policy})
			ev, _, vc := credTestIssue(t, s, id, "RID-"+string(tc.policy))
			cs := vc["credentialSubject"].(map[string]any)
			for k, v := range tc.want {
				if cs[k] != v {
					t.Errorf("credentialSubject.%s = %v, want %q", k, cs[k], v)
				}
			}
			for _, k := range tc.absent {
				if _, ok := cs[k]; ok {
					t.Errorf("credentialSubject.%s present under policy %s", k, tc.policy)
				}
			}
			_, hasExp := ev.Event.Data["ExpiryTimestamp"]
			tl, hasTL := ev.Event.Data["TransactionLimit"]
			if hasExp != tc.withVID || hasTL != tc.withVID {
				t.Errorf("ExpiryTimestamp/TransactionLimit present = %v/%v, want %v", hasExp, hasTL, tc.withVID)
			}
			if tc.withVID && string(tl) != "null" {
				t.Errorf("TransactionLimit = %s, want null (perpetual VID)", tl)
			}
		})
	}
}

func TestCredentialSetPolicyAndKnobs(t *testing.T) {
	t.Parallel()
	s, _ := credTestService(t, CredentialOptions{})
	if err := s.SetPolicy("NAME"); err == nil {
		t.Error("SetPolicy(NAME) accepted")
	}
	if err := s.SetCanonicalization("RDFC-1.0"); err == nil {
		t.Error("SetCanonicalization(RDFC-1.0) accepted")
	}
	if err := s.SetPolicy(CredentialPolicyUIN); err != nil {
		t.Fatal(err)
	}
	_, _, vc := credTestIssue(t, s, credTestIdentity(), "R1")
	if vc["credentialSubject"].(map[string]any)["UIN"] != credTestIdentity().UIN {
		t.Error("SetPolicy(UIN) not applied")
	}
	s.SetDataShare(true)
	ev, _, _ := credTestIssue(t, s, credTestIdentity(), "R2")
	if ev.Event.DataShareURI == nil {
		t.Error("SetDataShare(true) not applied")
	}
	got := s.Issued()
	if len(got) != 2 || got[0].Policy != CredentialPolicyUIN || got[1].DataShareURI == "" {
		t.Errorf("Issued() = %+v", got)
	}
}

func TestCredentialConcurrent(t *testing.T) {
	t.Parallel()
	s, _ := credTestService(t, CredentialOptions{DataShare: true, DataShareTransactions: 1})
	const n = 8
	errs := make(chan error, n)
	uris := make(chan string, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			if i%2 == 0 {
				s.SetDataShare(i%4 == 0)
				_ = s.SetPolicy(CredentialPolicyPSUTAndVID)
			}
			body, err := s.IssueCredential(credTestIdentity(), "R"+string(rune('a'+i)))
			if err != nil {
				errs <- err
				return
			}
			var ev credTestEvent
			if err := json.Unmarshal(body, &ev); err != nil {
				errs <- err
				return
			}
			if ev.Event.DataShareURI != nil {
				resp, err := http.Get(*ev.Event.DataShareURI)
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				uris <- *ev.Event.DataShareURI
			}
			errs <- nil
		}(i)
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	close(uris)
	seen := map[string]bool{}
	for u := range uris {
		if seen[u] {
			t.Errorf("datashare URI %s issued twice", u)
		}
		seen[u] = true
	}
	if got := len(s.Issued()); got != n {
		t.Errorf("Issued() has %d records, want %d", got, n)
	}
}

func TestCredentialPSUT(t *testing.T) {
	t.Parallel()
	certs := credTestCerts(t)
	a1, _ := credTestService(t, CredentialOptions{PartnerID: "opencrvs-partner"})
	a2, _ := credTestService(t, CredentialOptions{PartnerID: "opencrvs-partner"})
	b, _ := credTestService(t, CredentialOptions{PartnerID: "other-partner", PartnerCert: certs.partner2.Cert})
	id := credTestIdentity()

	_, _, vc1 := credTestIssue(t, a1, id, "R1")
	_, _, vc2 := credTestIssue(t, a2, id, "R2")
	_, _, vc3 := credTestIssue(t, b, id, "R3")
	p1 := vc1["credentialSubject"].(map[string]any)["PSUT"].(string)
	p2 := vc2["credentialSubject"].(map[string]any)["PSUT"].(string)
	p3 := vc3["credentialSubject"].(map[string]any)["PSUT"].(string)
	if p1 != p2 {
		t.Errorf("PSUT not stable for the same UIN and partner: %s vs %s", p1, p2)
	}
	if p1 == p3 {
		t.Errorf("PSUT %s is the same for two partners", p1)
	}
	if !regexp.MustCompile(`^\d{36}$`).MatchString(p1) {
		t.Errorf("PSUT %q: want 36 decimal digits", p1)
	}
	want := credTestTokenID(id.UIN, "opencrvs-partner", DefaultTokenIDUINSalt, DefaultTokenIDPartnerSalt, 36)
	if p1 != want {
		t.Errorf("PSUT = %s, independent computation gives %s", p1, want)
	}
	other := credTestIdentity()
	other.UIN = "2178026905"
	_, _, vc4 := credTestIssue(t, a1, other, "R4")
	if vc4["credentialSubject"].(map[string]any)["PSUT"] == p1 {
		t.Error("two UINs share a PSUT")
	}
}

func TestCredentialLDProofURDNA2015(t *testing.T) {
	t.Parallel()
	s, srv := credTestService(t, CredentialOptions{Policy: CredentialPolicyPSUTAndVID})
	_, plain, _ := credTestIssue(t, s, credTestIdentity(), "10001100010002420250110061144")
	loader := credTestNewLoader(t, srv.URL, nil, nil)
	pub := &credTestCerts(t).signing.Key.PublicKey

	vc, proof, header, sig := credTestSplitVC(t, plain)
	if err := credTestVerifyPS256(header, credTestURDNAPayload(t, vc, proof, loader), sig, pub); err != nil {
		t.Fatalf("LD proof does not verify over the URDNA2015 payload: %v", err)
	}
	nq := credTestNQuads(t, vc, loader)
	for _, want := range []string{"/mosip#PSUT>", "/mosip#VID>", "/mosip#fullName>", "/mosip#dateOfBirth>", "<https://www.w3.org/2018/credentials#issuer>"} {
		if !strings.Contains(nq, want) {
			t.Errorf("canonical form lacks %s:\n%s", want, nq)
		}
	}

	// Tampering with any signed statement breaks the proof.
	tamper := []struct {
		name string
		edit func(vc, proof map[string]any)
	}{
		{"PSUT", func(vc, _ map[string]any) { vc["credentialSubject"].(map[string]any)["PSUT"] = "1" }},
		{"VID", func(vc, _ map[string]any) { vc["credentialSubject"].(map[string]any)["VID"] = "1" }},
		{"subject id", func(vc, _ map[string]any) {
			vc["credentialSubject"].(map[string]any)["id"] = "http://credential.idrepo/credentials/other"
		}},
		{"name", func(vc, _ map[string]any) {
			vc["credentialSubject"].(map[string]any)["fullName"] = []any{map[string]any{"language": "eng", "value": "X"}}
		}},
		{"proof created", func(_, proof map[string]any) { proof["created"] = "2000-01-01T00:00:00Z" }},
	}
	for _, tc := range tamper {
		t.Run(tc.name, func(t *testing.T) {
			vc, proof, header, sig := credTestSplitVC(t, plain)
			tc.edit(vc, proof)
			if credTestVerifyPS256(header, credTestURDNAPayload(t, vc, proof, loader), sig, pub) == nil {
				t.Errorf("proof still verifies after changing %s", tc.name)
			}
		})
	}

	// MOSIP's context leaves the MOSIPVerifiableCredential type undefined:
	// Titanium drops the relative IRI, plain json-gold keeps it, so a Go
	// verifier using json-gold unfiltered computes another hash.
	if strings.Contains(nq, "MOSIPVerifiableCredential") {
		t.Errorf("canonical form keeps the undefined (relative) type:\n%s", nq)
	}
	naive := credTestNQuadsNaive(t, vc, loader)
	if !strings.Contains(naive, "<MOSIPVerifiableCredential>") {
		t.Log("json-gold no longer emits relative type IRIs; the filter may be unnecessary")
	}
	ph := sha256.Sum256([]byte(credTestNQuadsNaive(t, credTestProofOptions(proof), loader)))
	dh := sha256.Sum256([]byte(naive))
	if naive != nq && credTestVerifyPS256(header, append(ph[:], dh[:]...), sig, pub) == nil {
		t.Error("proof verified with unfiltered json-gold canonicalization")
	}

	// A JCS verifier (the TS middleware's) fails on a real-MOSIP proof.
	vc, _, header, sig = credTestSplitVC(t, plain)
	if credTestVerifyPS256(header, credTestJCS(t, vc), sig, pub) == nil {
		t.Error("URDNA2015 proof verified as JCS")
	}
}

func TestCredentialLDProofJCS(t *testing.T) {
	t.Parallel()
	s, srv := credTestService(t, CredentialOptions{Canonicalization: CanonicalizationJCS})
	_, plain, _ := credTestIssue(t, s, credTestIdentity(), "R-JCS")
	pub := &credTestCerts(t).signing.Key.PublicKey
	vc, proof, header, sig := credTestSplitVC(t, plain)
	if err := credTestVerifyPS256(header, credTestJCS(t, vc), sig, pub); err != nil {
		t.Fatalf("JCS proof does not verify over JCS(VC without proof): %v", err)
	}
	loader := credTestNewLoader(t, srv.URL, nil, nil)
	if credTestVerifyPS256(header, credTestURDNAPayload(t, vc, proof, loader), sig, pub) == nil {
		t.Error("JCS proof verified as URDNA2015")
	}
	vc["issuer"] = "https://evil.example/controller.json"
	if credTestVerifyPS256(header, credTestJCS(t, vc), sig, pub) == nil {
		t.Error("JCS proof verifies after changing the issuer")
	}
}

// MOSIP's context does not define "language" (ODRL does) nor anything the
// deployment did not add: such keys vanish from the canonical form, so the
// LD proof does not cover them.
func TestCredentialContextQuirks(t *testing.T) {
	t.Parallel()
	pub := &credTestCerts(t).signing.Key.PublicKey

	t.Run("undefined PSUT term is unsigned", func(t *testing.T) {
		t.Parallel()
		terms := map[string]string{}
		s, srv := credTestService(t, CredentialOptions{ContextTerms: terms})
		_, plain, _ := credTestIssue(t, s, credTestIdentity(), "R")
		loader := credTestNewLoader(t, srv.URL, nil, terms)
		vc, proof, header, sig := credTestSplitVC(t, plain)
		if err := credTestVerifyPS256(header, credTestURDNAPayload(t, vc, proof, loader), sig, pub); err != nil {
			t.Fatalf("proof does not verify: %v", err)
		}
		vc["credentialSubject"].(map[string]any)["PSUT"] = "forged"
		if err := credTestVerifyPS256(header, credTestURDNAPayload(t, vc, proof, loader), sig, pub); err != nil {
			t.Errorf("changing an undefined term broke the proof (%v); JSON-LD should have dropped it", err)
		}
	})

	t.Run("language without ODRL is unsigned", func(t *testing.T) {
		t.Parallel()
		s, srv := credTestService(t, CredentialOptions{})
		_, plain, _ := credTestIssue(t, s, credTestIdentity(), "R")
		loader := credTestNewLoader(t, srv.URL, nil, nil)
		vc, proof, header, sig := credTestSplitVC(t, plain)
		vc["credentialSubject"].(map[string]any)["fullName"] = []any{map[string]any{"language": "fra", "value": "Jenny Debra Doe"}}
		if err := credTestVerifyPS256(header, credTestURDNAPayload(t, vc, proof, loader), sig, pub); err != nil {
			t.Errorf("changing the language broke the proof (%v); without ODRL it is not signed", err)
		}
	})

	t.Run("ODRL context pinned", func(t *testing.T) {
		t.Parallel()
		// A stand-in with the one ODRL term our credential uses.
		odrl := []byte(`{"@context":{"odrl":"http://www.w3.org/ns/odrl/2/","language":"odrl:language"}}`)
		s, srv := credTestService(t, CredentialOptions{Contexts: map[string][]byte{ODRLContextURL: odrl}})
		_, plain, _ := credTestIssue(t, s, credTestIdentity(), "R")
		loader := credTestNewLoader(t, srv.URL, odrl, nil)
		vc, proof, header, sig := credTestSplitVC(t, plain)
		if err := credTestVerifyPS256(header, credTestURDNAPayload(t, vc, proof, loader), sig, pub); err != nil {
			t.Fatalf("proof with ODRL does not verify: %v", err)
		}
		if nq := credTestNQuads(t, vc, loader); !strings.Contains(nq, `<http://www.w3.org/ns/odrl/2/language> "eng"`) {
			t.Errorf("odrl:language not in the canonical form:\n%s", nq)
		}
		vc["credentialSubject"].(map[string]any)["fullName"] = []any{map[string]any{"language": "fra", "value": "Jenny Debra Doe"}}
		if credTestVerifyPS256(header, credTestURDNAPayload(t, vc, proof, loader), sig, pub) == nil {
			t.Error("with ODRL the language is signed, yet changing it kept the proof valid")
		}
		var served map[string]any
		credTestGetJSON(t, srv.URL+"/.well-known/mosip-context.json", &served)
		if !strings.Contains(credTestString(served), ODRLContextURL) {
			t.Error("served mosip-context.json lost the ODRL import although ODRL is pinned")
		}
		resp, err := http.Get(srv.URL + "/.well-known/odrl.jsonld")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET odrl.jsonld = %d", resp.StatusCode)
		}
	})
}

func TestCredentialUnknownContext(t *testing.T) {
	t.Parallel()
	s, _ := credTestService(t, CredentialOptions{})
	for _, u := range []string{"https://example.org/ctx.jsonld", ODRLContextURL, "http://www.w3.org/2018/credentials/v1"} {
		if _, err := s.loader.LoadDocument(u); err == nil {
			t.Errorf("LoadDocument(%s) succeeded; the offline loader must refuse unpinned URLs", u)
		}
	}
	doc := map[string]any{
		"@context":                 []any{CredentialsV1ContextURL, "https://example.org/ctx.jsonld"},
		"type":                     "VerifiableCredential",
		"https://example.org/name": "x",
	}
	if _, err := ldNQuads(doc, s.loader); err == nil {
		t.Error("canonicalizing a document with an unknown context succeeded")
	}
}

func TestCredentialDataShare(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    CredentialOptions
		gets    int // successful GETs before refusal
		sleep   time.Duration
		refusal string
	}{
		{"default two transactions", CredentialOptions{DataShare: true}, 2, 0, "Data share usuage expired"},
		{"single use", CredentialOptions{DataShare: true, DataShareTransactions: 1}, 1, 0, "Data share usuage expired"},
		{"time limited", CredentialOptions{DataShare: true, DataShareTransactions: 5, DataShareValidFor: 500 * time.Millisecond}, 1, 600 * time.Millisecond, "Data share usuage expired"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, srv := credTestService(t, tc.opts)
			rid := "10001100010002420250110061144"
			body, err := s.IssueCredential(credTestIdentity(), rid)
			if err != nil {
				t.Fatal(err)
			}
			ev := credTestParseEvent(t, body)
			if _, ok := ev.Event.Data["credential"]; ok {
				t.Error("data.credential present in datashare mode")
			}
			if ev.Event.DataShareURI == nil {
				t.Fatal("dataShareUri is null in datashare mode")
			}
			uri := *ev.Event.DataShareURI
			prefix := srv.URL + "/v1/datashare/get/mpolicy-default-opencrvs/opencrvs-partner/"
			if !strings.HasPrefix(uri, prefix) || !regexp.MustCompile(`^opencrvs-partnermpolicy-default-opencrvs\d{14}[A-Za-z0-9]{8}$`).MatchString(strings.TrimPrefix(uri, prefix)) {
				t.Errorf("dataShareUri = %q", uri)
			}
			var sig struct {
				Signature string `json:"signature"`
			}
			if err := json.Unmarshal(ev.Event.Data["proof"], &sig); err != nil {
				t.Fatal(err)
			}
			partner := credTestCerts(t).partner
			for i := 0; i < tc.gets; i++ {
				resp, err := http.Get(uri)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/octet-stream" {
					t.Fatalf("GET %d: %d %s", i+1, resp.StatusCode, resp.Header.Get("Content-Type"))
				}
				plain := credTestDecrypt(t, partner.Key, partner.DER, string(b))
				credTestVerifyCertJWS(t, sig.Signature, plain)
				if !strings.Contains(string(plain), `"credentialSubject":{"id":"http://credential.idrepo/credentials/`+rid+`"`) {
					t.Errorf("datashare credential is not this RID's VC")
				}
			}
			time.Sleep(tc.sleep)
			credTestDataShareRefused(t, uri, tc.refusal)
			credTestDataShareRefused(t, prefix+"unknownkey", "Data share not found")
			if got := s.DataShareFetches(); got != int64(tc.gets+2) {
				t.Errorf("DataShareFetches = %d, want %d", got, tc.gets+2)
			}
		})
	}
}

// credTestDataShareRefused checks MOSIP's datashare refusal: HTTP 200 with a
// JSON body whose errors[] carries DAT-SER-006 — not an HTTP error.
func credTestDataShareRefused(t *testing.T, uri, msg string) {
	t.Helper()
	resp, err := http.Get(uri)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		ID        string          `json:"id"`
		Version   string          `json:"version"`
		RespTime  string          `json:"responsetime"`
		DataShare json.RawMessage `json:"dataShare"`
		Errors    []struct {
			ErrorCode string `json:"errorCode"`
			Message   string `json:"message"`
		} `json:"errors"`
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("refusal: HTTP %d %s, want 200 application/json", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	if env.ID != "mosip.data.share" || len(env.Errors) != 1 || env.Errors[0].ErrorCode != "DAT-SER-006" || env.Errors[0].Message != msg ||
		string(env.DataShare) != "null" || !credMsRe.MatchString(env.RespTime) {
		t.Errorf("refusal body = %+v, want DAT-SER-006 %q", env, msg)
	}
}

func TestCredentialServedDocuments(t *testing.T) {
	t.Parallel()
	s, srv := credTestService(t, CredentialOptions{})
	signing := credTestCerts(t).signing

	var pk struct {
		Context      string `json:"@context"`
		Type         string `json:"type"`
		ID           string `json:"id"`
		Controller   string `json:"controller"`
		PublicKeyPem string `json:"publicKeyPem"`
	}
	credTestGetJSON(t, srv.URL+"/.well-known/public-key.json", &pk)
	if pk.Context != "https://w3id.org/security/v2" || pk.Type != "RsaVerificationKey2018" ||
		pk.ID != srv.URL+"/.well-known/public-key.json" || pk.Controller != srv.URL+"/.well-known/controller.json" {
		t.Errorf("public-key.json = %+v", pk)
	}
	block, _ := pem.Decode([]byte(pk.PublicKeyPem))
	if block == nil {
		t.Fatal("publicKeyPem is not PEM")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !signing.Key.PublicKey.Equal(key.(*rsa.PublicKey)) {
		t.Error("publicKeyPem is not the signing key")
	}

	var ctl struct {
		Context         string   `json:"@context"`
		ID              string   `json:"id"`
		AssertionMethod []string `json:"assertionMethod"`
	}
	credTestGetJSON(t, srv.URL+"/.well-known/controller.json", &ctl)
	if ctl.Context != "https://w3id.org/security/v2" || ctl.ID != srv.URL+"/.well-known/controller.json" ||
		!reflect.DeepEqual(ctl.AssertionMethod, []string{srv.URL + "/.well-known/public-key.json"}) {
		t.Errorf("controller.json = %+v", ctl)
	}

	var served any
	credTestGetJSON(t, srv.URL+"/.well-known/mosip-context.json", &served)
	want := credTestNewLoader(t, srv.URL, nil, nil)[srv.URL+"/.well-known/mosip-context.json"]
	if !reflect.DeepEqual(served, want) {
		t.Errorf("served mosip-context.json differs from the template filled for %s", srv.URL)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	if str := credTestString(served); strings.Contains(str, "${") || !strings.Contains(str, "https://"+host+"/mosip#") {
		t.Error("placeholder not filled with the public host")
	}
	var accessor any
	if err := json.Unmarshal(s.MOSIPContext(), &accessor); err != nil || !reflect.DeepEqual(accessor, served) {
		t.Errorf("MOSIPContext() is not the served document (%v)", err)
	}

	for path, file := range map[string]string{
		"/.well-known/cred-v1.jsonld": "credentials-v1.jsonld", "/.well-known/security-v1.jsonld": "security-v1.jsonld",
		"/.well-known/security-v2.jsonld": "security-v2.jsonld",
	} {
		var got any
		credTestGetJSON(t, srv.URL+path, &got)
		if !reflect.DeepEqual(got, credTestNewLoader(t, srv.URL, nil, nil)[map[string]string{
			"credentials-v1.jsonld": CredentialsV1ContextURL, "security-v1.jsonld": SecurityV1ContextURL, "security-v2.jsonld": SecurityV2ContextURL,
		}[file]]) {
			t.Errorf("GET %s is not %s", path, file)
		}
	}
	resp, err := http.Get(srv.URL + "/.well-known/odrl.jsonld")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("odrl.jsonld served (%d) although none is pinned", resp.StatusCode)
	}
}

func TestCredentialIdentityFields(t *testing.T) {
	t.Parallel()
	s, _ := credTestService(t, CredentialOptions{
		Policy:         CredentialPolicyUIN,
		Attributes:     []string{"fullName", "gender", "dateOfBirth", "birthCertificateNumber", "email", "UIN", "id"},
		MetaInfoFields: []string{"opencrvsBRN", "absentLabel"},
	})
	id := credTestIdentity()
	id.Fields = map[string]string{
		"gender":                 `[{"language":"eng","value":"Female"}]`,
		"birthCertificateNumber": "2025ABC123",
		"opencrvsBRN":            "BRN-42",
	}
	ev, _, vc := credTestIssue(t, s, id, "R")
	cs := vc["credentialSubject"].(map[string]any)
	if !reflect.DeepEqual(cs["gender"], []any{map[string]any{"language": "eng", "value": "Female"}}) {
		t.Errorf("gender = %v; the stored packet value must win and stay structured", cs["gender"])
	}
	if cs["birthCertificateNumber"] != "2025ABC123" {
		t.Errorf("birthCertificateNumber = %v", cs["birthCertificateNumber"])
	}
	if cs["UIN"] != id.UIN || cs["id"] != "http://credential.idrepo/credentials/R" {
		t.Errorf("UIN/id = %v/%v", cs["UIN"], cs["id"])
	}
	if _, plain, _ := credTestIssue(t, s, id, "R2"); strings.Count(string(plain), `"UIN":`) != 1 {
		t.Error("UIN appears twice in the credential JSON")
	}
	if _, ok := cs["email"]; ok {
		t.Error("empty email shared")
	}
	if got := credTestDataString(t, ev, "opencrvsBRN"); got != "BRN-42" {
		t.Errorf("data.opencrvsBRN = %q", got)
	}
	if _, ok := ev.Event.Data["absentLabel"]; ok {
		t.Error("absent metaInfo field copied")
	}
}

func TestCredentialErrors(t *testing.T) {
	t.Parallel()
	partner := credTestCerts(t).partner.Cert
	bad := []struct {
		name string
		opts CredentialOptions
	}{
		{"no partner id", CredentialOptions{PartnerCert: partner}},
		{"no partner cert", CredentialOptions{PartnerID: "p"}},
		{"bad policy", CredentialOptions{PartnerID: "p", PartnerCert: partner, Policy: "NAME"}},
		{"bad canonicalization", CredentialOptions{PartnerID: "p", PartnerCert: partner, Canonicalization: "RDFC"}},
		{"relative base", CredentialOptions{PartnerID: "p", PartnerCert: partner, PublicBaseURL: "/mosip"}},
		{"invalid context", CredentialOptions{PartnerID: "p", PartnerCert: partner, Contexts: map[string][]byte{"https://x/": []byte("{")}}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.opts.SigningCert = credTestCerts(t).signing
			if _, err := NewCredentialService(tc.opts); err == nil {
				t.Error("NewCredentialService accepted bad options")
			}
		})
	}

	s, _ := credTestService(t, CredentialOptions{Policy: CredentialPolicyVID})
	noVID := credTestIdentity()
	noVID.VID = ""
	noUIN := credTestIdentity()
	noUIN.UIN = ""
	for name, call := range map[string]func() ([]byte, error){
		"empty RID":  func() ([]byte, error) { return s.IssueCredential(credTestIdentity(), "") },
		"no UIN":     func() ([]byte, error) { return s.IssueCredential(noUIN, "R") },
		"VID policy": func() ([]byte, error) { return s.IssueCredential(noVID, "R") },
	} {
		if _, err := call(); err == nil {
			t.Errorf("%s: IssueCredential succeeded", name)
		}
	}
	if n := len(s.Issued()); n != 0 {
		t.Errorf("failed issues recorded: %d", n)
	}
}

func credTestGetJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

func credTestString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// credTestTokenID recomputes MOSIP's TokenIDGenerator step by step, with
// different calls from the emulator's (fmt %X, big.Int from a hex string).
func credTestTokenID(uin, partner, uinSalt, partnerSalt string, n int) string {
	uinHash := strings.ToUpper(credTestHex(sha256.Sum256([]byte(uin + uinSalt))))
	hash := strings.ToUpper(credTestHex(sha256.Sum256([]byte(partnerSalt + partner + uinHash))))
	// BigInteger(hash.getBytes()): the ASCII bytes, big-endian, positive.
	var hexOfASCII strings.Builder
	for _, c := range []byte(hash) {
		hexOfASCII.WriteString(strings.ToLower(string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&0xf])))
	}
	bi, _ := new(big.Int).SetString(hexOfASCII.String(), 16)
	return bi.String()[:n]
}

func credTestHex(b [32]byte) string {
	var sb strings.Builder
	for _, c := range b {
		sb.WriteString(strings.ToUpper(string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&0xf])))
	}
	return sb.String()
}
