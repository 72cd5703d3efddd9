package mosip

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestIDAVerified(t *testing.T) {
	t.Parallel()
	s := idaNewServer(t, nil)
	k := s.keys
	tp := sha256.Sum256(k.idaCert.DER)

	tests := []struct {
		name string
		req  idaTestReq
	}{
		{"UIN with full registered name", idaTestReq{}},
		{"VID", idaTestReq{Outer: map[string]any{"individualId": "8000567890", "individualIdType": "VID"}}},
		{"name tokens in another order", idaTestReq{InnerMod: func(_, demo map[string]any) {
			demo["name"] = []any{map[string]any{"language": "eng", "value": "Doe 2nd Charles Dikkens"}}
		}}},
		{"name and gender in other case", idaTestReq{InnerMod: func(_, demo map[string]any) {
			demo["name"] = []any{map[string]any{"language": "eng", "value": "CHARLES dikkens DOE 2ND"}}
			demo["gender"] = []any{map[string]any{"language": "eng", "value": "MALE"}}
		}}},
		{"name only", idaTestReq{InnerMod: func(_, demo map[string]any) { delete(demo, "gender"); delete(demo, "dob") }}},
		{"dob only", idaTestReq{InnerMod: func(_, demo map[string]any) { delete(demo, "gender"); delete(demo, "name") }}},
		{"id type inferred for UIN", idaTestReq{Omit: []string{"individualIdType"}}},
		{"id type inferred for VID", idaTestReq{Outer: map[string]any{"individualId": "8000567890", "individualIdType": nil}}},
		{"thumbprint upper-case hex", idaTestReq{Thumbprint: idaStr(strings.ToUpper(hex.EncodeToString(tp[:])))}},
		{"thumbprint lower-case hex", idaTestReq{Thumbprint: idaStr(hex.EncodeToString(tp[:]))}},
		{"thumbprint padded base64url (TS form)", idaTestReq{Thumbprint: idaStr(base64.URLEncoding.EncodeToString(tp[:]))}},
		{"x5c unpadded standard base64", idaTestReq{X5C: idaStr(base64.RawStdEncoding.EncodeToString(k.partner.DER))}},
		{"domainUri and env null", idaTestReq{Outer: map[string]any{"domainUri": nil, "env": nil}}},
		{"second allowed domainUri, env in other case", idaTestReq{Outer: map[string]any{"domainUri": "HTTPS://esignet.sandbox.mosip.net", "env": "pre-production"}}},
		{"requestTime 50 s old (30 s + 30 s skew)", idaTestReq{Outer: map[string]any{"requestTime": idaTime(time.Now().Add(-50 * time.Second))}}},
		{"requestTime 20 s ahead", idaTestReq{Outer: map[string]any{"requestTime": idaTime(time.Now().Add(20 * time.Second))}}},
		{"requestTime with offset", idaTestReq{Outer: map[string]any{"requestTime": time.Now().In(time.FixedZone("EAT", 3*3600)).Format("2006-01-02T15:04:05.000-07:00")}}},
		{"transactionID as JSON number (Jackson coerces)", idaTestReq{Outer: map[string]any{"transactionID": json.Number("1234567890")}}},
		{"alphanumeric transactionID", idaTestReq{Outer: map[string]any{"transactionID": "AbC123xYz0"}}},
		{"consentObtained as string", idaTestReq{Outer: map[string]any{"consentObtained": "true"}}},
		{"obsolete requestedAuth tolerated", idaTestReq{Outer: map[string]any{"requestedAuth": map[string]any{"demo": true}}}},
		{"signed with the MISP partner's certificate", idaTestReq{
			Path:    "/idauthentication/v1/auth/" + idaTestMISPLK + "/" + idaTestPartner + "/" + idaTestAPIKey,
			SignKey: k.misp.Key, X5C: idaStr(base64.StdEncoding.EncodeToString(k.misp.DER))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := idaSend(t, s, tc.req)
			idaWantVerified(t, res)
			if res.Resp.ID != "mosip.identity.auth" || res.Resp.Version != "1.0" {
				t.Errorf("id/version = %q/%q", res.Resp.ID, res.Resp.Version)
			}
			if _, err := time.Parse("2006-01-02T15:04:05.000Z07:00", res.Resp.ResponseTime); err != nil {
				t.Errorf("responseTime %q: %v", res.Resp.ResponseTime, err)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestIDAToken(t *testing.T) {
	t.Parallel()
	s := idaNewServer(t, nil)
	byUIN := idaWantVerified(t, idaSend(t, s, idaTestReq{}))
	byVID := idaWantVerified(t, idaSend(t, s, idaTestReq{Outer: map[string]any{"individualId": "8000567890", "individualIdType": "VID"}}))
	if byUIN != byVID {
		t.Errorf("the partner-specific token must not depend on UIN vs VID: %s vs %s", byUIN, byVID)
	}
	viaMISP := idaWantVerified(t, idaSend(t, s, idaTestReq{
		Path:    "/idauthentication/v1/auth/" + idaTestLK + "/" + idaTestMISP + "/misp-api-key",
		SignKey: s.keys.misp.Key, X5C: idaStr(base64.StdEncoding.EncodeToString(s.keys.misp.DER)),
	}))
	if viaMISP == byUIN {
		t.Errorf("tokens of different partners must differ")
	}
	other := idaWantVerified(t, idaSend(t, s, idaTestReq{
		Outer: map[string]any{"individualId": "1234567891"},
		InnerMod: func(_, demo map[string]any) {
			demo["name"] = []any{map[string]any{"language": "eng", "value": "Jenny Debra Doe"}}
			demo["gender"] = []any{map[string]any{"language": "eng", "value": "female"}}
			demo["dob"] = "2002/02/01"
		},
	}))
	if other == byUIN {
		t.Errorf("tokens of different people must differ")
	}
}

func TestIDADemographicMismatch(t *testing.T) {
	t.Parallel()
	s := idaNewServer(t, nil)
	type wantErr struct{ code, msg, action string }
	tests := []struct {
		name string
		mod  func(inner, demo map[string]any)
		want []wantErr
	}{
		{"middle name missing (TS sends firstname surname)", func(_, demo map[string]any) {
			demo["name"] = []any{map[string]any{"language": "eng", "value": "Charles Doe 2nd"}}
		}, []wantErr{{"IDA-DEA-001", "Demographic data name in eng did not match", "Please re-enter your name in eng"}}},
		{"extra name token", func(_, demo map[string]any) {
			demo["name"] = []any{map[string]any{"language": "eng", "value": "Charles Dikkens Doe 2nd Jr"}}
		}, []wantErr{{"IDA-DEA-001", "Demographic data name in eng did not match", "Please re-enter your name in eng"}}},
		{"wrong dob", func(_, demo map[string]any) { demo["dob"] = "2008/02/28" },
			[]wantErr{{"IDA-DEA-001", "Demographic data dob did not match", "Please re-enter your dob"}}},
		{"wrong gender", func(_, demo map[string]any) {
			demo["gender"] = []any{map[string]any{"language": "eng", "value": "Female"}}
		}, []wantErr{{"IDA-DEA-001", "Demographic data gender in eng did not match", "Please re-enter your gender in eng"}}},
		{"name and dob wrong: one error each", func(_, demo map[string]any) {
			demo["name"] = []any{map[string]any{"language": "eng", "value": "Jane Doe"}}
			demo["dob"] = "1990/01/31"
		}, []wantErr{
			{"IDA-DEA-001", "Demographic data name in eng did not match", "Please re-enter your name in eng"},
			{"IDA-DEA-001", "Demographic data dob did not match", "Please re-enter your dob"},
		}},
		{"name in a supported language the identity lacks", func(_, demo map[string]any) {
			demo["name"] = []any{map[string]any{"language": "fra", "value": "Charles Dikkens Doe 2nd"}}
		}, []wantErr{{"IDA-DEA-003", "Demographic data name in fra not available in database", ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := idaSend(t, s, idaTestReq{InnerMod: tc.mod})
			idaWantError(t, res, tc.want[0].code, tc.want[0].msg)
			if len(res.Resp.Errors) != len(tc.want) {
				t.Fatalf("got %d errors, want %d\n%s", len(res.Resp.Errors), len(tc.want), res.Raw)
			}
			for i, w := range tc.want {
				got := res.Resp.Errors[i]
				action := ""
				if got.ActionMessage != nil {
					action = *got.ActionMessage
				}
				if got.ErrorCode != w.code || got.ErrorMessage != w.msg || action != w.action {
					t.Errorf("error %d = %s %q %q, want %s %q %q", i, got.ErrorCode, got.ErrorMessage, action, w.code, w.msg, w.action)
				}
			}
			if got := res.Resp.TransactionID; got == nil || *got != "1234567890" {
				t.Errorf("transactionID not echoed\n%s", res.Raw)
			}
		})
	}
}

func TestIDAIdentityErrors(t *testing.T) {
	t.Parallel()
	deceased := func(o *IDAOptions) {
		if _, err := o.Registry.Update("1234567890", func(id *Identity) { id.Deceased = true }); err != nil {
			t.Fatal(err)
		}
	}
	legacy := func(o *IDAOptions) { o.LegacyNotFoundCode = true }
	tests := []struct {
		name      string
		opts      func(o *IDAOptions)
		outer     map[string]any
		code, msg string
	}{
		{"unknown UIN", nil, map[string]any{"individualId": "9999999999"}, "IDA-MLC-018", "UIN not available in database"},
		{"unknown VID", nil, map[string]any{"individualId": "9999999999", "individualIdType": "VID"}, "IDA-MLC-018", "VID not available in database"},
		{"VID sent as UIN", nil, map[string]any{"individualId": "8000567890", "individualIdType": "UIN"}, "IDA-MLC-018", "UIN not available in database"},
		{"UIN sent as VID", nil, map[string]any{"individualIdType": "VID"}, "IDA-MLC-018", "VID not available in database"},
		{"legacy: unknown UIN", legacy, map[string]any{"individualId": "9999999999"}, "IDA-MLC-002", "Invalid UIN"},
		{"legacy: unknown VID", legacy, map[string]any{"individualId": "9999999999", "individualIdType": "VID"}, "IDA-MLC-004", "Invalid VID"},
		{"deceased UIN", deceased, nil, "IDA-MLC-022", "UIN is deactivated/blocked"},
		{"deceased person's VID", deceased, map[string]any{"individualId": "8000567890", "individualIdType": "VID"}, "IDA-MLC-023", "VID is expired/deactivated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := idaNewServer(t, tc.opts)
			idaWantError(t, idaSend(t, s, idaTestReq{Outer: tc.outer}), tc.code, tc.msg)
		})
	}
	t.Run("legacy switch at run time", func(t *testing.T) {
		t.Parallel()
		s := idaNewServer(t, nil)
		s.ida.SetLegacyNotFoundCode(true)
		idaWantError(t, idaSend(t, s, idaTestReq{Outer: map[string]any{"individualId": "9999999999"}}), "IDA-MLC-002", "Invalid UIN")
		s.ida.SetLegacyNotFoundCode(false)
		idaWantError(t, idaSend(t, s, idaTestReq{Outer: map[string]any{"individualId": "9999999999"}}), "IDA-MLC-018", "")
	})
}

func TestIDARequestErrors(t *testing.T) {
	t.Parallel()
	s := idaNewServer(t, nil)
	k := s.keys
	path := func(lk, partner, key string) string {
		return "/idauthentication/v1/auth/" + lk + "/" + partner + "/" + key
	}
	otherTP := sha256.Sum256(k.other.DER)
	b64std := func(b []byte) *string { return idaStr(base64.StdEncoding.EncodeToString(b)) }
	b64url := func(b []byte) *string { return idaStr(base64.RawURLEncoding.EncodeToString(b)) }
	idaPub := k.idaCert.Cert.PublicKey.(*rsa.PublicKey)
	old := time.Now().Add(-2 * time.Minute)

	tests := []struct {
		name      string
		req       idaTestReq
		code, msg string
	}{
		// Path and partner.
		{"path params missing", idaTestReq{Path: "/idauthentication/v1/auth/" + idaTestLK + "/" + idaTestPartner}, "IDA-MPA-038", ""},
		{"no path params", idaTestReq{Path: "/idauthentication/v1/auth"}, "IDA-MPA-038", ""},
		{"unknown MISP licence key", idaTestReq{Path: path("no-such-lk", idaTestPartner, idaTestAPIKey)}, "IDA-MPA-007", "License key does not belong to a registered MISP"},
		{"blocked MISP licence key", idaTestReq{Path: path(idaTestBlockedLK, idaTestPartner, idaTestAPIKey)}, "IDA-MPA-017", "License key of MISP is blocked"},
		{"expired MISP licence key", idaTestReq{Path: path(idaTestExpiredLK, idaTestPartner, idaTestAPIKey)}, "IDA-MPA-008", "License key of MISP has expired"},
		{"partner not registered", idaTestReq{Path: path(idaTestLK, "nobody", idaTestAPIKey)}, "IDA-MPA-009", "Partner is not registered"},
		{"API key of another partner", idaTestReq{Path: path(idaTestLK, idaTestPartner, "misp-api-key")}, "IDA-MPA-009", "Partner is not registered"},
		{"partner without certificate in PMS", idaTestReq{Path: path(idaTestNoCertLK, idaTestNoCert, "nocert-key")}, "IDA-MPA-020", "Partner (Auth) Certificate not found in DB."},
		{"signed with an unregistered certificate", idaTestReq{SignKey: k.other.Key, X5C: b64std(k.other.DER)},
			"IDA-MPA-021", "Partner (Auth) Certificate not matching with signature header certificate."},

		// Body, id, version.
		{"body not JSON", idaTestReq{Body: []byte("not json")}, "IDA-MLC-007", "Request could not be processed. Please try again"},
		{"body a JSON array", idaTestReq{Body: []byte("[]")}, "IDA-MLC-007", ""},
		{"id missing", idaTestReq{Omit: []string{"id"}}, "IDA-MLC-006", "Missing Input Parameter - id"},
		{"id wrong", idaTestReq{Outer: map[string]any{"id": "mosip.identity.kyc"}}, "IDA-MLC-009", "Invalid Input Parameter - id"},
		{"version missing", idaTestReq{Omit: []string{"version"}}, "IDA-MLC-006", "Missing Input Parameter - version"},
		{"version malformed", idaTestReq{Outer: map[string]any{"version": "v1"}}, "IDA-MLC-009", "Invalid Input Parameter - version"},

		// Signature header.
		{"signature header missing", idaTestReq{Signature: idaStr("")}, "IDA-MLC-006", "Missing Input Parameter - signature header"},
		{"tampered body", idaTestReq{Tamper: func(b []byte) []byte { return bytes.Replace(b, []byte(`"Staging"`), []byte(`"Developer"`), 1) }},
			"IDA-MPA-001", "Digital signature verification failed for signature header"},
		{"signature by another key", idaTestReq{SignKey: k.other.Key}, "IDA-MPA-001", ""},
		{"signature not a JWS", idaTestReq{Signature: idaStr("abc")}, "IDA-MPA-001", ""},
		{"alg RS512", idaTestReq{Alg: "RS512"}, "IDA-MPA-001", ""},
		{"x5c base64url DER", idaTestReq{X5C: b64url(k.partner.DER)}, "IDA-MPA-001", ""},
		{"x5c base64url PEM (TS form)", idaTestReq{X5C: b64url(idaPEM(k.partner.DER))}, "IDA-MPA-001", ""},
		{"x5c PEM text", idaTestReq{X5C: idaStr(string(idaPEM(k.partner.DER)))}, "IDA-MPA-001", ""},
		{"x5c base64 of PEM", idaTestReq{X5C: b64std(idaPEM(k.partner.DER))}, "IDA-MPA-001", ""},
		{"x5c MIME base64 with line breaks", idaTestReq{X5C: idaStr(idaMIME(k.partner.DER))}, "IDA-MPA-001", ""},
		{"x5c absent", idaTestReq{NoX5C: true}, "IDA-MPA-022", "Partner (Auth) Certificate not found in Request signature header."},
		{"expired signing certificate", idaTestReq{SignKey: k.expired.key, X5C: b64std(k.expired.der)}, "IDA-MPA-002", "Invalid certificate in digital signature"},
		{"Authorization header missing", idaTestReq{NoAuthz: true}, "IDA-MLC-006", "Missing Input Parameter - Authorization - header"},

		// Crypto.
		{"request missing", idaTestReq{Omit: []string{"request"}}, "IDA-MLC-006", "Missing Input Parameter - request"},
		{"requestHMAC missing", idaTestReq{Omit: []string{"requestHMAC"}}, "IDA-MLC-006", "Missing Input Parameter - requestHMAC"},
		{"request standard base64", idaTestReq{Outer: map[string]any{"request": "ab+/cd=="}}, "IDA-MLC-007", ""},
		{"session key missing", idaTestReq{Omit: []string{"requestSessionKey"}}, "IDA-MPA-003", "Unable to decrypt Request"},
		{"thumbprint missing", idaTestReq{Omit: []string{"thumbprint"}}, "IDA-MPA-003", ""},
		{"thumbprint of another certificate", idaTestReq{Thumbprint: b64url(otherTP[:])}, "IDA-MPA-003", ""},
		{"session key for another certificate", idaTestReq{EncryptFor: k.other.Cert.PublicKey.(*rsa.PublicKey)}, "IDA-MPA-003", ""},
		{"session key RSA PKCS#1 v1.5", idaTestReq{WrapKey: func(key []byte) []byte {
			out, err := rsa.EncryptPKCS1v15(rand.Reader, idaPub, key)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}}, "IDA-MPA-003", ""},
		{"session key RSA-OAEP SHA-1", idaTestReq{WrapKey: func(key []byte) []byte {
			out, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, idaPub, key, nil)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}}, "IDA-MPA-003", ""},
		{"HMAC over other bytes", idaTestReq{HMACText: func([]byte) []byte {
			sum := sha256.Sum256([]byte("{}"))
			return []byte(strings.ToUpper(hex.EncodeToString(sum[:])))
		}}, "IDA-MPA-016", "HMAC Validation failed"},
		{"HMAC lower-case hex", idaTestReq{HMACText: func(b []byte) []byte {
			sum := sha256.Sum256(b)
			return []byte(hex.EncodeToString(sum[:]))
		}}, "IDA-MPA-016", ""},
		{"HMAC raw digest", idaTestReq{HMACText: func(b []byte) []byte { sum := sha256.Sum256(b); return sum[:] }}, "IDA-MPA-016", ""},
		{"OTP not allowed by policy", idaTestReq{InnerMod: func(inner, _ map[string]any) { inner["otp"] = "111111" }},
			"IDA-MPA-006", "OTP Authentication usage not allowed as per policy"},

		// Validator.
		{"consent false", idaTestReq{Outer: map[string]any{"consentObtained": false}}, "IDA-MLC-012", "Individual's Consent is not available"},
		{"consent missing", idaTestReq{Omit: []string{"consentObtained"}}, "IDA-MLC-012", ""},
		{"requestTime missing", idaTestReq{Omit: []string{"requestTime"}}, "IDA-MLC-006", "Missing Input Parameter - requestTime"},
		{"requestTime without milliseconds", idaTestReq{Outer: map[string]any{"requestTime": time.Now().UTC().Format(time.RFC3339)}},
			"IDA-MLC-009", "Invalid Input Parameter - requestTime"},
		{"requestTime 2 min old", idaTestReq{Outer: map[string]any{"requestTime": idaTime(old)}}, "IDA-MLC-001", "Request to be received at MOSIP within 30 seconds"},
		{"requestTime 2 min ahead", idaTestReq{Outer: map[string]any{"requestTime": idaTime(time.Now().Add(2 * time.Minute))}}, "IDA-MLC-001", ""},
		{"inner timestamp 2 min old", idaTestReq{InnerMod: func(inner, _ map[string]any) { inner["timestamp"] = idaTime(old) }}, "IDA-MLC-001", ""},
		{"inner timestamp missing", idaTestReq{InnerMod: func(inner, _ map[string]any) { delete(inner, "timestamp") }},
			"IDA-MLC-006", "Missing Input Parameter - request/timestamp"},
		{"domainUri not allowed", idaTestReq{Outer: map[string]any{"domainUri": "https://api-internal.other.mosip.net"}},
			"IDA-MLC-009", "Invalid Input Parameter - request/domainUri"},
		{"env not allowed", idaTestReq{Outer: map[string]any{"env": "Test"}}, "IDA-MLC-009", "Invalid Input Parameter - request/env"},
		{"transactionID missing", idaTestReq{Omit: []string{"transactionID"}}, "IDA-MLC-006", "Missing Input Parameter - transactionID"},
		{"transactionID camel-cased key is not transactionID", idaTestReq{Omit: []string{"transactionID"}, Outer: map[string]any{"transactionId": "1234567890"}},
			"IDA-MLC-006", "Missing Input Parameter - transactionID"},
		{"transactionID too short", idaTestReq{Outer: map[string]any{"transactionID": "12345"}}, "IDA-MLC-009", "Invalid Input Parameter - transactionID"},
		{"transactionID too long", idaTestReq{Outer: map[string]any{"transactionID": "12345678901"}}, "IDA-MLC-009", "Invalid Input Parameter - transactionID"},
		{"transactionID with a dash", idaTestReq{Outer: map[string]any{"transactionID": "12345-7890"}}, "IDA-MLC-009", "Invalid Input Parameter - transactionID"},
		{"individualId missing", idaTestReq{Omit: []string{"individualId"}}, "IDA-MLC-006", "Missing Input Parameter - individualId"},
		{"individualIdType unknown", idaTestReq{Outer: map[string]any{"individualIdType": "NID"}}, "IDA-MLC-009", "Invalid Input Parameter - individualIdType"},
		{"unsupported language", idaTestReq{InnerMod: func(_, demo map[string]any) {
			demo["name"] = []any{map[string]any{"language": "xyz", "value": "Charles Dikkens Doe 2nd"}}
		}}, "IDA-DEA-002", "Unsupported Language Code - request : xyz"},
		{"two-letter language code", idaTestReq{InnerMod: func(_, demo map[string]any) {
			demo["gender"] = []any{map[string]any{"language": "en", "value": "Male"}}
		}}, "IDA-DEA-002", "Unsupported Language Code - request : en"},
		{"language missing", idaTestReq{InnerMod: func(_, demo map[string]any) {
			demo["name"] = []any{map[string]any{"value": "Charles Dikkens Doe 2nd"}}
		}}, "IDA-MLC-006", "Missing Input Parameter - LanguageCode"},
		{"language repeated", idaTestReq{InnerMod: func(_, demo map[string]any) {
			demo["name"] = []any{map[string]any{"language": "eng", "value": "Charles"}, map[string]any{"language": "eng", "value": "Doe"}}
		}}, "IDA-MLC-009", "Invalid Input Parameter - LanguageCode"},
		{"name value null", idaTestReq{InnerMod: func(_, demo map[string]any) {
			demo["name"] = []any{map[string]any{"language": "eng", "value": nil}}
		}}, "IDA-MLC-013", "Missing demo auth attribute"},
		{"dob ISO format", idaTestReq{InnerMod: func(_, demo map[string]any) { demo["dob"] = "2008-02-29" }},
			"IDA-MLC-009", "Invalid Input Parameter - request/demographics/dob"},
		{"no demographics", idaTestReq{InnerMod: func(inner, _ map[string]any) { delete(inner, "demographics") }},
			"IDA-MLC-008", "No authentication type selected"},
		{"empty demographics", idaTestReq{InnerMod: func(inner, _ map[string]any) { inner["demographics"] = map[string]any{"name": []any{}} }},
			"IDA-MLC-008", ""},
		{"inner request not JSON", idaTestReq{InnerRaw: []byte("demographics")}, "IDA-MLC-007", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			idaWantError(t, idaSend(t, s, tc.req), tc.code, tc.msg)
		})
	}

	t.Run("MLC-001 carries the action message", func(t *testing.T) {
		t.Parallel()
		res := idaSend(t, s, idaTestReq{Outer: map[string]any{"requestTime": idaTime(old)}})
		idaWantError(t, res, "IDA-MLC-001", "")
		if a := res.Resp.Errors[0].ActionMessage; a == nil || *a != "Please send the request within 30 seconds" {
			t.Errorf("actionMessage = %v\n%s", a, res.Raw)
		}
	})
	t.Run("unparsable body has null transactionID", func(t *testing.T) {
		t.Parallel()
		res := idaSend(t, s, idaTestReq{Body: []byte("{")})
		idaWantError(t, res, "IDA-MLC-007", "")
		if !bytes.Contains(res.Raw, []byte(`"transactionID":null`)) {
			t.Errorf("transactionID must be null\n%s", res.Raw)
		}
	})
	t.Run("error echoes the invalid transactionID", func(t *testing.T) {
		t.Parallel()
		res := idaSend(t, s, idaTestReq{Outer: map[string]any{"transactionID": "mother-2f6c1d8e"}})
		idaWantError(t, res, "IDA-MLC-009", "Invalid Input Parameter - transactionID")
		if got := res.Resp.TransactionID; got == nil || *got != "mother-2f6c1d8e" {
			t.Errorf("transactionID = %v", got)
		}
	})
}

func TestIDALenient(t *testing.T) {
	t.Parallel()
	s := idaNewServer(t, func(o *IDAOptions) { o.Lenient = true })
	k := s.keys
	pemText := string(idaPEM(k.partner.DER))
	tests := []struct {
		name string
		req  idaTestReq
	}{
		{"x5c base64url PEM (TS form)", idaTestReq{X5C: idaStr(base64.RawURLEncoding.EncodeToString([]byte(pemText)))}},
		{"x5c base64url DER", idaTestReq{X5C: idaStr(base64.URLEncoding.EncodeToString(k.partner.DER))}},
		{"x5c PEM text", idaTestReq{X5C: &pemText}},
		{"transactionID of any shape", idaTestReq{Outer: map[string]any{"transactionID": "mother-2f6c1d8e-0e0b-4a57-9c55-2d6f0c4b1a11"}}},
		{"requestTime without millis, 10 min old", idaTestReq{Outer: map[string]any{"requestTime": time.Now().Add(-10 * time.Minute).UTC().Format(time.RFC3339)}}},
		{"inner timestamp 10 min old", idaTestReq{InnerMod: func(inner, _ map[string]any) { inner["timestamp"] = idaTime(time.Now().Add(-10 * time.Minute)) }}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			idaWantVerified(t, idaSend(t, s, tc.req))
		})
	}
	t.Run("still strict elsewhere", func(t *testing.T) {
		t.Parallel()
		idaWantError(t, idaSend(t, s, idaTestReq{Omit: []string{"transactionID"}}), "IDA-MLC-006", "Missing Input Parameter - transactionID")
		idaWantError(t, idaSend(t, s, idaTestReq{SignKey: k.other.Key}), "IDA-MPA-001", "")
		idaWantError(t, idaSend(t, s, idaTestReq{InnerMod: func(_, demo map[string]any) {
			demo["name"] = []any{map[string]any{"language": "eng", "value": "Charles Doe 2nd"}}
		}}), "IDA-DEA-001", "")
	})
	t.Run("switch at run time", func(t *testing.T) {
		t.Parallel()
		s := idaNewServer(t, nil)
		req := idaTestReq{X5C: idaStr(base64.RawURLEncoding.EncodeToString([]byte(pemText)))}
		idaWantError(t, idaSend(t, s, req), "IDA-MPA-001", "")
		s.ida.SetLenient(true)
		idaWantVerified(t, idaSend(t, s, req))
	})
}

func TestIDAResponseSignature(t *testing.T) {
	t.Parallel()
	k := idaTestKeys(t)
	s := idaNewServer(t, func(o *IDAOptions) { o.SigningCert = k.signing })
	for _, tc := range []struct {
		name string
		req  idaTestReq
	}{{"verified", idaTestReq{}}, {"error", idaTestReq{Outer: map[string]any{"individualId": "9999999999"}}}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := idaSend(t, s, tc.req)
			sig := res.Header.Get("response-signature")
			parts := strings.Split(sig, ".")
			if len(parts) != 3 || parts[1] != "" {
				t.Fatalf("response-signature %q is not a detached compact JWS", sig)
			}
			hdrJSON, err := base64.RawURLEncoding.DecodeString(parts[0])
			if err != nil {
				t.Fatal(err)
			}
			var hdr struct {
				Alg string   `json:"alg"`
				X5C []string `json:"x5c"`
			}
			if err := json.Unmarshal(hdrJSON, &hdr); err != nil || hdr.Alg != "RS256" || len(hdr.X5C) != 1 {
				t.Fatalf("header %s (%v)", hdrJSON, err)
			}
			der, err := base64.StdEncoding.DecodeString(hdr.X5C[0])
			if err != nil || !bytes.Equal(der, k.signing.DER) {
				t.Fatalf("x5c is not the signing certificate (std base64 DER): %v", err)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			sigBytes, err := base64.RawURLEncoding.DecodeString(parts[2])
			if err != nil {
				t.Fatal(err)
			}
			digest := sha256.Sum256([]byte(parts[0] + "." + base64.RawURLEncoding.EncodeToString(res.Raw)))
			if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sigBytes); err != nil {
				t.Fatalf("response signature does not verify over the body: %v", err)
			}
		})
	}
	t.Run("absent without SigningCert", func(t *testing.T) {
		t.Parallel()
		res := idaSend(t, idaNewServer(t, nil), idaTestReq{})
		if sig := res.Header.Get("response-signature"); sig != "" {
			t.Fatalf("unexpected response-signature %q", sig)
		}
	})
}

