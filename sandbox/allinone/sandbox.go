package allinone

import (
	"github.com/mosipcrvs/bridge/sandbox/mosip"
	"github.com/mosipcrvs/bridge/sandbox/server"
)

// ESignetVerifySandboxEnv returns the esignet-verify settings that point it
// at the sandbox sb: its eSignet (private_key_jwt with the client key,
// userinfo verified against the sandbox JWKS) and its IDA (the partner's
// PKCS#12 keystore signs, IDA's certificate encrypts), with the key files
// sb.WriteKeys wrote. They are defaults: the environment still wins.
func ESignetVerifySandboxEnv(sb *server.Sandbox, files server.KeyFiles) map[string]string {
	return map[string]string{
		"ESIGNET_TOKEN_URL":            sb.URL + "/esignet/oauth/v2/token",
		"ESIGNET_USERINFO_URL":         sb.URL + "/esignet/oidc/userinfo",
		"OIDP_CLIENT_PRIVATE_KEY_PATH": files.ESignetClientJWK,
		"OPENID_PROVIDER_CLIENT_ID":    sb.Config.ESignetClientID,
		"IDA_AUTH_URL":                 sb.URL + "/idauthentication/v1/auth",
		"IDA_AUTH_DOMAIN_URI":          mosip.DefaultIDADomainURI,
		"PARTNER_ID":                   sb.Config.PartnerID,
		"PARTNER_MISP_LK":              sb.Config.IDALicenseKey.Value(),
		"PARTNER_APIKEY":               sb.Config.IDAAPIKey.Value(),
		"ENCRYPT_CERT_PATH":            files.IDACert,
		"SIGN_P12_FILE_PATH":           files.PartnerP12,
		"SIGN_P12_FILE_PASSWORD":       files.PartnerP12Password,
	}
}
