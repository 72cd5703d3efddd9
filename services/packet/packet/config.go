package packet

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/services/packet/idschema"
	"github.com/mosipcrvs/bridge/services/packet/internal/store"
	"github.com/mosipcrvs/bridge/services/packet/mapping"
	"github.com/mosipcrvs/bridge/services/packet/mosipclient"
)

// Config is the packet service's configuration, loaded with config.Load.
// Variable names follow the TypeScript mosip-api where it has one.
type Config struct {
	// ListenAddr is where the gRPC server listens.
	ListenAddr string `env:"GRPC_LISTEN_ADDR" default:"127.0.0.1:9102" validate:"addr"`
	// AuthTokenAddr is the auth-token service the MOSIP tokens come from.
	AuthTokenAddr string `env:"AUTH_TOKEN_ADDR" default:"127.0.0.1:9101"`
	// DatabaseURL is the PostgreSQL database (postgres://...); empty keeps
	// transactions in the SQLite file at SQLitePath.
	DatabaseURL string `env:"DATABASE_URL"`
	// SQLitePath is the SQLite database file used without DATABASE_URL; its
	// directory is created.
	SQLitePath string `env:"PACKET_SQLITE_PATH" default:".run/packet.db"`
	// TransactionIDPrefix starts every transaction id (1 to 9 digits).
	TransactionIDPrefix string `env:"TRANSACTION_ID_PREFIX" default:"10001"`
	// TokenKeys seals OpenCRVS tokens and packet payloads at rest:
	// "<id>:<base64 32-byte key>[,<older id>:<key>...]", current key first.
	TokenKeys config.Secret `env:"PACKET_TOKEN_KEYS" required:"true"`
	// CreatePacketURL is MOSIP's packet manager createPacket endpoint.
	CreatePacketURL *url.URL `env:"MOSIP_CREATE_PACKET_URL" required:"true"`
	// ProcessPacketURL is MOSIP's workflow manager workflowinstance endpoint.
	ProcessPacketURL *url.URL `env:"MOSIP_PROCESS_PACKET_URL" required:"true"`
	// CenterID and MachineID (five digits each) are the registration centre
	// and machine MOSIP knows the CRVS by.
	CenterID  string `env:"MOSIP_CENTER_ID" default:"10001"`
	MachineID string `env:"MOSIP_MACHINE_ID" default:"10004"`
	// PacketSource is the packet source MOSIP's writer is configured for.
	PacketSource string `env:"MOSIP_PACKET_SOURCE" default:"CRVS1"`
	// ProcessBirth, ProcessDeath and ProcessUpdate are the MOSIP process
	// names of the three kinds of packet.
	ProcessBirth  string `env:"MOSIP_PROCESS_BIRTH" default:"CRVS_NEW"`
	ProcessDeath  string `env:"MOSIP_PROCESS_DEATH" default:"CRVS_DEATH"`
	ProcessUpdate string `env:"MOSIP_PROCESS_UPDATE" default:"CRVS_UPDATE"`
	// SchemaVersion is the ID-schema version MOSIP's master data knows.
	SchemaVersion string `env:"MOSIP_SCHEMA_VERSION" default:"0.1"`
	// RIDForm is mosip29 (MOSIP's 29-digit RID) or short (the transaction
	// id, as the TypeScript mosip-api does).
	RIDForm string `env:"PACKET_RID_FORM" default:"mosip29" oneof:"mosip29|short"`
	// IDSchema is the ID schema: a file path or inline JSON; empty means the
	// built-in schema.
	IDSchema string `env:"PACKET_ID_SCHEMA"`
	// FieldMapping is the OpenCRVS → MOSIP field mapping: a file path or
	// inline JSON; empty means the default mapping.
	FieldMapping string `env:"PACKET_FIELD_MAPPING"`
	// SyncDeadline is how long SubmitRegistration waits for MOSIP before
	// answering "received" (the job keeps retrying).
	SyncDeadline time.Duration `env:"PACKET_SYNC_DEADLINE" default:"10s"`
	// RetryHorizon is how long temporary MOSIP failures are retried before
	// the transaction is flagged for rejection.
	RetryHorizon time.Duration `env:"PACKET_RETRY_HORIZON" default:"72h"`
	// Retention is how long a finished transaction (confirmed, rejected,
	// failed, cancelled) keeps its OpenCRVS token and packet data before an
	// hourly purge wipes them; ids, steps and the audit trail stay. 0 keeps
	// them for ever.
	Retention time.Duration `env:"PACKET_RETENTION" default:"720h"`
	// Logging selects the log format and level.
	Logging config.Logging
	// TLS configures the gRPC server and the connection to auth-token.
	TLS config.GRPCTLS
}