func TestIDAKnobs(t *testing.T) {
	t.Parallel()
	t.Run("calls and recorded decrypted requests", func(t *testing.T) {
		t.Parallel()
		s := idaNewServer(t, nil)
		ok := idaSend(t, s, idaTestReq{})
		idaWantVerified(t, ok)
		idaSend(t, s, idaTestReq{Signature: idaStr("")})
		if n := s.ida.Calls(); n != 2 {
			t.Fatalf("Calls() = %d, want 2", n)
		}
		recs := s.ida.Requests()
		if len(recs) != 2 {
			t.Fatalf("%d recorded requests, want 2", len(recs))
		}
		r := recs[0]
		if !bytes.Equal(r.Decrypted, ok.Inner) || !bytes.Equal(r.Body, ok.SentRaw) {
			t.Errorf("recorded request is not what was sent:\n%s\n%s", r.Decrypted, ok.Inner)
		}
		if r.PartnerID != idaTestPartner || r.MISPLicenseKey != idaTestLK || r.APIKey != idaTestAPIKey ||
			r.IndividualID != "1234567890" || r.IndividualIDType != "UIN" || r.TransactionID != "1234567890" || !r.AuthStatus {
			t.Errorf("recorded fields: %+v", r)
		}
		if recs[1].Decrypted != nil || len(recs[1].Errors) != 1 || recs[1].Errors[0].ErrorCode != "IDA-MLC-006" {
			t.Errorf("failed call recorded as %+v", recs[1])
		}
		s.ida.ResetRequests()
		if len(s.ida.Requests()) != 0 {
			t.Error("ResetRequests kept requests")
		}
	})
	t.Run("FailNext answers 503 like the ingress", func(t *testing.T) {
		t.Parallel()
		s := idaNewServer(t, nil)
		s.ida.FailNext(1)
		res := idaSend(t, s, idaTestReq{})
		if res.Status != http.StatusServiceUnavailable || string(res.Raw) != "no healthy upstream" {
			t.Fatalf("got HTTP %d %q", res.Status, res.Raw)
		}
		idaWantVerified(t, idaSend(t, s, idaTestReq{}))
	})
	t.Run("SetDelay", func(t *testing.T) {
		t.Parallel()
		s := idaNewServer(t, nil)
		s.ida.SetDelay(300 * time.Millisecond)
		body := []byte(`{}`)
		client := &http.Client{Timeout: 50 * time.Millisecond}
		resp, err := client.Post(s.url+"/idauthentication/v1/auth/a/b/c", "application/json", bytes.NewReader(body))
		if err == nil {
			resp.Body.Close()
			t.Fatal("expected a client timeout")
		}
		s.ida.SetDelay(0)
		idaWantVerified(t, idaSend(t, s, idaTestReq{}))
	})
}

