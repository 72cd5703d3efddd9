package esignet

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// ClientKey is the OIDC client's private key, as registered (public part)
// with eSignet.
type ClientKey struct {
	Key *rsa.PrivateKey
	// KeyID is the JWK's kid, sent in the client assertion header when set.
	KeyID string
}

// LoadClientKeyFile reads the client's private key. The TypeScript
// mosip-api's OIDP_CLIENT_PRIVATE_KEY_PATH file is a base64-encoded JWK;
// a plain JSON JWK and a PEM private key (PKCS#8 or PKCS#1) are accepted
// too. Errors never quote the file's contents.
func LoadClientKeyFile(path string) (*ClientKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("client key: %w", err)
	}
	k, err := ParseClientKey(data)
	if err != nil {
		return nil, fmt.Errorf("client key %s: %w", path, err)
	}
	return k, nil
}

// ParseClientKey decodes a private key in one of the forms LoadClientKeyFile
// accepts.
func ParseClientKey(data []byte) (*ClientKey, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, errors.New("empty")
	}
	if bytes.HasPrefix(data, []byte("-----BEGIN")) {
		return parsePEMKey(data)
	}
	jwkJSON := data
	if data[0] != '{' {
		dec, err := decodeAnyBase64(string(data))
		if err != nil {
			return nil, errors.New("neither a PEM key, a JWK nor a base64-encoded JWK")
		}
		jwkJSON = bytes.TrimSpace(dec)
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(jwkJSON); err != nil {
		return nil, errors.New("not a valid JWK")
	}
	key, ok := jwk.Key.(*rsa.PrivateKey)
	if !ok {
		if _, isPub := jwk.Key.(*rsa.PublicKey); isPub {
			return nil, errors.New("the JWK holds only a public key; the private key (d, p, q…) is needed")
		}
		return nil, fmt.Errorf("the JWK is %T; eSignet clients sign with RSA", jwk.Key)
	}
	if err := key.Validate(); err != nil {
		return nil, errors.New("the RSA key is inconsistent")
	}
	return &ClientKey{Key: key, KeyID: jwk.KeyID}, nil
}

func parsePEMKey(data []byte) (*ClientKey, error) {
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no private key in the PEM data")
		}
		var (
			k   any
			err error
		)
		switch block.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, errors.New("unreadable PEM private key")
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("the PEM key is %T; eSignet clients sign with RSA", k)
		}
		return &ClientKey{Key: rk}, nil
	}
}

// decodeAnyBase64 accepts standard or URL-safe base64, padded or not,
// with line breaks.
func decodeAnyBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, s)
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}
