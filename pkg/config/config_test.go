package config_test

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mosipcrvs/bridge/pkg/config"
)

type nested struct {
	Client config.MOSIPClient `envPrefix:"MOSIP_PACKET_AUTH_"`
	Mode   string             `env:"MODE" default:"a" oneof:"a|b"`
}

type testConfig struct {
	Addr     string        `env:"ADDR" default:"127.0.0.1:9101" validate:"addr"`
	URL      *url.URL      `env:"SOME_URL" required:"true"`
	Timeout  time.Duration `env:"TIMEOUT" default:"10s"`
	Count    int           `env:"COUNT" default:"3"`
	Ratio    float64       `env:"RATIO" default:"0.5"`
	Enabled  bool          `env:"ENABLED" default:"false"`
	Secret   config.Secret `env:"SECRET"`
	List     []string      `env:"LIST"`
	Nested   nested
	TLS      config.GRPCTLS
	validate func() error
}

func (c *testConfig) Validate() error {
	if c.validate != nil {
		return c.validate()
	}
	return nil
}

func TestLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		want    func(*testing.T, *testConfig)
		wantErr []string // every substring must appear
	}{
		{
			name: "defaults and values",
			env: map[string]string{"SOME_URL": "https://mosip.example/x", "COUNT": "7", "ENABLED": "true",
				"SECRET": "s3cret", "LIST": " a, b ,,c", "MOSIP_PACKET_AUTH_CLIENT_ID": "cid", "MODE": "b"},
			want: func(t *testing.T, c *testConfig) {
				if c.Addr != "127.0.0.1:9101" || c.Timeout != 10*time.Second || c.Count != 7 || !c.Enabled || c.Ratio != 0.5 {
					t.Errorf("scalars = %+v", c)
				}
				if c.URL.Host != "mosip.example" || c.Secret.Value() != "s3cret" {
					t.Errorf("URL/secret = %v %q", c.URL, c.Secret.Value())
				}
				if strings.Join(c.List, "|") != "a|b|c" {
					t.Errorf("List = %q", c.List)
				}
				if c.Nested.Client.ClientID != "cid" || c.Nested.Mode != "b" {
					t.Errorf("Nested = %+v", c.Nested)
				}
			},
		},
		{
			name: "every problem reported at once",
			env: map[string]string{"ADDR": "nope", "TIMEOUT": "ten", "COUNT": "x", "ENABLED": "maybe",
				"RATIO": "1/2", "MODE": "c", "SECRET": "hunter2"},
			wantErr: []string{
				`ADDR must be host:port, got "nope"`,
				"SOME_URL is required",
				`TIMEOUT must be a duration such as 30s or 5m, got "ten"`,
				`COUNT must be an integer, got "x"`,
				`ENABLED must be true or false, got "maybe"`,
				`RATIO must be a number, got "1/2"`,
				`MODE must be one of a, b, got "c"`,
			},
		},
		{
			name:    "bad URL",
			env:     map[string]string{"SOME_URL": "x"},
			wantErr: []string{`SOME_URL must be an http(s) URL, got "x"`},
		},
		{
			name:    "TLS pairs",
			env:     map[string]string{"SOME_URL": "http://a", "GRPC_TLS_CERT_FILE": "/etc/hostname"},
			wantErr: []string{"GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE must be set together"},
		},
		{
			name:    "missing file",
			env:     map[string]string{"SOME_URL": "http://a", "GRPC_TLS_CA_FILE": "/does/not/exist"},
			wantErr: []string{`GRPC_TLS_CA_FILE must name a readable file, got "/does/not/exist"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var cfg testConfig
			err := config.Load(&cfg, config.MapLookuper(tt.env))
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Load() = %v, want nil", err)
				}
				tt.want(t, &cfg)
				return
			}
			if err == nil {
				t.Fatalf("Load() = nil, want errors %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load() error =\n%v\nwant it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error reveals a secret: %v", err)
			}
			var cerr *config.Error
			if !errors.As(err, &cerr) || len(cerr.Problems) < len(tt.wantErr) {
				t.Errorf("want *config.Error with >= %d problems, got %#v", len(tt.wantErr), err)
			}
		})
	}
}

func TestValidateCalledWithAllProblems(t *testing.T) {
	t.Parallel()
	cfg := testConfig{validate: func() error {
		var p config.Problems
		p.Require("MOSIP_AUTH_URL", false)
		p.Addf("B is wrong")
		return p.Err()
	}}
	err := config.Load(&cfg, config.MapLookuper(map[string]string{"SOME_URL": "http://a"}))
	var cerr *config.Error
	if !errors.As(err, &cerr) || len(cerr.Problems) != 2 {
		t.Fatalf("Load() = %v, want 2 problems", err)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	s := config.Secret("hunter2")
	for _, got := range []string{s.String(), fmt.Sprint(s), fmt.Sprintf("%v %s %#v", s, s, s)} {
		if strings.Contains(got, "hunter2") {
			t.Errorf("secret printed: %q", got)
		}
	}
	var cfg testConfig
	if err := config.Load(&cfg, config.MapLookuper(map[string]string{"SOME_URL": "https://u:pw@h/x", "SECRET": "hunter2"})); err != nil {
		t.Fatal(err)
	}
	d := config.Describe(&cfg)
	if d["SECRET"] != "[redacted]" || strings.Contains(d["SOME_URL"], "pw") {
		t.Errorf("Describe leaks: SECRET=%q SOME_URL=%q", d["SECRET"], d["SOME_URL"])
	}
	if d["MOSIP_PACKET_AUTH_CLIENT_SECRET"] != "" || d["ADDR"] != "127.0.0.1:9101" {
		t.Errorf("Describe = %v", d)
	}
}

func TestPartnerClientsDefaultAppID(t *testing.T) {
	t.Parallel()
	var p config.PartnerProfile
	err := config.Load(&p, config.MapLookuper(map[string]string{
		"MOSIP_AUTH_CLIENT_APP_ID": "regproc", "MOSIP_WEBSUB_AUTH_CLIENT_APP_ID": "partner",
		"MOSIP_PACKET_AUTH_CLIENT_ID": "mosip-crvs1-client",
	}))
	if err != nil {
		t.Fatal(err)
	}
	c := p.MOSIP.Clients()
	if c["packet"].AppID != "regproc" || c["websub"].AppID != "partner" || c["packet"].ClientID != "mosip-crvs1-client" {
		t.Errorf("Clients() = %+v", c)
	}
}

func TestLayered(t *testing.T) {
	t.Parallel()
	l := config.Layered(config.MapLookuper(map[string]string{"A": "1"}), config.MapLookuper(map[string]string{"A": "2", "B": "3"}))
	if v, _ := l("A"); v != "1" {
		t.Errorf("A = %q", v)
	}
	if v, _ := l("B"); v != "3" {
		t.Errorf("B = %q", v)
	}
	if _, ok := l("C"); ok {
		t.Error("C found")
	}
}

// A malformed value and a problem only a validator sees are reported
// together, and the validator does not repeat the malformed variable.
func TestValidatorsRunDespiteParseProblems(t *testing.T) {
	t.Parallel()
	cfg := testConfig{validate: func() error {
		var p config.Problems
		p.Require("SOME_URL", false) // would duplicate the parse problem
		p.Require("OTHER", false)
		return p.Err()
	}}
	err := config.Load(&cfg, config.MapLookuper(map[string]string{"SOME_URL": "nope"}))
	var cerr *config.Error
	if !errors.As(err, &cerr) || len(cerr.Problems) != 2 {
		t.Fatalf("Load() = %v, want the bad URL and OTHER, nothing else", err)
	}
	if !strings.Contains(err.Error(), "SOME_URL must be an http(s) URL") || !strings.Contains(err.Error(), "OTHER is required") {
		t.Errorf("Load() = %v", err)
	}
}

func TestDescribeHidesURLPasswords(t *testing.T) {
	t.Parallel()
	type c struct {
		Redis string `env:"REDIS_URL"`
	}
	d := config.Describe(&c{Redis: "redis://:hunter2@cache:6379/0"})
	if strings.Contains(d["REDIS_URL"], "hunter2") || !strings.Contains(d["REDIS_URL"], "cache:6379") {
		t.Errorf("REDIS_URL described as %q", d["REDIS_URL"])
	}
}