func TestNewIDA(t *testing.T) {
	t.Parallel()
	if _, err := NewIDA(IDAOptions{}); err == nil {
		t.Error("NewIDA without Registry must fail")
	}
	if _, err := NewIDA(IDAOptions{Registry: NewRegistry(nil), Partners: []IDAPartner{{PartnerID: "p"}}}); err == nil {
		t.Error("NewIDA with an incomplete partner must fail")
	}
	t.Run("generates its certificate", func(t *testing.T) {
		t.Parallel()
		k := idaTestKeys(t)
		d, err := NewIDA(IDAOptions{Registry: NewRegistry(DefaultIdentities()),
			Partners: []IDAPartner{{PartnerID: idaTestPartner, MISPLicenseKey: idaTestLK, APIKey: idaTestAPIKey, Cert: k.partner.Cert}}})
		if err != nil {
			t.Fatal(err)
		}
		c := d.IDACert()
		if c == nil || c.Key == nil || c.Cert == nil || !bytes.Equal(c.Cert.Raw, c.DER) {
			t.Fatal("IDACert() incomplete")
		}
		mux := http.NewServeMux()
		d.Register(mux)
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		s := &idaTestServer{ida: d, url: srv.URL, keys: &idaTestKeyset{idaCert: c, partner: k.partner}}
		idaWantVerified(t, idaSend(t, s, idaTestReq{}))
	})
}
