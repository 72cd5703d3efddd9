package config

// Logging selects the log format and level (see package logging).
type Logging struct {
	// Level is debug, info, warn or error.
	Level string `env:"LOG_LEVEL" default:"info" oneof:"debug|info|warn|error"`
	// Format is json (production) or text (development).
	Format string `env:"LOG_FORMAT" default:"json" oneof:"json|text"`
}

// GRPCTLS configures TLS for gRPC servers and clients. With no files set,
// gRPC runs in plaintext (fine on loopback and inside a service mesh).
type GRPCTLS struct {
	// CertFile and KeyFile are this process's certificate and key (PEM).
	CertFile string `env:"GRPC_TLS_CERT_FILE" validate:"file"`
	KeyFile  string `env:"GRPC_TLS_KEY_FILE" validate:"file"`
	// CAFile verifies servers this process dials (PEM bundle).
	CAFile string `env:"GRPC_TLS_CA_FILE" validate:"file"`
	// ClientCAFile, when set on a server, requires and verifies client
	// certificates (mTLS).
	ClientCAFile string `env:"GRPC_TLS_CLIENT_CA_FILE" validate:"file"`
}

// Validate checks that certificate and key come together.
func (t *GRPCTLS) Validate() error {
	var p Problems
	if (t.CertFile == "") != (t.KeyFile == "") {
		p.Addf("GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE must be set together")
	}
	if t.ClientCAFile != "" && t.CertFile == "" {
		p.Addf("GRPC_TLS_CLIENT_CA_FILE needs GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE")
	}
	return p.Err()
}

// Enabled reports whether TLS is configured.
func (t GRPCTLS) Enabled() bool { return t.CertFile != "" || t.CAFile != "" }
