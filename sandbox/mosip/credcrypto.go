package mosip

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/mosipcrvs/bridge/sandbox/pki"
)

// Keymanager hybrid-encryption markers (mosip.kernel.data-key-splitter and
// the VERSION_RSA_2048 header of CryptomanagerServiceImpl#encrypt).
const (
	// KeySplitter separates the RSA-wrapped key from the AES data.
	KeySplitter = "#KEY_SPLITTER#"
	// EncryptionVersionR2 prefixes data encrypted with a certificate
	// thumbprint and GCM additional data.
	EncryptionVersionR2 = "VER_R2"
)

// EncryptForPartner encrypts plaintext for the holder of cert the way
// MOSIP's keymanager POST /v1/keymanager/encrypt does for a partner
// (referenceId = partner id), returning URL-safe base64 without padding of
//
//	"VER_R2" ‖ SHA-256(cert DER) ‖ RSA-OAEP-SHA256(MGF1-SHA256, no label)(AES key)
//	‖ "#KEY_SPLITTER#" ‖ AAD (32 random bytes) ‖ AES-256-GCM(plaintext) ‖ tag
//
// with GCM nonce = AAD[:12] and additional data = all 32 AAD bytes. The
// thumbprint is the real one (the OpenCRVS mock writes zeros), so a
// receiver that selects its key by thumbprint is exercised.
func EncryptForPartner(cert *x509.Certificate, plaintext []byte) (string, error) {
	if cert == nil {
		return "", errors.New("mosip: encrypt: no partner certificate")
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return "", fmt.Errorf("mosip: encrypt: partner key is %T, keymanager needs RSA", cert.PublicKey)
	}
	key := make([]byte, 32)
	aad := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	if _, err := rand.Read(aad); err != nil {
		return "", err
	}
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, key, nil)
	if err != nil {
		return "", fmt.Errorf("mosip: encrypt: RSA-OAEP: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	sealed := gcm.Seal(nil, aad[:gcm.NonceSize()], plaintext, aad)
	thumb := sha256.Sum256(cert.Raw)

	out := make([]byte, 0, len(EncryptionVersionR2)+len(thumb)+len(wrapped)+len(KeySplitter)+len(aad)+len(sealed))
	out = append(out, EncryptionVersionR2...)
	out = append(out, thumb[:]...)
	out = append(out, wrapped...)
	out = append(out, KeySplitter...)
	out = append(out, aad...)
	out = append(out, sealed...)
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// credKeyID is the kid the sandbox keymanager puts in JWS headers: the
// base64url SHA-256 of the signing certificate (MOSIP derives its kid from
// the key's unique identifier; verifiers must treat it as opaque).
func credKeyID(c *pki.Cert) string {
	t := c.Thumbprint()
	return base64.RawURLEncoding.EncodeToString(t[:])
}

// credCertJWS is keymanager jwtSign with includePayload=false,
// includeCertificate=true, includeCertHash=true: a detached compact JWS
// ("header..signature", standard b64=true) with RS256, the certificate in
// x5c (standard base64 DER) and its SHA-256 thumbprint in x5t#S256, over
// the exact payload bytes. This is event.data.proof.signature.
func credCertJWS(c *pki.Cert, payload []byte) (string, error) {
	t := c.Thumbprint()
	header, err := json.Marshal(struct {
		X5C     []string `json:"x5c"`
		X5TS256 string   `json:"x5t#S256"`
		Alg     string   `json:"alg"`
	}{
		X5C:     []string{base64.StdEncoding.EncodeToString(c.DER)},
		X5TS256: base64.RawURLEncoding.EncodeToString(t[:]),
		Alg:     "RS256",
	})
	if err != nil {
		return "", err
	}
	h := base64.RawURLEncoding.EncodeToString(header)
	digest := sha256.Sum256([]byte(h + "." + base64.RawURLEncoding.EncodeToString(payload)))
	sig, err := rsa.SignPKCS1v15(rand.Reader, c.Key, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("mosip: RS256 sign: %w", err)
	}
	return h + ".." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// credLDHeader is the protected header of an RsaSignature2018 proof jws:
// RFC 7797 unencoded payload, PS256 (keymanager jwsSign with
// b64JWSHeaderParam=false, VC_SIGN_ALGO "PS256").
func credLDHeader(kid string) (string, error) {
	header, err := json.Marshal(struct {
		B64  bool     `json:"b64"`
		Crit []string `json:"crit"`
		Kid  string   `json:"kid"`
		Alg  string   `json:"alg"`
	}{B64: false, Crit: []string{"b64"}, Kid: kid, Alg: "PS256"})
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(header), nil
}

// credLDJWS signs payload as a detached b64=false JWS: the signing input is
// ASCII(b64url(header)) ‖ "." ‖ payload (raw bytes, not base64), RSASSA-PSS
// with SHA-256, MGF1-SHA-256 and a 32-byte salt; the result is
// "header..signature".
func credLDJWS(key *rsa.PrivateKey, kid string, payload []byte) (string, error) {
	h, err := credLDHeader(kid)
	if err != nil {
		return "", err
	}
	input := make([]byte, 0, len(h)+1+len(payload))
	input = append(input, h...)
	input = append(input, '.')
	input = append(input, payload...)
	digest := sha256.Sum256(input)
	sig, err := rsa.SignPSS(rand.Reader, key, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	if err != nil {
		return "", fmt.Errorf("mosip: PS256 sign: %w", err)
	}
	return h + ".." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// Token ID (partner-specific UIN token) defaults. MOSIP takes the salts
// from mosip.kernel.tokenid.uin.salt / .partnercode.salt (deployment
// secrets); these are the sandbox's own. The length is MOSIP's
// mosip.kernel.tokenid.length default.
const (
	DefaultTokenIDLength      = 36
	DefaultTokenIDUINSalt     = "sandbox-tokenid-uin-salt-not-a-secret"
	DefaultTokenIDPartnerSalt = "sandbox-tokenid-partnercode-salt-not-a-secret"
)

// GenerateTokenID computes MOSIP's partner-specific token for uin, as the
// id-repository / kernel TokenIDGenerator does:
//
//	uinHash = HEX(SHA-256(uin + uinSalt))                      upper-case hex
//	hash    = HEX(SHA-256(partnerSalt + partnerCode + uinHash))
//	token   = decimal(BigInteger(ASCII bytes of hash))[:length]
//
// Note the BigInteger is built from the bytes of the hex *string*, not from
// the digest (a detail easy to get wrong when reimplementing it).
func GenerateTokenID(uin, partnerCode, uinSalt, partnerSalt string, length int) string {
	if length <= 0 {
		length = DefaultTokenIDLength
	}
	h1 := sha256.Sum256([]byte(uin + uinSalt))
	uinHash := strings.ToUpper(hex.EncodeToString(h1[:]))
	h2 := sha256.Sum256([]byte(partnerSalt + partnerCode + uinHash))
	hash := strings.ToUpper(hex.EncodeToString(h2[:]))
	dec := new(big.Int).SetBytes([]byte(hash)).String()
	if length > len(dec) {
		length = len(dec)
	}
	return dec[:length]
}
