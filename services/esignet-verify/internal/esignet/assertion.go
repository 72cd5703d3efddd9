package esignet

import (
	"crypto/rand"
	"encoding/json"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// ClientAssertionType is the private_key_jwt assertion type, the only
// client authentication eSignet accepts.
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionClaims are what eSignet's TokenServiceImpl requires of a client
// assertion: iss = sub = client id, aud naming the token endpoint, iat and
// exp, and (since eSignet 1.6) a jti it remembers so the assertion cannot
// be replayed.
type assertionClaims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	IssuedAt  int64  `json:"iat"`
	ExpiresAt int64  `json:"exp"`
	JTI       string `json:"jti"`
}

// signAssertion makes a fresh client assertion for clientID.
func (c *Client) signAssertion(clientID string) (string, error) {
	now := c.now()
	claims := assertionClaims{
		Issuer: clientID, Subject: clientID, Audience: c.assertionAudience,
		IssuedAt: now.Unix(), ExpiresAt: now.Add(c.assertionTTL).Unix(), JTI: newJTI(),
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	obj, err := c.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("signing the client assertion: %w", err)
	}
	return obj.CompactSerialize()
}

func newSigner(key *ClientKey, alg jose.SignatureAlgorithm) (jose.Signer, error) {
	var k any = key.Key
	if key.KeyID != "" {
		k = jose.JSONWebKey{Key: key.Key, KeyID: key.KeyID, Algorithm: string(alg)}
	}
	return jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: k}, (&jose.SignerOptions{}).WithType("JWT"))
}

// newJTI is a random UUIDv4: unique per assertion as eSignet ≥ 1.6
// demands (it refuses a jti it has seen).
func newJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
