package credential

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mosipcrvs/bridge/pkg/ldproof"
	"github.com/mosipcrvs/bridge/pkg/mosipcrypto"
)

func newKeystore(t testing.TB, cn string) *mosipcrypto.Keystore {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &mosipcrypto.Keystore{Key: key, Cert: cert}
}

var (
	keysOnce                        sync.Once
	partnerKS, signerKS, strangerKS *mosipcrypto.Keystore
)

func testKeys(t testing.TB) {
	keysOnce.Do(func() {
		partnerKS, signerKS, strangerKS = newKeystore(t, "partner"), newKeystore(t, "mosip-signer"), newKeystore(t, "stranger")
	})
}

// issuer plays MOSIP's credential service for the unit tests: it serves
// the key document and signs like the keymanager (the sandbox e2e tests
// cover the real emulator).
type issuer struct {
	srv    *httptest.Server
	signer *mosipcrypto.Keystore
}

func newIssuer(t *testing.T) *issuer {
	testKeys(t)
	is := &issuer{signer: signerKS}
	is.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		der, _ := x509.MarshalPKIXPublicKey(&is.signer.Key.PublicKey)
		_ = json.NewEncoder(w).Encode(map[string]string{"type": "RsaVerificationKey2018",
			"publicKeyPem": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))})
	}))
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) keyURL() string { return is.srv.URL + "/.well-known/public-key.json" }

