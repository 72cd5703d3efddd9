package allinone

import (
	"strings"

	"github.com/mosipcrvs/bridge/sandbox/server"
)

// NotificationSandboxEnv returns the notification settings that point it
// at the sandbox sb: its WebSub hub, the partner keystore and MOSIP's
// credential-signing certificate from sb.WriteKeys, the sandbox's key
// document and MOSIP context (on loopback, hence private targets allowed),
// its data share and its OpenCRVS. Defaults only: the environment wins.
// The callback URL is the gateway's, filled in by Start once it is bound.
func NotificationSandboxEnv(sb *server.Sandbox, files server.KeyFiles) map[string]string {
	host := strings.TrimPrefix(strings.TrimPrefix(sb.URL, "http://"), "https://")
	return map[string]string{
		"MOSIP_WEBSUB_HUB_URL":                  sb.URL + "/websub/hub",
		"MOSIP_PARTNER_ID":                      sb.Config.PartnerID,
		"MOSIP_WEBSUB_SECRET":                   "sandbox-websub-secret",
		"DECRYPT_P12_FILE_PATH":                 files.PartnerP12,
		"DECRYPT_P12_FILE_PASSWORD":             files.PartnerP12Password,
		"MOSIP_CREDENTIAL_SIGNING_CERT_PATHS":   files.CredentialSigningCert,
		"MOSIP_VERIFIABLE_CREDENTIAL_ALLOWLIST": sb.Credentials.VerificationMethodURL(),
		"MOSIP_VC_CONTEXT_URLS":                 sb.Credentials.MOSIPContextURL(),
		"MOSIP_VC_CANONICALIZATION":             strings.ToLower(sb.Config.Canonicalization),
		"MOSIP_DATASHARE_HOSTS":                 host,
		"NOTIFICATION_ALLOW_PRIVATE_TARGETS":    "true",
		"OPENCRVS_GATEWAY_URL":                  sb.URL,
	}
}
