package ldproof

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"
)

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNQuadsDropsRelativeIRIs(t *testing.T) {
	// "MOSIPVerifiableCredential" is not defined by the context: Titanium
	// (MOSIP's signer) emits no statement for it, json-gold would.
	doc := decode(t, `{"@context":["`+CredentialsV1ContextURL+`"],"id":"https://example.org/c/1",
		"type":["VerifiableCredential","MOSIPVerifiableCredential"],"issuer":"https://example.org/issuer",
		"issuanceDate":"2025-01-10T06:20:01.123Z","credentialSubject":{"id":"https://example.org/s/1"}}`)
	nq, err := NQuads(doc, NewLoader(nil))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(nq, "MOSIPVerifiableCredential") {
		t.Fatalf("relative type kept:\n%s", nq)
	}
	if !strings.Contains(nq, "<https://www.w3.org/2018/credentials#VerifiableCredential>") {
		t.Fatalf("defined type missing:\n%s", nq)
	}
}

func TestLoaderIsOffline(t *testing.T) {
	doc := decode(t, `{"@context":["https://attacker.example/ctx.jsonld"],"id":"https://example.org/1"}`)
	if _, err := NQuads(doc, NewLoader(nil)); err == nil || !strings.Contains(err.Error(), "not pinned") {
		t.Fatalf("unknown context: err = %v", err)
	}
	l := NewLoader(map[string][]byte{"https://example.org/ctx.jsonld": []byte(`{"@context":{"name":"https://schema.org/name"}}`)})
	if !l.Has("https://example.org/ctx.jsonld") || !l.Has(SecurityV2ContextURL) {
		t.Fatal("configured or bundled context missing")
	}
}

func TestProofPayload(t *testing.T) {
	l := NewLoader(nil)
	vc := decode(t, `{"@context":["`+CredentialsV1ContextURL+`"],"id":"https://example.org/c/1","type":["VerifiableCredential"],
		"issuer":"https://example.org/issuer","issuanceDate":"2025-01-10T06:20:01.123Z","credentialSubject":{"id":"https://example.org/s/1"}}`)
	proof := decode(t, `{"type":"RsaSignature2018","created":"2025-01-10T06:20:01Z","proofPurpose":"assertionMethod",
		"verificationMethod":"https://example.org/key.json"}`)
	p, err := ProofPayload(false, vc, proof, l)
	if err != nil || len(p) != 64 {
		t.Fatalf("URDNA2015 payload: %d bytes, %v", len(p), err)
	}
	docNQ, _ := NQuads(vc, l)
	if sum := sha256.Sum256([]byte(docNQ)); !bytes.Equal(p[32:], sum[:]) {
		t.Fatal("second half is not the credential's hash")
	}
	if _, ok := proof["@context"]; ok {
		t.Fatal("ProofPayload changed the caller's proof options")
	}
	vc["issuer"] = "https://example.org/other"
	if p2, _ := ProofPayload(false, vc, proof, l); bytes.Equal(p, p2) {
		t.Fatal("payload does not depend on the credential")
	}
	j, err := ProofPayload(true, map[string]any{"b": 1.0, "a": "x"}, proof, l)
	if err != nil || string(j) != `{"a":"x","b":1}` {
		t.Fatalf("JCS payload = %s, %v", j, err)
	}
}
