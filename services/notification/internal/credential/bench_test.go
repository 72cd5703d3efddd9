package credential

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/mosipcrvs/bridge/pkg/ldproof"
	"github.com/mosipcrvs/bridge/pkg/mosipcrypto"
)

// benchContextURL is where the benchmark credential says its MOSIP context
// lives; testdata/mosip-context.jsonld is the sandbox's mosip-context.json
// (MOSIP's template, filled in for this host, ODRL import dropped, PSUT
// defined), so the canonicalization does the work a real credential needs.
const benchContextURL = "https://mosip.example.org/.well-known/mosip-context.json"

// benchCredential is a credential shaped as MOSIP's credential service (and
// the sandbox) issues it: the MOSIP context, the policy's attributes with
// language maps, an RsaSignature2018 proof over URDNA2015, the event's RS256
// signature over the plaintext, VER_R2-encrypted for the partner.
type benchCredential struct {
	enc, sig string
	plain    []byte
	rid      string
}

func newBenchCredential(b *testing.B, keyURL string, loader *ldproof.Loader, rid string) benchCredential {
	b.Helper()
	now := time.Now().UTC()
	vc := map[string]any{
		"@context": []any{ldproof.CredentialsV1ContextURL, benchContextURL, map[string]any{"sec": "https://w3id.org/security#"}},
		"type":     []any{"VerifiableCredential", "MOSIPVerifiableCredential"},
		"id":       "http://credential.idrepo/credentials/5b7c4f0e-7f69-4f0a-9d36-36b1f0b7b0a1",
		"issuer":   "https://mosip.example.org/.well-known/controller.json", "issuanceDate": now.Format("2006-01-02T15:04:05.000Z"),
		"credentialSubject": map[string]any{
			"id": "http://credential.idrepo/credentials/" + rid, "vcVer": "VC-V1", "PSUT": "5843176029174625",
			"fullName":    []any{map[string]any{"language": "eng", "value": "Infant Middle Doe"}},
			"dateOfBirth": "2025/09/01",
			"gender":      []any{map[string]any{"language": "eng", "value": "Male"}},
		},
	}
	proof := map[string]any{"type": "RsaSignature2018", "created": now.Format("2006-01-02T15:04:05Z"),
		"proofPurpose": "assertionMethod", "verificationMethod": keyURL}
	payload, err := ldproof.ProofPayload(false, vc, proof, loader)
	if err != nil {
		b.Fatal(err)
	}
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"b64":false,"crit":["b64"],"alg":"PS256"}`))
	digest := sha256.Sum256(append([]byte(h+"."), payload...))
	s, err := rsa.SignPSS(rand.Reader, signerKS.Key, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	if err != nil {
		b.Fatal(err)
	}
	proof["jws"] = h + ".." + base64.RawURLEncoding.EncodeToString(s)
	vc["proof"] = proof
	plain, _ := json.Marshal(vc)
	sig, err := mosipcrypto.SignDetachedRS256(signerKS, plain)
	if err != nil {
		b.Fatal(err)
	}
	enc, err := mosipcrypto.EncryptVERR2(partnerKS.Cert, plain)
	if err != nil {
		b.Fatal(err)
	}
	return benchCredential{enc: enc, sig: sig, plain: plain, rid: rid}
}

// benchVerifier is a verifier configured as the service is against the
// sandbox, its key already fetched (the steady state).
func benchVerifier(b *testing.B) (*Verifier, []benchCredential) {
	b.Helper()
	testKeys(b)
	mosipCtx, err := os.ReadFile("testdata/mosip-context.jsonld")
	if err != nil {
		b.Fatal(err)
	}
	is := &issuer{signer: signerKS}
	is.srv = newKeyServer(b, signerKS)
	v, err := New(Options{Keystore: partnerKS, SigningCerts: []*x509.Certificate{signerKS.Cert},
		VerificationMethods: []string{is.keyURL()}, Contexts: map[string][]byte{benchContextURL: mosipCtx},
		Fetcher: NewFetcher(2*time.Second, 1<<20, true)})
	if err != nil {
		b.Fatal(err)
	}
	loader := ldproof.NewLoader(map[string][]byte{benchContextURL: mosipCtx})
	creds := make([]benchCredential, 16)
	for i := range creds {
		creds[i] = newBenchCredential(b, is.keyURL(), loader, "1000110004000012025011006"+string(rune('0'+i/10))+string(rune('0'+i%10))+"01")
	}
	if _, err := v.Open(context.Background(), creds[0].enc, creds[0].sig, ""); err != nil {
		b.Fatal(err)
	}
	return v, creds
}

// BenchmarkOpen is the CPU a worker spends on the cryptography of one
// credential: VER_R2 decryption (RSA-OAEP unwrap, AES-GCM), the event's
// RS256 signature with the pinned certificate, the RsaSignature2018 proof
// (URDNA2015 of the credential and the proof options, PS256). The target
// is at most 1 ms per credential.
func BenchmarkOpen(b *testing.B) {
	v, creds := benchVerifier(b)
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			c := creds[i%len(creds)]
			i++
			got, err := v.Open(ctx, c.enc, c.sig, "")
			if err != nil || !got.Verified || got.RegistrationID != c.rid {
				b.Fatalf("Open = %+v, %v", got, err)
			}
		}
	})
	// Workers open credentials concurrently: shared caches must not
	// serialise them.
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				c := creds[i%len(creds)]
				i++
				if _, err := v.Open(ctx, c.enc, c.sig, ""); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkOpenSteps splits BenchmarkOpen into its steps, to see which
// one to work on.
func BenchmarkOpenSteps(b *testing.B) {
	v, creds := benchVerifier(b)
	ctx := context.Background()
	c := creds[0]
	b.Run("decrypt", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := mosipcrypto.DecryptVERR2(c.enc, partnerKS); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("event-signature", func(b *testing.B) {
		b.ReportAllocs()
		opts := mosipcrypto.VerifyOptions{Algorithms: []string{"RS256", "PS256"}, Trusted: []*x509.Certificate{signerKS.Cert}}
		for b.Loop() {
			if _, err := mosipcrypto.VerifyDetached(c.sig, c.plain, opts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("proof", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var vc map[string]any
			if err := json.Unmarshal(c.plain, &vc); err != nil {
				b.Fatal(err)
			}
			if err := v.verifyProof(ctx, vc); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// newKeyServer serves signer's public key document, as MOSIP's
// /.well-known/public-key.json.
func newKeyServer(b *testing.B, signer *mosipcrypto.Keystore) *httptest.Server {
	b.Helper()
	der, err := x509.MarshalPKIXPublicKey(&signer.Key.PublicKey)
	if err != nil {
		b.Fatal(err)
	}
	doc, _ := json.Marshal(map[string]string{"type": "RsaVerificationKey2018",
		"publicKeyPem": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(doc) }))
	b.Cleanup(srv.Close)
	return srv
}