// issue returns (encrypted credential, event proof signature).
func (is *issuer) issue(t *testing.T, jcs bool, subject map[string]any, mutate func(vc map[string]any)) (string, string) {
	t.Helper()
	vc := map[string]any{
		"@context":          []any{ldproof.CredentialsV1ContextURL},
		"type":              []any{"VerifiableCredential", "MOSIPVerifiableCredential"},
		"id":                "https://mosip.io/credentials/abc",
		"issuer":            "https://mosip.io/issuer",
		"issuanceDate":      "2025-01-10T06:20:01.123Z",
		"credentialSubject": subject,
	}
	proof := map[string]any{"type": "RsaSignature2018", "created": "2025-01-10T06:20:01Z",
		"proofPurpose": "assertionMethod", "verificationMethod": is.keyURL()}
	payload, err := ldproof.ProofPayload(jcs, vc, proof, ldproof.NewLoader(nil))
	if err != nil {
		t.Fatal(err)
	}
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"b64":false,"crit":["b64"],"alg":"PS256"}`))
	digest := sha256.Sum256(append([]byte(h+"."), payload...))
	sig, err := rsa.SignPSS(rand.Reader, is.signer.Key, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	if err != nil {
		t.Fatal(err)
	}
	proof["jws"] = h + ".." + base64.RawURLEncoding.EncodeToString(sig)
	vc["proof"] = proof
	if mutate != nil {
		mutate(vc)
	}
	plain, _ := json.Marshal(vc)
	eventSig, err := mosipcrypto.SignDetachedRS256(is.signer, plain)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := mosipcrypto.EncryptVERR2(partnerKS.Cert, plain)
	if err != nil {
		t.Fatal(err)
	}
	return enc, eventSig
}

func (is *issuer) verifier(t *testing.T, mutate func(*Options)) *Verifier {
	t.Helper()
	o := Options{Keystore: partnerKS, SigningCerts: []*x509.Certificate{signerKS.Cert},
		VerificationMethods: []string{is.keyURL()}, Fetcher: NewFetcher(2*time.Second, 1<<20, true)}
	if mutate != nil {
		mutate(&o)
	}
	v, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func subject() map[string]any {
	return map[string]any{"id": "https://mosip.io/credentials/10001100040000120250110062001", "PSUT": "psut-1", "VID": "vid-1", "UIN": "uin-1"}
}

func TestOpenVerifiedCredential(t *testing.T) {
	is := newIssuer(t)
	for _, jcs := range []bool{false, true} {
		enc, sig := is.issue(t, jcs, subject(), nil)
		v := is.verifier(t, func(o *Options) {
			if jcs {
				o.Canonicalization = JCS
			}
		})
		c, err := v.Open(context.Background(), enc, sig, "")
		if err != nil {
			t.Fatalf("jcs=%v: %v", jcs, err)
		}
		if !c.Verified || c.RegistrationID != "10001100040000120250110062001" {
			t.Fatalf("jcs=%v: %+v", jcs, c)
		}
	}
}

func wantPermanent(t *testing.T, name string, err error, status, contains string) {
	t.Helper()
	var ce *Error
	if !errors.As(err, &ce) || !ce.Permanent || ce.Status != status || !strings.Contains(ce.Reason, contains) {
		t.Errorf("%s: err = %v, want permanent %s containing %q", name, err, status, contains)
	}
}

func TestOpenRefuses(t *testing.T) {
	is := newIssuer(t)
	ctx := context.Background()
	enc, sig := is.issue(t, false, subject(), nil)
	v := is.verifier(t, nil)

	raw, _ := mosipcrypto.DecodeBase64(enc)
	raw[len(raw)-5] ^= 1
	_, err := v.Open(ctx, base64.RawURLEncoding.EncodeToString(raw), sig, "")
	wantPermanent(t, "tampered ciphertext", err, StatusDecryptError, "decryption")

	other, _ := mosipcrypto.EncryptVERR2(strangerKS.Cert, []byte(`{}`))
	_, err = v.Open(ctx, other, sig, "")
	wantPermanent(t, "wrong thumbprint", err, StatusDecryptError, "thumbprint")

	// The event signature must come from the pinned MOSIP certificate.
	plain, _ := mosipcrypto.DecryptVERR2(enc, partnerKS)
	forged, _ := mosipcrypto.SignDetachedRS256(strangerKS, plain)
	_, err = v.Open(ctx, enc, forged, "")
	wantPermanent(t, "forged event signature", err, StatusVerifyError, "event proof signature")
	_, err = v.Open(ctx, enc, "", "")
	wantPermanent(t, "missing event signature", err, StatusVerifyError, "no data.proof.signature")

	// A credential changed after signing, re-signed at the event level by
	// a holder of the signing key but not at the proof level. (Terms the
	// contexts do not define, like PSUT here, are outside the URDNA2015
	// form; the event signature over the bytes covers them.)
	encT, sigT := is.issue(t, false, subject(), func(vc map[string]any) {
		vc["credentialSubject"].(map[string]any)["id"] = "https://mosip.io/credentials/999"
	})
	_, err = v.Open(ctx, encT, sigT, "")
	wantPermanent(t, "forged proof", err, StatusVerifyError, "credential proof")

	encM, sigM := is.issue(t, false, subject(), func(vc map[string]any) {
		vc["proof"].(map[string]any)["verificationMethod"] = "https://attacker.example/key.json"
	})
	_, err = v.Open(ctx, encM, sigM, "")
	wantPermanent(t, "verificationMethod outside the allowlist", err, StatusVerifyError, "allowlist")
}

func TestKeyFetchRefusesPrivateTargets(t *testing.T) {
	is := newIssuer(t)
	enc, sig := is.issue(t, false, subject(), nil)
	// The allowlisted URL points at 127.0.0.1 (the test server): with
	// private targets refused, the key is never fetched.
	v := is.verifier(t, func(o *Options) { o.Fetcher = NewFetcher(time.Second, 1<<20, false) })
	_, err := v.Open(context.Background(), enc, sig, "")
	if !errors.Is(err, ErrForbiddenTarget) {
		t.Fatalf("loopback key URL: err = %v", err)
	}
	wantPermanent(t, "loopback", err, StatusVerifyError, "not a public address")

	f := NewFetcher(time.Second, 1<<20, false)
	for _, u := range []string{"http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://[::1]/", "http://100.64.0.1/", "file:///etc/passwd"} {
		parsed, _ := url.Parse(u)
		if _, err := f.Get(context.Background(), parsed); err == nil {
			t.Errorf("%s fetched", u)
		}
	}
}

func TestDataShare(t *testing.T) {
	is := newIssuer(t)
	enc, _ := is.issue(t, false, subject(), nil)
	share := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/expired") {
			_, _ = w.Write([]byte(`{"dataShare":null,"errors":[{"errorCode":"DAT-SER-006","message":"Data share usage expired"}]}`))
			return
		}
		_, _ = w.Write([]byte(enc))
	}))
	defer share.Close()
	host := strings.TrimPrefix(share.URL, "http://")
	v := is.verifier(t, func(o *Options) { o.DataShareHosts = []string{host} })
	got, err := v.FetchDataShare(context.Background(), share.URL+"/v1/datashare/get/p/s/k")
	if err != nil || got != enc {
		t.Fatalf("data share: %v", err)
	}
	_, err = v.FetchDataShare(context.Background(), share.URL+"/v1/datashare/get/p/s/expired")
	wantPermanent(t, "expired share", err, StatusDataShareFail, "DAT-SER-006")
	_, err = v.FetchDataShare(context.Background(), "http://elsewhere.example/x")
	wantPermanent(t, "host not allowlisted", err, StatusDataShareFail, "not allowlisted")
}

func TestIdentifier(t *testing.T) {
	c := &Credential{Subject: subject()}
	for _, tc := range []struct{ policy, key, want string }{
		{PolicyPSUT, "", "psut-1"}, {PolicyVID, "", "vid-1"}, {PolicyUIN, "", "uin-1"}, {PolicyPSUTVID, "", "vid-1"},
		{PolicyUIN, "UIN", "uin-1"}, {PolicyVID, "VID", "vid-1"},
	} {
		if got, err := c.Identifier(tc.policy, tc.key); err != nil || got != tc.want {
			t.Errorf("%s/%s = %q, %v; want %q", tc.policy, tc.key, got, err, tc.want)
		}
	}
	// A UIN is never forwarded unless the policy says so.
	if _, err := c.Identifier(PolicyPSUT, "UIN"); err == nil {
		t.Error("UIN key accepted under the PSUT policy")
	}
	if _, err := (&Credential{Subject: map[string]any{"VID": "v"}}).Identifier(PolicyPSUT, ""); err == nil {
		t.Error("missing PSUT not reported")
	}
}

func FuzzDecrypt(f *testing.F) {
	testKeys(f)
	enc, _ := mosipcrypto.EncryptVERR2(partnerKS.Cert, []byte(`{"credentialSubject":{"id":"x/1"}}`))
	f.Add(enc, "e30..")
	f.Fuzz(func(t *testing.T, enc, sig string) {
		v, err := New(Options{Keystore: partnerKS, SigningCerts: []*x509.Certificate{signerKS.Cert},
			VerificationMethods: []string{"https://k"}, Fetcher: NewFetcher(time.Millisecond, 1, false)})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = v.Open(context.Background(), enc, sig, "")
	})
}
