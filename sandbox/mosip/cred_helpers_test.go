package mosip

// Test-side, independent implementations of what a credential receiver
// does: keymanager VER_R2 decryption, detached JWS verification, and the
// RsaSignature2018 proof check with its own offline JSON-LD loader built
// from the files on disk. None of these call the emulator's own code.

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/piprate/json-gold/ld"

	"github.com/mosipcrvs/bridge/sandbox/pki"
)

type credTestPKI struct {
	signing, partner, partner2 *pki.Cert
}

var (
	credTestPKIOnce sync.Once
	credTestPKIVal  credTestPKI
	credTestPKIErr  error
)

// credTestCerts makes the RSA keys once per test binary: key generation is
// the slow part and the tests only need distinct roles.
func credTestCerts(t *testing.T) credTestPKI {
	t.Helper()
	credTestPKIOnce.Do(func() {
		ca, err := pki.NewCA("cred test CA")
		if err != nil {
			credTestPKIErr = err
			return
		}
		for _, p := range []struct {
			cn  string
			dst **pki.Cert
		}{{"CREDENTIAL_SERVICE", &credTestPKIVal.signing}, {"opencrvs-partner", &credTestPKIVal.partner}, {"other-partner", &credTestPKIVal.partner2}} {
			c, err := ca.Issue(p.cn)
			if err != nil {
				credTestPKIErr = err
				return
			}
			*p.dst = c
		}
	})
	if credTestPKIErr != nil {
		t.Fatalf("test PKI: %v", credTestPKIErr)
	}
	return credTestPKIVal
}

// credTestService starts an HTTP server, builds the service with the
// server's URL as PublicBaseURL (unless set) and registers it.
func credTestService(t *testing.T, opts CredentialOptions) (*CredentialService, *httptest.Server) {
	t.Helper()
	certs := credTestCerts(t)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	if opts.PartnerID == "" {
		opts.PartnerID = "opencrvs-partner"
	}
	if opts.PartnerCert == nil {
		opts.PartnerCert = certs.partner.Cert
	}
	if opts.SigningCert == nil {
		opts.SigningCert = certs.signing
	}
	if opts.PublicBaseURL == "" {
		opts.PublicBaseURL = srv.URL
	}
	s, err := NewCredentialService(opts)
	if err != nil {
		t.Fatalf("NewCredentialService: %v", err)
	}
	s.Register(mux)
	return s, srv
}

// credTestIdentity is a person as the ID repository holds them.
func credTestIdentity() Identity {
	return Identity{
		UIN: "2178026904", VID: "8000567890", FullName: "Jenny Debra Doe",
		DateOfBirth: "2002/02/01", Gender: "female",
	}
}

// credTestEvent is the CREDENTIAL_ISSUED event as a receiver parses it.
type credTestEvent struct {
	Publisher   string `json:"publisher"`
	Topic       string `json:"topic"`
	PublishedOn string `json:"publishedOn"`
	Event       struct {
		ID            string `json:"id"`
		TransactionID string `json:"transactionId"`
		Type          struct {
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
		} `json:"type"`
		Timestamp    string                     `json:"timestamp"`
		DataShareURI *string                    `json:"dataShareUri"`
		Data         map[string]json.RawMessage `json:"data"`
	} `json:"event"`
}

func credTestParseEvent(t *testing.T, body []byte) credTestEvent {
	t.Helper()
	var ev credTestEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatalf("event is not JSON: %v\n%s", err, body)
	}
	return ev
}

func credTestDataString(t *testing.T, ev credTestEvent, key string) string {
	t.Helper()
	raw, ok := ev.Event.Data[key]
	if !ok {
		t.Fatalf("event.data.%s missing; data keys: %v", key, credTestKeys(ev.Event.Data))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("event.data.%s = %s, want a string", key, raw)
	}
	return s
}

func credTestKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// credTestDecrypt undoes keymanager VER_R2 hybrid encryption from the
// documented byte layout, and checks the thumbprint names certDER.
func credTestDecrypt(t *testing.T, priv *rsa.PrivateKey, certDER []byte, enc string) []byte {
	t.Helper()
	// Receivers must tolerate padding and the standard alphabet.
	norm := strings.NewReplacer("+", "-", "/", "_", "=", "").Replace(enc)
	raw, err := base64.RawURLEncoding.DecodeString(norm)
	if err != nil {
		t.Fatalf("credential is not base64url: %v", err)
	}
	i := bytes.Index(raw, []byte("#KEY_SPLITTER#"))
	if i < 0 {
		t.Fatal("no #KEY_SPLITTER# in encrypted credential")
	}
	keyPart, data := raw[:i], raw[i+len("#KEY_SPLITTER#"):]
	if !bytes.HasPrefix(keyPart, []byte("VER_R2")) {
		t.Fatalf("key part starts %q, want VER_R2", keyPart[:min(6, len(keyPart))])
	}
	keyPart = keyPart[6:]
	if len(keyPart) != 32+256 {
		t.Fatalf("key part is %d bytes after VER_R2, want 32 (thumbprint) + 256 (RSA-2048)", len(keyPart))
	}
	want := sha256.Sum256(certDER)
	if !bytes.Equal(keyPart[:32], want[:]) {
		t.Fatalf("thumbprint %x, want SHA-256 of the partner cert %x", keyPart[:32], want)
	}
	aesKey, err := rsa.DecryptOAEP(sha256.New(), nil, priv, keyPart[32:], nil)
	if err != nil {
		t.Fatalf("RSA-OAEP-SHA256: %v", err)
	}
	if len(aesKey) != 32 {
		t.Fatalf("AES key is %d bytes, want 32", len(aesKey))
	}
	if len(data) < 32+16 {
		t.Fatalf("data part is %d bytes, too short for AAD and tag", len(data))
	}
	block, err := aes.NewCipher(aesKey)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	aad := data[:32]
	plain, err := gcm.Open(nil, aad[:12], data[32:], aad)
	if err != nil {
		t.Fatalf("AES-GCM open (nonce=AAD[:12], additional data=AAD): %v", err)
	}
	return plain
}

// credTestVerifyCertJWS checks event.data.proof.signature: a detached
// compact RS256 JWS over b64url(payload), key from its x5c.
func credTestVerifyCertJWS(t *testing.T, jws string, payload []byte) *x509.Certificate {
	t.Helper()
	parts := strings.Split(jws, ".")
	if len(parts) != 3 || parts[1] != "" {
		t.Fatalf("signature %q is not a detached compact JWS", jws)
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		t.Fatalf("header: %v", err)
	}
	var h struct {
		Alg  string   `json:"alg"`
		X5C  []string `json:"x5c"`
		X5TS string   `json:"x5t#S256"`
		B64  *bool    `json:"b64"`
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		t.Fatalf("header %s: %v", hb, err)
	}
	if h.Alg != "RS256" || len(h.X5C) != 1 || h.B64 != nil {
		t.Fatalf("header %s: want alg RS256, one x5c, no b64", hb)
	}
	der, err := base64.StdEncoding.DecodeString(h.X5C[0])
	if err != nil {
		t.Fatalf("x5c is not standard base64 DER: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("x5c: %v", err)
	}
	thumb := sha256.Sum256(der)
	if h.X5TS != base64.RawURLEncoding.EncodeToString(thumb[:]) {
		t.Fatalf("x5t#S256 %q does not match the x5c certificate", h.X5TS)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload)))
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig); err != nil {
		t.Fatalf("RS256 over the plaintext credential does not verify: %v", err)
	}
	return cert
}

// credTestLoader is the test's own offline loader: the context files read
// from disk, the MOSIP template filled for base (minus the ODRL import
// unless odrl is given) plus the PSUT term unless terms says otherwise.
type credTestLoader map[string]any