// Validate checks the configuration, reporting every problem at once with
// the variable to set. It tolerates fields the loader left unset, so it also
// checks a Config built in code.
func (c *Config) Validate() error {
	var p config.Problems
	p.Require("AUTH_TOKEN_ADDR", strings.TrimSpace(c.AuthTokenAddr) != "")
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			p.Addf("DATABASE_URL must be a postgres:// or postgresql:// URL")
		}
	} else if strings.TrimSpace(c.SQLitePath) == "" {
		p.Addf("PACKET_SQLITE_PATH is required when DATABASE_URL is empty")
	}
	if pre := c.TransactionIDPrefix; pre != "" && (len(pre) > 9 || !allDigits(pre)) {
		p.Addf("TRANSACTION_ID_PREFIX must be 1 to 9 digits, got %q", pre)
	}
	if c.TokenKeys == "" {
		p.Require("PACKET_TOKEN_KEYS", false)
	} else if _, err := store.ParseKeyring(c.TokenKeys.Value()); err != nil {
		p.Addf("PACKET_TOKEN_KEYS is invalid: %v", err)
	}
	p.Require("MOSIP_CREATE_PACKET_URL", c.CreatePacketURL != nil)
	p.Require("MOSIP_PROCESS_PACKET_URL", c.ProcessPacketURL != nil)
	if len(c.CenterID) != 5 || !allDigits(c.CenterID) {
		p.Addf("MOSIP_CENTER_ID must be 5 digits, got %q", c.CenterID)
	}
	if len(c.MachineID) != 5 || !allDigits(c.MachineID) {
		p.Addf("MOSIP_MACHINE_ID must be 5 digits, got %q", c.MachineID)
	}
	p.Require("MOSIP_PACKET_SOURCE", strings.TrimSpace(c.PacketSource) != "")
	p.Require("MOSIP_PROCESS_BIRTH", strings.TrimSpace(c.ProcessBirth) != "")
	p.Require("MOSIP_PROCESS_DEATH", strings.TrimSpace(c.ProcessDeath) != "")
	p.Require("MOSIP_PROCESS_UPDATE", strings.TrimSpace(c.ProcessUpdate) != "")
	if _, err := strconv.ParseFloat(strings.TrimSpace(c.SchemaVersion), 64); err != nil {
		p.Addf("MOSIP_SCHEMA_VERSION must be a number such as 0.1, got %q", c.SchemaVersion)
	}
	if f := mosipclient.RIDForm(c.RIDForm); f != mosipclient.RIDMOSIP29 && f != mosipclient.RIDShort {
		p.Addf("PACKET_RID_FORM must be one of mosip29, short, got %q", c.RIDForm)
	}
	if _, err := c.schema(); err != nil {
		p.Addf("%v", err)
	}
	if _, err := c.mapping(); err != nil {
		p.Addf("%v", err)
	}
	if c.SyncDeadline <= 0 {
		p.Addf("PACKET_SYNC_DEADLINE must be positive, got %s", c.SyncDeadline)
	}
	if c.RetryHorizon <= 0 {
		p.Addf("PACKET_RETRY_HORIZON must be positive, got %s", c.RetryHorizon)
	}
	if c.Retention < 0 {
		p.Addf("PACKET_RETENTION must be a positive duration such as 720h, or 0 to keep personal data for ever, got %s", c.Retention)
	}
	return p.Err()
}

// schema loads PACKET_ID_SCHEMA (the built-in schema when empty).
func (c *Config) schema() (*idschema.Schema, error) {
	return idschema.LoadEnv(func(string) (string, bool) { return c.IDSchema, true })
}

// mapping loads PACKET_FIELD_MAPPING (the default mapping when empty).
func (c *Config) mapping() (*mapping.Mapping, error) {
	return mapping.LoadEnv(func(string) (string, bool) { return c.FieldMapping, true })
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
