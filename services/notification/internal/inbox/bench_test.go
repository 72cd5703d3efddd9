package inbox

import (
	"strings"
	"testing"
	"time"
)

// benchBody is a CREDENTIAL_ISSUED delivery of a realistic size: the
// encrypted credential (base64url, a few kB) and the event's detached JWS
// with its x5c certificate dominate it.
var benchBody = []byte(strings.NewReplacer(`"credential":"ZW5j"`, `"credential":"`+strings.Repeat("VkVSX1Iy3q2-7w", 450)+`"`,
	`"signature":"a..b"`, `"signature":"eyJhbGciOiJSUzI1NiIsIng1YyI6WyJ`+strings.Repeat("TUlJRGFqQ0NBbEtnQXdJQkFnSUdBWkR", 60)+`..`+strings.Repeat("c2ln", 86)+`"`).Replace(credentialBody))

// BenchmarkCallbackPath is the callback's work before the database: the
// HMAC over the raw body, the strict parse and the acknowledgement.
func BenchmarkCallbackPath(b *testing.B) {
	secret := []byte("sandbox-websub-secret")
	header := Sign(secret, benchBody)
	secrets := [][]byte{secret}
	now := time.Now()
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifySignature(header, benchBody, secrets); err != nil {
			b.Fatal(err)
		}
		ev, err := Parse(benchBody)
		if err != nil {
			b.Fatal(err)
		}
		_ = Ack(ev, "RECEIVED", now)
	}
}

// BenchmarkParse is Parse alone, which the worker runs again on the stored
// body.
func BenchmarkParse(b *testing.B) {
	status := []byte(`{"instanceId":"10001100040000120250110062001","resultCode":"PROCESSED","workflowType":"CRVS_NEW","errorCode":null}`)
	for _, bc := range []struct {
		name string
		body []byte
	}{{"credential", benchBody}, {"status", status}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(bc.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