func credTestNewLoader(t *testing.T, base string, odrl []byte, terms map[string]string) credTestLoader {
	t.Helper()
	read := func(name string) []byte {
		dir := "data/jsonld/"
		if name != "mosip-context.template.jsonld" {
			dir = "../../pkg/ldproof/contexts/" // the W3C contexts live with the canonicalizer
		}
		b, err := os.ReadFile(dir + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	parse := func(b []byte) any {
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	l := credTestLoader{
		"https://www.w3.org/2018/credentials/v1": parse(read("credentials-v1.jsonld")),
		"https://w3id.org/security/v1":           parse(read("security-v1.jsonld")),
		"https://w3id.org/security/v2":           parse(read("security-v2.jsonld")),
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := strings.ReplaceAll(string(read("mosip-context.template.jsonld")), "${mosip.api.public.host}", u.Host)
	mctx := parse([]byte(tmpl)).(map[string]any)
	arr := mctx["@context"].([]any)
	var kept []any
	for _, e := range arr {
		if e == "https://www.w3.org/ns/odrl.jsonld" && odrl == nil {
			continue
		}
		kept = append(kept, e)
	}
	if terms == nil {
		terms = map[string]string{"PSUT": "mosip:PSUT"}
	}
	last := kept[len(kept)-1].(map[string]any)
	for k, v := range terms {
		last[k] = v
	}
	mctx["@context"] = kept
	l[base+"/.well-known/mosip-context.json"] = mctx
	if odrl != nil {
		l["https://www.w3.org/ns/odrl.jsonld"] = parse(odrl)
	}
	return l
}

func (l credTestLoader) LoadDocument(u string) (*ld.RemoteDocument, error) {
	d, ok := l[u]
	if !ok {
		return nil, fmt.Errorf("test loader: %s not pinned", u)
	}
	// Round-trip so json-gold gets its own copy.
	b, _ := json.Marshal(d)
	var c any
	_ = json.Unmarshal(b, &c)
	return &ld.RemoteDocument{DocumentURL: u, Document: c}, nil
}

// credTestNQuads canonicalizes like MOSIP's Titanium-based ld-signatures:
// json-gold's RDF, minus every statement naming a relative IRI (Titanium
// emits none; json-gold keeps e.g. rdf:type <MOSIPVerifiableCredential>),
// then URDNA2015. The filter works on the N-Quads text, not on the dataset
// as the emulator does.
func credTestNQuads(t *testing.T, doc any, loader ld.DocumentLoader) string {
	t.Helper()
	opts := ld.NewJsonLdOptions("")
	opts.Format = "application/n-quads"
	opts.DocumentLoader = loader
	out, err := ld.NewJsonLdProcessor().ToRDF(doc, opts)
	if err != nil {
		t.Fatalf("toRdf: %v", err)
	}
	var kept []string
	for _, line := range strings.SplitAfter(out.(string), "\n") {
		relative := false
		for _, m := range credTestIRIRe.FindAllStringSubmatch(line, -1) {
			if !credTestSchemeRe.MatchString(m[1]) {
				relative = true
			}
		}
		if line != "" && !relative {
			kept = append(kept, line)
		}
	}
	nopts := ld.NewJsonLdOptions("")
	nopts.Algorithm = "URDNA2015"
	nopts.InputFormat = "application/n-quads"
	nopts.Format = "application/n-quads"
	res, err := ld.NewJsonLdProcessor().Normalize(strings.Join(kept, ""), nopts)
	if err != nil {
		t.Fatalf("URDNA2015: %v", err)
	}
	return res.(string)
}

var (
	credTestIRIRe    = regexp.MustCompile(`<([^>]*)>`)
	credTestSchemeRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
)

// credTestNQuadsNaive is json-gold's URDNA2015 used directly, as a Go
// verifier would at first try.
func credTestNQuadsNaive(t *testing.T, doc any, loader ld.DocumentLoader) string {
	t.Helper()
	opts := ld.NewJsonLdOptions("")
	opts.Algorithm = "URDNA2015"
	opts.Format = "application/n-quads"
	opts.DocumentLoader = loader
	out, err := ld.NewJsonLdProcessor().Normalize(doc, opts)
	if err != nil {
		t.Fatalf("URDNA2015: %v", err)
	}
	return out.(string)
}

// credTestSplitVC separates the VC's proof from the rest and decodes the
// proof jws header and signature, checking the header's fixed values.
func credTestSplitVC(t *testing.T, vcJSON []byte) (vc map[string]any, proof map[string]any, header string, sig []byte) {
	t.Helper()
	if err := json.Unmarshal(vcJSON, &vc); err != nil {
		t.Fatalf("VC is not JSON: %v", err)
	}
	proof, ok := vc["proof"].(map[string]any)
	if !ok {
		t.Fatal("VC has no proof object")
	}
	delete(vc, "proof")
	jws, _ := proof["jws"].(string)
	delete(proof, "jws")
	parts := strings.Split(jws, ".")
	if len(parts) != 3 || parts[1] != "" {
		t.Fatalf("proof.jws %q is not detached", jws)
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(hb, &h); err != nil {
		t.Fatal(err)
	}
	if h["alg"] != "PS256" || h["b64"] != false || fmt.Sprint(h["crit"]) != "[b64]" || h["kid"] == "" || h["kid"] == nil {
		t.Fatalf("proof.jws header %s: want alg PS256, b64 false, crit [b64], a kid", hb)
	}
	sig, err = base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	return vc, proof, parts[0], sig
}

// credTestURDNAPayload is ld-signatures' URDNA2015Canonicalizer output:
// SHA-256(proof options under security v2) ‖ SHA-256(VC without proof).
func credTestURDNAPayload(t *testing.T, vc, proof map[string]any, loader ld.DocumentLoader) []byte {
	t.Helper()
	ph := sha256.Sum256([]byte(credTestNQuads(t, credTestProofOptions(proof), loader)))
	dh := sha256.Sum256([]byte(credTestNQuads(t, vc, loader)))
	return append(ph[:], dh[:]...)
}

// credTestProofOptions is the proof without jws under the security v2
// context, as ld-signatures canonicalizes it.
func credTestProofOptions(proof map[string]any) map[string]any {
	opts := map[string]any{"@context": "https://w3id.org/security/v2"}
	for k, v := range proof {
		opts[k] = v
	}
	return opts
}

// credTestJCS is enough of RFC 8785 for ASCII-keyed, number-free JSON:
// encoding/json sorts map keys bytewise (= UTF-16 order for ASCII) and,
// without HTML escaping, escapes strings like JSON.stringify does for the
// characters a credential contains.
func credTestJCS(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func credTestVerifyPS256(header string, payload, sig []byte, pub *rsa.PublicKey) error {
	input := append([]byte(header+"."), payload...)
	d := sha256.Sum256(input)
	return rsa.VerifyPSS(pub, crypto.SHA256, d[:], sig, &rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256})
}

// credTestIssue issues and fully unwraps a credential: the event, the
// decrypted VC bytes (inline or via the datashare) and the parsed VC.
func credTestIssue(t *testing.T, s *CredentialService, id Identity, rid string) (credTestEvent, []byte, map[string]any) {
	t.Helper()
	body, err := s.IssueCredential(id, rid)
	if err != nil {
		t.Fatalf("IssueCredential: %v", err)
	}
	ev := credTestParseEvent(t, body)
	var enc string
	if ev.Event.DataShareURI != nil {
		resp, err := http.Get(*ev.Event.DataShareURI)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		enc = string(b)
	} else {
		enc = credTestDataString(t, ev, "credential")
	}
	certs := credTestCerts(t)
	partner := certs.partner
	if s.partnerCert == certs.partner2.Cert {
		partner = certs.partner2
	}
	plain := credTestDecrypt(t, partner.Key, partner.DER, enc)
	var vc map[string]any
	if err := json.Unmarshal(plain, &vc); err != nil {
		t.Fatalf("decrypted credential is not JSON: %v", err)
	}
	return ev, plain, vc
}
