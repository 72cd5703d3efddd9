package ldproof

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/piprate/json-gold/ld"
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

// uncached hides the Loader type, so that no processed context is reused.
type uncached struct{ l *Loader }

func (u uncached) LoadDocument(url string) (*ld.RemoteDocument, error) { return u.l.LoadDocument(url) }

// What NQuads does faster — reusing processed contexts, building the
// dataset with IRI verdicts remembered — gives the N-Quads json-gold alone
// gives: for credentials, proof options, term-scoped and inline contexts,
// every kind of literal, lists, named graphs, relative references, IRIs
// and language tags json-gold drops, JSON literals; across goroutines.
func TestNQuadsSameAsJSONGold(t *testing.T) {
	t.Parallel()
	ctxURL := "https://example.org/mosip-context.json"
	l := NewLoader(map[string][]byte{ctxURL: []byte(`{"@context":[{"@version":1.1},{
		"mosip":"https://example.org/mosip#","rdf":"http://www.w3.org/1999/02/22-rdf-syntax-ns#","vcVer":"mosip:vcVer","PSUT":"mosip:PSUT",
		"dateOfBirth":"mosip:dateOfBirth",
		"fullName":{"@id":"https://example.org/mosip#fullName","@context":{"value":"rdf:value","lang":"@language"}},
		"gender":{"@id":"https://example.org/mosip#gender","@context":{"value":"rdf:value","lang":"@language"}}}]}`)})
	ex := `{"ex":"http://example.org/vocab#","xsd":"http://www.w3.org/2001/XMLSchema#",
		"list":{"@id":"ex:list","@container":"@list"},"ref":{"@id":"ex:ref","@type":"@id"},"js":{"@id":"ex:js","@type":"@json"}}`
	docs := []string{
		`{"@context":["` + CredentialsV1ContextURL + `","` + ctxURL + `",{"sec":"https://w3id.org/security#"}],
		"type":["VerifiableCredential","MOSIPVerifiableCredential"],"id":"http://credential.idrepo/credentials/1",
		"issuer":"https://example.org/.well-known/controller.json","issuanceDate":"2025-01-10T06:20:01.123Z",
		"credentialSubject":{"id":"http://credential.idrepo/credentials/10001","vcVer":"VC-V1","PSUT":"12345",
		"fullName":[{"language":"eng","value":"Infant Doe"}],"dateOfBirth":"2025/09/01","gender":[{"language":"eng","value":"Male"}]}}`,
		`{"@context":["` + CredentialsV1ContextURL + `","` + ctxURL + `",{"sec":"https://w3id.org/security#"}],
		"type":["VerifiableCredential"],"id":"http://credential.idrepo/credentials/2","issuer":"https://example.org/issuer",
		"issuanceDate":"2025-01-11T06:20:01.123Z","credentialSubject":{"id":"http://credential.idrepo/credentials/10002","PSUT":"6789"}}`,
		`{"@context":"` + SecurityV2ContextURL + `","type":"RsaSignature2018","created":"2025-01-10T06:20:01Z",
		"proofPurpose":"assertionMethod","verificationMethod":"https://example.org/key.json"}`,
		`{"@context":{"name":"https://schema.org/name","knows":{"@id":"https://schema.org/knows","@type":"@id"}},
		"@id":"https://example.org/p/1","name":"A","knows":"https://example.org/p/2"}`,
		`{"@context":` + ex + `,"@id":"http://example.org/s","ex:int":5,"ex:neg":-12,"ex:float":1.5,"ex:big":1e30,"ex:t":true,"ex:f":false,
		"ex:typed":{"@value":"2025-01-10","@type":"xsd:date"},"ex:typedNum":{"@value":7,"@type":"xsd:long"},
		"ex:dbl":{"@value":3,"@type":"xsd:double"},"ex:bool":{"@value":true,"@type":"xsd:string"},
		"ex:lang":{"@value":"chat","@language":"fr"},"ex:badLang":{"@value":"x","@language":"not a tag"},
		"ex:typedLang":{"@value":"y","@language":"en-GB"},
		"list":["a",2,{"@id":"http://example.org/o"},["nested",{"@value":"n","@language":"en"}],"relative-ok"],
		"ex:empty":{"@list":[]},
		"ref":["http://example.org/r","relative/ref","_:b7","http://exa mple.org/bad iri","https://"],
		"ex:node":{"ex:p":"blank object","ex:q":{"@id":"http://example.org/q"}},
		"@type":["ex:T","Relative","http://example.org/Type"]}`,
		`{"@context":` + ex + `,"@id":"http://example.org/g","@graph":[{"@id":"http://example.org/a","ex:p":"in a named graph"},
		{"@id":"_:x","ex:p":{"@id":"http://example.org/a"}}]}`,
		`{"@context":` + ex + `,"@graph":[{"@id":"http://example.org/a","ex:p":1},{"@id":"http://example.org/b","ex:p":"two"}]}`,
		`{"@context":` + ex + `,"@id":"http://example.org/j","js":{"a":[1,2.5,"x"],"b":null}}`,
		`{"@id":"http://example.org/none","http://example.org/p":"no context"}`,
	}
	for i, s := range docs {
		want, err := nquads(decode(t, s), uncached{l}, false)
		if err != nil {
			t.Fatalf("doc %d with json-gold alone: %v", i, err)
		}
		if want == "" {
			t.Fatalf("doc %d: no statements", i)
		}
		if got, err := nquads(decode(t, s), uncached{l}, true); err != nil || got != want {
			t.Errorf("doc %d without cached contexts = %q, %v; want %q", i, got, err, want)
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 3 {
					if got, err := NQuads(decode(t, s), l); err != nil || got != want {
						t.Errorf("doc %d = %q, %v; want %q", i, got, err, want)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	// json-gold panics on a list holding a relative reference; NQuads
	// refuses it.
	if _, err := NQuads(decode(t, `{"@context":`+ex+`,"@id":"http://example.org/s","ex:l":{"@list":[{"@id":"rel"}]}}`), l); err == nil {
		t.Error("a list with a relative reference was canonicalized")
	}
	// A document's @context is left as it was.
	doc := decode(t, docs[2])
	if _, err := NQuads(doc, l); err != nil || doc["@context"] != SecurityV2ContextURL {
		t.Fatalf("@context after NQuads = %v, %v", doc["@context"], err)
	}
}
