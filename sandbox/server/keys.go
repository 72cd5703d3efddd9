package server

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"

	"github.com/mosipcrvs/bridge/pkg/mosipcrypto"
)

// KeyFiles names the files WriteKeys writes, by purpose.
type KeyFiles struct {
	// PartnerKey and PartnerCert: the partner's private key (decrypts
	// credentials, signs IDA requests) and certificate.
	PartnerKey, PartnerCert string
	// IDACert is IDA's partner-encryption certificate.
	IDACert string
	// ESignetClientKey is the OIDC client's private key as PEM, and
	// ESignetClientJWK the same key as a base64-encoded JWK, the form the
	// TypeScript mosip-api reads from OIDP_CLIENT_PRIVATE_KEY_PATH.
	ESignetClientKey, ESignetClientJWK string
	// PartnerP12 is the partner key and certificate as the PKCS#12
	// keystore MOSIP hands partners (SIGN_P12_FILE_PATH,
	// DECRYPT_P12_FILE_PATH), opened with PartnerP12Password.
	PartnerP12, PartnerP12Password string
	// CredentialSigningCert is MOSIP's credential-signing certificate
	// (PEM), which the notification service pins for event signatures.
	CredentialSigningCert string
}

// PartnerP12Password is the password of the sandbox's partner keystore,
// the TypeScript mosip-api's development default.
const PartnerP12Password = "mosip123"

// WriteKeys writes the bridge's side of the key material into dir (0700,
// files 0600) and returns the paths. The sandbox makes new keys at every
// start, so these files are throw-away.
func (s *Sandbox) WriteKeys(dir string) (KeyFiles, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return KeyFiles{}, err
	}
	f := KeyFiles{
		PartnerKey: filepath.Join(dir, "partner-key.pem"), PartnerCert: filepath.Join(dir, "partner-cert.pem"),
		IDACert:          filepath.Join(dir, "ida-cert.pem"),
		ESignetClientKey: filepath.Join(dir, "esignet-client-key.pem"), ESignetClientJWK: filepath.Join(dir, "esignet-client-jwk.txt"),
		PartnerP12: filepath.Join(dir, "partner-keystore.p12"), PartnerP12Password: PartnerP12Password,
		CredentialSigningCert: filepath.Join(dir, "credential-signing-cert.pem"),
	}
	p12, err := mosipcrypto.EncodePKCS12(&mosipcrypto.Keystore{Key: s.Keys.Partner.Key, Cert: s.Keys.Partner.Cert}, PartnerP12Password)
	if err != nil {
		return KeyFiles{}, fmt.Errorf("sandbox: partner keystore: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(s.Keys.ESignetClient)
	if err != nil {
		return KeyFiles{}, err
	}
	k := s.Keys.ESignetClient
	jwk, err := json.Marshal(map[string]string{
		"kty": "RSA", "alg": "RS256", "use": "sig",
		"n": b64(k.N), "e": b64(big.NewInt(int64(k.E))), "d": b64(k.D),
		"p": b64(k.Primes[0]), "q": b64(k.Primes[1]),
		"dp": b64(k.Precomputed.Dp), "dq": b64(k.Precomputed.Dq), "qi": b64(k.Precomputed.Qinv),
	})
	if err != nil {
		return KeyFiles{}, err
	}
	files := map[string][]byte{
		f.PartnerKey:            s.Keys.Partner.KeyPEM(),
		f.PartnerCert:           s.Keys.Partner.CertPEM(),
		f.IDACert:               s.Keys.IDA.CertPEM(),
		f.ESignetClientKey:      pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		f.ESignetClientJWK:      []byte(base64.StdEncoding.EncodeToString(jwk)),
		f.PartnerP12:            p12,
		f.CredentialSigningCert: s.Credentials.SigningCert().CertPEM(),
	}
	for path, data := range files {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return KeyFiles{}, fmt.Errorf("sandbox: write %s: %w", path, err)
		}
	}
	return f, nil
}

func b64(n *big.Int) string { return base64.RawURLEncoding.EncodeToString(n.Bytes()) }
