package logging

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strings"
)

// Redacted replaces a secret or personal value.
const Redacted = "[redacted]"

// sensitiveKeys are attribute keys (lower case, without separators) that
// always hold secrets or personal data: tokens, national ids, names, dates of
// birth. An attribute with such a key is redacted by every logger of this
// package, whatever its value.
var sensitiveKeys = map[string]bool{
	"token": true, "accesstoken": true, "idtoken": true, "authorization": true, "cookie": true,
	"setcookie": true, "secret": true, "clientsecret": true, "secretkey": true, "password": true,
	"uin": true, "vid": true, "psut": true, "nid": true, "individualid": true, "nationalid": true,
	"name": true, "fullname": true, "firstname": true, "surname": true, "middlename": true,
	"givenname": true, "familyname": true, "dob": true, "dateofbirth": true, "birthdate": true,
	"email": true, "phone": true, "phonenumber": true, "informantpsut": true, "introducerinfotoken": true,
}

// SensitiveKey reports whether an attribute or field named key holds a
// secret or personal data ("client_secret", "UIN", "dateOfBirth", ...).
func SensitiveKey(key string) bool {
	k := strings.ToLower(key)
	k = strings.NewReplacer("_", "", "-", "", ".", "", " ", "").Replace(k)
	return sensitiveKeys[k]
}

// Secret returns an attribute that logs only that a value was present.
func Secret(key string, value string) slog.Attr {
	if value == "" {
		return slog.String(key, "")
	}
	return slog.String(key, Redacted)
}

// Fingerprint returns a short, stable, non-reversible fingerprint of a
// secret ("sha256:1a2b3c4d"), so operators can tell two tokens apart in logs
// without learning either.
func Fingerprint(value string) string {
	if value == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(value))
	return "sha256:" + hex.EncodeToString(sum[:4])
}

// Mask keeps the last n characters of an identifier and hides the rest
// ("******3906"); for support staff matching a record without the full id.
func Mask(value string, n int) string {
	if len(value) <= n {
		return strings.Repeat("*", len(value))
	}
	return strings.Repeat("*", len(value)-n) + value[len(value)-n:]
}

// RedactMap returns a copy of m with the values of sensitive keys redacted,
// recursing into nested maps and slices; for logging request bodies.
func RedactMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if SensitiveKey(k) {
			out[k] = Redacted
			continue
		}
		out[k] = redactValue(v)
	}
	return out
}

func redactValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return RedactMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redactValue(e)
		}
		return out
	default:
		return v
	}
}
